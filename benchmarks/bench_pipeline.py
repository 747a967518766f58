"""Throughput of the CIFAR-10 input path against a ResNet-32 step.

The tf.data pipeline only shuffles, batches and prefetches raw uint8
images; the model's first layer, `DeviceAugmentation`, augments (per image)
and normalises inside the compiled train step. Measures, in one process,
on 50,000 random uint8 images of CIFAR shape, batch 128:

1. images/s of `make_pipelines(...).train_dataset()` (raw batches);
2. images/s of the in-model augmentation: `DeviceAugmentation` with the
   CIFAR-10 policy (flip, crop) and with the CIFAR-100 policy (crop, flip,
   rotation), plus normalisation, with `training=True`, compiled as in the
   runner's train step: a TensorFlow graph (`tf.function`, the runner's
   default `jit_compile=False`) and with XLA (`--jit_compile`);
3. images/s of a compiled ResNet-32 train step (`zoo.resnet32`, SGD
   momentum 0.9, batch 128, cross entropy on logits) after warm-up.

Prints the median of `--repeats` measurements of each and, on the last
lines, the ratios augmentation / model and pipeline / model: how many
times faster than the network each stage is, i.e. (for the augmentation,
which runs inside the step) the inverse of its share of a step. The
pipeline should deliver at least 3 times what the model consumes, and the
augmentation should cost at most a few per cent of a step.

Run from the repository root (TensorFlow backend):

    python benchmarks/bench_pipeline.py [--repeats 5] [--batches 200]
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_robust import data  # noqa: E402

NUM_IMAGES = 50_000
BATCH_SIZE = 128
# Distinct input batches the augmentation cycles through.
NUM_AUGMENT_BATCHES = 16


def _rates(repeats, count, run_once):
    """`count` images/s of `repeats` timed runs of `run_once`."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_once()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates), rates


def _random_images(count, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)


def pipeline_images_per_second(repeats, batches, seed=0):
    """Median images/s of the tf.data training stream of raw batches."""
    rng = np.random.default_rng(seed)
    dataset = data.Dataset(
        spec=data.get_spec("cifar10"),
        x_train=_random_images(NUM_IMAGES, seed),
        y_train=rng.integers(0, 10, NUM_IMAGES),
        x_test=np.zeros((1, 32, 32, 3), np.uint8),
        y_test=np.zeros(1, np.int64),
    )
    pipelines = data.make_pipelines(
        dataset, batch_size=BATCH_SIZE, noise_rate=0.4, seed=seed
    )
    iterator = iter(pipelines.train_dataset())
    for _ in range(20):  # warm-up: tracing and prefetch
        next(iterator)

    def run_once():
        for _ in range(batches):
            next(iterator)

    return _rates(repeats, batches * BATCH_SIZE, run_once)


def augmentation_images_per_second(policy, jit_compile, repeats, batches):
    """Median images/s of `DeviceAugmentation(policy)` in a compiled step."""
    spec = data.get_spec("cifar10")
    layer = data.DeviceAugmentation.from_spec(spec, policy=policy, seed=0)
    layer.build((None, 32, 32, 3))
    inputs = [
        tf.constant(_random_images(BATCH_SIZE, seed))
        for seed in range(NUM_AUGMENT_BATCHES)
    ]

    @tf.function(jit_compile=jit_compile)
    def augment(images):
        return layer(images, training=True)

    for images in inputs[:3]:  # warm-up: tracing and compilation
        augment(images).numpy()

    def run_once():
        for index in range(batches):
            out = augment(inputs[index % NUM_AUGMENT_BATCHES])
        out.numpy()  # wait for the last batch

    return _rates(repeats, batches * BATCH_SIZE, run_once)


def model_images_per_second(repeats, steps, seed=0):
    """Median images/s of a compiled ResNet-32 SGD train step, batch 128."""
    import keras

    import zoo

    keras.utils.set_random_seed(seed)
    model = zoo.resnet32((32, 32, 3), 10)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(BATCH_SIZE, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, BATCH_SIZE)
    for _ in range(3):  # warm-up: tracing and compilation
        model.train_on_batch(images, labels)

    def run_once():
        for _ in range(steps):
            loss = model.train_on_batch(images, labels)
        float(np.asarray(loss))  # wait for the last step

    return _rates(repeats, steps * BATCH_SIZE, run_once)


def _report(name, result):
    rate, rates = result
    print(
        f"{name:36s} {rate:10.0f} img/s  "
        f"(runs: {', '.join(f'{value:.0f}' for value in rates)})",
        flush=True,
    )
    return rate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--batches", type=int, default=200,
        help="pipeline and augmentation batches per repeat",
    )
    parser.add_argument(
        "--steps", type=int, default=3, help="model steps per repeat"
    )
    args = parser.parse_args(argv)
    print(
        f"tensorflow {tf.__version__}, {os.cpu_count()} CPUs, "
        f"{NUM_IMAGES} images, batch {BATCH_SIZE}, median of {args.repeats}"
    )
    pipeline = _report(
        "tf.data stream of raw batches:",
        pipeline_images_per_second(args.repeats, args.batches),
    )
    augmentation = {}
    for policy in ("flip_crop", "crop_flip_rotate"):
        for jit_compile, mode in ((False, "graph"), (True, "XLA")):
            augmentation[policy, mode] = _report(
                f"in-model {policy}, {mode}:",
                augmentation_images_per_second(
                    policy, jit_compile, args.repeats, args.batches
                ),
            )
    model = _report(
        "ResNet-32 train step:",
        model_images_per_second(args.repeats, args.steps),
    )
    print(f"ratio pipeline/model: {pipeline / model:.0f}x")
    for (policy, mode), rate in augmentation.items():
        print(
            f"ratio augmentation/model, {policy}, {mode}: {rate / model:.0f}x "
            f"(augmentation {100 * model / rate:.2f} % of a step)"
        )


if __name__ == "__main__":
    main()
