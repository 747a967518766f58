"""The paper's hyperparameters by name, read from one place.

Sources: paper Table 1 (loss hyperparameters), Tables 2 and 3 (the loss
variants and eps values compared), Sec. 4 (training), supplement Table 1
(the MLP1024 learning rates in bold).
"""

import dataclasses

from keras_robust import losses as _losses

#: The noise levels of Tables 2 and 3.
NOISE_RATES = (0.0, 0.1, 0.2, 0.4, 0.6)

#: Datasets with the paper's ten-class hyperparameters, and CIFAR-100.
_TEN_CLASS_DATASETS = ("cifar10", "fashion_mnist", "digits")
_DATASETS = _TEN_CLASS_DATASETS + ("cifar100",)

# Paper Table 1: first value for ten classes, second for CIFAR-100.
_LOSS_KWARGS = {
    "ce": ({}, {}),
    "mae": ({}, {}),
    "gce": ({"q": 0.7}, {"q": 0.7}),
    "sce": ({"alpha": 0.1, "beta": 2.0}, {"alpha": 6.0, "beta": 0.2}),
    "actpas1": ({"alpha": 1.0, "beta": 20.0}, {"alpha": 1.0, "beta": 0.2}),
    "actpas2": ({"alpha": 1.0, "beta": 20.0}, {"alpha": 1.0, "beta": 0.2}),
    "bitemp": ({"t1": 0.8, "t2": 1.2}, {"t1": 0.8, "t2": 1.2}),
    "boundce": ({}, {}),
}


def _check_dataset(dataset, allowed=_DATASETS):
    if dataset not in allowed:
        raise ValueError(
            f"Unknown dataset {dataset!r}. Allowed: {', '.join(allowed)}."
        )


def loss_kwargs(loss, dataset):
    """The paper's hyperparameters of `loss` on `dataset` (paper Table 1).

    Args:
        loss: A loss name accepted by `keras_robust.losses.get`.
        dataset: `"cifar10"`, `"fashion_mnist"`, `"digits"` (ten-class values)
            or `"cifar100"`.

    Returns:
        A dict such as `{"alpha": 6.0, "beta": 0.2}`, without `from_logits`
        and `output_bias`.
    """
    name = _losses.canonical_name(loss)
    _check_dataset(dataset)
    ten_class, hundred_class = _LOSS_KWARGS[name]
    return dict(hundred_class if dataset == "cifar100" else ten_class)


@dataclasses.dataclass(frozen=True)
class LossVariant:
    """One row of the paper's Tables 2 and 3: a loss with its output bias.

    Attributes:
        key: Identifier used by flags and results files, e.g. `"mae*1.5"`.
        label: The paper's row label, e.g. `"MAE* eps=1.5"`.
        loss: The loss's short name for `keras_robust.losses.get`.
        output_bias: eps of the row (0 for plain losses).
    """

    key: str
    label: str
    loss: str
    output_bias: float = 0.0


_TABLE2 = (
    LossVariant("ce", "CE", "ce"),
    LossVariant("mae", "MAE", "mae"),
    LossVariant("mae*", "MAE* eps=0.5", "mae", 0.5),
    LossVariant("boundce", "boundCE", "boundce"),
    LossVariant("gce", "genCE", "gce"),
    LossVariant("sce", "symCE", "sce"),
    LossVariant("actpas1", "actPas1", "actpas1"),
    LossVariant("actpas2", "actPas2", "actpas2"),
    LossVariant("bitemp", "biTemp", "bitemp"),
)
_TABLE3 = (
    LossVariant("ce", "CE", "ce"),
    LossVariant("mae*1.5", "MAE* eps=1.5", "mae", 1.5),
    LossVariant("mae*3.0", "MAE* eps=3.0", "mae", 3.0),
    LossVariant("boundce*1.5", "boundCE* eps=1.5", "boundce", 1.5),
    LossVariant("boundce*2.5", "boundCE* eps=2.5", "boundce", 2.5),
    LossVariant("gce", "genCE", "gce"),
    LossVariant("sce", "symCE", "sce"),
    LossVariant("actpas1", "actPas1", "actpas1"),
    LossVariant("actpas2", "actPas2", "actpas2"),
    LossVariant("bitemp", "biTemp", "bitemp"),
)
_TABLES = {"table2": _TABLE2, "table3": _TABLE3}


def table_variants(table):
    """The loss rows of paper Table 2 (`"table2"`) or Table 3 (`"table3"`)."""
    if table not in _TABLES:
        raise ValueError(
            f"Unknown table {table!r}. Allowed: {', '.join(_TABLES)}."
        )
    return _TABLES[table]


def variant(key):
    """The `LossVariant` with this key, from either table."""
    for rows in _TABLES.values():
        for row in rows:
            if row.key == key:
                return row
    keys = sorted({row.key for rows in _TABLES.values() for row in rows})
    raise ValueError(f"Unknown loss variant {key!r}. Allowed: {', '.join(keys)}.")


#: The learning rates of supplement Table 1 (for MLP1024) in bold, i.e. the
#: ones behind the MLP rows of Table 2 (each matches its Table 2 accuracy).
MLP_LEARNING_RATE_GRID = (0.0005, 0.0008, 0.001, 0.003, 0.005, 0.008, 0.01, 0.03, 0.05)
_MLP_LEARNING_RATES = {
    "cifar10": {
        "ce": 0.001,
        "mae": 0.0008,
        "mae*": 0.003,
        "boundce": 0.005,
        "gce": 0.005,
        "sce": 0.001,
        "actpas1": 0.001,
        "actpas2": 0.0008,
        "bitemp": 0.005,
    },
    "fashion_mnist": {
        "ce": 0.005,
        "mae": 0.0008,
        "mae*": 0.003,
        "boundce": 0.005,
        "gce": 0.01,
        "sce": 0.005,
        "actpas1": 0.001,
        "actpas2": 0.001,
        "bitemp": 0.01,
    },
}


def mlp_learning_rate(variant_key, dataset):
    """Initial MLP1024 learning rate of a Table 2 row (supplement Table 1)."""
    _check_dataset(dataset, tuple(_MLP_LEARNING_RATES))
    rates = _MLP_LEARNING_RATES[dataset]
    if variant_key not in rates:
        raise ValueError(
            f"Unknown loss variant {variant_key!r} for the MLP learning rates. "
            f"Allowed: {', '.join(rates)}."
        )
    return rates[variant_key]


@dataclasses.dataclass(frozen=True)
class TrainingPreset:
    """The paper's training protocol for one network (paper Sec. 4).

    `learning_rate` is None for the MLP, whose initial rate depends on the
    loss (`mlp_learning_rate`). Exactly one of `lr_boundaries_epochs` (step
    schedule, multiply by `lr_step_factor`) and `lr_decay_per_epoch`
    (exponential schedule) is set.
    """

    momentum: float
    batch_size: int
    weight_decay: float
    learning_rate: float | None
    epochs: int
    lr_boundaries_epochs: tuple = ()
    lr_step_factor: float = 0.1
    lr_decay_per_epoch: float | None = None


_RESNET = TrainingPreset(
    momentum=0.9,
    batch_size=128,
    weight_decay=1e-4,
    learning_rate=0.1,
    epochs=200,
    lr_boundaries_epochs=(100, 150),
    lr_step_factor=0.1,
)
# The paper does not state the MLP epoch count; 100 epochs of the 0.95
# exponential decay end at 0.6 % of the initial rate, where training has
# converged.
_MLP = TrainingPreset(
    momentum=0.95,
    batch_size=32,
    weight_decay=0.0,
    learning_rate=None,
    epochs=100,
    lr_decay_per_epoch=0.95,
)
_TRAINING = {"resnet32": _RESNET, "resnet34": _RESNET, "mlp1024": _MLP}


def training_preset(model_name):
    """The paper's optimizer, batch and schedule for `"resnet32"`, `"resnet34"`, `"mlp1024"`."""
    key = str(model_name).lower()
    if key not in _TRAINING:
        raise ValueError(
            f"Unknown model {model_name!r}. Allowed: {', '.join(_TRAINING)}."
        )
    return _TRAINING[key]
