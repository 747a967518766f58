"""`Backbone`: the base class of the zoo models (keras-hub's shape).

A zoo model is a functional `keras.Model` built in its constructor from a
few hyperparameters. `get_config()` returns those hyperparameters (not the
layer graph) and `from_config()` calls the constructor with them, so a model
saved with `model.save("x.keras")` loads back as the same class with
`keras.models.load_model` once `zoo` is imported. `PRESETS` names fixed
hyperparameters, e.g. ResNet-32 for `CifarResNet`.

Also here: the validated model input (`image_input`) and the float32 logits
layer (`classifier`) every zoo model shares.
"""

import keras
from keras import layers

from keras_robust import validation
from zoo.layers import check_integer


class Backbone(keras.Model):
    """A functional model that is saved and restored by its arguments.

    Subclasses build `inputs` and `outputs` in `__init__`, pass them here
    and extend `get_config()` with their own arguments.

    Args:
        inputs: The model's `keras.Input`.
        outputs: Its logits.
        dtype: The dtype policy its layers were built with (`None`: the
            global policy at construction time); stored in the config.
        **kwargs: `name`, `trainable`.
    """

    #: `{preset name: {"description": str, "config": {argument: value}}}`.
    PRESETS = {}

    def __init__(self, *, inputs, outputs, dtype=None, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.policy_name = policy_name(dtype)

    def get_config(self):
        # Not the functional graph: the constructor's arguments.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": tuple(self.input_shape[1:]),
            "num_classes": int(self.output_shape[-1]),
            "dtype": self.policy_name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """Builds the preset `preset`, with `kwargs` added or overriding.

        Args:
            preset: A key of `cls.PRESETS`, e.g. `"resnet32"`.
            **kwargs: Constructor arguments, e.g. `input_shape`,
                `num_classes`; the model name defaults to `preset`.
        """
        if preset not in cls.PRESETS:
            raise ValueError(
                f"Unknown {cls.__name__} preset: preset={preset!r}. "
                f"Expected one of {sorted(cls.PRESETS)}."
            )
        kwargs.setdefault("name", preset)
        return cls(**{**cls.PRESETS[preset]["config"], **kwargs})


def policy_name(dtype):
    """The name of dtype policy `dtype`, or of the global one for `None`."""
    if dtype is None:
        return keras.config.dtype_policy().name
    return keras.dtype_policies.get(dtype).name


def check_positive_ints(name, values):
    """Returns `values` as a tuple if it is a non-empty sequence of ints > 0."""
    if isinstance(values, (list, tuple)) and values:
        try:
            return tuple(
                check_integer(name, value, minimum=1) for value in values
            )
        except ValueError:
            pass
    raise ValueError(
        f"`{name}` must be a non-empty sequence of positive integers. "
        f"Received: {name}={values!r}"
    )


def image_input(input_shape, num_classes):
    """Validates the builder arguments and returns the model's `keras.Input`."""
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or not all(
        isinstance(size, int) and not isinstance(size, bool) and size > 0
        for size in input_shape
    ):
        raise ValueError(
            "`input_shape` must be (height, width, channels) with positive "
            f"integer sizes. Received: input_shape={input_shape!r}"
        )
    validation.check_num_classes(num_classes)
    return keras.Input(shape=input_shape, name="images")


def classifier(x, num_classes):
    """`nn.Linear(features, num_classes)`: logits, float32 under any policy."""
    return layers.Dense(
        num_classes,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        dtype="float32",
        name="logits",
    )(x)
