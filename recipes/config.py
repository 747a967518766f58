"""The settings of one training run: defaults, resolution into a `RunSpec`.

A config is an `ml_collections.ConfigDict` (`get_default_config()`); an
experiment file in `recipes/configs/` changes some of its fields, a sweep
point others, the command line others (`--config.epochs=10`). `resolve`
turns it, once and before any training, into a `RunSpec`: a frozen value
with every field filled in and checked. Fields left at None take the
model's training protocol (`recipes.protocols`, read here only) and the
loss's paper hyperparameters (`keras_robust.presets`). Everything
downstream (the trainer, the run id, results.json, the checkpoint's
settings check, the sweep, the report) reads the `RunSpec` or its
`settings`, and resolves nothing again. `resolve_sweep` resolves the points
of a sweep, refusing a command-line field that a point sets.

Fields:

- `dataset`: a `keras_robust.data.DATASETS` name (`"digits"` is offline).
- `model`: a `zoo.MODELS` name.
- `loss`: a loss in the grammar of `keras_robust.losses.LossSpec`:
  `"mae"`, `"mae*"` (the paper's eps for the dataset's number of classes,
  `keras_robust.presets.output_bias`), `"mae*1.5"` (eps 1.5).
- `loss_kwargs`: loss hyperparameters updating the paper's key by key
  (None: the paper's, paper Table 1).
- `output_bias`: eps added to the labelled logit in training (paper Sec.
  3.2; None: 0, or the starred loss's eps; a starred `loss` and another
  eps here are refused).
- `noise_rate`, `noise_kind`: label noise (`"symmetric"`, the paper's;
  `"asymmetric"`, `"pair_flip"`; `"human"`: rate 0, the label set's counts).
- `noise_label_set`: `noise_kind="human"`'s label set, in `cifar_n.LABEL_SETS`.
- `seed`: seed of the initialisation, noise, shuffling and augmentation.
- `epochs`, `learning_rate`, `lr_schedule` (`"step"`, `"exponential"`,
  `"constant"`), `lr_boundaries`, `lr_decay`, `momentum`, `weight_decay`
  (coupled, PyTorch's), `batch_size`, `augment`: None takes the protocol's.
- `mixed_precision`: Keras dtype policy (`"float32"`, `"mixed_bfloat16"`,
  `"mixed_float16"`).
- `jit_compile`: XLA (tensorflow) or torch.compile (torch); jax always jits.
- `steps_per_execution`: batches per compiled call; must divide the epoch.
- `device_resident`: keep the dataset on the accelerator and batch it
  there (`keras_robust.data.make_resident_data`, no tf.data). None: the
  backend's faster feed, resident under jax and torch (Keras passes their
  arrays through), tf.data under tensorflow.
- `data_source`: `"tfds"` or `"keras"` (`keras.datasets`).
- `train_size`: use only the first N training images (None: all).
- `num_folds`, `holdout_fold`: k folds; train without examples `i % k == holdout_fold`.
- `eval_every`: evaluate the test and false-label accuracy every N epochs
  and after the last one (1: the paper's per-epoch curves).
- `deterministic`: TensorFlow op determinism, for exact resumes.
- `data_dir`: TFDS data directory (None: TFDS's default).
- `verbose`: `model.fit` verbosity (0 silent, 1 progress bar, 2 a line per
  epoch).
- `save_model`: also save the trained model as `<run dir>/model.keras`
  (load it with `keras.models.load_model` after `import keras_robust, zoo`).

`data_dir`, `verbose` and `save_model` do not change what is computed: they
are left out of the run id and of the settings comparison of a resumed or
finished run."""

import dataclasses
import functools
import hashlib
import json
import re
import types

import keras
import ml_collections
from ml_collections import config_dict

import zoo
from keras_robust import data
from keras_robust import losses as robust_losses
from keras_robust import presets
from recipes import field_checks
from recipes import protocols
from recipes.field_checks import ConfigError

#: Fields that do not change what a run computes.
UNCOMPUTED_FIELDS = ("data_dir", "verbose", "save_model")
#: Fields that name a run readably in its id; the others are hashed.
IDENTITY_FIELDS = (
    "dataset", "model", "loss", "output_bias", "noise_kind", "noise_rate",
    "noise_label_set", "seed",
)
_NOISE_TAGS = {"symmetric": "sym", "asymmetric": "asym", "pair_flip": "pair"}
_PROTOCOL_FIELDS = (
    "learning_rate", "lr_schedule", "lr_boundaries", "lr_decay", "momentum",
    "weight_decay", "batch_size", "epochs", "augment",
)


class SweptFieldError(ConfigError):
    """A command-line field that the sweep sets per point (`resolve_sweep`)."""

    def __init__(self, field, value):
        super().__init__(field, value, "the sweep sets this field per point")


class PointError(ConfigError):
    """A sweep point that does not resolve; names the point and the field."""

    def __init__(self, point, error):
        super().__init__(error.field, error.value, error.allowed)
        self.point = point
        self.args = (f"sweep point {point}: {error}",)


def get_default_config():
    """Every setting of one run with its default (see the module docstring).

    Returns:
        An unlocked `ml_collections.ConfigDict`; the fields whose default
        depends on the model, dataset or loss are typed None placeholders.
    """
    config = ml_collections.ConfigDict()
    config.dataset = "cifar10"
    config.model = "resnet32"
    config.loss = "ce"
    config.loss_kwargs = config_dict.placeholder(object)
    config.output_bias = config_dict.placeholder(float)
    config.noise_rate = 0.0
    config.noise_kind = "symmetric"
    config.noise_label_set = config_dict.placeholder(str)
    config.seed = 0

    config.epochs = config_dict.placeholder(int)
    config.learning_rate = config_dict.placeholder(float)
    config.lr_schedule = config_dict.placeholder(str)
    config.lr_boundaries = config_dict.placeholder(tuple)
    config.lr_decay = config_dict.placeholder(float)
    config.momentum = config_dict.placeholder(float)
    config.weight_decay = config_dict.placeholder(float)
    config.batch_size = config_dict.placeholder(int)
    config.augment = config_dict.placeholder(bool)

    config.mixed_precision = "float32"
    config.jit_compile = False
    config.steps_per_execution = 1
    config.device_resident = config_dict.placeholder(bool)
    config.data_source = "tfds"
    config.train_size = config_dict.placeholder(int)
    config.num_folds = 1
    config.holdout_fold = config_dict.placeholder(int)
    config.eval_every = 1
    config.deterministic = True
    config.data_dir = config_dict.placeholder(str)
    config.verbose = 2
    config.save_model = False
    return config


def _one_line(error):
    return " ".join(str(error).split())


def num_classes(dataset):
    """The number of classes of a dataset name (its `keras_robust.data` spec)."""
    return data.get_spec(dataset).num_classes


def _loss_spec(loss, output_bias, classes):
    """The `LossSpec` of `config.loss` (the plugin's grammar) and `config.output_bias`."""
    if not isinstance(loss, str):
        raise ConfigError("loss", loss, "expected a loss name such as 'mae' or 'mae*'")
    try:
        spec = robust_losses.LossSpec.parse(loss, num_classes=classes)
    except ValueError as error:
        raise ConfigError("loss", loss, _one_line(error)) from None
    if output_bias is None:
        return spec
    eps = field_checks.number("output_bias", output_bias)
    if "*" in loss and eps != spec.output_bias:
        raise ConfigError(
            "output_bias", output_bias,
            f"expected None or {spec.output_bias:g}, the eps of config.loss={loss!r}",
        )
    try:
        return robust_losses.LossSpec(spec.name, eps)
    except ValueError as error:
        raise ConfigError("output_bias", output_bias, _one_line(error)) from None


def _check_loss(loss_spec, kwargs):
    """Builds the loss once, so that the plugin checks its hyperparameters."""
    try:
        loss_spec.get(from_logits=True, **kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            "loss_kwargs", kwargs,
            f"expected hyperparameters of loss {loss_spec.name!r} ({_one_line(error)})",
        ) from None


def _values(config):
    """`config`'s fields over the defaults, as a plain dict."""
    if isinstance(config, ml_collections.ConfigDict):
        config = config.to_dict()
    defaults = get_default_config()
    values = {name: defaults[name] for name in defaults}
    for name, value in dict(config).items():
        if name not in values:
            raise ConfigError(
                name, value, f"unknown field; allowed: {', '.join(sorted(values))}"
            )
        values[name] = value
    return values


def _identity(values):
    """`(dataset, model, LossSpec)`, checked: what the protocol depends on."""
    dataset = field_checks.one_of("dataset", values["dataset"], tuple(data.DATASETS))
    if not isinstance(values["model"], str):
        raise ConfigError("model", values["model"], "expected a model name")
    model = field_checks.one_of("model", values["model"].lower(), tuple(zoo.MODELS))
    loss_spec = _loss_spec(values["loss"], values["output_bias"], num_classes(dataset))
    return dataset, model, loss_spec


def _fill(values, dataset, model, loss_spec):
    """`values` with every None taken from the protocol and the presets."""
    filled = dict(values)
    filled.update(
        dataset=dataset, model=model, loss=loss_spec.name,
        output_bias=float(loss_spec.output_bias),
    )
    kwargs = presets.loss_kwargs(loss_spec.name, num_classes(dataset))
    given = values["loss_kwargs"]
    if given is not None:
        if not hasattr(given, "items"):
            raise ConfigError("loss_kwargs", given, "expected None or a dict")
        kwargs.update(dict(given.items()))
    filled["loss_kwargs"] = kwargs
    protocol = protocols.protocol(model)
    for name in _PROTOCOL_FIELDS:
        if filled[name] is None:
            filled[name] = getattr(protocol, name)
    if values["learning_rate"] is None:
        filled["learning_rate"] = protocols.initial_learning_rate(
            model, dataset, loss_spec.text
        )
    if values["device_resident"] is None:
        filled["device_resident"] = keras.backend.backend() != "tensorflow"
    return filled


def _json(value):
    return json.loads(json.dumps(value, sort_keys=True))


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run's every setting, resolved and checked (`resolve`); immutable.

    The fields are those of `get_default_config()` (see the module
    docstring), each filled in: `loss` is the canonical short name and
    `output_bias` its eps, `loss_kwargs` a read-only mapping,
    `lr_boundaries` a tuple. Build one with `resolve(config)` or, from a
    results file or sweep file, `RunSpec.from_settings(settings)`.
    """

    dataset: str
    model: str
    loss: str
    loss_kwargs: types.MappingProxyType[str, object]
    output_bias: float
    noise_rate: float
    noise_kind: str
    noise_label_set: str | None
    seed: int
    epochs: int
    learning_rate: float
    lr_schedule: str
    lr_boundaries: tuple[int, ...]
    lr_decay: float
    momentum: float
    weight_decay: float
    batch_size: int
    augment: bool
    mixed_precision: str
    jit_compile: bool
    steps_per_execution: int
    device_resident: bool
    data_source: str
    train_size: int | None
    num_folds: int
    holdout_fold: int | None
    eval_every: int
    deterministic: bool
    data_dir: str | None
    verbose: int
    save_model: bool
    # The settings of the run with the same identity and every other field
    # at its default: what `run_id` and `settings_differences` compare with.
    protocol_settings: types.MappingProxyType = dataclasses.field(
        repr=False, compare=False
    )

    @classmethod
    def from_settings(cls, settings):
        """The spec of a `settings` dict (results.json, sweep.json), checked.

        Raises:
            ConfigError: for an unknown field or a value that is not allowed.
        """
        return resolve(settings)

    @property
    def settings(self):
        """The settings as a plain JSON dict, as results.json holds them."""
        return _json({
            field.name: dict(value) if field.name == "loss_kwargs" else value
            for field in dataclasses.fields(self)
            if field.name != "protocol_settings"
            for value in (getattr(self, field.name),)
        })

    @functools.cached_property
    def loss_spec(self):
        """The loss with its eps, a `keras_robust.losses.LossSpec`."""
        return robust_losses.LossSpec(self.loss, self.output_bias)

    @property
    def num_classes(self):
        """The dataset's number of classes."""
        return num_classes(self.dataset)

    @property
    def feed(self):
        """How the run is fed: its `keras_robust.data.FeedSpec`."""
        return data.FeedSpec(
            batch_size=self.batch_size,
            noise_rate=self.noise_rate,
            noise_kind=self.noise_kind,
            label_set=self.noise_label_set,
            seed=self.seed,
            augment=self.augment,
            train_size=self.train_size,
            num_folds=self.num_folds,
            holdout_fold=self.holdout_fold,
        )

    def learning_rate_at(self, epoch):
        """Learning rate of 0-based `epoch` (constant within an epoch)."""
        if self.lr_schedule == "exponential":
            return self.learning_rate * self.lr_decay**epoch
        if self.lr_schedule == "step":
            steps = sum(epoch >= boundary for boundary in self.lr_boundaries)
            return self.learning_rate * self.lr_decay**steps
        return self.learning_rate

    def non_default_settings(self):
        """The computed settings that differ from the protocol's for this run's identity.

        The identity (`IDENTITY_FIELDS`: dataset, model, loss, eps, noise,
        seed) fixes the protocol; everything else that differs from it is
        returned, e.g. `{"epochs": 20}` for a 20-epoch MLP run.
        """
        return {
            name: value
            for name, value in self.settings.items()
            if name not in UNCOMPUTED_FIELDS and value != self.protocol_settings.get(name)
        }

    def settings_differences(self, recorded):
        """The computed settings in which `recorded` differs from this spec's.

        Args:
            recorded: A settings dict as `settings` gives it (from a results
                file or checkpoint). A field it lacks (added later) counts
                as the protocol's value for the run's identity.

        Returns:
            `{field: (recorded value, this spec's value)}`, empty when they
            match.
        """
        baseline = self.protocol_settings
        return {
            name: (recorded.get(name, baseline.get(name)), value)
            for name, value in self.settings.items()
            if name not in UNCOMPUTED_FIELDS
            and recorded.get(name, baseline.get(name)) != value
        }

    @property
    def run_id(self):
        """A readable, unique, file-name-safe id of the run's settings.

        `<dataset>-<model>-<loss text>-<noise>-seed<seed>`, e.g.
        `cifar10_n-resnet32-ce-human-aggre-seed0`, followed by `-` and 10 hex
        digits of the sha256 of `non_default_settings()` when there are any
        (`digits-mlp1024-gce-sym0.4-seed0-1a2b3c4d5e`). A new field with a
        default therefore changes no existing id.
        """
        parts = [
            self.dataset,
            self.model,
            self.loss_spec.text,
            f"human-{self.noise_label_set}" if self.noise_kind == "human"
            else f"{_NOISE_TAGS[self.noise_kind]}{self.noise_rate:g}",
            f"seed{self.seed}",
        ]
        differences = self.non_default_settings()
        if differences:
            text = json.dumps(differences, sort_keys=True, separators=(",", ":"))
            parts.append(hashlib.sha256(text.encode("utf-8")).hexdigest()[:10])
        return re.sub(r"[^A-Za-z0-9._*-]", "_", "-".join(parts))


def resolve(config):
    """The `RunSpec` of a config: every None filled in, every field checked.

    Unset training fields take the model's `recipes.protocols.Protocol`
    (the MLP1024's initial rate by dataset and loss, supplement Table 1),
    `loss_kwargs` the paper's values for the loss and number of classes
    updated by the given ones, `output_bias` 0 (or the starred loss's eps,
    `keras_robust.presets.output_bias` through `LossSpec.parse`). The loss
    is built once, so that the plugin checks its hyperparameters.

    Args:
        config: A config (`get_default_config()` with changes), or a dict of
            some of its fields, such as `RunSpec.settings`.

    Raises:
        ConfigError: for an unknown field or a value that is not allowed;
            the message is one line naming the field, the value and what
            is allowed.
    """
    values = _values(config)
    dataset, model, loss_spec = _identity(values)
    resolved = field_checks.check_fields(_fill(values, dataset, model, loss_spec))
    _check_loss(loss_spec, resolved["loss_kwargs"])
    baseline = _values({name: resolved[name] for name in IDENTITY_FIELDS})
    baseline = _fill(baseline, dataset, model, loss_spec)
    baseline["lr_boundaries"] = tuple(baseline["lr_boundaries"])
    resolved["loss_kwargs"] = types.MappingProxyType(resolved["loss_kwargs"])
    return RunSpec(
        **resolved, protocol_settings=types.MappingProxyType(_json(baseline))
    )


def resolve_sweep(config, points, command_line_fields=()):
    """The `RunSpec`s of a sweep, in its order, without repeats.

    Args:
        config: The base config, with the command line's fields set.
        points: The sweep's points, dicts of fields (`override`).
        command_line_fields: The fields set on the command line: a field
            that no point sets applies to every point; one that a point
            sets is refused.

    Raises:
        SweptFieldError: for a command-line field that a point sets.
        ConfigError: for a bad base config.
        PointError: for a point that does not resolve (naming it).
    """
    swept = {key.partition(".")[0] for point in points for key in point}
    for field in command_line_fields:
        if field.partition(".")[0] in swept:
            raise SweptFieldError(field, config.get(field.partition(".")[0]))
    resolve(config)
    specs = {}
    for point in points:
        try:
            spec = resolve(override(config, point))
        except ConfigError as error:
            raise PointError(point, error) from None
        specs.setdefault(spec.run_id, spec)
    return list(specs.values())


def override(config, overrides):
    """A copy of `config` with `overrides` set, e.g. `{"loss": "gce", "seed": 1}`.

    A dotted key sets one entry of a dict field: `{"loss_kwargs.q": 0.5}`.
    Values are checked by `resolve`, not here.

    Raises:
        ConfigError: for a key that is not a field of `config`.
    """
    result = ml_collections.ConfigDict(config.to_dict(), type_safe=False)
    for key, value in overrides.items():
        name, dot, entry = key.partition(".")
        if name not in result:
            raise ConfigError(
                key, value, f"unknown field; allowed: {', '.join(sorted(result))}"
            )
        if dot:
            value = {**dict((result[name] or {}).items()), entry: value}
        result[name] = value
    return result
