r"""The work queue of any sweep: one keras-tuner grid over runs.

A sweep is a base config and a list of points, each a dict of overrides
(`get_sweep()` of a config file such as `recipes/configs/table2.py`, e.g.
`{"loss": "mae", "output_bias": 0.5, "seed": 1}`; dotted keys reach nested
fields). `run_sweep` trains every point once with
`recipes.train_lib.train_and_evaluate` in `<workdir>/<run_id>/`, where the
run id (`recipes.config.run_id`) is unique for the point's settings:

    python -m recipes.main --config=recipes/configs/table2.py --workdir=runs/table2

Stop it at any time and start the same command again: finished runs are
not redone, the interrupted run resumes from its last epoch, and
keras-tuner (reloaded from `<workdir>/tuner/`) hands out the remaining
points. A run that fails is reported on stderr while the others go on; the
next start retries it. Before any training every point is resolved and
checked (`recipes.config.ConfigError`), and a run directory holding the
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

Every sweep also leaves `<workdir>/sweep.json` (the base config and the
points), so a worker can join it without the config file:
`python -m recipes.grid --workdir=/shared/table2` with the same variables.

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
import importlib.util
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

from recipes import atomic_files
from recipes import cli
from recipes import config as config_lib
from recipes import results as results_lib
from recipes import train_lib

LOG_FILENAME = "sweep_log.jsonl"
SWEEP_FILENAME = "sweep.json"
TUNER_DIRNAME = "tuner"
OBJECTIVE = "test_accuracy"
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


def load_sweep(config_filename):
    """The points of a config file's `get_sweep`, or None if it has none.

    Args:
        config_filename: `path/to/config.py` or `path/to/config.py:ARG`
            (as `--config` takes it); `ARG` goes to `get_sweep(ARG)` as it
            goes to `get_config(ARG)`.

    Returns:
        A list of dicts of overrides, or None.

    Raises:
        SweepError: if the file does not exist or `get_sweep` refuses `ARG`.
    """
    path, _, arg = str(config_filename).partition(":")
    spec = importlib.util.spec_from_file_location("recipes_sweep_config", path)
    if spec is None or not os.path.isfile(path):
        raise SweepError(f"--config={config_filename}: no config file {path!r}.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    get_sweep = getattr(module, "get_sweep", None)
    if get_sweep is None:
        return None
    try:
        return get_sweep(arg) if arg else get_sweep()
    except ValueError as error:  # a config argument that is not allowed
        raise SweepError(f"--config={config_filename}: {error}") from None


class Point:
    """One run of a sweep: its config, run id and directory."""

    def __init__(self, config, workdir):
        self.config = config
        # Resolves and checks every field (config.ConfigError).
        self.run_id = config_lib.run_id(config)
        self.run_dir = os.path.join(os.fspath(workdir), self.run_id)

    def is_finished(self):
        """Whether the run is done (a damaged results file: not done; the
        trainer sets it aside and trains the run again)."""
        try:
            return results_lib.is_finished(self.run_dir, self.config)
        except results_lib.DamagedResultsError:
            return False


def sweep_points(config, sweep, workdir):
    """The runs of a sweep, in its order, without repeats.

    Resolves every point (`recipes.config.resolve`) and checks every run
    directory, so that a bad value or a results file of other settings
    stops the sweep before any training.

    Raises:
        config.ConfigError: for an invalid point.
        results.SettingsMismatchError: for a run directory of other
            settings.
        SweepError: for an empty sweep.
    """
    if not sweep:
        raise SweepError("The sweep has no points.")
    points = {}
    for overrides in sweep:
        point = Point(config_lib.override(config, overrides), workdir)
        points.setdefault(point.run_id, point)
    for point in points.values():
        point.is_finished()
    return list(points.values())


def _digest(points):
    text = "\n".join(point.run_id for point in points)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def write_sweep_file(config, sweep, workdir):
    """Writes `<workdir>/sweep.json`: the base config and the points."""
    atomic_files.write_text(
        os.path.join(os.fspath(workdir), SWEEP_FILENAME),
        json.dumps({"config": config.to_dict(), "sweep": list(sweep)}, indent=1) + "\n",
    )


def read_sweep_file(workdir):
    """`(config, sweep)` of `<workdir>/sweep.json`."""
    path = os.path.join(os.fspath(workdir), SWEEP_FILENAME)
    try:
        with open(path, encoding="utf-8") as file:
            stored = json.load(file)
        config = config_lib.override(config_lib.get_default_config(), stored["config"])
        return config, stored["sweep"]
    except FileNotFoundError:
        raise SweepError(
            f"{path} does not exist: no sweep was started in that directory."
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise SweepError(f"{path} is damaged ({error}).") from None


# ---------------------------------------------------------------------------
# keras-tuner.


class RunGrid(keras_tuner.HyperModel):
    """A hypermodel whose only hyperparameter picks one run of the sweep.

    `build(hp)` returns the `Point` chosen by `hp.Choice("run", ids)`;
    `fit(hp, point)` trains it with `train_lib.train_and_evaluate` (which
    returns a finished run's stored result) and returns its final metrics.
    """

    def __init__(self, points, workdir, callbacks=()):
        super().__init__(name="run_grid")
        self.points = {point.run_id: point for point in points}
        self.workdir = os.fspath(workdir)
        self.callbacks = tuple(callbacks)

    def build(self, hp):
        return self.points[hp.Choice("run", list(self.points))]

    def fit(self, hp, point, *args, **kwargs):
        trained = not point.is_finished()
        start = time.time()
        try:
            result = train_lib.train_and_evaluate(
                point.config, point.run_dir, callbacks=self.callbacks
            )
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

    Hands out the points in order, to one process or to a chief's workers.
    Two changes to keras-tuner 1.4.8's `GridSearchOracle`, which derives
    each new point from the successor of a *finished* trial:

    - `populate_space` returns the first value no trial has taken yet,
      and STOPPED once every value is taken. The base class answers IDLE
      while any trial runs, so with one hyperparameter its workers run one
      trial at a time and busy-wait in between.
    - Reloading (`overwrite=False`) works: the base class keeps its walk
      through the grid only in memory and fails with a KeyError after the
      first trial of a reloaded search (keras-team/keras-tuner#1055); here
      everything follows from the stored trials. Trials that failed in an
      earlier start are queued for one more try (an interrupted trial is
      requeued by the base class).
    """

    def populate_space(self, trial_id):
        space = self.get_space().space
        if len(space) != 1:
            raise ValueError(
                "RunGridOracle expects exactly one hyperparameter, "
                f"got {[hp.name for hp in space]}."
            )
        hp = space[0]
        taken = {
            trial.hyperparameters.values.get(hp.name)
            for trial in self.trials.values()
        }
        for value in hp.values:
            if value not in taken:
                return {"status": _Status.RUNNING, "values": {hp.name: value}}
        return {"status": _Status.STOPPED, "values": None}

    def set_state(self, state):
        super().set_state(state)
        failed = (_Status.INVALID, _Status.FAILED)
        for trial_id in sorted(self.trials):
            trial = self.trials[trial_id]
            if trial.status in failed and trial_id not in self._retry_queue:
                self._retry_queue.append(trial_id)


class RunGridTuner(keras_tuner.Tuner):
    """Runs one point per trial; no Keras model passes through it."""

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        return self.hypermodel.fit(hp, self.hypermodel.build(hp), *args, **kwargs)

    def save_model(self, trial_id, model, step=0):
        """Nothing to save: each run's results live in its run directory."""

    def load_model(self, trial):
        raise NotImplementedError("A sweep keeps no models; read its results instead.")


def make_tuner(points, workdir, callbacks=()):
    """The resumable keras-tuner search over `points`.

    Its state lives in `<workdir>/tuner/sweep-<digest of the run ids>`: the
    same sweep reloads it, another sweep gets a project of its own, and the
    run directories are shared by both.
    """
    return RunGridTuner(
        oracle=RunGridOracle(
            objective=keras_tuner.Objective(OBJECTIVE, direction="max"),
            max_trials=len(points),
        ),
        hypermodel=RunGrid(points, workdir, callbacks),
        directory=os.path.join(os.fspath(workdir), TUNER_DIRNAME),
        project_name=f"sweep-{_digest(points)}",
        overwrite=False,
    )


def read_log(workdir):
    """The entries of `<workdir>/sweep_log.jsonl` (empty if none)."""
    return atomic_files.read_json_lines(os.path.join(os.fspath(workdir), LOG_FILENAME))


def run_sweep(config, sweep, workdir, workers=0, callbacks=()):
    """Trains every point of a sweep once; returns the finished results.

    Runs the points in this process, as the chief or a worker of a
    distributed sweep when the `KERASTUNER_*` variables say so, or, with
    `workers=k > 0`, in a local chief and k workers (see the module
    docstring).

    Args:
        config: The base config (`recipes.config.get_default_config()` and
            the config file's changes).
        sweep: A list of dicts of overrides, one per run.
        workdir: The sweep's directory; run `i` lives in
            `<workdir>/<run id>/`.
        workers: 0 to train here; k > 0 for k local worker processes.
        callbacks: Keras callbacks given to every run of this process.

    Returns:
        The `recipes.results.RunResult` of every finished point, in the
        sweep's order (a run that failed is left out and reported on
        stderr).

    Raises:
        config.ConfigError, results.SettingsMismatchError: before any
            training, for an invalid point or a run directory of other
            settings.
        SweepError: for bad `workers`, or when a local worker failed.
    """
    check_workers(workers)
    workdir = os.fspath(workdir)
    points = sweep_points(config, sweep, workdir)
    if workers:
        distributed = [name for name in DISTRIBUTED_ENV if name in os.environ]
        if distributed:
            raise SweepError(
                f"--workers={workers} starts its own chief and workers, but "
                f"{', '.join(distributed)} is set: unset it, or leave out "
                "--workers to join that chief."
            )
        write_sweep_file(config, sweep, workdir)
        print(f"{len(points)} runs in {workdir}, {workers} at a time", flush=True)
        status = launch_local_workers(workdir, workers)
        if status:
            raise SweepError(f"A local worker exited with status {status}.")
    else:
        if not is_distributed_worker():
            write_sweep_file(config, sweep, workdir)
        print(f"{len(points)} runs in {workdir} ({tuner_id()})", flush=True)
        make_tuner(points, workdir, callbacks).search(verbose=0)
        if is_distributed_worker():
            mine = [entry for entry in read_log(workdir) if entry["tuner_id"] == tuner_id()]
            print(f"Worker {tuner_id()} done: {len(mine)} runs.", flush=True)
    finished = [point for point in points if point.is_finished()]
    if len(finished) < len(points) and not is_distributed_worker():
        print(
            f"{len(points) - len(finished)} of {len(points)} runs did not finish "
            "(errors above); start the same command again to retry them.",
            file=sys.stderr,
        )
    return [results_lib.read(point.run_dir) for point in finished]


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
            process = subprocess.Popen(
                command,
                env=env,
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
    try:
        config, sweep = read_sweep_file(flag_values.workdir)
    except SweepError as error:
        cli.usage_error("recipes.grid", f"--workdir={flag_values.workdir}: {error}")
    run_sweep(config, sweep, flag_values.workdir)


if __name__ == "__main__":
    define_flags()
    app.run(main, flags_parser=cli.flags_parser("recipes.grid"))
