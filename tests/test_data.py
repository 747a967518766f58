"""Tests of `keras_robust.data`: datasets, label noise, augmentation, pipelines.

Everything runs offline: the paper's TFDS datasets are replaced by
`tfds.testing.mock_data`, and the pipelines run on small synthetic data of
CIFAR shape or on scikit-learn's digits.
"""

import dataclasses
import math

import numpy as np
import pytest
import tensorflow as tf

from keras_robust import data
from keras_robust.data import augment
from keras_robust.data import noise

CIFAR10 = data.get_spec("cifar10")


def _synthetic(spec=CIFAR10, num_train=300, num_test=50, seed=0):
    """A `Dataset` of random uint8 images (all distinct) of `spec`'s shape."""
    rng = np.random.default_rng(seed)
    return data.Dataset(
        spec=spec,
        x_train=rng.integers(
            0, 256, (num_train, *spec.image_shape), dtype=np.uint8
        ),
        y_train=rng.integers(0, spec.num_classes, num_train),
        x_test=rng.integers(
            0, 256, (num_test, *spec.image_shape), dtype=np.uint8
        ),
        y_test=rng.integers(0, spec.num_classes, num_test),
    )


def _take(dataset, count):
    return [
        (images.numpy(), labels.numpy())
        for images, labels in dataset.take(count)
    ]


def _normalized(images, spec):
    return augment.normalize(images, spec.mean, spec.std).numpy()


# ---------------------------------------------------------------- noise


@pytest.mark.parametrize("noise_rate", [0.0, 0.2, 0.4, 0.8, 1.0])
def test_symmetric_noise_rate_and_mask(noise_rate):
    labels = np.random.default_rng(1).integers(0, 10, 1001)
    noisy, mask = noise.symmetric_noise(labels, noise_rate, 10, seed=3)
    assert mask.dtype == bool and noisy.shape == labels.shape
    assert abs(mask.sum() - noise_rate * labels.size) <= 1
    # Only masked examples may change.
    np.testing.assert_array_equal(noisy[~mask], labels[~mask])
    assert noisy.min() >= 0 and noisy.max() < 10
    if mask.sum() > 300:
        # A re-drawn label equals the true one with probability 1/c.
        kept = np.mean(noisy[mask] == labels[mask])
        assert abs(kept - 0.1) < 6 * math.sqrt(0.09 / mask.sum())
        # ... and the new labels cover all classes about equally.
        counts = np.bincount(noisy[mask], minlength=10)
        expected = mask.sum() / 10
        assert np.all(np.abs(counts - expected) < 6 * math.sqrt(expected))


def test_symmetric_noise_is_determined_by_seed():
    labels = np.arange(500) % 10
    first = noise.symmetric_noise(labels, 0.5, 10, seed=7)
    second = noise.symmetric_noise(labels, 0.5, 10, seed=7)
    other = noise.symmetric_noise(labels, 0.5, 10, seed=8)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize("bad_rate", [-0.1, 1.5, float("nan"), "0.3x", True])
def test_noise_rate_outside_unit_interval_is_refused(bad_rate):
    with pytest.raises(ValueError, match=r"noise_rate.*\[0, 1\]"):
        noise.symmetric_noise(np.zeros(10, int), bad_rate, 10, seed=0)
    with pytest.raises(ValueError, match="noise_rate"):
        data.make_pipelines(_synthetic(), batch_size=8, noise_rate=bad_rate)


def test_noise_labels_out_of_range_are_refused():
    with pytest.raises(ValueError, match=r"labels.*\[0, 10\)"):
        noise.symmetric_noise(np.array([0, 3, 10]), 0.5, 10, seed=0)


def test_pair_flip_transition_and_asymmetric_noise():
    matrix = noise.pair_flip_transition(4, 0.3)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    assert matrix[0, 1] == pytest.approx(0.3)
    assert matrix[3, 0] == pytest.approx(0.3)
    assert matrix[2, 2] == pytest.approx(0.7)
    labels = np.arange(4000) % 4
    noisy, mask = noise.apply_label_noise(labels, "pair_flip", 0.3, 4, seed=2)
    # Flips go only to the next class, at the given rate.
    np.testing.assert_array_equal(noisy[mask], (labels[mask] + 1) % 4)
    np.testing.assert_array_equal(mask, noisy != labels)
    assert abs(mask.mean() - 0.3) < 6 * math.sqrt(0.21 / 4000)
    # "asymmetric" without a matrix is pair flip; with one it follows it.
    same, _ = noise.apply_label_noise(labels, "asymmetric", 0.3, 4, seed=2)
    np.testing.assert_array_equal(same, noisy)
    swap = np.array(
        [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], float
    )
    noisy, mask = noise.apply_label_noise(
        labels, "asymmetric", 0.5, 4, seed=2, transition_matrix=swap
    )
    np.testing.assert_array_equal(noisy, np.array([1, 0, 2, 3])[labels])
    np.testing.assert_array_equal(mask, labels < 2)


def test_noise_argument_errors():
    labels = np.arange(10) % 2
    with pytest.raises(ValueError, match="Known kinds"):
        noise.apply_label_noise(labels, "uniform", 0.2, 2, seed=0)
    with pytest.raises(ValueError, match="row-stochastic"):
        noise.asymmetric_noise(labels, [[0.5, 0.6], [0.5, 0.5]], seed=0)
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        noise.apply_label_noise(
            labels, "asymmetric", 0.2, 2, seed=0, transition_matrix=np.eye(3)
        )
    with pytest.raises(ValueError, match="only used with kind='asymmetric'"):
        noise.apply_label_noise(
            labels, "symmetric", 0.2, 2, seed=0, transition_matrix=np.eye(2)
        )


# ---------------------------------------------------------- augmentation


def _reference_crop(images, offsets, flips, flip_first, padding=4):
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


@pytest.mark.parametrize("flip_first", [True, False])
def test_crop_and_flip_matches_pad_and_slice(flip_first):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (16, 9, 7, 3), dtype=np.uint8)
    offsets = rng.integers(0, 9, (16, 2)).astype(np.int32)
    flips = rng.random(16) < 0.5
    got = augment.crop_and_flip(images, 4, offsets, flips, flip_first)
    np.testing.assert_array_equal(
        got.numpy(), _reference_crop(images, offsets, flips, flip_first)
    )


def test_crops_differ_between_images_of_one_batch():
    image = np.random.default_rng(0).integers(0, 256, (1, 32, 32, 3), np.uint8)
    batch = np.repeat(image, 64, axis=0)
    out = augment.augment_batch(batch, "flip_crop", seed=5).numpy()
    distinct = {out[i].tobytes() for i in range(64)}
    # 162 equally likely (offset, flip) pairs: 64 draws give many results.
    assert len(distinct) > 30


def test_flips_are_drawn_per_image():
    image = np.arange(4 * 6, dtype=np.uint8).reshape(1, 4, 6, 1)
    batch = np.repeat(image, 200, axis=0)
    out = augment.random_flip(batch, seed=1).numpy()
    flipped = np.all(out == image[:, :, ::-1], axis=(1, 2, 3))
    unchanged = np.all(out == image, axis=(1, 2, 3))
    assert np.all(flipped | unchanged)
    assert 60 < flipped.sum() < 140


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
    out = augment.augment_batch(batch, "flip_crop", seed=2, padding=0)
    assert flip_only(out.numpy())
    out = augment.augment_batch(batch, "crop_flip_rotate", seed=2, padding=0)
    assert not flip_only(out.numpy())
    assert np.mean(out.numpy()[:, 0, 0, 0] == 0) > 0.5


def test_rotate_matches_tensorflow_projective_transform():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (32, 12, 10, 3), dtype=np.uint8)
    angles = rng.uniform(-15, 15, 32).astype(np.float32)
    expected = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=augment.rotation_transforms(angles, 12, 10),
        output_shape=[12, 10],
        fill_value=0.0,
        interpolation="NEAREST",
        fill_mode="CONSTANT",
    )
    np.testing.assert_array_equal(
        augment.rotate(images, angles).numpy(), expected.numpy()
    )
    # Positive angles turn counter-clockwise, as PIL and torchvision.
    square = images[:1, :10]
    np.testing.assert_array_equal(
        augment.rotate(square, [90.0]).numpy()[0], np.rot90(square[0])
    )


def test_augment_batch_is_seeded_and_table_path_matches():
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    index = np.array([3, 3, 19, 0, 7], np.int32)
    for policy in ("flip_crop", "crop_flip_rotate"):
        first = augment.augment_batch(images[index], policy, seed=[1, 2])
        again = augment.augment_batch(images[index], policy, seed=[1, 2])
        other = augment.augment_batch(images[index], policy, seed=[1, 3])
        np.testing.assert_array_equal(first.numpy(), again.numpy())
        assert not np.array_equal(first.numpy(), other.numpy())
        assert first.dtype == tf.float32
        table = augment.augment_from_table(
            augment.pixel_table(images), index, (32, 32, 3), policy, [1, 2]
        )
        np.testing.assert_array_equal(table.numpy(), first.numpy())
        normalized = augment.augment_from_table(
            augment.pixel_table(images),
            index,
            (32, 32, 3),
            policy,
            [1, 2],
            normalization=(CIFAR10.mean, CIFAR10.std),
        )
        np.testing.assert_allclose(
            normalized.numpy(),
            _normalized(first, CIFAR10),
            rtol=1e-6,
            atol=1e-5,
        )
    with pytest.raises(ValueError, match="Known policies"):
        augment.augment_batch(images, "cutout", seed=0)


def test_normalize_values():
    images = np.array([0, 255], np.uint8).reshape(1, 1, 2, 1)
    out = augment.normalize(images, (0.5,), (0.25,)).numpy().ravel()
    np.testing.assert_allclose(out, [-2.0, 2.0], rtol=1e-6)


# -------------------------------------------------------------- datasets


def test_digits_loads_offline():
    dataset = data.load_dataset("digits")
    assert dataset.x_train.shape == (1437, 8, 8, 1)
    assert dataset.x_test.shape == (360, 8, 8, 1)
    assert dataset.x_train.dtype == np.uint8
    assert set(np.unique(dataset.y_train)) == set(range(10))
    scaled = dataset.x_train / 255.0
    assert dataset.spec.mean[0] == pytest.approx(scaled.mean(), abs=1e-4)
    assert dataset.spec.std[0] == pytest.approx(scaled.std(), abs=1e-4)


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(ValueError, match="Known datasets.*cifar10"):
        data.load_dataset("mnist10")
    with pytest.raises(ValueError, match="augmentation"):
        dataclasses.replace(CIFAR10, augmentation="mixup")


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "fashion_mnist"])
def test_tfds_datasets_under_mock_data(name):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        dataset = data.load_dataset(name, download=False)
    spec = data.get_spec(name)
    assert dataset.spec == spec
    assert dataset.x_train.shape == (12, *spec.image_shape)
    assert dataset.x_test.shape == (12, *spec.image_shape)
    assert dataset.x_train.dtype == np.uint8
    assert dataset.y_train.max() < spec.num_classes
    pipelines = data.make_pipelines(dataset, batch_size=5, noise_rate=0.5)
    assert pipelines.steps_per_epoch == 3
    (images, labels), = _take(pipelines.train_dataset(), 1)
    assert images.shape == (5, *spec.image_shape)
    assert images.dtype == np.float32


# -------------------------------------------------------------- pipelines


def test_test_dataset_is_only_normalized():
    dataset = _synthetic()
    pipelines = data.make_pipelines(
        dataset, batch_size=32, noise_rate=0.4, eval_batch_size=16
    )
    batches = _take(pipelines.test_dataset(), -1)
    assert [len(labels) for _, labels in batches] == [16, 16, 16, 2]
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    np.testing.assert_allclose(
        images, _normalized(dataset.x_test, CIFAR10), rtol=1e-6, atol=1e-5
    )
    np.testing.assert_array_equal(labels, dataset.y_test)
    assert labels.dtype == np.int32


def test_train_dataset_epochs_are_noisy_permutations():
    dataset = _synthetic(num_train=100)
    pipelines = data.make_pipelines(
        dataset, batch_size=32, noise_rate=0.5, seed=4, on_device=True
    )
    assert pipelines.steps_per_epoch == 4
    batches = _take(pipelines.train_dataset(), 8)
    assert [len(labels) for _, labels in batches] == [32, 32, 32, 4] * 2
    lookup = {image.tobytes(): i for i, image in enumerate(dataset.x_train)}
    epochs = []
    for epoch in range(2):
        epoch_batches = batches[4 * epoch : 4 * epoch + 4]
        images = np.concatenate([batch[0] for batch in epoch_batches])
        labels = np.concatenate([batch[1] for batch in epoch_batches])
        assert images.dtype == np.uint8  # on_device: raw images
        order = np.array([lookup[image.tobytes()] for image in images])
        np.testing.assert_array_equal(np.sort(order), np.arange(100))
        np.testing.assert_array_equal(labels, pipelines.noisy_labels[order])
        epochs.append(order)
    assert not np.array_equal(epochs[0], epochs[1])


def test_train_dataset_augments_and_normalizes():
    dataset = _synthetic(num_train=64)
    plain = data.make_pipelines(
        dataset, batch_size=64, noise_rate=0.0, augment=False
    )
    augmented = data.make_pipelines(dataset, batch_size=64, noise_rate=0.0)
    (plain_images, plain_labels), = _take(plain.train_dataset(), 1)
    (aug_images, aug_labels), = _take(augmented.train_dataset(), 1)
    # Same seed, same permutation: the plain batch is the normalised images.
    normalized = _normalized(dataset.x_train, CIFAR10)
    matches = [
        np.flatnonzero(
            np.all(np.isclose(normalized, image, atol=1e-5), axis=(1, 2, 3))
        )
        for image in plain_images
    ]
    assert all(len(match) == 1 for match in matches)
    np.testing.assert_array_equal(plain_labels, aug_labels)
    assert not np.allclose(plain_images, aug_images)
    # Crop padding is zero in raw pixel space: -mean/std after normalising.
    zero = -np.array(CIFAR10.mean) / np.array(CIFAR10.std)
    border = aug_images[:, 0, :, :].reshape(-1, 3)
    assert np.any(np.all(np.isclose(border, zero, atol=1e-5), axis=1))


def test_train_dataset_is_deterministic_and_resumable():
    dataset = _synthetic(num_train=90)
    make = lambda seed: data.make_pipelines(  # noqa: E731
        dataset, batch_size=32, noise_rate=0.3, seed=seed
    )
    pipelines = make(11)
    steps = pipelines.steps_per_epoch
    assert steps == 3
    full = _take(pipelines.train_dataset(), 3 * steps)
    again = _take(make(11).train_dataset(), 3 * steps)
    for (x1, y1), (x2, y2) in zip(full, again):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    resumed = _take(pipelines.train_dataset(start_epoch=2), steps)
    for (x1, y1), (x2, y2) in zip(full[2 * steps :], resumed):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    other = _take(make(12).train_dataset(), 1)
    assert not np.array_equal(other[0][0], full[0][0])
    with pytest.raises(ValueError, match="start_epoch=-1"):
        pipelines.train_dataset(start_epoch=-1)


def test_false_label_dataset_content():
    dataset = _synthetic(num_train=200)
    pipelines = data.make_pipelines(
        dataset, batch_size=32, noise_rate=0.4, seed=5, eval_batch_size=50
    )
    assert pipelines.noise_mask.sum() == 80
    batches = _take(pipelines.false_label_dataset(), -1)
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    index = np.flatnonzero(pipelines.noise_mask)
    np.testing.assert_allclose(
        images, _normalized(dataset.x_train[index], CIFAR10), atol=1e-5
    )
    # TRUE labels, not the noisy ones.
    np.testing.assert_array_equal(labels, dataset.y_train[index])
    assert np.any(labels != pipelines.noisy_labels[index])
    clean = data.make_pipelines(dataset, batch_size=32, noise_rate=0.0)
    assert clean.false_label_dataset() is None
    assert not clean.noise_mask.any()
    np.testing.assert_array_equal(clean.noisy_labels, dataset.y_train)


def test_train_size_and_asymmetric_kind():
    dataset = _synthetic(num_train=120)
    pipelines = data.make_pipelines(
        dataset,
        batch_size=25,
        noise_rate=0.5,
        noise_kind="pair_flip",
        train_size=50,
    )
    assert pipelines.num_train_examples == 50
    assert pipelines.steps_per_epoch == 2
    mask = pipelines.noise_mask
    np.testing.assert_array_equal(
        pipelines.noisy_labels[mask], (dataset.y_train[:50][mask] + 1) % 10
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size=0"),
        ({"batch_size": 2.5}, "batch_size=2.5"),
        ({"batch_size": True}, "batch_size=True"),
        ({"eval_batch_size": -3}, "eval_batch_size=-3"),
        ({"train_size": 301}, "train_size=301"),
        ({"noise_kind": "uniform"}, "noise_kind='uniform'"),
        ({"seed": "a"}, "seed='a'"),
    ],
)
def test_make_pipelines_argument_errors(kwargs, message):
    arguments = {"batch_size": 8, "noise_rate": 0.2, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        data.make_pipelines(_synthetic(), **arguments)


def test_make_pipelines_refuses_bad_labels_and_images():
    dataset = _synthetic()
    dataset.y_train[7] = 10
    with pytest.raises(ValueError, match=r"dataset\.y_train\[7\]=10"):
        data.make_pipelines(dataset, batch_size=8, noise_rate=0.2)
    dataset = _synthetic()
    dataset.y_test[3] = -1
    with pytest.raises(ValueError, match=r"dataset\.y_test\[3\]=-1"):
        data.make_pipelines(dataset, batch_size=8, noise_rate=0.2)
    dataset = dataclasses.replace(
        _synthetic(), x_train=np.zeros((300, 28, 28, 1), np.uint8)
    )
    with pytest.raises(ValueError, match=r"dataset\.x_train.*\(N, 32, 32, 3\)"):
        data.make_pipelines(dataset, batch_size=8, noise_rate=0.2)


def test_digits_pipeline_trains_with_keras_fit():
    import keras

    dataset = data.load_dataset("digits")
    pipelines = data.make_pipelines(
        dataset, batch_size=128, noise_rate=0.2, augment=False, train_size=512
    )
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        pipelines.train_dataset(start_epoch=1),
        epochs=2,
        initial_epoch=1,
        steps_per_epoch=pipelines.steps_per_epoch,
        shuffle=False,
        verbose=0,
    )
    assert len(history.history["loss"]) == 1
    result = model.evaluate(
        pipelines.false_label_dataset(), verbose=0, return_dict=True
    )
    assert 0.0 <= result["accuracy"] <= 1.0
