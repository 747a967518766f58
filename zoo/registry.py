"""Name-to-builder registry of the zoo models.

A new model is a builder `builder(input_shape, num_classes, **kwargs)`
(usually a preset of a `zoo.backbone.Backbone` subclass in its own module)
and one line in `MODELS`.
"""

import types

from zoo.cifar_resnet import resnet32
from zoo.cifar_resnet import resnet34
from zoo.mlp import mlp1024

MODELS = types.MappingProxyType(
    {"resnet32": resnet32, "resnet34": resnet34, "mlp1024": mlp1024}
)


def get(name):
    """Returns the builder registered as `name` (case-insensitive).

    Args:
        name: One of `"resnet32"`, `"resnet34"`, `"mlp1024"`.

    Returns:
        A callable `builder(input_shape, num_classes, **kwargs)` that
        returns a `zoo.Backbone` (a `keras.Model`) producing logits;
        `kwargs` are further arguments of the model class, e.g. `name`,
        `dtype` or, for the ResNets, `normalization`.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in MODELS:
        raise ValueError(
            f"Unknown model name: name={name!r}. "
            f"Expected one of {sorted(MODELS)}."
        )
    return MODELS[key]


def build(name, input_shape, num_classes, **kwargs):
    """Builds the model registered as `name`; see `get`.

    Args:
        name: Registered model name (case-insensitive).
        input_shape: Image shape `(height, width, channels)`.
        num_classes: Number of output logits.
        **kwargs: Further keyword arguments of the builder, e.g. `name`,
            `dtype` or, for the ResNets, `normalization`.

    Returns:
        A functional `keras.Model` producing `(batch, num_classes)` logits.
    """
    return get(name)(input_shape, num_classes, **kwargs)
