"""Tests of `recipes.styles` and of the figures that use it (report curves, Fig. 1)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from recipes import blocks  # noqa: E402
from recipes import curves  # noqa: E402
from recipes import figure1  # noqa: E402
from recipes import styles  # noqa: E402


def test_one_style_per_loss():
    assert styles.loss_style("ce") is styles.loss_style("ce", 0.0)
    base = [(color, marker) for color, marker in styles.BASE_STYLES.values()]
    assert len(set(color for color, _ in base)) == len(base)
    assert len(set(marker for _, marker in base)) == len(base)
    assert styles.STARRED_MARKER not in {marker for _, marker in base}
    assert styles.loss_style("ce") == ("#1f77b4", "o", "--", "full")  # long-tailed: dashed
    assert styles.loss_style("boundce") == ("#d62728", "X", "-", "full")
    # A starred variant: the base colour shaded by eps / (eps + 2) towards
    # black, the star marker (hollow below eps 2), the base line style. MAE
    # #a0a0a0 (160) at eps 0.5: 160 * 0.8 = 128 = 0x80. boundCE #d62728 at
    # eps 2.5: (214, 39, 40) * 2 / 4.5 = (95.1, 17.3, 17.8) -> #5f1112.
    assert styles.loss_style("mae", 0.5) == ("#808080", "*", "-", "none")
    assert styles.loss_style("boundce", 2.5) == ("#5f1112", "*", "-", "full")
    assert styles.loss_style("boundce", 1.5).fillstyle == "none"
    assert styles.loss_style("mae", 1.5).color != styles.loss_style("mae", 3.0).color
    # A loss without an entry: a fixed fallback, the same every time.
    assert styles.loss_style("newloss") in [
        (color, marker, "-", "full") for color, marker in styles.FALLBACK_STYLES
    ]
    with pytest.raises(ValueError, match="output_bias"):
        styles.loss_style("mae", -1.0)


def test_coinciding_groups_and_labels():
    curves_by_label = {"A": [0.0, 1.0], "B": [0.01, 1.0], "C": [0.5, 0.5], "D": [0.0, 0.99]}
    assert styles.coinciding_groups(curves_by_label, 0.02) == [["A", "B", "D"], ["C"]]
    assert styles.coinciding_groups(curves_by_label, 0.001) == [["A"], ["B"], ["C"], ["D"]]
    assert styles.coinciding_label(["CE"]) == "CE"
    assert styles.coinciding_label(["A", "B", "C"]) == "A, B and C (coincide)"


def test_epoch_ticks_are_whole_epochs_with_first_and_last():
    assert curves.epoch_ticks(1, 5) == [1, 2, 3, 4, 5]
    # 20 epochs: steps 1 and 2 ... step 2 gives 4 .. 18 (2 is within a half step of 1).
    assert curves.epoch_ticks(1, 20) == [1, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert curves.epoch_ticks(1, 200) == [1] + list(range(20, 181, 20)) + [200]
    assert curves.epoch_ticks(3, 3) == [3]
    with pytest.raises(ValueError, match="last"):
        curves.epoch_ticks(5, 1)


class _Run:
    def __init__(self, accuracies):
        epochs = list(range(1, len(accuracies) + 1))
        self.history = {
            "epoch": epochs,
            "test_accuracy": accuracies,
            "false_label_accuracy": [a / 2 for a in accuracies],
        }
        self.final = {"test_accuracy": accuracies[-1]}


def _block():
    """A noise block of 7 epochs: CE and MAE*0.5 coincide, genCE apart."""
    rows = {
        ("ce", 0.0, ""): [0.1, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8],
        ("mae", 0.5, ""): [0.1, 0.3, 0.5, 0.6, 0.7, 0.75, 0.801],
        ("gce", 0.0, ""): [0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6],
    }
    cells = {row: {0.2: blocks.Cell([_Run(values)], None)} for row, values in rows.items()}
    return blocks.Block("digits", "mlp1024", "symmetric", "noise_rate", [0.2], cells)


def _lines_by_style(figure):
    return {
        (mcolors.to_hex(line.get_color()), line.get_marker())
        for axis in figure.axes for line in axis.get_lines()
    }


def test_both_figures_draw_each_loss_in_its_style():
    block = _block()
    report_figure = curves.draw_curves([(block, 0.2)])
    z_k = np.linspace(-2.0, 2.0, 3)
    panel = figure1.compute_panel(10, z_k, num_draws=2, histogram_draws=100)
    paper_figure = figure1.draw_figure([panel])
    try:
        for loss, output_bias in (("ce", 0.0), ("mae", 0.5), ("gce", 0.0)):
            style = styles.loss_style(loss, output_bias)
            assert (style.color, style.marker) in _lines_by_style(report_figure)
            assert (style.color, style.marker) in _lines_by_style(paper_figure)
        # Integer x ticks, the first and the last epoch among them.
        upper, lower = report_figure.axes[:2]
        assert list(lower.get_xticks()) == [1, 2, 3, 4, 5, 6, 7]
        # The two coinciding curves share one legend entry.
        texts = [text.get_text() for text in lower.get_legend().get_texts()]
        assert texts == ["CE and MAE*0.5 (coincide)", "genCE"]
        # Titles and legends lie inside the saved figure.
        report_figure.canvas.draw()
        box = report_figure.bbox
        for artist in (upper.title, lower.get_legend(), *report_figure.texts):
            extent = artist.get_window_extent()
            assert extent.x0 >= box.x0 and extent.x1 <= box.x1
            assert extent.y0 >= box.y0 and extent.y1 <= box.y1
    finally:
        plt.close(report_figure)
        plt.close(paper_figure)
