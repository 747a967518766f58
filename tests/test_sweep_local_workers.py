"""`recipes.sweep --workers=k`: k runs at a time under a local chief."""

import collections
import io
import os
import subprocess
import sys
import time

import pytest
from absl import app
from absl import flags

from recipes import runner
from recipes import sweep

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRID = dict(
    datasets=["digits"],
    models=["mlp1024"],
    losses=["ce", "gce"],
    noise_rates=[0.2],
    seeds=[0, 1],
)
TINY = dict(epochs=1, train_size=64, learning_rate=0.01)
TIMEOUT = 300


def _grid_flags():
    return [
        "--datasets=" + ",".join(GRID["datasets"]),
        "--models=" + ",".join(GRID["models"]),
        "--losses=" + ",".join(GRID["losses"]),
        "--noise_rates=" + ",".join(map(str, GRID["noise_rates"])),
        "--seeds=" + ",".join(map(str, GRID["seeds"])),
        *(f"--{name}={value}" for name, value in TINY.items()),
    ]


def test_worker_environments():
    base = {
        "PATH": "/bin",
        "XLA_PYTHON_CLIENT_PREALLOCATE": "true",  # the user's value wins
        "KERASTUNER_TUNER_ID": "stale",  # replaced
    }
    envs = sweep.worker_environments(2, 8123, base)
    assert [env["KERASTUNER_TUNER_ID"] for env in envs] == ["chief", "tuner0", "tuner1"]
    for env in envs:
        assert env["KERASTUNER_ORACLE_IP"] == "127.0.0.1"
        assert env["KERASTUNER_ORACLE_PORT"] == "8123"
        assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true"
        assert env["PATH"] == "/bin"
    assert len({id(env) for env in envs}) == 3
    assert base == {
        "PATH": "/bin",
        "XLA_PYTHON_CLIENT_PREALLOCATE": "true",
        "KERASTUNER_TUNER_ID": "stale",
    }
    (chief, worker) = sweep.worker_environments(1, 9000, {})
    assert chief["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert worker["KERASTUNER_TUNER_ID"] == "tuner0"
    # The chief trains nothing and sees no GPU; the workers keep the user's.
    chief, worker = sweep.worker_environments(1, 9000, {"CUDA_VISIBLE_DEVICES": "1"})
    assert chief["CUDA_VISIBLE_DEVICES"] == "" and worker["CUDA_VISIBLE_DEVICES"] == "1"


def test_bad_workers_flag():
    for bad in (0, -2, 1.5, "2", True):
        with pytest.raises(ValueError, match="--workers must be an integer >= 1"):
            sweep.check_workers(bad)
    with pytest.raises(ValueError, match="got 0"):
        sweep.worker_environments(0, 8000, {})
    with pytest.raises(ValueError, match="got 0"):
        sweep.launch_local_workers(["sweep"], 0)
    flag_values = flags.FlagValues()
    sweep.define_flags(flag_values)
    with pytest.raises(flags.IllegalFlagValueError, match="--workers=0"):
        flag_values(["sweep", "--workers=0"])


def test_workers_refuses_a_distributed_environment(tmp_path, monkeypatch):
    flag_values = flags.FlagValues()
    sweep.define_flags(flag_values)
    flag_values(["sweep", *_grid_flags(), f"--output_dir={tmp_path}", "--workers=2"])
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    with pytest.raises(app.UsageError, match="KERASTUNER_TUNER_ID"):
        sweep.sweep_from_flags(flag_values, argv=["sweep"])


def test_children_get_the_flags_without_workers():
    strip = sweep._without_workers_flag
    assert strip(["--workers=3", "--table=table2"]) == ["--table=table2"]
    assert strip(["--workers", "3", "--seeds=0"]) == ["--seeds=0"]
    assert strip(["-workers=2", "--noworkers_x", "--epochs=1"]) == [
        "--noworkers_x", "--epochs=1",
    ]


def test_a_failing_child_stops_the_others(monkeypatch):
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

    monkeypatch.setattr(sweep.subprocess, "Popen", popen)
    out = io.StringIO()
    start = time.monotonic()
    status = sweep.launch_local_workers(
        ["sweep.py", "--workers=2", "--epochs=1"], 2, out=out, poll_seconds=0.1
    )
    assert status == 3
    assert time.monotonic() - start < 60
    assert all(process.poll() is not None for _, process in started)
    command = started[0][0]
    assert command[1:] == ["-m", "recipes.sweep", "--epochs=1", "--workers=1"]
    assert "[tuner0] tuner0 fails" in out.getvalue()


def test_two_local_workers_run_every_point_once(tmp_path):
    output_dir = tmp_path / "runs"
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")])),
        TF_CPP_MIN_LOG_LEVEL="2",
        # Three processes share the test machine's cores.
        OMP_NUM_THREADS="1",
    )
    for name in sweep.DISTRIBUTED_ENV:
        env.pop(name, None)
    result = subprocess.run(
        [
            sys.executable, "-m", "recipes.sweep", *_grid_flags(),
            f"--output_dir={output_dir}", "--verbose=0", "--workers=2",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]

    configs = sweep.grid("table2", **GRID, **TINY)
    assert len(configs) == 4
    entries = sweep.read_log(output_dir)
    ran = collections.Counter(entry["run_id"] for entry in entries)
    assert sorted(ran) == sorted(config.run_id for config in configs)
    assert set(ran.values()) == {1}, ran
    assert {entry["tuner_id"] for entry in entries} <= {"tuner0", "tuner1"}
    assert all(runner.is_finished(config, output_dir) for config in configs)
    assert "[tuner0] Worker tuner0 done" in result.stdout
    assert "[tuner1] Worker tuner1 done" in result.stdout
    # The launcher's own table, after the chief's relayed one.
    report = result.stdout.rsplit("[chief]", 1)[-1]
    assert "\n| CE |" in report and "\n| genCE |" in report
