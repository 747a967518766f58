"""The multilayer perceptron of the paper, configurable, with its preset.

`PRESETS["mlp1024"]` is MLP1024 of Staats, Thamm, Rosenow 2023 (section 4):
flatten, dense 1024, 512 and 512 units with ReLU, dense classifier;
3,939,338 parameters for 32x32x3 inputs and 10 classes.
"""

import keras
from keras import layers

from zoo import backbone
from zoo.backbone import classifier
from zoo.backbone import image_input


@keras.saving.register_keras_serializable(package="zoo")
class MLP(backbone.Backbone):
    """Flatten, ReLU dense layers, dense classifier; returns logits.

    Glorot-uniform kernels and zero biases (paper section 4); the classifier
    stays float32 under a mixed-precision policy. Layers are named
    `flatten`, `dense1`, `dense2`, ... and `logits`.

    Args:
        input_shape: Image shape `(height, width, channels)`.
        num_classes: Number of output logits.
        hidden_units: Units of each hidden layer, e.g. `(1024, 512, 512)`.
        dtype: Dtype policy of every layer but the classifier; `None` uses
            the global policy.
        name: Model name.
        **kwargs: `trainable`.
    """

    PRESETS = {
        "mlp1024": {
            "description": "The paper's MLP1024 (1024-512-512 ReLU); "
            "3,939,338 parameters for 32x32x3 inputs and 10 classes.",
            "config": {"hidden_units": (1024, 512, 512)},
        },
    }

    def __init__(
        self,
        input_shape,
        num_classes,
        hidden_units,
        dtype=None,
        name="mlp",
        **kwargs,
    ):
        hidden_units = backbone.check_positive_ints(
            "hidden_units", hidden_units
        )
        policy = backbone.policy_name(dtype)
        inputs = image_input(input_shape, num_classes)
        x = layers.Flatten(dtype=policy, name="flatten")(inputs)
        for index, units in enumerate(hidden_units, start=1):
            x = layers.Dense(
                units,
                activation="relu",
                kernel_initializer="glorot_uniform",
                bias_initializer="zeros",
                dtype=policy,
                name=f"dense{index}",
            )(x)
        outputs = classifier(x, num_classes)
        super().__init__(
            inputs=inputs, outputs=outputs, dtype=policy, name=name, **kwargs
        )
        self.hidden_units = hidden_units

    def get_config(self):
        config = super().get_config()
        config["hidden_units"] = self.hidden_units
        return config


def mlp1024(input_shape=(32, 32, 3), num_classes=10, **kwargs):
    """MLP1024 (`MLP` preset); `kwargs`: more of its arguments."""
    return MLP.from_preset(
        "mlp1024", input_shape=input_shape, num_classes=num_classes, **kwargs
    )
