r"""The report's Markdown tables: noise tables and learning-rate tables.

Cells are final test accuracies in percent, `mean ± s.e.` over seeds
(`recipes.statistics`; one seed: the value alone), `n=` when fewer seeds
than the paper's five finished, the paper's value in parentheses where the
paper has that cell (two decimals, as the paper prints; one decimal in
blocks the paper does not have).

- Noise table (paper Tables 2 and 3): rows = losses, columns = noise
  rates. As in the paper, every loss within error bars of the best mean of
  a column is bold (`statistics.best_within_error_bars`: its bar `mean ±
  s.e.` overlaps the best's; a single seed has no bar, so only the best is
  bold). With a single noise rate the false-label accuracy and the seeds
  get columns of their own. A table may end with the row `Top-mean-acc`,
  as Table 2 does: per column the loss with the best mean over a group of
  blocks (`top_mean_losses`), with the paper's in parentheses.
- Learning-rate table (supplement Table 1): rows = losses, columns =
  learning rates, the chosen rate's cell in bold
  (`recipes.learning_rate_choice`), the chosen rate, the next rates to try
  where it sits on the edge of the grid, and the rate the paper chose for
  the same loss on each comparable MLP1024 block.
"""

from recipes import learning_rate_choice
from recipes import paper_results
from recipes import statistics

#: Seeds the paper averages over; fewer are marked with `n=`.
PAPER_NUM_SEEDS = len(paper_results.SEEDS)
#: Label of the last row of a noise table (paper Table 2's).
TOP_MEAN_LABEL = "Top-mean-acc"
# The paper's noise: labels redrawn uniformly from all classes.
_PAPER_NOISE_KINDS = {"symmetric"}


def markdown_table(header, rows):
    """A Markdown table: `header` is a list of column titles, `rows` lists of cells."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def cell_text(statistic, decimals, bold=False, paper_value=None, mark_seeds=True):
    """A cell: `mean ± s.e.`, bold or not, `n=` and the paper's value."""
    mean, error, n = statistic
    text = statistics.format_statistic(mean, error, decimals)
    if bold:
        text = f"**{text}**"
    if mark_seeds and n < PAPER_NUM_SEEDS:
        text += f" n={n}"
    if paper_value is not None:
        text += f" (paper {paper_results.format_value(paper_value, decimals)})"
    return text


def _row_line(block, row, text):
    """`[label] + [text(column, cell) or "–" without a statistic, per column]`."""
    line = [block.label(row)]
    for column in block.columns:
        cell = block.rows[row].get(column)
        line.append("–" if cell is None or cell.statistic is None else text(column, cell))
    return line


def bold_rows(block, column):
    """The rows of `block` whose cell in `column` is bold (within error bars of the best)."""
    return statistics.best_within_error_bars({
        row: cells[column].statistic[:2]
        for row, cells in block.rows.items()
        if column in cells and cells[column].statistic
    })


def _paper_noise_value(block, row, noise_rate):
    paper_row = block.paper_row(row)
    if paper_row is None or (block.noise_kind not in _PAPER_NOISE_KINDS and noise_rate):
        return None
    return paper_results.paper_value(block.dataset, block.model, paper_row.key, noise_rate)


def top_mean_losses(blocks, noise_rate):
    """The losses best on average over `blocks` at `noise_rate`, best first.

    The rows (loss and eps) that every block has at `noise_rate` are ranked
    by the mean of their block means; the error of that mean is
    `sqrt(sum s.e.^2) / len(blocks)`, and every row within error bars of the
    best (`statistics.best_within_error_bars`) is named.

    Returns:
        A list of row labels, descending mean (equal means in the first
        block's order); empty when no row is in every block.
    """
    shared = None
    for block in blocks:
        rows = {
            row[:2] for row, cells in block.rows.items()
            if not row[2] and noise_rate in cells and cells[noise_rate].statistic
        }
        shared = rows if shared is None else shared & rows
    averages = {}
    for loss, output_bias in shared or ():
        cells = [block.rows[(loss, output_bias, "")][noise_rate].statistic for block in blocks]
        mean = sum(cell[0] for cell in cells) / len(cells)
        error = sum((cell[1] or 0.0) ** 2 for cell in cells) ** 0.5 / len(cells)
        averages[(loss, output_bias)] = (mean, error)
    best = statistics.best_within_error_bars(averages)
    order = [row[:2] for row in blocks[0].rows]
    return [
        blocks[0].label((loss, output_bias, ""))
        for loss, output_bias in sorted(
            best, key=lambda row: (-averages[row][0], order.index(row))
        )
    ]


def paper_top_mean_losses(blocks, noise_rate):
    """The paper's Top-mean-acc over the paper blocks `blocks` are ranked against.

    Returns:
        A list of row labels (`paper_results.top_mean_accuracy` over the
        union of the blocks' `reference_blocks`), or None when the blocks
        are not compared with one paper table at that noise rate.
    """
    tables = {block.comparable_table for block in blocks}
    if len(tables) != 1 or None in tables or any(
        block.noise_kind not in _PAPER_NOISE_KINDS for block in blocks
    ):
        return None
    (name,) = tables
    references = tuple(dict.fromkeys(ref for block in blocks for ref in block.reference_blocks))
    keys = paper_results.top_mean_accuracy(name, references, noise_rate)
    labels = {row.key: row.label for row in paper_results.table(name).rows}
    return [labels[key] for key in keys] or None


def _top_mean_row(block, top_mean_blocks, single):
    label = TOP_MEAN_LABEL
    if len(top_mean_blocks) > 1:
        label += f" ({len(top_mean_blocks)} blocks)"
    line = [label]
    for column in block.columns:
        names = ", ".join(top_mean_losses(top_mean_blocks, column)) or "–"
        paper = paper_top_mean_losses(top_mean_blocks, column)
        line.append(f"{names} (paper {', '.join(paper)})" if paper else names)
    return line + (["–", "–"] if single else [])


def noise_table(block, top_mean_blocks=()):
    """The Markdown of a noise block: rows = losses, columns = noise rates.

    Args:
        block: A `recipes.blocks.Block` of kind `"noise_rate"`.
        top_mean_blocks: Blocks (this one among them) whose Top-mean-acc
            row ends the table; none: no such row.
    """
    decimals = 2 if block.paper_table else 1
    bold = {column: bold_rows(block, column) for column in block.columns}
    single = len(block.columns) == 1
    if single:
        header = ["Loss", "test accuracy (%)", "false label accuracy (%)", "seeds"]
    else:
        header = ["Loss"] + [
            f"Noise {statistics.format_percent(rate)}" for rate in block.columns
        ]
    rows = []
    for row, cells in block.rows.items():
        line = _row_line(block, row, lambda column, cell, row=row: cell_text(
            cell.statistic,
            decimals,
            bold=row in bold[column],
            paper_value=_paper_noise_value(block, row, column),
            mark_seeds=not single,  # a single column's table has a seeds column
        ))
        if single:
            cell = cells.get(block.columns[0])
            false_label = statistics_or_none(cell, "false_label_accuracy")
            line.append(
                statistics.format_statistic(*false_label, decimals) if false_label else "–"
            )
            line.append(len(cell.runs) if cell else 0)
        rows.append(line)
    if top_mean_blocks:
        rows.append(_top_mean_row(block, top_mean_blocks, single))
    return markdown_table(header, rows)


def statistics_or_none(cell, metric):
    """`(mean, error)` of a cell's final `metric` in percent, or None."""
    values = cell.values(metric) if cell else []
    return statistics.mean_and_standard_error(values) if values else None


def _paper_rate_blocks(block):
    """The MLP1024 datasets of supplement Table 1 this block's rates are set beside."""
    if block.model != "mlp1024":
        return ()
    supplement = {dataset for dataset, _, _ in paper_results.MLP_LEARNING_RATE_TABLE}
    return tuple(
        dataset for dataset, model in block.reference_blocks
        if model == "mlp1024" and dataset in supplement
    )


def _noisy(runs):
    return any(run.settings.get("noise_rate") for run in runs)


def learning_rate_table(block):
    """The Markdown of a learning-rate block: rows = losses, columns = rates.

    The last columns: the chosen rate (with the next rates to try where it
    sits on the edge of the grid) and the paper's rate for the same loss on
    each comparable MLP1024 block (supplement Table 1).
    """
    decimals = 2 if block.paper_table else 1
    chosen = learning_rate_choice.choose_learning_rates(block)
    paper_datasets = _paper_rate_blocks(block)
    own = block.paper_table is not None
    header = ["Loss"] + [f"lr {rate:g}" for rate in block.columns] + ["chosen"]
    header += ["paper" if own else f"paper ({dataset})" for dataset in paper_datasets]
    rows = []
    for row in block.rows:
        comparable = block.comparable_row(row)

        def text(rate, cell, row=row, comparable=comparable):
            paper_value = None
            if own and comparable is not None and block.model == "mlp1024" and not _noisy(
                cell.runs
            ):
                paper_value = paper_results.paper_learning_rate_value(
                    block.dataset, comparable.key, rate
                )
            return cell_text(cell.statistic, decimals, rate == chosen.get(row), paper_value)

        line = _row_line(block, row, text)
        line.append(_chosen_text(block, row, chosen.get(row)))
        for dataset in paper_datasets:
            paper_rate = None
            if comparable is not None:
                paper_rate = paper_results.paper_best_learning_rate(dataset, comparable.key)
            line.append("–" if paper_rate is None else f"{paper_rate:g}")
        rows.append(line)
    return markdown_table(header, rows)


def _chosen_text(block, row, rate):
    if rate is None:
        return "–"
    following = learning_rate_choice.rates_to_try(learning_rate_choice.row_means(block, row))
    if not following:
        return f"{rate:g}"
    return f"{rate:g} (edge: try {', '.join(f'{value:g}' for value in following)})"


def rows_on_edge(block):
    """The rows of a learning-rate block whose grid must be extended (`rates_to_try`)."""
    return [
        row for row in learning_rate_choice.choose_learning_rates(block)
        if learning_rate_choice.rates_to_try(learning_rate_choice.row_means(block, row))
    ]
