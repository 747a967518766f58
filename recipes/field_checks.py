"""The checks of a run's settings: each raises ConfigError naming the field,
the value and the rule, in one line. `recipes.config.resolve` calls them once.
"""

import math

from keras_robust import data
from keras_robust.data import cifar_n
from recipes import protocols

MIXED_PRECISION_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


class ConfigError(ValueError):
    """A config field with a value that is not allowed (one-line message)."""

    def __init__(self, field, value, allowed):
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"config.{field}={value!r}: {allowed}")


def one_of(field, value, allowed):
    if value not in allowed:
        raise ConfigError(
            field, value, f"expected one of {', '.join(map(str, allowed))}"
        )
    return value


def number(field, value, minimum=None, maximum=None, positive=False):
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


def integer(field, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        rule = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(field, value, f"expected {rule}")
    return value


def boolean(field, value):
    if not isinstance(value, bool):
        raise ConfigError(field, value, "expected True or False")
    return value


def lr_boundaries(value):
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


def _check_data_fields(resolved):
    """Checks `noise_label_set` and `noise_rate` against `noise_kind`, and the folds."""
    label_set, sets = resolved["noise_label_set"], cifar_n.LABEL_SETS.get(resolved["dataset"])
    if resolved["noise_kind"] != "human" and label_set is not None:
        raise ConfigError("noise_label_set", label_set, "expected None unless noise_kind='human'")
    if resolved["noise_kind"] == "human":
        if sets is None:
            raise ConfigError("noise_kind", "human", f"needs {' or '.join(cifar_n.LABEL_SETS)}")
        one_of("noise_label_set", label_set, tuple(sets))
        if resolved["noise_rate"]:
            raise ConfigError("noise_rate", resolved["noise_rate"], "expected 0 with human "
                              "noise: its rate is measured from the label set")
    folds, fold = integer("num_folds", resolved["num_folds"]), resolved["holdout_fold"]
    if fold is not None if folds == 1 else type(fold) is not int or fold not in range(folds):
        allowed = "None" if folds == 1 else f"an integer in [0, {folds})"
        raise ConfigError("holdout_fold", fold, f"expected {allowed} with num_folds={folds}")


def check_fields(resolved):
    """Checks every field but the identity's (`recipes.config` checks those);
    returns them normalised."""
    resolved["noise_rate"] = number("noise_rate", resolved["noise_rate"], 0.0, 1.0)
    one_of("noise_kind", resolved["noise_kind"], tuple(data.NOISE_KINDS))
    _check_data_fields(resolved)
    integer("seed", resolved["seed"], minimum=-(2**63))
    for name in ("learning_rate", "lr_decay"):
        resolved[name] = number(name, resolved[name], positive=True)
    for name in ("momentum", "weight_decay"):
        resolved[name] = number(name, resolved[name], minimum=0.0)
    one_of("lr_schedule", resolved["lr_schedule"], protocols.LR_SCHEDULES)
    resolved["lr_boundaries"] = lr_boundaries(resolved["lr_boundaries"])
    for name in ("epochs", "batch_size", "steps_per_execution", "eval_every"):
        integer(name, resolved[name])
    if resolved["train_size"] is not None:
        integer("train_size", resolved["train_size"])
    for name in ("augment", "jit_compile", "device_resident", "deterministic",
                 "save_model"):
        boolean(name, resolved[name])
    one_of("mixed_precision", resolved["mixed_precision"], MIXED_PRECISION_POLICIES)
    one_of("data_source", resolved["data_source"], data.DATA_SOURCES)
    if resolved["data_dir"] is not None and not isinstance(resolved["data_dir"], str):
        raise ConfigError("data_dir", resolved["data_dir"], "expected None or a path")
    one_of("verbose", resolved["verbose"], (0, 1, 2))
    return resolved


