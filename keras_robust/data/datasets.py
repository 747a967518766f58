"""Dataset specifications and loaders (paper section 4, supplement 1).

The paper trains on CIFAR-10, Fashion-MNIST and CIFAR-100 (TensorFlow
Datasets). `DATASETS` records, per dataset, the normalisation constants and
the ResNet augmentation policy of supplement 1. Two extra entries are ours,
not the paper's, and ship inside scikit-learn, so quick runs, examples and
tests work without network access: `"digits"`, scikit-learn's 8x8
handwritten digits (10 classes), and `"digit_pairs"`, two of those digits
side by side (100 classes, the class count of the paper's CIFAR-100
experiments). `"cifar10_n"` and `"cifar100_n"` are CIFAR-10 and CIFAR-100
with the human labels of CIFAR-N (`cifar_n`), for `noise_kind="human"`.
"""

import dataclasses

import numpy as np

from keras_robust.data.cifar_n import LABEL_SETS as HUMAN_LABEL_SETS
from keras_robust.data.cifar_n import manual_download_error

AUGMENTATION_POLICIES = ("flip_crop", "crop_flip_rotate", "none")
# Where `load_dataset` reads the paper's datasets from: TensorFlow Datasets,
# or `keras.datasets` (the original archives, no TensorFlow needed).
DATA_SOURCES = ("tfds", "keras")

# The "digits" split: a stratified 80/20 split with a fixed seed.
DIGITS_TEST_SIZE = 360
DIGITS_SPLIT_SEED = 0

# The "digit_pairs" sizes: pairs per class in each split, and their seed.
# 50 training pairs per class (5000 images, 157 steps of 32 per epoch) keep
# an MLP1024 run of 20 epochs near 10 s on two CPU cores, and are enough
# for the paper's effect: at 40 % noise MAE and boundCE stay near 20 %
# test accuracy while MAE* and boundCE* reach about 80 %.
DIGIT_PAIRS_TRAIN_PER_CLASS = 50
DIGIT_PAIRS_TEST_PER_CLASS = 20
DIGIT_PAIRS_SEED = 0


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What the pipeline needs to know about one dataset.

    Attributes:
        name: Dataset name; the TFDS name for the paper's datasets.
        num_classes: Number of classes `c`.
        image_shape: `(height, width, channels)` of one image.
        mean: Per-channel mean on the `[0, 1]` pixel scale (the scale of
            torchvision's `ToTensor`), subtracted before dividing by `std`.
        std: Per-channel standard deviation on the `[0, 1]` scale.
        augmentation: The ResNet training augmentation of supplement 1, one
            of `"flip_crop"` (random horizontal flip, then random crop with
            zero padding 4), `"crop_flip_rotate"` (crop with padding 4, flip,
            rotation by up to 15 degrees) or `"none"`.
    """

    name: str
    num_classes: int
    image_shape: tuple
    mean: tuple
    std: tuple
    augmentation: str

    def __post_init__(self):
        channels = self.image_shape[-1]
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(
                "`mean` and `std` need one value per channel "
                f"({channels}). Received: mean={self.mean}, std={self.std}"
            )
        if self.augmentation not in AUGMENTATION_POLICIES:
            raise ValueError(
                "`augmentation` must be one of "
                f"{AUGMENTATION_POLICIES}. Received: "
                f"augmentation={self.augmentation!r}"
            )


DATASETS = {
    # Supplement 1: torchvision's ImageNet constants are used for CIFAR-10.
    "cifar10": DatasetSpec(
        name="cifar10",
        num_classes=10,
        image_shape=(32, 32, 3),
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        augmentation="flip_crop",
    ),
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        num_classes=10,
        image_shape=(28, 28, 1),
        mean=(0.286,),
        std=(0.353,),
        augmentation="flip_crop",
    ),
    "cifar100": DatasetSpec(
        name="cifar100",
        num_classes=100,
        image_shape=(32, 32, 3),
        mean=(0.507, 0.487, 0.441),
        std=(0.267, 0.256, 0.276),
        augmentation="crop_flip_rotate",
    ),
    # Not in the paper. Mean and std are those of its training split's
    # images after scaling to uint8 (`load_dataset("digits")`); 8x8 images
    # are too small for the paper's crops, so no augmentation by default.
    "digits": DatasetSpec(
        name="digits",
        num_classes=10,
        image_shape=(8, 8, 1),
        mean=(0.30543,),
        std=(0.37596,),
        augmentation="none",
    ),
    # Not in the paper: `load_dataset("digit_pairs")`, 100 classes. Mean and
    # std are those of its training split, computed as for "digits".
    "digit_pairs": DatasetSpec(
        name="digit_pairs",
        num_classes=100,
        image_shape=(8, 16, 1),
        mean=(0.3059,),
        std=(0.37599,),
        augmentation="none",
    ),
}
# CIFAR-N: the CIFAR images and constants, with human labels.
for _name, _images in (("cifar10_n", "cifar10"), ("cifar100_n", "cifar100")):
    DATASETS[_name] = dataclasses.replace(DATASETS[_images], name=_name)
del _name, _images


@dataclasses.dataclass
class Dataset:
    """A dataset held in memory.

    Attributes:
        spec: The `DatasetSpec`.
        x_train: uint8 array `(N, height, width, channels)`.
        y_train: int64 array `(N,)` of clean labels.
        x_test: uint8 array `(M, height, width, channels)`.
        y_test: int64 array `(M,)`.
        human_labels: Label-set name -> int64 array `(N,)` of training
            labels given by people (`cifar_n.LABEL_SETS`); empty for a
            dataset without them.
    """

    spec: DatasetSpec
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    human_labels: dict = dataclasses.field(default_factory=dict, repr=False)

    def human_label_set(self, label_set):
        """The training labels of human label set `label_set`, int64 `(N,)`.

        Raises:
            ValueError: when the dataset has no human labels or none
                called `label_set`.
        """
        if not self.human_labels:
            raise ValueError(
                f"Dataset {self.spec.name!r} has no human labels. Datasets "
                f"with human labels: {sorted(HUMAN_LABEL_SETS)}"
            )
        if label_set not in self.human_labels:
            raise ValueError(
                f"Unknown label set: label_set={label_set!r}. Label sets of "
                f"{self.spec.name!r}: {sorted(self.human_labels)}"
            )
        return self.human_labels[label_set]

    def human_noise_rate(self, label_set):
        """The fraction of training labels of `label_set` that are wrong.

        Measured against the clean labels `y_train`: the noise rate of the
        label set on this data (see `human_label_set`).
        """
        labels = self.human_label_set(label_set)
        return float(np.mean(labels != self.y_train))


def get_spec(name):
    """Returns the `DatasetSpec` called `name`."""
    if name not in DATASETS:
        raise ValueError(
            f"Unknown dataset name: name={name!r}. "
            f"Known datasets: {sorted(DATASETS)}"
        )
    return DATASETS[name]


def load_dataset(name, data_dir=None, download=True, source="tfds"):
    """Loads a dataset of `DATASETS` into memory.

    CIFAR-10, CIFAR-100 and Fashion-MNIST come from

    - `source="tfds"` (default): TensorFlow Datasets
      (`tfds.load(name, data_dir=data_dir, download=download)`; with
      `download=False` a copy prepared before under `data_dir` or
      `TFDS_DATA_DIR` is used);
    - `source="keras"`: `keras.datasets` (the original archives, cached
      under `$KERAS_HOME/datasets`), which needs no TensorFlow, e.g. on a
      jax-only GPU machine. The images are the same, in the archives'
      order, which differs from TFDS's: the same seed then draws the noise
      on other images, so runs from the two sources are not bit-identical.

    The `OFFLINE_LOADERS` datasets ship with a package: the same images
    for either source, without network. `"digits"` is scikit-learn's
    `load_digits` (no network): values 0..16 are scaled to uint8 with
    `round(x * 255 / 16)` and split with a stratified, seeded split into
    1437 training and 360 test images. `"digit_pairs"` puts two of those
    digits side by side (8x16 pixels) with class `10 * left + right`:
    `DIGIT_PAIRS_TRAIN_PER_CLASS` (50) pairs per class drawn from the
    training digits only and `DIGIT_PAIRS_TEST_PER_CLASS` (20) from the test
    digits only, so no test image is part of a training pair; each digit is
    drawn uniformly, with replacement, among the split's images of its
    class, with the fixed seed `DIGIT_PAIRS_SEED`: 5000 training and 2000
    test images, the same on every machine.

    Args:
        name: One of `DATASETS`.
        data_dir: TFDS data directory; `None` for the TFDS default. Only
            for `source="tfds"`.
        download: Whether TFDS may download and prepare the dataset.
        source: One of `DATA_SOURCES`.

    Returns:
        A `Dataset` with uint8 NHWC images and int64 labels.

    Raises:
        FileNotFoundError: for CIFAR-N without its manual download.
    """
    spec = get_spec(name)
    if source not in DATA_SOURCES:
        raise ValueError(
            f"Unknown data source: source={source!r}. "
            f"Known sources: {DATA_SOURCES}"
        )
    if source == "keras" and data_dir is not None:
        raise ValueError(
            "`data_dir` applies to source='tfds' only; keras.datasets caches "
            "under $KERAS_HOME/datasets. Received: "
            f"data_dir={data_dir!r} with source='keras'"
        )
    if name in HUMAN_LABEL_SETS and source != "tfds":
        raise ValueError(
            f"The human labels of {name!r} come from TFDS only. Received: "
            f"source={source!r}; use source='tfds'"
        )
    human_labels = {}
    if name in OFFLINE_LOADERS:
        x_train, y_train, x_test, y_test = OFFLINE_LOADERS[name]()
    elif source == "keras":
        x_train, y_train, x_test, y_test = _load_keras_dataset(name)
    elif name in HUMAN_LABEL_SETS:
        x_train, y_train, x_test, y_test, human_labels = _load_cifar_n(
            name, data_dir, download
        )
    else:
        x_train, y_train = _load_tfds_split(name, "train", data_dir, download)
        x_test, y_test = _load_tfds_split(name, "test", data_dir, download)
    for split, images in (("train", x_train), ("test", x_test)):
        if images.shape[1:] != spec.image_shape:
            raise ValueError(
                f"The {split} images of {name!r} have shape "
                f"{images.shape[1:]}, expected {spec.image_shape}."
            )
    return Dataset(
        spec=spec,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        human_labels=human_labels,
    )


def _load_keras_dataset(name):
    import keras

    module = {
        "cifar10": keras.datasets.cifar10,
        "cifar100": keras.datasets.cifar100,
        "fashion_mnist": keras.datasets.fashion_mnist,
    }[name]
    (x_train, y_train), (x_test, y_test) = module.load_data()

    def images(array):
        array = np.asarray(array, dtype=np.uint8)
        if array.ndim == 3:  # Fashion-MNIST: (N, 28, 28)
            return np.ascontiguousarray(array[..., np.newaxis])
        if array.shape[1] in (1, 3) and array.shape[-1] not in (1, 3):
            array = array.transpose(0, 2, 3, 1)  # image_data_format NCHW
        return np.ascontiguousarray(array)

    def labels(array):
        return np.asarray(array).reshape(-1).astype(np.int64)

    return images(x_train), labels(y_train), images(x_test), labels(y_test)


def _load_tfds_split(name, split, data_dir, download, extra_features=()):
    """`(images, labels, *extra_features)` of one split as NumPy arrays."""
    import tensorflow_datasets as tfds

    # Batches rather than `batch_size=-1`: the latter crashes under
    # `tfds.testing.mock_data`, and neither path may read `info.splits`.
    dataset = tfds.load(
        name,
        split=split,
        data_dir=data_dir,
        download=download,
    )
    features = ("image", "label", *extra_features)
    batches = {feature: [] for feature in features}
    for batch in tfds.as_numpy(dataset.batch(8192)):
        for feature in features:
            batches[feature].append(batch[feature])
    if not batches["image"]:
        raise ValueError(f"The {split!r} split of {name!r} is empty.")
    images = np.ascontiguousarray(
        np.concatenate(batches["image"]), dtype=np.uint8
    )
    return (images,) + tuple(
        np.concatenate(batches[feature]).astype(np.int64)
        for feature in features[1:]
    )


def _load_cifar_n(name, data_dir, download):
    label_sets = HUMAN_LABEL_SETS[name]
    try:
        x_train, y_train, *human = _load_tfds_split(
            name, "train", data_dir, download, tuple(label_sets.values())
        )
        x_test, y_test = _load_tfds_split(name, "test", data_dir, download)
    except Exception as error:
        missing = manual_download_error(name, data_dir)
        if missing is None:
            raise
        raise missing from error
    return x_train, y_train, x_test, y_test, dict(zip(label_sets, human))


def _load_digits():
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as error:
        raise ImportError(
            'The "digits" dataset needs scikit-learn: '
            "`pip install keras-robust[recipes]` or `pip install scikit-learn`."
        ) from error
    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    images = images[..., np.newaxis]
    labels = digits.target.astype(np.int64)
    train_index, test_index = train_test_split(
        np.arange(len(labels)),
        test_size=DIGITS_TEST_SIZE,
        stratify=labels,
        random_state=DIGITS_SPLIT_SEED,
    )
    train_index = np.sort(train_index)
    test_index = np.sort(test_index)
    return (
        images[train_index],
        labels[train_index],
        images[test_index],
        labels[test_index],
    )


def _pairs(images, labels, per_class, rng):
    """`per_class` side-by-side pairs of `images` for each class `10 * left + right`."""
    by_digit = [np.flatnonzero(labels == digit) for digit in range(10)]
    pair_labels = np.repeat(np.arange(100, dtype=np.int64), per_class)
    left = np.concatenate(
        [rng.choice(by_digit[label // 10], per_class) for label in range(100)]
    )
    right = np.concatenate(
        [rng.choice(by_digit[label % 10], per_class) for label in range(100)]
    )
    order = rng.permutation(len(pair_labels))
    pair_images = np.concatenate([images[left], images[right]], axis=2)
    return np.ascontiguousarray(pair_images[order]), pair_labels[order]


def _load_digit_pairs():
    x_train, y_train, x_test, y_test = _load_digits()
    rng = np.random.default_rng(DIGIT_PAIRS_SEED)
    x_train, y_train = _pairs(x_train, y_train, DIGIT_PAIRS_TRAIN_PER_CLASS, rng)
    x_test, y_test = _pairs(x_test, y_test, DIGIT_PAIRS_TEST_PER_CLASS, rng)
    return x_train, y_train, x_test, y_test


#: Datasets that ship with a package (no download), by name: a function
#: returning `(x_train, y_train, x_test, y_test)` as `load_dataset` does.
OFFLINE_LOADERS = {"digits": _load_digits, "digit_pairs": _load_digit_pairs}
