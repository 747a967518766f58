r"""Tables and learning curves of finished runs, next to the paper's numbers.

Reads every `<results_dir>/**/results.json` written by `recipes.runner.run`
(temporary or unreadable files are skipped with a warning), groups the runs
by `(dataset, model, noise_kind, noise_rate, variant)` over seeds (runs that
differ in another setting, e.g. the learning rates of `recipes.tune_lr`,
get a row each, labelled with that setting) and

- prints Markdown tables like the paper's Tables 2 and 3: one table per
  `(dataset, model, noise_kind)`, rows = loss variants, columns = noise
  rates, cells = final test accuracy in percent as `mean ± s.e.` over seeds
  (s.e. = sample standard deviation with ddof=1 over sqrt(n); `n=...` is
  shown when fewer than five seeds finished; a single run shows its value
  without an error), the best mean of each column in bold, and the paper's
  value for the same cell in parentheses when the paper has one;
- writes the same Markdown to `--markdown_file` (default
  `<output_dir>/report.md`), atomically;
- writes one PNG per `(dataset, model, noise_kind, noise_rate)` like the
  paper's Figs. 2-4: test accuracy against epoch (mean over seeds) per loss
  in the upper panel, with an inset on the last 10 % of epochs, and the
  false-label accuracy (accuracy on the noisy training examples measured
  against their true labels) in the lower panel. Files are named
  `curves_<dataset>_<model>_<noise_kind>_noise<percent>.png`.

Usage:

    python -m recipes.report --results_dir=/tmp/runs --output_dir=/tmp/report
    python -m recipes.report --results_dir=/tmp/runs --table=table3 --noplots
"""

import collections
import json
import math
import os
import sys
import warnings

from absl import app
from absl import flags

from keras_robust import presets
from recipes import atomic_files
from recipes import paper_results

TABLE_CHOICES = ("auto", "table2", "table3")


#: Group key fields, in order.
GROUP_FIELDS = ("dataset", "model", "noise_kind", "noise_rate", "variant")
#: Number of seeds the paper averages over; fewer are flagged with `n=`.
PAPER_NUM_SEEDS = 5
# Settings that may differ between the seeds of one table cell.
_PER_RUN_SETTINGS = {"seed", "run_id", "output_dir", "data_dir", "verbose"}
# The paper's noise: labels redrawn uniformly from all classes.
_PAPER_NOISE_KINDS = {"symmetric", "uniform"}
# Losses with long tails towards outliers, drawn dashed as in paper Fig. 2.
_DASHED_LOSSES = {"ce", "sce", "gce", "bitemp"}


# ---------------------------------------------------------------------------
# Loading and grouping.


def _is_complete(result):
    return (
        isinstance(result, dict)
        and isinstance(result.get("settings"), dict)
        and isinstance(result.get("final"), dict)
        and result["final"].get("test_accuracy") is not None
        and all(field in result["settings"] for field in GROUP_FIELDS)
    )


def load_results(results_dir):
    """All complete `results.json` files below `results_dir`.

    Only files named exactly `results.json` are read, so temporary files of
    an atomic write are ignored; files that are not valid JSON or lack the
    settings and final accuracy are skipped with a warning. A run found twice
    (same `settings_hash`) is read once.

    Returns:
        A list of results dicts, each with an added `"path"` entry.
    """
    if not results_dir or not os.path.isdir(results_dir):
        raise ValueError(
            "Argument `results_dir` must be an existing directory. "
            f"Received: results_dir={results_dir!r}"
        )
    results, seen_hashes = [], set()
    for root, dirs, files in os.walk(results_dir):
        dirs.sort()
        if "results.json" not in files:
            continue
        path = os.path.join(root, "results.json")
        try:
            with open(path, encoding="utf-8") as file:
                result = json.load(file)
        except (OSError, ValueError) as error:
            warnings.warn(f"Skipping unreadable {path}: {error}")
            continue
        if not _is_complete(result):
            warnings.warn(
                f"Skipping {path}: it lacks settings {GROUP_FIELDS} or "
                "final.test_accuracy."
            )
            continue
        settings_hash = result.get("settings_hash")
        if settings_hash is not None:
            if settings_hash in seen_hashes:
                continue
            seen_hashes.add(settings_hash)
        result["path"] = path
        results.append(result)
    return results


def group_key(result):
    """`(dataset, model, noise_kind, noise_rate, variant)` of one run."""
    settings = result["settings"]
    return (
        settings["dataset"],
        settings["model"],
        settings["noise_kind"],
        round(float(settings["noise_rate"]), 6),
        settings["variant"],
    )


def _format_setting(value):
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _differing_settings(runs):
    fields = set().union(*(run["settings"] for run in runs)) - _PER_RUN_SETTINGS
    return sorted(
        field
        for field in fields
        if len({json.dumps(run["settings"].get(field), sort_keys=True) for run in runs}) > 1
    )


def group_results(results):
    """Groups runs over seeds; each group's runs are sorted by seed.

    The key is `group_key(run)` plus a `setting` string: empty when the runs
    of a `group_key` agree in every setting but the seed, else the settings
    that tell them apart, e.g. `"learning_rate=0.001"` (runs of
    `recipes.tune_lr`), so that different experiments are never averaged
    together; the tables then show one row per setting.

    Returns:
        `{(dataset, model, noise_kind, noise_rate, variant, setting): runs}`.
    """
    by_key = collections.defaultdict(list)
    for result in results:
        by_key[group_key(result)].append(result)
    groups = collections.defaultdict(list)
    for key, runs in by_key.items():
        differing = _differing_settings(runs)
        for run in runs:
            setting = ", ".join(
                f"{field}={_format_setting(run['settings'].get(field))}"
                for field in differing
            )
            groups[key + (setting,)].append(run)
    for runs in groups.values():
        runs.sort(key=lambda run: run["settings"].get("seed", 0))
    return dict(groups)


# ---------------------------------------------------------------------------
# Statistics and formatting.


def mean_and_standard_error(values):
    """Mean and standard error of the mean (ddof=1); error None for one value."""
    values = [float(value) for value in values]
    if not values:
        raise ValueError("Argument `values` must not be empty.")
    n = len(values)
    mean = sum(values) / n
    if n == 1:
        return mean, None
    variance = sum((value - mean) ** 2 for value in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def cell_statistics(runs):
    """`(mean, standard_error, n)` of the final test accuracy, in percent."""
    accuracies = [100.0 * run["final"]["test_accuracy"] for run in runs]
    mean, error = mean_and_standard_error(accuracies)
    return mean, error, len(accuracies)


def format_statistic(mean, error, decimals=2):
    """`"85.10 ± 0.30"`, or `"85.10"` without an error."""
    if error is None:
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {error:.{decimals}f}"


def format_cell(mean, error, n, paper_value=None, bold=False, decimals=2):
    """One table cell, e.g. `"**85.10 ± 0.30** n=3 (paper 86.00 ± 0.20)"`."""
    text = format_statistic(mean, error, decimals)
    if bold:
        text = f"**{text}**"
    if n < PAPER_NUM_SEEDS:
        text += f" n={n}"
    if paper_value is not None:
        text += f" (paper {paper_results.format_value(paper_value, decimals)})"
    return text


def _table_of(dataset):
    return "table3" if dataset == "cifar100" else "table2"


def _variant_order(table_name, variant_keys):
    ordered = [row.key for row in presets.table_variants(table_name)]
    known = [key for key in ordered if key in variant_keys]
    return known + sorted(set(variant_keys) - set(known))


def _row_order(table_name, row_keys):
    """`(variant, setting)` rows: the table's variant order, then settings."""
    order = _variant_order(table_name, {variant for variant, _ in row_keys})
    return sorted(row_keys, key=lambda row: (order.index(row[0]), row[1]))


def _row_label(variant_key, setting, runs):
    label = _variant_label(variant_key, runs)
    return f"{label} ({setting})" if setting else label


def _variant_label(variant_key, runs):
    settings = runs[0]["settings"]
    label = settings.get("label") or settings.get("variant_label")
    if label:
        return label
    try:
        return presets.variant(variant_key).label
    except ValueError:
        return variant_key


def _percent(noise_rate):
    return f"{100 * noise_rate:g} %"


def markdown_tables(groups, table="auto", decimals=2):
    """The Markdown report of grouped runs (see the module docstring).

    Args:
        groups: The output of `group_results`.
        table: `"table2"`, `"table3"` or `"auto"` (see `--table`).
        decimals: Decimals of the printed percentages.

    Returns:
        The Markdown text.
    """
    if table not in TABLE_CHOICES:
        raise ValueError(
            f"Unknown table {table!r}. Allowed: {', '.join(TABLE_CHOICES)}."
        )
    blocks = collections.defaultdict(dict)
    for key, runs in groups.items():
        dataset, model, noise_kind, noise_rate, variant_key, setting = key
        if table != "auto" and _table_of(dataset) != table:
            continue
        blocks[(dataset, model, noise_kind)][((variant_key, setting), noise_rate)] = runs

    lines = ["# Final test accuracy (%)", ""]
    if not blocks:
        lines.append("No finished runs found for this table.")
        return "\n".join(lines) + "\n"
    lines += [
        "Mean ± standard error over seeds (ddof=1); `n=` marks fewer than "
        f"{PAPER_NUM_SEEDS} seeds; bold is the best mean of each column; "
        "the paper's value for the same cell is in parentheses.",
        "",
    ]
    for (dataset, model, noise_kind), cells in sorted(blocks.items()):
        table_name = _table_of(dataset)
        noise_rates = sorted({noise_rate for _, noise_rate in cells})
        row_keys = _row_order(table_name, {row for row, _ in cells})
        statistics = {
            cell: cell_statistics(runs) for cell, runs in cells.items()
        }
        best = {}
        for noise_rate in noise_rates:
            means = [
                round(mean, decimals)
                for (_, rate), (mean, _, _) in statistics.items()
                if rate == noise_rate
            ]
            best[noise_rate] = max(means)
        paper_table = paper_results.table_for(dataset, model)
        source = (
            f"paper {paper_table.replace('table', 'Table ')}"
            if paper_table
            else "not in the paper"
        )
        lines.append(f"## {dataset}, {model}, {noise_kind} noise ({source})")
        lines.append("")
        header = ["Loss"] + [f"Noise {_percent(rate)}" for rate in noise_rates]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for row_key in row_keys:
            variant_key, setting = row_key
            any_runs = next(runs for (key, _), runs in cells.items() if key == row_key)
            row = [_row_label(variant_key, setting, any_runs)]
            for noise_rate in noise_rates:
                if (row_key, noise_rate) not in statistics:
                    row.append("–")
                    continue
                mean, error, n = statistics[(row_key, noise_rate)]
                paper_value = None
                if noise_kind in _PAPER_NOISE_KINDS or noise_rate == 0:
                    paper_value = paper_results.paper_value(
                        dataset, model, variant_key, noise_rate
                    )
                row.append(
                    format_cell(
                        mean,
                        error,
                        n,
                        paper_value=paper_value,
                        bold=round(mean, decimals) == best[noise_rate],
                        decimals=decimals,
                    )
                )
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Learning curves.


def mean_curve(runs, metric):
    """Mean over seeds of `history[metric]` per epoch, in percent.

    Runs are aligned by `history["epoch"]`; an epoch's mean uses the runs
    that have a value there (None entries, e.g. the false-label accuracy of
    noise-free runs, are left out).

    Returns:
        `(epochs, means)` lists; empty when no run has the metric.
    """
    values_by_epoch = collections.defaultdict(list)
    for run in runs:
        history = run.get("history") or {}
        values = history.get(metric) or []
        epochs = history.get("epoch") or list(range(1, len(values) + 1))
        for epoch, value in zip(epochs, values):
            if value is not None:
                values_by_epoch[epoch].append(100.0 * float(value))
    epochs = sorted(values_by_epoch)
    return epochs, [
        sum(values_by_epoch[epoch]) / len(values_by_epoch[epoch]) for epoch in epochs
    ]


def _line_style(variant_key):
    base = variant_key.split("*")[0]
    return "--" if base in _DASHED_LOSSES else "-"


def plot_curves(groups, output_dir, table="auto"):
    """Writes one PNG per `(dataset, model, noise_kind, noise_rate)`.

    Returns:
        The list of written paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figures = collections.defaultdict(dict)
    for (dataset, model, noise_kind, noise_rate, variant_key, setting), runs in groups.items():
        if table != "auto" and _table_of(dataset) != table:
            continue
        figures[(dataset, model, noise_kind, noise_rate)][(variant_key, setting)] = runs

    os.makedirs(output_dir, exist_ok=True)
    colors = plt.get_cmap("tab10").colors
    paths = []
    for (dataset, model, noise_kind, noise_rate), variants in sorted(figures.items()):
        table_name = _table_of(dataset)
        figure, (upper, lower) = plt.subplots(
            2, 1, figsize=(8.4, 7.0), sharex=True, height_ratios=(3, 2)
        )
        curves = []
        for index, row_key in enumerate(_row_order(table_name, set(variants))):
            variant_key, setting = row_key
            runs = variants[row_key]
            style = {
                "color": colors[index % len(colors)],
                "linestyle": _line_style(variant_key),
                "label": _row_label(variant_key, setting, runs),
            }
            epochs, test = mean_curve(runs, "test_accuracy")
            if epochs:
                upper.plot(epochs, test, **style)
                curves.append((epochs, test, style))
            epochs, false_label = mean_curve(runs, "false_label_accuracy")
            if epochs:
                lower.plot(epochs, false_label, **style)
        _add_zoom_inset(upper, curves)
        upper.set_ylabel("test accuracy (%)")
        upper.set_title(
            f"{dataset}, {model}, {_percent(noise_rate)} {noise_kind} noise "
            f"(mean over seeds)"
        )
        upper.legend(
            fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0)
        )
        lower.set_ylabel("false-label accuracy (%)")
        lower.set_xlabel("epoch")
        if not lower.lines:
            lower.text(
                0.5,
                0.5,
                "no noisy training labels",
                ha="center",
                va="center",
                transform=lower.transAxes,
            )
        figure.tight_layout()
        name = (
            f"curves_{dataset}_{model}_{noise_kind}_noise"
            f"{int(round(100 * noise_rate)):02d}.png"
        )
        path = os.path.join(output_dir, name)
        try:
            atomic_files.save_figure(figure, path, dpi=100)
        finally:
            plt.close(figure)
        paths.append(path)
    return paths


def _add_zoom_inset(axes, curves):
    """Zoom into the last 10 % of epochs, like the insets of Figs. 2-4."""
    if not curves:
        return
    last_epoch = max(epochs[-1] for epochs, _, _ in curves)
    first_epoch = min(epochs[0] for epochs, _, _ in curves)
    if last_epoch - first_epoch < 9:
        return
    start = last_epoch - 0.1 * (last_epoch - first_epoch)
    inset = axes.inset_axes((0.45, 0.08, 0.5, 0.4))
    tail_values = []
    for epochs, values, style in curves:
        tail = [(e, v) for e, v in zip(epochs, values) if e >= start]
        if tail:
            inset.plot(*zip(*tail), color=style["color"], linestyle=style["linestyle"])
            tail_values += [v for _, v in tail]
    # Show the top curves: from the median of the final values to the top.
    finals = sorted(values[-1] for _, values, _ in curves)
    low = finals[len(finals) // 2] if len(finals) > 2 else min(tail_values)
    high = max(tail_values)
    margin = max(0.05 * (high - low), 0.1)
    inset.set_ylim(low - margin, high + margin)
    inset.set_xlim(start, last_epoch)
    inset.tick_params(labelsize="x-small")


# ---------------------------------------------------------------------------
# Entry points.


def define_flags(flag_values=flags.FLAGS):
    """Defines this recipe's flags (called when run as a script).

    The flags are not defined at import, so the recipes can be imported
    together (several of them have an `--output_dir`).
    """
    flags.DEFINE_string(
        "results_dir",
        None,
        "Directory searched recursively for results.json files (required).",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "output_dir",
        None,
        "Directory for the PNG curves and report.md "
        "(default: <results_dir>/report).",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "markdown_file",
        None,
        "Where to write the Markdown tables (default: <output_dir>/report.md).",
        flag_values=flag_values,
    )
    flags.DEFINE_enum(
        "table",
        "auto",
        list(TABLE_CHOICES),
        "Which paper table to report: table2 (ten-class datasets: CIFAR-10, "
        "Fashion-MNIST, digits), table3 (CIFAR-100) or auto (every run "
        "found, CIFAR-100 compared with Table 3, the rest with Table 2).",
        flag_values=flag_values,
    )
    flags.DEFINE_boolean(
        "plots",
        True,
        "Whether to write the PNG learning curves (--noplots to skip).",
        flag_values=flag_values,
    )


def make_report(results_dir, output_dir=None, table="auto", markdown_file=None, plots=True):
    """Builds the Markdown report and the PNG curves of `results_dir`.

    Args:
        results_dir: Directory searched recursively for `results.json`.
        output_dir: Directory for the PNGs and `report.md`; default
            `<results_dir>/report`.
        table: `"auto"`, `"table2"` or `"table3"`.
        markdown_file: Where to write the Markdown; default
            `<output_dir>/report.md`.
        plots: Whether to write the PNG curves.

    Returns:
        `(markdown_text, png_paths)`.
    """
    if table not in TABLE_CHOICES:
        raise ValueError(
            f"Unknown table {table!r}. Allowed: {', '.join(TABLE_CHOICES)}."
        )
    groups = group_results(load_results(results_dir))
    output_dir = output_dir or os.path.join(results_dir, "report")
    markdown = markdown_tables(groups, table=table)
    atomic_files.write_text(
        markdown_file or os.path.join(output_dir, "report.md"), markdown
    )
    paths = plot_curves(groups, output_dir, table=table) if plots else []
    return markdown, paths


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    flag_values = flags.FLAGS
    if not flag_values.results_dir:
        raise app.UsageError("--results_dir is required.")
    markdown, paths = make_report(
        flag_values.results_dir,
        output_dir=flag_values.output_dir,
        table=flag_values.table,
        markdown_file=flag_values.markdown_file,
        plots=flag_values.plots,
    )
    sys.stdout.write(markdown)
    for path in paths:
        print(f"Wrote {path}")


if __name__ == "__main__":
    define_flags()
    app.run(main)
