r"""A sweep in stages: the runs of each stage follow from the results before it.

A config whose `get_sweep(arg=None, finished=None)` takes `finished` is a
staged sweep (`recipes/configs/offline_replication.py`: a learning-rate
grid on clean labels, extended past its edge while the best rate sits
there, then the noisy runs at the chosen rates). `finished.get(point)` is
the `recipes.results.RunResult` of a sweep point whose run has finished,
else None; `get_sweep` returns every point it needs given those results,
the earlier stages' included. `run_stages` trains them as one sweep in
one `--workdir`:

    stage 1: the points of get_sweep(arg) -> run_sweep
    stage k: the points of get_sweep(arg, finished) not run before -> run_sweep
    ... until get_sweep asks for no new run, or a stage has a run that failed

Each stage is one `recipes.sweep.run_sweep`: here, in `--workers=k` local
workers, or served by a chief (`recipes.main` with `KERASTUNER_TUNER_ID=chief`:
it needs the config to find the next stage). A run is found by its run id,
so a finished run is never redone, and a stage's point that an earlier
stage ran (the noisy stage's clean column at the chosen rate) is not run
again. Killed at any point, the same command resumes: the finished
stages are found finished, and the first unfinished one goes on.

A worker of a chief (`follow_chief`; `recipes.grid` or `recipes.main`)
trains the runs that `<workdir>/sweep.json` names, written by the chief at
the start of each stage, stage after stage, and ends once the chief has
marked the file final (no stage follows); it gives up after the chief
timeout without a next stage (`recipes.chief.ChiefLostError`). While a
stage trains, `sweep.json` names its runs only, and so does `--status`.
"""

import inspect
import time

from recipes import config as config_lib
from recipes import sweep as sweep_lib
from recipes import sweep_files
from recipes.chief import ChiefLostError
from recipes.distributed import SweepError

#: How often a worker of a chief looks for the next stage.
POLL_SECONDS = 1.0


def is_staged(module):
    """Whether a config file's `get_sweep` takes the `finished` runs (a staged sweep)."""
    get_sweep = getattr(module, "get_sweep", None)
    return get_sweep is not None and "finished" in inspect.signature(get_sweep).parameters


class Finished:
    """The finished runs of a staged sweep, looked up by sweep point.

    Args:
        resolve_point: `point -> RunSpec`, as the command resolves a point
            of its sweep (its config and `--config.FIELD` values).
        results: The `RunResult`s finished so far.
    """

    def __init__(self, resolve_point, results=()):
        self._resolve_point = resolve_point
        self._results = {result.run_id: result for result in results}

    def get(self, point):
        """The `RunResult` of `point`'s run if it has finished, else None."""
        try:
            run_id = self._resolve_point(point).run_id
        except config_lib.ConfigError:
            return None
        return self._results.get(run_id)

    def __len__(self):
        return len(self._results)


def run_stages(specs, workdir, *, workers=0, environment, next_specs=None):
    """Trains a sweep, stage after stage, in `workdir`.

    Args:
        specs: The `RunSpec`s of the first stage.
        workdir: The sweep's directory.
        workers: As for `recipes.sweep.run_sweep`.
        environment: This process's `SweepEnvironment` (a worker of a
            staged sweep follows its chief instead, `follow_chief`).
        next_specs: `finished (RunResult list) -> RunSpec list`: every run
            the sweep needs given the finished runs; None (or False) for a
            sweep of one stage.

    Returns:
        `(finished, specs)`: the `RunResult`s of the finished runs and the
        `RunSpec`s of every run of every stage, in the stages' order.
    """
    every, results = {}, {}
    while True:
        stage = [spec for spec in specs if spec.run_id not in every]
        if every:
            print(f"Next stage: {len(stage)} new runs ({len(every)} in the stages before).",
                  flush=True)
        every.update((spec.run_id, spec) for spec in stage)
        finished = sweep_lib.run_sweep(
            stage, workdir, workers=workers, environment=environment, final=not next_specs
        )
        results.update((result.run_id, result) for result in finished)
        if not next_specs or len(finished) < len(stage):
            break
        specs = next_specs(list(results.values()))
        if all(spec.run_id in every for spec in specs):
            break
    if next_specs and not environment.is_worker:
        # No stage follows in this start: the chief's workers may end. (A
        # chief stopped by an error leaves the file as it was: its workers
        # wait for it to start again, for the chief timeout.)
        sweep_files.write_sweep_file(stage, workdir, final=True)
    return [results[run_id] for run_id in every if run_id in results], list(every.values())


def follow_chief(workdir, environment, poll_seconds=POLL_SECONDS):
    """A worker of a chief: trains each stage that `<workdir>/sweep.json` names.

    Joins the stage the file names (`recipes.sweep.run_sweep`), then waits
    for the chief to write the next one, until the file is final.

    Raises:
        ChiefLostError: when neither a new stage nor the final mark came
            for the chief timeout.
    """
    joined, waiting_since = None, None
    while True:
        try:
            specs, final = sweep_files.read_sweep_stage(workdir)
        except SweepError:  # Not written yet by the chief.
            specs, final = None, False
        if specs:
            key = tuple(spec.run_id for spec in specs)
            if key != joined:
                sweep_lib.run_sweep(specs, workdir, environment=environment)
                joined, waiting_since = key, None
                continue
            if final:
                return
        now = time.monotonic()
        waiting_since = now if waiting_since is None else waiting_since
        if now - waiting_since > environment.chief_timeout:
            raise ChiefLostError(
                f"{environment.name}: no next stage of the sweep in {workdir} from the "
                f"chief at {environment.chief_address} for {environment.chief_timeout:g} s; "
                "start the chief again, then this worker."
            )
        time.sleep(poll_seconds)
