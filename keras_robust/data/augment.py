"""Supplement-1 augmentation and normalisation with `keras.ops`, in the model.

The paper augments ResNet training batches with torchvision transforms:

- CIFAR-10 and Fashion-MNIST (`"flip_crop"`): random horizontal flip, then
  a random crop to the original size from the image zero-padded by 4 pixels.
- CIFAR-100 (`"crop_flip_rotate"`): random crop with padding 4, random
  horizontal flip, random rotation by an angle uniform in [-15, 15] degrees
  (nearest neighbour, zero fill).

Every image of a batch gets its own random draws (unlike Keras 3's
`RandomCrop`, which draws one offset per call). Padding is applied in raw
pixel space, before normalisation, like `torchvision.transforms.RandomCrop(
size, padding=4)` on a PIL image.

`DeviceAugmentation` is the layer a model starts with: it takes raw images
(uint8, as both feeding paths deliver them: the tf.data pipelines and the
device-resident data), augments them during training and normalises them
always, `(x / 255 - mean) / std`. It is compiled with the train step
(XLA under TensorFlow, `jax.jit` under JAX) and runs wherever the step runs.
Only `keras.ops` and `keras.random` are used, so it works on every Keras
backend. `ReseedAugmentation` makes the draws of every epoch a function of
`(seed, epoch)`, so that a resumed run is augmented exactly like an
uninterrupted one.

Implementation: crop, flip and nearest-neighbour rotation only move pixels,
so their composition is computed as one map from output pixel to source
pixel (`source_index`) and a single `ops.take` from a "pixel table" (the
images' pixels, one row each, plus a final zero row that every pixel from
outside the image reads). It gives the same result on every backend,
unlike `ops.image.affine_transform`, whose nearest rounding differs between
backends.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_robust.data.datasets import AUGMENTATION_POLICIES

# Supplement 1: crops with zero padding 4, rotations up to 15 degrees.
PADDING = 4
MAX_DEGREES = 15.0


def check_policy(policy):
    """Raises unless `policy` is one of `AUGMENTATION_POLICIES`."""
    if policy not in AUGMENTATION_POLICIES:
        raise ValueError(
            f"Unknown augmentation policy: policy={policy!r}. "
            f"Known policies: {AUGMENTATION_POLICIES}"
        )


def check_padding(padding):
    """Raises unless the crop padding is a non-negative integer."""
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(
            "`padding` must be a non-negative integer. "
            f"Received: padding={padding!r}"
        )


def check_max_degrees(max_degrees):
    """Returns the rotation limit as a float; raises unless finite and >= 0."""
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
    """Per-image crop corners `(batch_size, 2)` int32 `(row, column)`.

    Uniform in `[0, 2 * padding]`: the top-left corner of the crop in the
    padded image, as in torchvision's `RandomCrop`.
    """
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


def rotation_transforms(angles_degrees, height, width):
    """Projective transforms `(batch, 8)` rotating about the image centre.

    The transform maps output pixel `(x, y)` to the input pixel it reads,
    the rotation by `angle` counter-clockwise (as PIL's `Image.rotate` and
    torchvision's `rotate`) about `((width - 1) / 2, (height - 1) / 2)`.
    This is the convention of `keras.ops.image.affine_transform` and
    `tf.raw_ops.ImageProjectiveTransformV3`.
    """
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


def _round_half_away(values):
    # `std::round`, as in TensorFlow's nearest-neighbour image transforms.
    return ops.sign(values) * ops.floor(ops.abs(values) + 0.5)


def _inside(rows, columns, height, width):
    return ops.logical_and(
        ops.logical_and(rows >= 0, rows < height),
        ops.logical_and(columns >= 0, columns < width),
    )


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
    image `image_index[b]`: cropped at `offsets[b]` from the image
    zero-padded by `padding`, mirrored left-right where `flips[b]`, rotated
    by `angles[b]` degrees (nearest neighbour). With `flip_first`, the
    mirroring comes before the crop instead (the crop reads the mirrored
    padded image). Pixels that come from outside the image read row
    `zero_index`.

    Args:
        image_index: int32 `(batch,)`, which image of the table.
        image_shape: `(height, width)` (or with channels) of one image.
        zero_index: Row of the table's zero pixel (`N * height * width`).
        padding: Zero padding of the crop.
        offsets: int `(batch, 2)` crop corners in `[0, 2 * padding]`, or
            `None` for no crop.
        flips: bool `(batch,)`, or `None` for no flip.
        angles: float `(batch,)` counter-clockwise angles in degrees, or
            `None` for no rotation.
        flip_first: Whether the flip comes before the crop.

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
        # Clipped before the cast so that huge values cannot overflow.
        columns = ops.cast(
            ops.clip(_round_half_away(source_x), -1.0, float(width)), "int32"
        )
        rows = ops.cast(
            ops.clip(_round_half_away(source_y), -1.0, float(height)), "int32"
        )
        inside = _inside(rows, columns, height, width)
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
        in_image = _inside(rows, columns, height, width)
        inside = (
            in_image if inside is None else ops.logical_and(inside, in_image)
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

    Output pixel `(y, x)` of image `b` is pixel
    `(offsets[b, 0] + y, offsets[b, 1] + x)` of the zero-padded image.
    Where `flips[b]`, the image is also mirrored left-right: before the
    crop if `flip_first` (the crop then reads the mirrored padded image),
    after it otherwise. One `ops.take` does the whole batch in the input
    dtype.

    Args:
        images: `(batch, height, width, channels)` tensor.
        padding: Zero padding on each side.
        offsets: int `(batch, 2)` crop corners in `[0, 2 * padding]`.
        flips: bool `(batch,)`, or `None` for no flip.
        flip_first: Whether the flip comes before the crop.

    Returns:
        The cropped images, same shape and dtype as `images`.
    """
    check_padding(padding)
    return _transform(
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
    constant fill, and of PIL's `Image.rotate(angle, NEAREST)` that
    torchvision's `RandomRotation` calls (up to float rounding at ties).

    Args:
        images: `(batch, height, width, channels)` tensor of any dtype.
        angles_degrees: float `(batch,)`, counter-clockwise angles.

    Returns:
        Tensor of the same shape and dtype.
    """
    return _transform(images, angles=angles_degrees)


def normalization_table(mean, std):
    """The normalised value of every raw pixel value, per channel.

    `table[v, c] = (v / 255 - mean[c]) / std[c]` for `v` in `0..255`,
    computed as `v * (1 / (255 std[c])) - mean[c] / std[c]` with the two
    float32 constants and one rounding to float32 at the end (in float64,
    where the product and the difference are exact), i.e. what a fused
    multiply-add gives.

    Args:
        mean: Per-channel means on the `[0, 1]` scale (`DatasetSpec.mean`).
        std: Per-channel standard deviations on the `[0, 1]` scale.

    Returns:
        float32 NumPy array `(256, channels)`.
    """
    mean = np.asarray(mean, np.float32).reshape(-1)
    std = np.asarray(std, np.float32).reshape(-1)
    scale = np.float32(1.0) / (np.float32(255.0) * std)
    offset = mean / std
    values = np.arange(256, dtype=np.float64)[:, None]
    table = values * scale.astype(np.float64) - offset.astype(np.float64)
    return table.astype(np.float32)


def normalize(images, mean, std):
    """Normalises raw `[0, 255]` images: `(images / 255 - mean) / std`.

    Integer images (uint8, as the pipelines feed them) are looked up in
    `normalization_table(mean, std)`: the result is rounded once, the same
    on every backend and device. Float images are computed as
    `images * (1 / (255 std)) - mean / std` in float32.

    Args:
        images: Tensor `(..., channels)` on the raw pixel scale: integers in
            `[0, 255]`, or floats.
        mean: Per-channel means on the `[0, 1]` scale (`DatasetSpec.mean`).
        std: Per-channel standard deviations on the `[0, 1]` scale.

    Returns:
        float32 tensor of the same shape.
    """
    if "int" not in keras.backend.standardize_dtype(images.dtype):
        mean = ops.convert_to_tensor(mean, dtype="float32")
        std = ops.convert_to_tensor(std, dtype="float32")
        return ops.cast(images, "float32") * (1.0 / (255.0 * std)) - mean / std
    table = normalization_table(mean, std)
    channels = table.shape[1]
    indices = ops.cast(images, "int32") * channels + ops.arange(channels, dtype="int32")
    return ops.take(ops.convert_to_tensor(table.reshape(-1)), indices)


def augment_images(
    images, policy, seed=None, padding=PADDING, max_degrees=MAX_DEGREES
):
    """Applies a supplement-1 policy to raw images; float32 `[0, 255]` out.

    Policies (`DatasetSpec.augmentation`):

    - `"flip_crop"`: random flip, then random crop with zero padding
      (CIFAR-10, Fashion-MNIST).
    - `"crop_flip_rotate"`: random crop, flip, then rotation by up to
      `max_degrees` (CIFAR-100).
    - `"none"`: no change.

    Every image has its own draws (`draw_flips`, `draw_crop_offsets`,
    `draw_angles`); the steps are fused into one gather in the input dtype.

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
    check_policy(policy)
    check_padding(padding)
    max_degrees = check_max_degrees(max_degrees)
    if policy == "none":
        return ops.cast(images, "float32")
    flip_seed, crop_seed, rotation_seed = _split_seed(seed)
    batch_size = ops.shape(images)[0]
    flips = draw_flips(batch_size, flip_seed)
    offsets = draw_crop_offsets(batch_size, padding, crop_seed)
    angles = None
    if policy == "crop_flip_rotate":
        angles = draw_angles(batch_size, max_degrees, rotation_seed)
    images = _transform(
        images,
        padding=padding,
        offsets=offsets,
        flips=flips,
        angles=angles,
        flip_first=policy == "flip_crop",
    )
    return ops.cast(images, "float32")


def epoch_seed_state(seed, epoch):
    """The `SeedGenerator` key of `epoch` for a run seeded with `seed`.

    A 31-bit integer drawn by `np.random.SeedSequence([seed, epoch])`, a
    pure function of `(seed, epoch)`. (31 bits: the generator's state is
    uint32 under jax, int32 under torch and int64 under TensorFlow.)
    """
    entropy = [int(seed) & 0xFFFFFFFFFFFFFFFF, int(epoch)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] >> 1)


@keras.saving.register_keras_serializable(package="keras_robust")
class DeviceAugmentation(keras.layers.Layer):
    """Supplement-1 training augmentation plus normalisation, as a layer.

    Put it first in the model and feed raw images (uint8 or float on the
    `[0, 255]` scale), as `make_pipelines` and `make_resident_data` do.
    With `training=True` it applies the policy with random draws per image
    (`augment_images`), then normalises (`normalize`); otherwise
    (evaluation, prediction) it only normalises. So a model with this layer
    expects raw images everywhere, test data included. It runs inside the
    compiled train step, on the device of the step.

    Policies: `"flip_crop"` (random horizontal flip, then random crop with
    zero padding `padding`; CIFAR-10, Fashion-MNIST), `"crop_flip_rotate"`
    (crop, flip, rotation by up to `max_degrees` with nearest interpolation
    and zero fill; CIFAR-100) or `"none"` (normalisation only).

    The draws come from the layer's `keras.random.SeedGenerator`; call
    `reseed(epoch)` at the start of every epoch (the `ReseedAugmentation`
    callback does) to make each epoch's draws a function of
    `(seed, epoch)`, so that a resumed run is augmented exactly like an
    uninterrupted one.

    Args:
        policy: Augmentation policy, see above.
        padding: Zero padding of the crop, in pixels.
        max_degrees: Largest rotation angle, in degrees.
        mean: Per-channel mean on the `[0, 1]` scale (`DatasetSpec.mean`).
        std: Per-channel standard deviation on the `[0, 1]` scale.
        seed: Integer seed of the layer's `keras.random.SeedGenerator`
            (`None`: drawn from Keras's global seed; such a layer cannot
            `reseed`).

    Example:

    >>> spec = DATASETS["cifar10"]
    >>> inputs = keras.Input(spec.image_shape, dtype="uint8")
    >>> x = DeviceAugmentation("flip_crop", mean=spec.mean, std=spec.std,
    ...                        seed=0)(inputs)
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
        check_policy(policy)
        check_padding(padding)
        self.policy = policy
        self.padding = padding
        self.max_degrees = check_max_degrees(max_degrees)
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

    def reseed(self, epoch):
        """Sets the random state to `(epoch_seed_state(seed, epoch), 0)`.

        After it, the draws of the following calls depend only on
        `(seed, epoch)` and on how many calls came before in the epoch.

        Raises:
            ValueError: when the layer has no integer `seed`.
        """
        if isinstance(self.seed, bool) or not isinstance(
            self.seed, (int, np.integer)
        ):
            raise ValueError(
                "`reseed` needs a layer built with an integer `seed`. "
                f"Received: seed={self.seed!r}"
            )
        state = self.seed_generator.state
        key = epoch_seed_state(self.seed, epoch)
        state.assign(np.array([key, 0], dtype=state.dtype))

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
            # Crops, flips and nearest-neighbour rotations move raw pixel
            # values without changing them: integer images stay exact.
            images = ops.cast(images, inputs.dtype)
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


def _augmentation_layers(layer):
    """The `DeviceAugmentation` layers in `layer`, nested models included."""
    if isinstance(layer, DeviceAugmentation):
        yield layer
    for child in getattr(layer, "layers", ()):
        yield from _augmentation_layers(child)


class ReseedAugmentation(keras.callbacks.Callback):
    """Reseeds the model's `DeviceAugmentation` layers at every epoch.

    At the start of epoch `e` (0-based, as `model.fit` counts, so also
    after `initial_epoch=k`) it calls `reseed(e)` on every
    `DeviceAugmentation` layer of the model: the augmentation of epoch `e`
    then depends only on the layer's seed and `e`, like the shuffling of
    the training stream, and a run resumed at epoch `k` sees exactly the
    augmented batches of an uninterrupted one.

    Example:

    ```python
    model.fit(pipelines.train_dataset(start_epoch=k), initial_epoch=k,
              epochs=200, steps_per_epoch=pipelines.steps_per_epoch,
              callbacks=[keras_robust.data.ReseedAugmentation()])
    ```
    """

    def on_epoch_begin(self, epoch, logs=None):
        for layer in _augmentation_layers(self.model):
            layer.reseed(epoch)


def _as_sequence(value):
    if isinstance(value, (int, float)):
        return (value,)
    return tuple(value)
