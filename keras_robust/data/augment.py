"""Batched, seeded training augmentation in TensorFlow (supplement 1).

The paper augments ResNet training batches with torchvision transforms:

- CIFAR-10 and Fashion-MNIST (`"flip_crop"`): random horizontal flip, then
  a random crop to the original size from the image zero-padded by 4 pixels.
- CIFAR-100 (`"crop_flip_rotate"`): random crop with padding 4, random
  horizontal flip, random rotation by an angle uniform in [-15, 15] degrees
  (nearest neighbour, zero fill).

Every image of a batch gets its own random draws (unlike Keras 3's
`RandomCrop`, which draws one offset per call). The functions work on whole
batches without a Python loop and use stateless random ops, so the output is
a pure function of the images and the seed. A seed is a shape `[2]` integer
tensor as for `tf.random.stateless_uniform` (a Python int `s` means
`[0, s]`). Padding is applied in raw pixel space, before normalisation, like
`torchvision.transforms.RandomCrop(size, padding=4)` on a PIL image.

`device_augment.py` implements the same distribution with `keras.ops`.
"""

import math

import tensorflow as tf

from keras_robust.data.datasets import AUGMENTATION_POLICIES

PADDING = 4
MAX_DEGREES = 15.0


def _stateless_seed(seed):
    if isinstance(seed, int):
        return tf.constant([0, seed], dtype=tf.int64)
    return tf.cast(tf.convert_to_tensor(seed), tf.int64)


def _check_images(images):
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(
            "`images` must be a batch of shape (batch, height, width, "
            f"channels). Received: images with shape {images.shape}"
        )
    return images


def _check_padding(padding):
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(
            "`padding` must be a non-negative integer. "
            f"Received: padding={padding!r}"
        )


def _check_policy(policy):
    if policy not in AUGMENTATION_POLICIES:
        raise ValueError(
            f"Unknown augmentation policy: policy={policy!r}. "
            f"Known policies: {AUGMENTATION_POLICIES}"
        )


def draw_flips(batch_size, seed):
    """Per-image flip decisions: a bool `(batch_size,)`, each `True` w.p. 1/2."""
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
    images = _check_images(images)
    shape = tf.shape(images)
    batch_size, height, width = shape[0], shape[1], shape[2]
    channels = images.shape[-1] or shape[3]
    padded = tf.pad(
        images, [[0, 0], [padding, padding], [padding, padding], [0, 0]]
    )
    padded_height = height + 2 * padding
    padded_width = width + 2 * padding
    offsets = tf.cast(offsets, tf.int32)
    rows = offsets[:, 0:1] + tf.range(height)[tf.newaxis, :]
    columns = tf.range(width)[tf.newaxis, :]
    if flips is None:
        columns = offsets[:, 1:2] + columns
    elif flip_first:
        columns = offsets[:, 1:2] + columns
        columns = tf.where(
            flips[:, tf.newaxis], padded_width - 1 - columns, columns
        )
    else:
        columns = offsets[:, 1:2] + tf.where(
            flips[:, tf.newaxis], width - 1 - columns, columns
        )
    image_start = tf.range(batch_size)[:, tf.newaxis, tf.newaxis] * (
        padded_height * padded_width
    )
    flat_index = (
        image_start
        + rows[:, :, tf.newaxis] * padded_width
        + columns[:, tf.newaxis, :]
    )
    pixels = tf.reshape(padded, [-1, channels])
    return tf.gather(pixels, flat_index)


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


def rotate(images, angles_degrees):
    """Rotates each image by its angle (nearest neighbour, zero fill)."""
    images = _check_images(images)
    shape = tf.shape(images)
    transforms = rotation_transforms(angles_degrees, shape[1], shape[2])
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=shape[1:3],
        fill_value=0.0,
        interpolation="NEAREST",
        fill_mode="CONSTANT",
    )


def random_rotation(images, max_degrees, seed):
    """Rotates each image by an angle uniform in `[-max_degrees, max_degrees]`.

    Like `torchvision.transforms.RandomRotation(max_degrees)`: rotation
    about the image centre, nearest-neighbour interpolation, pixels from
    outside the image are zero.

    Args:
        images: `(batch, height, width, channels)` tensor (uint8, int32,
            int64, or a float type).
        max_degrees: Largest rotation angle in degrees.
        seed: Stateless seed, shape `[2]`.

    Returns:
        Tensor of the same shape and dtype.
    """
    images = _check_images(images)
    if not (math.isfinite(max_degrees) and max_degrees >= 0):
        raise ValueError(
            "`max_degrees` must be a finite non-negative number. "
            f"Received: max_degrees={max_degrees!r}"
        )
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
    mean = tf.constant(mean, tf.float32)
    std = tf.constant(std, tf.float32)
    scale = 1.0 / (255.0 * std)
    return tf.cast(images, tf.float32) * scale - mean / std


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

    Flip and crop are fused into one gather (`crop_and_flip`), and all
    steps run in uint8; the draws are those of the separate functions with
    the seeds `tf.random.experimental.stateless_split(seed, 3)` (flip, crop,
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
    if policy != "none":
        flip_seed, crop_seed, rotation_seed = tf.unstack(
            tf.random.experimental.stateless_split(_stateless_seed(seed), 3)
        )
        batch_size = tf.shape(images)[0]
        flips = draw_flips(batch_size, flip_seed)
        offsets = draw_crop_offsets(batch_size, padding, crop_seed)
        images = crop_and_flip(
            images, padding, offsets, flips, flip_first=policy == "flip_crop"
        )
        if policy == "crop_flip_rotate":
            images = rotate(
                images, draw_angles(batch_size, max_degrees, rotation_seed)
            )
    return tf.cast(images, tf.float32)
