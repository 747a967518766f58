r"""Joins a started sweep: `python -m recipes.grid --workdir=DIR`.

Reads `<workdir>/sweep.json` (written by the sweep's first start,
`recipes.sweep`) and trains its runs as the chief or worker that this
process's `KERASTUNER_*` variables name, or alone where none is set:

    KERASTUNER_TUNER_ID=tuner3 KERASTUNER_ORACLE_IP=10.0.0.1 \
    KERASTUNER_ORACLE_PORT=8000 python -m recipes.grid --workdir=/shared/table2

The `--workers` launcher (`recipes.launcher`) starts its chief and workers
with this command. A sweep whose runs are all finished says so and exits 0.
A worker of a sweep in stages (`recipes.stages`) trains each stage its
chief names in `sweep.json` and ends after the last; such a chief must be
`recipes.main` with the config, which finds the next stage.
A mistake (no sweep in `--workdir`, a variable that is not allowed) is one
line and exit status 2; a lost chief is one line and status 1.
"""

import os
import sys

import recipes

# Before anything imports Keras, which imports TensorFlow on its backend.
recipes.start_command_line()

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from recipes import cli  # noqa: E402
from recipes import launcher  # noqa: E402
from recipes import results as results_lib  # noqa: E402
from recipes import stages  # noqa: E402
from recipes import sweep as sweep_lib  # noqa: E402
from recipes import sweep_files  # noqa: E402
from recipes.distributed import SweepEnvironment  # noqa: E402
from recipes.distributed import SweepError  # noqa: E402

PROGRAM = "recipes.grid"


def define_flags(flag_values=flags.FLAGS):
    """Defines this script's flags."""
    flags.DEFINE_string(
        "workdir", None,
        "Directory of a started sweep (its sweep.json); this process joins it "
        "as the chief or worker its KERASTUNER_* variables name.",
        flag_values=flag_values,
    )


def main(argv, flag_values=flags.FLAGS):
    del argv  # Checked by cli.flags_parser.
    workdir = flag_values.workdir
    if not workdir:
        cli.usage_error(PROGRAM, "--workdir is required: the directory of a started sweep.")
    try:
        environment = SweepEnvironment.from_environ(os.environ)
    except SweepError as error:
        cli.usage_error(PROGRAM, error)
    launcher.watch_launcher(environment)
    try:
        specs, final = sweep_files.read_sweep_stage(workdir)
        # Every run directory, before any training.
        sweep_files.sweep_runs(specs, workdir)
    except SweepError as error:
        cli.usage_error(PROGRAM, f"--workdir={workdir}: {error}")
    except results_lib.SettingsMismatchError as error:
        cli.usage_error(PROGRAM, error)
    try:
        if environment.is_worker:
            stages.follow_chief(workdir, environment)
        else:
            sweep_lib.run_sweep(specs, workdir, environment=environment, final=final)
            if not final:
                print(f"{PROGRAM}: the sweep in {workdir} has later stages; only "
                      "`python -m recipes.main --config=...` finds them.", flush=True)
    except SweepError as error:
        print(f"{PROGRAM}: {' '.join(str(error).split())}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    define_flags()
    app.run(main, flags_parser=cli.flags_parser(PROGRAM))
