"""Epoch time of a whole `recipes.train_lib` epoch against pure train steps.

A training epoch of the recipes is more than its network's train steps: the
tf.data stream (shuffle, batch, prefetch of raw uint8 images), the model's
first layer (`DeviceAugmentation`: per-image augmentation and
normalisation, inside the compiled step), the Keras callbacks
(learning-rate schedule, augmentation reseeding, the per-epoch checkpoint)
and the evaluation of test and false-label accuracy. This benchmark
measures, in one process and alternating round by round:

- `epoch`: an epoch of `train_lib.train_and_evaluate` on a
  CIFAR-10-shaped Table 2 cell (ResNet-32, batch 128, 20 % symmetric
  noise), from the end of one epoch to the end of the next, callbacks and
  evaluation included. The data are random uint8 images with the paper's
  split proportions (`--train_size` training images and a fifth of that as
  test images), so the evaluation share of the epoch is the real one.
  The time spent evaluating is reported separately.
- `steps`: the same number of train steps of the run's network alone
  (`zoo.build`, compiled by `train_lib.compile_model`, without the
  augmentation layer) on one fixed, normalised batch already in memory
  (`model.fit` on a repeated batch, no callbacks), i.e. the network's pure
  train-step time. The augmentation therefore counts in the epoch, not in
  the steps, as it did when tf.data augmented.

`--feed` picks the run's data path: the tf.data stream (default) or the
device-resident data of `device_resident` (which needs no TensorFlow, so
`KERAS_BACKEND=jax python benchmarks/bench_epoch.py --feed resident` runs
on a jax-only GPU machine).

Epochs after the first of each run are timed (the first compiles); runs
and pure-step fits alternate, round by round. Prints the medians and, on
the last line, the median over rounds of the ratio epoch / steps within a
round (which cancels drift slower than a round). Target: at most 1.15.
The same ratio of the process's CPU seconds (all its threads: tf.data's,
TensorFlow's) is printed too: on a machine shared with other work it
moves less with the load than the wall time does.

    python benchmarks/bench_epoch.py [--rounds 3] [--epochs 3] [--eval_every 1] [--feed tf.data]
"""

import argparse
import itertools
import statistics
import tempfile
import time
from unittest import mock

import common

common.setup("tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zoo  # noqa: E402
from keras_robust import data  # noqa: E402
from recipes import config as config_lib  # noqa: E402
from recipes import train_lib  # noqa: E402

from epoch_clock import EpochClock  # noqa: E402


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


class CpuEpochClock(EpochClock):
    """An `EpochClock` that also records the process's CPU time."""

    def __init__(self):
        super().__init__()
        self.cpu_times = []

    def on_epoch_begin(self, epoch, logs=None):
        if not self.cpu_times:
            self.cpu_times.append(time.process_time())
        super().on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        self.cpu_times.append(time.process_time())

    def epoch_cpu_seconds(self):
        """CPU seconds (all threads) of every epoch after the first."""
        return [float(seconds) for seconds in np.diff(self.cpu_times)][1:]


def time_run_epochs(dataset, config):
    """Epoch seconds of `train_and_evaluate(config)`, the evaluation's share, and
    the epochs' CPU seconds."""
    clock = CpuEpochClock()
    evaluation_seconds = []
    evaluate = train_lib.Evaluation.__call__

    def timed_evaluation(self, model):
        start = time.perf_counter()
        value = evaluate(self, model)
        evaluation_seconds.append(time.perf_counter() - start)
        return value

    with tempfile.TemporaryDirectory() as output_dir, mock.patch.object(
        data, "load_dataset", lambda *args, **kwargs: dataset
    ), mock.patch.object(train_lib.Evaluation, "__call__", timed_evaluation):
        train_lib.train_and_evaluate(config, output_dir, callbacks=[clock])
    # One evaluation (test and false label) per epoch; drop the first epoch's.
    per_epoch = evaluation_seconds[1:]
    return clock.epoch_seconds()[1:], per_epoch, clock.epoch_cpu_seconds()


def time_pure_epochs(dataset, config, steps):
    """Epoch seconds of `steps` train steps of the bare network on one batch.

    The network is the run's (`zoo.build`) compiled as the trainer compiles
    (`train_lib.compile_model`), without the augmentation layer; the batch is
    the first one of the run's own training stream, normalised once and
    repeated from memory (on the device for a `device_resident` run).
    Returns the epoch seconds and CPU seconds.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    with mock.patch.object(data, "load_dataset", lambda *args, **kwargs: dataset):
        datasets = train_lib.load_data(config)
    spec = datasets.spec
    network = zoo.build(config.model, spec.image_shape, spec.num_classes)
    train_lib.compile_model(config, network)
    if config.device_resident:
        images, labels = datasets.train_dataset()[0]
        batch = (data.normalize(images, spec.mean, spec.std), labels)
        batches = (batch for _ in itertools.count())
    else:
        import tensorflow as tf

        images, labels = next(iter(datasets.train_dataset()))
        images = keras.ops.convert_to_numpy(
            data.normalize(images.numpy(), spec.mean, spec.std)
        )
        batches = tf.data.Dataset.from_tensors((images, labels)).repeat()
    clock = CpuEpochClock()
    network.fit(
        batches, epochs=config.epochs, steps_per_epoch=steps, callbacks=[clock],
        verbose=0, shuffle=False,
    )
    return clock.epoch_seconds()[1:], clock.epoch_cpu_seconds()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train_size", type=int, default=2560)
    parser.add_argument("--noise_rate", type=float, default=0.2)
    parser.add_argument("--eval_every", type=int, default=1)
    parser.add_argument("--loss", default="ce")
    parser.add_argument(
        "--feed", choices=("tf.data", "resident"), default="tf.data",
        help="tf.data: batches of raw images from the tf.data stream "
        "(default); resident: the whole set on the device "
        "(make_resident_data). Both are augmented in the model.",
    )
    args = parser.parse_args()

    dataset = synthetic_cifar10(args.train_size)
    config = config_lib.get_default_config()
    config.dataset, config.model, config.loss = "cifar10", "resnet32", args.loss
    config.noise_rate, config.epochs = args.noise_rate, args.epochs
    config.eval_every, config.device_resident = args.eval_every, args.feed == "resident"
    config.verbose = 0
    config = config_lib.resolve(config)
    steps = -(-args.train_size // config.batch_size)
    print(
        f"ResNet-32, batch {config.batch_size}, {args.train_size} training and "
        f"{len(dataset.y_test)} test images, noise {args.noise_rate}, "
        f"eval_every {args.eval_every}, feed {args.feed}, backend "
        f"{keras.backend.backend()}: {steps} steps per epoch; "
        f"{args.rounds} rounds of {args.epochs} epochs (the first one untimed)"
    )
    epochs, evaluations, pure, round_ratios, cpu_ratios = [], [], [], [], []
    for round_index in range(args.rounds):
        medians, cpu_medians = {}, {}
        for name in (("run", "steps") if round_index % 2 == 0 else ("steps", "run")):
            if name == "run":
                seconds, evaluation, cpu = time_run_epochs(dataset, config)
                epochs += seconds
                evaluations += evaluation
            else:
                seconds, cpu = time_pure_epochs(dataset, config, steps)
                pure += seconds
            medians[name] = statistics.median(seconds)
            cpu_medians[name] = statistics.median(cpu)
            print(
                f"  round {round_index + 1} {name:5s} epochs: "
                + ", ".join(f"{value:.2f}" for value in seconds) + " s (CPU "
                + ", ".join(f"{value:.2f}" for value in cpu) + " s)",
                flush=True,
            )
        round_ratios.append(medians["run"] / medians["steps"])
        cpu_ratios.append(cpu_medians["run"] / cpu_medians["steps"])
    epoch = statistics.median(epochs)
    step = statistics.median(pure)
    evaluation = statistics.median(evaluations) if evaluations else 0.0
    print(f"median epoch of train_lib       {epoch:7.2f} s ({epoch / steps * 1000:.0f} ms/step)")
    print(f"  of which evaluation           {evaluation:7.2f} s")
    print(f"median pure network train steps {step:7.2f} s ({step / steps * 1000:.0f} ms/step)")
    print(f"ratio of the medians (epoch - evaluation)/steps = {(epoch - evaluation) / step:.3f}")
    print(f"ratio of the medians epoch/steps = {epoch / step:.3f}")
    print("per-round ratios epoch/steps: " + ", ".join(f"{r:.3f}" for r in round_ratios))
    print(
        "per-round ratios of CPU seconds epoch/steps: "
        + ", ".join(f"{r:.3f}" for r in cpu_ratios)
        + f"; median {statistics.median(cpu_ratios):.3f}"
    )
    print(
        f"RESULT epoch/steps = {statistics.median(round_ratios):.3f} (median of the "
        "per-round ratios; target <= 1.15)"
    )

if __name__ == "__main__":
    main()
