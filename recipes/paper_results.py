"""The paper's experiments as published: table layouts and numbers.

The one place that maps the paper's tables to datasets, models and loss
rows; the sweeps of `recipes/configs/table2.py`, `table3.py` and
`lr_grid.py` and the report (`recipes.tables`, `recipes.agreement`) read it.

Sources (Staats, Thamm & Rosenow 2023, `paper.md`):

- Table 2: final test accuracy (percent, mean +- error of the mean over five
  seeds) of ResNet-32 and MLP1024 on CIFAR-10 and Fashion-MNIST.
- Table 3: the same for ResNet-34 on CIFAR-100.
- Supplement Table 1: MLP1024 test accuracy on clean data for nine initial
  learning rates.

Keys use the identifiers of the rest of the package: dataset names of
`keras_robust.data` (`"cifar10"`, `"fashion_mnist"`, `"cifar100"`), model
names of the zoo (`"resnet32"`, `"mlp1024"`, `"resnet34"`), the row keys of
`TABLE2_ROWS` and `TABLE3_ROWS` and noise rates as fractions. A row is a
loss with an output bias eps (`LossRow`); its label is the loss grammar's
(`keras_robust.losses.LossSpec.label`):

    CE -> "ce", MAE -> "mae", MAE* (eps 0.5, label "MAE*0.5") -> "mae*",
    boundCE -> "boundce", genCE -> "gce", symCE -> "sce",
    actPas1 -> "actpas1", actPas2 -> "actpas2", biTemp -> "bitemp",
    "MAE*1.5" -> "mae*1.5", "MAE*3.0" -> "mae*3.0",
    "boundCE*1.5" -> "boundce*1.5", "boundCE*2.5" -> "boundce*2.5".

Nothing here imports TensorFlow or Keras at module level.

The loss hyperparameters of each row are paper Table 1's for the number of
classes (`keras_robust.presets`), so a row sets only the loss and eps.

Values are `(mean, error)` in percent, exactly as printed (the paper prints
two decimals), read from `paper_results.csv` beside this module. Two
printed values disagree between tables and are kept as printed:
Fashion-MNIST MLP1024 MAE at lr 0.0008 reads `84.83 +- 2.59` in Table 2 but
`84.83 +- 2.32` in supplement Table 1.

Example:

>>> from recipes import paper_results
>>> paper_results.paper_value("cifar10", "resnet32", "gce", 0.4)
(86.81, 0.12)
"""

import csv
import dataclasses
import importlib.resources
import io

from recipes import statistics

#: Noise rates (columns) of Tables 2 and 3.
NOISE_RATES = (0.0, 0.1, 0.2, 0.4, 0.6)

#: Seeds per cell of Tables 2 and 3 and supplement Table 1 (paper Sec. 4).
SEEDS = (0, 1, 2, 3, 4)

#: Initial learning rates (columns) of supplement Table 1.
LEARNING_RATES = (0.0005, 0.0008, 0.001, 0.003, 0.005, 0.008, 0.01, 0.03, 0.05)

@dataclasses.dataclass(frozen=True)
class LossRow:
    """One row of the paper's Tables 2 and 3: a loss with its output bias.

    Attributes:
        key: Identifier of the row, e.g. `"mae*1.5"`.
        loss: The loss's name for `keras_robust.losses.get`.
        output_bias: eps of the row (0 for plain losses).
    """

    key: str
    loss: str
    output_bias: float = 0.0

    @property
    def label(self):
        """The row's label in the loss grammar, e.g. `"MAE*1.5"` (`LossSpec.label`)."""
        from keras_robust import losses

        return losses.LossSpec(self.loss, self.output_bias).label

    @property
    def overrides(self):
        """The run settings of the row, as a sweep point's overrides."""
        return {"loss": self.loss, "output_bias": self.output_bias}


@dataclasses.dataclass(frozen=True)
class Table:
    """A table of the paper: its (dataset, model) blocks and loss rows."""

    name: str
    datasets: tuple
    models: tuple
    rows: tuple


TABLE2_ROWS = (
    LossRow("ce", "ce"),
    LossRow("mae", "mae"),
    LossRow("mae*", "mae", 0.5),
    LossRow("boundce", "boundce"),
    LossRow("gce", "gce"),
    LossRow("sce", "sce"),
    LossRow("actpas1", "actpas1"),
    LossRow("actpas2", "actpas2"),
    LossRow("bitemp", "bitemp"),
)
TABLE3_ROWS = (
    LossRow("ce", "ce"),
    LossRow("mae*1.5", "mae", 1.5),
    LossRow("mae*3.0", "mae", 3.0),
    LossRow("boundce*1.5", "boundce", 1.5),
    LossRow("boundce*2.5", "boundce", 2.5),
    LossRow("gce", "gce"),
    LossRow("sce", "sce"),
    LossRow("actpas1", "actpas1"),
    LossRow("actpas2", "actpas2"),
    LossRow("bitemp", "bitemp"),
)

#: The paper's tables: which datasets, models and loss rows each compares.
TABLES = {
    "table2": Table(
        "table2", ("cifar10", "fashion_mnist"), ("resnet32", "mlp1024"), TABLE2_ROWS
    ),
    "table3": Table("table3", ("cifar100",), ("resnet34",), TABLE3_ROWS),
}

#: The last rows of Table 2 ("Top-mean-acc"): the losses that performed best
#: on average over both networks and both ten-class datasets, per noise rate,
#: as row keys in the printed order (the second row is garbled in paper.md
#: and read with the text of Sec. 5). The paper states no rule beyond "best
#: on average"; the mean over the four blocks ranks the same two losses first
#: at 0, 20 and 40 % (in the other order at 20 and 40 %), puts MAE* second at
#: 10 % where the paper names genCE alone, and MAE* first at 60 %, where the
#: paper names boundCE and actPas1.
TABLE2_TOP_MEAN_ACCURACY = {
    0.0: ("bitemp", "ce"),
    0.1: ("gce",),
    0.2: ("gce", "mae*"),
    0.4: ("boundce", "mae*"),
    0.6: ("boundce", "actpas1"),
}


def _read_numbers():
    """`{source: {(dataset, model, row_key, column): (mean, error)}}` of DATA_FILE.

    Also checks that every table is complete: each of its (dataset, model)
    blocks has a value for every row and column.
    """
    text = importlib.resources.files("recipes").joinpath(DATA_FILE).read_text(encoding="utf-8")
    numbers = {"table2": {}, "table3": {}, "supplement_table1": {}}
    for line in csv.DictReader(io.StringIO(text)):
        key = (line["dataset"], line["model"], line["row"], float(line["column"]))
        numbers[line["source"]][key] = (float(line["mean"]), float(line["error"]))
    layouts = {
        "table2": (TABLE2_ROWS, NOISE_RATES),
        "table3": (TABLE3_ROWS, NOISE_RATES),
        "supplement_table1": (TABLE2_ROWS, LEARNING_RATES),
    }
    for source, (rows, columns) in layouts.items():
        blocks = dict.fromkeys((dataset, model) for dataset, model, _, _ in numbers[source])
        expected = {
            (dataset, model, row.key, column)
            for dataset, model in blocks
            for row in rows
            for column in columns
        }
        if set(numbers[source]) != expected:
            raise AssertionError(f"{DATA_FILE}: {source} is incomplete or has extra cells.")
    return numbers


#: The file of the transcribed numbers, beside this module: one line per
#: cell, `source,dataset,model,row,column,mean,error` (column: the noise
#: rate, or the learning rate for supplement Table 1).
DATA_FILE = "paper_results.csv"
_NUMBERS = _read_numbers()

#: Paper Table 2: `{(dataset, model, row_key, noise_rate): (mean, error)}`.
TABLE2 = _NUMBERS["table2"]

#: Paper Table 3: `{(dataset, model, row_key, noise_rate): (mean, error)}`.
TABLE3 = _NUMBERS["table3"]

#: Supplement Table 1: `{(dataset, row_key, learning_rate): (mean, error)}`
#: for MLP1024 on clean data.
MLP_LEARNING_RATE_TABLE = {
    (dataset, key, rate): value
    for (dataset, _, key, rate), value in _NUMBERS["supplement_table1"].items()
}

_VALUES = {"table2": TABLE2, "table3": TABLE3}

#: The (dataset, model) blocks of each table, in the paper's order.
TABLE_BLOCKS = {
    name: tuple(dict.fromkeys((dataset, model) for dataset, model, _, _ in values))
    for name, values in _VALUES.items()
}


def _rate_key(value, allowed, name):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"Argument `{name}` must be a number. Received: {name}={value!r}"
        ) from None
    for candidate in allowed:
        if abs(candidate - value) < 1e-9:
            return candidate
    return None


def table(name):
    """The `Table` `"table2"` or `"table3"`."""
    if name not in TABLES:
        raise ValueError(f"Unknown table {name!r}. Allowed: {', '.join(TABLES)}.")
    return TABLES[name]


def table_for(dataset, model):
    """The name of the paper table holding `(dataset, model)`, or None."""
    for name, blocks in TABLE_BLOCKS.items():
        if (dataset, model) in blocks:
            return name
    return None


def comparable_table(dataset, model):
    """The paper table a block of runs is compared with, or None.

    The table holding `(dataset, model)`; for a dataset the paper did not
    use (e.g. the offline `"digits"` and `"digit_pairs"`), the table whose
    datasets have its number of classes: Table 2 for 10 classes, Table 3
    for 100.
    """
    name = table_for(dataset, model)
    if name is not None:
        return name
    from keras_robust import data

    if dataset not in data.DATASETS:
        return None
    num_classes = data.get_spec(dataset).num_classes
    for name, candidate in TABLES.items():
        if all(data.get_spec(d).num_classes == num_classes for d in candidate.datasets):
            return name
    return None


def reference_blocks(dataset, model):
    """The paper blocks a block of runs is ranked against, like for like.

    The block itself where the paper has `(dataset, model)`; otherwise the
    blocks of the comparable table (`comparable_table`) with the same model
    when it has any (digits with MLP1024 against Table 2's Fashion-MNIST and
    CIFAR-10 MLP1024 blocks), else all its blocks (digit pairs against Table
    3's CIFAR-100 ResNet-34).

    Returns:
        A tuple of `(dataset, model)` blocks in the paper's order; empty when
        there is no comparable table.
    """
    name = comparable_table(dataset, model)
    if name is None:
        return ()
    blocks = TABLE_BLOCKS[name]
    if (dataset, model) in blocks:
        return ((dataset, model),)
    same_model = tuple(block for block in blocks if block[1] == model)
    return same_model or blocks


def reference_values(table_name, blocks, noise_rate):
    """The paper's mean accuracy of each row of a table over some of its blocks.

    Args:
        table_name: `"table2"` or `"table3"`.
        blocks: `(dataset, model)` blocks of that table (e.g. from
            `reference_blocks`).
        noise_rate: A noise rate as a fraction.

    Returns:
        `{row_key: (mean, error)}` in percent, the mean of the blocks' means
        and its error `sqrt(sum error^2) / len(blocks)` (one block: its own
        printed values); empty when the paper has no column `noise_rate`.
    """
    rate = _rate_key(noise_rate, NOISE_RATES, "noise_rate")
    if rate is None or not blocks:
        return {}
    values = _VALUES[table(table_name).name]
    unknown = [block for block in blocks if block not in TABLE_BLOCKS[table_name]]
    if unknown:
        raise ValueError(
            f"Argument `blocks` holds blocks that {table_name} does not have: {unknown}. "
            f"Allowed: {list(TABLE_BLOCKS[table_name])}."
        )
    result = {}
    for row in TABLES[table_name].rows:
        cells = [values[(d, m, row.key, rate)] for d, m in blocks]
        mean = sum(cell[0] for cell in cells) / len(cells)
        error = (sum(cell[1] ** 2 for cell in cells)) ** 0.5 / len(cells)
        result[row.key] = (mean, error)
    return result


def top_mean_accuracy(table_name, blocks, noise_rate):
    """The paper's "Top-mean-acc" over `blocks` at `noise_rate`, as row keys.

    Table 2's printed last row (`TABLE2_TOP_MEAN_ACCURACY`) when `blocks`
    are all four of its blocks; otherwise none is printed, and the row keys
    are those of `reference_values` within error bars of the best mean
    (`recipes.statistics.best_within_error_bars`), in descending order of
    the mean (equal means in the table's order). Empty when the paper has no column `noise_rate`.
    """
    rate = _rate_key(noise_rate, NOISE_RATES, "noise_rate")
    if rate is None:
        return ()
    if table_name == "table2" and set(blocks) == set(TABLE_BLOCKS["table2"]):
        return TABLE2_TOP_MEAN_ACCURACY[rate]
    values = reference_values(table_name, blocks, rate)
    best = statistics.best_within_error_bars(values)
    order = list(values)
    return tuple(sorted(best, key=lambda key: (-values[key][0], order.index(key))))


def find_row(table_name, loss, output_bias=0.0):
    """The `LossRow` of a table with this loss and eps, or None."""
    for row in table(table_name).rows:
        if row.loss == loss and abs(row.output_bias - float(output_bias or 0.0)) < 1e-9:
            return row
    return None


def paper_value(dataset, model, row_key, noise_rate):
    """The paper's `(mean, error)` in percent for one cell, or None.

    Args:
        dataset: `"cifar10"`, `"fashion_mnist"` or `"cifar100"`.
        model: `"resnet32"`, `"mlp1024"` or `"resnet34"`.
        row_key: A key of `TABLE2_ROWS` or `TABLE3_ROWS`, e.g. `"mae*"` or
            `"boundce*2.5"`.
        noise_rate: Symmetric noise rate as a fraction, e.g. `0.4`.

    Returns:
        The printed `(mean, error)`, or None when the paper has no such cell
        (e.g. the `"digits"` dataset or a noise rate it did not run).
    """
    rate = _rate_key(noise_rate, NOISE_RATES, "noise_rate")
    if rate is None:
        return None
    key = (dataset, model, row_key, rate)
    return TABLE2.get(key) or TABLE3.get(key)


def paper_learning_rate_value(dataset, row_key, learning_rate):
    """Supplement Table 1's `(mean, error)` for an MLP1024 rate, or None."""
    rate = _rate_key(learning_rate, LEARNING_RATES, "learning_rate")
    if rate is None:
        return None
    return MLP_LEARNING_RATE_TABLE.get((dataset, row_key, rate))


def paper_best_learning_rate(dataset, row_key):
    """The rate printed in bold in supplement Table 1 (used for Table 2), or None.

    The bold face is lost in paper.md; the bold rate is the one whose
    clean-data accuracy is Table 2's MLP1024 entry at 0 % noise, which
    is unique in every row.
    """
    clean = TABLE2.get((dataset, "mlp1024", row_key, 0.0))
    if clean is None:
        return None
    rates = [
        rate
        for rate in LEARNING_RATES
        if MLP_LEARNING_RATE_TABLE[(dataset, row_key, rate)][0] == clean[0]
    ]
    return rates[0] if len(rates) == 1 else None


def format_value(value, decimals=2):
    """`"55.70 ± 0.13"` for a `(mean, error)` pair."""
    mean, error = value
    return f"{mean:.{decimals}f} ± {error:.{decimals}f}"
