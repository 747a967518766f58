"""The recipes' whole-run time per step against the bare compiled step.

For MLP1024 on digit pairs (128 inputs, 100 classes, batch 32, SGD with
momentum: the quickstart's 100-class block) and, with `--resnet`,
ResNet-32 on CIFAR-shaped random data, this prints side by side, in ms
per training step:

- `gemm floor` (MLP only): the step's matrix products alone, a jax-jitted
  gradient of the bare chain of the MLP's kernels (no bias, activation,
  loss or optimizer): what the arithmetic needs on this CPU;
- `fit <backend>`: `model.fit` of the run's model (`train_lib.build_model`
  and `compile_model` of the resolved spec) for one epoch of in-memory
  batches (NumPy arrays, no callbacks): the bare compiled step of each
  backend (jax: jitted; tensorflow: the default tf.function; tensorflow
  XLA: `jit_compile=True`);
- `recipe <backend>`: a whole `recipes.train_lib.train_and_evaluate` run of
  the resolved spec with `data=` the in-memory dataset, in a fresh run
  directory: its wall time over its training steps, evaluation of the test
  and false-label sets every epoch and a checkpoint every epoch included.
  `recipe jax` is a run as the recipes make it under jax: the arrays fed
  as they are (`device_resident`, the default under jax) and jax's
  persistent compilation cache on (`recipes.start_command_line`), holding
  the steps of an earlier run of the same model and loss, as for every
  run of a sweep but the first of each model and loss; `recipe jax,
  compiling` is the same without the cache (that first run, or the
  cache turned off); `recipe jax, tf.data` feeds the tf.data stream
  instead (`device_resident=False`, the TensorFlow backend's default).

Each backend runs in its own worker process (a process has one Keras
backend); the main process asks the workers for one measurement at a
time, alternating the candidates round by round (`common.interleaved`'s
rotation), and prints the medians over rounds and the median per-round
ratio to `fit jax`, the bare compiled jax step (the target of a recipe run
is at most 1.3 of it).

The recipe run's time is broken down by timers around each part, wrapped
onto the trainer's own functions for the run: `data` (`train_lib.load_data`:
label noise and pipelines), `evaluation` (the per-epoch `train_lib.
Evaluation`), `checkpointing` (`checkpoint.SaveEveryEpoch.on_epoch_end`:
the variables' snapshot and the wait for the previous write; the write
itself runs in a background thread during the next epoch), `training`
(each epoch's span, from the epoch's start to the end of the last run
callback, less evaluation and checkpointing), `compilation` (the first
epoch's training and evaluation less the median of the later epochs'),
and `other` (the rest of the run's wall time: model building, results,
`fit`'s set-up). Every part is given in ms per training step of the run.

    python benchmarks/bench_recipe_step.py [--rounds 3] [--epochs 3] [--resnet]
"""

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from unittest import mock

import common

# The candidates of each worker process; a worker's Keras backend is the
# first word of its name. "jax-cache" runs the recipe with jax's persistent
# compilation cache (in a directory of its own, filled by its warm-up run),
# as the recipes set it up.
WORKERS = {
    "jax": ("gemm floor", "fit jax", "recipe jax, compiling"),
    "jax-cache": ("recipe jax", "recipe jax, tf.data"),
    "tensorflow": ("fit tensorflow", "fit tensorflow XLA", "recipe tensorflow"),
}
BASELINE = "fit jax"
PARTS = ("training", "evaluation", "checkpointing", "data", "compilation", "other")


def run_spec(args, **fields):
    """The resolved spec of the benchmarked run."""
    from recipes import config as config_lib

    config = config_lib.get_default_config()
    if args.resnet:
        config.dataset, config.model = "cifar10", "resnet32"
    else:
        config.dataset, config.model, config.learning_rate = "digit_pairs", "mlp1024", 0.01
    config.loss, config.noise_rate, config.epochs = "ce", 0.4, args.epochs
    config.train_size = args.train_size
    config.verbose = 0
    return config_lib.resolve(config_lib.override(config, fields))


def benchmark_dataset(args):
    """Digit pairs, or random uint8 images of CIFAR-10's shape (5:1 split)."""
    import numpy as np

    from keras_robust import data

    if not args.resnet:
        return data.load_dataset("digit_pairs")
    rng = np.random.default_rng(0)
    size = args.train_size
    return data.Dataset(
        data.get_spec("cifar10"),
        rng.integers(0, 256, (size, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, size),
        rng.integers(0, 256, (size // 5, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, size // 5),
    )


class _PhaseClock:
    """Timers wrapped around the trainer's parts for one run (see the docstring)."""

    def __init__(self, project_epochs):
        self.project_epochs = project_epochs
        self.parts = {"data": [], "evaluation": [], "checkpointing": []}
        self.epochs = []

    def timed(self, part, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.parts[part].append(time.perf_counter() - start)

        return wrapper

    def callback(self):
        import keras

        clock = self

        class EpochSpan(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                clock.epochs.append(time.perf_counter() - self.start)

        return EpochSpan()

    def breakdown(self, wall, steps_per_epoch):
        """`{part: seconds}` of the run, `PARTS` and `whole`."""
        evaluation = self.parts["evaluation"]
        checkpointing = self.parts["checkpointing"]
        training = [
            span - e - c for span, e, c in zip(self.epochs, evaluation, checkpointing)
        ]
        compilation = (training[0] - statistics.median(training[1:])) + (
            evaluation[0] - statistics.median(evaluation[1:])
        )
        parts = {
            "training": sum(training) - (training[0] - statistics.median(training[1:])),
            "evaluation": sum(evaluation) - (evaluation[0] - statistics.median(evaluation[1:])),
            "checkpointing": sum(checkpointing),
            "data": sum(self.parts["data"]),
            "compilation": compilation,
        }
        parts["other"] = wall - sum(parts.values())
        epochs = len(self.epochs)
        per_step = {
            name: seconds / (epochs * steps_per_epoch)
            for name, seconds in {**parts, "whole": wall}.items()
        }
        # The same run at `project_epochs`: the per-epoch parts scale, the
        # once-per-run parts (data, compilation, other) do not.
        once = parts["data"] + parts["compilation"] + parts["other"]
        per_epoch = (wall - once) / epochs
        per_step["projected"] = (once + self.project_epochs * per_epoch) / (
            self.project_epochs * steps_per_epoch
        )
        return per_step


def time_recipe(args, dataset, **fields):
    """Seconds per step of a whole run of the spec with `fields`, and its breakdown."""
    from recipes import checkpoint
    from recipes import train_lib

    spec = run_spec(args, **fields)
    clock = _PhaseClock(args.project_epochs)
    save = checkpoint.SaveEveryEpoch.on_epoch_end
    with tempfile.TemporaryDirectory() as workdir, mock.patch.object(
        train_lib, "load_data", clock.timed("data", train_lib.load_data)
    ), mock.patch.object(
        train_lib.Evaluation, "__call__", clock.timed("evaluation", train_lib.Evaluation.__call__)
    ), mock.patch.object(
        checkpoint.SaveEveryEpoch, "on_epoch_end", clock.timed("checkpointing", save)
    ):
        start = time.perf_counter()
        train_lib.train_and_evaluate(
            spec, os.path.join(workdir, "run"), data=dataset, callbacks=[clock.callback()]
        )
        wall = time.perf_counter() - start
    steps_per_epoch = -(-min(args.train_size or 10**9, len(dataset.y_train)) // spec.batch_size)
    return clock.breakdown(wall, steps_per_epoch)


def fit_candidate(args, dataset, xla):
    """A function timing one epoch of bare `model.fit` on in-memory batches."""
    import keras

    from recipes import train_lib

    spec = run_spec(args, jit_compile=xla)
    keras.utils.set_random_seed(0)
    run_data = train_lib.load_data(spec, dataset)
    model = train_lib.build_model(spec, run_data)
    train_lib.compile_model(spec, model)
    steps = run_data.steps_per_epoch
    size = steps * spec.batch_size
    repeats = -(-size // run_data.num_train_examples)
    images = (run_data.x_train.repeat(repeats, axis=0))[:size]
    labels = (run_data.noisy_labels.repeat(repeats))[:size]

    def one_epoch():
        start = time.perf_counter()
        model.fit(images, labels, batch_size=spec.batch_size, epochs=1, verbose=0, shuffle=False)
        return (time.perf_counter() - start) / steps

    return one_epoch


def gemm_floor_candidate(args, dataset):
    """A function timing the jitted matrix products of one MLP step."""
    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np

    from keras_robust import data
    from recipes import train_lib

    spec = run_spec(args)
    model = train_lib.build_model(spec, data.prepare_run_data(dataset, spec.feed))
    kernels = [
        jnp.asarray(keras.ops.convert_to_numpy(layer.kernel))
        for layer in model.layers[-1].layers if hasattr(layer, "kernel")
    ]
    inputs = jnp.asarray(np.random.default_rng(0).standard_normal(
        (spec.batch_size, kernels[0].shape[0])).astype("float32"))

    def chain(weights, x):
        for kernel in weights:
            x = x @ kernel
        return jnp.sum(x * x)

    step = jax.jit(jax.grad(chain))
    steps = 157

    def run():
        start = time.perf_counter()
        for _ in range(steps):
            gradients = step(kernels, inputs)
        jax.block_until_ready(gradients)
        return (time.perf_counter() - start) / steps

    return run


def worker(args):
    """A backend's worker: reads candidate names, answers JSON lines."""
    dataset = benchmark_dataset(args)
    candidates = {}
    if args.worker == "jax-cache":
        import jax

        jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="jax-cache-"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    for name in WORKERS[args.worker]:
        if name == "gemm floor":
            if not args.resnet:
                candidates[name] = gemm_floor_candidate(args, dataset)
        elif name.startswith("fit"):
            candidates[name] = fit_candidate(args, dataset, xla=name.endswith("XLA"))
        else:
            fields = {"device_resident": False} if name.endswith("tf.data") else {}
            candidates[name] = functools.partial(time_recipe, args, dataset, **fields)
    for name, candidate in candidates.items():
        candidate()  # warm-up: compiles, fills caches
    print(json.dumps({"ready": list(candidates)}), flush=True)
    for line in sys.stdin:
        result = candidates[line.strip()]()
        print(json.dumps({"result": result}), flush=True)


class Worker:
    """A worker process of one backend, driven over its standard streams."""

    def __init__(self, kind, argv):
        environment = {**os.environ, "KERAS_BACKEND": kind.split("-")[0]}
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), *argv, f"--worker={kind}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment,
        )
        self.names = self._read()["ready"]

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.process.args[-1]} ended: {self.process.wait()}")
        return json.loads(line)

    def measure(self, name):
        self.process.stdin.write(name + "\n")
        self.process.stdin.flush()
        return self._read()["result"]

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each recipe run")
    parser.add_argument("--train_size", type=int, default=None,
                        help="training images (default: all 5000 digit pairs; 1280 with --resnet)")
    parser.add_argument("--project_epochs", type=int, default=20,
                        help="also project each recipe run to this many epochs (the quickstart's 20)")
    parser.add_argument("--resnet", action="store_true", help="ResNet-32 on CIFAR-shaped data")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.resnet and args.train_size is None:
        args.train_size = 1280
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # workers inherit it
    if args.epochs < 2:
        parser.error(f"--epochs must be at least 2 (the first one compiles). Received: {args.epochs}")
    if args.worker:
        common.setup(args.worker.split("-")[0])
        return worker(args)
    common.setup("tensorflow")
    argv = [f"--epochs={args.epochs}", f"--project_epochs={args.project_epochs}"] + (["--resnet"] if args.resnet else [])
    if args.train_size:
        argv.append(f"--train_size={args.train_size}")
    print(common.machine_summary())
    model = "ResNet-32 on CIFAR-shaped random data" if args.resnet else "MLP1024 on digit pairs"
    print(f"{model}; recipe runs of {args.epochs} epochs; {args.rounds} rounds", flush=True)
    workers = [Worker(kind, argv) for kind in WORKERS]
    try:
        owners = {name: w for w in workers for name in w.names}
        breakdowns = {name: [] for name in owners if name.startswith("recipe")}

        def measure(name):
            def run():
                result = owners[name].measure(name)
                if isinstance(result, dict):
                    breakdowns[name].append(result)
                    result = result["whole"]
                times[name] = result
            return run

        samples = {name: [] for name in owners}
        names = list(owners)
        for round_index in range(args.rounds):
            shift = round_index % len(names)
            times = {}
            for name in names[shift:] + names[:shift]:
                measure(name)()
                samples[name].append(times[name])
            print(f"round {round_index + 1}: " + ", ".join(
                f"{name} {samples[name][-1] * 1e3:.2f}" for name in names) + " ms/step", flush=True)
    finally:
        for w in workers:
            w.close()
    print(f"\n| what | ms per step (median) | x {BASELINE} (median per-round ratio) |")
    print("|---|---|---|")
    for name in names:
        ratio = common.paired_ratio(samples, name, BASELINE)
        print(f"| {name} | {common.median(samples[name]) * 1e3:.2f} | {ratio:.2f} |")
    for name, runs in breakdowns.items():
        print(f"\n{name}, ms per step by part (median over rounds):")
        for part in PARTS:
            print(f"  {part:14s} {statistics.median(r[part] for r in runs) * 1e3:7.3f}")
        projected = statistics.median(r["projected"] for r in runs)
        print(f"  whole run projected to {args.project_epochs} epochs: {projected * 1e3:.3f}")
    baseline = common.median(samples[BASELINE])
    for name, runs in breakdowns.items():
        projected = statistics.median(r["projected"] for r in runs)
        print(
            f"RESULT {name} / {BASELINE} = {common.paired_ratio(samples, name, BASELINE):.3f} "
            f"({args.epochs} epochs); projected to {args.project_epochs} epochs "
            f"{projected / baseline:.3f} (target <= 1.3)"
        )


if __name__ == "__main__":
    main()
