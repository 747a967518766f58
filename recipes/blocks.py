r"""Finished runs grouped into the report's blocks, rows and cells.

Runs (`recipes.results.RunResult`) are grouped into blocks by `(dataset,
model, noise_kind)`; in a block the rows are the losses with their output
bias eps, labelled in the loss grammar (`keras_robust.losses.LossSpec`,
e.g. `MAE*0.5`), in the paper's order. Runs that differ only in the seed
are averaged; runs that differ in another setting are not, and get a row
each, labelled with that setting (e.g. `CE (batch_size=64)`).

A block's columns are its learning rates (`kind == "learning_rate"`) for
the runs of a row that differ in their learning rate at one noise rate,
otherwise its noise rates (`kind == "noise_rate"`). A sweep of both stages
(a grid on clean labels, then the noisy runs at the chosen rate) gives
both blocks: the grid, and the noise table of the runs at the learning
rates of the noisy runs, the grid's clean runs at that rate included. Human noise (`noise_kind ==
"human"`, CIFAR-N) is a block of its own whose columns are the label sets
(`kind == "label_set"`); the paper has only synthetic noise, so such a
block has no paper table and is compared with none. A cell holds its runs
and the statistic of their final test accuracy in percent.
"""

import collections
import json

from keras_robust import data
from recipes import paper_results
from recipes import statistics

# Settings that may differ between the runs of one cell.
_PER_RUN_SETTINGS = {"seed", "data_dir"}
# Settings that place a run in a block, a row and a column.
BLOCK_SETTINGS = ("dataset", "model", "noise_kind")
ROW_SETTINGS = ("loss", "output_bias")
# The noise kind whose blocks have a column per label set.
HUMAN = "human"


class Cell(collections.namedtuple("Cell", "runs statistic")):
    """The runs of one table cell and `(mean, error, n)` of their final test accuracy (%)."""

    def values(self, metric="test_accuracy"):
        """The runs' final `metric` in percent (runs without it left out)."""
        return [
            100.0 * run.final[metric] for run in self.runs if run.final.get(metric) is not None
        ]


def cell_statistic(runs, metric="test_accuracy"):
    """`(mean, error, n)` of the runs' final `metric` in percent, or None."""
    values = Cell(runs, None).values(metric)
    if not values:
        return None
    mean, error = statistics.mean_and_standard_error(values)
    return mean, error, len(values)


def setting_text(value):
    """A setting's value as a row label or the report's header print it."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def loss_label(loss, output_bias=0.0):
    """The loss grammar's label of a loss with eps, e.g. `"MAE*0.5"`."""
    from keras_robust import losses

    return losses.LossSpec(loss, float(output_bias or 0.0)).label


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
        text = ", ".join(f"{name}={setting_text(run.settings.get(name))}" for name in differing)
        parts[text].append(run)
    return parts


class Block(collections.namedtuple("Block", "dataset model noise_kind kind columns rows")):
    """One table: `kind` is `"learning_rate"`, `"noise_rate"` or `"label_set"`.

    `rows` maps `(loss, output_bias, setting)` to `{column value: Cell}`.
    """

    @property
    def paper_table(self):
        """The paper table that has this block, or None (always for human noise)."""
        if self.noise_kind == HUMAN:
            return None
        return paper_results.table_for(self.dataset, self.model)

    @property
    def comparable_table(self):
        """The paper table this block is compared with (`paper_results.comparable_table`)."""
        if self.noise_kind == HUMAN:
            return None
        return paper_results.comparable_table(self.dataset, self.model)

    @property
    def reference_blocks(self):
        """The paper blocks this block is ranked against (`paper_results.reference_blocks`)."""
        if self.noise_kind == HUMAN:
            return ()
        return paper_results.reference_blocks(self.dataset, self.model)

    def measured_noise_rate(self, column):
        """Mean recorded `measured_noise_rate` of a column's runs, or None."""
        rates = [
            run.measured_noise_rate
            for cells in self.rows.values() if column in cells
            for run in cells[column].runs if run.measured_noise_rate is not None
        ]
        return sum(rates) / len(rates) if rates else None

    def label(self, row):
        """The row's label: the loss grammar's, and the setting that splits it."""
        loss, output_bias, setting = row
        label = loss_label(loss, output_bias)
        return f"{label} ({setting})" if setting else label

    def paper_row(self, row):
        """The paper's row of this block's own table, or None."""
        loss, output_bias, setting = row
        if setting or self.paper_table is None:
            return None
        return paper_results.find_row(self.paper_table, loss, output_bias)

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
    datasets = list(data.DATASETS)
    position = datasets.index(dataset) if dataset in datasets else len(datasets)
    return position, dataset, model, noise_kind


def _split_stages(by_row):
    """`(grid runs, table runs)` of a block's rows: `{row: runs}` each.

    A row's runs at a noise rate with several learning rates form a
    learning-rate grid; its runs at the learning rates of its other noise
    rates (a sweep's noisy stage, at the rate the grid chose) form the
    noise table, the grid's runs at those rates included.
    """
    grid, table = {}, {}
    for row, runs in by_row.items():
        rates = collections.defaultdict(set)
        for run in runs:
            rates[run.settings["noise_rate"]].add(run.settings["learning_rate"])
        grid_noise = {noise for noise, learning_rates in rates.items() if len(learning_rates) > 1}
        if not grid_noise:
            table[row] = runs
            continue
        grid[row] = [run for run in runs if run.settings["noise_rate"] in grid_noise]
        table_rates = set().union(
            *(learning_rates for noise, learning_rates in rates.items() if noise not in grid_noise)
        )
        chosen = [run for run in runs if run.settings["learning_rate"] in table_rates]
        if chosen:
            table[row] = chosen
    return grid, table


def _block(block_key, kind, by_row):
    column_setting = "noise_label_set" if kind == "label_set" else kind
    ignore = BLOCK_SETTINGS + ROW_SETTINGS + (column_setting,)
    rows = collections.defaultdict(dict)
    for (loss, output_bias), runs in by_row.items():
        columns = collections.defaultdict(list)
        for run in runs:
            value = run.settings[column_setting]
            columns[value if kind == "label_set" else float(value)].append(run)
        for column, column_runs in columns.items():
            for setting, cell_runs in _split(column_runs, ignore).items():
                cell_runs.sort(key=lambda run: run.settings.get("seed", 0))
                rows[(loss, output_bias, setting)][column] = Cell(
                    cell_runs, cell_statistic(cell_runs)
                )
    columns = sorted({column for cells in rows.values() for column in cells})
    ordered = {row: rows[row] for row in _row_order(block_key, rows)}
    return Block(*block_key, kind, columns, ordered)


def group_blocks(results_list):
    """The tables of a list of `RunResult`s (see the module docstring).

    Returns:
        A list of `Block`, sorted by dataset (in the order of
        `keras_robust.data.DATASETS`), model and noise kind; a
        learning-rate block comes before the noise block of the same runs.
    """
    by_block = collections.defaultdict(lambda: collections.defaultdict(list))
    for run in results_list:
        block_key = tuple(run.settings[name] for name in BLOCK_SETTINGS)
        row_key = (run.settings["loss"], float(run.settings["output_bias"] or 0.0))
        by_block[block_key][row_key].append(run)
    blocks = []
    for block_key, by_row in sorted(by_block.items(), key=_block_order):
        if block_key[2] == HUMAN:
            blocks.append(_block(block_key, "label_set", by_row))
            continue
        grid, table = _split_stages(by_row)
        if grid:
            blocks.append(_block(block_key, "learning_rate", grid))
        if table:
            blocks.append(_block(block_key, "noise_rate", table))
    return blocks
