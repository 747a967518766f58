r"""Runs an experiment config: one training run, or a sweep and its report.

    python -m recipes.main --config=recipes/configs/default.py --workdir=runs/gce \
        --config.dataset=digits --config.model=mlp1024 --config.loss=gce \
        --config.noise_rate=0.4 --config.epochs=20

trains one run into `runs/gce/` (`results.json`, `model.keras`) and prints
its final metrics. Every field of `recipes.config` can be overridden with
`--config.<field>=<value>`; fields left unset take the model's training
protocol and the paper's loss hyperparameters. A config file that defines
`get_sweep()` (Tables 2 and 3, the learning-rate grid, the quickstart) runs
every point of its sweep once, in `<workdir>/<run id>/`
(`recipes.sweep.run_sweep`), then writes and prints the report
(`recipes.report.write_report`):

    python -m recipes.main --config=quickstart --workdir=runs/quickstart

`--config` takes a path, a path relative to the installed package
(`recipes/configs/table2.py`) or just a config's name (`table2`), with an
optional `:arg` for the config's own options. Running the same command
again resumes an interrupted run or sweep; finished runs are not redone.

Flags:
  --config       the experiment config file (required).
  --workdir      the run's directory, or the sweep's (required).
  --workers=k    a sweep in k local worker processes (default 0: here).
  --report_only  write and print the report of what `--workdir` holds,
                 without training.

A command-line mistake (an unknown flag or field, a value that is not
allowed, an unwritable `--workdir`) stops with one line naming the flag,
the value and what is allowed, and exit status 2, before any training.
"""

import os
import re
import sys
import tempfile
import time

from absl import app
from absl import flags
from ml_collections import config_flags

from recipes import cli
from recipes import config as config_lib
from recipes import distributed
from recipes import launcher
from recipes import report
from recipes import results
from recipes import sweep as sweep_lib
from recipes import train_lib

CONFIGS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
USAGE_ERROR_STATUS = cli.USAGE_ERROR_STATUS

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file (a path or a name in recipes/configs).",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Directory of the run, or of the sweep's runs and report."
)
_WORKERS = flags.DEFINE_integer(
    "workers", 0, "Train a sweep in this many local worker processes (0: here)."
)
_REPORT_ONLY = flags.DEFINE_boolean(
    "report_only", False, "Only write and print the report of --workdir."
)


def config_names():
    """The names of the config files shipped in `recipes/configs`."""
    return sorted(
        name[:-3] for name in os.listdir(CONFIGS_DIR)
        if name.endswith(".py") and not name.startswith(("_", "common"))
    )


def config_path(value):
    """The file a `--config` value names, keeping its `:arg` suffix.

    An existing path is kept; `recipes/configs/x.py` that is not one is
    looked up in the installed package, and a bare `x` is
    `recipes/configs/x.py` there.
    """
    path, colon, arg = value.partition(":")
    if os.path.exists(path):
        return value
    name = os.path.basename(path)
    if path in (name, name[:-3]) or path.replace(os.sep, "/").startswith("recipes/configs/"):
        candidate = os.path.join(CONFIGS_DIR, name if name.endswith(".py") else name + ".py")
        if os.path.exists(candidate):
            return candidate + colon + arg
    return value


def _with_config_paths(argv):
    converted = list(argv)
    for index, argument in enumerate(converted):
        if argument.startswith("--config="):
            converted[index] = "--config=" + config_path(argument[len("--config="):])
        elif argument == "--config" and index + 1 < len(converted):
            converted[index + 1] = config_path(converted[index + 1])
    return converted


def usage_error(message):
    """Prints `message` as one line on stderr and exits with status 2."""
    cli.usage_error("recipes.main", message)


def _config_argument(argv):
    for index, argument in enumerate(argv):
        if argument.startswith("--config="):
            return argument[len("--config="):]
        if argument == "--config" and index + 1 < len(argv):
            return argv[index + 1]
    return None


def _field_type(name):
    """'an integer', 'a number', ... for a config field, or None if unknown."""
    try:
        value = config_lib.get_default_config()
        for part in name.split("."):
            value = value[part]
    except (KeyError, AttributeError, TypeError):
        return None
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(type(value))


def _describe_parse_error(error, argv):
    """One line for an error of parsing the flags or loading the config."""
    text = str(error)
    if isinstance(error, (AttributeError, KeyError)):
        # ml_collections: "'epoch'\nDid you mean "epochs" instead of "epoch"?"
        field = re.search(r"\\?'([A-Za-z0-9_.]+)\\?'", text)
        guess = re.search(r'Did you mean "([^"]+)"', text)
        name = field.group(1) if field else text
        hint = f"; did you mean --config.{guess.group(1)}?" if guess else ""
        return (
            f"--config.{name}: no such config field{hint} "
            "(the fields are listed in recipes/config.py)"
        )
    if isinstance(error, OSError) or "Failed loading config file" in text:
        return (
            f"--config={_config_argument(argv)}: cannot load this config file "
            f"({text.splitlines()[-1].strip()}); give a path or one of: "
            f"{', '.join(config_names())}"
        )
    if "Error whilst parsing config file" in text:
        # ml_collections appends the config's traceback; its last line is
        # `module.Class: reason`.
        last = [line for line in text.splitlines() if line.strip()][-1]
        reason = re.sub(r"^[\w.]*(Error|Exception): ", "", last.strip())
        return f"--config={_config_argument(argv)}: {reason}"
    if isinstance(error, flags.Error):
        line = text.splitlines()[0]
        # ml_collections: "flag --config.seed=a: invalid literal for int() ..."
        field = re.match(r"flag (--config\.([\w.]+)=.*?): ", line)
        expected = _field_type(field.group(2)) if field else None
        if "Non-boolean" in line:
            expected = "true or false"
        if expected is not None:
            return f"{field.group(1)}: expected {expected}"
        return line
    return f"--config={_config_argument(argv)}: {type(error).__name__}: {text}"


def parse_flags(argv):
    """absl's flag parsing, with every mistake reported in one line (status 2)."""
    cli.one_line_warnings()
    try:
        remaining = flags.FLAGS(_with_config_paths(argv))
        if _CONFIG.value is None:
            usage_error(
                "--config is required: a config file or one of "
                f"{', '.join(config_names())}"
            )
        _CONFIG.value.keys()  # Raises here if the file failed to load.
    except (flags.Error, AttributeError, KeyError, OSError, TypeError, ValueError,
            SyntaxError, ImportError) as error:
        usage_error(_describe_parse_error(error, argv))
    if len(remaining) > 1:
        usage_error(f"unexpected arguments: {' '.join(remaining[1:])}")
    return remaining


def check_writable(workdir):
    """Creates `workdir` and checks that files can be written in it."""
    try:
        os.makedirs(workdir, exist_ok=True)
        with tempfile.TemporaryFile(dir=workdir):
            pass
    except OSError as error:
        usage_error(f"--workdir={workdir}: not a writable directory ({error.strerror})")


def _check_before_training(config, sweep, workdir, workers):
    """Resolves the config or every sweep point, and checks the flags.

    Returns:
        The sweep's `distributed.SweepEnvironment` (read from `os.environ`),
        or None for one run.
    """
    try:
        if sweep is None:
            config_lib.resolve(config)
    except config_lib.ConfigError as error:
        usage_error(f"--{error}")
    for point in sweep or ():
        try:
            config_lib.resolve(config_lib.override(config, point))
        except config_lib.ConfigError as error:
            # The value comes from the config file or its argument.
            usage_error(f"--config={_config_argument(sys.argv)}: sweep point {point}: {error}")
    if sweep is None and workers:
        usage_error(
            f"--workers={workers}: allowed only for a sweep (a config with "
            "get_sweep); this config is one run"
        )
    environment = None
    try:
        launcher.check_workers(workers)
        if sweep is not None:
            environment = distributed.SweepEnvironment.from_environ(os.environ)
    except distributed.SweepError as error:
        usage_error(error)
    check_writable(workdir)
    return environment


def print_run(result, workdir):
    """Prints a finished run's final metrics."""
    false_label = result.false_label_accuracy
    print(f"run_id:               {result.run_id}")
    print(f"test accuracy:        {result.test_accuracy:.4f}")
    print(
        "false label accuracy: "
        + ("n/a (no noise)" if false_label is None else f"{false_label:.4f}")
    )
    print(f"train loss:           {result.train_loss:.4f}")
    print(f"results:              {os.path.join(workdir, results.RESULTS_FILENAME)}")


def _report_only(sweep, workdir):
    if sweep is not None:
        print(report.write_report(results.load_all(workdir), workdir))
        return
    try:
        print_run(results.read(workdir), workdir)
    except FileNotFoundError:
        usage_error(f"--report_only: --workdir={workdir} holds no results.json")


def main(argv):
    del argv  # Checked by parse_flags.
    config = _CONFIG.value
    workdir = _WORKDIR.value
    if not workdir:
        usage_error("--workdir is required: the directory of the run or sweep")
    try:
        sweep = sweep_lib.load_sweep(config_flags.get_config_filename(flags.FLAGS["config"]))
    except distributed.SweepError as error:
        usage_error(error)
    if _REPORT_ONLY.value:
        _report_only(sweep, workdir)
        return
    environment = _check_before_training(config, sweep, workdir, _WORKERS.value)
    start = time.monotonic()
    try:
        if sweep is None:
            print_run(train_lib.train_and_evaluate(config, workdir), workdir)
        else:
            results_list = sweep_lib.run_sweep(
                config, sweep, workdir, workers=_WORKERS.value, environment=environment
            )
            if not environment.is_worker:
                print(report.write_report(results_list, workdir))
                print(
                    f"{len(results_list)} of {len(sweep)} runs finished in {workdir}; "
                    f"this command took {time.monotonic() - start:.0f} s."
                )
    except results.SettingsMismatchError as error:
        # Found before any training: the run directory's settings.
        usage_error(error)
    except distributed.SweepInterrupted as error:
        print(f"recipes.main: {error}", file=sys.stderr)
        sys.exit(error.status)
    except distributed.SweepError as error:
        print(f"recipes.main: {' '.join(str(error).split())}", file=sys.stderr)
        sys.exit(1)
    except config_lib.ConfigError as error:
        usage_error(f"--{error}")


def run():
    """The console entry: `python -m recipes.main ...`."""
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
