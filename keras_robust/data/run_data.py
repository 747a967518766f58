"""The arrays of one training run: a dataset cut to size, with label noise.

`prepare_run_data` checks a `Dataset`, keeps the first `train_size`
training examples if asked, draws the label noise once from the seed
(`noise.apply_label_noise`) and returns a `RunData`. Both ways of feeding a
run start from it: the tf.data pipelines (`pipeline.make_pipelines`) and
the device-resident data (`resident.make_resident_data`). All three take
the same settings, a `FeedSpec` (or its fields as keyword arguments). It
needs NumPy only.
"""

import dataclasses
import math

import numpy as np

from keras_robust.data.datasets import Dataset
from keras_robust.data.datasets import DatasetSpec
from keras_robust.data.noise import NOISE_KINDS
from keras_robust.data.noise import apply_label_noise

# Random stream folded into the user's seed for the per-epoch permutation.
SHUFFLE_STREAM = 0


def check_int(name, value, minimum):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < minimum
    ):
        kind = "a positive" if minimum == 1 else "a non-negative"
        raise ValueError(
            f"`{name}` must be {kind} integer. Received: {name}={value!r}"
        )
    return int(value)


def check_seed(seed):
    if (
        isinstance(seed, bool)
        or not isinstance(seed, (int, np.integer))
        or not -(2**63) <= seed < 2**63
    ):
        raise ValueError(
            f"`seed` must be an integer that fits in int64. Received: "
            f"seed={seed!r}"
        )
    return int(seed)


def _check_images(name, images, spec):
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.shape[1:] != tuple(spec.image_shape):
        raise ValueError(
            f"`{name}` must be a uint8 array of shape (N, "
            f"{', '.join(str(size) for size in spec.image_shape)}) for "
            f"dataset {spec.name!r}. Received: {name} with shape "
            f"{images.shape} and dtype {images.dtype}"
        )
    return images


def _check_labels(name, labels, num_images, num_classes):
    labels = np.asarray(labels)
    if (
        labels.shape != (num_images,)
        or not np.issubdtype(labels.dtype, np.integer)
    ):
        raise ValueError(
            f"`{name}` must be a 1-D integer array with one label per image "
            f"({num_images}). Received: {name} with shape {labels.shape} "
            f"and dtype {labels.dtype}"
        )
    if labels.size:
        bad = (labels < 0) | (labels >= num_classes)
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"`{name}` must hold class indices in [0, {num_classes}). "
                f"Received: {name}[{index}]={labels[index]} "
                f"({int(bad.sum())} labels out of range, min "
                f"{labels.min()}, max {labels.max()})"
            )
    return labels.astype(np.int32)


@dataclasses.dataclass(eq=False)
class RunData:
    """The data of one run, after `train_size` and label noise.

    Attributes:
        spec: The dataset's `DatasetSpec`.
        noisy_labels: int32 `(N,)` training labels after label noise.
        noise_mask: bool `(N,)`, `True` for the training examples whose
            label was re-drawn (symmetric noise; about `1 / c` of them kept
            their true label by chance) or, for asymmetric and pair-flip
            noise, whose noisy label differs from the true one.
        batch_size: Training batch size.
        steps_per_epoch: `ceil(N / batch_size)`: the last batch of an epoch
            is smaller when `batch_size` does not divide `N`.
        seed: The seed of the label noise, shuffling and augmentation.
        eval_batch_size: Batch size of the test and false-label data.
        x_train: uint8 training images `(N, height, width, channels)`.
        y_train: int32 true training labels `(N,)`.
        x_test: uint8 test images.
        y_test: int32 test labels.
        augment: Whether the training images get `spec.augmentation`
            (supplement 1; the paper augments for the ResNets only).
        holdout_indices: With `FeedSpec.num_folds > 1`, int64 indices (into
            the training set cut to `train_size`) of the held-out fold,
            whose examples are not trained on; None otherwise.
        holdout_images: uint8 images of the held-out fold, or None.
    """

    spec: DatasetSpec
    noisy_labels: np.ndarray
    noise_mask: np.ndarray
    batch_size: int
    steps_per_epoch: int
    seed: int
    eval_batch_size: int
    x_train: np.ndarray = dataclasses.field(repr=False)
    y_train: np.ndarray = dataclasses.field(repr=False)
    x_test: np.ndarray = dataclasses.field(repr=False)
    y_test: np.ndarray = dataclasses.field(repr=False)
    augment: bool = True
    holdout_indices: np.ndarray | None = dataclasses.field(default=None, repr=False)
    holdout_images: np.ndarray | None = dataclasses.field(default=None, repr=False)

    def fields(self):
        """The attributes as a dict (shallow: the arrays are not copied)."""
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
        }

    @property
    def num_train_examples(self):
        """Number of training examples `N`."""
        return int(self.noisy_labels.shape[0])

    @property
    def noise_fraction(self):
        """Fraction of training examples with `noise_mask` set."""
        return float(self.noise_mask.mean()) if self.noise_mask.size else 0.0

    def device_augmentation(self, **kwargs):
        """The `DeviceAugmentation` layer for a model fed raw uint8 images.

        It normalises with the spec's constants and, when `augment` is
        set, applies `spec.augmentation` during training (policy `"none"`
        otherwise). Put it first in a model fed by `make_pipelines` or
        `make_resident_data`, and train with the `ReseedAugmentation`
        callback for epochs that depend on `(seed, epoch)` only.

        Args:
            **kwargs: Passed on to `DeviceAugmentation` (default `seed`: the
                run's seed).

        Returns:
            A `DeviceAugmentation` layer.
        """
        from keras_robust.data.augment import DeviceAugmentation

        policy = self.spec.augmentation if self.augment else "none"
        kwargs.setdefault("seed", self.seed)
        return DeviceAugmentation.from_spec(self.spec, policy=policy, **kwargs)


@dataclasses.dataclass(frozen=True)
class FeedSpec:
    """How one run is fed: the settings of `prepare_run_data`,
    `make_pipelines` and `make_resident_data`.

    Attributes:
        batch_size: Positive int, the training batch size.
        noise_rate: Noise rate `eta` in `[0, 1]`.
        noise_kind: `"symmetric"` (the paper's), `"asymmetric"`,
            `"pair_flip"` or `"human"`; see `noise.apply_label_noise`.
        seed: Integer seed of the noise, shuffling and augmentation.
        augment: Whether the training images are to be augmented (by the
            model's `device_augmentation()`; otherwise it only normalises).
            The paper augments only for the ResNets.
        eval_batch_size: Positive int, batch size of the test and
            false-label data.
        transition_matrix: Optional `(c, c)` row-stochastic matrix for
            `noise_kind="asymmetric"`.
        train_size: Optional positive int: use only the first `train_size`
            training examples (tests, quick runs). The test set is kept.
        label_set: With `noise_kind="human"`, the dataset's human label
            set whose labels the run trains on
            (`Dataset.human_label_set`); None otherwise.
        num_folds: With `k > 1`, the training set (after `train_size` and
            the label noise, drawn on all of it) is split into `k` folds,
            example `i` in fold `i % k` (`holdout_fold_indices`).
        holdout_fold: The fold held out of training when `num_folds > 1`.
    """

    batch_size: int
    noise_rate: float
    noise_kind: str = "symmetric"
    seed: int = 0
    augment: bool = True
    eval_batch_size: int = 1000
    transition_matrix: object = dataclasses.field(default=None, compare=False)
    train_size: object = None
    label_set: object = None
    num_folds: int = 1
    holdout_fold: object = None


def holdout_fold_indices(num_examples, num_folds, fold):
    """Indices of fold `fold` of `num_folds`: the examples `i % num_folds == fold`."""
    num_folds = check_int("num_folds", num_folds, 1)
    if isinstance(fold, bool) or fold not in range(num_folds):
        raise ValueError(
            f"`holdout_fold` must be an integer in [0, {num_folds}) with "
            f"num_folds={num_folds}. Received: holdout_fold={fold!r}"
        )
    return np.arange(fold, num_examples, num_folds, dtype=np.int64)


def feed_spec(feed=None, **fields):
    """`feed` (a `FeedSpec`), or the `FeedSpec` of the keyword `fields`."""
    if feed is None:
        return FeedSpec(**fields)
    if not isinstance(feed, FeedSpec) or fields:
        raise TypeError(
            "Pass a `FeedSpec` or its fields as keyword arguments, not both. "
            f"Received: feed={feed!r}, fields={sorted(fields)}"
        )
    return feed


def prepare_run_data(dataset, feed=None, **fields):
    """Checks `dataset`, cuts it to `feed.train_size` and draws the label noise.

    Args:
        dataset: A `Dataset` (`load_dataset`) with uint8 images.
        feed: A `FeedSpec`; or None and its fields as keyword arguments
            (`batch_size=32, noise_rate=0.4, ...`).

    Returns:
        A `RunData`.

    Raises:
        ValueError: for a bad batch size, seed, noise rate or kind, images
            of the wrong shape or dtype, or labels outside `[0, c)`.
    """
    feed = feed_spec(feed, **fields)
    if not isinstance(dataset, Dataset):
        raise ValueError(
            "`dataset` must be a `keras_robust.data.Dataset` (see "
            f"`load_dataset`). Received: dataset of type {type(dataset)}"
        )
    spec = dataset.spec
    batch_size = check_int("batch_size", feed.batch_size, 1)
    eval_batch_size = check_int("eval_batch_size", feed.eval_batch_size, 1)
    seed = check_seed(feed.seed)
    if feed.noise_kind not in NOISE_KINDS:
        raise ValueError(
            f"Unknown noise kind: noise_kind={feed.noise_kind!r}. "
            f"Known kinds: {NOISE_KINDS}"
        )
    x_train = _check_images("dataset.x_train", dataset.x_train, spec)
    x_test = _check_images("dataset.x_test", dataset.x_test, spec)
    y_train = _check_labels(
        "dataset.y_train", dataset.y_train, len(x_train), spec.num_classes
    )
    y_test = _check_labels(
        "dataset.y_test", dataset.y_test, len(x_test), spec.num_classes
    )
    if feed.train_size is not None:
        train_size = check_int("train_size", feed.train_size, 1)
        if train_size > len(x_train):
            raise ValueError(
                f"`train_size` must be at most the number of training "
                f"examples ({len(x_train)}). Received: "
                f"train_size={train_size}"
            )
        x_train = x_train[:train_size]
        y_train = y_train[:train_size]
    if len(x_train) == 0:
        raise ValueError(f"The training set of {spec.name!r} is empty.")
    human_labels = None
    if feed.noise_kind == "human":
        human_labels = dataset.human_label_set(feed.label_set)[: len(y_train)]
    noisy_labels, noise_mask = apply_label_noise(
        y_train,
        feed.noise_kind,
        feed.noise_rate,
        spec.num_classes,
        seed,
        transition_matrix=feed.transition_matrix,
        human_labels=human_labels,
    )
    holdout_indices = holdout_images = None
    if feed.num_folds != 1:
        holdout_indices = holdout_fold_indices(
            len(x_train), feed.num_folds, feed.holdout_fold
        )
        holdout_images = np.ascontiguousarray(x_train[holdout_indices])
        kept = np.ones(len(x_train), dtype=bool)
        kept[holdout_indices] = False
        x_train, y_train = x_train[kept], y_train[kept]
        noisy_labels, noise_mask = noisy_labels[kept], noise_mask[kept]
    return RunData(
        spec=spec,
        noisy_labels=noisy_labels.astype(np.int32),
        noise_mask=np.asarray(noise_mask, dtype=bool),
        batch_size=batch_size,
        steps_per_epoch=math.ceil(len(x_train) / batch_size),
        seed=seed,
        eval_batch_size=eval_batch_size,
        x_train=np.ascontiguousarray(x_train),
        y_train=y_train,
        x_test=np.ascontiguousarray(x_test),
        y_test=y_test,
        augment=bool(feed.augment),
        holdout_indices=holdout_indices,
        holdout_images=holdout_images,
    )
