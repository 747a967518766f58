r"""The sweep's keras-tuner oracle: a grid over one `hp.Choice` of run ids.

Each run of a sweep is one trial of `RunGridOracle`, whose single
hyperparameter is `hp.Choice("run", [run ids])`. The same oracle serves
one process (`recipes.tuner`) or, on the chief, the workers of a
distributed sweep (`recipes.chief.serve_chief`). It works around two
keras-tuner 1.4.8 bugs: its `GridSearch` cannot continue a reloaded search
(keras-team/keras-tuner#1055) and serialises the workers of a
single-hyperparameter grid.
"""

import os

import keras_tuner

from recipes import atomic_files
from recipes import lease as lease_lib
from recipes import results as results_lib
from recipes import sweep_files

_Status = keras_tuner.engine.trial.TrialStatus


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
      running trial whose worker is dead: its worker lease
      (`<workdir>/workers/<tuner id>/`, held from the worker's start to its
      end, `recipes.lease`) has had no heartbeat for `heartbeat_timeout`
      seconds, its process is gone (same host), or it is released (the
      worker ended). A live worker never loses its trial, however long
      the run or the trial's end takes to arrive; the next worker resumes
      a requeued run from its checkpoint. A queued trial whose run a live
      worker still holds (after a chief restart) waits until that worker
      ends it or dies.
    - A worker that asks while every point is taken but some are not done
      gets IDLE (it polls), never STOPPED: STOPPED means every trial ended.
    - The end of a trial the oracle does not know (a worker of an earlier
      chief whose state was lost) is ignored: the run's results are on
      disk.

    Args:
        workdir: The sweep's directory (the leases live there).
        heartbeat_timeout: Seconds without a heartbeat after which a worker
            is dead.
        on_run_end: Called as `on_run_end(run_id, metrics)` (`{name: last
            value}`) when a trial completes here: in the process that serves
            the oracle (the chief, or the single process of a sweep), which
            shows the sweep's progress.
        **kwargs: For `GridSearchOracle`.
    """

    def __init__(self, workdir, heartbeat_timeout, on_run_end=None, **kwargs):
        kwargs.setdefault("max_consecutive_failed_trials", None)
        super().__init__(**kwargs)
        self.workdir = os.fspath(workdir)
        self.heartbeat_timeout = heartbeat_timeout
        self.on_run_end = on_run_end
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

    def _is_dead(self, tuner_id):
        # A worker holds its own lease from before its first request to its
        # end (the run's lease comes and goes with each trial).
        info = lease_lib.read(sweep_files.worker_dir(self.workdir, tuner_id))
        return info is None or not info.is_live(self.heartbeat_timeout)

    @keras_tuner.synchronized
    def requeue_dead_trials(self):
        """Queues again the running trials of dead workers; returns their run ids."""
        requeued = []
        for tuner_id, trial in list(self.ongoing_trials.items()):
            if not self._is_dead(tuner_id):
                continue
            del self.ongoing_trials[tuner_id]
            self.tuner_ids.discard(tuner_id)
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
            return super().create_trial(tuner_id)
        finally:
            self._retry_queue.extend(held)

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
        completed = trial.status == _Status.COMPLETED
        if completed and trial.trial_id in self._retry_queue:
            self._retry_queue.remove(trial.trial_id)
        super().end_trial(trial)
        # The base class saves before it drops the trial from the running ones.
        self.save()
        if completed and self.on_run_end is not None:
            tracker = self.trials[trial.trial_id].metrics
            self.on_run_end(
                trial.hyperparameters.values.get("run"),
                {name: tracker.get_last_value(name) for name in tracker.metrics},
            )

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
