r"""The sweep's keras-tuner hypermodel and tuner: one trial trains one run.

`make_tuner(runs, workdir, environment)` gives the resumable search of a
sweep: `RunGrid` (the hypermodel: `build` picks a run, `fit` trains it
under its lease) and `RunGridTuner` (one process's loop over trials, or
the chief's serving loop), over the grid oracle of `recipes.oracle`.
"""

import contextlib
import os
import sys
import time
import traceback

import keras_tuner
from keras_tuner.src import config as keras_tuner_config

from recipes import atomic_files
from recipes import chief as chief_lib
from recipes import lease as lease_lib
from recipes import sweep_files
from recipes import train_lib
from recipes.distributed import SweepError
from recipes.oracle import RunGridOracle

TUNER_DIRNAME = "tuner"
OBJECTIVE = "test_accuracy"
# The seconds a trial trained (-1: finished before), reported with its metrics.
SECONDS = "seconds"
# How often a worker asks again while every run is taken but not done.
IDLE_POLL_SECONDS = 1.0


def run_line(run_id, metrics):
    """`<run id>: test accuracy 0.8222 (10 s)` for a trial's metrics (`RunGrid.fit`)."""
    seconds = metrics.get(SECONDS, -1.0)
    return f"{run_id}: test accuracy {metrics[OBJECTIVE]:.4f} " + (
        f"({seconds:.0f} s)" if seconds >= 0 else "(finished before)"
    )


class RunGrid(keras_tuner.HyperModel):
    """A hypermodel whose only hyperparameter picks one run of the sweep.

    `build(hp)` returns the `sweep_files.Run` chosen by `hp.Choice("run", ids)`;
    `fit(hp, run)` holds the run's lease (`recipes.lease.hold`: it waits
    while another live worker trains that run), trains it with
    `train_lib.train_and_evaluate` (which returns a finished run's stored
    result and resumes an interrupted one from its checkpoint) and returns
    its final metrics. Training stops with `lease.LeaseLostError` if
    another worker took the run over.
    """

    def __init__(self, runs, workdir, environment, callbacks=()):
        super().__init__(name="run_grid")
        self.runs = {run.run_id: run for run in runs}
        self.workdir = os.fspath(workdir)
        self.environment = environment
        self.callbacks = tuple(callbacks)

    def build(self, hp):
        return self.runs[hp.Choice("run", list(self.runs))]

    def fit(self, hp, run, *args, **kwargs):
        name = self.environment.name
        with lease_lib.hold(
            run.run_dir, name, timeout=self.environment.heartbeat_timeout
        ) as lease:
            trained = not run.is_finished()
            start = time.time()
            try:
                result = train_lib.train_and_evaluate(
                    run.spec, run.run_dir,
                    callbacks=[*self.callbacks, lease_lib.StopIfLeaseLost(lease)],
                )
            except lease_lib.LeaseLostError as error:
                print(error, file=sys.stderr, flush=True)
                raise
            except Exception:
                # keras-tuner records the trial as failed without showing why.
                print(f"Run {run.run_id} failed:", file=sys.stderr)
                traceback.print_exc()
                raise
        seconds = time.time() - start
        sweep_files.append_log(
            self.workdir,
            {
                "run_id": run.run_id,
                "tuner_id": name,
                "trained": trained,
                "seconds": round(seconds, 3),
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        final = result.final
        metrics = {OBJECTIVE: final["test_accuracy"], SECONDS: seconds if trained else -1.0}
        if final.get("false_label_accuracy") is not None:
            metrics["false_label_accuracy"] = final["false_label_accuracy"]
        if self.environment.is_worker and self.environment.launcher_pid is None:
            # The chief shows the sweep's progress (a local launcher relays
            # its lines); a worker on its own machine shows its runs.
            print(run_line(run.run_id, metrics), flush=True)
        return metrics


class RunGridTuner(keras_tuner.Tuner):
    """Runs one point per trial; no Keras model passes through it.

    As a distributed worker, its calls to the chief go through a
    `recipes.chief.PatientStub`. As the chief, `search` serves the oracle
    until every trial ended (`recipes.chief.serve_chief`): it requeues the
    runs of dead workers, says every heartbeat timeout what it waits for,
    and stops once the live workers were told to stop. A worker holds its
    own lease (`<workdir>/workers/<tuner id>/`) while it searches, so that
    the chief can tell it is alive. A worker that asked
    while every run was taken polls every second.

    Args:
        environment: The process's `recipes.distributed.SweepEnvironment`.
        *args, **kwargs: For `keras_tuner.Tuner`.
    """

    def __init__(self, *args, environment, **kwargs):
        super().__init__(*args, **kwargs)
        self.environment = environment
        self.tuner_id = environment.name
        self._asked_in_vain = False
        self._lost_trials = set()
        if self._is_worker():
            runs = self.hypermodel.runs.values()
            self.oracle.stub = chief_lib.PatientStub(
                environment.chief_address, environment.chief_timeout, environment.name,
                sweep_is_done=lambda: all(run.is_finished() for run in runs),
            )

    def search(self, *fit_args, **fit_kwargs):
        if self.environment.is_chief:
            self.oracle.verbose = fit_kwargs.get("verbose", self.oracle.verbose)
            self.save()
            chief_lib.serve_chief(self.oracle, self.environment.chief_address)
            return
        # keras-tuner prints the traceback of every failed trial; RunGrid.fit
        # reports its own (one line for a run taken over by another worker).
        debug = keras_tuner_config.DEBUG
        keras_tuner_config.DEBUG = False
        try:
            with self._worker_lease():
                super().search(*fit_args, **fit_kwargs)
        finally:
            keras_tuner_config.DEBUG = debug

    def _worker_lease(self):
        """A distributed worker's own lease, which tells the chief it is alive."""
        if not self.environment.is_worker:
            return contextlib.nullcontext()
        return lease_lib.hold(
            sweep_files.worker_dir(self.hypermodel.workdir, self.environment.name),
            self.environment.name, timeout=self.environment.heartbeat_timeout,
        )

    def pre_create_trial(self):
        # The previous answer was IDLE (every point taken, some running).
        if self._asked_in_vain:
            time.sleep(IDLE_POLL_SECONDS)
        self._asked_in_vain = True

    def on_trial_begin(self, trial):
        self._asked_in_vain = False
        super().on_trial_begin(trial)

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        try:
            return self.hypermodel.fit(hp, self.hypermodel.build(hp), *args, **kwargs)
        except lease_lib.LeaseLostError:
            self._lost_trials.add(trial.trial_id)
            raise

    def on_trial_end(self, trial):
        if trial.trial_id in self._lost_trials:
            # The run's new worker reports it; this one only saves its state.
            self.save()
            return
        super().on_trial_end(trial)

    def save_model(self, trial_id, model, step=0):
        """Nothing to save: each run's results live in its run directory."""

    def load_model(self, trial):
        raise NotImplementedError("A sweep keeps no models; read its results instead.")


def make_tuner(runs, workdir, environment, *, callbacks=(), on_run_end=None):
    """The resumable keras-tuner search over `runs` (`sweep_files.Run`).

    Its state lives in `<workdir>/tuner/sweep-<digest of the run ids>`: the
    same sweep reloads it, another sweep gets a project of its own, and the
    run directories are shared by both. A state that cannot be reloaded
    (damaged files) is set aside as `<project>.damaged` with a one-line
    warning, and the search starts afresh (finished runs are not redone:
    their results are read back).
    """
    directory = os.path.join(os.fspath(workdir), TUNER_DIRNAME)
    project_name = f"sweep-{sweep_files.digest(runs)}"

    def tuner():
        return RunGridTuner(
            oracle=RunGridOracle(
                workdir=workdir,
                heartbeat_timeout=environment.heartbeat_timeout,
                on_run_end=on_run_end,
                objective=keras_tuner.Objective(OBJECTIVE, direction="max"),
                max_trials=len(runs),
            ),
            hypermodel=RunGrid(runs, workdir, environment, callbacks),
            directory=directory,
            project_name=project_name,
            overwrite=False,
            environment=environment,
        )

    try:
        return tuner()
    except (ValueError, KeyError, TypeError, RuntimeError) as error:
        if isinstance(error, SweepError):
            raise
        project = os.path.join(directory, project_name)
        target = atomic_files.set_aside(project)
        print(
            f"Damaged sweep state {project} ({type(error).__name__}: "
            f"{' '.join(str(error).split())[:200]}); set aside as {target}, starting afresh.",
            file=sys.stderr, flush=True,
        )
        return tuner()


