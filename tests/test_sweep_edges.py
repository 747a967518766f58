"""A sweep never hangs: a finished sweep ends at once, and a stopped launcher says one line.

`python -m recipes.main --config=FILE --workdir=W --workers=2` on a sweep
that is already finished prints the report and exits 0 (even where the
sweep's keras-tuner state is gone); `python -m recipes.grid --workdir=W`
says that every run is finished. SIGINT or SIGTERM to the `--workers`
launcher stops its chief and workers and exits with one line and status
130 or 143, and the same command started again resumes.
"""

import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from recipes import config as config_lib
from recipes import launcher
from recipes import lease
from recipes import sweep as sweep_lib
from recipes import sweep_files
from recipes.distributed import SweepEnvironment
from recipes.distributed import SweepInterrupted

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CONFIG = """
from recipes import config as config_lib

def get_config(arg=None):
    config = config_lib.get_default_config()
    config.update(dataset="digits", model="mlp1024", noise_rate=0.2, epochs={epochs},
                  train_size=64, learning_rate=0.01, verbose=0, save_model=False)
    return config

def get_sweep(arg=None):
    return [{{"loss": "ce", "seed": seed}} for seed in (0, 1)]
"""


def _env():
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("KERASTUNER_", "KERAS_ROBUST_"))}
    env.update(OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")])))
    return env


def _main(tmp_path, *flags, epochs=1):
    config = tmp_path / "tiny.py"
    config.write_text(_CONFIG.format(epochs=epochs))
    return [sys.executable, "-m", "recipes.main", f"--config={config}",
            f"--workdir={tmp_path / 'sweep'}", *flags]


def _run(command, timeout=120):
    return subprocess.run(command, cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def test_a_finished_sweep_ends_at_once_with_workers(tmp_path):
    command = _main(tmp_path, "--workers=2")
    # The sweep of that config file, finished here.
    namespace = {}
    exec(_CONFIG.format(epochs=1), namespace)
    specs = config_lib.resolve_sweep(namespace["get_config"](), namespace["get_sweep"]())
    sweep_lib.run_sweep(specs, tmp_path / "sweep", environment=SweepEnvironment())
    # The keras-tuner state is gone: the chief would wait for runs no
    # worker asks for, since every worker finds them finished.
    shutil.rmtree(tmp_path / "sweep" / "tuner")
    again = _run(command, timeout=60)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "2 runs: 2 already finished, 0 to train on 2 workers." in again.stdout
    assert "every run of the sweep is finished" in again.stdout
    assert "[chief]" not in again.stdout  # nobody was started
    assert "2 of 2 runs finished" in again.stdout  # and the report follows
    joined = _run([sys.executable, "-m", "recipes.grid", f"--workdir={tmp_path / 'sweep'}"],
                  timeout=60)
    assert joined.returncode == 0, joined.stderr[-2000:]
    assert "tuner0: every run of the sweep is finished; nothing to train." in joined.stdout


def test_a_finished_sweep_ends_the_chief_at_once(tmp_path, tiny_grid):
    config, sweep = tiny_grid(losses=("ce",), seeds=(0,))
    workdir = tmp_path / "sweep"
    sweep_lib.run_sweep(config_lib.resolve_sweep(config, sweep), workdir, environment=SweepEnvironment())
    shutil.rmtree(workdir / "tuner")
    env = {**_env(), "KERASTUNER_TUNER_ID": "chief", "KERASTUNER_ORACLE_IP": "127.0.0.1",
           "KERASTUNER_ORACLE_PORT": str(launcher.free_port())}
    chief = subprocess.run([sys.executable, "-m", "recipes.grid", f"--workdir={workdir}"],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert chief.returncode == 0, chief.stderr[-2000:]
    assert "chief: every run of the sweep is finished" in chief.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_every_child_and_raises_one_line(tmp_path, monkeypatch, signum):
    # Stand-ins for the chief and workers, which would run for minutes.
    started, groups = [], []
    handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    real_popen = subprocess.Popen

    def popen(command, **kwargs):
        process = real_popen([sys.executable, "-c", "import time; print('up', flush=True); "
                              "time.sleep(120)"], **kwargs)
        started.append(process)
        groups.append(os.getpgid(process.pid))
        if len(started) == 3:  # the chief and both workers run: the signal comes
            threading.Timer(0.5, os.kill, (os.getpid(), signum)).start()
        return process

    monkeypatch.setattr(subprocess, "Popen", popen)
    with pytest.raises(SweepInterrupted) as raised:
        launcher.launch_local_workers(tmp_path, 2, SweepEnvironment(), out=io.StringIO(),
                                      poll_seconds=0.05)
    assert raised.value.status == 128 + signum
    assert str(raised.value) == (
        f"stopped by {signal.Signals(signum).name}: the chief and 2 workers are stopped; "
        "start the same command again to resume."
    )
    assert len(started) == 3 and all(process.poll() is not None for process in started)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    # Each child leads a process group of its own: a Ctrl-C in the terminal
    # reaches the launcher only.
    assert groups == [process.pid for process in started]


def _leased(workdir):
    return any(
        lease.read(workdir / name) is not None
        for name in os.listdir(workdir) if (workdir / name / lease.LEASE_FILENAME).exists()
    ) if workdir.is_dir() else False


def test_sigterm_to_the_launcher_then_the_same_command_resumes(tmp_path):
    command = _main(tmp_path, "--workers=1", epochs=3)
    workdir = tmp_path / "sweep"
    process = subprocess.Popen(command, cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not _leased(workdir):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err[-2000:]
    assert err.strip().splitlines() == [
        "recipes.main: stopped by SIGTERM: the chief and 1 worker are stopped; "
        "start the same command again to resume."
    ]
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    resumed = _run(command, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "2 of 2 runs finished" in resumed.stdout
    assert len(sweep_files.read_log(workdir)) >= 2
