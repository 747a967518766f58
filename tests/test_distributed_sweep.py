"""A distributed sweep: a keras-tuner chief and two workers on 127.0.0.1."""

import collections
import os
import socket
import subprocess
import sys

from recipes import runner
from recipes import sweep

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRID = dict(
    datasets=["digits"],
    models=["mlp1024"],
    losses=["ce", "gce", "boundce"],
    noise_rates=[0.2],
    seeds=[0, 1],
)
TINY = dict(epochs=1, train_size=64, learning_rate=0.01)
TIMEOUT = 300


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(tuner_id, port, output_dir, log_dir):
    env = dict(os.environ)
    env.update(
        KERASTUNER_TUNER_ID=tuner_id,
        KERASTUNER_ORACLE_IP="127.0.0.1",
        KERASTUNER_ORACLE_PORT=str(port),
        PYTHONPATH=os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")])),
        TF_CPP_MIN_LOG_LEVEL="2",
        # Three processes share the test machine's cores.
        OMP_NUM_THREADS="1",
    )
    args = [
        sys.executable,
        "-m",
        "recipes.sweep",
        "--datasets=" + ",".join(GRID["datasets"]),
        "--models=" + ",".join(GRID["models"]),
        "--losses=" + ",".join(GRID["losses"]),
        "--noise_rates=" + ",".join(map(str, GRID["noise_rates"])),
        "--seeds=" + ",".join(map(str, GRID["seeds"])),
        *(f"--{name}={value}" for name, value in TINY.items()),
        f"--output_dir={output_dir}",
        "--verbose=0",
    ]
    log = open(os.path.join(log_dir, f"{tuner_id}.log"), "w")
    process = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, log


def test_chief_and_two_workers_run_every_point_once(tmp_path):
    output_dir = tmp_path / "runs"
    port = _free_port()
    processes = [
        _start(tuner_id, port, output_dir, tmp_path)
        for tuner_id in ("chief", "tuner0", "tuner1")
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
    logs = {
        tuner_id: (tmp_path / f"{tuner_id}.log").read_text()
        for tuner_id in ("chief", "tuner0", "tuner1")
    }
    for (process, _), (tuner_id, text) in zip(processes, logs.items()):
        assert process.returncode == 0, f"{tuner_id} failed:\n{text[-3000:]}"

    configs = sweep.grid("table2", **GRID, **TINY)
    assert len(configs) == 6
    entries = sweep.read_log(output_dir)
    ran = collections.Counter(entry["run_id"] for entry in entries)
    assert sorted(ran) == sorted(config.run_id for config in configs)
    assert set(ran.values()) == {1}, ran
    assert all(entry["trained"] for entry in entries)
    assert {entry["tuner_id"] for entry in entries} <= {"tuner0", "tuner1"}
    assert all(runner.is_finished(config, output_dir) for config in configs)
    # The chief served the grid, then printed the table.
    assert "| CE |" in logs["chief"] and "| boundCE |" in logs["chief"]
