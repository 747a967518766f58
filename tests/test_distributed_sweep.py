"""A distributed sweep: a keras-tuner chief and two workers on 127.0.0.1."""

import collections
import os
import subprocess
import sys

import pytest

from recipes import config as config_lib
from recipes import launcher
from recipes import sweep_files
from recipes import results

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras_tuner")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 300


def _start(tuner_id, port, workdir, log_dir):
    env = dict(os.environ)
    env.update(
        KERASTUNER_TUNER_ID=tuner_id,
        KERASTUNER_ORACLE_IP="127.0.0.1",
        KERASTUNER_ORACLE_PORT=str(port),
        PYTHONPATH=os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")])),
        # Three processes share the test machine's cores.
        OMP_NUM_THREADS="1",
    )
    log = open(os.path.join(log_dir, f"{tuner_id}.log"), "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "recipes.grid", f"--workdir={workdir}"],
        cwd=log_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    return process, log


def test_chief_and_two_workers_run_every_point_once(tmp_path, tiny_grid):
    workdir = tmp_path / "runs"
    config, sweep = tiny_grid(losses=("ce", "gce", "boundce"))
    sweep_files.write_sweep_file(config_lib.resolve_sweep(config, sweep), workdir)
    port = launcher.free_port()
    processes = [
        _start(tuner_id, port, workdir, tmp_path) for tuner_id in ("chief", "tuner0", "tuner1")
    ]
    try:
        for process, _ in processes:
            process.wait(timeout=TIMEOUT)
    finally:
        for process, log in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    for (process, _), tuner_id in zip(processes, ("chief", "tuner0", "tuner1")):
        text = (tmp_path / f"{tuner_id}.log").read_text()
        assert process.returncode == 0, f"{tuner_id} failed:\n{text[-3000:]}"

    run_ids = [spec.run_id for spec in config_lib.resolve_sweep(config, sweep)]
    entries = sweep_files.read_log(workdir)
    ran = collections.Counter(entry["run_id"] for entry in entries)
    assert sorted(ran) == sorted(run_ids)
    assert set(ran.values()) == {1}, ran
    assert all(entry["trained"] for entry in entries)
    assert {entry["tuner_id"] for entry in entries} <= {"tuner0", "tuner1"}
    assert all(os.path.exists(results.results_path(workdir / run_id)) for run_id in run_ids)
    assert "Worker tuner0 done" in (tmp_path / "tuner0.log").read_text()


def test_joining_without_a_sweep_is_one_line(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "recipes.grid", f"--workdir={tmp_path}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": REPO},
    )
    assert completed.returncode == 2
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith(f"recipes.grid: --workdir={tmp_path}: ") and "sweep.json does not exist" in line
