r"""Trains every run of a sweep once: `run_sweep`.

A sweep is a list of resolved runs (`recipes.config.resolve_sweep` of a
config file's `get_config()` and `get_sweep()` points, such as
`recipes/configs/table2.py`). `run_sweep` trains every run once with
`recipes.train_lib.train_and_evaluate` in `<workdir>/<run id>/`
(`recipes.sweep_files` names what the directory holds):

    python -m recipes.main --config=recipes/configs/table2.py --workdir=runs/table2

Stop it at any time and start the same command again: finished runs are
not redone, the interrupted run resumes from its last epoch, and
keras-tuner (reloaded from `<workdir>/tuner/`) hands out the remaining
runs. A run that fails is reported on stderr while the others go on; the
next start retries it. Before any training a run directory holding the
results of other settings stops the sweep
(`recipes.results.SettingsMismatchError`). A sweep whose runs are all
finished says so and trains nothing, whatever the process's role.

Progress (`recipes.progress`): the first line says how many runs the
sweep has, how many were finished before and on how many workers; each
completed run's line, printed by the process that hands out the runs (the
single process, or the chief: `[chief] ` under `--workers`), carries
`[k/N]` and the time left:

    33 runs: 5 already finished, 28 to train on 2 workers; about 4 min left. (runs/quickstart)
    [6/33] digits-mlp1024-ce-sym0.4-seed0: test accuracy 0.8222 (10 s); about 3 min left

Where the runs are trained:

- here, one after the other (`workers=0`, no `KERASTUNER_*` variables);
- in `k` local worker processes under a local chief (`workers=k`,
  `recipes.launcher`), when one run cannot fill the device;
- on several machines: every process gets the same command and the same
  `--workdir` on a shared file system; one chief (`recipes.chief`) hands
  out runs, any number of workers train them:

      # on the chief, e.g. host 10.0.0.1
      KERASTUNER_TUNER_ID=chief KERASTUNER_ORACLE_IP=10.0.0.1 \
      KERASTUNER_ORACLE_PORT=8000 \
          python -m recipes.main --config=recipes/configs/table2.py --workdir=/shared/table2

      # on every worker machine (or one per GPU: CUDA_VISIBLE_DEVICES=i),
      # each with its own id tuner0, tuner1, ...
      KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 \
      KERASTUNER_ORACLE_PORT=8000 \
          python -m recipes.main --config=recipes/configs/table2.py --workdir=/shared/table2

  or, without the config file, `python -m recipes.grid --workdir=/shared/table2`
  with the same variables (it reads `<workdir>/sweep.json`).

Dead processes: a worker holds a lease (`recipes.lease`) on itself while it
lives and on the run it trains, each touched every quarter of
`KERAS_ROBUST_HEARTBEAT_TIMEOUT` (120 s by default) by a thread. The chief
puts back in the queue the run of a worker that sent no heartbeat for that
long (on the same host: whose process is gone), and the next worker
resumes it from its checkpoint; a slow but live worker keeps its run. A
worker that was judged dead while only stalled sees that its run's lease
was taken and stops the run at its next batch, so a run is never trained
by two workers at once. A chief killed and started again on the same port
reloads its state from `<workdir>/tuner/`; a worker whose chief does not
answer retries for `KERAS_ROBUST_CHIEF_TIMEOUT` seconds (300 by default),
then exits with one line and status 1 (status 0 if every run has its
results).
"""

import os
import sys

from recipes import launcher
from recipes import progress as progress_lib
from recipes import results as results_lib
from recipes import sweep_files
from recipes import tuner as tuner_lib
from recipes.chief import ChiefLostError
from recipes.distributed import SweepError


class _ShowProgress:
    """Prints `[k/N] <run line>; <time left>` as runs complete (`recipes.progress`)."""

    def __init__(self, runs, workers):
        finished = {
            run.run_id: results_lib.read(run.run_dir).wall_seconds
            for run in runs if run.is_finished()
        }
        self.progress = progress_lib.Progress(
            {run.run_id: (run.spec.model, run.spec.dataset) for run in runs},
            finished=finished, workers=workers,
        )
        self.oracle = None

    def run_ended(self, run_id, metrics):
        if self.oracle is not None and self.oracle.tuner_ids:
            # The chief: runs are trained by its live workers.
            self.progress.workers = len(self.oracle.tuner_ids)
        seconds = metrics.get(tuner_lib.SECONDS, -1.0)
        print(self.progress.finished_line(
            run_id, tuner_lib.run_line(run_id, metrics), seconds if seconds >= 0 else None
        ), flush=True)


def _train(runs, workdir, workers, environment, callbacks, show):
    """Trains the unfinished `runs` here, as a chief or worker, or in local workers."""
    if workers:
        status = launcher.launch_local_workers(workdir, workers, environment)
        if status:
            raise SweepError(f"A local worker exited with status {status}.")
        return
    try:
        tuner = tuner_lib.make_tuner(
            runs, workdir, environment, callbacks=callbacks,
            on_run_end=None if environment.is_worker else show.run_ended,
        )
        show.oracle = tuner.oracle
        tuner.search(verbose=0)
    except ChiefLostError:
        if not all(run.is_finished() for run in runs):
            raise
        print(f"{environment.name}: the chief is gone and every run has its results.",
              flush=True)


def run_sweep(specs, workdir, *, workers=0, environment, callbacks=(), final=True):
    """Trains every run of a sweep once; returns the finished results.

    Args:
        specs: The `recipes.config.RunSpec` of every run
            (`recipes.config.resolve_sweep`).
        workdir: The sweep's directory; a run lives in `<workdir>/<run id>/`.
        workers: 0 to train here (or as the chief or worker that
            `environment` names); k > 0 for k local worker processes.
        environment: This process's `recipes.distributed.SweepEnvironment`.
        callbacks: Keras callbacks given to every run of this process.
        final: False for a stage after which this process (a chief) may
            serve another (`recipes.stages`): its workers then wait for it
            instead of ending.

    Returns:
        The `recipes.results.RunResult` of every finished run, in the
        sweep's order (a run that failed is left out and reported on
        stderr).

    Raises:
        results.SettingsMismatchError: before any training, for a run
            directory of other settings.
        SweepError: for bad `workers`, or when a local worker failed.
        SweepInterrupted: when the local workers were stopped by a signal.
    """
    launcher.check_workers(workers)
    workdir = os.fspath(workdir)
    runs = sweep_files.sweep_runs(specs, workdir)
    if workers and environment.variables_set:
        raise SweepError(
            f"--workers={workers} starts its own chief and workers, but "
            f"{', '.join(environment.variables_set)} is set: unset it, or leave out "
            "--workers to join that chief."
        )
    if not environment.is_worker:
        # Local workers end with their chief, which serves this stage only.
        sweep_files.write_sweep_file(
            [run.spec for run in runs], workdir, final=final or bool(workers)
        )
    show = _ShowProgress(runs, workers)
    if environment.is_chief:
        print(f"chief: {len(runs)} runs ({show.progress.count} already finished), handed out "
              f"at {environment.chief_address}.", flush=True)
    elif environment.is_worker:
        print(f"{environment.name}: joins the sweep of {len(runs)} runs in {workdir}.",
              flush=True)
    else:
        print(f"{show.progress.start_line()} ({workdir})", flush=True)
    if show.progress.count == len(runs):
        print(f"{environment.name}: every run of the sweep is finished; nothing to train.",
              flush=True)
    else:
        _train(runs, workdir, workers, environment, callbacks, show)
    if environment.is_worker:
        mine = [entry for entry in sweep_files.read_log(workdir)
                if entry["tuner_id"] == environment.name]
        print(f"Worker {environment.name} done: {len(mine)} runs.", flush=True)
    finished = [run for run in runs if run.is_finished()]
    if len(finished) < len(runs):
        print(
            f"{len(runs) - len(finished)} of {len(runs)} runs did not finish "
            "(errors above); start the same command again to retry them.",
            file=sys.stderr,
        )
    damaged = sweep_files.damaged_files(runs)
    if damaged:
        print(
            f"{len(damaged)} damaged files were set aside (kept for inspection; "
            f"their runs were redone or resumed): {', '.join(damaged)}",
            file=sys.stderr,
        )
    return [results_lib.read(run.run_dir) for run in finished]
