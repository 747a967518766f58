"""Datasets, label noise, augmentation and tf.data pipelines.

- `load_dataset`, `get_spec`, `DATASETS`, `DatasetSpec`, `Dataset`: the
  paper's datasets (TFDS) and the offline `"digits"` set, with the
  normalisation and augmentation policy of supplement 1.
- `apply_label_noise`, `symmetric_noise`, `asymmetric_noise`,
  `pair_flip_transition`: seeded label noise with its mask.
- `augment_batch`, `normalize`: per-image augmentation of whole batches in
  tf.data; `DeviceAugmentation`, `augment_images`: the same with
  `keras.ops`, inside the model.
- `make_pipelines`, `Pipelines`: the seeded, resumable training stream and
  the test and false-label datasets.
"""

from keras_robust.data.augment import augment_batch
from keras_robust.data.augment import normalize
from keras_robust.data.datasets import AUGMENTATION_POLICIES
from keras_robust.data.datasets import DATASETS
from keras_robust.data.datasets import Dataset
from keras_robust.data.datasets import DatasetSpec
from keras_robust.data.datasets import get_spec
from keras_robust.data.datasets import load_dataset
from keras_robust.data.device_augment import DeviceAugmentation
from keras_robust.data.device_augment import augment_images
from keras_robust.data.noise import NOISE_KINDS
from keras_robust.data.noise import apply_label_noise
from keras_robust.data.noise import asymmetric_noise
from keras_robust.data.noise import pair_flip_transition
from keras_robust.data.noise import symmetric_noise
from keras_robust.data.pipeline import Pipelines
from keras_robust.data.pipeline import make_pipelines

__all__ = [
    "AUGMENTATION_POLICIES",
    "DATASETS",
    "DeviceAugmentation",
    "Dataset",
    "DatasetSpec",
    "NOISE_KINDS",
    "Pipelines",
    "apply_label_noise",
    "asymmetric_noise",
    "augment_batch",
    "augment_images",
    "get_spec",
    "load_dataset",
    "make_pipelines",
    "normalize",
    "pair_flip_transition",
    "symmetric_noise",
]
