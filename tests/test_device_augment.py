"""Tests of `keras_robust.data.device_augment` (`keras.ops` augmentation).

The `backend_independent` tests use only `keras.ops` for the code under
test (TensorFlow serves as the reference) and run under every backend:
`KERAS_BACKEND=jax pytest tests/test_device_augment.py -m
backend_independent`.

The distribution tests compare the device augmentation with the tf.data
augmentation (`augment.py`) through exact expectations: the random draws
are recovered from augmented position-coded images, and every count must
lie within 6 binomial standard deviations of its expectation (a false
alarm has probability below 1e-8 per count, and the seeds are fixed).
"""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_robust.data import augment
from keras_robust.data import device_augment
from keras_robust.data.datasets import get_spec

PADDING = 4
SIZE = 16  # test images are SIZE x SIZE; the centre is never padding
NUM_DRAWS = 2048


def _numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


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


def _check_flip_crop_draws(out):
    offset_rows, offset_columns, flips = _recover_draws(out)
    _assert_uniform(offset_rows, 2 * PADDING + 1)
    _assert_uniform(offset_columns, 2 * PADDING + 1)
    _assert_uniform(flips.astype(int), 2)
    # Independent draws: each (flip, row offset) pair has probability 1/18.
    num_offsets = 2 * PADDING + 1
    _assert_uniform(flips * num_offsets + offset_rows, 2 * num_offsets)
    # Reconstructing with the recovered draws gives the output back.
    images = _position_images(len(out))
    rebuilt = augment.crop_and_flip(
        images,
        PADDING,
        np.stack([offset_rows, offset_columns], axis=1).astype(np.int32),
        flips,
        flip_first=True,
    )
    np.testing.assert_array_equal(rebuilt.numpy(), out)


@pytest.mark.backend_independent
@pytest.mark.parametrize("flip_first", [True, False])
def test_crop_and_flip_equals_tf_twin(flip_first):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (16, 9, 7, 3), dtype=np.uint8)
    offsets = rng.integers(0, 9, (16, 2)).astype(np.int32)
    flips = rng.random(16) < 0.5
    got = device_augment.crop_and_flip(images, 4, offsets, flips, flip_first)
    expected = augment.crop_and_flip(images, 4, offsets, flips, flip_first)
    np.testing.assert_array_equal(_numpy(got), expected.numpy())


@pytest.mark.backend_independent
def test_rotate_equals_tf_twin():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (32, 12, 10, 3), dtype=np.uint8)
    angles = rng.uniform(-15, 15, 32).astype(np.float32)
    np.testing.assert_array_equal(
        _numpy(device_augment.rotate(images, angles)),
        augment.rotate(images, angles).numpy(),
    )
    square = images[:1, :10]
    np.testing.assert_array_equal(
        _numpy(device_augment.rotate(square, np.array([90.0], "float32")))[0],
        np.rot90(square[0]),
    )


@pytest.mark.backend_independent
def test_flip_crop_draws_have_the_tf_distribution():
    images = _position_images(NUM_DRAWS)
    device_out = _numpy(
        device_augment.augment_images(
            images, "flip_crop", seed=keras.random.SeedGenerator(3)
        )
    )
    tf_out = augment.augment_batch(images, "flip_crop", seed=[0, 3]).numpy()
    _check_flip_crop_draws(device_out)
    _check_flip_crop_draws(tf_out)
    # An int seed is split: flips, offsets and angles stay independent.
    int_seed_out = _numpy(device_augment.augment_images(images, "flip_crop", 7))
    _check_flip_crop_draws(int_seed_out)
    again = _numpy(device_augment.augment_images(images, "flip_crop", 7))
    np.testing.assert_array_equal(again, int_seed_out)


def _expected_inside(size=SIZE, padding=PADDING):
    """P(pixel y of a crop is inside the image), offsets uniform in [0, 2p]."""
    offsets = np.arange(2 * padding + 1)
    source = offsets[:, np.newaxis] + np.arange(size) - padding
    return np.mean((source >= 0) & (source < size), axis=0)


@pytest.mark.backend_independent
def test_constant_image_pixel_means_agree():
    images = np.full((NUM_DRAWS, SIZE, SIZE, 1), 255, np.uint8)
    inside = _expected_inside()
    expected = np.outer(inside, inside)  # P(pixel not padding)
    sigma = np.sqrt(expected * (1 - expected) / NUM_DRAWS)
    means = {}
    for name, out in [
        (
            "device",
            device_augment.augment_images(
                images, "flip_crop", seed=keras.random.SeedGenerator(1)
            ),
        ),
        ("tf", augment.augment_batch(images, "flip_crop", seed=[0, 1])),
    ]:
        means[name] = _numpy(out)[..., 0].mean(axis=0) / 255.0
        np.testing.assert_array_less(
            np.abs(means[name] - expected), 6 * sigma + 1e-9
        )
    # With rotation there is no closed form: compare the two directly.
    for name, out in [
        (
            "device",
            device_augment.augment_images(
                images, "crop_flip_rotate", seed=keras.random.SeedGenerator(2)
            ),
        ),
        ("tf", augment.augment_batch(images, "crop_flip_rotate", seed=[0, 2])),
    ]:
        means[name] = _numpy(out)[..., 0].mean(axis=0) / 255.0
    p = (means["device"] + means["tf"]) / 2
    sigma = np.sqrt(2 * p * (1 - p) / NUM_DRAWS)
    np.testing.assert_array_less(
        np.abs(means["device"] - means["tf"]), 6 * sigma + 1e-9
    )
    # Rotation zeroes corners that crop and flip alone never do.
    assert means["tf"][0, 0] < expected[0, 0] - 0.1
    # The fraction of zeroed pixels per image agrees as well.
    zero_fraction = 1 - means["device"].mean(), 1 - means["tf"].mean()
    assert abs(zero_fraction[0] - zero_fraction[1]) < 0.01


@pytest.mark.backend_independent
def test_angle_draws_have_the_tf_distribution():
    tf_angles = augment.draw_angles(NUM_DRAWS, 15.0, [0, 4]).numpy()
    device_angles = _numpy(
        device_augment.draw_angles(
            NUM_DRAWS, 15.0, keras.random.SeedGenerator(4)
        )
    )
    for angles in (tf_angles, device_angles):
        assert angles.min() >= -15.0 and angles.max() <= 15.0
        _assert_uniform(np.floor((angles + 15.0) / 3.0).astype(int), 10)


@pytest.mark.backend_independent
def test_layer_without_training_only_normalizes():
    spec = get_spec("cifar10")
    layer = device_augment.DeviceAugmentation.from_spec(spec, seed=0)
    images = np.random.default_rng(2).integers(0, 256, (8, 32, 32, 3), np.uint8)
    expected = augment.normalize(images, spec.mean, spec.std).numpy()
    for training in (False, None):
        np.testing.assert_allclose(
            _numpy(layer(images, training=training)), expected, atol=1e-5
        )
    plain = device_augment.DeviceAugmentation.from_spec(spec, policy="none")
    np.testing.assert_allclose(
        _numpy(plain(images, training=True)), expected, atol=1e-5
    )
    first = _numpy(layer(images, training=True))
    second = _numpy(layer(images, training=True))
    assert not np.allclose(first, expected)
    assert not np.allclose(first, second)  # new draws on every call


@pytest.mark.backend_independent
def test_layer_config_round_trip_and_errors():
    layer = device_augment.DeviceAugmentation(
        "crop_flip_rotate",
        padding=2,
        max_degrees=10.0,
        mean=(0.5, 0.4, 0.3),
        std=(0.2, 0.3, 0.4),
        seed=9,
    )
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(restored, device_augment.DeviceAugmentation)
    for name in ("policy", "padding", "max_degrees", "mean", "std", "seed"):
        assert getattr(restored, name) == getattr(layer, name), name
    with pytest.raises(ValueError, match="Known policies"):
        device_augment.DeviceAugmentation("cutmix")
    with pytest.raises(ValueError, match="padding=-1"):
        device_augment.DeviceAugmentation("flip_crop", padding=-1)
    with pytest.raises(ValueError, match="max_degrees"):
        device_augment.DeviceAugmentation("flip_crop", max_degrees=-5)


@pytest.mark.backend_independent
def test_layer_trains_inside_a_compiled_model():
    spec = get_spec("cifar10")
    inputs = keras.Input((8, 8, 3), dtype="uint8")
    x = device_augment.DeviceAugmentation.from_spec(spec, seed=1)(inputs)
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
    history = model.fit(images, labels, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    predictions = model.predict(images, verbose=0)
    np.testing.assert_allclose(
        predictions, model.predict(images, verbose=0), rtol=1e-6
    )


def test_on_device_pipeline_with_device_augmentation():
    from keras_robust import data

    dataset = data.load_dataset("digits")
    pipelines = data.make_pipelines(
        dataset, batch_size=64, noise_rate=0.2, on_device=True, train_size=256
    )
    images, _ = next(iter(pipelines.train_dataset()))
    assert images.dtype.name == "uint8"
    layer = pipelines.device_augmentation()
    assert layer.policy == dataset.spec.augmentation
    assert layer.mean == dataset.spec.mean
    inputs = keras.Input(dataset.spec.image_shape, dtype="uint8")
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(layer(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        pipelines.train_dataset(),
        epochs=1,
        steps_per_epoch=pipelines.steps_per_epoch,
        shuffle=False,
        verbose=0,
    )
    result = model.evaluate(
        pipelines.test_dataset(), verbose=0, return_dict=True
    )
    assert 0.0 <= result["accuracy"] <= 1.0
