"""The settings of one training run: defaults, resolution, validation, id.

A run is an `ml_collections.ConfigDict` (`get_default_config()`); an
experiment file in `recipes/configs/` changes some of its fields, and the
command line others (`--config.epochs=10`). Fields left at None take the
model's training protocol (`recipes.protocols`) and the loss's paper
hyperparameters (`keras_robust.presets`) in `resolve`, which also checks
every field.

Fields:

- `dataset`: a `keras_robust.data.DATASETS` name (`"digits"` is offline).
- `model`: a `zoo.MODELS` name.
- `loss`: a `keras_robust.losses.LOSS_NAMES` name; `"mae*"` is the paper's
  starred variant (its eps for the dataset's number of classes,
  `keras_robust.presets.output_bias`), `"mae*1.5"` the loss with eps 1.5.
- `loss_kwargs`: loss hyperparameters updating the paper's key by key
  (None: the paper's, paper Table 1).
- `output_bias`: eps added to the labelled logit in training (paper Sec.
  3.2; None: 0, or the starred loss's eps).
- `noise_rate`, `noise_kind`: label noise (`"symmetric"`, the paper's;
  `"asymmetric"`, `"pair_flip"`).
- `seed`: seed of the initialisation, noise, shuffling and augmentation.
- `epochs`, `learning_rate`, `lr_schedule` (`"step"`, `"exponential"`,
  `"constant"`), `lr_boundaries`, `lr_decay`, `momentum`, `weight_decay`
  (coupled, PyTorch's), `batch_size`, `augment`: None takes the protocol's.
- `mixed_precision`: Keras dtype policy (`"float32"`, `"mixed_bfloat16"`,
  `"mixed_float16"`).
- `jit_compile`: XLA (tensorflow) or torch.compile (torch); jax always jits.
- `steps_per_execution`: batches per compiled call; must divide the epoch.
- `device_resident`: keep the dataset on the accelerator and batch it
  there (`keras_robust.data.make_resident_data`, no tf.data).
- `data_source`: `"tfds"` or `"keras"` (`keras.datasets`).
- `train_size`: use only the first N training images (None: all).
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
finished run.
"""

import hashlib
import json
import math
import re

import ml_collections
from ml_collections import config_dict

import zoo
from keras_robust import data
from keras_robust import losses as robust_losses
from keras_robust import presets
from recipes import protocols

MIXED_PRECISION_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
#: Fields that do not change what a run computes.
UNCOMPUTED_FIELDS = ("data_dir", "verbose", "save_model")
#: Fields that name a run readably in its id; the others are hashed.
IDENTITY_FIELDS = (
    "dataset", "model", "loss", "output_bias", "noise_kind", "noise_rate",
    "seed",
)
_NOISE_TAGS = {"symmetric": "sym", "asymmetric": "asym", "pair_flip": "pair"}
_PROTOCOL_FIELDS = (
    "learning_rate", "lr_schedule", "lr_boundaries", "lr_decay", "momentum",
    "weight_decay", "batch_size", "epochs", "augment",
)


class ConfigError(ValueError):
    """A config field with a value that is not allowed (one-line message)."""

    def __init__(self, field, value, allowed):
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"config.{field}={value!r}: {allowed}")


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
    config.device_resident = False
    config.data_source = "tfds"
    config.train_size = config_dict.placeholder(int)
    config.eval_every = 1
    config.deterministic = True
    config.data_dir = config_dict.placeholder(str)
    config.verbose = 2
    config.save_model = False
    return config


# ---------------------------------------------------------------------------
# Checks: each raises ConfigError naming the field, the value and the rule.
# ---------------------------------------------------------------------------


def _one_of(field, value, allowed):
    if value not in allowed:
        raise ConfigError(
            field, value, f"expected one of {', '.join(map(str, allowed))}"
        )
    return value


def _number(field, value, minimum=None, maximum=None, positive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(field, value, "expected a number")
    value = float(value)
    bad = not math.isfinite(value)
    bad |= minimum is not None and value < minimum
    bad |= maximum is not None and value > maximum
    bad |= positive and value <= 0
    if bad:
        if positive:
            rule = "expected a finite number > 0"
        elif maximum is not None:
            rule = f"expected a number in [{minimum:g}, {maximum:g}]"
        elif minimum is not None:
            rule = f"expected a finite number >= {minimum:g}"
        else:
            rule = "expected a finite number"
        raise ConfigError(field, value, rule)
    return value


def _integer(field, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        rule = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(field, value, f"expected {rule}")
    return value


def _boolean(field, value):
    if not isinstance(value, bool):
        raise ConfigError(field, value, "expected True or False")
    return value


def _loss_and_bias(loss, output_bias, num_classes):
    """Splits `"mae*"` / `"mae*1.5"` into the loss name and its eps."""
    if not isinstance(loss, str):
        raise ConfigError("loss", loss, "expected a loss name")
    name, star, eps_text = loss.partition("*")
    allowed = (
        f"expected one of {', '.join(robust_losses.LOSS_NAMES)}, optionally "
        "starred for the paper's output bias ('mae*') or a given one ('mae*1.5')"
    )
    try:
        name = robust_losses.canonical_name(name)
    except ValueError:
        raise ConfigError("loss", loss, allowed) from None
    if not star:
        eps = 0.0 if output_bias is None else output_bias
        return name, _number("output_bias", eps)
    if eps_text:
        try:
            eps = float(eps_text)
        except ValueError:
            raise ConfigError("loss", loss, allowed) from None
    else:
        eps = presets.output_bias(name, num_classes)
    if output_bias is not None and float(output_bias) != eps:
        raise ConfigError(
            "output_bias", output_bias,
            f"expected None or {eps:g}, the eps of config.loss={loss!r}",
        )
    return name, _number("output_bias", eps)


def _loss_kwargs(loss, given, num_classes):
    kwargs = presets.loss_kwargs(loss, num_classes)
    if given is not None:
        if not hasattr(given, "items"):
            raise ConfigError("loss_kwargs", given, "expected None or a dict")
        kwargs.update(dict(given.items()))
    try:
        robust_losses.get(loss, from_logits=True, **kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            "loss_kwargs", kwargs,
            f"expected hyperparameters of loss {loss!r} "
            f"({' '.join(str(error).split())})",
        ) from None
    return kwargs


def _lr_boundaries(value):
    if not isinstance(value, (tuple, list)):
        raise ConfigError("lr_boundaries", value, "expected a tuple of epochs")
    boundaries = tuple(value)
    if any(isinstance(b, bool) or not isinstance(b, int) or b < 0
           for b in boundaries) or list(boundaries) != sorted(boundaries):
        raise ConfigError(
            "lr_boundaries", value,
            "expected increasing non-negative integer epochs, e.g. (100, 150)",
        )
    return boundaries


def resolve(config):
    """A new, locked config with every None filled in and every field checked.

    Unset training fields take the model's `recipes.protocols.Protocol`
    (the MLP1024's initial rate by dataset and loss, supplement Table 1),
    `loss_kwargs` the paper's values for the loss and number of classes
    updated by the given ones, `output_bias` 0 (or the starred loss's eps).
    `loss` becomes the loss's short name. Resolving a resolved config gives
    the same config.

    Raises:
        ConfigError: for a missing field, an unknown field, or a value that
            is not allowed; the message is one line naming the field, the
            value and what is allowed.
    """
    defaults = get_default_config()
    values = {name: defaults[name] for name in defaults}
    for name in config:
        if name not in values:
            raise ConfigError(
                name, config[name],
                f"unknown field; allowed: {', '.join(sorted(values))}",
            )
        values[name] = config[name]

    dataset = _one_of("dataset", values["dataset"], tuple(data.DATASETS))
    num_classes = data.get_spec(dataset).num_classes
    if not isinstance(values["model"], str):
        raise ConfigError("model", values["model"], "expected a model name")
    model = _one_of("model", values["model"].lower(), tuple(zoo.MODELS))
    loss, output_bias = _loss_and_bias(
        values["loss"], values["output_bias"], num_classes
    )
    resolved = dict(values)
    resolved.update(
        dataset=dataset,
        model=model,
        loss=loss,
        output_bias=output_bias,
        loss_kwargs=_loss_kwargs(loss, values["loss_kwargs"], num_classes),
    )
    protocol = protocols.protocol(model)
    for name in _PROTOCOL_FIELDS:
        if resolved[name] is None:
            resolved[name] = getattr(protocol, name)
    if values["learning_rate"] is None:
        resolved["learning_rate"] = protocols.initial_learning_rate(
            model, dataset, loss_tag(loss, output_bias)
        )

    resolved["noise_rate"] = _number("noise_rate", resolved["noise_rate"], 0.0, 1.0)
    _one_of("noise_kind", resolved["noise_kind"], tuple(data.NOISE_KINDS))
    _integer("seed", resolved["seed"], minimum=-(2**63))
    for name in ("learning_rate", "lr_decay"):
        resolved[name] = _number(name, resolved[name], positive=True)
    for name in ("momentum", "weight_decay"):
        resolved[name] = _number(name, resolved[name], minimum=0.0)
    _one_of("lr_schedule", resolved["lr_schedule"], protocols.LR_SCHEDULES)
    resolved["lr_boundaries"] = _lr_boundaries(resolved["lr_boundaries"])
    for name in ("epochs", "batch_size", "steps_per_execution", "eval_every"):
        _integer(name, resolved[name])
    if resolved["train_size"] is not None:
        _integer("train_size", resolved["train_size"])
    for name in ("augment", "jit_compile", "device_resident", "deterministic",
                 "save_model"):
        _boolean(name, resolved[name])
    _one_of("mixed_precision", resolved["mixed_precision"], MIXED_PRECISION_POLICIES)
    _one_of("data_source", resolved["data_source"], data.DATA_SOURCES)
    if resolved["data_dir"] is not None and not isinstance(resolved["data_dir"], str):
        raise ConfigError("data_dir", resolved["data_dir"], "expected None or a path")
    _one_of("verbose", resolved["verbose"], (0, 1, 2))

    result = ml_collections.ConfigDict(resolved)
    result.lock()
    return result


def is_resolved(config):
    """Whether `config` has no None left but the optional fields'."""
    optional = ("train_size", "data_dir")
    return all(config[name] is not None for name in config if name not in optional)


def learning_rate(config, epoch):
    """Learning rate of 0-based `epoch` of a resolved config (constant in an epoch)."""
    if config.lr_schedule == "exponential":
        return config.learning_rate * config.lr_decay**epoch
    if config.lr_schedule == "step":
        steps = sum(epoch >= boundary for boundary in config.lr_boundaries)
        return config.learning_rate * config.lr_decay**steps
    return config.learning_rate


# ---------------------------------------------------------------------------
# Settings and run ids.
# ---------------------------------------------------------------------------


def loss_tag(loss, output_bias):
    """`"gce"`, or `"mae*0.5"` for a loss with an output bias."""
    return loss if output_bias == 0 else f"{loss}*{output_bias:g}"


def settings(config):
    """The resolved settings as a plain JSON dict (as results.json holds them)."""
    return json.loads(json.dumps(resolve(config).to_dict(), sort_keys=True))


def _protocol_settings(resolved):
    """The settings of the run with the same identity and everything else default."""
    baseline = get_default_config()
    for name in IDENTITY_FIELDS:
        baseline[name] = resolved[name]
    return settings(baseline)


def non_default_settings(config):
    """The computed settings that differ from the protocol's for this run's identity.

    The identity (`IDENTITY_FIELDS`: dataset, model, loss, eps, noise,
    seed) fixes the protocol; everything else that differs from it is
    returned, e.g. `{"epochs": 20}` for a 20-epoch MLP run.
    """
    current = settings(config)
    baseline = _protocol_settings(current)
    return {
        name: value
        for name, value in current.items()
        if name not in UNCOMPUTED_FIELDS and value != baseline.get(name)
    }


def run_id(config):
    """A readable, unique, file-name-safe id of the run's settings.

    `<dataset>-<model>-<loss tag>-<noise>-seed<seed>`, e.g.
    `cifar10-resnet32-mae_star0.5-sym0.4-seed0`, followed by `-` and 10 hex
    digits of the sha256 of `non_default_settings(config)` when there are
    any (`digits-mlp1024-gce-sym0.4-seed0-1a2b3c4d5e`). A new field with a
    default therefore changes no existing id.
    """
    resolved = resolve(config)
    parts = [
        resolved.dataset,
        resolved.model,
        loss_tag(resolved.loss, resolved.output_bias).replace("*", "_star"),
        f"{_NOISE_TAGS[resolved.noise_kind]}{resolved.noise_rate:g}",
        f"seed{resolved.seed}",
    ]
    differences = non_default_settings(resolved)
    if differences:
        text = json.dumps(differences, sort_keys=True, separators=(",", ":"))
        parts.append(hashlib.sha256(text.encode("utf-8")).hexdigest()[:10])
    return re.sub(r"[^A-Za-z0-9._-]", "_", "-".join(parts))


def settings_differences(recorded, config):
    """The computed settings in which `recorded` differs from `config`.

    Args:
        recorded: A settings dict as `settings()` returns it (e.g. from a
            results file or checkpoint). A field it lacks (added later)
            counts as the protocol's value for the run's identity.
        config: A config.

    Returns:
        `{field: (recorded value, config's value)}`, empty when they match.
    """
    current = settings(config)
    baseline = _protocol_settings(current)
    return {
        name: (recorded.get(name, baseline.get(name)), value)
        for name, value in current.items()
        if name not in UNCOMPUTED_FIELDS
        and recorded.get(name, baseline.get(name)) != value
    }


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
