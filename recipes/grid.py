r"""The work queue of any sweep: one keras-tuner grid over runs.

A sweep is a list of resolved runs (`recipes.config.resolve_sweep` of a
config file's `get_config()` and `get_sweep()` points, such as
`recipes/configs/table2.py`). `run_sweep` trains every run once with
`recipes.train_lib.train_and_evaluate` in `<workdir>/<run_id>/`, where the
run id (`recipes.config.RunSpec.run_id`) is unique for the run's settings:

    python -m recipes.main --config=recipes/configs/table2.py --workdir=runs/table2

Stop it at any time and start the same command again: finished runs are
not redone, the interrupted run resumes from its last epoch, and
keras-tuner (reloaded from `<workdir>/tuner/`) hands out the remaining
points. A run that fails is reported on stderr while the others go on; the
next start retries it. Before any training a run directory holding the
results of other settings stops the sweep
(`recipes.results.SettingsMismatchError`).

Several machines: every process gets the same command and the same
`--workdir` on a shared file system. Start one chief, which only hands out
points and blocks until the sweep is done, then any number of workers:

    # on the chief, e.g. host 10.0.0.1
    KERASTUNER_TUNER_ID=chief KERASTUNER_ORACLE_IP=10.0.0.1 \
    KERASTUNER_ORACLE_PORT=8000 \
        python -m recipes.main --config=recipes/configs/table2.py --workdir=/shared/table2

    # on every worker machine (or one per GPU: CUDA_VISIBLE_DEVICES=i),
    # each with its own id tuner0, tuner1, ...
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 \
    KERASTUNER_ORACLE_PORT=8000 \
        python -m recipes.main --config=recipes/configs/table2.py --workdir=/shared/table2

Every sweep also leaves `<workdir>/sweep.json` (every run's id and
settings), so a worker can join it without the config file:
`python -m recipes.grid --workdir=/shared/table2` with the same variables.

Dead processes (see `RunGridOracle`, `serve_chief`, `PatientStub` and
`recipes.lease`): a worker holds a lease on the run it trains
(`<run dir>/lease.json`, touched every quarter of
`KERAS_ROBUST_HEARTBEAT_TIMEOUT`, 120 s by default, by a thread); the chief
puts back in the queue the run of a worker whose lease had no heartbeat
for that long (on the same host: whose process is gone), and the next
worker resumes it from its checkpoint. A worker that was only slow sees
that its lease was taken and stops the run at its next batch, so a run is
never trained by two workers at once. A worker that asks while every
point is taken but not done waits (IDLE) instead of exiting. A chief
killed and started again on the same port reloads its state from
`<workdir>/tuner/`; a worker whose chief does not answer retries with
backoff for `KERAS_ROBUST_CHIEF_TIMEOUT` seconds (300 by default), then
exits with one line and status 1 (status 0 if every run has its results).
The chief prints what it waits for every heartbeat timeout and stops once
every trial ended and the live workers were told to stop. The children
of `--workers=k` die with their launcher, even on SIGKILL.

One accelerator, several runs: when one run cannot fill the device (the
MLP at batch 32 leaves a GPU mostly idle), `workers=k` (`--workers=k` of
`recipes.main`) trains k runs at a time on this machine: this process
writes `sweep.json`, starts a chief on a free port of 127.0.0.1 and k
workers, each `python -m recipes.grid --workdir=<workdir>`, relays their
output line by line after `[chief] `, `[tuner0] `, ..., and waits for all
of them, stopping the others if one fails or on Ctrl-C or SIGTERM. Every
child gets `XLA_PYTHON_CLIENT_PREALLOCATE=false` (jax would take 75 % of
the GPU's memory per process) and `TF_FORCE_GPU_ALLOW_GROWTH=true`
(TensorFlow would take all of it) unless the environment sets them;
`benchmarks/bench_shared_device.py` measures which k pays.

Each run is one trial of a grid oracle whose single hyperparameter is
`hp.Choice("run", [run ids])`, reporting the run's final test accuracy.
Two keras-tuner 1.4.8 bugs are worked around (see `RunGridOracle`): its
`GridSearch` cannot continue a reloaded search (keras-team/keras-tuner#1055)
and serialises the workers of a single-hyperparameter grid. Every trial
appends one line to `<workdir>/sweep_log.jsonl` (run id, tuner id, whether
it trained, seconds).
"""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

import keras_tuner
from absl import app
from absl import flags
from keras_tuner.src import config as keras_tuner_config
from keras_tuner.src.distribute import utils as distribute_utils

from recipes import atomic_files
from recipes import cli
from recipes import config as config_lib
from recipes import lease as lease_lib
from recipes import results as results_lib
from recipes import train_lib

LOG_FILENAME = "sweep_log.jsonl"
SWEEP_FILENAME = "sweep.json"
TUNER_DIRNAME = "tuner"
OBJECTIVE = "test_accuracy"
CHIEF_TIMEOUT_ENV = "KERAS_ROBUST_CHIEF_TIMEOUT"
DEFAULT_CHIEF_TIMEOUT_SECONDS = 300.0
# Set by the `--workers` launcher in its children's environment.
LAUNCHER_PID_ENV = "KERAS_ROBUST_LAUNCHER_PID"
# How often a worker asks again while every point is taken but not done.
IDLE_POLL_SECONDS = 1.0
# The variables that make a process a chief or worker of a distributed sweep.
DISTRIBUTED_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
# Settings that let several processes share one accelerator (an explicit
# value in the environment wins): jax preallocates 75 % of a GPU's memory
# per process, TensorFlow all of it.
SHARING_ENV = {
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",
}
_Status = keras_tuner.engine.trial.TrialStatus


class SweepError(RuntimeError):
    """A sweep that cannot start, or a local worker that failed."""


def tuner_id():
    """This process's keras-tuner id (`KERASTUNER_TUNER_ID`, default `"tuner0"`)."""
    return os.environ.get("KERASTUNER_TUNER_ID", "tuner0")


def is_distributed_worker():
    """Whether this process is a worker (not the chief) of a distributed sweep."""
    return bool(os.environ.get("KERASTUNER_ORACLE_IP")) and tuner_id() != "chief"


# ---------------------------------------------------------------------------
# Sweeps and their points.


class Point:
    """One run of a sweep: its `recipes.config.RunSpec`, run id and directory."""

    def __init__(self, spec, workdir):
        self.spec = spec
        self.run_id = spec.run_id
        self.run_dir = os.path.join(os.fspath(workdir), self.run_id)

    def is_finished(self):
        """Whether the run is done (a damaged results file: not done; the
        trainer sets it aside and trains the run again)."""
        try:
            return results_lib.is_finished(self.run_dir, self.spec)
        except results_lib.DamagedResultsError:
            return False


def sweep_points(specs, workdir):
    """The runs of a sweep, in its order, without repeats.

    Checks every run directory, so that a results file of other settings
    stops the sweep before any training.

    Raises:
        results.SettingsMismatchError: for a run directory of other
            settings.
        SweepError: for an empty sweep.
    """
    if not specs:
        raise SweepError("The sweep has no points.")
    points = {}
    for spec in specs:
        point = Point(spec, workdir)
        points.setdefault(point.run_id, point)
    for point in points.values():
        point.is_finished()
    return list(points.values())


def _digest(points):
    text = "\n".join(point.run_id for point in points)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def write_sweep_file(specs, workdir):
    """Writes `<workdir>/sweep.json`: every run's id and settings, in order."""
    runs = [{"run_id": spec.run_id, "settings": spec.settings} for spec in specs]
    atomic_files.write_text(
        os.path.join(os.fspath(workdir), SWEEP_FILENAME),
        json.dumps({"runs": runs}, indent=1) + "\n",
    )


def read_sweep_file(workdir):
    """The `RunSpec`s of `<workdir>/sweep.json`, rebuilt from their settings."""
    path = os.path.join(os.fspath(workdir), SWEEP_FILENAME)
    try:
        with open(path, encoding="utf-8") as file:
            stored = json.load(file)
        return [config_lib.RunSpec.from_settings(run["settings"]) for run in stored["runs"]]
    except FileNotFoundError:
        raise SweepError(
            f"{path} does not exist: no sweep was started in that directory."
        ) from None
    except OSError as error:
        raise SweepError(f"{path} cannot be read ({error.strerror}).") from None
    except (ValueError, KeyError, TypeError) as error:
        raise SweepError(f"{path} is damaged ({error}).") from None


# ---------------------------------------------------------------------------
# keras-tuner.


class RunGrid(keras_tuner.HyperModel):
    """A hypermodel whose only hyperparameter picks one run of the sweep.

    `build(hp)` returns the `Point` chosen by `hp.Choice("run", ids)`;
    `fit(hp, point)` holds the run's lease (`recipes.lease.hold`: it waits
    while another live worker trains that run), trains it with
    `train_lib.train_and_evaluate` (which returns a finished run's stored
    result and resumes an interrupted one from its checkpoint) and returns
    its final metrics. Training stops with `lease.LeaseLostError` if
    another worker took the run over.
    """

    def __init__(self, points, workdir, callbacks=()):
        super().__init__(name="run_grid")
        self.points = {point.run_id: point for point in points}
        self.workdir = os.fspath(workdir)
        self.callbacks = tuple(callbacks)

    def build(self, hp):
        return self.points[hp.Choice("run", list(self.points))]

    def fit(self, hp, point, *args, **kwargs):
        with lease_lib.hold(point.run_dir, tuner_id()) as lease:
            trained = not point.is_finished()
            start = time.time()
            try:
                result = train_lib.train_and_evaluate(
                    point.spec, point.run_dir,
                    callbacks=[*self.callbacks, lease_lib.StopIfLeaseLost(lease)],
                )
            except lease_lib.LeaseLostError as error:
                print(error, file=sys.stderr, flush=True)
                raise
            except Exception:
                # keras-tuner records the trial as failed without showing why.
                print(f"Run {point.run_id} failed:", file=sys.stderr)
                traceback.print_exc()
                raise
        seconds = time.time() - start
        atomic_files.append_json_line(
            os.path.join(self.workdir, LOG_FILENAME),
            {
                "run_id": point.run_id,
                "tuner_id": tuner_id(),
                "trained": trained,
                "seconds": round(seconds, 3),
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        final = result.final
        print(
            f"{point.run_id}: test accuracy {final['test_accuracy']:.4f} "
            + (f"({seconds:.0f} s)" if trained else "(finished before)"),
            flush=True,
        )
        metrics = {OBJECTIVE: final["test_accuracy"]}
        if final.get("false_label_accuracy") is not None:
            metrics["false_label_accuracy"] = final["false_label_accuracy"]
        return metrics


class RunGridOracle(keras_tuner.oracles.GridSearchOracle):
    """keras-tuner's grid oracle over one `hp.Choice` of run ids.

    Hands out the points in order, to one process or to a chief's workers,
    and keeps a sweep going when a worker dies. Changes to keras-tuner
    1.4.8's `GridSearchOracle`, which derives each new point from the
    successor of a *finished* trial:

    - `populate_space` returns the first value no trial has taken yet,
      and STOPPED once every value is taken. The base class answers IDLE
      while any trial runs, so with one hyperparameter its workers run one
      trial at a time and busy-wait in between.
    - Reloading (`overwrite=False`) works: the base class keeps its walk
      through the grid only in memory and fails with a KeyError after the
      first trial of a reloaded search (keras-team/keras-tuner#1055); here
      everything follows from the stored trials. Trials that failed in an
      earlier start are queued for one more try (an interrupted trial is
      requeued by the base class), and so are finished trials whose
      results file went missing or was damaged. The oracle's files are written
      atomically, so a chief killed while saving reloads.
    - Dead workers: `requeue_dead_trials` puts back in the queue every
      running trial whose run's lease (`recipes.lease`) has had no
      heartbeat for `heartbeat_timeout` seconds (or that its worker has not
      leased that long after taking it); the next worker resumes it from
      its checkpoint. A queued trial whose run a live worker still holds
      (after a chief restart) waits until that worker ends it or dies.
    - A worker that asks while every point is taken but some are not done
      gets IDLE (it polls), never STOPPED: STOPPED means every trial ended.
    - The end of a trial the oracle does not know (a worker of an earlier
      chief whose state was lost) is ignored: the run's results are on
      disk.

    Args:
        workdir: The sweep's directory (the runs' leases live there).
        heartbeat_timeout: Seconds; default `recipes.lease.heartbeat_timeout()`.
        **kwargs: For `GridSearchOracle`.
    """

    def __init__(self, workdir, heartbeat_timeout=None, **kwargs):
        kwargs.setdefault("max_consecutive_failed_trials", None)
        super().__init__(**kwargs)
        self.workdir = os.fspath(workdir)
        self.heartbeat_timeout = (
            lease_lib.heartbeat_timeout() if heartbeat_timeout is None else heartbeat_timeout
        )
        self._handed_out = {}  # trial id -> time.monotonic() when handed out
        self.requeued = 0

    def populate_space(self, trial_id):
        space = self.get_space().space
        if len(space) != 1:
            raise ValueError(
                "RunGridOracle expects exactly one hyperparameter, "
                f"got {[hp.name for hp in space]}."
            )
        value = self._untaken_value()
        if value is None:
            return {"status": _Status.STOPPED, "values": None}
        return {"status": _Status.RUNNING, "values": {space[0].name: value}}

    def _untaken_value(self):
        space = self.get_space().space
        if not space:
            return None
        hp = space[0]
        taken = {trial.hyperparameters.values.get(hp.name) for trial in self.trials.values()}
        return next((value for value in hp.values if value not in taken), None)

    def _run_dir(self, trial):
        return os.path.join(self.workdir, str(trial.hyperparameters.values.get("run")))

    def _has_results(self, trial):
        try:
            results_lib.read(self._run_dir(trial))
        except (FileNotFoundError, results_lib.DamagedResultsError):
            return False
        return True

    def _held_by_live_worker(self, trial_id):
        info = lease_lib.read(self._run_dir(self.trials[trial_id]))
        return info is not None and info.is_live(self.heartbeat_timeout)

    def _is_dead(self, tuner_id, trial):
        info = lease_lib.read(self._run_dir(trial))
        if info is not None and info.owner == tuner_id:
            return not info.is_live(self.heartbeat_timeout)
        # Not leased by its worker (yet): dead once it had the time to.
        handed_out = self._handed_out.setdefault(trial.trial_id, time.monotonic())
        return time.monotonic() - handed_out > self.heartbeat_timeout

    @keras_tuner.synchronized
    def requeue_dead_trials(self):
        """Queues again the running trials of dead workers; returns their run ids."""
        requeued = []
        for tuner_id, trial in list(self.ongoing_trials.items()):
            if not self._is_dead(tuner_id, trial):
                continue
            del self.ongoing_trials[tuner_id]
            self.tuner_ids.discard(tuner_id)
            self._handed_out.pop(trial.trial_id, None)
            if trial.trial_id not in self._retry_queue:
                self._retry_queue.append(trial.trial_id)
            run = trial.hyperparameters.values.get("run")
            print(
                f"Requeued run {run}: no heartbeat from {tuner_id} for "
                f"{self.heartbeat_timeout:g} s.",
                flush=True,
            )
            requeued.append(run)
        if requeued:
            self.requeued += len(requeued)
            self.save()
        return requeued

    @keras_tuner.synchronized
    def is_done(self):
        """Whether every trial ended: all values taken, none running or queued."""
        return (
            self._untaken_value() is None
            and not self.ongoing_trials
            and not self._retry_queue
        )

    @keras_tuner.synchronized
    def create_trial(self, tuner_id):
        if tuner_id in self.ongoing_trials:
            # A restarted worker of the same id: its trial again.
            return super().create_trial(tuner_id)
        self.requeue_dead_trials()
        held = [trial_id for trial_id in self._retry_queue if self._held_by_live_worker(trial_id)]
        self._retry_queue = [trial_id for trial_id in self._retry_queue if trial_id not in held]
        try:
            if not self._retry_queue and self._untaken_value() is None and (
                self.ongoing_trials or held
            ):
                self.tuner_ids.add(tuner_id)
                return keras_tuner.engine.trial.Trial(self.get_space(), status=_Status.IDLE)
            trial = super().create_trial(tuner_id)
        finally:
            self._retry_queue.extend(held)
        if trial.status == _Status.RUNNING:
            self._handed_out[trial.trial_id] = time.monotonic()
        return trial

    @keras_tuner.synchronized
    def status_line(self):
        """One line saying what the sweep waits for."""
        running = ", ".join(
            f"{trial.hyperparameters.values.get('run')} ({tuner})"
            for tuner, trial in sorted(self.ongoing_trials.items())
        )
        taken = {trial.hyperparameters.values.get("run") for trial in self.trials.values()}
        space = self.get_space().space
        untaken = sum(1 for value in space[0].values if value not in taken) if space else 0
        return (
            f"Chief waiting: {len(self.ongoing_trials)} running"
            + (f" [{running}]" if running else "")
            + f", {len(self._retry_queue)} queued again, {untaken} not started"
            + ("" if running else "; start a worker if none is left")
            + "."
        )

    def _is_known(self, trial):
        known = self.trials.get(trial.trial_id)
        return known is not None and (
            known.hyperparameters.values.get("run") == trial.hyperparameters.values.get("run")
        )

    @keras_tuner.synchronized
    def update_trial(self, trial_id, metrics, step=0):
        if trial_id not in self.trials:
            return keras_tuner.engine.trial.Trial(self.get_space(), trial_id=trial_id, status=_Status.RUNNING)
        return super().update_trial(trial_id, metrics, step=step)

    @keras_tuner.synchronized
    def end_trial(self, trial):
        if not self._is_known(trial):
            print(
                f"Ignored the end of trial {trial.trial_id} "
                f"(run {trial.hyperparameters.values.get('run')}), unknown here.",
                flush=True,
            )
            return
        if trial.status == _Status.COMPLETED and trial.trial_id in self._retry_queue:
            self._retry_queue.remove(trial.trial_id)
        self._handed_out.pop(trial.trial_id, None)
        super().end_trial(trial)
        # The base class saves before it drops the trial from the running ones.
        self.save()

    def set_state(self, state):
        super().set_state(state)
        failed = (_Status.INVALID, _Status.FAILED)
        for trial_id in sorted(self.trials):
            trial = self.trials[trial_id]
            if trial.status in failed and trial_id not in self._retry_queue:
                self._retry_queue.append(trial_id)

    def reload(self):
        super().reload()  # queues again the trials that were running
        for trial_id in sorted(self.trials):
            trial = self.trials[trial_id]
            if (trial.status == _Status.COMPLETED and trial_id not in self._retry_queue
                    and not self._has_results(trial)):
                # Its results file went missing or was damaged since.
                self._retry_queue.append(trial_id)
        if self._retry_queue:
            runs = [self.trials[trial_id].hyperparameters.values.get("run")
                    for trial_id in self._retry_queue]
            print(f"Queued again (unfinished in an earlier start): {', '.join(runs)}.",
                  flush=True)

    def save(self):
        atomic_files.write_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        path = os.path.join(self._get_trial_dir(trial.trial_id), "trial.json")
        atomic_files.write_json(path, trial.get_state())


class ChiefLostError(SweepError, keras_tuner.errors.FatalError):
    """A worker got no answer from its chief for `chief_timeout()` seconds."""


def chief_timeout():
    """Seconds a worker retries a chief that does not answer before it gives up.

    `KERAS_ROBUST_CHIEF_TIMEOUT` (a number > 0), default 300.
    """
    text = os.environ.get(CHIEF_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_CHIEF_TIMEOUT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise SweepError(
            f"{CHIEF_TIMEOUT_ENV}={text!r} is not allowed: a number of seconds > 0."
        )
    return value


def check_environment():
    """Raises SweepError for a `KERAS_ROBUST_*` timeout that is not allowed."""
    try:
        lease_lib.heartbeat_timeout()
    except ValueError as error:
        raise SweepError(str(error)) from None
    chief_timeout()


class PatientStub:
    """A keras-tuner gRPC stub to the chief at `address` whose calls retry.

    keras-tuner's `OracleClient` waits up to an hour per call. Here each
    attempt waits at most `attempt_seconds`; an unreachable chief is tried
    again with exponential backoff (1 s, 2 s, ... up to 30 s) for
    `patience` seconds in all, then `ChiefLostError` is raised; at once if
    `sweep_is_done()` says every run has its results (the chief ended). A
    chief restarted on the same address is found again. Every call of the
    sweep can be repeated safely (a repeated CreateTrial returns the same
    trial).
    """

    def __init__(self, address, patience, attempt_seconds=10.0, out=sys.stderr,
                 sweep_is_done=lambda: False):
        import grpc
        from keras_tuner.src import protos

        # gRPC's own reconnection backoff grows to 2 minutes: capped at 5 s,
        # so that a restarted chief is found within seconds.
        channel = grpc.insecure_channel(
            address,
            options=[
                ("grpc.initial_reconnect_backoff_ms", 500),
                ("grpc.max_reconnect_backoff_ms", 5000),
            ],
        )
        self._stub = protos.get_service_grpc().OracleStub(channel)
        self._address = address
        self._patience = patience
        self._attempt_seconds = attempt_seconds
        self._out = out
        self._sweep_is_done = sweep_is_done

    def __getattr__(self, name):
        import grpc

        method = getattr(self._stub, name)
        retried = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

        def call(request, **kwargs):
            deadline = time.monotonic() + self._patience
            delay = 1.0
            told = False
            while True:
                left = deadline - time.monotonic()
                try:
                    return method(
                        request, wait_for_ready=True,
                        timeout=max(0.1, min(self._attempt_seconds, left)),
                    )
                except grpc.RpcError as error:
                    if error.code() not in retried:
                        raise
                left = deadline - time.monotonic()
                if left <= 0 or self._sweep_is_done():
                    raise ChiefLostError(
                        f"{tuner_id()}: lost the chief at {self._address}: no answer "
                        f"for {self._patience:g} s ({CHIEF_TIMEOUT_ENV}); start the "
                        "chief again, then this worker."
                    )
                if not told:
                    print(
                        f"{tuner_id()}: no answer from the chief at {self._address}; "
                        f"retrying for up to {self._patience:g} s.",
                        file=self._out, flush=True,
                    )
                    told = True
                time.sleep(min(delay, left))
                delay = min(2 * delay, 30.0)

        return call


class RunGridTuner(keras_tuner.Tuner):
    """Runs one point per trial; no Keras model passes through it.

    As a distributed worker, its calls to the chief go through a
    `PatientStub`. As the chief, `search` serves the oracle until every
    trial ended (`serve_chief`): it requeues the points of dead workers,
    says every `heartbeat_timeout` what it waits for, and stops once the
    live workers were told to stop. A worker that asked while every point
    was taken polls every second.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._asked_in_vain = False
        self._lost_trials = set()
        if self._is_worker():
            address = (
                f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
            )
            points = self.hypermodel.points.values()
            self.oracle.stub = PatientStub(
                address, chief_timeout(),
                sweep_is_done=lambda: all(point.is_finished() for point in points),
            )

    def search(self, *fit_args, **fit_kwargs):
        if distribute_utils.is_chief_oracle():
            self.oracle.verbose = fit_kwargs.get("verbose", self.oracle.verbose)
            self.save()
            serve_chief(self.oracle)
            return
        # keras-tuner prints the traceback of every failed trial; RunGrid.fit
        # reports its own (one line for a run taken over by another worker).
        debug = keras_tuner_config.DEBUG
        keras_tuner_config.DEBUG = False
        try:
            super().search(*fit_args, **fit_kwargs)
        finally:
            keras_tuner_config.DEBUG = debug

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


def serve_chief(oracle, poll_seconds=1.0):
    """Serves `oracle` to the workers (keras-tuner's gRPC servicer) until the sweep ends.

    Unlike keras-tuner's `start_server`, which waits for every worker that
    ever connected, this requeues the trials of dead workers
    (`RunGridOracle.requeue_dead_trials`), prints what it waits for every
    `oracle.heartbeat_timeout` seconds, and returns once every trial ended
    and the live workers were told to stop (or `heartbeat_timeout` after
    the end, for workers that do not ask again).

    Raises:
        SweepError: if the chief's address cannot be bound.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    protos.get_service_grpc().add_OracleServicer_to_server(
        oracle_chief.OracleServicer(oracle), server
    )
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise SweepError(
            f"The chief cannot listen on {address}: in use (is another chief running?)."
        )
    server.start()
    period = oracle.heartbeat_timeout
    done_since = None
    last_said = time.monotonic()
    try:
        while True:
            time.sleep(poll_seconds)
            oracle.requeue_dead_trials()
            now = time.monotonic()
            if oracle.is_done():
                done_since = now if done_since is None else done_since
                if not oracle.tuner_ids or now - done_since > period:
                    return
                continue
            done_since = None
            if now - last_said >= period:
                last_said = now
                print(oracle.status_line(), flush=True)
    finally:
        server.stop(grace=1.0)


def make_tuner(points, workdir, callbacks=()):
    """The resumable keras-tuner search over `points`.

    Its state lives in `<workdir>/tuner/sweep-<digest of the run ids>`: the
    same sweep reloads it, another sweep gets a project of its own, and the
    run directories are shared by both. A state that cannot be reloaded
    (damaged files) is set aside as `<project>.damaged` with a one-line
    warning, and the search starts afresh (finished runs are not redone:
    their results are read back).
    """
    directory = os.path.join(os.fspath(workdir), TUNER_DIRNAME)
    project_name = f"sweep-{_digest(points)}"

    def tuner():
        return RunGridTuner(
            oracle=RunGridOracle(
                workdir=workdir,
                objective=keras_tuner.Objective(OBJECTIVE, direction="max"),
                max_trials=len(points),
            ),
            hypermodel=RunGrid(points, workdir, callbacks),
            directory=directory,
            project_name=project_name,
            overwrite=False,
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


def read_log(workdir):
    """The entries of `<workdir>/sweep_log.jsonl` (empty if none)."""
    return atomic_files.read_json_lines(os.path.join(os.fspath(workdir), LOG_FILENAME))


def run_sweep(specs, workdir, *, workers=0, environment=None, callbacks=()):
    """Trains every run of a sweep once; returns the finished results.

    Runs the points in this process, as the chief or a worker of a
    distributed sweep when the `KERASTUNER_*` variables say so, or, with
    `workers=k > 0`, in a local chief and k workers (see the module
    docstring).

    Args:
        specs: The `recipes.config.RunSpec` of every run
            (`recipes.config.resolve_sweep`).
        workdir: The sweep's directory; run `i` lives in
            `<workdir>/<run id>/`.
        workers: 0 to train here; k > 0 for k local worker processes.
        environment: The sweep's environment variables, read once by the
            caller (None: this process's).
        callbacks: Keras callbacks given to every run of this process.

    Returns:
        The `recipes.results.RunResult` of every finished point, in the
        sweep's order (a run that failed is left out and reported on
        stderr).

    Raises:
        results.SettingsMismatchError: before any training, for a run
            directory of other settings.
        SweepError: for bad `workers`, or when a local worker failed.
    """
    del environment  # Read from os.environ below.
    check_workers(workers)
    check_environment()
    workdir = os.fspath(workdir)
    points = sweep_points(specs, workdir)
    if workers:
        distributed = [name for name in DISTRIBUTED_ENV if name in os.environ]
        if distributed:
            raise SweepError(
                f"--workers={workers} starts its own chief and workers, but "
                f"{', '.join(distributed)} is set: unset it, or leave out "
                "--workers to join that chief."
            )
        write_sweep_file([point.spec for point in points], workdir)
        print(f"{len(points)} runs in {workdir}, {workers} at a time", flush=True)
        status = launch_local_workers(workdir, workers)
        if status:
            raise SweepError(f"A local worker exited with status {status}.")
    else:
        if not is_distributed_worker():
            write_sweep_file([point.spec for point in points], workdir)
        print(f"{len(points)} runs in {workdir} ({tuner_id()})", flush=True)
        try:
            if is_distributed_worker() and all(point.is_finished() for point in points):
                print(f"{tuner_id()}: every run has its results; nothing to do.", flush=True)
            else:
                make_tuner(points, workdir, callbacks).search(verbose=0)
        except ChiefLostError:
            if not all(point.is_finished() for point in points):
                raise
            print(f"{tuner_id()}: the chief is gone and every run has its results.", flush=True)
        if is_distributed_worker():
            mine = [entry for entry in read_log(workdir) if entry["tuner_id"] == tuner_id()]
            print(f"Worker {tuner_id()} done: {len(mine)} runs.", flush=True)
    finished = [point for point in points if point.is_finished()]
    if len(finished) < len(points):
        print(
            f"{len(points) - len(finished)} of {len(points)} runs did not finish "
            "(errors above); start the same command again to retry them.",
            file=sys.stderr,
        )
    damaged = damaged_files(points)
    if damaged:
        print(
            f"{len(damaged)} damaged files were set aside (kept for inspection; "
            f"their runs were redone or resumed): {', '.join(damaged)}",
            file=sys.stderr,
        )
    return [results_lib.read(point.run_dir) for point in finished]


def damaged_files(points):
    """The damaged results files and checkpoints set aside in the points' run directories."""
    found = []
    for point in points:
        if os.path.isdir(point.run_dir):
            found += sorted(
                os.path.join(point.run_dir, name) for name in os.listdir(point.run_dir)
                if ".damaged" in name
            )
    return found


# ---------------------------------------------------------------------------
# Several runs on one machine.


def check_workers(workers):
    """Raises SweepError unless `workers` (of `--workers`) is an integer >= 0."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise SweepError(f"--workers={workers!r} is not allowed: an integer >= 0.")


def worker_environments(workers, port, base_env=None):
    """The environments of a local chief and `workers` workers.

    Args:
        workers: Number of workers (>= 1).
        port: The chief's port on 127.0.0.1.
        base_env: The environment to start from (default: `os.environ`).
            Its `SHARING_ENV` values win over ours; its `KERASTUNER_*`
            values are replaced.

    Returns:
        A list of `workers + 1` new dicts: the chief's environment
        (`KERASTUNER_TUNER_ID=chief`, no GPU visible: it trains nothing),
        then those of tuner0, tuner1, ...
    """
    check_workers(workers)
    if workers < 1:
        raise SweepError(f"--workers={workers!r} is not allowed here: an integer >= 1.")
    base_env = dict(os.environ if base_env is None else base_env)
    environments = []
    for name in ["chief"] + [f"tuner{index}" for index in range(workers)]:
        env = dict(base_env)
        for variable, value in SHARING_ENV.items():
            env.setdefault(variable, value)
        env.update(
            KERASTUNER_TUNER_ID=name,
            KERASTUNER_ORACLE_IP="127.0.0.1",
            KERASTUNER_ORACLE_PORT=str(port),
        )
        if name == "chief":
            # The chief only hands out runs: no CUDA context on the GPU.
            env["CUDA_VISIBLE_DEVICES"] = ""
        environments.append(env)
    return environments


def die_with_parent():
    """Makes this process receive SIGTERM when its parent dies (Linux; a no-op elsewhere).

    Given to `subprocess.Popen(preexec_fn=...)` by `launch_local_workers`,
    so that its children die with it even when it is SIGKILLed.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def watch_launcher(poll_seconds=1.0):
    """Ends this process once the `--workers` launcher that started it is gone.

    The fallback to `die_with_parent` where prctl is missing: a daemon
    thread compares `os.getppid()` with `KERAS_ROBUST_LAUNCHER_PID`.
    """
    launcher = os.environ.get(LAUNCHER_PID_ENV)
    if not launcher:
        return

    def watch():
        while os.getppid() == int(launcher):
            time.sleep(poll_seconds)
        print(f"{tuner_id()}: the --workers launcher (pid {launcher}) is gone; stopping.",
              file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()


def free_port():
    """A TCP port of 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _relay(stream, prefix, out):
    """Copies the lines of a child's output to `out`, each after `prefix`."""
    for line in iter(stream.readline, ""):
        out.write(prefix + line)
        out.flush()
    stream.close()


def _stop(processes, grace_seconds=10.0):
    """Terminates the running `processes`, then kills those that linger."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch_local_workers(workdir, workers, *, port=None, out=None, poll_seconds=0.5):
    """Runs the sweep of `<workdir>/sweep.json` in a local chief and workers.

    Starts `python -m recipes.grid --workdir=<workdir>` once as the chief
    and once per worker, with the environments of `worker_environments`,
    relays their output to `out` line by line (each line after `[chief] `,
    `[tuner0] `, ...) and waits for all of them. If one exits with an
    error, or on KeyboardInterrupt or SIGTERM, it terminates the others.

    Args:
        workdir: The sweep's directory, holding `sweep.json`.
        workers: Number of workers (>= 1).
        port: The chief's port (default: a free one).
        out: Where the children's output goes (default: `sys.stdout`).
        poll_seconds: How often to check the children.

    Returns:
        0 if every child succeeded, else the exit status of the first one
        that failed (negative: killed by that signal).
    """
    environments = worker_environments(workers, free_port() if port is None else port)
    out = sys.stdout if out is None else out
    command = [sys.executable, "-m", "recipes.grid", f"--workdir={os.path.abspath(workdir)}"]
    processes, relays = {}, []
    handles_sigterm = threading.current_thread() is threading.main_thread()
    if handles_sigterm:

        def on_sigterm(signum, frame):
            raise KeyboardInterrupt(f"signal {signum}")

        previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        for env in environments:
            name = env["KERASTUNER_TUNER_ID"]
            # Unbuffered children: their lines arrive as they print them.
            env.setdefault("PYTHONUNBUFFERED", "1")
            env[LAUNCHER_PID_ENV] = str(os.getpid())
            process = subprocess.Popen(
                command,
                env=env,
                preexec_fn=die_with_parent,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
            processes[name] = process
            relay = threading.Thread(
                target=_relay, args=(process.stdout, f"[{name}] ", out), daemon=True
            )
            relay.start()
            relays.append(relay)
        status = 0
        while True:
            codes = {name: process.poll() for name, process in processes.items()}
            failed = [name for name, code in codes.items() if code]
            if failed:
                status = codes[failed[0]]
                print(
                    f"{failed[0]} exited with status {status}; stopping the others.",
                    file=sys.stderr,
                )
                break
            if all(code == 0 for code in codes.values()):
                break
            time.sleep(poll_seconds)
    finally:
        _stop(processes.values())
        for relay in relays:
            relay.join(timeout=10.0)
        if handles_sigterm:
            # None: a handler not set from Python, which cannot be restored.
            signal.signal(
                signal.SIGTERM,
                signal.SIG_DFL if previous_sigterm is None else previous_sigterm,
            )
    return status


# ---------------------------------------------------------------------------
# Joining a sweep: python -m recipes.grid --workdir=DIR


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
    if not flag_values.workdir:
        cli.usage_error("recipes.grid", "--workdir is required: the directory of a started sweep.")
    watch_launcher()
    try:
        specs = read_sweep_file(flag_values.workdir)
        check_environment()
        # Every run directory, before any training.
        sweep_points(specs, flag_values.workdir)
    except SweepError as error:
        cli.usage_error("recipes.grid", f"--workdir={flag_values.workdir}: {error}")
    except results_lib.SettingsMismatchError as error:
        cli.usage_error("recipes.grid", error)
    try:
        run_sweep(specs, flag_values.workdir)
    except SweepError as error:
        print(f"recipes.grid: {' '.join(str(error).split())}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    define_flags()
    app.run(main, flags_parser=cli.flags_parser("recipes.grid"))
