"""Supplement-1 augmentation with `keras.ops`, for the compiled train step.

`augment.py` augments in the tf.data pipeline on the CPU. On an accelerator
that pipeline can become the bottleneck; `DeviceAugmentation` instead runs
the same augmentation inside the model, so it is compiled with the train
step (XLA under TensorFlow, `jax.jit` under JAX) and runs on the device. It
uses only `keras.ops` and `keras.random` and works on every Keras backend.

The kernels here (`crop_and_flip`, `rotate`) give the same output as their
`augment.py` namesakes for the same crop offsets, flips and angles, and the
random draws have the same distributions (flip with probability 1/2, crop
offsets uniform in `[0, 2 * padding]`, angles uniform in
`[-max_degrees, max_degrees]`); the random streams themselves differ.
"""

import math

import keras
from keras import ops

from keras_robust.data.datasets import AUGMENTATION_POLICIES

PADDING = 4
MAX_DEGREES = 15.0


def _check_policy(policy):
    if policy not in AUGMENTATION_POLICIES:
        raise ValueError(
            f"Unknown augmentation policy: policy={policy!r}. "
            f"Known policies: {AUGMENTATION_POLICIES}"
        )


def _check_padding(padding):
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(
            "`padding` must be a non-negative integer. "
            f"Received: padding={padding!r}"
        )


def _check_max_degrees(max_degrees):
    try:
        value = float(max_degrees)
    except (TypeError, ValueError):
        value = float("nan")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(
            "`max_degrees` must be a finite non-negative number. "
            f"Received: max_degrees={max_degrees!r}"
        )
    return value


def draw_flips(batch_size, seed=None):
    """Per-image flip decisions: a bool `(batch_size,)`, each `True` w.p. 1/2."""
    return keras.random.uniform((batch_size,), seed=seed) < 0.5


def draw_crop_offsets(batch_size, padding, seed=None):
    """Per-image crop corners `(batch_size, 2)` int32, uniform in `[0, 2p]`."""
    return keras.random.randint(
        (batch_size, 2), 0, 2 * padding + 1, dtype="int32", seed=seed
    )


def draw_angles(batch_size, max_degrees, seed=None):
    """Per-image rotation angles `(batch_size,)` in degrees, uniform."""
    return keras.random.uniform(
        (batch_size,),
        minval=-float(max_degrees),
        maxval=float(max_degrees),
        seed=seed,
    )


def crop_and_flip(images, padding, offsets, flips, flip_first=False):
    """Crops each image from its zero-padded version, optionally flipped.

    The `keras.ops` twin of `augment.crop_and_flip`: output pixel `(y, x)`
    of image `b` is pixel `(offsets[b, 0] + y, offsets[b, 1] + x)` of the
    zero-padded image, mirrored left-right where `flips[b]` (before the crop
    if `flip_first`, after it otherwise). One `ops.take` on the flattened
    pixels does the whole batch.

    Args:
        images: `(batch, height, width, channels)` tensor.
        padding: Zero padding on each side.
        offsets: int `(batch, 2)` crop corners in `[0, 2 * padding]`.
        flips: bool `(batch,)`, or `None` for no flip.
        flip_first: Whether the flip comes before the crop.

    Returns:
        The cropped images, same shape and dtype as `images`.
    """
    batch_size, height, width, channels = ops.shape(images)
    padded = ops.pad(
        images, [[0, 0], [padding, padding], [padding, padding], [0, 0]]
    )
    padded_height = height + 2 * padding
    padded_width = width + 2 * padding
    offsets = ops.cast(offsets, "int32")
    rows = offsets[:, 0:1] + ops.expand_dims(ops.arange(height, dtype="int32"), 0)
    columns = ops.expand_dims(ops.arange(width, dtype="int32"), 0)
    if flips is None:
        columns = offsets[:, 1:2] + columns
    elif flip_first:
        columns = offsets[:, 1:2] + columns
        columns = ops.where(
            ops.expand_dims(flips, 1), padded_width - 1 - columns, columns
        )
    else:
        columns = offsets[:, 1:2] + ops.where(
            ops.expand_dims(flips, 1), width - 1 - columns, columns
        )
    image_start = ops.reshape(
        ops.arange(batch_size, dtype="int32") * (padded_height * padded_width),
        (-1, 1, 1),
    )
    flat_index = (
        image_start
        + ops.expand_dims(rows, 2) * padded_width
        + ops.expand_dims(columns, 1)
    )
    pixels = ops.reshape(padded, (-1, channels))
    return ops.take(pixels, flat_index, axis=0)


def rotation_transforms(angles_degrees, height, width):
    """Transforms `(batch, 8)` rotating about the centre, as in `augment.py`."""
    angles = ops.cast(angles_degrees, "float32") * (math.pi / 180.0)
    center_x = (width - 1) / 2.0
    center_y = (height - 1) / 2.0
    cos, sin = ops.cos(angles), ops.sin(angles)
    zeros = ops.zeros_like(angles)
    return ops.stack(
        [
            cos,
            -sin,
            center_x - cos * center_x + sin * center_y,
            sin,
            cos,
            center_y - sin * center_x - cos * center_y,
            zeros,
            zeros,
        ],
        axis=1,
    )


def rotate(images, angles_degrees):
    """Rotates each float image by its angle (nearest neighbour, zero fill)."""
    shape = ops.shape(images)
    transforms = rotation_transforms(angles_degrees, shape[1], shape[2])
    return ops.image.affine_transform(
        images,
        transforms,
        interpolation="nearest",
        fill_mode="constant",
        fill_value=0,
        data_format="channels_last",
    )


def random_flip(images, seed=None):
    """Flips each image left-right with probability 1/2 (per image)."""
    flips = draw_flips(ops.shape(images)[0], seed)
    return ops.where(
        ops.reshape(flips, (-1, 1, 1, 1)), ops.flip(images, axis=2), images
    )


def random_crop_with_padding(images, padding=PADDING, seed=None):
    """Crops each image at a random offset from its zero-padded version."""
    _check_padding(padding)
    offsets = draw_crop_offsets(ops.shape(images)[0], padding, seed)
    return crop_and_flip(images, padding, offsets, flips=None)


def random_rotation(images, max_degrees=MAX_DEGREES, seed=None):
    """Rotates each float image by an angle uniform in `[-max, max]` degrees."""
    max_degrees = _check_max_degrees(max_degrees)
    angles = draw_angles(ops.shape(images)[0], max_degrees, seed)
    return rotate(images, angles)


def normalize(images, mean, std):
    """Normalises raw `[0, 255]` images: `(images / 255 - mean) / std`.

    `mean` and `std` are per channel on the `[0, 1]` scale; float32 result.
    """
    mean = ops.convert_to_tensor(mean, dtype="float32")
    std = ops.convert_to_tensor(std, dtype="float32")
    return ops.cast(images, "float32") * (1.0 / (255.0 * std)) - mean / std


def augment_images(
    images, policy, seed=None, padding=PADDING, max_degrees=MAX_DEGREES
):
    """Applies a supplement-1 policy to raw images; float32 `[0, 255]` out.

    The `keras.ops` twin of `augment.augment_batch`: `"flip_crop"` (flip,
    then crop with zero padding), `"crop_flip_rotate"` (crop, flip, rotate)
    or `"none"`.

    Args:
        images: `(batch, height, width, channels)` uint8 or float images on
            the raw `[0, 255]` scale.
        policy: One of `"flip_crop"`, `"crop_flip_rotate"`, `"none"`.
        seed: A `keras.random.SeedGenerator`, an int or `None`, as for
            `keras.random.uniform`.
        padding: Zero padding of the crop.
        max_degrees: Largest rotation angle.
    """
    _check_policy(policy)
    _check_padding(padding)
    max_degrees = _check_max_degrees(max_degrees)
    if policy == "none":
        return ops.cast(images, "float32")
    batch_size = ops.shape(images)[0]
    flips = draw_flips(batch_size, seed)
    offsets = draw_crop_offsets(batch_size, padding, seed)
    images = crop_and_flip(
        images, padding, offsets, flips, flip_first=policy == "flip_crop"
    )
    images = ops.cast(images, "float32")
    if policy == "crop_flip_rotate":
        images = rotate(images, draw_angles(batch_size, max_degrees, seed))
    return images


@keras.saving.register_keras_serializable(package="keras_robust")
class DeviceAugmentation(keras.layers.Layer):
    """Supplement-1 training augmentation plus normalisation, as a layer.

    Put it first in the model and feed raw images (uint8 or float on the
    `[0, 255]` scale, e.g. `make_pipelines(..., on_device=True)`). With
    `training=True` it applies the policy with random draws per image, then
    normalises; otherwise (evaluation, prediction) it only normalises. So a
    model with this layer expects raw images everywhere, test data included.

    Policies: `"flip_crop"` (random horizontal flip, then random crop with
    zero padding `padding`; CIFAR-10, Fashion-MNIST), `"crop_flip_rotate"`
    (crop, flip, rotation by up to `max_degrees` with nearest interpolation
    and zero fill; CIFAR-100) or `"none"` (normalisation only).

    Args:
        policy: Augmentation policy, see above.
        padding: Zero padding of the crop, in pixels.
        max_degrees: Largest rotation angle, in degrees.
        mean: Per-channel mean on the `[0, 1]` scale (`DatasetSpec.mean`).
        std: Per-channel standard deviation on the `[0, 1]` scale.
        seed: Seed of the layer's `keras.random.SeedGenerator`.

    Example:

    >>> spec = DATASETS["cifar10"]
    >>> inputs = keras.Input(spec.image_shape, dtype="uint8")
    >>> x = DeviceAugmentation("flip_crop", mean=spec.mean, std=spec.std)(
    ...     inputs)
    """

    def __init__(
        self,
        policy,
        padding=PADDING,
        max_degrees=MAX_DEGREES,
        mean=(0.0,),
        std=(1.0,),
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_policy(policy)
        _check_padding(padding)
        self.policy = policy
        self.padding = padding
        self.max_degrees = _check_max_degrees(max_degrees)
        self.mean = tuple(float(value) for value in _as_sequence(mean))
        self.std = tuple(float(value) for value in _as_sequence(std))
        if not all(math.isfinite(value) and value > 0 for value in self.std):
            raise ValueError(
                f"`std` must be positive. Received: std={self.std}"
            )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    @classmethod
    def from_spec(cls, spec, policy=None, **kwargs):
        """A layer with `spec`'s mean, std and (default) augmentation."""
        return cls(
            policy=spec.augmentation if policy is None else policy,
            mean=spec.mean,
            std=spec.std,
            **kwargs,
        )

    def call(self, inputs, training=None):
        images = inputs
        if training and self.policy != "none":
            images = augment_images(
                images,
                self.policy,
                seed=self.seed_generator,
                padding=self.padding,
                max_degrees=self.max_degrees,
            )
        return ops.cast(normalize(images, self.mean, self.std), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "policy": self.policy,
                "padding": self.padding,
                "max_degrees": self.max_degrees,
                "mean": list(self.mean),
                "std": list(self.std),
                "seed": self.seed,
            }
        )
        return config


def _as_sequence(value):
    if isinstance(value, (int, float)):
        return (value,)
    return tuple(value)
