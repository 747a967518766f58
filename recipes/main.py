r"""Runs an experiment config: one training run, or a sweep and its report.

    python -m recipes.main --config=recipes/configs/default.py --workdir=runs/gce \
        --config.dataset=digits --config.model=mlp1024 --config.loss=gce \
        --config.noise_rate=0.4 --config.epochs=20

trains one run into `runs/gce/` (`results.json`, `model.keras`) and prints
its final metrics. Every field of `recipes.config` can be set with
`--config.<field>=<value>`; fields left unset take the model's training
protocol and the paper's loss hyperparameters. A config file that defines
`get_sweep()` (Tables 2 and 3, the learning-rate grid, the quickstart) runs
every point of its sweep once, in `<workdir>/<run id>/`
(`recipes.sweep.run_sweep`), then writes and prints the report
(`recipes.report.write_report`):

    python -m recipes.main --config=quickstart --workdir=runs/quickstart

A config whose `get_sweep(arg, finished)` takes the runs finished so far
runs in stages (`recipes.stages`, e.g. `offline_replication`) in the same
`--workdir` until it asks for no new run; the report covers them all.

When every run finished, a config's `summarize(results, workdir)`, if it
has one, is printed after the report (`estimate_noise`: the estimated
noise rate and the loss chosen for it).

`--config` takes a path, a path relative to the installed package
(`recipes/configs/table2.py`) or just a config's name (`table2`), with an
optional `:arg` for the config's own options. The config file is loaded
once; its `get_config(arg)`, the `--config.<field>` values and, for a
sweep, each of its `get_sweep(arg)` points are resolved into one
`recipes.config.RunSpec` per run before any training. On a sweep a
`--config.<field>` that no point sets applies to every run (`--config.epochs=3`);
one that the sweep sets per point is refused, naming the config argument
that narrows it (`--config='quickstart:losses=mae+mae*'`). Running the same
command again resumes an interrupted run or sweep; finished runs are not
redone. `--help` lists the configs and the fields.

Flags:
  --config       the experiment config file (required).
  --workdir      the run's directory, or the sweep's (required).
  --workers=k    a sweep in k local worker processes (default 0: here).
  --report_only  write and print the report of what an existing `--workdir`
                 holds, without training.
  --status       print the runs of `--workdir` by state and the time left
                 (`recipes.status`), changing nothing; `--config` is not
                 needed. While a sweep runs, from any machine that sees it:
                 `python -m recipes.main --workdir=runs/quickstart --status`.

A command-line mistake (an unknown flag or field, a value that is not
allowed, an unwritable `--workdir`) stops with one line naming the flag,
the value and what is allowed, and exit status 2, before any training.
"""

import ast
import dataclasses
import difflib
import importlib
import importlib.util
import os
import re
import sys
import tempfile
import textwrap
import time
import types

import recipes

# Before anything imports Keras, which imports TensorFlow on its backend.
recipes.start_command_line()

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from recipes import cli  # noqa: E402
from recipes import config as config_lib  # noqa: E402
from recipes import distributed  # noqa: E402
from recipes import launcher  # noqa: E402
from recipes import progress  # noqa: E402
from recipes import report  # noqa: E402
from recipes import results  # noqa: E402
from recipes import stages  # noqa: E402
from recipes import status as status_lib  # noqa: E402
from recipes import train_lib  # noqa: E402
from recipes.configs import common  # noqa: E402

PROGRAM = "recipes.main"
CONFIGS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull")

_CONFIG = flags.DEFINE_string(
    "config", None,
    "Experiment config file: a path or a name in recipes/configs, with an "
    "optional ':arg' for the config's options.",
)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Directory of the run, or of the sweep's runs and report."
)
_WORKERS = flags.DEFINE_integer(
    "workers", 0, "Train a sweep in this many local worker processes (0: here)."
)
_REPORT_ONLY = flags.DEFINE_boolean(
    "report_only", False, "Only write and print the report of an existing --workdir."
)
_STATUS = flags.DEFINE_boolean(
    "status", False,
    "Only print the runs of --workdir by state and the time left, changing nothing.",
)


def usage_error(message):
    """Prints `message` as one line on stderr and exits with status 2."""
    cli.usage_error(PROGRAM, message)


# ---------------------------------------------------------------------------
# The config file, loaded once.


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


def config_description(path):
    """The first line of a config file's docstring (the file is not run)."""
    with open(path, encoding="utf-8") as file:
        docstring = ast.get_docstring(ast.parse(file.read())) or ""
    return docstring.splitlines()[0] if docstring else ""


@dataclasses.dataclass(frozen=True)
class LoadedConfig:
    """A config file, run once: its config and, for a sweep, its points.

    Attributes:
        argument: The `--config` value as given, e.g. `"quickstart:seeds=0"`.
        module: The config file's module.
        config: `get_config(arg)`, an `ml_collections.ConfigDict`.
        sweep: `get_sweep(arg)`, a list of dicts of fields, or None.
    """

    argument: str
    module: types.ModuleType
    config: object
    sweep: object

    @property
    def name(self):
        """The config's name, e.g. `"quickstart"`."""
        path = self.argument.partition(":")[0]
        return os.path.splitext(os.path.basename(path))[0]

    def narrowing_hint(self, field):
        """`--config='quickstart:losses=...'`: how to narrow a swept `field`."""
        argument = common.narrowing_argument(self.module, field)
        if argument is None:
            return None
        path, _, arg = self.argument.partition(":")
        kept = [part for part in arg.split(",") if part and part.partition("=")[0] != argument]
        return f"--config='{path}:{','.join([*kept, argument + '=...'])}'"


def _import(path):
    name = os.path.splitext(os.path.basename(path))[0]
    if os.path.dirname(os.path.abspath(path)) == CONFIGS_DIR:
        return importlib.import_module(f"recipes.configs.{name}")
    spec = importlib.util.spec_from_file_location(f"recipes_config_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_config(argument):
    """Runs the config file of a `--config` value once: `LoadedConfig`.

    Raises:
        cli.UsageError: for a file that does not exist or fails to load, or
            an argument (`:arg`) that the file refuses.
    """
    path, _, arg = config_path(argument).partition(":")
    if not os.path.isfile(path):
        raise cli.UsageError(
            f"--config={argument}: no such config file; give a path or one of: "
            f"{', '.join(config_names())}"
        )
    try:
        module = _import(path)
        get_sweep = getattr(module, "get_sweep", None)
        config = module.get_config(arg) if arg else module.get_config()
        sweep = None
        if get_sweep is not None:
            sweep = get_sweep(arg) if arg else get_sweep()
    except (common.ConfigArgumentError, config_lib.ConfigError) as error:
        raise cli.UsageError(f"--config={argument}: {error}") from None
    except Exception as error:  # the config file's own mistake
        raise cli.UsageError(
            f"--config={argument}: cannot load this config file "
            f"({type(error).__name__}: {error})"
        ) from None
    return LoadedConfig(argument, module, config, None if sweep is None else list(sweep))


# ---------------------------------------------------------------------------
# --config.FIELD=VALUE


def split_overrides(argv):
    """`(argv without them, [(field, text or None)])` of the `--config.FIELD` arguments.

    `--config.FIELD=VALUE` gives VALUE, a bare `--config.FIELD` None (true
    for a boolean field) and `--noconfig.FIELD` `"false"`.
    """
    rest, overrides = [], []
    for argument in argv:
        if argument.startswith("--config."):
            name, has_value, text = argument[len("--config."):].partition("=")
            overrides.append((name, text if has_value else None))
        elif argument.startswith("--noconfig."):
            overrides.append((argument[len("--noconfig."):], "false"))
        else:
            rest.append(argument)
    return rest, overrides


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_override(name, text):
    """The value of `--config.<name>=<text>`, typed as the field's default.

    Raises:
        cli.UsageError: naming the flag and what it expects.
    """
    defaults = config_lib.get_default_config()
    field, dot, _ = name.partition(".")
    flag = f"--config.{name}"
    if field not in defaults:
        guess = difflib.get_close_matches(field, list(defaults), n=1)
        hint = f"; did you mean --config.{guess[0]}?" if guess else ""
        raise cli.UsageError(f"{flag}: no such config field{hint} (--help lists them)")
    kind = defaults.get_type(field)
    if dot:
        if kind is not object:
            raise cli.UsageError(f"{flag}: --config.{field} has no entries")
        return _literal(text)
    if text is None:
        if kind is not bool:
            raise cli.UsageError(f"{flag}: expected a value, {flag}=VALUE")
        text = "true"
    if text == "None" and defaults[field] is None:
        return None
    expected = {
        bool: "true or false", int: "an integer", float: "a number",
        tuple: "a tuple of integers, e.g. (100,150)",
        object: "a dict, e.g. \"{'q': 0.5}\"",
    }
    if kind is bool and text.lower() in ("true", "1", "false", "0"):
        return text.lower() in ("true", "1")
    if kind is str:
        return text
    value = _literal(text)
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is tuple and isinstance(value, (tuple, list, int)):
        return tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if kind is object and isinstance(value, dict):
        return value
    raise cli.UsageError(f"{flag}={text}: expected {expected[kind]}")


def command_config(loaded, overrides):
    """The config of `--config` with the `--config.FIELD` values set."""
    config = loaded.config
    for name, text in overrides:
        config = config_lib.override(config, {name: parse_override(name, text)})
    return config


def resolve_specs(loaded, overrides, points=None):
    """The `RunSpec` of every run of a command line, before any training.

    Args:
        loaded: The `LoadedConfig` of `--config`.
        overrides: `[(field, text)]` of the `--config.FIELD` arguments.
        points: The sweep's points (default: `loaded.sweep`).

    Returns:
        A list of `recipes.config.RunSpec`: one for a single-run config,
        the sweep's runs (without repeats) for a sweep.

    Raises:
        cli.UsageError: one line naming the flag or the sweep point, for an
            unknown field, a bad value, or a field that the sweep sets per
            point.
    """
    config = command_config(loaded, overrides)
    try:
        if loaded.sweep is None:
            return [config_lib.resolve(config)]
        points = loaded.sweep if points is None else points
        return config_lib.resolve_sweep(config, points, [name for name, _ in overrides])
    except config_lib.SweptFieldError as error:
        hint = loaded.narrowing_hint(error.field.partition(".")[0])
        instead = (
            f"narrow it with {hint}" if hint
            else "no argument of the config narrows it; change it in the config file"
        )
        raise cli.UsageError(
            f"--config.{error.field}: the {loaded.name} sweep sets "
            f"{error.field.partition('.')[0]} per point; {instead}"
        ) from None
    except config_lib.PointError as error:
        # The value comes from the config file or its argument.
        raise cli.UsageError(f"--config={loaded.argument}: {error}") from None
    except config_lib.ConfigError as error:
        raise cli.UsageError(f"--{error}") from None


# ---------------------------------------------------------------------------
# Flags, --help and the checks before training.


def field_descriptions():
    """`{field: its description}` from the field list of `recipes.config`."""
    found = {}
    bullets = re.finditer(r"^- (.+?): (.+?)(?=\n- |\n\n|\Z)", config_lib.__doc__, re.S | re.M)
    for bullet in bullets:
        for name in re.findall(r"`(\w+)`", bullet.group(1)):
            found[name] = " ".join(bullet.group(2).split())
    return found


def help_text():
    """The text of `--help`: usage, the configs, the fields and the flags."""
    lines = [
        "usage: python -m recipes.main --config=CONFIG[:ARGS] --workdir=DIR "
        "[--config.FIELD=VALUE ...] [--workers=K] [--report_only | --status]",
        "",
        "Trains one run, or every run of a sweep and writes its report "
        "(see recipes/main.py).",
        "",
        "Configs (--config=NAME, or the path of a config file):",
    ]
    for name in config_names():
        description = config_description(os.path.join(CONFIGS_DIR, name + ".py"))
        lines.append(f"  {name:<21} {description}")
    lines += ["", "Fields (--config.FIELD=VALUE; None: the protocol's or the paper's value):"]
    defaults = config_lib.get_default_config()
    descriptions = field_descriptions()
    for name in defaults:
        kind = defaults.get_type(name).__name__
        kind = "dict" if kind == "object" else kind
        lines.append(f"  {name:<21} {kind:<6} default {defaults[name]!r}")
        lines += textwrap.wrap(
            descriptions.get(name, ""), width=100,
            initial_indent=" " * 24, subsequent_indent=" " * 24,
        )
    lines += ["", "Flags:"]
    for flag in (_CONFIG, _WORKDIR, _WORKERS, _REPORT_ONLY, _STATUS):
        lines.append(f"  --{flag.name:<19} {flags.FLAGS[flag.name].help}")
    return "\n".join(lines)


def parse_flags(argv):
    """absl's flag parsing, with every mistake reported in one line (status 2).

    Returns:
        The program name and the `--config.FIELD` arguments, for `main`.
    """
    cli.one_line_warnings()
    if any(argument in HELP_FLAGS for argument in argv[1:]):
        print(help_text())
        sys.exit(0)
    rest, overrides = split_overrides(argv)
    try:
        remaining = flags.FLAGS(rest)
    except flags.Error as error:
        usage_error(str(error).splitlines()[0])
    if len(remaining) > 1:
        usage_error(f"unexpected arguments: {' '.join(remaining[1:])}")
    return [argv[0], *(arg for arg in argv[1:] if arg not in rest)]


def check_writable(workdir):
    """Creates `workdir` and checks that files can be written in it."""
    try:
        os.makedirs(workdir, exist_ok=True)
        with tempfile.TemporaryFile(dir=workdir):
            pass
    except OSError as error:
        usage_error(f"--workdir={workdir}: not a writable directory ({error.strerror})")


def _check_before_training(is_sweep, workdir, workers):
    """Checks the flags and, for a sweep, its environment variables.

    Returns:
        The sweep's `distributed.SweepEnvironment`, read once from
        `os.environ`, or None for one run.
    """
    if not is_sweep and workers:
        usage_error(
            f"--workers={workers}: allowed only for a sweep (a config with "
            "get_sweep); this config is one run"
        )
    environment = None
    try:
        launcher.check_workers(workers)
        if is_sweep:
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


def _report_only(is_sweep, workdir):
    if not os.path.isdir(workdir):
        usage_error(f"--report_only: --workdir={workdir} does not exist; nothing to report")
    if is_sweep:
        print(report.write_report(results.load_all(workdir), workdir))
        return
    try:
        print_run(results.read(workdir), workdir)
    except FileNotFoundError:
        usage_error(f"--report_only: --workdir={workdir} holds no results.json")


def _status(workdir):
    """Prints `recipes.status.report` of `workdir`; exits 2 where it holds nothing."""
    try:
        timeout = distributed.SweepEnvironment.from_environ(os.environ).heartbeat_timeout
    except distributed.SweepError as error:
        usage_error(error)
    lines, exit_status = status_lib.report(workdir, timeout=timeout)
    if exit_status:
        usage_error(lines[0])
    print("\n".join(lines))


def next_stage(loaded, overrides, finished):
    """Every run of a staged sweep given its `finished` `RunResult`s (`recipes.stages`)."""
    config = command_config(loaded, overrides)
    finished = stages.Finished(
        lambda point: config_lib.resolve(config_lib.override(config, point)), finished
    )
    arg = config_path(loaded.argument).partition(":")[2]
    try:
        points = list(loaded.module.get_sweep(arg or None, finished=finished))
    except (common.ConfigArgumentError, config_lib.ConfigError) as error:
        raise cli.UsageError(f"--config={loaded.argument}: {error}") from None
    return resolve_specs(loaded, overrides, points)


def main(argv):
    """Loads the config once, resolves every run, then trains (or reports)."""
    workdir = _WORKDIR.value
    if not workdir:
        usage_error("--workdir is required: the directory of the run or sweep")
    if _STATUS.value:
        _status(workdir)
        return
    if _CONFIG.value is None:
        usage_error(f"--config is required: a config file or one of {', '.join(config_names())}")
    try:
        loaded = load_config(_CONFIG.value)
        if _REPORT_ONLY.value:
            _report_only(loaded.sweep is not None, workdir)
            return
        overrides = split_overrides(argv[1:])[1]
        specs = resolve_specs(loaded, overrides)
    except cli.UsageError as error:
        usage_error(error)
    is_sweep = loaded.sweep is not None
    environment = _check_before_training(is_sweep, workdir, _WORKERS.value)
    start = time.monotonic()
    try:
        if not is_sweep:
            print_run(train_lib.train_and_evaluate(specs[0], workdir), workdir)
            return
        staged = stages.is_staged(loaded.module)
        if staged and environment.is_worker:
            stages.follow_chief(workdir, environment)
            return
        finished, specs = stages.run_stages(
            specs, workdir, workers=_WORKERS.value, environment=environment,
            next_specs=staged and (lambda done: next_stage(loaded, overrides, done)),
        )
        if not environment.is_worker:
            print(report.write_report(finished, workdir))
            summarize = getattr(loaded.module, "summarize", None)
            if summarize is not None and len(finished) == len(specs):
                print(summarize(finished, workdir))
            print(
                f"{len(finished)} of {len(specs)} runs finished in {workdir}; "
                f"this command took {progress.format_elapsed(time.monotonic() - start)}."
            )
    except results.SettingsMismatchError as error:
        # Found before any training: the run directory's settings.
        usage_error(error)
    except distributed.SweepInterrupted as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        sys.exit(error.status)
    except distributed.SweepError as error:
        print(f"{PROGRAM}: {' '.join(str(error).split())}", file=sys.stderr)
        sys.exit(1)
    except config_lib.ConfigError as error:
        # steps_per_execution, checked against the loaded data.
        usage_error(f"--{error}")
    except cli.UsageError as error:
        # A later stage's points, refused by the config or by `resolve`.
        usage_error(error)


def run():
    """The console entry: `python -m recipes.main ...`."""
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
