"""Seeded tf.data pipelines for the paper's training runs (section 4).

`make_pipelines` turns an in-memory `Dataset` into

- a training stream of `(raw uint8 images, noisy_labels)` batches: label
  noise drawn once from the seed (`noise.apply_label_noise`), every epoch a
  permutation drawn from `(seed, epoch)` only;
- the test set, `(raw uint8 images, true_labels)`;
- the "false label" set of paper Fig. 2 (lower panels): the training
  images whose label was re-drawn, with their *true* labels.

The pipelines only shuffle, batch and prefetch: augmentation and
normalisation happen in the model, whose first layer is the run's
`DeviceAugmentation` (`Pipelines.device_augmentation()`), compiled with
the train step. Because each epoch depends only on `(seed, epoch)`, a run
resumed at epoch `k` with `train_dataset(start_epoch=k)`,
`model.fit(..., initial_epoch=k)` and the `ReseedAugmentation` callback
sees exactly the augmented batches that an uninterrupted run sees from
epoch `k` on.

Example:

```python
dataset = load_dataset("cifar10")
pipelines = make_pipelines(dataset, batch_size=128, noise_rate=0.4, seed=1)
inputs = keras.Input(dataset.spec.image_shape, dtype="uint8")
model = keras.Model(inputs, network(pipelines.device_augmentation()(inputs)))
model.compile(...)
model.fit(
    pipelines.train_dataset(),
    epochs=200,
    steps_per_epoch=pipelines.steps_per_epoch,
    callbacks=[ReseedAugmentation()],
    validation_data=pipelines.test_dataset(),
)
```
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from keras_robust.data.run_data import SHUFFLE_STREAM
from keras_robust.data.run_data import RunData
from keras_robust.data.run_data import check_int
from keras_robust.data.run_data import prepare_run_data


def _on_cpu(array):
    # Keeps the data in host memory even when TensorFlow sees a GPU.
    with tf.device("/cpu:0"):
        return tf.convert_to_tensor(array)


@dataclasses.dataclass(eq=False)
class Pipelines(RunData):
    """The tf.data pipelines of one training run; see `make_pipelines`.

    A `RunData` (arrays, label noise, batch geometry, `augment`) whose
    `noisy_labels` the training stream yields. All datasets yield raw uint8
    images for a model that starts with `device_augmentation()`.
    """

    def __post_init__(self):
        self._tensors = {}

    def _tensor(self, key, make_array):
        # Converted once and shared by all datasets of this object.
        if key not in self._tensors:
            self._tensors[key] = _on_cpu(make_array())
        return self._tensors[key]

    def train_dataset(self, start_epoch=0):
        """The infinite training stream, from epoch `start_epoch` on.

        Epoch `e` is a permutation of the training set drawn from
        `(seed, e)` (`tf.random.experimental.stateless_shuffle`), cut into
        `steps_per_epoch` batches of `batch_size` (the last one may be
        smaller). The stream is therefore a pure function of `seed`, and
        `train_dataset(start_epoch=k)` starts with exactly epoch `k` of
        `train_dataset()`. Use it as `model.fit(ds,
        steps_per_epoch=p.steps_per_epoch, initial_epoch=k)`.

        Args:
            start_epoch: Non-negative int, the first epoch of the stream.

        Returns:
            A `tf.data.Dataset` of `(images, labels)`: raw uint8 images,
            the int32 `noisy_labels`.
        """
        start_epoch = check_int("start_epoch", start_epoch, 0)
        images = self._tensor("x_train", lambda: self.x_train)
        labels = self._tensor("noisy_labels", lambda: self.noisy_labels)
        num_examples = self.num_train_examples
        batch_size = self.batch_size
        shuffle_key = tf.constant([self.seed, SHUFFLE_STREAM], tf.int64)

        def epoch_batches(epoch):
            order = tf.random.experimental.stateless_shuffle(
                tf.range(num_examples, dtype=tf.int32),
                seed=tf.random.experimental.stateless_fold_in(
                    shuffle_key, epoch
                ),
            )

            def batch(step):
                start = step * batch_size
                return order[start : start + batch_size]

            return tf.data.Dataset.range(self.steps_per_epoch).map(batch)

        def load(index):
            return tf.gather(images, index), tf.gather(labels, index)

        dataset = tf.data.Dataset.counter(start_epoch).flat_map(epoch_batches)
        # Parallel but ordered (`deterministic` stays on): every batch is a
        # pure function of (seed, epoch, step), and the order keeps it so.
        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def _eval_dataset(self, images, labels):
        size = int(labels.shape[0])
        batch_size = self.eval_batch_size

        def load(step):
            start = step * batch_size
            return (
                images[start : start + batch_size],
                labels[start : start + batch_size],
            )

        num_batches = math.ceil(size / batch_size)
        dataset = tf.data.Dataset.range(num_batches).map(
            load, num_parallel_calls=tf.data.AUTOTUNE
        )
        return dataset.prefetch(tf.data.AUTOTUNE)

    def test_dataset(self):
        """The test set in batches of `eval_batch_size`, not augmented.

        Returns:
            A finite `tf.data.Dataset` of `(images, labels)` in the stored
            order: raw uint8 images, int32 true labels.
        """
        return self._eval_dataset(
            self._tensor("x_test", lambda: self.x_test),
            self._tensor("y_test", lambda: self.y_test),
        )

    def false_label_dataset(self):
        """The training images with `noise_mask` set, with TRUE labels.

        The accuracy of a model on this set is the paper's "false label
        accuracy" (Fig. 2, lower panels): how well it predicts the true
        class of the examples it was trained on with a re-drawn label.
        Images (raw uint8) come in increasing index order, in batches of
        `eval_batch_size`.

        Returns:
            A finite `tf.data.Dataset` of `(images, true_labels)` like
            `test_dataset`, or `None` when `noise_mask` is empty (no noise).
        """
        index = np.flatnonzero(self.noise_mask)
        if index.size == 0:
            return None
        return self._eval_dataset(
            _on_cpu(self.x_train[index]), _on_cpu(self.y_train[index])
        )


def _keep_tensorflow_off_accelerators():
    """With the jax or torch backend, tf.data must not take the GPU's memory."""
    import keras

    if keras.backend.backend() == "tensorflow":
        return
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:
        pass  # TensorFlow's devices are already initialised.


def make_pipelines(dataset, feed=None, **fields):
    """Builds the training, test and false-label pipelines of one run.

    Label noise is drawn once, from `feed.seed`
    (`noise.apply_label_noise`); the training stream's shuffling is drawn
    from `(seed, epoch)`, see `Pipelines.train_dataset`. All datasets yield
    raw uint8 images: the model must start with the run's
    `DeviceAugmentation` layer (`pipelines.device_augmentation()`), which
    normalises, `(x / 255 - spec.mean) / spec.std`, and during training
    first applies the supplement-1 augmentation (`spec.augmentation`) when
    `feed.augment`. The paper augments only for the ResNets: pass
    `augment=False` for MLP1024.

    Args:
        dataset: A `Dataset` (`load_dataset`) with uint8 images.
        feed: A `FeedSpec`; or None and its fields as keyword arguments
            (`batch_size=128, noise_rate=0.4, seed=1, ...`).

    Returns:
        A `Pipelines`.

    Raises:
        ValueError: for a bad batch size, seed, noise rate or kind, images
            of the wrong shape or dtype, or labels outside `[0, c)`.
    """
    _keep_tensorflow_off_accelerators()
    run_data = prepare_run_data(dataset, feed, **fields)
    return Pipelines(**run_data.fields())
