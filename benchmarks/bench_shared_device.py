"""How many runs pay on one device: aggregate throughput of k concurrent runs.

`python -m recipes.main --config=... --workers=k` trains k runs of a sweep at the same time on
one machine, sharing its accelerator (or its CPU cores). That pays when
one run leaves the device idle part of the time (small models, small
batches: Python and dispatch overhead between steps) and costs when one
run already fills it (k runs then compete, and each also pays for
switching). This benchmark measures it.

For every k in 1..`--max_workers` it starts a group of k processes (this
script with `--child`; 1 + 2 + ... processes in all, started together),
each of which builds the model (`zoo.build`, compiled with `zoo.TorchSGD`
and `keras_robust.losses.CrossEntropy` like the recipes), trains
`--warmup_steps` steps on random data of the paper's shapes (compiling the
train step; untimed) and waits. Then, `--repeats` rounds: in each round
every group in turn (the order rotating from round to round, so that
drift and load from other processes hit every k alike) is released at
once, each of its k processes trains `--steps` steps with `model.fit`,
and the group's time runs from the release to the last one's end. Only
one group trains at a time; the others wait, idle. The aggregate
throughput of a group is `k * steps` over its time (train steps per
second summed over the k runs; the runs per hour of a sweep scale with it).

Models: `--model mlp1024` (batch 32, Fashion-MNIST shapes 28x28x1, the
case where one run fills a device least) and `--model resnet32` (batch
128, CIFAR shapes 32x32x3). The backend is `KERAS_BACKEND`'s (the
children inherit the environment; TensorFlow by default).
`--threads_per_worker=n` sets `TF_NUM_INTRAOP_THREADS`, `OMP_NUM_THREADS`
(and `TF_NUM_INTEROP_THREADS=1`) in the children of the groups of k >= 2,
to test whether limiting the threads of concurrent runs on a CPU helps;
the k=1 group, the baseline, is always one run as it runs alone. By
default each backend picks its thread counts itself (one per core).

Prints every round, the median aggregate throughput per k, and as its last
line the median over rounds of the ratio of k runs' aggregate throughput
to one run's in the same round (> 1: sharing pays):

    python benchmarks/bench_shared_device.py [--max_workers 3] [--repeats 5]
    python benchmarks/bench_shared_device.py --model resnet32   # 6 steps per round
    python benchmarks/bench_shared_device.py --threads_per_worker 1
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCHMARKS)

import common  # noqa: E402

# model: (input shape, batch size, default timed steps, default warm-up steps)
MODELS = {
    "mlp1024": ((28, 28, 1), 32, 300, 20),
    "resnet32": ((32, 32, 3), 128, 6, 2),
}
NUM_CLASSES = 10
READY = "ready"
GO = "go"


def thread_environment(threads):
    """Environment settings that cap a child's CPU threads (None: no cap).

    TensorFlow reads `TF_NUM_INTRAOP_THREADS` / `TF_NUM_INTEROP_THREADS`
    when it starts; PyTorch (and other OpenMP code) reads
    `OMP_NUM_THREADS`.
    """
    if threads is None:
        return {}
    return {
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "OMP_NUM_THREADS": str(threads),
    }


# ---------------------------------------------------------------------------
# One child: one run's train steps.
# ---------------------------------------------------------------------------


def child(model_name, steps, warmup_steps, seed):
    """Warms up, says ready, then times `steps` steps per "go" on stdin."""
    common.setup()
    import keras
    import numpy as np

    import zoo
    from keras_robust import losses

    input_shape, batch_size, _, _ = MODELS[model_name]
    keras.utils.set_random_seed(seed)
    model = zoo.build(model_name, input_shape, NUM_CLASSES)
    model.compile(
        optimizer=zoo.TorchSGD(0.01, momentum=0.9),
        loss=losses.CrossEntropy(from_logits=True),
    )
    rng = np.random.default_rng(seed)
    size = batch_size * max(steps, warmup_steps)
    images = rng.standard_normal((size,) + input_shape).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, size).astype(np.int32)

    def fit(n):
        model.fit(
            images[: n * batch_size],
            labels[: n * batch_size],
            batch_size=batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
        )

    fit(warmup_steps)  # compiles the train step
    print(READY, flush=True)
    while sys.stdin.readline().strip() == GO:
        start = time.time()
        fit(steps)
        end = time.time()
        print(json.dumps({"start": start, "end": end, "steps": steps}), flush=True)


# ---------------------------------------------------------------------------
# The parent: groups of k children.
# ---------------------------------------------------------------------------


def rate(steps_per_second):
    """Steps per second with three significant digits or one decimal."""
    if steps_per_second >= 100:
        return f"{steps_per_second:.1f}"
    return f"{steps_per_second:.3g}"


class Group:
    """k child processes that train together when released."""

    def __init__(self, k, args, env, seed_offset):
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            f"--model={args.model}",
            f"--steps={args.steps}",
            f"--warmup_steps={args.warmup_steps}",
        ]
        # TensorFlow's start-up chatter goes to a file, shown if a child fails.
        self.logs = [tempfile.TemporaryFile("w+") for _ in range(k)]
        self.processes = [
            subprocess.Popen(
                command + [f"--seed={seed_offset + index}"],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
            for index, log in enumerate(self.logs)
        ]

    def _read(self, process):
        line = process.stdout.readline()
        if not line:
            self.show_logs()
            raise RuntimeError(f"A child exited with status {process.wait()}.")
        return line.strip()

    def wait_ready(self):
        for process in self.processes:
            line = self._read(process)
            if line != READY:
                raise RuntimeError(f"A child said {line!r} instead of {READY!r}.")

    def run(self):
        """Releases the k children at once; the group's seconds and rates."""
        release = time.time()
        for process in self.processes:
            process.stdin.write(GO + "\n")
            process.stdin.flush()
        reports = [json.loads(self._read(process)) for process in self.processes]
        seconds = max(report["end"] for report in reports) - release
        return {
            "seconds": seconds,
            "aggregate": sum(report["steps"] for report in reports) / seconds,
            "per_run": [r["steps"] / (r["end"] - r["start"]) for r in reports],
        }

    def show_logs(self):
        for log in self.logs:
            log.seek(0)
            sys.stderr.write(log.read()[-3000:])

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                try:
                    process.stdin.close()  # the child's loop ends
                except OSError:
                    pass
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="mlp1024")
    parser.add_argument("--max_workers", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--steps", type=int, default=None,
        help="Timed train steps per run and round (default: 300 mlp1024, 6 resnet32).",
    )
    parser.add_argument(
        "--warmup_steps", type=int, default=None,
        help="Untimed steps per run first (default: 20 mlp1024, 2 resnet32).",
    )
    parser.add_argument(
        "--threads_per_worker", type=int, default=None,
        help="Cap the CPU threads of every run of the groups of k >= 2 "
        "(default: the backend decides).",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    _, batch_size, default_steps, default_warmup = MODELS[args.model]
    args.steps = args.steps or default_steps
    args.warmup_steps = args.warmup_steps or default_warmup
    if args.child:
        child(args.model, args.steps, args.warmup_steps, args.seed)
        return
    if args.max_workers < 2:
        parser.error(f"--max_workers must be at least 2, got {args.max_workers}.")

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    threads = args.threads_per_worker or "backend default"
    threads = f"{threads} (k >= 2)" if args.threads_per_worker else threads
    print(
        f"{args.model}, batch {batch_size}, {args.steps} timed steps per run; "
        f"backend {backend}; {common.num_cores()} cores; threads per run: {threads}; "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # As `recipes.launcher.SHARING_ENV`: all 1 + 2 + ... children hold a GPU at
    # once, so none may preallocate most of its memory.
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    capped = dict(env, **thread_environment(args.threads_per_worker))
    counts = list(range(1, args.max_workers + 1))
    groups = {}
    try:
        for k in counts:
            groups[k] = Group(k, args, env if k == 1 else capped, seed_offset=100 * k)
        for group in groups.values():
            group.wait_ready()
        samples = {k: [] for k in counts}
        for round_index in range(args.repeats):
            shift = round_index % len(counts)
            for k in counts[shift:] + counts[:shift]:
                result = groups[k].run()
                samples[k].append(result["aggregate"])
                per_run = ", ".join(rate(value) for value in result["per_run"])
                print(
                    f"round {round_index + 1} k={k}: {rate(result['aggregate']):>6} "
                    f"steps/s aggregate ({result['seconds']:.2f} s; per run {per_run})",
                    flush=True,
                )
    finally:
        for group in groups.values():
            group.close()
    medians = {k: common.median(values) for k, values in samples.items()}
    ratios = {
        k: common.median([a / b for a, b in zip(samples[k], samples[1])]) for k in counts
    }
    for k in counts:
        print(
            f"median k={k}: {rate(medians[k]):>6} steps/s aggregate, "
            f"{rate(medians[k] / k):>6} per run; vs k=1 {ratios[k]:.2f}x "
            f"(range over rounds {rate(min(samples[k]))}-{rate(max(samples[k]))})"
        )
    print(f"load average {os.getloadavg()[0]:.2f} (1 min, this benchmark included)")
    print(
        "RESULT aggregate throughput vs 1 run: "
        + ", ".join(f"k={k} {ratios[k]:.2f}" for k in counts[1:])
    )


if __name__ == "__main__":
    main()
