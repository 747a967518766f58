"""`recipes.sweep.run_sweep(..., workers=k)`: k runs at a time under a local chief (`recipes.launcher`)."""

import collections
import io
import os
import signal
import subprocess
import sys
import time

import pytest

from recipes import config as config_lib
from recipes import distributed
from recipes import launcher
from recipes import sweep as sweep_lib
from recipes import sweep_files
from recipes.distributed import SweepEnvironment
from recipes.distributed import SweepError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras_tuner")


def test_worker_environments():
    base = {
        "PATH": "/bin",
        "XLA_PYTHON_CLIENT_PREALLOCATE": "true",  # the user's value wins
        "KERASTUNER_TUNER_ID": "stale",  # replaced
    }
    envs = launcher.worker_environments(2, 8123, base)
    assert [env["KERASTUNER_TUNER_ID"] for env in envs] == ["chief", "tuner0", "tuner1"]
    for env in envs:
        assert env["KERASTUNER_ORACLE_IP"] == "127.0.0.1"
        assert env["KERASTUNER_ORACLE_PORT"] == "8123"
        assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true"
        assert env["PATH"] == "/bin"
    assert base["KERASTUNER_TUNER_ID"] == "stale"
    (chief, worker) = launcher.worker_environments(1, 9000, {})
    assert chief["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert worker["KERASTUNER_TUNER_ID"] == "tuner0"
    # The chief trains nothing and sees no GPU; the workers keep the user's.
    chief, worker = launcher.worker_environments(1, 9000, {"CUDA_VISIBLE_DEVICES": "1"})
    assert chief["CUDA_VISIBLE_DEVICES"] == "" and worker["CUDA_VISIBLE_DEVICES"] == "1"


def test_bad_workers(tmp_path, monkeypatch, tiny_grid):
    config, sweep = tiny_grid()
    for bad in (-2, 1.5, "2", True):
        with pytest.raises(SweepError, match="--workers=.* is not allowed"):
            sweep_lib.run_sweep(config_lib.resolve_sweep(config, sweep), tmp_path, workers=bad,
                                environment=SweepEnvironment())
    with pytest.raises(SweepError, match="--workers=0"):
        launcher.worker_environments(0, 8000, {})
    with pytest.raises(SweepError, match="KERASTUNER_TUNER_ID is set"):
        sweep_lib.run_sweep(config_lib.resolve_sweep(config, sweep), tmp_path, workers=2,
                            environment=SweepEnvironment(tuner_id="tuner0"))


def test_a_failing_child_stops_the_others(tmp_path, monkeypatch):
    # Stand-ins for the chief and workers: tuner0 fails, the others hang.
    script = (
        "import os, sys, time\n"
        "if os.environ['KERASTUNER_TUNER_ID'] == 'tuner0':\n"
        "    print('tuner0 fails'); sys.exit(3)\n"
        "print('waiting', flush=True); time.sleep(120)\n"
    )
    started = []
    real_popen = subprocess.Popen

    def popen(command, **kwargs):
        process = real_popen([sys.executable, "-c", script], **kwargs)
        started.append((command, process))
        return process

    monkeypatch.setattr(subprocess, "Popen", popen)
    out = io.StringIO()
    start = time.monotonic()
    status = launcher.launch_local_workers(
        tmp_path, 2, SweepEnvironment(), out=out, poll_seconds=0.1
    )
    assert status == 3
    assert time.monotonic() - start < 60
    assert len(started) == 3
    assert all(process.poll() is not None for _, process in started)
    assert started[0][0][1:] == ["-m", "recipes.grid", f"--workdir={tmp_path}"]
    assert "[tuner0] tuner0 fails" in out.getvalue()


def test_two_local_workers_run_every_point_once(tmp_path, monkeypatch, capfd, tiny_grid):
    for name in distributed.DISTRIBUTED_ENV:
        monkeypatch.delenv(name, raising=False)
    # Three processes share the test machine's cores.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    config, sweep = tiny_grid()
    finished = sweep_lib.run_sweep(
        config_lib.resolve_sweep(config, sweep), tmp_path, workers=2,
        environment=SweepEnvironment.from_environ(os.environ),
    )

    run_ids = [spec.run_id for spec in config_lib.resolve_sweep(config, sweep)]
    assert [result.run_id for result in finished] == run_ids
    ran = collections.Counter(entry["run_id"] for entry in sweep_files.read_log(tmp_path))
    assert sorted(ran) == sorted(run_ids) and set(ran.values()) == {1}, ran
    assert {entry["tuner_id"] for entry in sweep_files.read_log(tmp_path)} <= {"tuner0", "tuner1"}
    out = capfd.readouterr().out
    assert f"4 runs: 0 already finished, 4 to train on 2 workers. ({tmp_path})" in out
    for k in range(1, 5):
        assert f"[chief] [{k}/4] " in out
    assert "[tuner0] Worker tuner0 done" in out and "[tuner1] Worker tuner1 done" in out


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as file:
            return [int(child) for child in file.read().split()]
    except FileNotFoundError:
        return []


def _is_running(pid):
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_children_die_with_a_killed_launcher(tmp_path, tiny_grid):
    config, sweep = tiny_grid()
    sweep_files.write_sweep_file(config_lib.resolve_sweep(config, sweep), tmp_path)
    launcher = subprocess.Popen(
        [sys.executable, "-c",
         "import os; from recipes import launcher, distributed; "
         "launcher.launch_local_workers("
         f"{str(tmp_path)!r}, 2, distributed.SweepEnvironment.from_environ(os.environ))"],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(_children(launcher.pid)) < 3:
        assert time.monotonic() < deadline and launcher.poll() is None
        time.sleep(0.05)
    children = _children(launcher.pid)
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()
    deadline = time.monotonic() + 30
    while any(_is_running(child) for child in children):
        assert time.monotonic() < deadline, "a child outlived its launcher"
        time.sleep(0.1)
