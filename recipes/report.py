r"""The report of finished runs: tables, curves and the paper's numbers.

`recipes.main` calls `write_report` after a sweep; as a script it reports
any directory of runs:

    python -m recipes.report --results_dir=runs/table2
    python -m recipes.report --results_dir=runs/quickstart --noplots

The runs are grouped into blocks (`recipes.blocks`), each written as a
table (`recipes.tables`):

- the learning-rate table (supplement Table 1), when a row's runs differ in
  their learning rate: the rate with the best mean test accuracy is chosen
  (`recipes.learning_rate_choice`), flagged where it sits on the edge of
  the grid with the next rates to try, and set beside the paper's; the
  chosen rates also go to `best_learning_rates.json`,
  `{dataset: {model: {row label: rate}}}`;
- the noise table (paper Tables 2 and 3), otherwise: bold within error
  bars of the best, and a last row `Top-mean-acc` under the last block of
  each group of blocks compared with the same paper table.

Noise blocks the paper can be compared with are followed by the paper's
values (for a block the paper does not have) and the agreement of the
rankings, Kendall's tau-b with a bootstrap interval (`recipes.agreement`).
The curves (`recipes.curves`) are one PNG per noise block and noise rate.
"""

import collections
import json
import os
import sys

import recipes

# A command line (`python -m recipes.report`): before Keras imports TensorFlow.
recipes.start_command_line()

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from recipes import agreement as agreement_lib  # noqa: E402
from recipes import atomic_files  # noqa: E402
from recipes import blocks as blocks_lib  # noqa: E402
from recipes import cli  # noqa: E402
from recipes import curves  # noqa: E402
from recipes import human_tables  # noqa: E402
from recipes import learning_rate_choice  # noqa: E402
from recipes import paper_results  # noqa: E402
from recipes import results as results_lib  # noqa: E402
from recipes import statistics  # noqa: E402
from recipes import tables  # noqa: E402

REPORT_FILENAME = "report.md"
LEARNING_RATES_FILENAME = "best_learning_rates.json"


def _shared_settings(results_list):
    shown = ("epochs", "batch_size", "learning_rate", "train_size")
    shared = []
    for name in shown:
        values = {json.dumps(run.settings.get(name)) for run in results_list}
        if len(values) == 1 and results_list[0].settings.get(name) is not None:
            shared.append(f"{name}={blocks_lib.setting_text(results_list[0].settings.get(name))}")
    return ", ".join(shared)


def _legend(results_list, blocks):
    legend = [f"{len(results_list)} runs. Mean ± standard error over seeds (ddof=1)"]
    if any(len(block.columns) > 1 or block.kind == "learning_rate" for block in blocks):
        legend.append(f"`n=` marks fewer than {tables.PAPER_NUM_SEEDS} seeds")
    if any(block.paper_table for block in blocks):
        legend.append("the paper's value is in parentheses")
    lines = ["; ".join(legend) + "."]
    if any(block.kind == "noise_rate" for block in blocks):
        lines.append(
            "Bold: every loss within error bars of the best mean of its column "
            "(its mean + s.e. >= the best's mean - s.e.; a single seed has no error "
            f"bar). {tables.TOP_MEAN_LABEL}: per noise rate, the losses with the best "
            "mean over the blocks of the group (the error of that mean: sqrt(sum s.e.^2) "
            "/ blocks), every one within error bars of the best, the paper's in "
            "parentheses, as the last row of paper Table 2."
        )
    if any(block.kind == "learning_rate" for block in blocks):
        lines.append(
            "Learning rates: the rate with the best mean final accuracy on the test "
            "split, as the paper chooses it (supplement Table 1 prints test "
            "accuracies); ties go to the smaller rate. A rate on the edge of the grid, "
            "better than every other, is flagged with the next rates to try, the grid "
            "continued as the paper's (the same mantissas in every decade)."
        )
    if any(block.kind == "noise_rate" and block.comparable_table for block in blocks):
        lines.append(
            "Rankings: Kendall's tau-b (scipy.stats.kendalltau) of our mean accuracies "
            "against the paper's over the losses both have, per paper block of the "
            "same network and class count and their mean; the interval is a "
            f"{100 * statistics.BOOTSTRAP_CONFIDENCE:g} % percentile bootstrap over "
            f"seeds ({statistics.BOOTSTRAP_RESAMPLES} resamples, each loss's seeds "
            f"drawn with replacement, seed {statistics.BOOTSTRAP_SEED})."
        )
    return lines


def _groups(blocks):
    """`{id(last block): group}` of the noise blocks by (noise kind, comparable table).

    A group's Top-mean-acc row ends its last block's table.
    """
    groups = collections.defaultdict(list)
    for block in blocks:
        if block.kind == "noise_rate":
            groups[(block.noise_kind, block.comparable_table)].append(block)
    return {id(group[-1]): group for group in groups.values()}


def _learning_rate_section(block):
    source = "paper supplement Table 1" if block.paper_table else "not in the paper"
    noise = ", ".join(
        statistics.format_percent(rate)
        for rate in sorted({
            run.settings["noise_rate"]
            for cells in block.rows.values()
            for cell in cells.values()
            for run in cell.runs
        })
    )
    heading = f"{noise} {block.noise_kind} noise: initial learning rate ({source})"
    lines = [heading, "", tables.learning_rate_table(block), ""]
    grid = paper_results.LEARNING_RATES
    beyond = [
        f"{block.label(row)} {', '.join(f'{rate:g}' for rate in rates)}"
        for row, cells in block.rows.items()
        for rates in [[rate for rate in sorted(cells) if not grid[0] <= rate <= grid[-1]]]
        if rates
    ]
    if beyond:
        lines += [
            f"Rates beyond supplement Table 1's grid ({grid[0]:g} to {grid[-1]:g}; a "
            f"staged sweep adds them where the best rate sat on its edge): {'; '.join(beyond)}.",
            "",
        ]
    edge = tables.rows_on_edge(block)
    if edge:
        lines += [
            "On the edge of the grid (the grid must be extended at the same spacing "
            f"until the best rate lies inside): {', '.join(block.label(row) for row in edge)}.",
            "",
        ]
    return lines


def _comparison(block):
    """The paper's values (for a block it does not have) and the rank agreement."""
    table = agreement_lib.agreement_table(agreement_lib.rank_agreement(block))
    if table is None:
        return []
    lines = []
    for title, reference in agreement_lib.reference_tables(block):
        lines += [f"{title}:", "", reference, ""]
    name = block.comparable_table.replace("table", "Table ")
    lines += [
        f"Ranking of the losses against paper {name} (Kendall's tau-b over the rows "
        "both have; +1: same order):",
        "",
        table,
        "",
    ]
    return lines


def markdown_report(results_list):
    """The Markdown text of the report of `results_list` (see the module docstring)."""
    lines = ["# Final test accuracy (%)", ""]
    if not results_list:
        return "\n".join(lines + ["No finished runs.", ""])
    blocks = blocks_lib.group_blocks(results_list)
    for line in _legend(results_list, blocks):
        lines += [line, ""]
    shared = _shared_settings(results_list)
    if shared:
        lines += [f"Settings of every run: {shared}.", ""]
    groups = _groups(blocks)
    for block in blocks:
        title = f"## {block.dataset}, {block.model}, "
        if block.kind == "learning_rate":
            section = _learning_rate_section(block)
            lines += [title + section[0]] + section[1:]
            continue
        if block.kind == "label_set":
            heading = "human noise (CIFAR-N label sets; not in the paper)"
            lines += [title + heading, "", human_tables.label_set_table(block), "",
                      "Cells: test accuracy / false-label accuracy (%).", ""]
            continue
        source = "not in the paper"
        if block.paper_table:
            source = "paper " + block.paper_table.replace("table", "Table ")
        heading = f"{block.noise_kind} noise ({source})"
        if len(block.columns) == 1:
            heading += f", noise rate {statistics.format_percent(block.columns[0])}"
        table = tables.noise_table(block, groups.get(id(block), ()))
        lines += [title + heading, "", table, ""]
        if block.comparable_table:
            lines += _comparison(block)
    return "\n".join(lines)


def best_learning_rates(results_list):
    """`{dataset: {model: {row label: rate}}}` of the learning-rate blocks."""
    chosen = {}
    for block in blocks_lib.group_blocks(results_list):
        if block.kind != "learning_rate":
            continue
        for row, rate in learning_rate_choice.choose_learning_rates(block).items():
            chosen.setdefault(block.dataset, {}).setdefault(block.model, {})[
                block.label(row)
            ] = rate
    return chosen


def write_report(results_list, output_dir, *, plots=True):
    """Writes the report of `results_list` to `output_dir`; returns its Markdown.

    Writes `report.md`, the curves (`curves_*.png`, unless `plots=False`)
    and, when there are learning-rate blocks, `best_learning_rates.json`,
    each atomically.

    Args:
        results_list: `recipes.results.RunResult`s (e.g. what
            `recipes.results.load_all` returns).
        output_dir: Directory of the report's files (created if needed).
        plots: Whether to draw the curves.

    Returns:
        The Markdown text.
    """
    output_dir = os.fspath(output_dir)
    results_list = list(results_list)
    markdown = markdown_report(results_list)
    atomic_files.write_text(os.path.join(output_dir, REPORT_FILENAME), markdown)
    chosen = best_learning_rates(results_list)
    if chosen:
        atomic_files.write_text(
            os.path.join(output_dir, LEARNING_RATES_FILENAME),
            json.dumps(chosen, indent=2, sort_keys=True) + "\n",
        )
    if plots:
        panels = collections.defaultdict(list)
        for block in blocks_lib.group_blocks(results_list):
            if block.kind != "noise_rate":
                continue
            for noise_rate in block.columns:
                path = os.path.join(output_dir, curves.curves_filename(block, noise_rate))
                curves.plot_curves([(block, noise_rate)], path)
                panels[(block.noise_kind, noise_rate)].append((block, noise_rate))
        for (noise_kind, noise_rate), columns in panels.items():
            if len(columns) > 1:
                name = curves.combined_curves_filename(noise_kind, noise_rate)
                curves.plot_curves(columns, os.path.join(output_dir, name))
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
