"""Model zoo of the paper's experiments, channels last, logits out.

Laid out as keras-hub lays out a model family:

- `zoo.layers`: the shared PyTorch-convention layers and blocks
  (`FusedBatchNormalization`, `OptionAShortcut`, padded convolutions, the
  ResNet `basic_block`).
- `zoo.backbone`: `Backbone`, the base class that saves a model by its
  arguments, with the shared input and classifier.
- `zoo.cifar_resnet`: `CifarResNet`, configurable, with the presets
  `resnet32` (akamaster/pytorch_resnet_cifar10, option-A shortcuts) and
  `resnet34` (weiaicunzai/pytorch-cifar100).
- `zoo.mlp`: `MLP` with the preset `mlp1024` (the paper's 1024-512-512).
- `zoo.optimizers`: `TorchSGD`, `torch.optim.SGD` (coupled L2 weight
  decay) as a Keras optimizer.
- `zoo.registry`: `MODELS`; `get(name)` / `build(name, input_shape,
  num_classes)` look models up by name.

Import `zoo` before `keras.models.load_model` of a model saved with a zoo
model or `TorchSGD` in it, so that Keras finds their registered classes.
"""

from zoo.backbone import Backbone
from zoo.cifar_resnet import CifarResNet
from zoo.cifar_resnet import resnet32
from zoo.cifar_resnet import resnet34
from zoo.layers import FusedBatchNormalization
from zoo.layers import OptionAShortcut
from zoo.mlp import MLP
from zoo.mlp import mlp1024
from zoo.optimizers import TorchSGD
from zoo.registry import MODELS
from zoo.registry import build
from zoo.registry import get

__all__ = [
    "Backbone",
    "CifarResNet",
    "FusedBatchNormalization",
    "MLP",
    "MODELS",
    "OptionAShortcut",
    "TorchSGD",
    "build",
    "get",
    "mlp1024",
    "resnet32",
    "resnet34",
]
