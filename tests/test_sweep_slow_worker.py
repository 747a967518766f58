"""A slow but live worker keeps its run; only a worker that stopped heartbeating loses it.

The run's lease is released when a trial ends on its worker, a moment
before the trial's end reaches the chief; a worker can also be slow (a
long epoch, a slow disk). The chief judges a worker by the worker's own
lease (`<workdir>/workers/<tuner id>/`), held from its start to its end.
"""

import collections
import os
import subprocess
import sys
import time

import pytest

from recipes import config as config_lib
from recipes import lease
from recipes import launcher
from recipes import sweep_files
from recipes import tuner as tuner_lib
from recipes.distributed import SweepEnvironment

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEARTBEAT_TIMEOUT = 0.5


def test_the_chief_requeues_only_a_worker_without_heartbeat(tmp_path, tiny_grid, capsys):
    config, sweep = tiny_grid(losses=("ce",))
    runs = sweep_files.sweep_runs(config_lib.resolve_sweep(config, sweep), tmp_path)
    environment = SweepEnvironment(heartbeat_timeout=HEARTBEAT_TIMEOUT)
    oracle = tuner_lib.make_tuner(runs, tmp_path, environment).oracle
    worker = lease.take(sweep_files.worker_dir(tmp_path, "tuner5"), "tuner5", HEARTBEAT_TIMEOUT)
    trial = oracle.create_trial("tuner5")
    run_id = trial.hyperparameters.values["run"]
    # The worker holds no lease on the run (it has not taken it yet, or it
    # released it and the trial's end is on its way) for a long while.
    time.sleep(4 * HEARTBEAT_TIMEOUT)
    assert oracle.requeue_dead_trials() == []
    assert oracle.ongoing_trials["tuner5"].trial_id == trial.trial_id
    # The worker ends without ending its trial: requeued at once.
    worker.release()
    assert oracle.requeue_dead_trials() == [run_id]
    assert f"Requeued run {run_id}: no heartbeat from tuner5" in capsys.readouterr().out
    assert "tuner5" not in oracle.ongoing_trials


# A worker slowed on purpose: every trial's end reaches the chief three
# heartbeat timeouts after the run's lease was released, and every epoch
# takes longer than the timeout.
_SLOW_WORKER = """
import time
import keras
from recipes import grid, tuner

fit = tuner.RunGrid.fit

class SlowEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        time.sleep({timeout} * 1.5)

def slow_fit(self, hp, run, *args, **kwargs):
    self.callbacks = (*self.callbacks, SlowEpoch())
    metrics = fit(self, hp, run, *args, **kwargs)
    time.sleep({timeout} * 3)
    return metrics

tuner.RunGrid.fit = slow_fit
grid.define_flags()
grid.app.run(grid.main, flags_parser=grid.cli.flags_parser("recipes.grid"))
"""


def _start(command, tuner_id, port, log_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("KERAS_ROBUST")}
    env.update(
        KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP="127.0.0.1",
        KERASTUNER_ORACLE_PORT=str(port), OMP_NUM_THREADS="1",
        KERAS_ROBUST_HEARTBEAT_TIMEOUT="1",
        PYTHONPATH=os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")])),
    )
    log = open(log_path, "w")
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT), log


def test_a_slow_worker_keeps_its_runs(tmp_path, tiny_grid):
    workdir = tmp_path / "sweep"
    config, sweep = tiny_grid(losses=("ce",), epochs=2)
    sweep_files.write_sweep_file(config_lib.resolve_sweep(config, sweep), workdir)
    port = launcher.free_port()
    chief = _start([sys.executable, "-m", "recipes.grid", f"--workdir={workdir}"], "chief",
                   port, tmp_path / "chief.log")
    worker = _start([sys.executable, "-c", _SLOW_WORKER.format(timeout=1),
                     f"--workdir={workdir}"], "tuner0", port, tmp_path / "tuner0.log")
    try:
        for process, log in (worker, chief):
            process.wait(timeout=120)
    finally:
        for process, log in (worker, chief):
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    chief_text = (tmp_path / "chief.log").read_text()
    worker_text = (tmp_path / "tuner0.log").read_text()
    assert worker[0].returncode == 0 and chief[0].returncode == 0, worker_text[-2000:]
    assert "Requeued" not in chief_text, chief_text
    assert "took this run over" not in worker_text, worker_text
    entries = sweep_files.read_log(workdir)
    assert collections.Counter(entry["run_id"] for entry in entries).most_common(1)[0][1] == 1
    assert [entry["trained"] for entry in entries] == [True, True]
    assert "Worker tuner0 done: 2 runs." in worker_text
