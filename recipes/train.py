r"""Trains one configuration of the paper and writes its results file.

Every flag left unset takes the paper's value for the chosen dataset, model
and loss (`RunConfig.paper_defaults`, read from `keras_robust.presets`):

    python -m recipes.train --dataset=cifar10 --model=resnet32 \
        --loss='mae*' --noise_rate=0.4 --seed=0 --output_dir=runs

writes `runs/cifar10-resnet32-mae_star0.5-sym0.4-seed0/results.json`.
Running the same command again resumes an interrupted run from its last
finished epoch, or does nothing if the run is finished.
`--learning_rates_file=<dir>/learning_rates.json` (written by
`recipes.tune_lr`) takes the initial learning rate of the dataset and loss
variant from that file unless `--learning_rate` is given. Quick offline try:

    python -m recipes.train --dataset=digits --model=mlp1024 --loss=gce \
        --noise_rate=0.4 --learning_rate=0.01 --epochs=5

`define_flags()` defines the flags (on `python -m recipes.train`);
`recipes.sweep` and `recipes.quickstart` share the run-setting flags of
`define_run_flags()` (`--epochs`, `--train_size`, `--mixed_precision`, ...).
"""

import functools
import json

from absl import app
from absl import flags

import zoo
from keras_robust import losses as robust_losses
from keras_robust import presets
from keras_robust.data import DATA_SOURCES
from keras_robust.data import DATASETS
from keras_robust.data import NOISE_KINDS
from recipes import runner


def _loss_keys():
    keys = []
    for table in ("table2", "table3"):
        keys += [row.key for row in presets.table_variants(table)]
    keys += list(robust_losses.LOSS_NAMES)
    return tuple(dict.fromkeys(keys))


LOSS_KEYS = _loss_keys()

# Run settings shared with recipes.sweep and recipes.quickstart (None: the
# paper's value, or the script's own default), and the RunConfig field each
# one overrides.
OVERRIDE_FLAGS = (
    "noise_kind",
    "epochs",
    "learning_rate",
    "lr_schedule",
    "lr_decay",
    "momentum",
    "weight_decay",
    "batch_size",
    "augment",
    "mixed_precision",
    "jit_compile",
    "steps_per_execution",
    "device_resident",
    "data_source",
    "train_size",
    "eval_every",
    "data_dir",
)
#: The flags `define_run_flags` defines.
RUN_FLAGS = OVERRIDE_FLAGS + ("lr_boundaries", "output_dir", "verbose", "deterministic")


def _define(flag_values, define, name, *args, **kwargs):
    # Idempotent, so that several recipes can share one FlagValues.
    if name not in flag_values:
        define(name, *args, flag_values=flag_values, **kwargs)


def define_run_flags(flag_values=flags.FLAGS):
    """Defines the run-setting flags shared by train, sweep and quickstart."""
    d = functools.partial(_define, flag_values)
    d(flags.DEFINE_enum, "noise_kind", None, list(NOISE_KINDS),
      "Label-noise kind. Default: symmetric (the paper's).")
    d(flags.DEFINE_integer, "epochs", None,
      "Epochs. Default: 200 (ResNets), 100 (MLP1024); 20 in the quickstart.",
      lower_bound=1)
    d(flags.DEFINE_float, "learning_rate", None,
      "Initial learning rate. Default: 0.1 (ResNets); for MLP1024 the loss's "
      "rate of supplement Table 1 (CIFAR-10, Fashion-MNIST; required for "
      "other datasets); 0.01 in the quickstart.", lower_bound=0.0)
    d(flags.DEFINE_enum, "lr_schedule", None, list(runner.LR_SCHEDULES),
      "Learning-rate schedule. Default: step (ResNets), exponential (MLP1024).")
    d(flags.DEFINE_list, "lr_boundaries", None,
      "Epochs at which the step schedule multiplies by --lr_decay. "
      "Default: 100,150.")
    d(flags.DEFINE_float, "lr_decay", None,
      "Factor of the step schedule (default 0.1) or per epoch of the "
      "exponential one (default 0.95).")
    d(flags.DEFINE_float, "momentum", None,
      "SGD momentum. Default: 0.9 (ResNets), 0.95 (MLP1024).")
    d(flags.DEFINE_float, "weight_decay", None,
      "Coupled (PyTorch) L2 weight decay. Default: 1e-4 (ResNets), 0 (MLP1024).")
    d(flags.DEFINE_integer, "batch_size", None,
      "Batch size. Default: 128 (ResNets), 32 (MLP1024).", lower_bound=1)
    d(flags.DEFINE_boolean, "augment", None,
      "Supplement-1 augmentation. Default: on for ResNets, off for MLP1024.")
    d(flags.DEFINE_enum, "mixed_precision", None, list(runner.MIXED_PRECISION_POLICIES),
      "Keras dtype policy. Default: float32.")
    d(flags.DEFINE_boolean, "jit_compile", None,
      "Compile the train step with XLA (tensorflow) or torch.compile (torch); "
      "under jax it is always compiled. Default: off.")
    d(flags.DEFINE_integer, "steps_per_execution", None,
      "Batches per compiled call. Default: 1.", lower_bound=1)
    d(flags.DEFINE_boolean, "device_resident", None,
      "Keep the whole dataset on the accelerator and batch it there (no "
      "tf.data). Default: off.")
    d(flags.DEFINE_enum, "data_source", None, list(DATA_SOURCES),
      "Where the paper's datasets come from: tfds (TensorFlow Datasets) or "
      "keras (keras.datasets, no TensorFlow needed). Default: tfds.")
    d(flags.DEFINE_integer, "train_size", None,
      "Use only the first N training images. Default: all.", lower_bound=1)
    d(flags.DEFINE_integer, "eval_every", None,
      "Evaluate test and false-label accuracy every N epochs and after the "
      "last one. Default: 1 (the paper's per-epoch curves).", lower_bound=1)
    d(flags.DEFINE_string, "data_dir", None, "TFDS data directory. Default: TFDS's.")
    d(flags.DEFINE_string, "output_dir", None,
      "Directory of the run directories. Default: runs (train), "
      "runs/<table> (sweep), runs/quickstart (quickstart).")
    d(flags.DEFINE_integer, "verbose", None,
      "Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch. "
      "Default: 1 (0 in the quickstart).")
    d(flags.DEFINE_boolean, "deterministic", True,
      "Enable TensorFlow op determinism (exact resume; may be slower on GPUs). "
      "A --device_resident run under jax or torch runs no TensorFlow.")


def define_flags(flag_values=flags.FLAGS):
    """Defines this recipe's flags (called when run as a script)."""
    define_run_flags(flag_values)
    d = functools.partial(_define, flag_values)
    d(flags.DEFINE_enum, "dataset", "cifar10", list(DATASETS),
      "Dataset ('digits' is offline, for quick tries).")
    d(flags.DEFINE_enum, "model", "resnet32", list(zoo.MODELS), "Network (zoo name).")
    d(flags.DEFINE_enum, "loss", "ce", list(LOSS_KEYS),
      "Loss: a row of paper Table 2 or 3 ('mae*' is MAE with eps 0.5, "
      "'boundce*2.5' boundCE with eps 2.5) or a loss name.")
    d(flags.DEFINE_string, "loss_kwargs", None,
      "Loss hyperparameters replacing the paper's, as JSON ('{\"q\": 0.5}') "
      "or key=value pairs ('alpha=0.1,beta=1.0'). Default: paper Table 1.")
    d(flags.DEFINE_float, "output_bias", None,
      "eps added to the labelled logit in training (paper Sec. 3.2). "
      "Default: the loss row's (0.5 for 'mae*').")
    d(flags.DEFINE_float, "noise_rate", 0.0, "Label-noise rate in [0, 1].",
      lower_bound=0.0, upper_bound=1.0)
    d(flags.DEFINE_integer, "seed", 0,
      "Seed of initialisation, noise, shuffling and augmentation.")
    d(flags.DEFINE_boolean, "overwrite", False,
      "Retrain and replace results or a checkpoint of the same run id, even "
      "with different settings.")
    d(flags.DEFINE_string, "learning_rates_file", None,
      "learning_rates.json of recipes.tune_lr ({dataset: {loss key: rate}}). "
      "Unless --learning_rate is given, the initial learning rate is the "
      "file's rate for --dataset and the loss variant (--loss, with "
      "--output_bias: e.g. 'mae*'); an error if the file has none.")


def parse_loss_kwargs(text):
    """`'{"q": 0.5}'` or `'q=0.5'` / `'alpha=0.1,beta=1'` to a dict."""
    if text is None or not text.strip():
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"--loss_kwargs is not valid JSON: {error}") from error
        if not isinstance(value, dict):
            raise ValueError(f"--loss_kwargs must be a JSON object. Received: {text}")
        return value
    kwargs = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"--loss_kwargs must be JSON or key=value pairs. Received: {text}"
            )
        try:
            kwargs[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key.strip()] = value.strip()
    return kwargs


def run_overrides(flag_values=flags.FLAGS):
    """The `RunConfig` overrides given by the run-setting flags that are set."""
    overrides = {
        name: flag_values[name].value
        for name in OVERRIDE_FLAGS
        if flag_values[name].value is not None
    }
    if flag_values.lr_boundaries is not None:
        overrides["lr_boundaries"] = tuple(int(b) for b in flag_values.lr_boundaries)
    return overrides


def learning_rate_from_file(path, dataset, variant):
    """The rate of (dataset, loss variant) in a `recipes.tune_lr` JSON file.

    Raises:
        ValueError: naming the file, dataset and variant, if the file is
            missing, malformed or has no such rate.
    """
    from recipes import tune_lr  # tune_lr imports recipes.sweep, which imports this.

    try:
        rates = tune_lr.load_learning_rates(path)
    except OSError as error:
        raise ValueError(
            f"Cannot read --learning_rates_file {path}: {error}"
        ) from error
    except ValueError as error:  # json.JSONDecodeError included
        raise ValueError(
            f"--learning_rates_file {path} is not a learning_rates.json of "
            f"recipes.tune_lr: {error}"
        ) from error
    per_loss = rates.get(dataset)
    if per_loss is None or variant not in per_loss:
        known = ", ".join(
            f"{name}/{key}" for name, keys in sorted(rates.items()) for key in sorted(keys)
        )
        raise ValueError(
            f"--learning_rates_file {path} has no learning rate for dataset "
            f"{dataset!r} and loss variant {variant!r} (it has: {known or 'none'}). "
            "Tune it with recipes.tune_lr or pass --learning_rate."
        )
    return float(per_loss[variant])


def config_from_flags(flag_values=flags.FLAGS):
    """The `RunConfig` of the flags; unset flags take the paper's values.

    With `--learning_rates_file` and no `--learning_rate`, the initial
    learning rate comes from that file.
    """
    overrides = run_overrides(flag_values)
    loss_kwargs = parse_loss_kwargs(flag_values.loss_kwargs)
    if loss_kwargs:
        overrides["loss_kwargs"] = loss_kwargs
    if flag_values.output_bias is not None:
        overrides["output_bias"] = flag_values.output_bias

    def make(**extra):
        return runner.RunConfig.paper_defaults(
            flag_values.dataset,
            flag_values.model,
            flag_values.loss,
            noise_rate=flag_values.noise_rate,
            seed=flag_values.seed,
            **overrides,
            **extra,
        )

    path = flag_values["learning_rates_file"].value if "learning_rates_file" in flag_values else None
    if path and "learning_rate" not in overrides:
        # The variant key (loss and eps) does not depend on the rate.
        variant = make(learning_rate=1.0).variant
        overrides["learning_rate"] = learning_rate_from_file(path, flag_values.dataset, variant)
    return make()


def train_from_flags(flag_values=flags.FLAGS):
    """Runs the configuration of the flags, prints and returns its results."""
    try:
        config = config_from_flags(flag_values)
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    output_dir = flag_values.output_dir or "runs"
    results = runner.run(
        config,
        output_dir,
        verbose=1 if flag_values.verbose is None else flag_values.verbose,
        overwrite=flag_values.overwrite,
        deterministic=flag_values.deterministic,
    )
    final = results["final"]
    false_label = final["false_label_accuracy"]
    print(f"run_id:               {config.run_id}")
    print(f"test accuracy:        {final['test_accuracy']:.4f}")
    print(
        "false label accuracy: "
        + ("n/a (no noise)" if false_label is None else f"{false_label:.4f}")
    )
    print(f"train loss:           {final['train_loss']:.4f}")
    print(f"results:              {runner.results_path(config, output_dir)}")
    return results


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    train_from_flags()


if __name__ == "__main__":
    define_flags()
    app.run(main)
