"""Supplement-1 augmentation with `keras.ops`, for the compiled train step.

`augment.py` augments in the tf.data pipeline on the CPU. On an accelerator
that pipeline can become the bottleneck; `DeviceAugmentation` instead runs
the same augmentation inside the model, so it is compiled with the train
step (XLA under TensorFlow, `jax.jit` under JAX) and runs on the device. It
uses only `keras.ops` and `keras.random` and works on every Keras backend.

As in `augment.py`, crop, flip and nearest-neighbour rotation are fused
into one map from output pixel to source pixel (`source_index`) and one
`ops.take`, so the kernels here (`crop_and_flip`, `rotate`) give exactly
the output of their `augment.py` namesakes for the same crop offsets,
flips and angles, on every backend (`ops.image.affine_transform` rounds
differently per backend and is not used). The random draws have the same
distributions (flip with probability 1/2, crop offsets uniform in
`[0, 2 * padding]`, angles uniform in `[-max_degrees, max_degrees]`); the
random streams themselves differ, so the two paths agree in distribution,
not image by image.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_robust.data.datasets import MAX_DEGREES
from keras_robust.data.datasets import PADDING
from keras_robust.data.datasets import check_max_degrees as _check_max_degrees
from keras_robust.data.datasets import check_padding as _check_padding
from keras_robust.data.datasets import check_policy as _check_policy


def _split_seed(seed):
    """Seeds of the flip, crop and rotation draws.

    A `SeedGenerator` (or `None`, the global generator) gives a new state
    on each draw. An int seed would give the same random bits to all three
    draws, correlating flips, offsets and angles, so it is split into three
    independent int seeds first.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        return seed, seed, seed
    state = np.random.SeedSequence(int(seed) & 0xFFFFFFFFFFFFFFFF)
    return tuple(int(value) for value in state.generate_state(3))


def draw_flips(batch_size, seed=None):
    """Per-image flip decisions: bool `(batch_size,)`, `True` w.p. 1/2."""
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


def _round_half_away(values):
    # `std::round`, as TensorFlow's nearest-neighbour image transforms.
    return ops.sign(values) * ops.floor(ops.abs(values) + 0.5)


def source_index(
    image_index,
    image_shape,
    zero_index,
    padding=0,
    offsets=None,
    flips=None,
    angles=None,
    flip_first=False,
):
    """Maps every output pixel to its row of a pixel table.

    The `keras.ops` twin of `augment.source_index`: output pixel `(y, x)`
    of image `b` is image `image_index[b]` rotated by `angles[b]` degrees
    (nearest neighbour), mirrored left-right where `flips[b]`, and cropped
    at `offsets[b]` from the image zero-padded by `padding` (mirrored
    before the crop if `flip_first`); pixels from outside the image read
    row `zero_index`.

    Returns:
        int32 `(batch, height, width)` row indices.
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    rows = ops.reshape(ops.arange(height, dtype="int32"), (1, height, 1))
    columns = ops.reshape(ops.arange(width, dtype="int32"), (1, 1, width))
    inside = None
    if angles is not None:
        transforms = rotation_transforms(angles, height, width)
        coefficient = [
            ops.reshape(transforms[:, i], (-1, 1, 1)) for i in range(6)
        ]
        x = ops.cast(columns, "float32")
        y = ops.cast(rows, "float32")
        source_x = coefficient[0] * x + coefficient[1] * y + coefficient[2]
        source_y = coefficient[3] * x + coefficient[4] * y + coefficient[5]
        columns = ops.cast(
            ops.clip(_round_half_away(source_x), -1.0, float(width)), "int32"
        )
        rows = ops.cast(
            ops.clip(_round_half_away(source_y), -1.0, float(height)), "int32"
        )
        inside = ops.logical_and(
            ops.logical_and(rows >= 0, rows < height),
            ops.logical_and(columns >= 0, columns < width),
        )
    if offsets is not None:
        offsets = ops.cast(offsets, "int32")
        row_offset = ops.reshape(offsets[:, 0], (-1, 1, 1)) - padding
        column_offset = ops.reshape(offsets[:, 1], (-1, 1, 1)) - padding
    if flips is not None:
        flips = ops.reshape(flips, (-1, 1, 1))
        if flip_first and offsets is not None:
            padded_width = width + 2 * padding
            columns = column_offset + padding + columns
            columns = ops.where(flips, padded_width - 1 - columns, columns)
            column_offset = -padding
        else:
            columns = ops.where(flips, width - 1 - columns, columns)
    if offsets is not None:
        rows = rows + row_offset
        columns = columns + column_offset
        in_image = ops.logical_and(
            ops.logical_and(rows >= 0, rows < height),
            ops.logical_and(columns >= 0, columns < width),
        )
        inside = in_image if inside is None else ops.logical_and(
            inside, in_image
        )
    image_index = ops.reshape(ops.cast(image_index, "int32"), (-1, 1, 1))
    index = (image_index * height + rows) * width + columns
    if inside is None:
        return index
    return ops.where(inside, index, ops.cast(zero_index, "int32"))


def _transform(images, **kwargs):
    """Applies `source_index`'s map to a batch with one `ops.take`."""
    shape = ops.shape(images)
    height, width, channels = shape[1], shape[2], shape[3]
    pixels = ops.reshape(images, (-1, channels))
    table = ops.concatenate([pixels, ops.zeros_like(pixels[:1])], axis=0)
    index = source_index(
        ops.arange(shape[0], dtype="int32"),
        (height, width),
        zero_index=ops.shape(table)[0] - 1,
        **kwargs,
    )
    return ops.take(table, index, axis=0)


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
    _check_padding(padding)
    return _transform(
        images,
        padding=padding,
        offsets=offsets,
        flips=flips,
        flip_first=flip_first,
    )


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
    """Rotates each image by its angle (nearest neighbour, zero fill).

    The `keras.ops` twin of `augment.rotate`: output pixel `(x, y)` reads
    input pixel `round(T (x, y))` (`T` from `rotation_transforms`, `round`
    half away from zero), zero outside the image. The same on every
    backend, unlike `ops.image.affine_transform`, whose nearest rounding
    differs between backends.

    Args:
        images: `(batch, height, width, channels)` tensor of any dtype.
        angles_degrees: float `(batch,)`, counter-clockwise angles.

    Returns:
        Tensor of the same shape and dtype.
    """
    return _transform(images, angles=angles_degrees)


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
    """Rotates each image by an angle uniform in `[-max, max]` degrees."""
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
            `keras.random.uniform`. An int gives the same draws on every
            call (it is split into independent seeds for flip, crop and
            rotation); use a `SeedGenerator` for new draws on each call.
        padding: Zero padding of the crop.
        max_degrees: Largest rotation angle.

    Returns:
        float32 images of the same shape on the raw `[0, 255]` scale;
        normalise with `normalize`.
    """
    _check_policy(policy)
    _check_padding(padding)
    max_degrees = _check_max_degrees(max_degrees)
    if policy == "none":
        return ops.cast(images, "float32")
    flip_seed, crop_seed, rotation_seed = _split_seed(seed)
    batch_size = ops.shape(images)[0]
    flips = draw_flips(batch_size, flip_seed)
    offsets = draw_crop_offsets(batch_size, padding, crop_seed)
    angles = None
    if policy == "crop_flip_rotate":
        angles = draw_angles(batch_size, max_degrees, rotation_seed)
    # Crop, flip and rotation fused into one gather, in the input dtype.
    images = _transform(
        images,
        padding=padding,
        offsets=offsets,
        flips=flips,
        angles=angles,
        flip_first=policy == "flip_crop",
    )
    return ops.cast(images, "float32")


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
        images = normalize(images, self.mean, self.std)
        return ops.cast(images, self.compute_dtype)

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
