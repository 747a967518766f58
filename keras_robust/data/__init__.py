"""Datasets, label noise, augmentation and the two ways of feeding a run.

- `load_dataset`, `get_spec`, `DATASETS`, `DatasetSpec`, `Dataset`: the
  paper's datasets (TFDS) and the offline `"digits"` set, with the
  normalisation and augmentation policy of supplement 1.
- `apply_label_noise`, `symmetric_noise`, `asymmetric_noise`,
  `pair_flip_transition`: seeded label noise with its mask.
- `DeviceAugmentation`, `augment_images`, `normalize`: per-image
  supplement-1 augmentation and normalisation with `keras.ops`, as the
  first layer of the model (no TensorFlow needed);
  `ReseedAugmentation`: the callback that makes each epoch's draws depend
  on `(seed, epoch)` only, for exact resumes.
- `make_pipelines`, `Pipelines`: the seeded, resumable training stream of
  raw uint8 images and the test and false-label datasets, in tf.data.
- `make_resident_data`, `ResidentData`: the same streams with the whole
  dataset on the accelerator, batched there (no TensorFlow needed).
- `prepare_run_data`, `RunData`: what both start from: a dataset cut to
  size, with its label noise; `FeedSpec`: the settings all three take.
"""

import importlib

from keras_robust.data.augment import DeviceAugmentation
from keras_robust.data.augment import ReseedAugmentation
from keras_robust.data.augment import augment_images
from keras_robust.data.augment import normalize
from keras_robust.data.datasets import AUGMENTATION_POLICIES
from keras_robust.data.datasets import DATA_SOURCES
from keras_robust.data.datasets import DATASETS
from keras_robust.data.datasets import Dataset
from keras_robust.data.datasets import DatasetSpec
from keras_robust.data.datasets import get_spec
from keras_robust.data.datasets import load_dataset
from keras_robust.data.noise import NOISE_KINDS
from keras_robust.data.noise import apply_label_noise
from keras_robust.data.noise import asymmetric_noise
from keras_robust.data.noise import pair_flip_transition
from keras_robust.data.noise import symmetric_noise
from keras_robust.data.resident import ResidentData
from keras_robust.data.resident import epoch_permutation
from keras_robust.data.resident import make_resident_data
from keras_robust.data.run_data import FeedSpec
from keras_robust.data.run_data import RunData
from keras_robust.data.run_data import prepare_run_data

# The tf.data parts import TensorFlow on first use only, so that the
# device-resident path runs where only jax or torch is.
_TENSORFLOW_NAMES = {
    "Pipelines": "keras_robust.data.pipeline",
    "make_pipelines": "keras_robust.data.pipeline",
}


def __getattr__(name):
    if name in _TENSORFLOW_NAMES:
        return getattr(importlib.import_module(_TENSORFLOW_NAMES[name]), name)
    raise AttributeError(f"module 'keras_robust.data' has no attribute {name!r}")

__all__ = [
    "AUGMENTATION_POLICIES",
    "DATASETS",
    "DATA_SOURCES",
    "DeviceAugmentation",
    "Dataset",
    "FeedSpec",
    "DatasetSpec",
    "NOISE_KINDS",
    "Pipelines",
    "ResidentData",
    "ReseedAugmentation",
    "RunData",
    "apply_label_noise",
    "asymmetric_noise",
    "augment_images",
    "epoch_permutation",
    "get_spec",
    "load_dataset",
    "make_pipelines",
    "make_resident_data",
    "normalize",
    "pair_flip_transition",
    "prepare_run_data",
    "symmetric_noise",
]
