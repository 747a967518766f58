"""One training run of the paper, from a `RunConfig` to a results file.

`run(config, output_dir)` loads the data (`keras_robust.data`), injects the
label noise, builds the zoo model (logits out), compiles it with the loss
(`from_logits=True`) and `zoo.TorchSGD` (PyTorch's coupled weight decay),
trains it with `model.fit` and records, after every epoch, the training
loss, the test accuracy and the "false label accuracy" (paper Fig. 2, lower
panels: accuracy on the training images whose label was re-drawn, against
their true labels). It writes

    <output_dir>/<run_id>/results.json

with the schema

    {"settings": dataclasses.asdict(config), "settings_hash": str,
     "history": {"epoch": [1, 2, ...], "train_loss": [...],
                 "test_accuracy": [...], "false_label_accuracy": [...],
                 "learning_rate": [...]},
     "final": {"test_accuracy", "false_label_accuracy", "train_loss"},
     "wall_seconds": float,
     "versions": {"keras", "tensorflow", "keras_robust", "backend"}}

(`false_label_accuracy` is None without noise.)

Resumability:

- A finished run (its results.json holds the same `settings_hash`) is not
  trained again; `run` returns the stored results. A results.json with a
  different hash raises `SettingsMismatchError` instead of being
  overwritten, unless `overwrite=True`.
- After every epoch the model and optimizer state and the history are
  checkpointed atomically under `<output_dir>/<run_id>/checkpoint/`. A run
  killed mid-way resumes from its last finished epoch and, since every
  epoch of the data stream depends only on `(seed, epoch)`
  (`keras_robust.data.make_pipelines`, or `make_resident_data` with
  `device_resident=True`) and ops are deterministic
  (`deterministic=True`), ends with the same metrics as an uninterrupted
  run. The checkpoint is deleted once results.json is written.

Example:

```python
from recipes import runner

config = runner.RunConfig.paper_defaults(
    "cifar10", "resnet32", "mae*", noise_rate=0.4, seed=0)
results = runner.run(config, "runs")
print(results["final"]["test_accuracy"])
```
"""

import dataclasses
import hashlib
import importlib.metadata
import json
import math
import os
import re
import shutil
import time

import keras
import numpy as np

import keras_robust
import zoo
from keras_robust import data
from keras_robust import losses as robust_losses
from keras_robust import presets
from recipes import atomic_files

LR_SCHEDULES = ("step", "exponential", "constant")
MIXED_PRECISION_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
RESULTS_FILENAME = "results.json"
CHECKPOINT_DIRNAME = "checkpoint"
_STATE_FILENAME = "state.json"
# Short noise-kind tags of the run ids.
_NOISE_TAGS = {"symmetric": "sym", "asymmetric": "asym", "pair_flip": "pair"}
# Settings that do not change what is computed: where the data is read
# from, and the display label of the loss row.
_UNHASHED_FIELDS = ("data_dir", "label")
# Settings added after the first release: they enter `settings_hash` only
# when not at these values, so that earlier results keep their hash.
_HASHED_UNLESS_DEFAULT = {"device_resident": False, "data_source": "tfds"}


class SettingsMismatchError(RuntimeError):
    """A results file or checkpoint belongs to different settings."""


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Every setting of one training run.

    Build one with `RunConfig.paper_defaults(...)`, which reads the paper's
    hyperparameters from `keras_robust.presets`, and change single fields
    with its `**overrides` or `dataclasses.replace`.

    Attributes:
        dataset: A `keras_robust.data.DATASETS` name.
        model: A `zoo.MODELS` name.
        loss: Loss short name (`keras_robust.losses.LOSS_NAMES`).
        loss_kwargs: Loss hyperparameters (e.g. `{"q": 0.7}`), without
            `from_logits` and `output_bias`.
        output_bias: eps added to the labelled logit during training
            (paper Sec. 3.2; MAE*, boundCE*).
        variant: The paper's row key (`keras_robust.presets.variant`).
        label: The paper's row label, e.g. `"MAE* eps=0.5"`.
        noise_rate: Label-noise rate in [0, 1].
        noise_kind: `"symmetric"` (the paper's), `"asymmetric"`,
            `"pair_flip"`.
        seed: Seed of the initialisation, the noise, shuffling and
            augmentation.
        epochs: Number of epochs.
        learning_rate: Initial learning rate.
        lr_schedule: `"step"` (times `lr_decay` at each of `lr_boundaries`),
            `"exponential"` (times `lr_decay` every epoch) or `"constant"`.
        lr_boundaries: Epochs (0-based) from which the step schedule's next
            factor applies; e.g. `(100, 150)` as PyTorch's
            `MultiStepLR(milestones=[100, 150])`.
        lr_decay: Factor of the step or exponential schedule.
        momentum: SGD momentum (PyTorch convention, `zoo.TorchSGD`).
        weight_decay: Coupled L2 coefficient (PyTorch's `weight_decay`).
        batch_size: Training batch size.
        augment: Whether to apply the dataset's supplement-1 augmentation
            (the paper augments for the ResNets only).
        mixed_precision: Keras dtype policy: `"float32"`,
            `"mixed_bfloat16"` or `"mixed_float16"`.
        jit_compile: Compile the train step with XLA under TensorFlow, or
            with `torch.compile` under torch (`model.compile(jit_compile=)`).
            Under jax the step is always compiled (`jax.jit`): eager jax
            is many times slower.
        steps_per_execution: Passed to `model.compile`.
        device_resident: Keep the whole dataset on the accelerator and
            gather the batches there (`keras_robust.data.make_resident_data`,
            no tf.data, no TensorFlow needed). Its epochs visit the examples
            in other (equally random) orders than the tf.data stream's.
        data_source: Where the paper's datasets are read from: `"tfds"`
            (TensorFlow Datasets) or `"keras"` (`keras.datasets`, no
            TensorFlow needed); see `keras_robust.data.load_dataset`.
        train_size: Use only the first `train_size` training images (quick
            runs and tests); None for all.
        eval_every: Evaluate the test and false-label accuracy after every
            `eval_every`-th epoch and after the last one (None in the history
            in between). 1, the default, gives the paper's per-epoch curves;
            evaluation is about 15 % of a CIFAR epoch at 20 % noise.
        data_dir: TFDS data directory; None for the TFDS default. Not part
            of `settings_hash` (nor is `label`).
    """

    dataset: str
    model: str
    loss: str
    loss_kwargs: dict = dataclasses.field(default_factory=dict)
    output_bias: float = 0.0
    variant: str = ""
    label: str = ""
    noise_rate: float = 0.0
    noise_kind: str = "symmetric"
    seed: int = 0
    epochs: int = 1
    learning_rate: float = 0.1
    lr_schedule: str = "constant"
    lr_boundaries: tuple = ()
    lr_decay: float = 1.0
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 128
    augment: bool = False
    mixed_precision: str = "float32"
    jit_compile: bool = False
    steps_per_execution: int = 1
    device_resident: bool = False
    data_source: str = "tfds"
    train_size: int | None = None
    eval_every: int = 1
    data_dir: str | None = None

    def __post_init__(self):
        def fix(name, value):
            object.__setattr__(self, name, value)

        def choose(name, allowed):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(
                    f"Unknown {name} {value!r}. Allowed: {', '.join(allowed)}."
                )

        choose("dataset", tuple(data.DATASETS))
        fix("model", str(self.model).lower())
        choose("model", tuple(zoo.MODELS))
        fix("loss", robust_losses.canonical_name(self.loss))
        choose("lr_schedule", LR_SCHEDULES)
        choose("mixed_precision", MIXED_PRECISION_POLICIES)
        choose("noise_kind", tuple(_NOISE_TAGS))
        choose("data_source", data.DATA_SOURCES)
        if not isinstance(self.loss_kwargs, dict):
            raise ValueError(
                f"`loss_kwargs` must be a dict. Received: {self.loss_kwargs!r}"
            )
        fix("loss_kwargs", dict(self.loss_kwargs))
        fix("lr_boundaries", tuple(int(b) for b in self.lr_boundaries))
        for name in ("output_bias", "noise_rate", "learning_rate", "lr_decay",
                     "momentum", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"`{name}` must be a number. Received: {value!r}")
            fix(name, float(value))
        if not 0.0 <= self.noise_rate <= 1.0:
            raise ValueError(
                f"`noise_rate` must be in [0, 1]. Received: {self.noise_rate}"
            )
        for name in ("epochs", "batch_size", "steps_per_execution", "train_size",
                     "eval_every"):
            value = getattr(self, name)
            if value is None and name == "train_size":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: {value!r}"
                )
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(
                "`learning_rate` must be positive. Received: "
                f"{self.learning_rate}"
            )
        for name in ("augment", "jit_compile", "device_resident"):
            fix(name, bool(getattr(self, name)))
        if not self.variant:
            fix("variant", _variant_key(self.loss, self.output_bias))
        if not self.label:
            fix("label", self.variant)

    def __hash__(self):
        return hash(self.settings_hash)

    @classmethod
    def paper_defaults(
        cls, dataset, model, loss_key, noise_rate=0.0, seed=0, **overrides
    ):
        """The paper's settings for one cell of its tables.

        Reads `keras_robust.presets`: the loss row (`variant(loss_key)`:
        loss and eps), the loss hyperparameters of Table 1 for the dataset,
        and the network's training protocol (Sec. 4): ResNets SGD momentum
        0.9, batch 128, weight decay 1e-4, lr 0.1 times 0.1 at epochs 100
        and 150 of 200, augmented; MLP1024 SGD momentum 0.95, batch 32, lr
        times 0.95 every epoch, the loss's learning rate of supplement
        Table 1, 100 epochs (not stated in the paper, see presets), not
        augmented.

        Args:
            dataset: A dataset name.
            model: A model name.
            loss_key: A row key of Table 2 or 3 (`"mae*"`, `"boundce*1.5"`)
                or a loss name (`"gce"`).
            noise_rate: Symmetric noise rate.
            seed: Seed.
            **overrides: Any other `RunConfig` field. `loss_kwargs` given
                here update the paper's values key by key.

        Raises:
            ValueError: for an unknown name, or for MLP1024 on a dataset or
                row without a published learning rate when no
                `learning_rate` override is given.
        """
        try:
            row = presets.variant(loss_key)
        except ValueError:
            name = robust_losses.canonical_name(loss_key)
            row = presets.LossVariant(name, name, name)
        model = str(model).lower()
        preset = presets.training_preset(model)
        loss_kwargs = presets.loss_kwargs(row.loss, dataset)
        loss_kwargs.update(overrides.pop("loss_kwargs", None) or {})
        if "output_bias" in overrides and overrides["output_bias"] != row.output_bias:
            output_bias = float(overrides.pop("output_bias"))
            key = _variant_key(row.loss, output_bias)
            row = presets.LossVariant(key, key, row.loss, output_bias)
        overrides.pop("output_bias", None)

        learning_rate = preset.learning_rate
        if learning_rate is None and "learning_rate" not in overrides:
            try:
                learning_rate = presets.mlp_learning_rate(row.key, dataset)
            except ValueError as error:
                raise ValueError(
                    f"The paper gives no {model} learning rate for loss "
                    f"{row.key!r} on {dataset!r} ({error}); pass "
                    "learning_rate=... (--learning_rate)."
                ) from error
        if preset.lr_decay_per_epoch is not None:
            schedule, decay = "exponential", preset.lr_decay_per_epoch
        elif preset.lr_boundaries_epochs:
            schedule, decay = "step", preset.lr_step_factor
        else:
            schedule, decay = "constant", 1.0
        settings = dict(
            dataset=dataset,
            model=model,
            loss=row.loss,
            loss_kwargs=loss_kwargs,
            output_bias=row.output_bias,
            variant=row.key,
            label=row.label,
            noise_rate=noise_rate,
            seed=seed,
            epochs=preset.epochs,
            learning_rate=learning_rate,
            lr_schedule=schedule,
            lr_boundaries=tuple(preset.lr_boundaries_epochs),
            lr_decay=decay,
            momentum=preset.momentum,
            weight_decay=preset.weight_decay,
            batch_size=preset.batch_size,
            # Paper Sec. 4 and supplement 1: augmentation for ResNets only.
            augment=model != "mlp1024",
        )
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"Unknown RunConfig fields: {sorted(unknown)}")
        settings.update(overrides)
        return cls(**settings)

    @classmethod
    def from_dict(cls, settings):
        """The inverse of `dataclasses.asdict` (e.g. of a results file)."""
        return cls(**settings)

    @property
    def run_id(self):
        """A readable, file-name-safe id, e.g. `cifar10-resnet32-mae_star0.5-sym0.4-seed0`."""
        parts = [
            self.dataset,
            self.model,
            _variant_key(self.loss, self.output_bias),
            f"{_NOISE_TAGS[self.noise_kind]}{self.noise_rate:g}",
            f"seed{self.seed}",
        ]
        if self.train_size is not None:
            parts.append(f"n{self.train_size}")
        run_id = "-".join(parts).replace("*", "_star")
        return re.sub(r"[^A-Za-z0-9._-]", "_", run_id)

    @property
    def settings_hash(self):
        """sha256 (16 hex digits) of every setting but `data_dir` and `label`.

        `device_resident` and `data_source` count only when not at their
        defaults (False, `"tfds"`), which keeps the hashes of runs written
        before they existed.
        """
        settings = dataclasses.asdict(self)
        for name in _UNHASHED_FIELDS:
            settings.pop(name)
        for name, default in _HASHED_UNLESS_DEFAULT.items():
            if settings[name] == default:
                settings.pop(name)
        text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def learning_rate_at(self, epoch):
        """Learning rate of 0-based `epoch` (constant within an epoch)."""
        if self.lr_schedule == "exponential":
            return self.learning_rate * self.lr_decay**epoch
        if self.lr_schedule == "step":
            steps = sum(epoch >= boundary for boundary in self.lr_boundaries)
            return self.learning_rate * self.lr_decay**steps
        return self.learning_rate


def _variant_key(loss, output_bias):
    return loss if output_bias == 0 else f"{loss}*{output_bias:g}"


# ---------------------------------------------------------------------------
# Files.
# ---------------------------------------------------------------------------


def run_dir(config, output_dir):
    """`<output_dir>/<run_id>`."""
    return os.path.join(os.fspath(output_dir), config.run_id)


def results_path(config, output_dir):
    """`<output_dir>/<run_id>/results.json`."""
    return os.path.join(run_dir(config, output_dir), RESULTS_FILENAME)


def load_results(path):
    """Reads a results.json file."""
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def is_finished(config, output_dir):
    """Whether `output_dir` holds this run's results with the same settings."""
    path = results_path(config, output_dir)
    if not os.path.exists(path):
        return False
    return load_results(path).get("settings_hash") == config.settings_hash


def _mismatch(what, path, found, config):
    return SettingsMismatchError(
        f"{what} {path} belongs to different settings (settings_hash "
        f"{found!r}, this run {config.settings_hash!r}; run_id "
        f"{config.run_id!r}). Use another output directory, or "
        "overwrite=True (--overwrite) to replace it."
    )


# ---------------------------------------------------------------------------
# Training.
# ---------------------------------------------------------------------------


def _installed_version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _versions():
    return {
        "keras": keras.__version__,
        "tensorflow": _installed_version("tensorflow"),
        "keras_robust": keras_robust.__version__,
        "backend": keras.backend.backend(),
    }


def _empty_history():
    return {
        "epoch": [],
        "train_loss": [],
        "test_accuracy": [],
        "false_label_accuracy": [],
        "learning_rate": [],
    }


class _EpochMetrics(keras.callbacks.Callback):
    """Adds test and false-label accuracy to the epoch logs and history."""

    def __init__(self, config, history, test_data, false_label_data):
        super().__init__()
        self.config = config
        self.history = history
        self.test_data = test_data
        self.false_label_data = false_label_data

    def _accuracy(self, data):
        return float(
            self.model.evaluate(data, verbose=0, return_dict=True)["accuracy"]
        )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        test_accuracy = false_label_accuracy = None
        if (epoch + 1) % self.config.eval_every == 0 or epoch + 1 == self.config.epochs:
            test_accuracy = logs["test_accuracy"] = self._accuracy(self.test_data)
            if self.false_label_data is not None:
                false_label_accuracy = self._accuracy(self.false_label_data)
                logs["false_label_accuracy"] = false_label_accuracy
        self.history["epoch"].append(epoch + 1)
        self.history["train_loss"].append(float(logs["loss"]))
        self.history["test_accuracy"].append(test_accuracy)
        self.history["false_label_accuracy"].append(false_label_accuracy)
        self.history["learning_rate"].append(self.config.learning_rate_at(epoch))


def _checkpoint_variables(model):
    """The variables a checkpoint holds: the model's, then the optimizer's."""
    return [*model.variables, *model.optimizer.variables]


def _save_variables(model, path):
    """Writes every checkpoint variable's value to `path` (npz), atomically.

    An array per variable, in order, and their paths: 4x faster than
    `model.save_weights` (0.08 s against 0.28 s for ResNet-32 on a 2-core
    CPU, whose Keras traversal is Python-bound).
    """
    variables = _checkpoint_variables(model)
    arrays = {
        f"v{index:05d}": keras.ops.convert_to_numpy(variable.value)
        for index, variable in enumerate(variables)
    }
    arrays["paths"] = np.array([variable.path for variable in variables])
    atomic_files.write_bytes(path, lambda file: np.savez(file, **arrays))


def _load_variables(model, path):
    """Restores what `_save_variables` wrote; the model must be built alike."""
    if path.endswith(".weights.h5"):  # checkpoints of keras-robust <= 0.1
        model.load_weights(path)
        return
    variables = _checkpoint_variables(model)
    with np.load(path) as stored:
        paths = [str(name) for name in stored["paths"]]
        if paths != [variable.path for variable in variables]:
            raise ValueError(
                f"The checkpoint {path} holds other variables than the "
                f"model's ({len(paths)} stored, {len(variables)} in the model)."
            )
        for index, variable in enumerate(variables):
            variable.assign(stored[f"v{index:05d}"])


class _Checkpoint(keras.callbacks.Callback):
    """Saves weights, optimizer state and history after every epoch.

    `state.json` names the variables file of the last finished epoch; the
    variables are written first (tmp file + os.replace), then the state, so
    a kill at any moment leaves a consistent checkpoint.
    """

    def __init__(self, directory, config, history, clock):
        super().__init__()
        self.directory = directory
        self.config = config
        self.history = history
        self.clock = clock

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        weights_name = f"epoch-{epoch + 1:05d}.variables.npz"
        _save_variables(self.model, os.path.join(self.directory, weights_name))
        state = {
            "settings_hash": self.config.settings_hash,
            "epoch": epoch + 1,
            "weights": weights_name,
            "history": self.history,
            "wall_seconds": self.clock(),
        }
        atomic_files.write_json(os.path.join(self.directory, _STATE_FILENAME), state)
        for name in os.listdir(self.directory):
            if name.startswith("epoch-") and name != weights_name:
                os.remove(os.path.join(self.directory, name))


def _load_checkpoint(directory, config):
    path = os.path.join(directory, _STATE_FILENAME)
    if not os.path.exists(path):
        return None
    state = load_results(path)
    if state.get("settings_hash") != config.settings_hash:
        raise _mismatch("Checkpoint", path, state.get("settings_hash"), config)
    return state


def _check_steps_per_execution(config, steps_per_epoch):
    """Refuses a `steps_per_execution` that does not divide the epoch.

    Keras 3 then runs whole executions past the epoch's end on the repeated
    stream (measured with keras 3.15: 16 per execution and 4 steps per epoch
    trained 16 steps per epoch), which would silently change the training.
    """
    per_execution = config.steps_per_execution
    if steps_per_epoch % per_execution:
        divisors = [d for d in range(1, min(steps_per_epoch, 64) + 1)
                    if steps_per_epoch % d == 0]
        raise ValueError(
            f"`steps_per_execution` must divide the {steps_per_epoch} steps "
            f"per epoch of this run. Received: steps_per_execution="
            f"{per_execution}. Allowed values up to 64: {divisors}."
        )


def load_datasets(config):
    """The training, test and false-label datasets of `config`.

    Returns:
        `data.make_pipelines(...)` (tf.data), or `data.make_resident_data(
        ...)` for a `device_resident` run.
    """
    dataset = data.load_dataset(
        config.dataset, data_dir=config.data_dir, source=config.data_source
    )
    arguments = dict(
        batch_size=config.batch_size,
        noise_rate=config.noise_rate,
        noise_kind=config.noise_kind,
        seed=config.seed,
        augment=config.augment,
        train_size=config.train_size,
    )
    if config.device_resident:
        return data.make_resident_data(dataset, **arguments)
    return data.make_pipelines(dataset, **arguments)


def _enable_op_determinism(config):
    """TensorFlow's op determinism, where TensorFlow computes anything.

    That is the model under the tensorflow backend and the tf.data
    pipelines; the device-resident path under jax or torch runs no
    TensorFlow (on a GPU, jax needs
    `XLA_FLAGS=--xla_gpu_deterministic_ops=true` for bit-exact resumes).
    """
    if config.device_resident and keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


def build_model(config, datasets):
    """The zoo model of `config` on raw uint8 images.

    Its first layer is the run's `DeviceAugmentation` (normalisation, and
    augmentation during training when `config.augment`); `datasets` is the
    run's `load_datasets(config)`.
    """
    spec = datasets.spec
    network = zoo.build(config.model, spec.image_shape, spec.num_classes)
    inputs = keras.Input(spec.image_shape, dtype="uint8", name="raw_images")
    images = datasets.device_augmentation(seed=config.seed)(inputs)
    return keras.Model(inputs, network(images), name=f"{config.model}_augmented")


def compile_model(config, model):
    """Compiles `model` with the loss, `zoo.TorchSGD` and settings of `config`.

    The loss takes logits (`from_logits=True`) with the run's output bias;
    the metric is `accuracy`. Under jax the step is always jitted.
    """
    loss = robust_losses.get(
        config.loss,
        from_logits=True,
        output_bias=config.output_bias,
        **config.loss_kwargs,
    )
    optimizer = zoo.TorchSGD(
        learning_rate=config.learning_rate_at(0),
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=config.jit_compile or keras.backend.backend() == "jax",
        steps_per_execution=config.steps_per_execution,
    )


def run(
    config,
    output_dir,
    *,
    verbose=1,
    overwrite=False,
    deterministic=True,
    callbacks=(),
):
    """Trains `config` (or resumes it) and writes its results file.

    Args:
        config: A `RunConfig`.
        output_dir: Directory of the run directories.
        verbose: `model.fit` verbosity (1: progress bar, 2: one line per
            epoch, 0: silent).
        overwrite: Replace results or a checkpoint of different settings
            (and retrain a finished run) instead of raising.
        deterministic: Call `tf.config.experimental.enable_op_determinism()`
            (process-wide, cannot be undone) so that a resumed run ends
            exactly like an uninterrupted one; skipped for a
            `device_resident` run under jax or torch, which runs no
            TensorFlow.
        callbacks: Extra Keras callbacks, run after the per-epoch
            evaluation and checkpoint.

    Returns:
        The results dict, as written to `results_path(config, output_dir)`.

    Raises:
        SettingsMismatchError: when results.json or the checkpoint of this
            run id hold different settings and `overwrite` is False.
    """
    directory = run_dir(config, output_dir)
    path = os.path.join(directory, RESULTS_FILENAME)
    checkpoint_dir = os.path.join(directory, CHECKPOINT_DIRNAME)
    if overwrite:
        if os.path.exists(path):
            os.remove(path)
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    elif os.path.exists(path):
        results = load_results(path)
        if results.get("settings_hash") == config.settings_hash:
            # A kill between writing results and deleting the checkpoint.
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
            return results
        raise _mismatch("Results file", path, results.get("settings_hash"), config)
    state = _load_checkpoint(checkpoint_dir, config)

    if deterministic:
        _enable_op_determinism(config)
    previous_policy = keras.config.dtype_policy()
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    try:
        keras.config.set_dtype_policy(config.mixed_precision)
        datasets = load_datasets(config)
        _check_steps_per_execution(config, datasets.steps_per_epoch)
        model = build_model(config, datasets)
        compile_model(config, model)

        initial_epoch = 0
        history = _empty_history()
        previous_seconds = 0.0
        if state is not None:
            model.optimizer.build(model.trainable_variables)
            _load_variables(model, os.path.join(checkpoint_dir, state["weights"]))
            initial_epoch = state["epoch"]
            history = state["history"]
            previous_seconds = state["wall_seconds"]
            if verbose:
                print(f"Resuming {config.run_id} after epoch {initial_epoch}.")
        start = time.monotonic()

        def clock():
            return previous_seconds + time.monotonic() - start

        fit_callbacks = [
            keras.callbacks.LearningRateScheduler(config.learning_rate_at),
            data.ReseedAugmentation(),
            _EpochMetrics(
                config,
                history,
                datasets.test_dataset(),
                datasets.false_label_dataset(),
            ),
            _Checkpoint(checkpoint_dir, config, history, clock),
            *callbacks,
        ]
        if initial_epoch < config.epochs:
            model.fit(
                datasets.train_dataset(start_epoch=initial_epoch),
                epochs=config.epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=datasets.steps_per_epoch,
                callbacks=fit_callbacks,
                verbose=verbose,
                shuffle=False,  # the stream is already shuffled per epoch
            )
        results = {
            "settings": dataclasses.asdict(config),
            "settings_hash": config.settings_hash,
            "history": history,
            "final": {
                "test_accuracy": history["test_accuracy"][-1],
                "false_label_accuracy": history["false_label_accuracy"][-1],
                "train_loss": history["train_loss"][-1],
            },
            "wall_seconds": clock(),
            "versions": _versions(),
        }
        atomic_files.write_json(path, results)
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        # As stored (tuples become lists), so a rerun returns the same dict.
        return load_results(path)
    finally:
        keras.config.set_dtype_policy(previous_policy)
