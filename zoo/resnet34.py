"""ResNet-34 for CIFAR-100, as in weiaicunzai/pytorch-cifar100 (`resnet34`).

A 3x3 convolution stem with 64 filters and no max-pool, basic-block stages
[3, 4, 6, 3] with 64/128/256/512 filters and strides 1/2/2/2, 1x1
convolution + BatchNormalization projection shortcuts where the shape
changes, global average pooling and a dense classifier. 21,328,292
trainable parameters for 100 classes.
"""

import keras
from keras import layers

from zoo.resnet_cifar import batch_norm
from zoo.resnet_cifar import classifier
from zoo.resnet_cifar import conv2d_torch_padding
from zoo.resnet_cifar import conv3x3
from zoo.resnet_cifar import image_input

STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))


def _basic_block(x, filters, strides, name):
    """weiaicunzai `BasicBlock` (expansion 1) with a projection shortcut."""
    in_channels = x.shape[-1]
    residual = conv3x3(x, filters, strides, name=f"{name}_conv1")
    residual = batch_norm(residual, name=f"{name}_bn1")
    residual = layers.ReLU(name=f"{name}_relu1")(residual)
    residual = conv3x3(residual, filters, 1, name=f"{name}_conv2")
    residual = batch_norm(residual, name=f"{name}_bn2")
    if strides != 1 or in_channels != filters:
        shortcut = conv2d_torch_padding(
            x, filters, 1, strides, 0, name=f"{name}_shortcut_conv"
        )
        shortcut = batch_norm(shortcut, name=f"{name}_shortcut_bn")
    else:
        shortcut = x
    x = layers.Add(name=f"{name}_add")([residual, shortcut])
    return layers.ReLU(name=f"{name}_out")(x)


def resnet34(input_shape=(32, 32, 3), num_classes=100, *, name="resnet34"):
    """ResNet-34 for CIFAR-sized images, returning logits.

    Reproduces `resnet34()` of weiaicunzai/pytorch-cifar100, channels last,
    except that the stem accepts any number of input channels and kernels
    are Glorot-uniform (the paper's choice; the reference keeps PyTorch's
    default init). Strided 3x3 convolutions pad one pixel on every side, as
    PyTorch's `padding=1` does. BatchNormalization uses PyTorch's momentum
    and epsilon, and the classifier stays float32 under a mixed-precision
    policy.

    Args:
        input_shape: Image shape `(height, width, channels)`.
        num_classes: Number of output logits.
        name: Model name.

    Returns:
        A functional `keras.Model` mapping images to `(batch, num_classes)`
        logits.
    """
    inputs = image_input(input_shape, num_classes)
    x = conv3x3(inputs, 64, 1, name="stem_conv")
    x = batch_norm(x, name="stem_bn")
    x = layers.ReLU(name="stem_relu")(x)
    for stage, (filters, num_blocks, first_strides) in enumerate(
        STAGES, start=2
    ):
        for block in range(1, num_blocks + 1):
            x = _basic_block(
                x,
                filters,
                first_strides if block == 1 else 1,
                name=f"conv{stage}_block{block}",
            )
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = classifier(x, num_classes)
    return keras.Model(inputs, outputs, name=name)
