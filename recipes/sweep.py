r"""Paper Tables 2 and 3 as a resumable, distributable keras-tuner grid.

Table 2: ResNet-32 and MLP1024 on CIFAR-10 and Fashion-MNIST, the nine
loss rows of Table 2, noise 0, 0.1, 0.2, 0.4, 0.6, seeds 0-4 (900 runs).
Table 3: ResNet-34 on CIFAR-100, the ten rows of Table 3 (250 runs).
Every flag narrows or changes the grid; the run-setting flags of
`recipes.train` (`--epochs`, `--train_size`, `--learning_rate`,
`--mixed_precision`, ...) override the paper's values for every run.

One machine:

    python -m recipes.sweep --table=table2 --output_dir=runs/table2

Stop it at any time and start the same command again: finished runs are
not redone (their results.json files), the interrupted run resumes from
its last epoch, and keras-tuner (reloaded from `<output_dir>/tuner/`)
hands out the remaining grid points.

Several machines: every process gets the same flags and the same
`--output_dir` on a shared file system (NFS, or a bucket path TensorFlow
can write). Start one chief, which only hands out grid points and blocks
until the grid is done, then any number of workers:

    # on the chief, e.g. host 10.0.0.1
    KERASTUNER_TUNER_ID=chief KERASTUNER_ORACLE_IP=10.0.0.1 \
    KERASTUNER_ORACLE_PORT=8000 \
        python -m recipes.sweep --table=table2 --output_dir=/shared/table2

    # on every worker machine (or several per machine, one per GPU:
    # CUDA_VISIBLE_DEVICES=i), each with its own id tuner0, tuner1, ...
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 \
    KERASTUNER_ORACLE_PORT=8000 \
        python -m recipes.sweep --table=table2 --output_dir=/shared/table2

One accelerator, several runs: when one run cannot fill the device (the
MLP at batch 32 leaves a GPU mostly idle), `--workers=k` trains k runs at
the same time on this machine. The process then only launches: it starts
a chief on a free port of 127.0.0.1 and k workers (tuner0 ... tuner{k-1}),
each `python -m recipes.sweep` with the same flags, relays their output
with a `[tuner_id]` prefix, waits for all of them (stopping the others if
one fails or on Ctrl-C) and prints the table:

    python -m recipes.sweep --table=table2 --models=mlp1024 \
        --output_dir=runs/table2 --workers=3

Every child gets `XLA_PYTHON_CLIENT_PREALLOCATE=false` (jax would take 75 %
of the GPU's memory per process) and `TF_FORCE_GPU_ALLOW_GROWTH=true`
(TensorFlow would take all of it), unless the environment sets them.
The children's CPU threads are not capped (a cap set in the environment,
e.g. `TF_NUM_INTRAOP_THREADS=1 OMP_NUM_THREADS=1`, reaches every child):
on a 2-core CPU, one thread per run gave no consistent gain in the
aggregate throughput of k runs. Whether k
runs pay, and which k, depends on the device and the model:
`benchmarks/bench_shared_device.py` measures the aggregate throughput of
k concurrent runs. The launched processes are an ordinary chief and
workers, so stopping and restarting resumes as above.

Each run is one trial of a `GridSearch` oracle whose single hyperparameter
is `hp.Choice("run", [run ids])`; `run_trial` calls `recipes.runner.run`
(which skips finished runs) and reports the run's final test accuracy as
the objective. The chief prints the table of mean +- standard error over
seeds when the grid is done; `--report_only` prints it from the results
files at any time. Every trial appends one line to
`<output_dir>/sweep_log.jsonl` (run id, tuner id, whether it trained).
"""

import hashlib
import math
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

import zoo
from keras_robust import presets
from keras_robust.data import DATASETS
from recipes import atomic_files
from recipes import runner
from recipes import train

TABLES = {
    "table2": {
        "datasets": ("cifar10", "fashion_mnist"),
        "models": ("resnet32", "mlp1024"),
    },
    "table3": {"datasets": ("cifar100",), "models": ("resnet34",)},
}
DEFAULT_SEEDS = (0, 1, 2, 3, 4)
LOG_FILENAME = "sweep_log.jsonl"
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


def define_grid_flags(flag_values=flags.FLAGS):
    """Defines --losses and --seeds (shared with recipes.quickstart)."""
    if "losses" not in flag_values:
        flags.DEFINE_list(
            "losses", None,
            "Loss rows (keys of --loss of recipes.train, e.g. ce,mae*,gce). "
            "Default: all rows of the table (sweep), ce,mae*,gce,boundce "
            "(quickstart).",
            flag_values=flag_values,
        )
    if "seeds" not in flag_values:
        flags.DEFINE_list(
            "seeds", None, "Seeds. Default: 0,1,2,3,4 (sweep), 0,1,2 (quickstart).",
            flag_values=flag_values,
        )


def define_flags(flag_values=flags.FLAGS):
    """Defines this recipe's flags (called when run as a script)."""
    train.define_run_flags(flag_values)
    define_grid_flags(flag_values)
    for name in train.RUN_FLAGS + ("losses", "seeds"):
        flags.declare_key_flag(name, flag_values=flag_values)
    flags.DEFINE_enum(
        "table", "table2", list(TABLES), "Which paper table to replicate.",
        flag_values=flag_values,
    )
    flags.DEFINE_list(
        "datasets", None,
        "Datasets. Default: cifar10,fashion_mnist (table2), cifar100 (table3).",
        flag_values=flag_values,
    )
    flags.DEFINE_list(
        "models", None,
        "Models. Default: resnet32,mlp1024 (table2), resnet34 (table3).",
        flag_values=flag_values,
    )
    flags.DEFINE_list(
        "noise_rates", None, "Noise rates. Default: 0,0.1,0.2,0.4,0.6.",
        flag_values=flag_values,
    )
    flags.DEFINE_boolean(
        "report_only", False, "Print the table from the results files and exit.",
        flag_values=flag_values,
    )
    flags.DEFINE_integer(
        "workers", 1,
        "How many runs train at the same time on this machine, sharing its "
        "accelerator. With more than 1 (and no KERASTUNER_* variables set) "
        "this process starts a local keras-tuner chief and that many workers.",
        lower_bound=1,
        flag_values=flag_values,
    )


# ---------------------------------------------------------------------------
# The grid.
# ---------------------------------------------------------------------------


def _check_choices(kind, values, allowed):
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise ValueError(
            f"Unknown {kind} {', '.join(map(repr, unknown))}. "
            f"Allowed: {', '.join(allowed)}."
        )


def grid(
    table="table2",
    *,
    datasets=None,
    models=None,
    losses=None,
    noise_rates=None,
    seeds=None,
    **overrides,
):
    """The `RunConfig`s of a table's grid, in a fixed order, without repeats.

    Args:
        table: `"table2"` or `"table3"`: the default datasets, models and
            loss rows.
        datasets, models, losses, noise_rates, seeds: Narrow or change the
            grid; None for the table's values (seeds 0-4, noise rates
            `presets.NOISE_RATES`).
        **overrides: `RunConfig` fields applied to every run (e.g.
            `epochs=1, train_size=256`).

    Returns:
        A list of `RunConfig`, ordered by dataset, model, loss, noise, seed.
    """
    if table not in TABLES:
        raise ValueError(f"Unknown table {table!r}. Allowed: {', '.join(TABLES)}.")
    datasets = tuple(datasets or TABLES[table]["datasets"])
    models = tuple(models or TABLES[table]["models"])
    if losses is None:
        losses = [row.key for row in presets.table_variants(table)]
    noise_rates = tuple(float(rate) for rate in (noise_rates or presets.NOISE_RATES))
    seeds = tuple(int(seed) for seed in (DEFAULT_SEEDS if seeds is None else seeds))
    _check_choices("dataset", datasets, tuple(DATASETS))
    _check_choices("model", models, tuple(zoo.MODELS))
    _check_choices("loss", losses, train.LOSS_KEYS)
    configs = {}
    for dataset in datasets:
        for model in models:
            for loss in losses:
                for noise_rate in noise_rates:
                    for seed in seeds:
                        config = runner.RunConfig.paper_defaults(
                            dataset, model, loss, noise_rate, seed, **overrides
                        )
                        configs.setdefault(config.run_id, config)
    return list(configs.values())


def grid_digest(configs):
    """A short digest of the grid (run ids and settings)."""
    text = "\n".join(f"{c.run_id} {c.settings_hash}" for c in configs)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def check_no_conflicts(configs, output_dir):
    """Raises before any training if a results file holds other settings."""
    for config in configs:
        path = runner.results_path(config, output_dir)
        if os.path.exists(path):
            found = runner.load_results(path).get("settings_hash")
            if found != config.settings_hash:
                raise runner.SettingsMismatchError(
                    f"{path} belongs to different settings (settings_hash "
                    f"{found!r}, the sweep's {config.settings_hash!r}). Use "
                    "another --output_dir or remove that run directory."
                )


# ---------------------------------------------------------------------------
# keras-tuner.
# ---------------------------------------------------------------------------


class RunGrid(keras_tuner.HyperModel):
    """A hypermodel whose only hyperparameter picks one run of the grid.

    `build(hp)` returns the `RunConfig` chosen by `hp.Choice("run", ids)`;
    `fit(hp, config)` trains it with `runner.run` (a no-op for finished
    runs) and returns its final metrics.
    """

    def __init__(
        self, configs, output_dir, *, verbose=1, deterministic=True, callbacks=()
    ):
        super().__init__(name="run_grid")
        self.configs = {config.run_id: config for config in configs}
        self.output_dir = os.fspath(output_dir)
        self.verbose = verbose
        self.deterministic = deterministic
        self.callbacks = tuple(callbacks)

    def build(self, hp):
        return self.configs[hp.Choice("run", list(self.configs))]

    def fit(self, hp, config, *args, **kwargs):
        trained = not runner.is_finished(config, self.output_dir)
        start = time.time()
        try:
            results = runner.run(
                config,
                self.output_dir,
                verbose=self.verbose,
                deterministic=self.deterministic,
                callbacks=self.callbacks,
            )
        except Exception:
            # keras-tuner records the trial as invalid without showing why.
            print(f"Run {config.run_id} failed:", file=sys.stderr)
            traceback.print_exc()
            raise
        _append_log(
            self.output_dir,
            {
                "run_id": config.run_id,
                "tuner_id": os.environ.get("KERASTUNER_TUNER_ID", "tuner0"),
                "trained": trained,
                "seconds": round(time.time() - start, 3),
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        final = results["final"]
        metrics = {OBJECTIVE: final["test_accuracy"]}
        if final["false_label_accuracy"] is not None:
            metrics["false_label_accuracy"] = final["false_label_accuracy"]
        return metrics


class RunGridOracle(keras_tuner.oracles.GridSearchOracle):
    """keras-tuner's grid oracle over one `hp.Choice` of run ids.

    Hands out the grid points in order, to one process or to a chief's
    workers. Two changes to keras-tuner 1.4.8's `GridSearchOracle`, which
    derives each new point from the successor of a *finished* trial:

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
                return {
                    "status": _Status.RUNNING,
                    "values": {hp.name: value},
                }
        return {"status": _Status.STOPPED, "values": None}

    def set_state(self, state):
        super().set_state(state)
        failed = (_Status.INVALID, _Status.FAILED)
        for trial_id in sorted(self.trials):
            trial = self.trials[trial_id]
            if trial.status in failed and trial_id not in self._retry_queue:
                self._retry_queue.append(trial_id)


class RunGridTuner(keras_tuner.Tuner):
    """Runs one grid point per trial; no Keras model passes through it."""

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        config = self.hypermodel.build(hp)
        return self.hypermodel.fit(hp, config, *args, **kwargs)

    def save_model(self, trial_id, model, step=0):
        """Nothing to save: the run's results live under the output dir."""

    def load_model(self, trial):
        raise NotImplementedError(
            "The sweep keeps no models; read the results files instead."
        )


def _append_log(output_dir, entry):
    atomic_files.append_json_line(os.path.join(output_dir, LOG_FILENAME), entry)


def read_log(output_dir):
    """The entries of `<output_dir>/sweep_log.jsonl` (empty if none)."""
    return atomic_files.read_json_lines(
        os.path.join(os.fspath(output_dir), LOG_FILENAME)
    )


def make_tuner(configs, output_dir, *, name="sweep", verbose=1, deterministic=True, callbacks=()):
    """The resumable keras-tuner `GridSearch` over `configs`.

    The tuner's state lives in `<output_dir>/tuner/<name>-<grid digest>`:
    the same grid reloads it (overwrite=False), a different grid gets a
    project of its own, and the results files are shared by both.
    """
    oracle = RunGridOracle(
        objective=keras_tuner.Objective(OBJECTIVE, direction="max"),
        max_trials=len(configs),
    )
    return RunGridTuner(
        oracle=oracle,
        hypermodel=RunGrid(
            configs,
            output_dir,
            verbose=verbose,
            deterministic=deterministic,
            callbacks=callbacks,
        ),
        directory=os.path.join(os.fspath(output_dir), TUNER_DIRNAME),
        project_name=f"{name}-{grid_digest(configs)}",
        overwrite=False,
    )


def run_sweep(configs, output_dir, *, name="sweep", verbose=1, deterministic=True, callbacks=()):
    """Runs the grid through keras-tuner (distributed if the env says so).

    With `KERASTUNER_TUNER_ID=chief` (and `KERASTUNER_ORACLE_IP`,
    `KERASTUNER_ORACLE_PORT`) this serves the grid and blocks until it is
    done; with another tuner id it works as a client of that chief;
    without those variables it runs the whole grid in this process.

    Returns:
        The tuner.
    """
    if not configs:
        raise ValueError("The grid is empty.")
    check_no_conflicts(configs, output_dir)
    tuner = make_tuner(
        configs,
        output_dir,
        name=name,
        verbose=verbose,
        deterministic=deterministic,
        callbacks=callbacks,
    )
    tuner.search(verbose=verbose)
    return tuner


# ---------------------------------------------------------------------------
# Several runs on one machine.
# ---------------------------------------------------------------------------


def check_workers(workers):
    """Raises ValueError unless `workers` (of `--workers`) is an integer >= 1."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {workers!r}.")


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
    base_env = dict(os.environ if base_env is None else base_env)
    environments = []
    for tuner_id in ["chief"] + [f"tuner{index}" for index in range(workers)]:
        env = dict(base_env)
        for name, value in SHARING_ENV.items():
            env.setdefault(name, value)
        env.update(
            KERASTUNER_TUNER_ID=tuner_id,
            KERASTUNER_ORACLE_IP="127.0.0.1",
            KERASTUNER_ORACLE_PORT=str(port),
        )
        if tuner_id == "chief":
            # The chief only hands out runs: no CUDA context on the GPU.
            env["CUDA_VISIBLE_DEVICES"] = ""
        environments.append(env)
    return environments


def free_port():
    """A TCP port of 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _without_workers_flag(args):
    """`args` without any `--workers` flag (`--workers=k` or `--workers k`)."""
    kept = []
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
            continue
        name = arg.lstrip("-").split("=", 1)[0]
        if arg.startswith("-") and name == "workers":
            skip_value = "=" not in arg
            continue
        kept.append(arg)
    return kept


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


def launch_local_workers(argv, workers, *, port=None, out=None, poll_seconds=0.5):
    """Runs a sweep as a local chief and `workers` workers; returns the status.

    Starts `python -m recipes.sweep <argv[1:] without --workers> --workers=1`
    once as the chief and once per worker, with the environments of
    `worker_environments` and the repository on `PYTHONPATH`, relays their
    output to `out` line by line (each line after `[chief] `, `[tuner0] `,
    ...) and waits for all of them. If one exits with an error, or on
    KeyboardInterrupt or SIGTERM, it terminates the others.

    Args:
        argv: The command line of this process (`sys.argv`); argv[0] is
            dropped.
        workers: Number of workers (>= 1).
        port: The chief's port (default: a free one).
        out: Where the children's output goes (default: `sys.stdout`).
        poll_seconds: How often to check the children.

    Returns:
        0 if every child succeeded, else the exit status of the first one
        that failed (a negative status: killed by that signal).
    """
    check_workers(workers)
    out = sys.stdout if out is None else out
    port = free_port() if port is None else port
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    base_env = dict(os.environ)
    base_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [repo, base_env.get("PYTHONPATH")])
    )
    # The children unbuffered, so that their lines arrive as they print them.
    base_env.setdefault("PYTHONUNBUFFERED", "1")
    # The trailing --workers=1 also overrides a --workers of a --flagfile.
    command = [sys.executable, "-m", "recipes.sweep"]
    command += _without_workers_flag(argv[1:]) + ["--workers=1"]

    processes, relays = {}, []
    handles_sigterm = threading.current_thread() is threading.main_thread()
    if handles_sigterm:

        def on_sigterm(signum, frame):
            raise KeyboardInterrupt(f"signal {signum}")

        previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        for env in worker_environments(workers, port, base_env):
            tuner_id = env["KERASTUNER_TUNER_ID"]
            process = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
            processes[tuner_id] = process
            relay = threading.Thread(
                target=_relay, args=(process.stdout, f"[{tuner_id}] ", out), daemon=True
            )
            relay.start()
            relays.append(relay)
        status = 0
        while True:
            codes = {tuner_id: p.poll() for tuner_id, p in processes.items()}
            failed = [tuner_id for tuner_id, code in codes.items() if code]
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
# Report.
# ---------------------------------------------------------------------------


def mean_and_sem(values):
    """Mean and standard error of the mean (sample std / sqrt(n))."""
    values = [float(value) for value in values]
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, float("nan")
    variance = sum((value - mean) ** 2 for value in values) / (len(values) - 1)
    return mean, math.sqrt(variance / len(values))


def collect(configs, output_dir):
    """Final test accuracies grouped by table cell.

    Returns:
        `{(dataset, model, variant, label): {noise_rate: [accuracy per
        finished seed]}}`, in grid order; missing runs are left out.
    """
    cells = {}
    for config in configs:
        key = (config.dataset, config.model, config.variant, config.label)
        row = cells.setdefault(key, {})
        accuracies = row.setdefault(config.noise_rate, [])
        path = runner.results_path(config, output_dir)
        if os.path.exists(path):
            results = runner.load_results(path)
            if results.get("settings_hash") == config.settings_hash:
                accuracies.append(results["final"]["test_accuracy"])
    return cells


def markdown_table(configs, output_dir, *, percent=True):
    """Markdown tables (one per dataset and model) of mean +- s.e. accuracy."""
    cells = collect(configs, output_dir)
    noise_rates = sorted({config.noise_rate for config in configs})
    scale = 100.0 if percent else 1.0
    blocks = {}
    for (dataset, model, _, label), row in cells.items():
        lines = blocks.setdefault((dataset, model), [])
        entries = []
        for rate in noise_rates:
            values = row.get(rate, [])
            if not values:
                entries.append("-")
                continue
            mean, sem = mean_and_sem(values)
            text = f"{scale * mean:.2f}"
            if not math.isnan(sem):
                text += f" ± {scale * sem:.2f}"
            entries.append(text + ("" if len(values) > 1 else " (1 run)"))
        lines.append(f"| {label} | " + " | ".join(entries) + " |")
    out = []
    unit = "%" if percent else "fraction"
    for (dataset, model), lines in blocks.items():
        out.append(f"**{model} on {dataset}**, final test accuracy ({unit}, mean ± s.e. over seeds)")
        out.append("")
        out.append("| loss | " + " | ".join(f"noise {rate:g}" for rate in noise_rates) + " |")
        out.append("|---|" + "---|" * len(noise_rates))
        out.extend(lines)
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# main.
# ---------------------------------------------------------------------------


def configs_from_flags(flag_values=flags.FLAGS):
    """The grid of the flags."""
    return grid(
        flag_values.table,
        datasets=flag_values.datasets,
        models=flag_values.models,
        losses=flag_values.losses,
        noise_rates=flag_values.noise_rates,
        seeds=flag_values.seeds,
        **train.run_overrides(flag_values),
    )


def sweep_from_flags(flag_values=flags.FLAGS, argv=None):
    """Runs the sweep of the flags (or only reports it).

    With `--workers` above 1 the sweep runs in a local chief and workers
    (`launch_local_workers`) started with the flags of `argv` (default:
    `sys.argv`); SystemExit with the status of the first that failed.
    """
    try:
        configs = configs_from_flags(flag_values)
        check_workers(flag_values.workers)
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    output_dir = flag_values.output_dir or os.path.join("runs", flag_values.table)
    if flag_values.workers > 1 and not flag_values.report_only:
        distributed = [name for name in DISTRIBUTED_ENV if name in os.environ]
        if distributed:
            raise app.UsageError(
                f"--workers={flag_values.workers} starts its own chief and "
                f"workers, but {', '.join(distributed)} is set: unset it, or "
                "leave out --workers to join that chief."
            )
        print(
            f"{flag_values.table}: {len(configs)} runs in {output_dir}, "
            f"{flag_values.workers} at a time"
        )
        status = launch_local_workers(
            sys.argv if argv is None else argv, flag_values.workers
        )
        if status:
            raise SystemExit(status if status > 0 else 128 - status)
    elif not flag_values.report_only:
        print(f"{flag_values.table}: {len(configs)} runs in {output_dir}")
        run_sweep(
            configs,
            output_dir,
            name=flag_values.table,
            verbose=1 if flag_values.verbose is None else flag_values.verbose,
            deterministic=flag_values.deterministic,
        )
        tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
        if tuner_id != "chief" and "KERASTUNER_ORACLE_IP" in os.environ:
            mine = [e for e in read_log(output_dir) if e["tuner_id"] == tuner_id]
            print(f"Worker {tuner_id} done: {len(mine)} runs.")
            return
    missing = [c.run_id for c in configs if not runner.is_finished(c, output_dir)]
    print(markdown_table(configs, output_dir))
    if missing:
        print(f"{len(missing)} of {len(configs)} runs not finished.", file=sys.stderr)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    sweep_from_flags()


if __name__ == "__main__":
    define_flags()
    app.run(main)
