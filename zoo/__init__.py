"""Model zoo of the paper's experiments, channels last, logits out.

- `resnet32`: akamaster/pytorch_resnet_cifar10 ResNet-32 (option-A shortcuts).
- `resnet34`: weiaicunzai/pytorch-cifar100 ResNet-34.
- `mlp1024`: the paper's MLP (1024-512-512 ReLU).
- `TorchSGD`: `torch.optim.SGD` (coupled L2 weight decay) as a Keras optimizer.

`get(name)` / `build(name, input_shape, num_classes)` look models up by name.
"""

from zoo.mlp import mlp1024
from zoo.optimizers import TorchSGD
from zoo.registry import MODELS
from zoo.registry import build
from zoo.registry import get
from zoo.resnet34 import resnet34
from zoo.resnet_cifar import FusedBatchNormalization
from zoo.resnet_cifar import OptionAShortcut
from zoo.resnet_cifar import resnet32

__all__ = [
    "FusedBatchNormalization",
    "MODELS",
    "OptionAShortcut",
    "TorchSGD",
    "build",
    "get",
    "mlp1024",
    "resnet32",
    "resnet34",
]
