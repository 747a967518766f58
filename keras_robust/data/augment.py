"""Batched, seeded training augmentation in TensorFlow (supplement 1).

The paper augments ResNet training batches with torchvision transforms:

- CIFAR-10 and Fashion-MNIST (`"flip_crop"`): random horizontal flip, then
  a random crop to the original size from the image zero-padded by 4 pixels.
- CIFAR-100 (`"crop_flip_rotate"`): random crop with padding 4, random
  horizontal flip, random rotation by an angle uniform in [-15, 15] degrees
  (nearest neighbour, zero fill).

Every image of a batch gets its own random draws (unlike Keras 3's
`RandomCrop`, which draws one offset per call). The functions use stateless
random ops, so the output is a pure function of the images and the seed. A
seed is a shape `[2]` integer tensor as for `tf.random.stateless_uniform` (a
Python int `s` means `[0, s]`). Padding is applied in raw pixel space,
before normalisation, like `torchvision.transforms.RandomCrop(size,
padding=4)` on a PIL image.

Implementation: crop, flip and nearest-neighbour rotation only move pixels,
so their composition is computed as one map from output pixel to source
pixel, followed by a single gather from a "pixel table" (the images'
pixels, one row each, plus a final zero row that every pixel from outside
the image reads). The index arithmetic, the gather and the normalisation
are compiled together with XLA (`tf.function(jit_compile=True)`), which
makes the pipeline several times faster than separate TensorFlow ops. The
training pipeline (`pipeline.py`) gathers its batches straight from the
pixel table of the whole training set, so selecting the batch's images
costs nothing extra.

`device_augment.py` implements the same maps with `keras.ops`.
"""

import functools
import math

import tensorflow as tf

from keras_robust.data.datasets import MAX_DEGREES
from keras_robust.data.datasets import PADDING
from keras_robust.data.datasets import check_max_degrees as _check_max_degrees
from keras_robust.data.datasets import check_padding as _check_padding
from keras_robust.data.datasets import check_policy as _check_policy


def _stateless_seed(seed):
    if isinstance(seed, int):
        return tf.constant([0, seed], dtype=tf.int64)
    return tf.cast(tf.convert_to_tensor(seed), tf.int64)


def _check_images(images):
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or None in images.shape[1:]:
        raise ValueError(
            "`images` must be a batch of shape (batch, height, width, "
            "channels) with known height, width and channels. Received: "
            f"images with shape {images.shape}"
        )
    return images


def draw_flips(batch_size, seed):
    """Per-image flip decisions: bool `(batch_size,)`, `True` w.p. 1/2."""
    uniform = tf.random.stateless_uniform([batch_size], _stateless_seed(seed))
    return uniform < 0.5


def draw_crop_offsets(batch_size, padding, seed):
    """Per-image crop offsets `(batch_size, 2)` int32 `(row, column)`.

    Offsets are uniform in `[0, 2 * padding]`, the top-left corner of the
    crop in the padded image, as in torchvision's `RandomCrop`.
    """
    return tf.random.stateless_uniform(
        [batch_size, 2],
        _stateless_seed(seed),
        minval=0,
        maxval=2 * padding + 1,
        dtype=tf.int32,
    )


def draw_angles(batch_size, max_degrees, seed):
    """Per-image rotation angles `(batch_size,)` in degrees, uniform."""
    return tf.random.stateless_uniform(
        [batch_size],
        _stateless_seed(seed),
        minval=-float(max_degrees),
        maxval=float(max_degrees),
    )


def rotation_transforms(angles_degrees, height, width):
    """Projective transforms `(batch, 8)` rotating about the image centre.

    The transform maps output pixel `(x, y)` to the input pixel it reads,
    the rotation by `angle` counter-clockwise (as PIL's `Image.rotate` and
    torchvision's `rotate`) about `((width - 1) / 2, (height - 1) / 2)`.
    This is the convention of `keras.ops.image.affine_transform` and
    `tf.raw_ops.ImageProjectiveTransformV3`.
    """
    angles = tf.cast(angles_degrees, tf.float32) * (math.pi / 180.0)
    center_x = (tf.cast(width, tf.float32) - 1.0) / 2.0
    center_y = (tf.cast(height, tf.float32) - 1.0) / 2.0
    cos, sin = tf.cos(angles), tf.sin(angles)
    zeros = tf.zeros_like(angles)
    return tf.stack(
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


def _round_half_away(values):
    # `std::round`, as in TensorFlow's nearest-neighbour image transforms.
    return tf.sign(values) * tf.floor(tf.abs(values) + 0.5)


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

    Output pixel `(y, x)` of image `b` is, in this order of operations on
    image `image_index[b]`: rotated by `angles[b]` degrees (nearest
    neighbour, if `angles` is given), mirrored left-right (if `flips[b]`),
    cropped at `offsets[b]` from the image zero-padded by `padding`. With
    `flip_first`, the mirroring comes before the crop instead (the crop
    reads the mirrored padded image). Pixels that come from outside the
    image read the zero row `zero_index`.

    Args:
        image_index: int32 `(batch,)`, which image of the table.
        image_shape: `(height, width)` (or with channels) of one image.
        zero_index: Row of the table's zero pixel (`N * height * width`).
        padding: Zero padding of the crop.
        offsets: int32 `(batch, 2)` crop corners in `[0, 2 * padding]`, or
            `None` for no crop.
        flips: bool `(batch,)`, or `None` for no flip.
        angles: float32 `(batch,)` angles in degrees, or `None`.
        flip_first: Whether the flip comes before the crop.

    Returns:
        int32 `(batch, height, width)` row indices.
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    rows = tf.range(height, dtype=tf.int32)[tf.newaxis, :, tf.newaxis]
    columns = tf.range(width, dtype=tf.int32)[tf.newaxis, tf.newaxis, :]
    inside = None
    if offsets is not None:
        offsets = tf.cast(offsets, tf.int32)
    if angles is not None:
        transforms = rotation_transforms(angles, height, width)
        coefficient = [
            transforms[:, i, tf.newaxis, tf.newaxis] for i in range(6)
        ]
        x = tf.cast(columns, tf.float32)
        y = tf.cast(rows, tf.float32)
        source_x = coefficient[0] * x + coefficient[1] * y + coefficient[2]
        source_y = coefficient[3] * x + coefficient[4] * y + coefficient[5]
        # Clipped before the cast so that huge values cannot overflow.
        columns = tf.cast(
            tf.clip_by_value(_round_half_away(source_x), -1.0, width), tf.int32
        )
        rows = tf.cast(
            tf.clip_by_value(_round_half_away(source_y), -1.0, height), tf.int32
        )
        inside = (
            (rows >= 0) & (rows < height) & (columns >= 0) & (columns < width)
        )
    if flips is not None:
        flips = flips[:, tf.newaxis, tf.newaxis]
        if flip_first and offsets is not None:
            padded_width = width + 2 * padding
            columns = offsets[:, 1, tf.newaxis, tf.newaxis] + columns
            columns = tf.where(flips, padded_width - 1 - columns, columns)
            offsets = tf.concat(
                [offsets[:, :1], tf.zeros_like(offsets[:, 1:])], axis=1
            )
        else:
            columns = tf.where(flips, width - 1 - columns, columns)
    if offsets is not None:
        offsets = offsets - padding
        rows = rows + offsets[:, 0, tf.newaxis, tf.newaxis]
        columns = columns + offsets[:, 1, tf.newaxis, tf.newaxis]
        in_image = (
            (rows >= 0) & (rows < height) & (columns >= 0) & (columns < width)
        )
        inside = in_image if inside is None else inside & in_image
    image_index = tf.cast(image_index, tf.int32)[:, tf.newaxis, tf.newaxis]
    index = (image_index * height + rows) * width + columns
    if inside is None:
        return index
    return tf.where(inside, index, tf.cast(zero_index, tf.int32))


def pixel_table(images):
    """The pixel table of a batch: `(N * height * width + 1, channels)`.

    Row `(n * height + y) * width + x` is pixel `(y, x)` of image `n`; the
    last row is zero (read by pixels from outside an image).
    """
    images = _check_images(images)
    channels = images.shape[-1]
    pixels = tf.reshape(images, [-1, channels])
    return tf.concat([pixels, tf.zeros([1, channels], images.dtype)], axis=0)


def _normalize(images, mean, std):
    mean = tf.constant(mean, tf.float32)
    std = tf.constant(std, tf.float32)
    scale = 1.0 / (255.0 * std)
    return tf.cast(images, tf.float32) * scale - mean / std


@functools.lru_cache(maxsize=None)
def _gather_kernel(
    image_shape, padding, crop, flip, rotation, flip_first, normalization
):
    """A compiled `(table, image_index, offsets, flips, angles) -> images`.

    The static configuration selects which transforms apply; the unused
    tensor arguments are ignored. `normalization` is `None` (keep the
    table's dtype) or `(mean, std)` (normalised float32).
    """
    height, width, channels = image_shape

    @tf.function(jit_compile=True, reduce_retracing=True)
    def kernel(table, image_index, offsets, flips, angles):
        index = source_index(
            image_index,
            image_shape,
            zero_index=tf.shape(table)[0] - 1,
            padding=padding,
            offsets=offsets if crop else None,
            flips=flips if flip else None,
            angles=angles if rotation else None,
            flip_first=flip_first,
        )
        images = tf.gather(table, index)
        images = tf.reshape(images, [-1, height, width, channels])
        if normalization is not None:
            images = _normalize(images, *normalization)
        return images

    return kernel


def _run_kernel(
    table,
    image_index,
    image_shape,
    padding=0,
    offsets=None,
    flips=None,
    angles=None,
    flip_first=False,
    normalization=None,
):
    image_index = tf.cast(image_index, tf.int32)
    batch_size = tf.shape(image_index)[0]
    kernel = _gather_kernel(
        tuple(int(size) for size in image_shape),
        int(padding),
        offsets is not None,
        flips is not None,
        angles is not None,
        bool(flip_first),
        normalization,
    )
    if offsets is None:
        offsets = tf.zeros([batch_size, 2], tf.int32)
    if flips is None:
        flips = tf.zeros([batch_size], tf.bool)
    if angles is None:
        angles = tf.zeros([batch_size], tf.float32)
    return kernel(
        table,
        image_index,
        tf.cast(offsets, tf.int32),
        tf.cast(flips, tf.bool),
        tf.cast(angles, tf.float32),
    )


def _transform_batch(images, **kwargs):
    images = _check_images(images)
    return _run_kernel(
        pixel_table(images),
        tf.range(tf.shape(images)[0]),
        images.shape[1:],
        **kwargs,
    )


def crop_and_flip(images, padding, offsets, flips, flip_first=False):
    """Crops each image from its zero-padded version, optionally flipped.

    Output pixel `(y, x)` of image `b` is pixel
    `(offsets[b, 0] + y, offsets[b, 1] + x)` of the zero-padded image.
    Where `flips[b]`, the image is also mirrored left-right: before the
    crop if `flip_first` (the crop then reads the mirrored padded image),
    after it otherwise. One gather does the whole batch in the input dtype.

    Args:
        images: `(batch, height, width, channels)` tensor.
        padding: Zero padding on each side.
        offsets: int32 `(batch, 2)` crop corners in `[0, 2 * padding]`.
        flips: bool `(batch,)`, or `None` for no flip.
        flip_first: Whether the flip comes before the crop.

    Returns:
        The cropped images, same shape and dtype as `images`.
    """
    _check_padding(padding)
    return _transform_batch(
        images,
        padding=padding,
        offsets=offsets,
        flips=flips,
        flip_first=flip_first,
    )


def rotate(images, angles_degrees):
    """Rotates each image by its angle (nearest neighbour, zero fill).

    Output pixel `(x, y)` reads input pixel `round(T (x, y))`, `T` the
    transform of `rotation_transforms` and `round` half away from zero, or
    zero where that lies outside the image: the convention of
    `tf.raw_ops.ImageProjectiveTransformV3` with nearest interpolation and
    constant fill.

    Args:
        images: `(batch, height, width, channels)` tensor of any dtype.
        angles_degrees: float `(batch,)`, counter-clockwise angles.

    Returns:
        Tensor of the same shape and dtype.
    """
    return _transform_batch(images, angles=angles_degrees)


def random_flip(images, seed):
    """Flips each image left-right with probability 1/2.

    Like `torchvision.transforms.RandomHorizontalFlip()`, drawn per image.

    Args:
        images: `(batch, height, width, channels)` tensor of any dtype.
        seed: Stateless seed, shape `[2]`.

    Returns:
        Tensor of the same shape and dtype.
    """
    images = _check_images(images)
    flips = draw_flips(tf.shape(images)[0], seed)
    return tf.where(
        flips[:, tf.newaxis, tf.newaxis, tf.newaxis],
        tf.reverse(images, axis=[2]),
        images,
    )


def random_crop_with_padding(images, padding, seed):
    """Randomly crops each image from its zero-padded version.

    Like `torchvision.transforms.RandomCrop(size, padding=padding)` on the
    raw image: pad `padding` zeros on every side, then crop the original
    size at an offset drawn per image, uniform in `[0, 2 * padding]` on each
    axis.

    Args:
        images: `(batch, height, width, channels)` tensor in raw pixel space.
        padding: Non-negative int, zero padding on each side.
        seed: Stateless seed, shape `[2]`.

    Returns:
        Tensor of the same shape and dtype.
    """
    images = _check_images(images)
    _check_padding(padding)
    offsets = draw_crop_offsets(tf.shape(images)[0], padding, seed)
    return crop_and_flip(images, padding, offsets, flips=None)


def random_rotation(images, max_degrees, seed):
    """Rotates each image by an angle uniform in `[-max_degrees, max_degrees]`.

    Like `torchvision.transforms.RandomRotation(max_degrees)`: rotation
    about the image centre, nearest-neighbour interpolation, pixels from
    outside the image are zero.

    Args:
        images: `(batch, height, width, channels)` tensor of any dtype.
        max_degrees: Largest rotation angle in degrees.
        seed: Stateless seed, shape `[2]`.

    Returns:
        Tensor of the same shape and dtype.
    """
    images = _check_images(images)
    max_degrees = _check_max_degrees(max_degrees)
    angles = draw_angles(tf.shape(images)[0], max_degrees, seed)
    return rotate(images, angles)


def normalize(images, mean, std):
    """Normalises raw `[0, 255]` images: `(images / 255 - mean) / std`.

    Args:
        images: Tensor `(..., channels)`, uint8 or float, raw pixel scale.
        mean: Per-channel means on the `[0, 1]` scale (`DatasetSpec.mean`).
        std: Per-channel standard deviations on the `[0, 1]` scale.

    Returns:
        float32 tensor of the same shape.
    """
    return _normalize(images, mean, std)


@functools.lru_cache(maxsize=None)
def _normalize_kernel(mean, std):
    return tf.function(
        lambda images: _normalize(images, mean, std),
        jit_compile=True,
        reduce_retracing=True,
    )


def normalize_compiled(images, mean, std):
    """`normalize` compiled with XLA (fast on the CPU, same result)."""
    return _normalize_kernel(_as_floats(mean), _as_floats(std))(images)


def _as_floats(values):
    """A hashable tuple of floats from a number or a sequence."""
    if isinstance(values, (int, float)):
        return (float(values),)
    return tuple(float(value) for value in values)


def _draw_policy(batch_size, policy, seed, padding, max_degrees):
    """The draws of `augment_batch`: `(offsets, flips, angles)`."""
    flip_seed, crop_seed, rotation_seed = tf.unstack(
        tf.random.experimental.stateless_split(_stateless_seed(seed), 3)
    )
    flips = draw_flips(batch_size, flip_seed)
    offsets = draw_crop_offsets(batch_size, padding, crop_seed)
    angles = None
    if policy == "crop_flip_rotate":
        angles = draw_angles(batch_size, max_degrees, rotation_seed)
    return offsets, flips, angles


def augment_from_table(
    table,
    image_index,
    image_shape,
    policy,
    seed,
    padding=PADDING,
    max_degrees=MAX_DEGREES,
    normalization=None,
):
    """`augment_batch` of images selected from a pixel table.

    `augment_from_table(pixel_table(x), index, shape, policy, seed)` equals
    `augment_batch(tf.gather(x, index), policy, seed)` (and normalised with
    `normalization=(mean, std)`), but gathers each output pixel directly
    from the table: the training pipeline keeps the whole training set as
    one table.

    Args:
        table: `(N * height * width + 1, channels)` from `pixel_table`.
        image_index: int `(batch,)` image numbers in `[0, N)`.
        image_shape: `(height, width, channels)`.
        policy: One of `"flip_crop"`, `"crop_flip_rotate"`, `"none"`.
        seed: Stateless seed, shape `[2]`.
        padding: Zero padding of the crop.
        max_degrees: Largest rotation angle.
        normalization: `None`, or `(mean, std)` on the `[0, 1]` scale to
            return normalised images.

    Returns:
        float32 `(batch, height, width, channels)` images, raw `[0, 255]`
        scale or normalised.
    """
    _check_policy(policy)
    _check_padding(padding)
    max_degrees = _check_max_degrees(max_degrees)
    image_shape = tuple(int(size) for size in image_shape)
    if normalization is not None:
        mean, std = normalization
        normalization = (_as_floats(mean), _as_floats(std))
    image_index = tf.cast(image_index, tf.int32)
    if policy == "none":
        offsets = flips = angles = None
    else:
        offsets, flips, angles = _draw_policy(
            tf.shape(image_index)[0], policy, seed, padding, max_degrees
        )
    images = _run_kernel(
        table,
        image_index,
        image_shape,
        padding=padding,
        offsets=offsets,
        flips=flips,
        angles=angles,
        flip_first=policy == "flip_crop",
        normalization=normalization,
    )
    return tf.cast(images, tf.float32)


def augment_batch(
    images_uint8, policy, seed, padding=PADDING, max_degrees=MAX_DEGREES
):
    """Applies a supplement-1 augmentation policy to a batch.

    Policies (`DatasetSpec.augmentation`):

    - `"flip_crop"`: `random_flip`, then `random_crop_with_padding`
      (CIFAR-10, Fashion-MNIST).
    - `"crop_flip_rotate"`: crop, flip, then `random_rotation` by up to
      `max_degrees` (CIFAR-100).
    - `"none"`: no change.

    All steps are fused into one gather (see the module docstring), run in
    the input dtype; the draws are those of `draw_flips`,
    `draw_crop_offsets` and `draw_angles` with the seeds
    `tf.random.experimental.stateless_split(seed, 3)` (flip, crop,
    rotation).

    Args:
        images_uint8: uint8 `(batch, height, width, channels)` raw images.
        policy: One of `"flip_crop"`, `"crop_flip_rotate"`, `"none"`.
        seed: Stateless seed, shape `[2]`.
        padding: Zero padding of the crop.
        max_degrees: Largest rotation angle.

    Returns:
        float32 images on the raw `[0, 255]` scale; normalise with
        `normalize`.
    """
    _check_policy(policy)
    _check_padding(padding)
    images = _check_images(images_uint8)
    if policy == "none":
        return tf.cast(images, tf.float32)
    return augment_from_table(
        pixel_table(images),
        tf.range(tf.shape(images)[0]),
        images.shape[1:],
        policy,
        seed,
        padding=padding,
        max_degrees=max_degrees,
    )
