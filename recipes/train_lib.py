"""One training run: `train_and_evaluate(spec, workdir)`.

The run loads the data (`keras_robust.data`), injects the label noise,
builds the zoo model (logits out) behind `keras_robust.data.
DeviceAugmentation` (augmentation and normalisation inside the model, fed
raw uint8 images), compiles it with the loss (`from_logits=True`, the
run's output bias) and `zoo.TorchSGD` (PyTorch's coupled weight decay),
trains it with `model.fit` and records, after every epoch, the training
loss, the test accuracy and the "false label accuracy" (paper Fig. 2, lower
panels: the accuracy on the training images whose label was re-drawn,
against their true labels; both in one compiled pass, `Evaluation`). It
writes `<workdir>/results.json` through `recipes.results`, and each epoch's
metrics as TensorBoard events (`recipes.tensorboard_events`).

Resumability: after every epoch the model and optimizer state and the
history are checkpointed (`recipes.checkpoint`; copied at the epoch's end,
written while the next epoch trains). A run killed mid-way resumes from its
last saved epoch (the last finished one, or the one before while its
checkpoint was being written) and, since every epoch of the data
stream and of the augmentation depends only on `(seed, epoch)` and ops are
deterministic (`spec.deterministic`), ends with the same numbers as an
uninterrupted run. A finished run is not trained again; a run directory
holding a run of other settings is refused (`results.SettingsMismatchError`);
a damaged results file or checkpoint is set aside (`*.damaged`, never
deleted) with a one-line warning naming it, and the run starts over; the
temporary files of writes a kill interrupted are removed.

Every step reads the run's `recipes.config.RunSpec`, resolved once before
(`recipes.config.resolve`); nothing here resolves or checks a config
again. The steps are public for reuse (benchmarks, notebooks):
`load_data`, `check_steps_per_execution`, `build_model`, `compile_model`,
`Evaluation`, `training_callbacks`, `versions`.

Example:

```python
from recipes import config as config_lib
from recipes import train_lib

config = config_lib.get_default_config()
config.dataset, config.model, config.loss = "digits", "mlp1024", "gce"
config.noise_rate = 0.4
spec = config_lib.resolve(config)
result = train_lib.train_and_evaluate(spec, "/tmp/gce-run")
print(result.test_accuracy)
```

A test or notebook hands the run an in-memory dataset with
`train_and_evaluate(spec, workdir, data=dataset)`.
"""

import contextlib
import importlib.metadata
import os
import time
import warnings

import keras
import numpy as np

import keras_robust
import recipes
import zoo
from keras_robust import data
from recipes import atomic_files
from recipes import checkpoint
from recipes import config as config_lib
from recipes import results
from recipes import tensorboard_events

MODEL_FILENAME = "model.keras"
#: The model's probabilities on the held-out fold (`spec.num_folds > 1`).
HOLDOUT_FILENAME = "holdout_probabilities.npz"


def load_data(spec, dataset=None):
    """The training, test and false-label data of the run `spec`.

    Args:
        spec: A `recipes.config.RunSpec`.
        dataset: The `keras_robust.data.Dataset` to feed, or None to load
            `spec.dataset` (`keras_robust.data.load_dataset`).

    Returns:
        `data.make_pipelines(...)` (tf.data, raw uint8 images), or
        `data.make_resident_data(...)` for a `device_resident` run.

    Raises:
        ValueError: for a dataset that is not the spec's (another name).
    """
    if dataset is None:
        dataset = data.load_dataset(
            spec.dataset, data_dir=spec.data_dir, source=spec.data_source
        )
    elif isinstance(dataset, data.Dataset) and dataset.spec != data.get_spec(spec.dataset):
        raise ValueError(
            f"`data` must be a dataset of {spec.dataset!r}, the run's. "
            f"Received: a dataset of {dataset.spec.name!r}"
        )
    if spec.device_resident:
        return data.make_resident_data(dataset, spec.feed)
    return data.make_pipelines(dataset, spec.feed)


def report_noise_rate(spec, run_data):
    """The fraction of the run's training labels that differ from the true ones.

    Printed for human noise, whose rate is measured, not set.
    """
    rate = float(np.mean(run_data.noisy_labels != run_data.y_train))
    if spec.verbose and spec.noise_kind == "human":
        print(
            f"Human label set {spec.noise_label_set!r} of {spec.dataset}: "
            f"{100 * rate:.2f}% of the {run_data.num_train_examples} "
            "training labels are wrong."
        )
    return rate


def save_holdout_probabilities(model, run_data, workdir):
    """Writes `<workdir>/holdout_probabilities.npz`: the held-out fold's
    `indices` (into the training set) and the model's softmax `probabilities`."""
    # Batch by batch: `model.predict` on an array builds a tf.data pipeline
    # whose op TensorFlow 2.21 logs an error line about.
    images, size = run_data.holdout_images, run_data.eval_batch_size
    logits = np.concatenate([
        keras.ops.convert_to_numpy(model.predict_on_batch(images[start : start + size]))
        for start in range(0, len(images), size)
    ])
    probabilities = keras.ops.convert_to_numpy(
        keras.ops.softmax(keras.ops.cast(logits, "float32"), axis=-1)
    )

    def save(path):
        with open(path, "wb") as file:
            np.savez(file, indices=run_data.holdout_indices, probabilities=probabilities)

    atomic_files.write_with(os.path.join(workdir, HOLDOUT_FILENAME), save)


def check_steps_per_execution(spec, steps_per_epoch):
    """Refuses a `steps_per_execution` that does not divide the epoch.

    Keras 3 would run whole executions past the epoch's end on the repeated
    stream (keras 3.15: 16 per execution and 4 steps per epoch trained 16
    steps per epoch), silently changing the training.

    Raises:
        recipes.config.ConfigError: naming the allowed values up to 64.
    """
    per_execution = spec.steps_per_execution
    if steps_per_epoch % per_execution:
        divisors = [d for d in range(1, min(steps_per_epoch, 64) + 1)
                    if steps_per_epoch % d == 0]
        raise config_lib.ConfigError(
            "steps_per_execution", per_execution,
            f"expected a divisor of the {steps_per_epoch} steps per epoch: "
            f"{', '.join(map(str, divisors))}",
        )


def build_model(spec, run_data):
    """The zoo model of `spec` behind the dataset's `DeviceAugmentation`.

    The model takes raw uint8 images; the layer augments them in training
    (the dataset's supplement-1 policy when `spec.augment`) and
    normalises them always.
    """
    dataset = run_data.spec
    network = zoo.build(spec.model, dataset.image_shape, dataset.num_classes)
    inputs = keras.Input(dataset.image_shape, dtype="uint8", name="raw_images")
    images = run_data.device_augmentation(seed=spec.seed)(inputs)
    return keras.Model(inputs, network(images), name=f"{spec.model}_augmented")


def compile_model(spec, model):
    """Compiles `model` with the loss, `zoo.TorchSGD` and settings of `spec`.

    The loss takes logits (`from_logits=True`) with the run's output bias;
    the metric is `accuracy`. Under jax the step is always jitted.
    """
    optimizer = zoo.TorchSGD(
        learning_rate=spec.learning_rate_at(0),
        momentum=spec.momentum,
        weight_decay=spec.weight_decay,
    )
    model.compile(
        optimizer=optimizer,
        loss=spec.loss_spec.get(from_logits=True, **spec.loss_kwargs),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=spec.jit_compile or keras.backend.backend() == "jax",
        steps_per_execution=spec.steps_per_execution,
    )


def empty_history():
    """A history dict with an empty list per `results.HISTORY_KEYS`."""
    return {key: [] for key in results.HISTORY_KEYS}


class Evaluation:
    """The test and false-label accuracy of a model, in one compiled pass.

    The test images and the false-label images (the training images whose
    `noise_mask` is set, with their true labels) are joined once, padded to
    whole batches of `batch_size` (at most `run_data.eval_batch_size`), and
    predicted batch by batch with `model.predict_on_batch`: one compiled
    inference of one shape, without `model.evaluate`'s per-call set-up. The
    accuracy of each set is its count of correct argmax predictions over
    its size, computed in float32 as Keras's `SparseCategoricalAccuracy`
    does, so it equals `model.evaluate(...)["accuracy"]` on the same logits.

    Args:
        run_data: The run's `keras_robust.data.RunData` (its NumPy arrays).
    """

    def __init__(self, run_data):
        false_labels = np.flatnonzero(run_data.noise_mask)
        images = np.concatenate([run_data.x_test, run_data.x_train[false_labels]])
        self.labels = np.concatenate([run_data.y_test, run_data.y_train[false_labels]])
        self.sizes = (len(run_data.y_test), len(false_labels))
        self.batch_size = min(run_data.eval_batch_size, len(images))
        padding = -len(images) % self.batch_size
        self.images = np.concatenate([images, np.zeros_like(images[:padding])])

    def predictions(self, model):
        """The argmax predictions of `model` on the joined images."""
        batches = [
            keras.ops.convert_to_numpy(
                model.predict_on_batch(self.images[start : start + self.batch_size])
            ).argmax(axis=-1)
            for start in range(0, len(self.images), self.batch_size)
        ]
        return np.concatenate(batches)[: len(self.labels)]

    def __call__(self, model):
        """`(test accuracy, false-label accuracy)`; the latter None without noise."""
        correct = self.predictions(model) == self.labels
        test, false_label = np.split(correct, [self.sizes[0]])
        accuracies = [
            float(np.float32(part.sum()) / np.float32(part.size)) if part.size else None
            for part in (test, false_label)
        ]
        return tuple(accuracies)


class EpochMetrics(keras.callbacks.Callback):
    """Appends the epoch's loss, accuracies and learning rate to `history`.

    The test and false-label accuracies (`evaluation`, an `Evaluation`) are
    evaluated every `spec.eval_every` epochs and after the last one (None
    in between), and added to the epoch logs.
    """

    def __init__(self, spec, history, evaluation):
        super().__init__()
        self.spec = spec
        self.history = history
        self.evaluation = evaluation

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        test_accuracy = false_label_accuracy = None
        last = epoch + 1 == self.spec.epochs
        if (epoch + 1) % self.spec.eval_every == 0 or last:
            test_accuracy, false_label_accuracy = self.evaluation(self.model)
            logs["test_accuracy"] = test_accuracy
            if false_label_accuracy is not None:
                logs["false_label_accuracy"] = false_label_accuracy
        self.history["epoch"].append(epoch + 1)
        self.history["train_loss"].append(float(logs["loss"]))
        self.history["test_accuracy"].append(test_accuracy)
        self.history["false_label_accuracy"].append(false_label_accuracy)
        self.history["learning_rate"].append(self.spec.learning_rate_at(epoch))


def training_callbacks(spec, run_data, history, run_dir, clock):
    """The callbacks of a run, in order: schedule, augmentation seed, metrics,
    TensorBoard events (before the checkpoint: see `recipes.tensorboard_events`),
    checkpoint (a `checkpoint.SaveEveryEpoch`, last)."""
    return [
        keras.callbacks.LearningRateScheduler(
            lambda epoch, rate: spec.learning_rate_at(epoch)
        ),
        data.ReseedAugmentation(),
        EpochMetrics(spec, history, Evaluation(run_data)),
        tensorboard_events.EpochEvents(run_dir, history),
        checkpoint.SaveEveryEpoch(
            checkpoint.checkpoint_dir(run_dir), spec.settings, history, clock
        ),
    ]


def _installed_version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions():
    """The versions recorded with the results."""
    return {
        "keras": keras.__version__,
        "tensorflow": _installed_version("tensorflow"),
        "keras_robust": keras_robust.__version__,
        "backend": keras.backend.backend(),
    }


def _enable_op_determinism(spec):
    """TensorFlow's op determinism, where TensorFlow computes anything.

    That is the model under the tensorflow backend and the tf.data
    pipelines; a device-resident run under jax or torch runs no TensorFlow
    (on a GPU, jax needs `XLA_FLAGS=--xla_gpu_deterministic_ops=true` for
    bit-exact resumes).
    """
    if spec.device_resident and keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def _dtype_policy(name):
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy(name)
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def _released_custom_gradients():
    """Forgets the custom gradients TensorFlow registered during the block.

    TensorFlow (2.21 and earlier) registers each `tf.custom_gradient` traced
    in a `tf.function` in a global registry under `CustomGradient-<n>`, and
    the entry keeps the traced graph alive for the life of the process
    (tensorflow/tensorflow#97697). Keras's TensorFlow optimizer traces one
    per model (its gradient all-reduce), so a sweep worker grew by the
    train graphs of every run it trained (about 13 MB per MLP run). The
    entries made during one run belong to that run's graphs, which no later
    run uses.
    """
    try:
        from tensorflow.python.framework import ops as tf_ops

        registry = tf_ops._gradient_registry._registry
    except (ImportError, AttributeError):
        registry = {}  # Nothing to release where the registry moved.
    before = set(registry)
    try:
        yield
    finally:
        for name in set(registry) - before:
            if name.startswith("CustomGradient-"):
                del registry[name]


def _set_aside(path, error):
    target = atomic_files.set_aside(path)
    warnings.warn(f"{error}; set aside as {target}, starting over.", stacklevel=3)


def remove_stale_temporaries(workdir):
    """Removes the temporary files that killed writes left in the run directory
    and its checkpoint, with a one-line warning naming them."""
    stale = atomic_files.remove_stale_temporaries(workdir)
    stale += atomic_files.remove_stale_temporaries(checkpoint.checkpoint_dir(workdir))
    if stale:
        warnings.warn(
            f"Removed {len(stale)} temporary files of interrupted writes: {', '.join(stale)}",
            stacklevel=3,
        )


def finished_result(spec, workdir):
    """The stored `RunResult` of `spec` in `workdir`, or None if not finished.

    A damaged results file is set aside (None is returned).

    Raises:
        results.SettingsMismatchError: if `workdir` holds another run.
    """
    try:
        if results.is_finished(workdir, spec):
            return results.read(workdir)
    except results.DamagedResultsError as error:
        _set_aside(os.path.join(workdir, results.RESULTS_FILENAME), error)
    return None


def load_checkpoint(spec, workdir):
    """The run's `checkpoint.Checkpoint` in `workdir`, or None.

    A damaged checkpoint is set aside (None is returned).

    Raises:
        results.SettingsMismatchError: if it belongs to other settings.
    """
    directory = checkpoint.checkpoint_dir(workdir)
    try:
        loaded = checkpoint.load(directory)
    except checkpoint.DamagedCheckpointError as error:
        _set_aside(directory, error)
        return None
    if loaded is not None and spec.settings_differences(loaded.state["settings"]):
        raise results.SettingsMismatchError(
            results.mismatch_message(directory, loaded.state["settings"], spec)
        )
    return loaded


def train_and_evaluate(spec, workdir, *, data=None, callbacks=()):
    """Trains the run `spec` (or resumes it) in the run directory `workdir`.

    Args:
        spec: A `recipes.config.RunSpec` (`recipes.config.resolve`).
        workdir: The run's directory: results.json, the checkpoint while
            training, and model.keras with `spec.save_model`.
        data: An in-memory `keras_robust.data.Dataset` of `spec.dataset` to
            train on, or None to load it.
        callbacks: Extra Keras callbacks, run after the metrics and the
            checkpoint of each epoch.

    Returns:
        The `results.RunResult`, as stored in `<workdir>/results.json`.

    Raises:
        config.ConfigError: for a `steps_per_execution` that does not
            divide the epoch (before any training).
        results.SettingsMismatchError: if `workdir` holds a run (finished or
            checkpointed) of other settings.
    """
    workdir = os.fspath(workdir)
    remove_stale_temporaries(workdir)
    finished = finished_result(spec, workdir)
    if finished is not None:
        # Also after a kill between writing results and deleting the checkpoint.
        checkpoint.delete(checkpoint.checkpoint_dir(workdir))
        return finished
    loaded = load_checkpoint(spec, workdir)
    # Op determinism, tf.data and keras.utils.set_random_seed all import
    # TensorFlow wherever it is installed, whatever the backend.
    recipes.import_tensorflow_quietly()
    if spec.deterministic:
        _enable_op_determinism(spec)
    keras.backend.clear_session()
    keras.utils.set_random_seed(spec.seed)
    with _dtype_policy(spec.mixed_precision), _released_custom_gradients():
        run_data = load_data(spec, data)
        measured_noise_rate = report_noise_rate(spec, run_data)
        check_steps_per_execution(spec, run_data.steps_per_epoch)
        model = build_model(spec, run_data)
        compile_model(spec, model)
        history, initial_epoch, previous_seconds = empty_history(), 0, 0.0
        if loaded is not None:
            model.optimizer.build(model.trainable_variables)
            checkpoint.restore(model, loaded)
            history = loaded.state["history"]
            initial_epoch = loaded.state["epoch"]
            previous_seconds = loaded.state["wall_seconds"]
            if spec.verbose:
                print(f"Resuming {workdir} after epoch {initial_epoch}.")
        start = time.monotonic()

        def clock():
            return previous_seconds + time.monotonic() - start

        if initial_epoch < spec.epochs:
            run_callbacks = training_callbacks(spec, run_data, history, workdir, clock)
            try:
                model.fit(
                    run_data.train_dataset(start_epoch=initial_epoch),
                    epochs=spec.epochs,
                    initial_epoch=initial_epoch,
                    steps_per_epoch=run_data.steps_per_epoch,
                    callbacks=[*run_callbacks, *callbacks],
                    verbose=spec.verbose,
                    shuffle=False,  # the stream is already shuffled per epoch
                )
            finally:
                # After an interruption too: the last finished epoch is saved.
                run_callbacks[-1].wait()
        if run_data.holdout_indices is not None:
            save_holdout_probabilities(model, run_data, workdir)
        if spec.save_model:
            atomic_files.write_with(os.path.join(workdir, MODEL_FILENAME), model.save)
        result = results.RunResult.from_history(
            spec, history, clock(), versions(), measured_noise_rate
        )
    results.write(workdir, result)
    checkpoint.delete(checkpoint.checkpoint_dir(workdir))
    # As stored (tuples become lists), so a rerun returns an equal result.
    return results.read(workdir)
