"""MLP1024 of the paper (Staats, Thamm, Rosenow 2023, section 4).

Flatten, dense 1024, 512 and 512 units with ReLU, dense classifier:
3,939,338 parameters for 32x32x3 inputs and 10 classes.
"""

import keras
from keras import layers

from zoo.resnet_cifar import classifier
from zoo.resnet_cifar import image_input

HIDDEN_UNITS = (1024, 512, 512)


def mlp1024(input_shape=(32, 32, 3), num_classes=10, *, name="mlp1024"):
    """MLP1024, returning logits.

    Glorot-uniform kernels and zero biases (paper section 4); the classifier
    stays float32 under a mixed-precision policy.

    Args:
        input_shape: Image shape `(height, width, channels)`.
        num_classes: Number of output logits.
        name: Model name.

    Returns:
        A functional `keras.Model` mapping images to `(batch, num_classes)`
        logits.
    """
    inputs = image_input(input_shape, num_classes)
    x = layers.Flatten(name="flatten")(inputs)
    for index, units in enumerate(HIDDEN_UNITS, start=1):
        x = layers.Dense(
            units,
            activation="relu",
            kernel_initializer="glorot_uniform",
            bias_initializer="zeros",
            name=f"dense{index}",
        )(x)
    outputs = classifier(x, num_classes)
    return keras.Model(inputs, outputs, name=name)
