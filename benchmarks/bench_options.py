"""Which compile options pay: steps_per_execution, XLA, mixed precision.

Measures, alternating round by round in one process, the time per train
step (`model.fit` on one in-memory batch, the epoch after the compiling
one) of:

- MLP1024 at the paper's batch 32 (CIFAR shapes): `steps_per_execution`
  1 against 16, and `jit_compile` off against on;
- ResNet-32 at batch 128: float32 against the `mixed_bfloat16` policy
  (the losses compute in float32 either way).

Prints the median step time of each and, per pair, the speed-up of the
option (> 1: the option pays). The recipes expose each as a flag
(`--steps_per_execution`, `--jit_compile`, `--mixed_precision`).

    python benchmarks/bench_options.py [--rounds 3]
"""

import argparse
import statistics

import common

common.setup("tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import zoo  # noqa: E402
from keras_robust import losses  # noqa: E402

from epoch_clock import EpochClock  # noqa: E402

CANDIDATES = {
    # name: (model, batch size, steps per epoch, compile options, policy)
    "mlp spe=1": ("mlp1024", 32, 160, {"steps_per_execution": 1}, "float32"),
    "mlp spe=16": ("mlp1024", 32, 160, {"steps_per_execution": 16}, "float32"),
    "mlp xla": ("mlp1024", 32, 160, {"jit_compile": True}, "float32"),
    "resnet float32": ("resnet32", 128, 6, {}, "float32"),
    "resnet bfloat16": ("resnet32", 128, 6, {}, "mixed_bfloat16"),
}
PAIRS = (
    ("steps_per_execution 16 (MLP, batch 32)", "mlp spe=1", "mlp spe=16"),
    ("jit_compile (MLP, batch 32)", "mlp spe=1", "mlp xla"),
    ("mixed_bfloat16 (ResNet-32, batch 128)", "resnet float32", "resnet bfloat16"),
)


def seconds_per_step(model_name, batch_size, steps, options, policy):
    keras.backend.clear_session()
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = zoo.build(model_name, (32, 32, 3), 10)
        model.compile(
            optimizer=zoo.TorchSGD(0.01, momentum=0.9),
            loss=losses.CrossEntropy(from_logits=True),
            jit_compile=options.get("jit_compile", False),
            steps_per_execution=options.get("steps_per_execution", 1),
        )
        rng = np.random.default_rng(0)
        images = rng.standard_normal((batch_size, 32, 32, 3)).astype(np.float32)
        labels = rng.integers(0, 10, batch_size).astype(np.int32)
        batches = tf.data.Dataset.from_tensors((images, labels)).repeat()
        clock = EpochClock()
        model.fit(batches, epochs=2, steps_per_epoch=steps, callbacks=[clock], verbose=0)
        return clock.epoch_seconds()[1] / steps
    finally:
        keras.config.set_dtype_policy("float32")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    samples = {name: [] for name in CANDIDATES}
    names = list(CANDIDATES)
    for round_index in range(args.rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds = seconds_per_step(*CANDIDATES[name])
            samples[name].append(seconds)
            print(f"round {round_index + 1} {name:16s} {seconds * 1000:8.2f} ms/step", flush=True)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(f"median {name:16s} {value * 1000:8.2f} ms/step")
    speedups = []
    for label, baseline, option in PAIRS:
        speedup = medians[baseline] / medians[option]
        speedups.append(f"{label} {speedup:.2f}x")
        print(f"speed-up of {label}: {speedup:.2f}x")
    print("RESULT option speed-ups (> 1 pays): " + "; ".join(speedups))


if __name__ == "__main__":
    main()
