"""Tests of `keras_robust.data`: datasets, label noise, tf.data pipelines.

Everything runs offline: the paper's TFDS datasets are replaced by
`tfds.testing.mock_data`, and the pipelines run on small synthetic data of
CIFAR shape or on scikit-learn's digits. The augmentation, which runs in the
model, is tested in `test_augment.py`.
"""

import dataclasses
import math

import numpy as np
import pytest

from keras_robust import data
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


def test_digit_pairs_are_two_digits_of_one_split_side_by_side():
    digits = data.load_dataset("digits")
    pairs = data.load_dataset("digit_pairs")
    assert pairs.spec.num_classes == 100
    assert pairs.x_train.shape == (5000, 8, 16, 1)
    assert pairs.x_test.shape == (2000, 8, 16, 1)
    assert pairs.x_train.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(pairs.y_train, minlength=100), 50)
    np.testing.assert_array_equal(np.bincount(pairs.y_test, minlength=100), 20)
    scaled = pairs.x_train / 255.0
    assert pairs.spec.mean[0] == pytest.approx(scaled.mean(), abs=1e-4)
    assert pairs.spec.std[0] == pytest.approx(scaled.std(), abs=1e-4)

    def labels_by_image(images, labels):
        table = {}
        for image, label in zip(images, labels):
            table.setdefault(image.tobytes(), set()).add(int(label))
        return table

    train_digits = labels_by_image(digits.x_train, digits.y_train)
    test_digits = labels_by_image(digits.x_test, digits.y_test)
    for images, labels, source in (
        (pairs.x_train, pairs.y_train, train_digits),
        (pairs.x_test, pairs.y_test, test_digits),
    ):
        for image, label in zip(images, labels):
            left = np.ascontiguousarray(image[:, :8]).tobytes()
            right = np.ascontiguousarray(image[:, 8:]).tobytes()
            # Class arithmetic: 10 * left digit + right digit, both halves
            # images of the same split (no test digit in a training pair).
            assert label // 10 in source[left] and label % 10 in source[right]
    only_in_test = set(test_digits) - set(train_digits)
    train_halves = {
        np.ascontiguousarray(half).tobytes()
        for image in pairs.x_train
        for half in (image[:, :8], image[:, 8:])
    }
    assert only_in_test and not train_halves & only_in_test


def test_digit_pairs_are_the_same_on_every_load():
    first, second = data.load_dataset("digit_pairs"), data.load_dataset("digit_pairs")
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))


def test_digit_pairs_noise_and_false_label_set():
    pairs = data.load_dataset("digit_pairs")
    pipelines = data.make_pipelines(pairs, batch_size=50, noise_rate=0.4, seed=3)
    assert pipelines.noise_mask.sum() == 2000
    changed = pipelines.noisy_labels != pairs.y_train
    assert not changed[~pipelines.noise_mask].any()
    # A redrawn label keeps its class with probability 1/100: 20 expected.
    assert (pipelines.noise_mask & ~changed).sum() <= 40
    assert set(np.unique(pipelines.noisy_labels[pipelines.noise_mask])) == set(range(100))
    labels = np.concatenate([labels for _, labels in _take(pipelines.false_label_dataset(), -1)])
    np.testing.assert_array_equal(labels, pairs.y_train[pipelines.noise_mask])


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
    assert images.dtype == np.uint8


# -------------------------------------------------------------- pipelines


def test_test_dataset_yields_the_raw_test_set():
    dataset = _synthetic()
    pipelines = data.make_pipelines(
        dataset, batch_size=32, noise_rate=0.4, eval_batch_size=16
    )
    batches = _take(pipelines.test_dataset(), -1)
    assert [len(labels) for _, labels in batches] == [16, 16, 16, 2]
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    np.testing.assert_array_equal(images, dataset.x_test)
    assert images.dtype == np.uint8
    np.testing.assert_array_equal(labels, dataset.y_test)
    assert labels.dtype == np.int32


def test_train_dataset_epochs_are_noisy_permutations():
    dataset = _synthetic(num_train=100)
    pipelines = data.make_pipelines(
        dataset, batch_size=32, noise_rate=0.5, seed=4
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
        assert images.dtype == np.uint8  # raw: the model augments
        order = np.array([lookup[image.tobytes()] for image in images])
        np.testing.assert_array_equal(np.sort(order), np.arange(100))
        np.testing.assert_array_equal(labels, pipelines.noisy_labels[order])
        epochs.append(order)
    assert not np.array_equal(epochs[0], epochs[1])


def test_augment_selects_the_policy_of_the_models_first_layer():
    dataset = _synthetic(num_train=64)
    augmented = data.make_pipelines(dataset, batch_size=64, noise_rate=0.0)
    layer = augmented.device_augmentation()
    assert layer.policy == CIFAR10.augmentation and layer.seed == 0
    assert (layer.mean, layer.std) == (CIFAR10.mean, CIFAR10.std)
    plain = data.make_pipelines(
        dataset, batch_size=64, noise_rate=0.0, augment=False, seed=3
    )
    assert plain.device_augmentation().policy == "none"
    assert plain.device_augmentation().seed == 3


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
    np.testing.assert_array_equal(images, dataset.x_train[index])
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
        [
            keras.Input((8, 8, 1), dtype="uint8"),
            pipelines.device_augmentation(),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
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
        callbacks=[data.ReseedAugmentation()],
    )
    assert len(history.history["loss"]) == 1
    result = model.evaluate(
        pipelines.false_label_dataset(), verbose=0, return_dict=True
    )
    assert 0.0 <= result["accuracy"] <= 1.0
