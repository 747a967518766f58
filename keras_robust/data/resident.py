"""The whole dataset of a run on the accelerator, batched there.

`make_resident_data` puts the uint8 training and test images and the
labels of one run on the Keras backend's default device once
(`keras.ops.convert_to_tensor`: the GPU under jax or torch when there is
one) and serves batches that are gathered there, so no image crosses from
host memory during training. It is the TensorFlow-free sibling of
`make_pipelines`: as there, the model must start with `DeviceAugmentation`
(`ResidentData.device_augmentation()`), which augments inside the compiled
train step and normalises, and the `ReseedAugmentation` callback makes its
draws depend on `(seed, epoch)` only.

Per step only the batch's `batch_size` int32 indices leave the host: the
epoch's permutation is drawn on the host from `(seed, epoch)`
(`np.random.default_rng`), and each step's slice of it is copied to the
device, where two gathers take the batch. So, as
with the tf.data stream, epoch `e` depends only on `(seed, e)` and a run
resumed with `train_dataset(start_epoch=k)` sees exactly the batches of an
uninterrupted one. The permutations differ from the tf.data stream's (a
different generator), not their distribution.

The datasets are `keras.utils.PyDataset`s that `model.fit`, `evaluate` and
`predict` take on every backend. Under the jax and torch backends Keras
passes their device arrays through untouched; under TensorFlow Keras's
`from_generator` adapter copies each batch through the host, so there the
tf.data pipelines are the faster choice.

Example (jax on a GPU, no TensorFlow installed):

```python
dataset = load_dataset("cifar10", source="keras")
resident = make_resident_data(dataset, batch_size=128, noise_rate=0.4)
inputs = keras.Input(dataset.spec.image_shape, dtype="uint8")
outputs = zoo.resnet32()(resident.device_augmentation()(inputs))
model = keras.Model(inputs, outputs)
model.compile(...)
model.fit(resident.train_dataset(), epochs=200,
          steps_per_epoch=resident.steps_per_epoch, shuffle=False,
          callbacks=[ReseedAugmentation()])
```
"""

import dataclasses
import math

import keras
import numpy as np
from keras import ops

from keras_robust.data.run_data import SHUFFLE_STREAM
from keras_robust.data.run_data import RunData
from keras_robust.data.run_data import check_int
from keras_robust.data.run_data import prepare_run_data


def epoch_permutation(seed, epoch, num_examples):
    """The order of the training examples in `epoch`: int32 `(N,)`.

    A permutation drawn by `np.random.default_rng([SHUFFLE_STREAM, seed,
    epoch])`, a pure function of `(seed, epoch)`.
    """
    rng = np.random.default_rng([SHUFFLE_STREAM, seed % 2**64, epoch])
    return rng.permutation(num_examples).astype(np.int32)


def _only_host_devices():
    """Whether the backend's only devices are CPUs (their memory is the host's)."""
    if keras.backend.backend() == "torch":
        # Keras's distribution API (`list_devices`) is not there under torch.
        import torch

        return not (torch.cuda.is_available() or torch.backends.mps.is_available())
    return all(
        device.lower().startswith("cpu") for device in keras.distribution.list_devices()
    )


def _take(array, rows):
    """`array[rows]`: NumPy's gather for host arrays, the backend's on a device."""
    if isinstance(array, np.ndarray):
        return np.take(array, rows, axis=0)
    return ops.take(array, ops.convert_to_tensor(rows), axis=0)


class _TrainStream(keras.utils.PyDataset):
    """The infinite training stream: batch `i` is step `i % steps` of epoch
    `start_epoch + i // steps`."""

    def __init__(self, resident, start_epoch):
        super().__init__()
        self._resident = resident
        self._start_epoch = start_epoch
        self._epoch = None
        self._order = None

    @property
    def num_batches(self):
        return None

    def __getitem__(self, index):
        resident = self._resident
        epoch, step = divmod(index, resident.steps_per_epoch)
        epoch += self._start_epoch
        if epoch != self._epoch:
            self._order = epoch_permutation(
                resident.seed, epoch, resident.num_train_examples
            )
            self._epoch = epoch
        start = step * resident.batch_size
        # Sliced on the host: an eager slice of a device array costs more
        # than copying the batch's indices.
        batch = self._order[start : start + resident.batch_size]
        return (
            _take(resident.device_arrays["x_train"], batch),
            _take(resident.device_arrays["noisy_labels"], batch),
        )


class _EvalBatches(keras.utils.PyDataset):
    """Consecutive batches of device arrays `(images, labels)`, or of the
    rows `index` of them."""

    def __init__(self, images, labels, batch_size, index=None):
        super().__init__()
        self._images = images
        self._labels = labels
        self._batch_size = batch_size
        self._index = index
        size = labels.shape[0] if index is None else index.shape[0]
        self._num_batches = math.ceil(int(size) / batch_size)

    @property
    def num_batches(self):
        return self._num_batches

    def __len__(self):
        return self._num_batches

    def __getitem__(self, index):
        if not 0 <= index < self._num_batches:
            raise IndexError(
                f"Batch index {index} out of range [0, {self._num_batches})."
            )
        start = index * self._batch_size
        stop = start + self._batch_size
        if self._index is None:
            return self._images[start:stop], self._labels[start:stop]
        rows = self._index[start:stop]
        return _take(self._images, rows), _take(self._labels, rows)


@dataclasses.dataclass(eq=False)
class ResidentData(RunData):
    """One run's data on the accelerator; see `make_resident_data`.

    A `RunData` (host arrays, noise, batch geometry, `augment`) plus the
    device copies, with the interface of `Pipelines` (`train_dataset`,
    `test_dataset`, `false_label_dataset`, `device_augmentation`),
    returning `keras.utils.PyDataset`s of raw uint8 images.

    Attributes:
        device_arrays: The device tensors: `x_train`, `noisy_labels`,
            `y_train` (true labels), `x_test`, `y_test`, and
            `false_label_index` (int32 rows of `noise_mask`). Where the
            backend has no device but CPUs they are these NumPy arrays:
            the CPU computes on host memory, and a NumPy gather of a batch
            costs a fraction of an eager backend op.
    """

    def __post_init__(self):
        to_device = np.asarray if _only_host_devices() else ops.convert_to_tensor
        self.device_arrays = {
            "x_train": to_device(self.x_train),
            "noisy_labels": to_device(self.noisy_labels),
            "y_train": to_device(self.y_train),
            "x_test": to_device(self.x_test),
            "y_test": to_device(self.y_test),
            "false_label_index": to_device(
                np.flatnonzero(self.noise_mask).astype(np.int32)
            ),
        }

    def train_dataset(self, start_epoch=0):
        """The infinite training stream, from epoch `start_epoch` on.

        Epoch `e` visits the training set in the order
        `epoch_permutation(seed, e, N)`, in `steps_per_epoch` batches of
        `batch_size` (the last one may be smaller), each `(uint8 images,
        int32 noisy labels)` gathered on the device. Use it as
        `model.fit(ds, steps_per_epoch=r.steps_per_epoch,
        initial_epoch=k, shuffle=False)` with `start_epoch=k`.

        Args:
            start_epoch: Non-negative int, the first epoch of the stream.

        Returns:
            An infinite `keras.utils.PyDataset`.
        """
        return _TrainStream(self, check_int("start_epoch", start_epoch, 0))

    def test_dataset(self):
        """The test set in batches of `eval_batch_size`, in stored order.

        Returns:
            A finite `keras.utils.PyDataset` of `(uint8 images, int32 true
            labels)`.
        """
        arrays = self.device_arrays
        return _EvalBatches(
            arrays["x_test"], arrays["y_test"], self.eval_batch_size
        )

    def false_label_dataset(self):
        """The training images with `noise_mask` set, with TRUE labels.

        The paper's "false label accuracy" set (Fig. 2, lower panels), in
        increasing index order, gathered from the resident training images.

        Returns:
            A finite `keras.utils.PyDataset`, or `None` when `noise_mask` is
            empty (no noise).
        """
        arrays = self.device_arrays
        if not self.noise_mask.any():
            return None
        return _EvalBatches(
            arrays["x_train"],
            arrays["y_train"],
            self.eval_batch_size,
            index=arrays["false_label_index"],
        )


def make_resident_data(dataset, feed=None, **fields):
    """Puts one run's data on the accelerator; see the module docstring.

    Arguments as `make_pipelines` (a `FeedSpec`, or its fields as keyword
    arguments); the images are raw uint8, for a model
    that starts with `DeviceAugmentation` (`device_augmentation()`).
    The device holds `x_train`, `x_test` and the labels: about 184 MB for
    CIFAR-10 or CIFAR-100.

    Returns:
        A `ResidentData`.

    Raises:
        ValueError: as `prepare_run_data`.
    """
    run_data = prepare_run_data(dataset, feed, **fields)
    return ResidentData(**run_data.fields())
