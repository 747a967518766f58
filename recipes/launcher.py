r"""Several runs of a sweep on one machine: a local chief and k workers.

`launch_local_workers(workdir, k, environment)` (`--workers=k` of
`recipes.main`) starts `python -m recipes.grid --workdir=<workdir>` once as
the chief, on a free port of 127.0.0.1, and once per worker, relays their
output line by line after `[chief] `, `[tuner0] `, ..., and waits for all
of them, stopping the others if one fails. SIGINT (Ctrl-C) or SIGTERM
stops every child and ends with `SweepInterrupted` (exit status 130 or
143); the same command started again resumes. The children run in their
own process group (a Ctrl-C in the terminal reaches the launcher only) and
die with it, even when it is SIGKILLed. Every child gets
`XLA_PYTHON_CLIENT_PREALLOCATE=false` (jax would take 75 % of the GPU's
memory per process) and `TF_FORCE_GPU_ALLOW_GROWTH=true` (TensorFlow would
take all of it) unless the environment sets them;
`benchmarks/bench_shared_device.py` measures which k pays.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from recipes.distributed import CHIEF_ID
from recipes.distributed import LAUNCHER_PID_ENV
from recipes.distributed import ORACLE_IP_ENV
from recipes.distributed import ORACLE_PORT_ENV
from recipes.distributed import TUNER_ID_ENV
from recipes.distributed import SweepError
from recipes.distributed import SweepInterrupted

# Settings that let several processes share one accelerator (an explicit
# value in the environment wins): jax preallocates 75 % of a GPU's memory
# per process, TensorFlow all of it.
SHARING_ENV = {
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",
}
WORKER_MODULE = "recipes.grid"


def check_workers(workers):
    """Raises SweepError unless `workers` (of `--workers`) is an integer >= 0."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise SweepError(f"--workers={workers!r} is not allowed: an integer >= 0.")


def worker_environments(workers, port, base_env):
    """The environments of a local chief and `workers` workers.

    Args:
        workers: Number of workers (>= 1).
        port: The chief's port on 127.0.0.1.
        base_env: The environment to start from (`SweepEnvironment.inherited`).
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
    base_env = dict(base_env)
    environments = []
    for name in [CHIEF_ID] + [f"tuner{index}" for index in range(workers)]:
        env = dict(base_env)
        for variable, value in SHARING_ENV.items():
            env.setdefault(variable, value)
        env.update({TUNER_ID_ENV: name, ORACLE_IP_ENV: "127.0.0.1", ORACLE_PORT_ENV: str(port)})
        if name == CHIEF_ID:
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


def watch_launcher(environment, poll_seconds=1.0):
    """Ends this process once the `--workers` launcher that started it is gone.

    The fallback to `die_with_parent` where prctl is missing: a daemon
    thread compares `os.getppid()` with `environment.launcher_pid`
    (`KERAS_ROBUST_LAUNCHER_PID`); nothing happens where it is None.
    """
    launcher = environment.launcher_pid
    if launcher is None:
        return

    def watch():
        while os.getppid() == launcher:
            time.sleep(poll_seconds)
        print(f"{environment.name}: the --workers launcher (pid {launcher}) is gone; stopping.",
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


class _Stop(BaseException):
    """SIGINT or SIGTERM reached the launcher."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_stop(signum, frame):
    raise _Stop(signum)


def _start(command, env, name, out):
    """Starts one child in its own process group, and the thread relaying its output."""
    process = subprocess.Popen(
        command,
        env=env,
        preexec_fn=die_with_parent,
        process_group=0,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    relay = threading.Thread(target=_relay, args=(process.stdout, f"[{name}] ", out), daemon=True)
    relay.start()
    return process, relay


def _wait(processes, poll_seconds):
    """Waits until every child succeeded (0) or one failed (its status)."""
    while True:
        codes = {name: process.poll() for name, process in processes.items()}
        failed = [name for name, code in codes.items() if code]
        if failed:
            print(
                f"{failed[0]} exited with status {codes[failed[0]]}; stopping the others.",
                file=sys.stderr,
            )
            return codes[failed[0]]
        if all(code == 0 for code in codes.values()):
            return 0
        time.sleep(poll_seconds)


def launch_local_workers(workdir, workers, environment, *, port=None, out=None,
                         poll_seconds=0.5):
    """Runs the sweep of `<workdir>/sweep.json` in a local chief and workers.

    Starts `python -m recipes.grid --workdir=<workdir>` once as the chief
    and once per worker, with the environments of `worker_environments`,
    relays their output to `out` line by line (each line after `[chief] `,
    `[tuner0] `, ...) and waits for all of them. If one exits with an
    error, it terminates the others.

    Args:
        workdir: The sweep's directory, holding `sweep.json`.
        workers: Number of workers (>= 1).
        environment: This process's `SweepEnvironment` (the children start
            from its `inherited` variables).
        port: The chief's port (default: a free one).
        out: Where the children's output goes (default: `sys.stdout`).
        poll_seconds: How often to check the children.

    Returns:
        0 if every child succeeded, else the exit status of the first one
        that failed (negative: killed by that signal).

    Raises:
        SweepInterrupted: on SIGINT or SIGTERM (or KeyboardInterrupt), once
            every child is stopped.
    """
    environments = worker_environments(
        workers, free_port() if port is None else port, environment.inherited
    )
    out = sys.stdout if out is None else out
    command = [sys.executable, "-m", WORKER_MODULE, f"--workdir={os.path.abspath(workdir)}"]
    processes, relays = {}, []
    handled = (signal.SIGINT, signal.SIGTERM)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.signal(signum, _raise_stop) for signum in handled} if (
        in_main_thread) else {}
    stopped_by = None
    status = 0
    try:
        for env in environments:
            name = env[TUNER_ID_ENV]
            # Unbuffered children: their lines arrive as they print them.
            env.setdefault("PYTHONUNBUFFERED", "1")
            env[LAUNCHER_PID_ENV] = str(os.getpid())
            processes[name], relay = _start(command, env, name, out)
            relays.append(relay)
        status = _wait(processes, poll_seconds)
    except _Stop as stop:
        stopped_by = stop.signum
    except KeyboardInterrupt:
        stopped_by = signal.SIGINT
    finally:
        for signum in previous:
            # A second signal while the children stop is not an error.
            signal.signal(signum, signal.SIG_IGN)
        _stop(processes.values())
        for relay in relays:
            relay.join(timeout=10.0)
        for signum, handler in previous.items():
            # None: a handler not set from Python, which cannot be restored.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
    if stopped_by is not None:
        raise SweepInterrupted(
            stopped_by,
            f"stopped by {signal.Signals(stopped_by).name}: the chief and {workers} "
            f"worker{'s' if workers != 1 else ''} are stopped; start the same command "
            "again to resume.",
        )
    return status
