"""Seeded tf.data pipelines for the paper's training runs (section 4).

`make_pipelines` turns an in-memory `Dataset` into

- a training stream of `(images, noisy_labels)` batches: label noise drawn
  once from the seed (`noise.apply_label_noise`), every epoch shuffled and
  augmented with random draws derived from `(seed, epoch)` only;
- the test set, `(images, true_labels)`, not augmented;
- the "false label" set of paper Fig. 2 (lower panels): the training
  images whose label was re-drawn, with their *true* labels, not augmented.

Because each epoch depends only on `(seed, epoch)`, a run resumed at epoch
`k` with `train_dataset(start_epoch=k)` and
`model.fit(..., initial_epoch=k)` sees exactly the batches that an
uninterrupted run sees from epoch `k` on.

Two placements of the augmentation are offered:

- `on_device=False` (default): the pipeline normalises the images (and,
  with `augment=True`, applies the dataset's supplement-1 policy to whole
  batches, `augment.augment_batch`) and yields float32 images.
- `on_device=True`: every dataset yields raw uint8 images and the model is
  expected to start with `DeviceAugmentation` (see
  `Pipelines.device_augmentation`), which augments inside the compiled
  train step and normalises in training and evaluation alike.

Example:

```python
dataset = load_dataset("cifar10")
pipelines = make_pipelines(dataset, batch_size=128, noise_rate=0.4, seed=1)
model.fit(
    pipelines.train_dataset(),
    epochs=200,
    steps_per_epoch=pipelines.steps_per_epoch,
    validation_data=pipelines.test_dataset(),
)
```
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from keras_robust.data import augment as augment_lib
from keras_robust.data.run_data import SHUFFLE_STREAM
from keras_robust.data.run_data import RunData
from keras_robust.data.run_data import check_int
from keras_robust.data.run_data import prepare_run_data

# The random stream of the per-batch augmentation draws, folded into the
# user's seed next to the permutation's `SHUFFLE_STREAM`.
_AUGMENT_STREAM = 1


def _on_cpu(array):
    # Keeps the data in host memory even when TensorFlow sees a GPU.
    with tf.device("/cpu:0"):
        return tf.convert_to_tensor(array)


@dataclasses.dataclass(eq=False)
class Pipelines(RunData):
    """The tf.data pipelines of one training run; see `make_pipelines`.

    A `RunData` (arrays, label noise, batch geometry, `augment`) whose
    `noisy_labels` the training stream yields, plus:

    Attributes:
        on_device: Whether the datasets yield raw uint8 images for a model
            that starts with `DeviceAugmentation` (`device_augmentation()`);
            otherwise they yield normalised images, the training stream
            augmented in tf.data when `augment` is set.
    """

    on_device: bool = False

    def __post_init__(self):
        self._tensors = {}

    def _tensor(self, key, make_array):
        # Converted once and shared by all datasets of this object.
        if key not in self._tensors:
            self._tensors[key] = _on_cpu(make_array())
        return self._tensors[key]

    def _train_table(self):
        # `augment.pixel_table` of the training set, built in NumPy.
        channels = self.x_train.shape[-1]
        return np.concatenate(
            [
                self.x_train.reshape(-1, channels),
                np.zeros((1, channels), self.x_train.dtype),
            ]
        )

    def _finish(self, images, labels):
        """Normalises uint8 images unless the model does it on device."""
        if self.on_device:
            return images, labels
        return (
            augment_lib.normalize_compiled(
                images, self.spec.mean, self.spec.std
            ),
            labels,
        )

    def train_dataset(self, start_epoch=0):
        """The infinite training stream, from epoch `start_epoch` on.

        Epoch `e` is a permutation of the training set drawn from
        `(seed, e)`, cut into `steps_per_epoch` batches of `batch_size`
        (the last one may be smaller). With `on_device=False` and
        `augment=True`, batch `b` of epoch `e` with image indices `index`
        is `normalize(augment_batch(x_train[index], policy, batch_seed))`
        with `batch_seed` derived from `(seed, e, b)`, computed in one
        XLA-compiled gather from the whole training set
        (`augment.augment_from_table`). The stream
        is therefore a pure function of `seed`, and
        `train_dataset(start_epoch=k)` starts with exactly epoch `k` of
        `train_dataset()`. Use it as
        `model.fit(ds, steps_per_epoch=p.steps_per_epoch, initial_epoch=k)`.

        Args:
            start_epoch: Non-negative int, the first epoch of the stream.

        Returns:
            A `tf.data.Dataset` of `(images, labels)`: images float32
            normalised (`on_device=False`) or raw uint8 (`on_device=True`),
            labels the int32 `noisy_labels`.
        """
        start_epoch = check_int("start_epoch", start_epoch, 0)
        labels = self._tensor("noisy_labels", lambda: self.noisy_labels)
        num_examples = self.num_train_examples
        batch_size = self.batch_size
        steps = self.steps_per_epoch
        policy = self.spec.augmentation
        augment = self.augment and not self.on_device and policy != "none"
        # Each output pixel is gathered straight from the training set,
        # unless its pixel count overflows the table's int32 row index.
        from_table = augment and self.x_train[..., 0].size < 2**31 - 1
        if from_table:
            table = self._tensor("train_table", self._train_table)
            normalization = (self.spec.mean, self.spec.std)
        else:
            images = self._tensor("x_train", lambda: self.x_train)
        shuffle_key = tf.constant([self.seed, SHUFFLE_STREAM], tf.int64)
        augment_key = tf.constant([self.seed, _AUGMENT_STREAM], tf.int64)
        fold_in = tf.random.experimental.stateless_fold_in

        def epoch_batches(epoch):
            order = tf.random.experimental.stateless_shuffle(
                tf.range(num_examples, dtype=tf.int32),
                seed=fold_in(shuffle_key, epoch),
            )
            epoch_key = fold_in(augment_key, epoch)

            def batch(step):
                start = step * batch_size
                return order[start : start + batch_size], fold_in(
                    epoch_key, step
                )

            return tf.data.Dataset.range(steps).map(batch)

        def load(index, batch_seed):
            batch_labels = tf.gather(labels, index)
            if from_table:
                batch_images = augment_lib.augment_from_table(
                    table,
                    index,
                    self.spec.image_shape,
                    policy,
                    batch_seed,
                    normalization=normalization,
                )
                return batch_images, batch_labels
            batch_images = tf.gather(images, index)
            if augment:
                batch_images = augment_lib.augment_batch(
                    batch_images, policy, batch_seed
                )
            return self._finish(batch_images, batch_labels)

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
            return self._finish(
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
            order: images as in `train_dataset` (normalised float32, or raw
            uint8 with `on_device=True`), int32 true labels.
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
        Images are not augmented and come in increasing index order, in
        batches of `eval_batch_size`.

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


def make_pipelines(
    dataset,
    *,
    batch_size,
    noise_rate,
    noise_kind="symmetric",
    seed=0,
    augment=True,
    on_device=False,
    eval_batch_size=1000,
    transition_matrix=None,
    train_size=None,
):
    """Builds the training, test and false-label pipelines of one run.

    Label noise is drawn once, from `seed` (`noise.apply_label_noise`); the
    training stream's shuffling and augmentation use random draws derived
    from `(seed, epoch)`, see `Pipelines.train_dataset`.

    With `on_device=False` all datasets yield normalised float32 images:
    `(x / 255 - spec.mean) / spec.std`, after the training augmentation of
    supplement 1 (`spec.augmentation`) when `augment=True`. The paper
    augments only for the ResNets: pass `augment=False` for MLP1024.

    With `on_device=True` all datasets yield raw uint8 images, and the
    model must start with a `DeviceAugmentation` layer (e.g.
    `pipelines.device_augmentation()`), which augments during training,
    inside the compiled train step, and normalises always; `augment` then
    only selects the layer's policy in `Pipelines.device_augmentation`.

    Args:
        dataset: A `Dataset` (`load_dataset`) with uint8 images.
        batch_size: Positive int, the training batch size.
        noise_rate: Noise rate `eta` in `[0, 1]`.
        noise_kind: `"symmetric"` (the paper's), `"asymmetric"` or
            `"pair_flip"`; see `noise.apply_label_noise`.
        seed: Integer seed of noise, shuffling and augmentation.
        augment: Whether to augment the training images.
        on_device: Whether to leave augmentation and normalisation to the
            model, see above.
        eval_batch_size: Positive int, batch size of the test and
            false-label datasets.
        transition_matrix: Optional `(c, c)` row-stochastic matrix for
            `noise_kind="asymmetric"`.
        train_size: Optional positive int: use only the first `train_size`
            training examples (tests, quick runs). The test set is kept.

    Returns:
        A `Pipelines`.

    Raises:
        ValueError: for a bad batch size, seed, noise rate or kind, images
            of the wrong shape or dtype, or labels outside `[0, c)`.
    """
    _keep_tensorflow_off_accelerators()
    run_data = prepare_run_data(
        dataset,
        batch_size=batch_size,
        noise_rate=noise_rate,
        noise_kind=noise_kind,
        seed=seed,
        augment=augment,
        eval_batch_size=eval_batch_size,
        transition_matrix=transition_matrix,
        train_size=train_size,
    )
    return Pipelines(**run_data.fields(), on_device=bool(on_device))
