"""The paper's experiments as published: table layouts and numbers.

The one place that maps the paper's tables to datasets, models and loss
rows; the sweeps of `recipes/configs/table2.py`, `table3.py` and
`lr_grid.py` and the comparison of `recipes.report` read it.

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
loss with an output bias eps (`LossRow`):

    CE -> "ce", MAE -> "mae", "MAE eps=0.5" (MAE*) -> "mae*",
    boundCE -> "boundce", genCE -> "gce", symCE -> "sce",
    actPas1 -> "actpas1", actPas2 -> "actpas2", biTemp -> "bitemp",
    "MAE* eps=1.5" -> "mae*1.5", "MAE* eps=3.0" -> "mae*3.0",
    "boundCE* eps=1.5" -> "boundce*1.5", "boundCE* eps=2.5" -> "boundce*2.5".

The loss hyperparameters of each row are paper Table 1's for the number of
classes (`keras_robust.presets`), so a row sets only the loss and eps.

Values are `(mean, error)` in percent, exactly as printed (the paper prints
two decimals). Two printed values disagree between tables and are kept as
printed: Fashion-MNIST MLP1024 MAE at lr 0.0008 reads `84.83 +- 2.59` in
Table 2 but `84.83 +- 2.32` in supplement Table 1.

Example:

>>> from recipes import paper_results
>>> paper_results.paper_value("cifar10", "resnet32", "gce", 0.4)
(86.81, 0.12)
"""

import dataclasses

#: Noise rates (columns) of Tables 2 and 3.
NOISE_RATES = (0.0, 0.1, 0.2, 0.4, 0.6)

#: Seeds per cell of Tables 2 and 3 and supplement Table 1 (paper Sec. 4).
SEEDS = (0, 1, 2, 3, 4)

#: Initial learning rates (columns) of supplement Table 1.
LEARNING_RATES = (0.0005, 0.0008, 0.001, 0.003, 0.005, 0.008, 0.01, 0.03, 0.05)

#: The paper's names of the losses.
LOSS_LABELS = {
    "ce": "CE",
    "mae": "MAE",
    "gce": "genCE",
    "sce": "symCE",
    "actpas1": "actPas1",
    "actpas2": "actPas2",
    "bitemp": "biTemp",
    "boundce": "boundCE",
}


def row_label(loss, output_bias=0.0):
    """The paper's label of a loss with output bias eps, e.g. `"MAE* eps=0.5"`."""
    label = LOSS_LABELS.get(loss, loss)
    if output_bias:
        eps = f"{float(output_bias):g}"
        label += f"* eps={eps}" if "." in eps or "e" in eps else f"* eps={eps}.0"
    return label


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
        """The paper's row label, e.g. `"MAE* eps=1.5"`."""
        return row_label(self.loss, self.output_bias)

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

# Table 2, one block per (dataset, model), rows in the order of
# `TABLE2_ROWS`, columns NOISE_RATES.
_TABLE2_BLOCKS = {
    ("cifar10", "mlp1024"): {
        "ce": ((55.70, 0.13), (50.56, 0.10), (46.20, 0.31), (36.90, 0.17), (27.51, 0.35)),
        "mae": ((49.86, 1.13), (49.08, 0.91), (48.20, 1.04), (45.31, 0.93), (40.27, 1.06)),
        "mae*": ((55.09, 0.14), (53.83, 0.15), (53.18, 0.20), (49.30, 0.08), (42.29, 0.13)),
        "boundce": ((54.38, 0.18), (53.52, 0.09), (52.45, 0.10), (48.92, 0.17), (41.03, 0.02)),
        "gce": ((55.21, 0.13), (54.07, 0.22), (52.72, 0.14), (47.94, 0.13), (36.70, 0.26)),
        "sce": ((54.13, 0.14), (49.03, 0.17), (44.30, 0.13), (34.50, 0.19), (25.23, 0.15)),
        "actpas1": ((53.98, 0.13), (53.20, 0.15), (52.00, 0.08), (49.90, 0.18), (45.43, 0.17)),
        "actpas2": ((53.77, 0.10), (53.10, 0.05), (52.18, 0.12), (49.62, 0.24), (44.88, 0.21)),
        "bitemp": ((56.02, 0.24), (51.05, 0.11), (46.58, 0.18), (37.35, 0.21), (27.28, 0.22)),
    },
    ("cifar10", "resnet32"): {
        "ce": ((91.30, 0.33), (83.80, 0.36), (78.21, 0.42), (65.65, 0.23), (50.12, 0.66)),
        "mae": ((84.90, 1.86), (82.59, 1.22), (80.45, 0.24), (74.08, 4.17), (59.90, 6.19)),
        "mae*": ((91.27, 0.13), (90.67, 0.09), (89.95, 0.06), (87.33, 0.07), (81.43, 0.19)),
        "boundce": ((90.73, 0.21), (89.93, 0.37), (89.58, 0.12), (87.24, 0.12), (82.37, 0.16)),
        "gce": ((91.70, 0.10), (91.12, 0.04), (89.92, 0.11), (86.81, 0.12), (78.88, 0.30)),
        "sce": ((91.74, 0.11), (90.91, 0.19), (89.92, 0.05), (86.87, 0.12), (80.20, 0.17)),
        "actpas1": ((88.47, 0.26), (87.64, 0.18), (86.91, 0.07), (84.05, 0.37), (75.98, 0.49)),
        "actpas2": ((88.57, 0.09), (87.73, 0.14), (86.81, 0.08), (84.00, 0.19), (75.67, 0.57)),
        "bitemp": ((92.07, 0.05), (86.84, 0.17), (81.33, 0.16), (68.06, 0.63), (51.58, 0.40)),
    },
    ("fashion_mnist", "mlp1024"): {
        "ce": ((90.20, 0.03), (86.05, 0.04), (79.54, 0.13), (63.04, 0.34), (45.67, 0.39)),
        "mae": ((84.83, 2.59), (81.25, 1.44), (82.00, 2.02), (83.70, 1.58), (80.17, 2.60)),
        "mae*": ((89.55, 0.03), (89.48, 0.05), (89.09, 0.07), (88.03, 0.07), (85.63, 0.12)),
        "boundce": ((89.48, 0.05), (89.15, 0.10), (88.78, 0.12), (87.80, 0.10), (85.54, 0.08)),
        "gce": ((89.76, 0.07), (89.49, 0.05), (89.09, 0.10), (87.70, 0.12), (80.86, 0.19)),
        "sce": ((89.98, 0.07), (88.06, 0.04), (84.05, 0.13), (69.95, 0.37), (51.34, 0.20)),
        "actpas1": ((89.13, 0.03), (88.99, 0.04), (88.62, 0.06), (87.86, 0.10), (86.26, 0.08)),
        "actpas2": ((89.14, 0.03), (88.95, 0.06), (88.59, 0.05), (87.79, 0.08), (86.24, 0.06)),
        "bitemp": ((90.19, 0.08), (86.46, 0.11), (80.33, 0.15), (64.11, 0.37), (45.77, 0.29)),
    },
    ("fashion_mnist", "resnet32"): {
        "ce": ((94.90, 0.07), (92.41, 0.10), (90.72, 0.07), (85.60, 0.50), (78.15, 0.71)),
        "mae": ((90.72, 3.37), (93.74, 0.06), (91.71, 1.88), (88.24, 2.11), (86.50, 2.16)),
        "mae*": ((94.77, 0.03), (94.42, 0.02), (94.23, 0.05), (93.50, 0.11), (92.04, 0.12)),
        "boundce": ((94.42, 0.06), (94.26, 0.13), (94.05, 0.07), (93.51, 0.08), (91.90, 0.06)),
        "gce": ((94.79, 0.06), (94.40, 0.06), (94.28, 0.02), (93.46, 0.07), (91.11, 0.15)),
        "sce": ((94.75, 0.08), (94.56, 0.04), (94.17, 0.04), (93.56, 0.11), (91.91, 0.13)),
        "actpas1": ((93.92, 0.07), (93.74, 0.06), (93.71, 0.06), (92.84, 0.07), (91.75, 0.10)),
        "actpas2": ((93.98, 0.04), (93.73, 0.07), (93.51, 0.06), (93.00, 0.07), (91.73, 0.12)),
        "bitemp": ((94.78, 0.03), (93.38, 0.03), (91.49, 0.09), (86.65, 0.50), (78.05, 0.47)),
    },
}

# Table 3, rows in the order of `TABLE3_ROWS`.
_TABLE3_BLOCKS = {
    ("cifar100", "resnet34"): {
        "ce": ((75.88, 0.15), (69.21, 0.12), (63.07, 0.15), (46.46, 0.24), (24.69, 0.68)),
        "mae*1.5": ((74.81, 0.13), (72.33, 0.13), (68.30, 0.24), (55.71, 0.45), (35.51, 0.19)),
        "mae*3.0": ((76.49, 0.09), (69.11, 0.14), (61.13, 0.16), (44.20, 0.41), (26.45, 0.16)),
        "boundce*1.5": ((75.55, 0.10), (72.85, 0.24), (69.34, 0.12), (56.54, 0.51), (35.62, 0.45)),
        "boundce*2.5": ((76.54, 0.12), (71.04, 0.22), (63.56, 0.17), (46.70, 0.47), (28.08, 0.15)),
        "gce": ((73.90, 0.17), (72.15, 0.09), (69.37, 0.20), (61.15, 0.10), (41.52, 0.64)),
        "sce": ((74.63, 0.11), (67.33, 0.12), (60.55, 0.22), (43.07, 0.18), (23.07, 0.38)),
        "actpas1": ((74.66, 0.17), (72.91, 0.14), (70.25, 0.06), (60.97, 0.14), (25.23, 0.68)),
        "actpas2": ((74.85, 0.10), (72.71, 0.07), (70.03, 0.10), (60.51, 0.10), (26.77, 0.81)),
        "bitemp": ((76.19, 0.14), (68.40, 0.12), (61.36, 0.19), (46.15, 0.23), (26.67, 0.16)),
    },
}

# Supplement Table 1, rows in the order of Table 2, columns LEARNING_RATES.
# MAE* is MAE with eps = 0.5.
_MLP_LR_BLOCKS = {
    "cifar10": {
        "ce": ((54.42, 0.06), (55.01, 0.10), (55.70, 0.13), (55.41, 0.15), (55.03, 0.09), (54.65, 0.10), (54.44, 0.13), (10.00, 0.00), (10.00, 0.00)),
        "mae": ((49.44, 1.11), (49.86, 1.13), (49.18, 1.82), (43.03, 1.26), (22.80, 2.81), (11.37, 0.97), (10.92, 0.92), (10.00, 0.00), (10.00, 0.00)),
        "mae*": ((52.98, 0.13), (53.84, 0.05), (54.20, 0.09), (55.09, 0.14), (42.67, 3.46), (10.35, 0.35), (12.20, 0.97), (10.00, 0.00), (10.00, 0.00)),
        "boundce": ((51.23, 0.29), (52.25, 0.17), (52.61, 0.14), (54.13, 0.28), (54.38, 0.18), (40.85, 0.31), (20.60, 3.24), (10.00, 0.00), (10.00, 0.00)),
        "gce": ((52.54, 0.16), (53.54, 0.16), (53.91, 0.07), (54.99, 0.18), (55.21, 0.13), (55.02, 0.26), (54.57, 0.07), (10.00, 0.00), (10.00, 0.00)),
        "sce": ((53.63, 0.07), (54.00, 0.30), (54.13, 0.14), (53.79, 0.11), (53.61, 0.11), (52.13, 0.17), (51.34, 0.23), (19.22, 6.12), (10.00, 0.00)),
        "actpas1": ((53.67, 0.15), (53.88, 0.10), (53.98, 0.13), (16.48, 2.93), (14.92, 1.88), (10.00, 0.00), (10.83, 0.83), (10.46, 0.46), (10.00, 0.00)),
        "actpas2": ((53.82, 0.04), (53.77, 0.10), (53.49, 0.21), (16.61, 0.81), (14.12, 1.10), (13.09, 1.04), (11.43, 1.43), (10.00, 0.00), (10.00, 0.00)),
        "bitemp": ((53.17, 0.15), (54.23, 0.07), (54.69, 0.18), (55.89, 0.22), (56.02, 0.24), (55.21, 0.17), (54.97, 0.18), (50.76, 0.25), (28.66, 8.11)),
    },
    "fashion_mnist": {
        "ce": ((89.39, 0.06), (89.63, 0.08), (89.64, 0.08), (90.11, 0.05), (90.20, 0.03), (89.97, 0.05), (90.08, 0.06), (89.19, 0.10), (10.00, 0.00)),
        "mae": ((81.24, 2.24), (84.83, 2.32), (82.53, 2.60), (82.11, 2.21), (84.34, 2.00), (79.61, 2.65), (72.00, 1.88), (10.03, 0.03), (12.00, 1.79)),
        "mae*": ((88.72, 0.05), (88.52, 0.95), (88.52, 0.95), (89.55, 0.03), (88.52, 0.95), (89.43, 0.06), (87.55, 0.52), (10.00, 0.00), (10.01, 0.01)),
        "boundce": ((86.81, 0.84), (87.24, 0.89), (87.40, 0.90), (89.11, 0.05), (89.48, 0.04), (89.41, 0.04), (89.26, 0.06), (16.68, 4.28), (10.07, 0.06)),
        "gce": ((88.54, 0.05), (88.82, 0.03), (88.93, 0.04), (89.57, 0.05), (89.60, 0.08), (89.75, 0.06), (89.76, 0.06), (17.00, 1.60), (11.06, 0.95)),
        "sce": ((89.54, 0.06), (89.84, 0.05), (89.80, 0.10), (89.97, 0.09), (89.98, 0.07), (89.68, 0.07), (89.66, 0.10), (88.55, 0.04), (10.00, 0.00)),
        "actpas1": ((88.73, 0.05), (89.06, 0.04), (89.13, 0.03), (88.30, 0.03), (30.28, 4.61), (20.34, 7.53), (17.47, 1.70), (10.00, 0.00), (12.36, 1.57)),
        "actpas2": ((88.82, 0.03), (89.05, 0.03), (89.14, 0.03), (88.31, 0.05), (43.06, 8.93), (10.00, 0.00), (13.94, 2.16), (15.95, 2.17), (11.87, 1.66)),
        "bitemp": ((89.08, 0.03), (89.33, 0.10), (89.50, 0.06), (89.97, 0.06), (90.13, 0.06), (90.16, 0.07), (90.19, 0.07), (89.93, 0.06), (89.44, 0.09)),
    },
}

#: The last rows of Table 2 ("Top-mean-acc"): the losses that performed best
#: on average over both networks and both ten-class datasets, per noise rate
#: (paper labels; the second row is garbled in paper.md and read with the
#: text of Sec. 5).
TABLE2_TOP_MEAN_ACCURACY = {
    0.0: ("biTemp", "CE"),
    0.1: ("genCE",),
    0.2: ("genCE", "MAE*"),
    0.4: ("boundCE", "MAE*"),
    0.6: ("boundCE", "actPas1"),
}


def _flatten(blocks, columns):
    table = {}
    for (dataset, model), rows in blocks.items():
        for key, values in rows.items():
            if len(values) != len(columns):
                raise AssertionError(
                    f"Row {dataset}/{model}/{key} has {len(values)} "
                    f"values, expected {len(columns)}."
                )
            for column, value in zip(columns, values):
                table[(dataset, model, key, column)] = value
    return table


#: Paper Table 2: `{(dataset, model, row_key, noise_rate): (mean, error)}`.
TABLE2 = _flatten(_TABLE2_BLOCKS, NOISE_RATES)

#: Paper Table 3: `{(dataset, model, row_key, noise_rate): (mean, error)}`.
TABLE3 = _flatten(_TABLE3_BLOCKS, NOISE_RATES)

#: Supplement Table 1: `{(dataset, row_key, learning_rate): (mean, error)}`
#: for MLP1024 on clean data.
MLP_LEARNING_RATE_TABLE = {
    (dataset, key, rate): value
    for dataset, rows in _MLP_LR_BLOCKS.items()
    for key, values in rows.items()
    for rate, value in zip(LEARNING_RATES, values)
}

_VALUES = {"table2": TABLE2, "table3": TABLE3}

#: The (dataset, model) blocks of each table, in the paper's order.
TABLE_BLOCKS = {
    "table2": tuple(_TABLE2_BLOCKS),
    "table3": tuple(_TABLE3_BLOCKS),
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


def table_values(name):
    """The transcribed numbers of `"table2"` or `"table3"` (see TABLE2)."""
    return _VALUES[table(name).name]


def table_for(dataset, model):
    """The name of the paper table holding `(dataset, model)`, or None."""
    for name, blocks in TABLE_BLOCKS.items():
        if (dataset, model) in blocks:
            return name
    return None


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
