"""Epoch time of a whole `recipes.runner.run` epoch against pure train steps.

A training epoch of the recipes is more than its train steps: the tf.data
stream (shuffle, per-image augmentation), the Keras callbacks (learning-rate
schedule, progress, the per-epoch checkpoint) and the evaluation of test and
false-label accuracy. This benchmark measures, in one process and
alternating round by round:

- `epoch`: the second epoch of `runner.run` (the first one compiles) on a
  CIFAR-10-shaped Table 2 cell (ResNet-32, batch 128, 20 % symmetric
  noise), from the end of epoch 1 to the end of epoch 2, callbacks and
  evaluation included. The data are random uint8 images with the paper's
  split proportions (`--train_size` training images and a fifth of that as
  test images), so the evaluation share of the epoch is the real one.
- `steps`: the same number of train steps of the same compiled model on one
  fixed batch already in memory (`model.fit` on a repeated batch, no
  callbacks), i.e. the model's pure train-step time.

It also reports `epoch_no_eval`: the epoch with the per-epoch test and
false-label evaluation left out, to separate input and callback overhead
from evaluation. Prints the medians and, on the last line, the ratio
epoch / steps. Target: at most 1.15.

    python benchmarks/bench_epoch.py [--rounds 3] [--train_size 2560]
"""

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import zoo  # noqa: E402
from keras_robust import data  # noqa: E402
from keras_robust import losses  # noqa: E402
from recipes import runner  # noqa: E402


def synthetic_cifar10(train_size, seed=0):
    """Random uint8 images with CIFAR-10's spec and a 5:1 train/test split."""
    rng = np.random.default_rng(seed)
    spec = data.get_spec("cifar10")
    test_size = max(1, train_size // 5)
    return data.Dataset(
        spec=spec,
        x_train=rng.integers(0, 256, (train_size, 32, 32, 3), dtype=np.uint8),
        y_train=rng.integers(0, 10, train_size).astype(np.int64),
        x_test=rng.integers(0, 256, (test_size, 32, 32, 3), dtype=np.uint8),
        y_test=rng.integers(0, 10, test_size).astype(np.int64),
    )


class _EpochClock(keras.callbacks.Callback):
    """Wall time at the end of every epoch, after all earlier callbacks."""

    def __init__(self):
        super().__init__()
        self.ends = []

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter())


def time_run_epoch(dataset, config, evaluate=True):
    """Seconds of the second epoch of `runner.run(config)`."""
    clock = _EpochClock()
    patches = [mock.patch.object(data, "load_dataset", lambda *a, **k: dataset)]
    if not evaluate:
        patches.append(
            mock.patch.object(runner._EpochMetrics, "_accuracy", lambda self, d: 0.0)
        )
    with tempfile.TemporaryDirectory() as output_dir, contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        runner.run(config, output_dir, verbose=0, callbacks=[clock])
    return clock.ends[1] - clock.ends[0]


def time_pure_steps(config, steps):
    """Seconds of `steps` train steps of the same model on one fixed batch."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    model = zoo.build(config.model, (32, 32, 3), 10)
    model.compile(
        optimizer=zoo.TorchSGD(
            config.learning_rate, momentum=config.momentum,
            weight_decay=config.weight_decay,
        ),
        loss=losses.get(config.loss, from_logits=True, **config.loss_kwargs),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=config.jit_compile,
    )
    rng = np.random.default_rng(1)
    images = rng.standard_normal((config.batch_size, 32, 32, 3)).astype(np.float32)
    labels = rng.integers(0, 10, config.batch_size).astype(np.int32)
    batches = tf.data.Dataset.from_tensors((images, labels)).repeat()
    clock = _EpochClock()
    model.fit(
        batches, epochs=2, steps_per_epoch=steps, callbacks=[clock], verbose=0
    )
    return clock.ends[1] - clock.ends[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train_size", type=int, default=2560)
    parser.add_argument("--noise_rate", type=float, default=0.2)
    parser.add_argument("--loss", default="ce")
    args = parser.parse_args()

    dataset = synthetic_cifar10(args.train_size)
    config = runner.RunConfig.paper_defaults(
        "cifar10", "resnet32", args.loss, noise_rate=args.noise_rate, seed=0,
        epochs=2,
    )
    steps = -(-args.train_size // config.batch_size)
    print(
        f"ResNet-32, batch {config.batch_size}, {args.train_size} training and "
        f"{len(dataset.y_test)} test images, noise {args.noise_rate}: "
        f"{steps} steps per epoch; {args.rounds} rounds"
    )
    samples = {"epoch": [], "epoch_no_eval": [], "steps": []}
    for round_index in range(args.rounds):
        order = ["epoch", "epoch_no_eval", "steps"]
        order = order[round_index % 3:] + order[:round_index % 3]
        for name in order:
            if name == "epoch":
                seconds = time_run_epoch(dataset, config)
            elif name == "epoch_no_eval":
                seconds = time_run_epoch(dataset, config, evaluate=False)
            else:
                seconds = time_pure_steps(config, steps)
            samples[name].append(seconds)
            print(f"  round {round_index + 1} {name:14s} {seconds:7.2f} s", flush=True)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(f"median {name:14s} {value:7.2f} s ({value / steps * 1000:.0f} ms/step)")
    print(
        f"ratio epoch_no_eval/steps = {medians['epoch_no_eval'] / medians['steps']:.3f}"
    )
    print(
        f"ratio epoch/steps = {medians['epoch'] / medians['steps']:.3f} "
        "(target <= 1.15)"
    )


if __name__ == "__main__":
    main()
