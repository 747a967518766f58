r"""Tables and learning curves of finished runs, next to the paper's numbers.

The one report library of the recipes: the mean and standard error over
seeds, the Markdown table writer, the learning curves and the comparison
with the paper (`recipes.paper_results`). `recipes.main` calls
`write_report` after a sweep; as a script it reports any directory of
runs:

    python -m recipes.report --results_dir=runs/table2
    python -m recipes.report --results_dir=runs/quickstart --noplots

Runs (`recipes.results.RunResult`) are grouped into blocks by `(dataset,
model, noise_kind)`; in a block the rows are the losses with their output
bias eps (`paper_results.row_label`, e.g. `MAE* eps=0.5`), in the paper's
order. Runs that differ only in the seed are averaged; runs that differ in
another setting are not, and get a row each, labelled with that setting
(e.g. `CE (batch_size=64)`). A block is written as

- the learning-rate table (supplement Table 1), when a row's runs differ in
  their learning rate: columns = learning rates, the best mean in bold
  (ties: the smaller rate), the chosen rate and the paper's; the chosen
  rates also go to `best_learning_rates.json`,
  `{dataset: {model: {row label: rate}}}`;
- the noise table (paper Tables 2 and 3), otherwise: columns = noise rates,
  the best mean of each column in bold; with a single noise rate the
  false-label accuracy and the seeds get columns of their own.

Cells are final test accuracies in percent, `mean ± s.e.` over seeds
(sample standard deviation, ddof=1, over sqrt(n); one seed: the value
alone), `n=` when fewer seeds than the paper's five finished, the paper's
value in parentheses where the paper has that cell (two decimals, as the
paper prints; one decimal in blocks the paper does not have).

Noise blocks the paper can be compared with (`paper_results.comparable_table`:
its own blocks, and offline datasets by their class count, e.g. digits with
Table 2 and digit pairs with Table 3) are followed by the paper's values
(for a block the paper does not have: the mean over the table's blocks)
and, per noise rate, the agreement of the losses' ranking with the paper's:
Kendall's tau-b and the losses that swap places (`rank_agreement`).

Curves: one PNG per `(dataset, model, noise_kind, noise_rate)` of a noise
table, like the paper's Figs. 2-4: test accuracy per epoch (mean over
seeds, a band of +- one standard error) for every row in the upper panel,
and the false-label accuracy (accuracy on the training images whose label
was changed, against their true labels) in the lower panel, integer epoch
ticks. Files: `curves_<dataset>_<model>_<noise_kind>_noise<percent>.png`;
where several blocks share a noise rate, also
`curves_<noise_kind>_noise<percent>.png` with one column per block.
"""

import collections
import json
import math
import os
import sys

from absl import app
from absl import flags

from keras_robust import data
from recipes import atomic_files
from recipes import cli
from recipes import paper_results
from recipes import results as results_lib

REPORT_FILENAME = "report.md"
LEARNING_RATES_FILENAME = "best_learning_rates.json"
#: Seeds the paper averages over; fewer are marked with `n=`.
PAPER_NUM_SEEDS = len(paper_results.SEEDS)
# Settings that may differ between the runs of one cell.
_PER_RUN_SETTINGS = {"seed", "data_dir"}
# Settings that place a run in a block, a row and a column.
_BLOCK_SETTINGS = ("dataset", "model", "noise_kind")
_ROW_SETTINGS = ("loss", "output_bias")
# The paper's noise: labels redrawn uniformly from all classes.
_PAPER_NOISE_KINDS = {"symmetric"}
# Losses with long tails towards outliers, drawn dashed as in paper Fig. 2.
_DASHED_LOSSES = {"ce", "sce", "gce", "bitemp"}


# ---------------------------------------------------------------------------
# Statistics and the table writer.


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


def format_statistic(mean, error, decimals=2):
    """`"85.10 ± 0.30"`, or `"85.10"` without an error."""
    if error is None:
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {error:.{decimals}f}"


def markdown_table(header, rows):
    """A Markdown table: `header` is a list of column titles, `rows` lists of cells."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def _percent(fraction):
    return f"{100 * fraction:g} %"


# ---------------------------------------------------------------------------
# Grouping.


class Cell(collections.namedtuple("Cell", "runs statistic")):
    """The runs of one table cell and `(mean, error, n)` of their final test accuracy (%)."""


def _statistic(runs, metric="test_accuracy"):
    values = [100.0 * run.final[metric] for run in runs if run.final.get(metric) is not None]
    if not values:
        return None
    mean, error = mean_and_standard_error(values)
    return mean, error, len(values)


def _setting_text(value):
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _differing(runs, ignore):
    names = set().union(*(run.settings for run in runs)) - _PER_RUN_SETTINGS - set(ignore)
    return sorted(
        name
        for name in names
        if len({json.dumps(run.settings.get(name), sort_keys=True) for run in runs}) > 1
    )


def _split(runs, ignore):
    """Runs by the text of the settings (other than `ignore`) in which they differ."""
    differing = _differing(runs, ignore)
    parts = collections.defaultdict(list)
    for run in runs:
        text = ", ".join(f"{name}={_setting_text(run.settings.get(name))}" for name in differing)
        parts[text].append(run)
    return parts


class Block(collections.namedtuple("Block", "dataset model noise_kind kind columns rows")):
    """One table: `kind` is `"learning_rate"` or `"noise_rate"` (the columns' setting).

    `rows` maps `(loss, output_bias, setting)` to `{column value: Cell}`.
    """

    @property
    def paper_table(self):
        return paper_results.table_for(self.dataset, self.model)

    def label(self, row):
        loss, output_bias, setting = row
        label = paper_results.row_label(loss, output_bias)
        return f"{label} ({setting})" if setting else label

    def paper_row(self, row):
        loss, output_bias, setting = row
        if setting or self.paper_table is None:
            return None
        return paper_results.find_row(self.paper_table, loss, output_bias)

    @property
    def comparable_table(self):
        return paper_results.comparable_table(self.dataset, self.model)

    def comparable_row(self, row):
        """The row of the comparable paper table with this loss and eps, or None."""
        loss, output_bias, setting = row
        if setting or self.comparable_table is None:
            return None
        return paper_results.find_row(self.comparable_table, loss, output_bias)


def _row_order(block_key, rows):
    dataset, model, _ = block_key
    table = paper_results.comparable_table(dataset, model) or "table2"
    order = [(row.loss, row.output_bias) for row in paper_results.table(table).rows]

    def position(row):
        loss, output_bias, setting = row
        known = (loss, output_bias) in order
        return (
            order.index((loss, output_bias)) if known else len(order),
            loss, output_bias, setting,
        )

    return sorted(rows, key=position)


def _block_order(item):
    dataset, model, noise_kind = item[0]
    position = list(data.DATASETS).index(dataset) if dataset in data.DATASETS else len(data.DATASETS)
    return position, dataset, model, noise_kind


def group_blocks(results_list):
    """The tables of a list of `RunResult`s (see the module docstring).

    Returns:
        A list of `Block`, sorted by dataset (in the order of
        `keras_robust.data.DATASETS`), model and noise kind.
    """
    by_block = collections.defaultdict(lambda: collections.defaultdict(list))
    for run in results_list:
        block_key = tuple(run.settings[name] for name in _BLOCK_SETTINGS)
        row_key = (run.settings["loss"], float(run.settings["output_bias"] or 0.0))
        by_block[block_key][row_key].append(run)
    blocks = []
    for block_key, by_row in sorted(by_block.items(), key=_block_order):
        learning_rate_grid = any(
            len({(run.settings["noise_rate"], run.settings["learning_rate"]) for run in runs})
            > len({run.settings["noise_rate"] for run in runs})
            for runs in by_row.values()
        )
        kind = "learning_rate" if learning_rate_grid else "noise_rate"
        ignore = _BLOCK_SETTINGS + _ROW_SETTINGS + (kind,)
        rows = collections.defaultdict(dict)
        for (loss, output_bias), runs in by_row.items():
            columns = collections.defaultdict(list)
            for run in runs:
                columns[float(run.settings[kind])].append(run)
            for column, column_runs in columns.items():
                for setting, cell_runs in _split(column_runs, ignore).items():
                    cell_runs.sort(key=lambda run: run.settings.get("seed", 0))
                    rows[(loss, output_bias, setting)][column] = Cell(
                        cell_runs, _statistic(cell_runs)
                    )
        columns = sorted({column for cells in rows.values() for column in cells})
        ordered = {row: rows[row] for row in _row_order(block_key, rows)}
        blocks.append(Block(*block_key, kind, columns, ordered))
    return blocks


# ---------------------------------------------------------------------------
# Tables.


def _cell_text(statistic, decimals, bold=False, paper_value=None, mark_seeds=True):
    mean, error, n = statistic
    text = format_statistic(mean, error, decimals)
    if bold:
        text = f"**{text}**"
    if mark_seeds and n < PAPER_NUM_SEEDS:
        text += f" n={n}"
    if paper_value is not None:
        text += f" (paper {paper_results.format_value(paper_value, decimals)})"
    return text


def _best_means(block, decimals):
    best = {}
    for column in block.columns:
        means = [
            round(cells[column].statistic[0], decimals)
            for cells in block.rows.values()
            if column in cells and cells[column].statistic
        ]
        best[column] = max(means) if means else None
    return best


def _paper_noise_value(block, row, noise_rate):
    paper_row = block.paper_row(row)
    if paper_row is None or (block.noise_kind not in _PAPER_NOISE_KINDS and noise_rate):
        return None
    return paper_results.paper_value(block.dataset, block.model, paper_row.key, noise_rate)


def noise_table(block):
    """The Markdown of a noise block: rows = losses, columns = noise rates."""
    decimals = 2 if block.paper_table else 1
    best = _best_means(block, decimals)
    single = len(block.columns) == 1
    if single:
        header = ["Loss", "test accuracy (%)", "false label accuracy (%)", "seeds"]
    else:
        header = ["Loss"] + [f"Noise {_percent(rate)}" for rate in block.columns]
    rows = []
    for row, cells in block.rows.items():
        line = [block.label(row)]
        for column in block.columns:
            cell = cells.get(column)
            if cell is None or cell.statistic is None:
                line.append("–")
                continue
            line.append(
                _cell_text(
                    cell.statistic,
                    decimals,
                    bold=not single and round(cell.statistic[0], decimals) == best[column],
                    paper_value=_paper_noise_value(block, row, column),
                    mark_seeds=not single,  # a single column's table has a seeds column
                )
            )
        if single:
            cell = cells.get(block.columns[0])
            false_label = _statistic(cell.runs, "false_label_accuracy") if cell else None
            line.append(format_statistic(*false_label[:2], decimals) if false_label else "–")
            line.append(len(cell.runs) if cell else 0)
        rows.append(line)
    return markdown_table(header, rows)


def kendall_tau(x, y):
    """Kendall's tau-b of two equally long sequences (ties allowed).

    `(concordant - discordant) / sqrt((n0 - ties_x) (n0 - ties_y))` over the
    `n0 = n (n - 1) / 2` pairs, as `scipy.stats.kendalltau` computes it; None
    when either sequence is constant or has fewer than two values.
    """
    if len(x) != len(y):
        raise ValueError(
            f"Arguments `x` and `y` must have the same length. Received: {len(x)} and {len(y)}"
        )
    concordant = discordant = tied_x = tied_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                tied_x += 1
                tied_y += 1
            elif dx == 0:
                tied_x += 1
            elif dy == 0:
                tied_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    pairs = len(x) * (len(x) - 1) // 2
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    return (concordant - discordant) / denominator if denominator else None


def rank_agreement(block):
    """Per noise rate, how the ranking of the block's losses agrees with the paper's.

    The block's rows that the comparable paper table has
    (`paper_results.comparable_table`) are ranked by mean final test
    accuracy, and the paper's by `paper_results.reference_values`.

    Returns:
        A list of `(noise_rate, tau, swapped)`: Kendall's tau-b over the
        rows both have, and `(a, b, within_errors)` for each pair of row
        labels where `a` is ahead of `b` in the paper and behind it here;
        `within_errors` says whether our two means differ by less than the
        sum of their standard errors. Noise rates the paper has no column
        for, or with fewer than three common rows, are left out.
    """
    agreement = []
    for noise_rate in block.columns:
        paper = paper_results.reference_values(block.dataset, block.model, noise_rate)
        if not paper:
            continue
        common = []
        for row, cells in block.rows.items():
            paper_row = block.comparable_row(row)
            cell = cells.get(noise_rate)
            if paper_row is None or cell is None or cell.statistic is None:
                continue
            mean, error, _ = cell.statistic
            common.append((block.label(row), mean, error or 0.0, paper[paper_row.key]))
        if len(common) < 3:
            continue
        ours = [mean for _, mean, _, _ in common]
        theirs = [value for _, _, _, value in common]
        swapped = [
            (label_a, label_b, ours_b - ours_a < error_a + error_b)
            for label_a, ours_a, error_a, paper_a in common
            for label_b, ours_b, error_b, paper_b in common
            if paper_a > paper_b and ours_a < ours_b
        ]
        agreement.append((noise_rate, kendall_tau(ours, theirs), swapped))
    return agreement


def _reference_title(block):
    name = block.comparable_table.replace("table", "Table ")
    blocks = paper_results.TABLE_BLOCKS[block.comparable_table]
    if block.paper_table:
        return f"Paper {name} ({block.dataset} {block.model})"
    if len(blocks) == 1:
        return f"Paper {name} ({blocks[0][0]} {blocks[0][1]})"
    return f"Paper {name}, mean of its {len(blocks)} blocks"


def reference_table(block):
    """The Markdown of the paper's values of a block's rows, for a block the paper does not have."""
    columns = [
        rate for rate in block.columns
        if paper_results.reference_values(block.dataset, block.model, rate)
    ]
    keys = {block.comparable_row(row).key for row in block.rows if block.comparable_row(row)}
    rows = []
    for row in paper_results.table(block.comparable_table).rows:
        if row.key not in keys:
            continue
        line = [row.label]
        for rate in columns:
            value = paper_results.reference_values(block.dataset, block.model, rate)[row.key]
            line.append(f"{value:.2f}")
        rows.append(line)
    header = ["Loss"] + [f"Noise {_percent(rate)}" for rate in columns]
    return markdown_table(header, rows)


def agreement_table(block):
    """The Markdown of `rank_agreement(block)`, or None when there is none."""
    agreement = rank_agreement(block)
    if not agreement:
        return None
    rows = []
    for noise_rate, tau, swapped in agreement:
        pairs = "; ".join(
            f"{a} ahead of {b} in the paper, behind here"
            + (" (within our s.e.)" if within_errors else "")
            for a, b, within_errors in swapped
        )
        rows.append([_percent(noise_rate), "–" if tau is None else f"{tau:+.2f}", pairs or "none"])
    return markdown_table(["Noise", "Kendall's tau", "losses that swap places"], rows)


def choose_learning_rates(block):
    """The best learning rate of each row of a learning-rate block.

    Returns:
        `{row: rate}`: the rate with the highest mean final test accuracy,
        ties going to the smaller rate.
    """
    chosen = {}
    for row, cells in block.rows.items():
        scored = [(rate, cells[rate].statistic[0]) for rate in block.columns if rate in cells]
        if scored:
            chosen[row] = max(scored, key=lambda item: (item[1], -item[0]))[0]
    return chosen


def learning_rate_table(block):
    """The Markdown of a learning-rate block: rows = losses, columns = rates."""
    decimals = 2 if block.paper_table else 1
    chosen = choose_learning_rates(block)
    header = ["Loss"] + [f"lr {rate:g}" for rate in block.columns] + ["chosen", "paper"]
    rows = []
    clean_mlp = block.model == "mlp1024"
    for row, cells in block.rows.items():
        paper_row = block.paper_row(row) if clean_mlp else None
        line = [block.label(row)]
        for rate in block.columns:
            cell = cells.get(rate)
            if cell is None:
                line.append("–")
                continue
            paper_value = None
            if paper_row is not None and not _noisy(cell.runs):
                paper_value = paper_results.paper_learning_rate_value(
                    block.dataset, paper_row.key, rate
                )
            line.append(
                _cell_text(cell.statistic, decimals, rate == chosen.get(row), paper_value)
            )
        paper_rate = None
        if paper_row is not None:
            paper_rate = paper_results.paper_best_learning_rate(block.dataset, paper_row.key)
        line.append(f"{chosen[row]:g}" if row in chosen else "–")
        line.append("–" if paper_rate is None else f"{paper_rate:g}")
        rows.append(line)
    return markdown_table(header, rows)


def _noisy(runs):
    return any(run.settings.get("noise_rate") for run in runs)


def _shared_settings(results_list):
    shown = ("epochs", "batch_size", "learning_rate", "train_size")
    shared = []
    for name in shown:
        values = {json.dumps(run.settings.get(name)) for run in results_list}
        if len(values) == 1 and results_list[0].settings.get(name) is not None:
            shared.append(f"{name}={_setting_text(results_list[0].settings.get(name))}")
    return ", ".join(shared)


def markdown_report(results_list):
    """The Markdown text of the report of `results_list` (see the module docstring)."""
    lines = ["# Final test accuracy (%)", ""]
    if not results_list:
        return "\n".join(lines + ["No finished runs.", ""])
    blocks = group_blocks(results_list)
    legend = [f"{len(results_list)} runs. Mean ± standard error over seeds (ddof=1)"]
    if any(len(block.columns) > 1 or block.kind == "learning_rate" for block in blocks):
        legend.append(f"`n=` marks fewer than {PAPER_NUM_SEEDS} seeds")
    if any(block.paper_table for block in blocks):
        legend.append("the paper's value is in parentheses")
    lines += ["; ".join(legend) + ".", ""]
    shared = _shared_settings(results_list)
    if shared:
        lines += [f"Settings of every run: {shared}.", ""]
    for block in blocks:
        if block.kind == "learning_rate":
            source = "paper supplement Table 1" if block.paper_table else "not in the paper"
            noise = ", ".join(
                _percent(rate)
                for rate in sorted({
                    run.settings["noise_rate"]
                    for cells in block.rows.values()
                    for cell in cells.values()
                    for run in cell.runs
                })
            )
            heading = f"{noise} {block.noise_kind} noise: initial learning rate ({source})"
            table = learning_rate_table(block)
        else:
            source = "not in the paper"
            if block.paper_table:
                source = "paper " + block.paper_table.replace("table", "Table ")
            heading = f"{block.noise_kind} noise ({source})"
            if len(block.columns) == 1:
                heading += f", noise rate {_percent(block.columns[0])}"
            table = noise_table(block)
        lines += [f"## {block.dataset}, {block.model}, {heading}", "", table, ""]
        if block.kind == "noise_rate" and block.comparable_table:
            lines += _comparison(block)
    return "\n".join(lines)


def _comparison(block):
    """The paper's table (for a block it does not have) and the rank agreement."""
    lines = []
    agreement = agreement_table(block)
    if agreement is None:
        return lines
    if not block.paper_table:
        lines += [f"{_reference_title(block)}:", "", reference_table(block), ""]
    lines += [
        f"Ranking of the losses against {_reference_title(block)} "
        "(Kendall's tau-b over the rows both have; +1: same order):",
        "",
        agreement,
        "",
    ]
    return lines


def best_learning_rates(results_list):
    """`{dataset: {model: {row label: rate}}}` of the learning-rate blocks."""
    chosen = {}
    for block in group_blocks(results_list):
        if block.kind != "learning_rate":
            continue
        for row, rate in choose_learning_rates(block).items():
            chosen.setdefault(block.dataset, {}).setdefault(block.model, {})[
                block.label(row)
            ] = rate
    return chosen


# ---------------------------------------------------------------------------
# Learning curves.


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
    statistics = [mean_and_standard_error(values_by_epoch[epoch]) for epoch in epochs]
    return (
        epochs,
        [mean for mean, _ in statistics],
        [error or 0.0 for _, error in statistics],
    )


def _line_style(loss):
    return "--" if loss in _DASHED_LOSSES else "-"


def _draw_curves(upper, lower, block, noise_rate, colors):
    """Draws one block's rows at `noise_rate` on a test (upper) and false-label (lower) axis.

    `colors` maps each row label to its colour, the same in every column.
    """
    for row, cells in block.rows.items():
        if noise_rate not in cells:
            continue
        style = {
            "color": colors[block.label(row)],
            "linestyle": _line_style(row[0]),
            "label": block.label(row),
        }
        for axis, metric in ((upper, "test_accuracy"), (lower, "false_label_accuracy")):
            epochs, means, errors = mean_curve(cells[noise_rate].runs, metric)
            if not epochs:
                continue
            axis.plot(epochs, means, **style)
            axis.fill_between(
                epochs,
                [m - e for m, e in zip(means, errors)],
                [m + e for m, e in zip(means, errors)],
                color=style["color"],
                alpha=0.2,
            )
    if not lower.lines:
        lower.text(
            0.5, 0.5, "no noisy training labels",
            ha="center", va="center", transform=lower.transAxes,
        )


def plot_curves(panels, path):
    """Writes the learning curves of one or more blocks to `path` (PNG).

    Args:
        panels: `(block, noise_rate)` pairs of noise blocks, one column each:
            test accuracy per epoch above, false-label accuracy below, one
            line per row (mean over seeds) with a band of +- one standard
            error, the legend under the column.
        path: The PNG file.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib import ticker

    columns = len(panels)
    num_rows = max(len(block.rows) for block, _ in panels)
    figure, axes = plt.subplots(
        2, columns, figsize=(5.2 * columns, 6.6 + 0.22 * num_rows),
        sharex="col", height_ratios=(3, 2), squeeze=False,
    )
    labels = list(dict.fromkeys(
        block.label(row) for block, _ in panels for row in block.rows
    ))
    palette = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20").colors
    colors = {label: palette[index % len(palette)] for index, label in enumerate(labels)}
    for column, (block, noise_rate) in enumerate(panels):
        upper, lower = axes[0, column], axes[1, column]
        _draw_curves(upper, lower, block, noise_rate, colors)
        upper.set_title(
            f"{block.dataset}, {block.model}, {_percent(noise_rate)} {block.noise_kind} noise",
            fontsize="medium",
        )
        lower.set_xlabel("epoch")
        lower.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        lower.legend(
            *upper.get_legend_handles_labels(), fontsize="small", ncols=2,
            loc="upper center", bbox_to_anchor=(0.5, -0.3),
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
    figure.suptitle(
        f"Lines: mean over {seeds_text} seed(s); bands: ± one standard error. "
        "False-label accuracy: accuracy on the mislabelled training images, "
        "against their true labels.",
        fontsize="small",
    )
    figure.tight_layout()
    try:
        atomic_files.save_figure(figure, path, dpi=100)
    finally:
        plt.close(figure)


def curves_filename(block, noise_rate):
    """`curves_<dataset>_<model>_<noise_kind>_noise<percent>.png`."""
    return (
        f"curves_{block.dataset}_{block.model}_{block.noise_kind}_noise"
        f"{int(round(100 * noise_rate)):02d}.png"
    )


def combined_curves_filename(noise_kind, noise_rate):
    """`curves_<noise_kind>_noise<percent>.png`: every block's curves at one noise rate."""
    return f"curves_{noise_kind}_noise{int(round(100 * noise_rate)):02d}.png"


# ---------------------------------------------------------------------------
# Entry points.


def write_report(results_list, output_dir, *, plots=True):
    """Writes the report of `results_list` to `output_dir`; returns its Markdown.

    Writes `report.md`, the curves (`curves_*.png`, unless `plots=False`)
    and, when there are learning-rate blocks, `best_learning_rates.json`,
    each atomically.

    Args:
        results_list: `recipes.results.RunResult`s (e.g. what
            `recipes.sweep.run_sweep` or `recipes.results.load_all` returns).
        output_dir: Directory of the report's files (created if needed).
        plots: Whether to draw the curves.

    Returns:
        The Markdown text.
    """
    output_dir = os.fspath(output_dir)
    markdown = markdown_report(list(results_list))
    atomic_files.write_text(os.path.join(output_dir, REPORT_FILENAME), markdown)
    chosen = best_learning_rates(results_list)
    if chosen:
        atomic_files.write_text(
            os.path.join(output_dir, LEARNING_RATES_FILENAME),
            json.dumps(chosen, indent=2, sort_keys=True) + "\n",
        )
    if plots:
        panels = collections.defaultdict(list)
        for block in group_blocks(results_list):
            if block.kind != "noise_rate":
                continue
            for noise_rate in block.columns:
                path = os.path.join(output_dir, curves_filename(block, noise_rate))
                plot_curves([(block, noise_rate)], path)
                panels[(block.noise_kind, noise_rate)].append((block, noise_rate))
        for (noise_kind, noise_rate), columns in panels.items():
            if len(columns) > 1:
                path = os.path.join(output_dir, combined_curves_filename(noise_kind, noise_rate))
                plot_curves(columns, path)
    return markdown


def define_flags(flag_values=flags.FLAGS):
    """Defines this script's flags."""
    flags.DEFINE_string(
        "results_dir", "runs",
        "Directory searched recursively for results.json files.",
        flag_values=flag_values,
    )
    flags.DEFINE_string(
        "output_dir", None,
        "Directory for report.md and the curves (default: --results_dir).",
        flag_values=flag_values,
    )
    flags.DEFINE_boolean(
        "plots", True, "Whether to draw the learning curves (--noplots to skip).",
        flag_values=flag_values,
    )


def main(argv, flag_values=flags.FLAGS):
    del argv  # Checked by cli.flags_parser.
    if not os.path.isdir(flag_values.results_dir):
        cli.usage_error(
            "recipes.report", f"--results_dir={flag_values.results_dir}: not a directory"
        )
    markdown = write_report(
        results_lib.load_all(flag_values.results_dir),
        flag_values.output_dir or flag_values.results_dir,
        plots=flag_values.plots,
    )
    sys.stdout.write(markdown)


if __name__ == "__main__":
    define_flags()
    app.run(main, flags_parser=cli.flags_parser("recipes.report"))
