r"""How each loss looks in every figure: colour, marker, line style, legend.

The one owner of the losses' looks: the report's learning curves
(`recipes.curves`) and paper Fig. 1 (`recipes.figure1`) both draw a loss
with `loss_style(loss, output_bias)`, so a loss has the same colour and
marker in every figure of the project.

- A base loss (canonical name of `keras_robust.losses`, e.g. `"ce"`) has
  its own colour and marker (`BASE_STYLES`); losses with long tails towards
  outliers (CE, genCE, symCE, biTemp) are dashed, the others solid, as in
  the paper's Fig. 2.
- A starred variant (output bias eps > 0, e.g. MAE* with eps 0.5) keeps
  its base loss's line style, takes the star marker `STARRED_MARKER` and
  its base colour shaded towards black by `eps / (eps + 2)` (eps 0.5: a
  fifth, eps 3: three fifths); the star is hollow below eps 2
  (`FILLED_STAR_OUTPUT_BIAS`: the paper's noise-robust choices 0.5 and 1.5)
  and filled from 2 on (its accuracy choices 2.5 and 3.0), so MAE*1.5 and
  MAE*3.0 differ at a glance and both read as MAE.
- A loss without an entry gets a colour and marker from `FALLBACK_STYLES`,
  chosen by a checksum of its name (the same in every process).

Curves that coincide (`coinciding_groups`) are drawn one on top of the
other, the later ones dotted, and named together in one legend entry
(`draw_lines`), so no curve hides another.
"""

import collections
import functools
import zlib

import numpy as np

from recipes import atomic_files

#: `(colour, marker)` of each base loss, by canonical name.
BASE_STYLES = {
    "ce": ("#1f77b4", "o"),
    "mae": ("#a0a0a0", "s"),
    "gce": ("#ff7f0e", "^"),
    "sce": ("#9467bd", "v"),
    "actpas1": ("#8c564b", "D"),
    "actpas2": ("#e377c2", "d"),
    "bitemp": ("#2ca02c", "P"),
    "boundce": ("#d62728", "X"),
}
#: Styles for losses without an entry in `BASE_STYLES`.
FALLBACK_STYLES = (("#bcbd22", "h"), ("#17becf", "p"), ("#393b79", "<"), ("#637939", ">"))
#: Fill colours of Fig. 1's logit histograms (unbiased, then shifted by eps):
#: light hues that no loss uses, so a histogram is never read as a loss.
HISTOGRAM_COLORS = ("#9edae5", "#dbdb8d")
#: Losses with long tails towards outliers, drawn dashed.
LONG_TAILED = frozenset({"ce", "gce", "sce", "bitemp"})
#: The marker of every starred variant.
STARRED_MARKER = "*"
#: Smallest eps whose star is filled; smaller ones are hollow.
FILLED_STAR_OUTPUT_BIAS = 2.0
#: Line style of a curve drawn on top of one it coincides with.
COINCIDING_LINESTYLE = ":"


class LossStyle(collections.namedtuple("LossStyle", "color marker linestyle fillstyle")):
    """How one loss is drawn: a hex colour, a matplotlib marker, line and fill style."""

    def kwargs(self):
        """The style as keyword arguments of `Axes.plot`."""
        return {
            "color": self.color, "marker": self.marker, "linestyle": self.linestyle,
            "fillstyle": self.fillstyle,
            # A star reads smaller than the other markers at the same size.
            "markersize": 10 if self.marker == STARRED_MARKER else 6,
        }


def _shade(color, fraction):
    """`color` (`"#rrggbb"`) mixed with black; `fraction` 0 keeps it, 1 is black."""
    channels = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c * (1.0 - fraction)):02x}" for c in channels)


def loss_style(loss, output_bias=0.0):
    """The `LossStyle` of a loss and its output bias (see the module docstring).

    Args:
        loss: Canonical loss name, e.g. `"mae"`.
        output_bias: eps; above 0 the loss is a starred variant.

    Returns:
        A `LossStyle`; the same object for the same loss and eps.
    """
    if not isinstance(loss, str):
        raise ValueError(f"Argument `loss` must be a loss name. Received: loss={loss!r}")
    output_bias = float(output_bias or 0.0)
    if output_bias < 0:
        raise ValueError(
            f"Argument `output_bias` must be >= 0. Received: output_bias={output_bias}"
        )
    return _cached_style(loss, output_bias)


@functools.lru_cache(maxsize=None)
def _cached_style(loss, output_bias):
    if loss in BASE_STYLES:
        color, marker = BASE_STYLES[loss]
    else:
        color, marker = FALLBACK_STYLES[zlib.crc32(loss.encode()) % len(FALLBACK_STYLES)]
    linestyle = "--" if loss in LONG_TAILED else "-"
    fillstyle = "full"
    if output_bias > 0:
        color = _shade(color, output_bias / (output_bias + 2.0))
        marker = STARRED_MARKER
        fillstyle = "full" if output_bias >= FILLED_STAR_OUTPUT_BIAS else "none"
    return LossStyle(color, marker, linestyle, fillstyle)


def coinciding_groups(curves, tolerance):
    """Groups of curves that lie within `tolerance` of each other everywhere.

    Args:
        curves: `{label: values}`, all on the same x values, in drawing order.
        tolerance: Largest absolute difference of two coinciding curves.

    Returns:
        A list of label lists in drawing order: a curve joins the first group
        whose first curve it stays within `tolerance` of, or starts its own.
    """
    groups = []
    for label, values in curves.items():
        values = np.asarray(values, dtype=float)
        for group in groups:
            first = np.asarray(curves[group[0]], dtype=float)
            if first.shape == values.shape and np.max(np.abs(first - values)) <= tolerance:
                group.append(label)
                break
        else:
            groups.append([label])
    return groups


def coinciding_label(labels):
    """The legend text of a group of curves: `"CE and symCE / 6 (coincide)"`."""
    if len(labels) == 1:
        return labels[0]
    return f"{', '.join(labels[:-1])} and {labels[-1]} (coincide)"


def draw_lines(axis, curves, tolerance, *, markers=8):
    """Draws curves in their loss styles; coinciding ones share a legend entry.

    Args:
        axis: A matplotlib `Axes`.
        curves: `{label: (x, values, LossStyle)}` in drawing order.
        tolerance: See `coinciding_groups`.
        markers: About how many markers per line.

    Returns:
        `(handles, labels, handler_map)` for `Axes.legend`: one entry per
        group of coinciding curves (a tuple handle showing each member's
        line side by side).
    """
    from matplotlib import legend_handler

    groups = coinciding_groups(
        {label: values for label, (_, values, _) in curves.items()}, tolerance
    )
    handles, labels = [], []
    for group in groups:
        lines = []
        for position, label in enumerate(group):
            x, values, style = curves[label]
            markevery = max(1, len(x) // markers)
            kwargs = style.kwargs()
            if position:
                kwargs["linestyle"] = COINCIDING_LINESTYLE
            (line,) = axis.plot(
                x, values, markevery=(position % markevery, markevery),
                linewidth=2.0 if position else 1.5, **kwargs,
            )
            lines.append(line)
        handles.append(tuple(lines) if len(lines) > 1 else lines[0])
        labels.append(coinciding_label(group))
    return handles, labels, {tuple: legend_handler.HandlerTuple(ndivide=None)}


def save_figure(figure, path, dpi):
    """Saves `figure` as PNG at `path` atomically, nothing cut off at its edges; closes it."""
    from matplotlib import pyplot as plt

    try:
        atomic_files.save_figure(figure, path, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(figure)
