"""Tests of the human label noise of CIFAR-N (`noise_kind="human"`).

Offline: TFDS's `cifar10_n` and `cifar100_n` are replaced by
`tfds.testing.mock_data`, with examples built here whose human labels
differ from the clean ones at known places.
"""

import dataclasses

import numpy as np
import pytest

from keras_robust import data
from keras_robust.data import cifar_n
from keras_robust.data import noise

tfds = pytest.importorskip("tensorflow_datasets")
tf = pytest.importorskip("tensorflow")

NUM_TRAIN = 20
CLEAN = np.arange(NUM_TRAIN) % 10
# Per label set, the training examples whose human label is wrong.
WRONG = {
    "aggre": [0, 1],
    "random1": [2, 3, 4, 5],
    "random2": [0, 5, 10, 15, 16, 17],
    "random3": [],
    "worse": [0, 1, 2, 3, 4, 5, 6, 7],
}
NUM_TEST = 5


def _human(label_set):
    labels = CLEAN.copy()
    wrong = WRONG[label_set]
    labels[wrong] = (labels[wrong] + 3) % 10
    return labels


def _as_dataset(self, split, **kwargs):
    """CIFAR-10N-like examples: images hold the example index (test: 200+)."""
    del self, kwargs
    if str(split).startswith("train"):
        features = {
            "image": np.arange(NUM_TRAIN, dtype=np.uint8)[:, None, None, None]
            * np.ones((1, 32, 32, 3), np.uint8),
            "label": CLEAN,
        }
        for label_set, feature in cifar_n.LABEL_SETS["cifar10_n"].items():
            features[feature] = _human(label_set)
    else:
        features = {
            "image": np.full((NUM_TEST, 32, 32, 3), 200, np.uint8),
            "label": np.arange(NUM_TEST) * 3 % 10,
        }
    return tf.data.Dataset.from_tensor_slices(features)


@pytest.fixture(scope="module")
def cifar10_n():
    with tfds.testing.mock_data(as_dataset_fn=_as_dataset):
        return data.load_dataset("cifar10_n", download=False)


def test_specs_are_the_cifar_ones():
    for name, images in (("cifar10_n", "cifar10"), ("cifar100_n", "cifar100")):
        spec = data.get_spec(name)
        assert dataclasses.replace(spec, name=images) == data.get_spec(images)
    assert set(cifar_n.LABEL_SETS["cifar10_n"]) == {
        "aggre", "random1", "random2", "random3", "worse"
    }


def test_loads_clean_labels_human_label_sets_and_test_split(cifar10_n):
    np.testing.assert_array_equal(cifar10_n.y_train, CLEAN)
    np.testing.assert_array_equal(cifar10_n.x_train[:, 0, 0, 0], range(20))
    np.testing.assert_array_equal(cifar10_n.y_test, [0, 3, 6, 9, 2])
    assert np.all(cifar10_n.x_test == 200)
    assert set(cifar10_n.human_labels) == set(WRONG)
    for label_set in WRONG:
        np.testing.assert_array_equal(
            cifar10_n.human_label_set(label_set), _human(label_set)
        )


@pytest.mark.parametrize(
    "label_set, rate",
    [("aggre", 0.1), ("random1", 0.2), ("random2", 0.3), ("random3", 0.0),
     ("worse", 0.4)],
)
def test_measured_noise_rate(cifar10_n, label_set, rate):
    assert cifar10_n.human_noise_rate(label_set) == pytest.approx(rate)


@pytest.mark.parametrize("label_set", ["aggre", "worse"])
def test_human_noise_keeps_clean_labels_and_marks_false_labels(
    cifar10_n, label_set
):
    noisy, mask = noise.apply_label_noise(
        cifar10_n.y_train,
        "human",
        0.0,
        10,
        seed=0,
        human_labels=cifar10_n.human_label_set(label_set),
    )
    np.testing.assert_array_equal(noisy, _human(label_set))
    np.testing.assert_array_equal(np.flatnonzero(mask), WRONG[label_set])
    # The false-label set: those training images with their clean labels.
    np.testing.assert_array_equal(
        cifar10_n.y_train[mask], CLEAN[WRONG[label_set]]
    )
    assert mask.mean() == cifar10_n.human_noise_rate(label_set)


def test_cifar100_n_under_random_mock_data():
    with tfds.testing.mock_data(num_examples=12):
        dataset = data.load_dataset("cifar100_n", download=False)
    assert set(dataset.human_labels) == {"noisy"}
    labels = dataset.human_label_set("noisy")
    assert labels.shape == (12,) and labels.dtype == np.int64
    assert 0 <= labels.min() and labels.max() < 100
    assert dataset.x_train.shape == (12, 32, 32, 3)


def test_label_set_errors(cifar10_n):
    with pytest.raises(ValueError, match=r"Label sets of 'cifar10_n'.*aggre"):
        cifar10_n.human_label_set("noisy")
    digits = data.load_dataset("digits")
    with pytest.raises(ValueError, match="has no human labels.*cifar100_n"):
        digits.human_noise_rate("aggre")
    with pytest.raises(ValueError, match="TFDS only"):
        data.load_dataset("cifar10_n", source="keras")


def test_human_kind_needs_human_labels_and_only_there():
    labels = np.array([0, 1, 2])
    with pytest.raises(ValueError, match="required with kind='human'"):
        noise.apply_label_noise(labels, "human", 0.0, 3, seed=0)
    with pytest.raises(ValueError, match="only used there"):
        noise.apply_label_noise(
            labels, "symmetric", 0.2, 3, seed=0, human_labels=labels
        )
    with pytest.raises(ValueError, match="one label per example"):
        noise.human_noise(labels, labels[:2], 3)
    with pytest.raises(ValueError, match=r"`human_labels` must lie in \[0, 3"):
        noise.human_noise(labels, labels + 1, 3)


def test_missing_manual_download_is_one_line(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load_dataset("cifar10_n", data_dir=str(tmp_path), download=False)
    message = str(info.value)
    assert "\n" not in message
    manual = tmp_path / "downloads" / "manual"
    for part in (
        "https://github.com/UCSC-REAL/cifar-10-100n",
        "CIFAR-10_human_ordered.npy",
        "CIFAR-10_human_annotations.csv",
        "side_info_cifar10N.csv",
        "image_order_c10.npy",
        str(manual),
    ):
        assert part in message
    # With the files in place the loader's own error comes through.
    manual.mkdir(parents=True)
    for file in cifar_n.MANUAL_FILES["cifar10_n"]:
        (manual / file).touch()
    assert cifar_n.manual_download_error("cifar10_n", str(tmp_path)) is None
    with pytest.raises(Exception) as info:
        data.load_dataset("cifar10_n", data_dir=str(tmp_path), download=False)
    assert not isinstance(info.value, FileNotFoundError)
