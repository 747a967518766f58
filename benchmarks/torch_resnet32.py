"""ResNet-32 of akamaster/pytorch_resnet_cifar10 in PyTorch, for benchmarks.

The network of `zoo.resnet32` as its PyTorch reference writes it
(`resnet.py`: `BasicBlock` with option-A `LambdaLayer` shortcuts, BN after
every convolution, global average pooling, `nn.Linear`): 464,154
trainable parameters for 10 classes. Weights are Glorot-uniform with zero
biases, as in the Keras zoo model (akamaster uses Kaiming-normal; the
initialisation does not change the cost of a step).
"""

import torch
from torch import nn
from torch.nn import functional


class LambdaLayer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_planes, planes, 3, stride=stride, padding=1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            # Option A: subsample by 2 and zero-pad planes // 4 channels on
            # each side (akamaster's LambdaLayer).
            pad = planes // 4
            self.shortcut = LambdaLayer(
                lambda x: functional.pad(
                    x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad), "constant", 0
                )
            )

    def forward(self, x):
        out = functional.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return functional.relu(out)


class ResNet(nn.Module):
    def __init__(self, num_blocks, num_classes=10, in_channels=3):
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(32, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(64, num_blocks[2], stride=2)
        self.linear = nn.Linear(64, num_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def _make_layer(self, planes, num_blocks, stride):
        layers = []
        for block_stride in [stride] + [1] * (num_blocks - 1):
            layers.append(BasicBlock(self.in_planes, planes, block_stride))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = functional.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = functional.avg_pool2d(out, out.size()[3])
        out = out.view(out.size(0), -1)
        return self.linear(out)


def resnet32(num_classes=10, in_channels=3):
    """akamaster `resnet32()`: 5 basic blocks per stage."""
    return ResNet([5, 5, 5], num_classes, in_channels)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


if __name__ == "__main__":
    print(count_parameters(resnet32()))
    print(resnet32()(torch.zeros(2, 3, 32, 32)).shape)
