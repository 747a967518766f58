"""Tests of `keras_robust.data.augment` (the `keras.ops` augmentation).

Every test is `backend_independent`: CI repeats this module under the jax
and torch backends (`KERAS_BACKEND=jax pytest tests/test_augment.py -m
backend_independent`). The references are NumPy transcriptions of the
torchvision transforms of supplement 1, PIL's `Image.rotate` (what
torchvision's `RandomRotation` calls on a PIL image), TensorFlow's
`ImageProjectiveTransformV3` kernel and closed-form expectations.

The distribution tests recover the random draws from augmented
position-coded images; every count must lie within 6 binomial standard
deviations of its expectation (a false alarm has probability below 1e-8
per count, and the seeds are fixed).
"""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_robust import data
from keras_robust.data import augment

pytestmark = pytest.mark.backend_independent

PADDING = 4
SIZE = 16  # test images are SIZE x SIZE; the centre is never padding
NUM_DRAWS = 2048


def _numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


def _reference_crop(images, offsets, flips, flip_first, padding=PADDING):
    """torchvision semantics in NumPy: (flip,) zero-pad, crop, (flip)."""
    height, width = images.shape[1:3]
    out = np.zeros_like(images)
    for b, image in enumerate(images):
        if flip_first and flips[b]:
            image = image[:, ::-1]
        padded = np.pad(image, [(padding, padding), (padding, padding), (0, 0)])
        row, column = offsets[b]
        crop = padded[row : row + height, column : column + width]
        if not flip_first and flips[b]:
            crop = crop[:, ::-1]
        out[b] = crop
    return out


def _reference_rotation_source(angle_degrees, height, width):
    """Source pixel (row, column) of every output pixel, in float64.

    Rotation by `angle` counter-clockwise about ((w - 1) / 2, (h - 1) / 2),
    nearest neighbour rounding half away from zero.
    """
    angle = np.deg2rad(angle_degrees)
    y, x = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    center_x, center_y = (width - 1) / 2, (height - 1) / 2
    dx, dy = x - center_x, y - center_y
    source_x = np.cos(angle) * dx - np.sin(angle) * dy + center_x
    source_y = np.sin(angle) * dx + np.cos(angle) * dy + center_y

    def round_half_away(values):
        return np.sign(values) * np.floor(np.abs(values) + 0.5)

    return round_half_away(source_y), round_half_away(source_x)


def _position_images(count, size=SIZE):
    """float32 images whose pixel (y, x) holds 1 + y * size + x."""
    image = 1.0 + np.arange(size * size, dtype=np.float32).reshape(size, size)
    return np.repeat(image[np.newaxis, :, :, np.newaxis], count, axis=0)


def _recover_draws(out, size=SIZE, padding=PADDING):
    """Crop offsets and flips of `"flip_crop"` outputs of position images.

    `"flip_crop"` mirrors the image, then crops from the zero-padded image,
    so output pixel (y, x) holds source pixel
    (off_r + y - p, off_c + x - p), or (off_r + y - p, w - 1 + p - off_c - x)
    when mirrored.
    """
    y = x = size // 2
    source = out[:, y, x : x + 2, 0].astype(np.int64) - 1
    assert np.all(source >= 0), "the centre pixels are never padding"
    rows, columns = source[:, 0] // size, source[:, 0] % size
    flips = (source[:, 1] % size) < columns
    offset_rows = rows - y + padding
    offset_columns = np.where(
        flips, size - 1 + padding - columns - x, columns - x + padding
    )
    return offset_rows, offset_columns, flips


def _assert_uniform(values, num_values):
    counts = np.bincount(values, minlength=num_values)
    assert counts.size == num_values, counts
    p = 1.0 / num_values
    tolerance = 6 * math.sqrt(values.size * p * (1 - p))
    np.testing.assert_array_less(np.abs(counts - values.size * p), tolerance)


def _expected_inside(size=SIZE, padding=PADDING):
    """P(pixel y of a crop is inside the image), offsets uniform in [0, 2p]."""
    offsets = np.arange(2 * padding + 1)
    source = offsets[:, np.newaxis] + np.arange(size) - padding
    return np.mean((source >= 0) & (source < size), axis=0)


# ------------------------------------------------------ the pixel maps


@pytest.mark.parametrize("flip_first", [True, False])
def test_crop_and_flip_matches_pad_and_slice(flip_first):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (16, 9, 7, 3), dtype=np.uint8)
    offsets = rng.integers(0, 9, (16, 2)).astype(np.int32)
    flips = rng.random(16) < 0.5
    got = augment.crop_and_flip(images, 4, offsets, flips, flip_first)
    np.testing.assert_array_equal(
        _numpy(got), _reference_crop(images, offsets, flips, flip_first)
    )


def _random_rotations(seed, shape):
    """Random uint8 images (no zero pixel), angles and their `rotate`."""
    rng = np.random.default_rng(seed)
    images = rng.integers(1, 256, shape, dtype=np.uint8)
    angles = rng.uniform(-15, 15, shape[0]).astype(np.float32)
    return images, angles, _numpy(augment.rotate(images, angles))


def test_rotate_matches_tensorflow_and_numpy_references():
    tf = pytest.importorskip("tensorflow")
    images, angles, got = _random_rotations(3, (32, 12, 10, 3))
    # TensorFlow's kernel, nearest interpolation, constant zero fill.
    expected = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=_numpy(augment.rotation_transforms(angles, 12, 10)),
        output_shape=[12, 10],
        fill_value=0.0,
        interpolation="NEAREST",
        fill_mode="CONSTANT",
    )
    np.testing.assert_array_equal(got, expected.numpy())
    # The float64 NumPy reference: zero where the source is outside.
    for image, angle, out in zip(images, angles, got):
        rows, columns = _reference_rotation_source(float(angle), 12, 10)
        inside = (rows >= 0) & (rows < 12) & (columns >= 0) & (columns < 10)
        reference = np.zeros_like(image)
        reference[inside] = image[
            rows[inside].astype(int), columns[inside].astype(int)
        ]
        np.testing.assert_array_equal(out, reference)
    # Positive angles turn counter-clockwise, as PIL and torchvision.
    square = images[:1, :10]
    np.testing.assert_array_equal(
        _numpy(augment.rotate(square, np.array([90.0], "float32")))[0],
        np.rot90(square[0]),
    )


def test_rotate_agrees_with_pil_as_torchvision_calls_it():
    image_module = pytest.importorskip("PIL.Image")
    images, angles, got = _random_rotations(5, (64, 32, 32, 3))
    # torchvision: F.rotate(img, angle, InterpolationMode.NEAREST, fill=0).
    expected = np.stack(
        [
            np.asarray(
                image_module.fromarray(image).rotate(
                    float(angle), resample=image_module.NEAREST, fillcolor=0
                )
            )
            for image, angle in zip(images, angles)
        ]
    )
    # PIL rounds in float64; near-ties may round the other way.
    differ = np.any(got != expected, axis=-1)
    assert differ.mean() < 1e-3, differ.mean()


# ------------------------------------------------------------ the draws


def test_crops_differ_between_images_of_one_batch():
    image = np.random.default_rng(0).integers(0, 256, (1, 32, 32, 3), np.uint8)
    batch = np.repeat(image, 64, axis=0)
    out = _numpy(augment.augment_images(batch, "flip_crop", seed=5))
    distinct = {out[i].tobytes() for i in range(64)}
    # 162 equally likely (offset, flip) pairs: 64 draws give many results.
    assert len(distinct) > 30


def test_flip_crop_draws_are_uniform_and_independent():
    images = _position_images(NUM_DRAWS)
    for seed in (keras.random.SeedGenerator(3), 7):
        out = _numpy(augment.augment_images(images, "flip_crop", seed=seed))
        offset_rows, offset_columns, flips = _recover_draws(out)
        _assert_uniform(offset_rows, 2 * PADDING + 1)
        _assert_uniform(offset_columns, 2 * PADDING + 1)
        _assert_uniform(flips.astype(int), 2)
        # Independent draws (an int seed is split into three): each
        # (flip, row offset) pair has probability 1/18.
        num_offsets = 2 * PADDING + 1
        _assert_uniform(flips * num_offsets + offset_rows, 2 * num_offsets)
        # Rebuilding with the recovered draws gives the output back.
        offsets = np.stack([offset_rows, offset_columns], axis=1)
        np.testing.assert_array_equal(
            _reference_crop(images, offsets, flips, flip_first=True), out
        )
    # An int seed gives the same draws on every call.
    again = _numpy(augment.augment_images(images, "flip_crop", seed=7))
    np.testing.assert_array_equal(again, out)


@pytest.mark.parametrize("policy", ["flip_crop", "crop_flip_rotate"])
def test_an_int_seed_fixes_the_draws(policy):
    images = np.random.default_rng(4).integers(0, 256, (5, 32, 32, 3), np.uint8)
    first = augment.augment_images(images, policy, seed=12)
    assert ops.convert_to_numpy(first).dtype == np.float32
    again = augment.augment_images(images, policy, seed=12)
    other = augment.augment_images(images, policy, seed=13)
    np.testing.assert_array_equal(_numpy(first), _numpy(again))
    assert not np.array_equal(_numpy(first), _numpy(other))


def test_angle_draws_are_uniform_within_the_limit():
    angles = _numpy(
        augment.draw_angles(NUM_DRAWS, 15.0, keras.random.SeedGenerator(4))
    )
    assert angles.min() >= -15.0 and angles.max() <= 15.0
    _assert_uniform(np.floor((angles + 15.0) / 3.0).astype(int), 10)


def test_constant_image_pixel_means_match_closed_forms():
    images = np.full((NUM_DRAWS, SIZE, SIZE, 1), 255, np.uint8)
    inside = _expected_inside()
    # flip_crop: P(pixel not padding) factorises over rows and columns.
    expected = np.outer(inside, inside)
    out = augment.augment_images(
        images, "flip_crop", seed=keras.random.SeedGenerator(1)
    )
    means = _numpy(out)[..., 0].mean(axis=0) / 255.0
    sigma = np.sqrt(expected * (1 - expected) / NUM_DRAWS)
    np.testing.assert_array_less(np.abs(means - expected), 6 * sigma + 1e-9)
    # crop_flip_rotate: a pixel is not zero where its rotation source is
    # inside the image and that source's crop source is too (the flip
    # maps the crop's inside probabilities onto themselves): integrated
    # over angles uniform in [-15, 15] with the midpoint rule.
    num_angles = 3000
    angles = -15.0 + 30.0 * (np.arange(num_angles) + 0.5) / num_angles
    expected = np.zeros((SIZE, SIZE))
    for angle in angles:
        rows, columns = _reference_rotation_source(angle, SIZE, SIZE)
        valid = (rows >= 0) & (rows < SIZE) & (columns >= 0) & (columns < SIZE)
        rows = np.clip(rows, 0, SIZE - 1).astype(int)
        columns = np.clip(columns, 0, SIZE - 1).astype(int)
        expected += valid * inside[rows] * inside[columns]
    expected /= num_angles
    out = augment.augment_images(
        images, "crop_flip_rotate", seed=keras.random.SeedGenerator(2)
    )
    means = _numpy(out)[..., 0].mean(axis=0) / 255.0
    sigma = np.sqrt(expected * (1 - expected) / NUM_DRAWS)
    np.testing.assert_array_less(np.abs(means - expected), 6 * sigma + 0.01)
    # Rotation zeroes corners that crop and flip alone never do.
    assert expected[0, 0] < np.outer(inside, inside)[0, 0] - 0.1


def test_rotation_only_in_the_cifar100_policy():
    assert data.get_spec("cifar100").augmentation == "crop_flip_rotate"
    assert data.get_spec("cifar10").augmentation == "flip_crop"
    assert data.get_spec("fashion_mnist").augmentation == "flip_crop"
    image = np.random.default_rng(0).integers(1, 256, (1, 16, 16, 1), np.uint8)
    batch = np.repeat(image, 32, axis=0)
    mirrored = image[:, :, ::-1]

    def flip_only(out):
        return np.all(
            np.all(out == image, axis=(1, 2, 3))
            | np.all(out == mirrored, axis=(1, 2, 3))
        )

    # Without padding the crop is the identity: what remains is flip (and
    # rotation, which zeroes corners of an image with no zero pixel).
    out = augment.augment_images(batch, "flip_crop", seed=2, padding=0)
    assert flip_only(_numpy(out))
    out = _numpy(
        augment.augment_images(batch, "crop_flip_rotate", seed=2, padding=0)
    )
    assert not flip_only(out)
    assert np.mean(out[:, 0, 0, 0] == 0) > 0.5
    with pytest.raises(ValueError, match="Known policies"):
        augment.augment_images(batch, "cutout", seed=0)


# ------------------------------------------------------- normalisation


def test_normalize_values():
    images = np.array([0, 255], np.uint8).reshape(1, 1, 2, 1)
    out = _numpy(augment.normalize(images, (0.5,), (0.25,))).ravel()
    np.testing.assert_allclose(out, [-2.0, 2.0], rtol=1e-6)


@pytest.mark.parametrize(
    "name, mean, std",
    [
        # Supplement 1 of the paper.
        ("cifar10", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ("fashion_mnist", (0.286,), (0.353,)),
        ("cifar100", (0.507, 0.487, 0.441), (0.267, 0.256, 0.276)),
    ],
)
def test_layer_normalizes_with_the_paper_constants(name, mean, std):
    spec = data.get_spec(name)
    layer = augment.DeviceAugmentation.from_spec(spec, seed=0)
    assert layer.policy == spec.augmentation
    assert (layer.mean, layer.std) == (mean, std)
    images = np.random.default_rng(2).integers(
        0, 256, (8, *spec.image_shape), np.uint8
    )
    expected = (images / 255.0 - np.array(mean)) / np.array(std)
    for training in (False, None):
        np.testing.assert_allclose(
            _numpy(layer(images, training=training)), expected, atol=1e-5
        )
    plain = augment.DeviceAugmentation.from_spec(spec, policy="none")
    np.testing.assert_allclose(
        _numpy(plain(images, training=True)), expected, atol=1e-5
    )
    first = _numpy(layer(images, training=True))
    second = _numpy(layer(images, training=True))
    assert not np.allclose(first, expected)
    assert not np.allclose(first, second)  # new draws on every call
    # Crop padding is zero in raw pixel space: -mean/std after normalising.
    border = first[:, 0].reshape(-1, len(mean))
    zero = -np.array(mean) / np.array(std)
    assert np.any(np.all(np.isclose(border, zero, atol=1e-5), axis=1))


# ------------------------------------------------------------ the layer


def test_layer_config_round_trip_and_errors():
    layer = augment.DeviceAugmentation(
        "crop_flip_rotate",
        padding=2,
        max_degrees=10.0,
        mean=(0.5, 0.4, 0.3),
        std=(0.2, 0.3, 0.4),
        seed=9,
    )
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(restored, augment.DeviceAugmentation)
    for name in ("policy", "padding", "max_degrees", "mean", "std", "seed"):
        assert getattr(restored, name) == getattr(layer, name), name
    with pytest.raises(ValueError, match="Known policies"):
        augment.DeviceAugmentation("cutmix")
    with pytest.raises(ValueError, match="padding=-1"):
        augment.DeviceAugmentation("flip_crop", padding=-1)
    with pytest.raises(ValueError, match="max_degrees"):
        augment.DeviceAugmentation("flip_crop", max_degrees=-5)
    with pytest.raises(ValueError, match=r"std.*\(1\.0, 0\.0\)"):
        augment.DeviceAugmentation("flip_crop", std=(1.0, 0.0))
    with pytest.raises(ValueError, match="seed=None"):
        augment.DeviceAugmentation("flip_crop").reseed(0)


def test_reseed_makes_an_epoch_depend_on_seed_and_epoch_only():
    images = _position_images(64)

    def draws(layer, epoch):
        layer.reseed(epoch)
        return _numpy(layer(images, training=True))

    layer = augment.DeviceAugmentation("crop_flip_rotate", seed=5)
    first_epoch = draws(layer, 0)
    layer(images, training=True)  # more draws within epoch 0
    second_epoch = draws(layer, 1)
    fresh = augment.DeviceAugmentation("crop_flip_rotate", seed=5)
    np.testing.assert_array_equal(draws(fresh, 1), second_epoch)
    np.testing.assert_array_equal(draws(fresh, 0), first_epoch)
    assert not np.array_equal(first_epoch, second_epoch)
    other_seed = augment.DeviceAugmentation("crop_flip_rotate", seed=6)
    assert not np.array_equal(draws(other_seed, 1), second_epoch)


def test_reseed_callback_reaches_layers_in_nested_models():
    layer = augment.DeviceAugmentation("flip_crop", seed=3)
    inner = keras.Sequential([keras.Input((SIZE, SIZE, 1)), layer])
    model = keras.Sequential([keras.Input((SIZE, SIZE, 1)), inner])
    callback = data.ReseedAugmentation()
    callback.set_model(model)
    images = _position_images(32)
    callback.on_epoch_begin(4)
    got = _numpy(layer(images, training=True))
    reference = augment.DeviceAugmentation("flip_crop", seed=3)
    reference.reseed(4)
    np.testing.assert_array_equal(got, _numpy(reference(images, training=True)))


def test_layer_trains_inside_a_compiled_model():
    spec = data.get_spec("cifar10")
    inputs = keras.Input((8, 8, 3), dtype="uint8")
    x = augment.DeviceAugmentation.from_spec(spec, seed=1)(inputs)
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=keras.backend.backend() != "torch",
    )
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (32, 8, 8, 3), np.uint8)
    labels = rng.integers(0, 10, 32)
    history = model.fit(
        images, labels, batch_size=16, epochs=1, verbose=0,
        callbacks=[data.ReseedAugmentation()],
    )
    assert np.isfinite(history.history["loss"][0])
    predictions = model.predict(images, verbose=0)
    np.testing.assert_allclose(
        predictions, model.predict(images, verbose=0), rtol=1e-6
    )
