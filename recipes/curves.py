r"""Learning curves of noise blocks, like the paper's Figs. 2-4.

One PNG per `(dataset, model, noise_kind, noise_rate)` of a noise table:
test accuracy per epoch (mean over seeds, a band of ± one standard error)
for every row in the upper panel, and the false-label accuracy (accuracy on
the training images whose label was changed, against their true labels) in
the lower panel. Each loss is drawn in its style (`recipes.styles`, the
same in every figure); curves that coincide (within `COINCIDENCE_FRACTION`
of the panel's range at every epoch) are named together in the legend.
The x ticks are whole epochs, the first and the last among them
(`epoch_ticks`). Files: `curves_<dataset>_<model>_<noise_kind>_noise<percent>.png`;
where several blocks share a noise rate, also
`curves_<noise_kind>_noise<percent>.png` with one column per block.
"""

import collections
import textwrap

from recipes import statistics
from recipes import styles

#: Curves closer than this fraction of their panel's range at every epoch
#: are named together in the legend.
COINCIDENCE_FRACTION = 0.01
#: Most x ticks on a panel.
MAX_EPOCH_TICKS = 11


def mean_curve(runs, metric):
    """Mean and standard error over seeds of `history[metric]`, in percent.

    Runs are aligned by `history["epoch"]`; an epoch's statistic uses the
    runs that have a value there (None entries, e.g. epochs without an
    evaluation or the false-label accuracy of noise-free runs, are left
    out).

    Returns:
        `(epochs, means, errors)` lists (an error is 0 for one seed); empty
        when no run has the metric.
    """
    values_by_epoch = collections.defaultdict(list)
    for run in runs:
        values = run.history.get(metric) or []
        epochs = run.history.get("epoch") or list(range(1, len(values) + 1))
        for epoch, value in zip(epochs, values):
            if value is not None:
                values_by_epoch[epoch].append(100.0 * float(value))
    epochs = sorted(values_by_epoch)
    summary = [statistics.mean_and_standard_error(values_by_epoch[epoch]) for epoch in epochs]
    return (
        epochs,
        [mean for mean, _ in summary],
        [error or 0.0 for _, error in summary],
    )


def epoch_ticks(first, last, max_ticks=MAX_EPOCH_TICKS):
    """Whole-epoch ticks from `first` to `last`, both included.

    Every epoch when they fit in `max_ticks`; otherwise the multiples of the
    smallest step of 1, 2, 5 times a power of ten that fits, with `first` and
    `last` added and multiples within half a step of them left out.
    """
    first, last = int(first), int(last)
    if last < first:
        raise ValueError(f"Argument `last` must be >= `first`. Received: {first} and {last}")
    if max_ticks < 2:
        raise ValueError(f"Argument `max_ticks` must be >= 2. Received: max_ticks={max_ticks}")
    if last - first + 1 <= max_ticks:
        return list(range(first, last + 1))
    scale = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * scale
            inner = [
                tick for tick in range((first // step + 1) * step, last, step)
                if tick - first > step / 2 and last - tick > step / 2
            ]
            if len(inner) + 2 <= max_ticks:
                return [first] + inner + [last]
        scale *= 10


def _draw_panel(axis, cells, block, metric):
    """Draws the rows' mean curves of `metric` with bands; returns legend entries."""
    curves, bands = {}, []
    for row, cell in cells.items():
        epochs, means, errors = mean_curve(cell.runs, metric)
        if not epochs:
            continue
        style = styles.loss_style(row[0], row[1])
        curves[block.label(row)] = (epochs, means, style)
        bands.append((epochs, means, errors, style.color))
    if not curves:
        return [], [], {}
    for epochs, means, errors, color in bands:
        axis.fill_between(
            epochs, [m - e for m, e in zip(means, errors)],
            [m + e for m, e in zip(means, errors)], color=color, alpha=0.15, linewidth=0,
        )
    values = [value for _, means, _ in curves.values() for value in means]
    tolerance = COINCIDENCE_FRACTION * max(max(values) - min(values), 1e-9)
    return styles.draw_lines(axis, curves, tolerance)


def draw_curves(panels):
    """The matplotlib figure of the learning curves of one or more blocks.

    Args:
        panels: `(block, noise_rate)` pairs of noise blocks, one column each:
            test accuracy per epoch above, false-label accuracy below, one
            line per row (mean over seeds) with a band of ± one standard
            error, the legend under the column.

    Returns:
        A `matplotlib.figure.Figure` (close it with `pyplot.close`).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    columns = len(panels)
    num_rows = max(len(block.rows) for block, _ in panels)
    figure, axes = plt.subplots(
        2, columns, figsize=(5.6 * columns, 7.4 + 0.25 * num_rows), sharex="col",
        height_ratios=(3, 2), squeeze=False, layout="constrained",
    )
    for column, (block, noise_rate) in enumerate(panels):
        upper, lower = axes[0, column], axes[1, column]
        cells = {row: cells[noise_rate] for row, cells in block.rows.items() if noise_rate in cells}
        handles, labels, handler_map = _draw_panel(upper, cells, block, "test_accuracy")
        if not _draw_panel(lower, cells, block, "false_label_accuracy")[0]:
            lower.text(
                0.5, 0.5, "no noisy training labels",
                ha="center", va="center", transform=lower.transAxes,
            )
        upper.set_title(
            f"{block.dataset}, {block.model},\n"
            f"{statistics.format_percent(noise_rate)} {block.noise_kind} noise",
            fontsize="medium",
        )
        epochs = sorted({
            epoch for cell in cells.values()
            for epoch in mean_curve(cell.runs, "test_accuracy")[0]
        })
        if epochs:
            lower.set_xticks(epoch_ticks(epochs[0], epochs[-1]))
        lower.set_xlabel("epoch")
        lower.legend(
            handles, labels, handler_map=handler_map, fontsize="small", ncols=2,
            loc="upper center", bbox_to_anchor=(0.5, -0.25),
        )
        for axis in (upper, lower):
            axis.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test accuracy (%)")
    axes[1, 0].set_ylabel("false-label accuracy (%)")
    seeds = sorted({
        len(cells[noise_rate].runs)
        for block, noise_rate in panels
        for cells in block.rows.values()
        if noise_rate in cells
    })
    seeds_text = "-".join(map(str, sorted({seeds[0], seeds[-1]})))
    caption = (
        f"Lines: mean over {seeds_text} seed(s); bands: ± one standard error. "
        "False-label accuracy: accuracy on the mislabelled training images, "
        "against their true labels."
    )
    figure.suptitle(textwrap.fill(caption, width=int(13 * 5.6 * columns)), fontsize="small")
    return figure


def plot_curves(panels, path):
    """Writes `draw_curves(panels)` to `path` (PNG), nothing cut off at its edges."""
    styles.save_figure(draw_curves(panels), path, dpi=100)


def curves_filename(block, noise_rate):
    """`curves_<dataset>_<model>_<noise_kind>_noise<percent>.png`."""
    return (
        f"curves_{block.dataset}_{block.model}_{block.noise_kind}_noise"
        f"{int(round(100 * noise_rate)):02d}.png"
    )


def combined_curves_filename(noise_kind, noise_rate):
    """`curves_<noise_kind>_noise<percent>.png`: every block's curves at one noise rate."""
    return f"curves_{noise_kind}_noise{int(round(100 * noise_rate)):02d}.png"
