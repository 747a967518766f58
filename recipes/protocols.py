"""The networks' training protocols (paper Sec. 4, supplement Table 1).

A `Protocol` is what a config's unset (None) training fields take for a
model; `recipes.config.resolve` is the only reader of this module: optimizer, batch, schedule, epochs and
augmentation. A model without an entry in `PROTOCOLS` trains with
`DEFAULT_PROTOCOL`, the ResNet protocol.

- ResNet-32, ResNet-34: SGD momentum 0.9, batch 128, coupled weight decay
  1e-4, learning rate 0.1 times 0.1 at epochs 100 and 150, 200 epochs,
  supplement-1 augmentation.
- MLP1024: SGD momentum 0.95, batch 32, no weight decay, learning rate
  times 0.95 every epoch, no augmentation. The initial rate is the bold
  entry of supplement Table 1 for CIFAR-10 and Fashion-MNIST
  (`mlp_learning_rate`); other datasets (e.g. the offline "digits") and
  losses outside that table start at `DEFAULT_MLP_LEARNING_RATE`. The paper
  does not state the MLP epoch count: 100 epochs, after which the 0.95 decay
  has brought the rate down to 0.6 % of its start.
"""

import dataclasses

LR_SCHEDULES = ("step", "exponential", "constant")


@dataclasses.dataclass(frozen=True)
class Protocol:
    """A network's training protocol.

    Attributes:
        learning_rate: Initial learning rate.
        lr_schedule: `"step"` (times `lr_decay` at each of `lr_boundaries`),
            `"exponential"` (times `lr_decay` every epoch) or `"constant"`.
        lr_boundaries: Epochs (0-based) from which the step schedule's next
            factor applies, as PyTorch's `MultiStepLR(milestones=...)`.
        lr_decay: Factor of the step or exponential schedule.
        momentum: SGD momentum (PyTorch convention, `zoo.TorchSGD`).
        weight_decay: Coupled L2 coefficient (PyTorch's `weight_decay`).
        batch_size: Training batch size.
        epochs: Number of epochs.
        augment: Whether the training images get the dataset's
            supplement-1 augmentation.
    """

    learning_rate: float
    lr_schedule: str
    lr_boundaries: tuple
    lr_decay: float
    momentum: float
    weight_decay: float
    batch_size: int
    epochs: int
    augment: bool


RESNET_PROTOCOL = Protocol(
    learning_rate=0.1,
    lr_schedule="step",
    lr_boundaries=(100, 150),
    lr_decay=0.1,
    momentum=0.9,
    weight_decay=1e-4,
    batch_size=128,
    epochs=200,
    augment=True,
)

#: The MLP's initial rate where supplement Table 1 gives none: one of the
#: table's grid values (genCE's and biTemp's choice on Fashion-MNIST), with
#: which every loss of the quickstart trains on "digits".
DEFAULT_MLP_LEARNING_RATE = 0.01

MLP_PROTOCOL = Protocol(
    learning_rate=DEFAULT_MLP_LEARNING_RATE,
    lr_schedule="exponential",
    lr_boundaries=(),
    lr_decay=0.95,
    momentum=0.95,
    weight_decay=0.0,
    batch_size=32,
    epochs=100,
    augment=False,
)

PROTOCOLS = {
    "resnet32": RESNET_PROTOCOL,
    "resnet34": RESNET_PROTOCOL,
    "mlp1024": MLP_PROTOCOL,
}
DEFAULT_PROTOCOL = RESNET_PROTOCOL

# Supplement Table 1, the bold entries (the rates behind Table 2's MLP rows),
# keyed by dataset, then by the loss's `keras_robust.losses.LossSpec.text`
# ("mae*0.5" is MAE with eps 0.5).
MLP_LEARNING_RATES = {
    "cifar10": {
        "ce": 0.001,
        "mae": 0.0008,
        "mae*0.5": 0.003,
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
        "mae*0.5": 0.003,
        "boundce": 0.005,
        "gce": 0.01,
        "sce": 0.005,
        "actpas1": 0.001,
        "actpas2": 0.001,
        "bitemp": 0.01,
    },
}


def protocol(model):
    """The `Protocol` of a zoo model name (`DEFAULT_PROTOCOL` if none)."""
    return PROTOCOLS.get(str(model).lower(), DEFAULT_PROTOCOL)


def mlp_learning_rate(dataset, loss):
    """Supplement Table 1's MLP1024 rate, or None where the table has none.

    Args:
        dataset: A dataset name, e.g. `"cifar10"`.
        loss: A loss with its output bias as `keras_robust.losses.LossSpec`
            writes it (its `text`): `"gce"`, `"mae*0.5"`.
    """
    return MLP_LEARNING_RATES.get(dataset, {}).get(loss)


def initial_learning_rate(model, dataset, loss):
    """The protocol's initial learning rate for this model, data and loss text."""
    model = str(model).lower()
    if model == "mlp1024":
        rate = mlp_learning_rate(dataset, loss)
        if rate is not None:
            return rate
    return protocol(model).learning_rate
