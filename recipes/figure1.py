r"""Paper Fig. 1: learning curves of the losses and the initial logit histogram.

For 10 classes (panel a, ten-class hyperparameters of paper Table 1) and 100
classes (panel b, CIFAR-100 hyperparameters), plots the mean error of the
labelled output neuron, `delta_k = dL/dz_k`, against its pre-activation
`z_k` while the other logits are drawn i.i.d. from N(0, 1) as for a freshly
initialised network (`keras_robust.analysis.labelled_neuron_error`), for CE,
MAE, MAE*, genCE, symCE, actPas1, actPas2, biTemp, boundCE and boundCE*. On a
second axis it shows the histogram of the initial `z_k` without output bias
(blue) and shifted by eps (green), from
`keras_robust.analysis.initial_logit_histogram`.

eps is the package's (`keras_robust.presets.output_bias`: paper eq. 2 at
the expected output 0.15 for MAE*, 0.1 for boundCE*, rounded as the paper
rounds it): MAE* 0.5 and boundCE* 0 at 10 classes, MAE* 3.0 and boundCE*
2.5 at 100 classes. The shifted histogram uses boundCE*'s eps where
it is non-zero (2.5 at 100 classes, as in the paper) and MAE*'s otherwise.
The starred curves are drawn against the unshifted `z_k`, so they equal the
plain curves moved left by eps: the same overlap as the plain curve with the
shifted histogram.

Curves whose error falls below -1 (symCE with alpha = 6 at 100 classes, as
in the paper, and the active-passive losses with beta = 20 at 10 classes)
are divided by an integer factor, given in the legend. Each loss has the
colour, marker and line style it has in every figure of the project
(`recipes.styles`). Curves that coincide (within `COINCIDENCE_TOLERANCE`
everywhere: e.g. boundCE* and boundCE at 10 classes, where eps is 0; CE and
symCE / 6 at 100 classes) are drawn dotted on top of each other and named
together in one legend entry, which sits under each panel.

Writes `<output_dir>/figure1.png` and the plotted numbers to
`<output_dir>/figure1.json` (default `runs/figure1`). The grid is evaluated
in chunks of bounded memory; `--num_draws` and `--num_points` trade accuracy
for time.

Usage:

    python -m recipes.figure1
    python -m recipes.figure1 --output_dir=/tmp/figure1 --num_draws=1000
"""

import json
import math
import os

import recipes

# A command line (`python -m recipes.figure1`): before Keras imports TensorFlow.
recipes.start_command_line()

import numpy as np  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_robust import analysis  # noqa: E402
from keras_robust import losses as losses_lib  # noqa: E402
from keras_robust import presets  # noqa: E402
from recipes import atomic_files  # noqa: E402
from recipes import cli  # noqa: E402
from recipes import styles  # noqa: E402

#: The panels' numbers of classes (loss hyperparameters of paper Table 1 for each).
PANELS = (10, 100)

#: The curves: (label, loss name, output-bias rule or None).
CURVES = (
    ("CE", "ce", None),
    ("MAE", "mae", None),
    ("MAE*", "mae", "mae"),
    ("genCE", "gce", None),
    ("symCE", "sce", None),
    ("actPas1", "actpas1", None),
    ("actPas2", "actpas2", None),
    ("biTemp", "bitemp", None),
    ("boundCE", "boundce", None),
    ("boundCE*", "boundce", "boundce"),
)

#: Whether a curve is a starred variant (its eps from paper eq. 2).
CURVE_OUTPUT_BIAS = {label: rule is not None for label, _, rule in CURVES}
_LOSS_NAMES = {label: loss_name for label, loss_name, _ in CURVES}

#: Expected labelled output that defines eps (paper Sec. 3.2).
EPS_TARGETS = presets.OUTPUT_BIAS_TARGETS

#: Largest `batch * c` logits handed to autodiff at once (16 MB of float32).
MAX_ELEMENTS = 4_000_000


def _scale_factor(curve, limit=1.0):
    """Smallest integer that brings the curve's minimum above `-limit`."""
    low = float(np.min(curve))
    if low >= -limit * 1.05:
        return 1
    return int(math.ceil(-low / limit - 1e-3))


def labelled_neuron_error_in_chunks(
    loss, num_classes, z_k, num_draws, seed, max_elements=MAX_ELEMENTS
):
    """`analysis.labelled_neuron_error` over chunks of the `z_k` grid.

    Bounds the memory of the autodiff pass to about `max_elements` logits.
    Each chunk uses the same seeded draws of the other logits, so the
    result equals one call.
    """
    per_value = num_draws * num_classes
    chunk = max(1, max_elements // per_value)
    return np.concatenate(
        [
            analysis.labelled_neuron_error(
                loss, num_classes, z_k[start : start + chunk], num_draws=num_draws, seed=seed
            )
            for start in range(0, len(z_k), chunk)
        ]
    )


def compute_panel(num_classes, z_k, num_draws=1000, seed=0, histogram_draws=100_000):
    """The data of one panel of Fig. 1.

    Args:
        num_classes: Number of classes (10 or 100 in the paper); the loss
            hyperparameters are paper Table 1's for it.
        z_k: 1-D grid of labelled-logit values.
        num_draws: Draws of the other logits per grid value.
        seed: Seed of the draws.
        histogram_draws: Draws of the initial-logit histogram.

    Returns:
        A dict with `num_classes`, `z_k`, `curves` (`{label: {"delta_k",
        "scale", "output_bias"}}`) and `histograms` (`{eps: {"centers",
        "density"}}`), all JSON-serializable.
    """
    if num_draws < 1:
        raise ValueError(
            f"Argument `num_draws` must be a positive integer. Received: num_draws={num_draws}"
        )
    eps = {name: presets.output_bias(name, num_classes) for name in EPS_TARGETS}
    curves = {}
    for label, loss_name, bias_rule in CURVES:
        output_bias = eps[bias_rule] if bias_rule else 0.0
        loss = losses_lib.get(
            loss_name,
            from_logits=True,
            output_bias=output_bias,
            **presets.loss_kwargs(loss_name, num_classes),
        )
        delta_k = labelled_neuron_error_in_chunks(
            loss, num_classes, z_k, num_draws=num_draws, seed=seed
        )
        scale = _scale_factor(delta_k)
        curves[label] = {
            "delta_k": [float(v) for v in delta_k],
            "scale": scale,
            "output_bias": output_bias,
        }
    shifted = eps["boundce"] if eps["boundce"] > 0 else eps["mae"]
    histograms = {}
    for bias in (0.0, shifted):
        centers, density = analysis.initial_logit_histogram(
            num_classes, output_bias=bias, num_draws=histogram_draws, seed=seed
        )
        histograms[bias] = {
            "centers": [float(v) for v in centers],
            "density": [float(v) for v in density],
        }
    return {
        "num_classes": num_classes,
        "output_bias": eps,
        "z_k": [float(v) for v in z_k],
        "curves": curves,
        "histograms": histograms,
    }


#: Curves closer than this everywhere (in delta_k after scaling; the axis
#: spans 1.2) are drawn as one: the later ones dotted on top, named together
#: in one legend entry (`recipes.styles.draw_lines`).
COINCIDENCE_TOLERANCE = 0.02


def curve_labels(panel):
    """Legend labels of a panel's curves, in `CURVES` order.

    A label is the loss grammar's (`keras_robust.losses.LossSpec.label`,
    e.g. `"MAE*0.5"`; a starred curve with eps 0 is `"boundCE*0"`) and the
    factor the curve is divided by, e.g. `"symCE / 6"`.

    Args:
        panel: A panel of `compute_panel`.

    Returns:
        `{curve label: legend label}`.
    """
    labels = {}
    for label, curve in panel["curves"].items():
        spec = losses_lib.LossSpec(_LOSS_NAMES[label], curve["output_bias"])
        name = spec.label
        if CURVE_OUTPUT_BIAS[label] and not curve["output_bias"]:
            name += "*0"
        if curve["scale"] != 1:
            name += f" / {curve['scale']}"
        labels[label] = name
    return labels


def legend_entries(panel):
    """The legend texts of a panel: coinciding curves named together.

    Returns:
        A list of texts in drawing order, e.g. `"CE and symCE / 6
        (coincide)"` at 100 classes.
    """
    names = curve_labels(panel)
    groups = styles.coinciding_groups(
        {names[label]: _scaled(curve) for label, curve in panel["curves"].items()},
        COINCIDENCE_TOLERANCE,
    )
    return [styles.coinciding_label(group) for group in groups]


def _scaled(curve):
    return np.asarray(curve["delta_k"]) / curve["scale"]


def draw_figure(panels):
    """The matplotlib figure of the panels side by side (close it with `pyplot.close`).

    Each loss is drawn in its style (`recipes.styles.loss_style`); each
    panel's legend sits under it, so no curve crosses its text.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(
        1, len(panels), figsize=(6.4 * len(panels), 7.0), layout="constrained"
    )
    axes = np.atleast_1d(axes)
    for index, (axis, panel) in enumerate(zip(axes, panels)):
        histogram_axis = axis.twinx()
        for (bias, histogram), color in zip(
            panel["histograms"].items(), styles.HISTOGRAM_COLORS
        ):
            histogram_axis.fill_between(
                histogram["centers"],
                histogram["density"],
                step="mid",
                color=color,
                alpha=0.4,
                label=f"histogram of initial z_k + {bias:g}" if bias
                else "histogram of initial z_k",
            )
        histogram_axis.set_ylim(bottom=0)
        histogram_axis.set_ylabel("density of initial z_k")
        names = curve_labels(panel)
        curves = {
            names[label]: (
                panel["z_k"], _scaled(curve),
                styles.loss_style(_LOSS_NAMES[label], curve["output_bias"]),
            )
            for label, curve in panel["curves"].items()
        }
        handles, texts, handler_map = styles.draw_lines(axis, curves, COINCIDENCE_TOLERANCE)
        axis.set_zorder(histogram_axis.get_zorder() + 1)
        axis.patch.set_visible(False)
        axis.set_ylim(-1.1, 0.1)
        axis.set_xlabel("z_k")
        axis.set_ylabel("delta_k = dL/dz_k")
        axis.set_title(f"({chr(ord('a') + index)}) {panel['num_classes']} classes")
        histogram_handles, histogram_texts = histogram_axis.get_legend_handles_labels()
        axis.legend(
            handles + histogram_handles, texts + histogram_texts, handler_map=handler_map,
            fontsize="small", ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.12),
        )
    return figure


def plot_figure(panels, path):
    """Draws the panels side by side and saves a PNG at `path` atomically."""
    styles.save_figure(draw_figure(panels), path, dpi=110)


def make_figure1(output_dir, num_draws=1000, seed=0, num_points=71, z_range=(-6.0, 8.0)):
    """Computes and writes Fig. 1 (`figure1.png` and `figure1.json`).

    Args:
        output_dir: Directory for the outputs (created if needed).
        num_draws: Draws of the other logits per `z_k` value.
        seed: Seed of all draws.
        num_points: Number of `z_k` grid values.
        z_range: `(low, high)` of the `z_k` grid.

    Returns:
        The path of the PNG.
    """
    if num_points < 2:
        raise ValueError(
            f"Argument `num_points` must be at least 2. Received: num_points={num_points}"
        )
    z_k = np.linspace(z_range[0], z_range[1], num_points)
    panels = [
        compute_panel(num_classes, z_k, num_draws=num_draws, seed=seed)
        for num_classes in PANELS
    ]
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, "figure1.png")
    plot_figure(panels, path)
    data = [
        {**panel, "histograms": {f"{bias:g}": h for bias, h in panel["histograms"].items()}}
        for panel in panels
    ]
    atomic_files.write_text(os.path.join(output_dir, "figure1.json"), json.dumps(data))
    return path


def define_flags(flag_values=flags.FLAGS):
    """Defines this recipe's flags (called when run as a script)."""
    flags.DEFINE_string(
        "output_dir", os.path.join("runs", "figure1"),
        "Directory for figure1.png and figure1.json.",
        flag_values=flag_values,
    )
    flags.DEFINE_integer(
        "num_draws", 1000,
        "Draws of the other logits ~ N(0, 1) per z_k value.",
        lower_bound=1, flag_values=flag_values,
    )
    flags.DEFINE_integer("seed", 0, "Seed of the draws.", flag_values=flag_values)
    flags.DEFINE_integer(
        "num_points", 71, "Number of z_k values between -6 and 8 (step 0.2 by default).",
        lower_bound=2, flag_values=flag_values,
    )


def main(argv):
    del argv  # Checked by cli.flags_parser.
    flag_values = flags.FLAGS
    path = make_figure1(
        flag_values.output_dir,
        num_draws=flag_values.num_draws,
        seed=flag_values.seed,
        num_points=flag_values.num_points,
    )
    print(f"Wrote {path}")


if __name__ == "__main__":
    define_flags()
    app.run(main, flags_parser=cli.flags_parser("recipes.figure1"))
