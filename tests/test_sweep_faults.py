"""Fault injection: a distributed sweep survives a dead worker and a dead chief.

A chief and two workers on 127.0.0.1 train a 2 x 2 digits grid; one worker
is SIGKILLed at a random moment of its first run and never restarted, then
the chief is SIGKILLed and started again on the same port. The grid must
complete with exactly one results file per point, equal (but for the wall
time) to those of an uninterrupted single-process sweep.
"""

import collections
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from recipes import config as config_lib
from recipes import distributed
from recipes import launcher
from recipes import sweep_files
from recipes import lease
from recipes import results

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras_tuner")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 240
HEARTBEAT_TIMEOUT = "3"


class _Process:
    """A `python -m recipes.grid` child whose output goes to a log file."""

    def __init__(self, workdir, log_path, tuner_id=None, port=None):
        env = dict(os.environ)
        for name in distributed.DISTRIBUTED_ENV:
            env.pop(name, None)
        if tuner_id is not None:
            env.update(
                KERASTUNER_TUNER_ID=tuner_id,
                KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=str(port),
            )
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")])),
            OMP_NUM_THREADS="1",
            KERAS_ROBUST_HEARTBEAT_TIMEOUT=HEARTBEAT_TIMEOUT,
            KERAS_ROBUST_CHIEF_TIMEOUT="90",
        )
        self.log_path = log_path
        self.log = open(log_path, "a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "recipes.grid", f"--workdir={workdir}"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def wait(self, timeout):
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.log.close()

    def text(self):
        with open(self.log_path) as file:
            return file.read()


def _wait_for(condition, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _holds_a_run(workdir, run_ids, tuner_id):
    def check():
        for run_id in run_ids:
            info = lease.read(workdir / run_id) if (workdir / run_id).is_dir() else None
            if info is not None and info.owner == tuner_id:
                return True
        return False
    return check


def _results_files(workdir):
    return sorted(
        os.path.relpath(os.path.join(directory, name), workdir)
        for directory, _, names in os.walk(workdir)
        for name in names if name == results.RESULTS_FILENAME
    )


def _comparable(run_dir):
    stored = results.read(run_dir).to_dict()
    del stored["wall_seconds"]
    return stored


def test_sweep_survives_a_killed_worker_and_a_killed_chief(tmp_path, tiny_grid):
    config, sweep = tiny_grid(epochs=3, train_size=256)
    run_ids = [spec.run_id for spec in config_lib.resolve_sweep(config, sweep)]
    baseline, workdir = tmp_path / "baseline", tmp_path / "faulty"
    sweep_files.write_sweep_file(config_lib.resolve_sweep(config, sweep), baseline)
    sweep_files.write_sweep_file(config_lib.resolve_sweep(config, sweep), workdir)
    port = launcher.free_port()
    rng = random.Random()
    worker_delay, chief_delay = rng.uniform(0.0, 2.0), rng.uniform(0.0, 1.0)
    story = f"(tuner1 killed {worker_delay:.2f} s into its run, chief {chief_delay:.2f} s later)"

    chief = _Process(workdir, tmp_path / "chief.log", "chief", port)
    tuner0 = _Process(workdir, tmp_path / "tuner0.log", "tuner0", port)
    tuner1 = _Process(workdir, tmp_path / "tuner1.log", "tuner1", port)
    children = [chief, tuner0, tuner1]
    try:
        _wait_for(_holds_a_run(workdir, run_ids, "tuner1"), "tuner1 to take a run")
        time.sleep(worker_delay)
        tuner1.kill()
        time.sleep(chief_delay)
        chief.kill()
        chief.wait(timeout=1)
        # The uninterrupted sweep runs while the workers have no chief.
        single = _Process(baseline, tmp_path / "single.log")
        children.append(single)
        chief = _Process(workdir, tmp_path / "chief.log", "chief", port)
        children.append(chief)
        assert single.wait(TIMEOUT) == 0, single.text()[-3000:]
        assert tuner0.wait(TIMEOUT) == 0, f"{story}\n{tuner0.text()[-3000:]}"
        assert chief.wait(TIMEOUT) == 0, f"{story}\n{chief.text()[-3000:]}"
    finally:
        for child in children:
            if child.process.poll() is None:
                child.kill()

    # Every point has exactly one results file, equal to the single process's.
    assert _results_files(workdir) == sorted(
        os.path.join(run_id, results.RESULTS_FILENAME) for run_id in run_ids
    ), story
    for run_id in run_ids:
        assert _comparable(workdir / run_id) == _comparable(baseline / run_id), (run_id, story)
        assert not (workdir / run_id / lease.LEASE_FILENAME).exists()
    # No run was trained to the end twice.
    trained = collections.Counter(
        entry["run_id"] for entry in sweep_files.read_log(workdir) if entry["trained"]
    )
    assert set(trained) <= set(run_ids) and set(trained.values()) <= {1}, (trained, story)
    assert "Worker tuner0 done" in tuner0.text()


def test_a_new_worker_waits_for_taken_points_instead_of_exiting(tmp_path, tiny_grid):
    """Every point taken by a worker that then died: a new worker id gets
    the points once their heartbeat times out, and never exits "done"
    with results missing."""
    config, sweep = tiny_grid(losses=("ce",), epochs=3, train_size=256)
    run_ids = [spec.run_id for spec in config_lib.resolve_sweep(config, sweep)]
    workdir = tmp_path / "sweep"
    sweep_files.write_sweep_file(config_lib.resolve_sweep(config, sweep), workdir)
    port = launcher.free_port()
    chief = _Process(workdir, tmp_path / "chief.log", "chief", port)
    doomed = _Process(workdir, tmp_path / "tuner0.log", "tuner0", port)
    children = [chief, doomed]
    try:
        _wait_for(_holds_a_run(workdir, run_ids, "tuner0"), "tuner0 to take a run")
        doomed.kill()
        late = _Process(workdir, tmp_path / "tuner9.log", "tuner9", port)
        children.append(late)
        assert late.wait(TIMEOUT) == 0, late.text()[-3000:]
        assert chief.wait(TIMEOUT) == 0, chief.text()[-3000:]
    finally:
        for child in children:
            if child.process.poll() is None:
                child.kill()
    assert all((workdir / run_id / results.RESULTS_FILENAME).exists() for run_id in run_ids)
    assert "Requeued run" in chief.text()
    entries = [json.dumps(entry) for entry in sweep_files.read_log(workdir)]
    assert all('"tuner9"' in entry for entry in entries), entries
