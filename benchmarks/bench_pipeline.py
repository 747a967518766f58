"""Throughput of the CIFAR-10 training pipeline against a ResNet-32 step.

Measures, in one process:

1. images/s of `make_pipelines(...).train_dataset()` on 50,000 random uint8
   images of CIFAR shape, with the CIFAR-10 policy (flip, crop) and with
   the CIFAR-100 policy (crop, flip, rotation), batch 128, normalised
   float32 output;
2. images/s of a compiled ResNet-32 train step (`zoo.resnet32`, SGD
   momentum 0.9, batch 128, cross entropy on logits) after warm-up.

Prints the median of `--repeats` measurements of each and, on the last
line, the ratio pipeline (flip+crop) / model. The pipeline should deliver
at least 3 times what the model consumes so that it never starves it.

Run from the repository root:

    python benchmarks/bench_pipeline.py [--repeats 5] [--batches 200]
"""

import argparse
import dataclasses
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_robust import data  # noqa: E402

NUM_IMAGES = 50_000
BATCH_SIZE = 128


def pipeline_images_per_second(policy, repeats, batches, seed=0):
    """Median images/s of the training stream with augmentation `policy`."""
    rng = np.random.default_rng(seed)
    spec = dataclasses.replace(data.get_spec("cifar10"), augmentation=policy)
    dataset = data.Dataset(
        spec=spec,
        x_train=rng.integers(0, 256, (NUM_IMAGES, 32, 32, 3), dtype=np.uint8),
        y_train=rng.integers(0, 10, NUM_IMAGES),
        x_test=np.zeros((1, 32, 32, 3), np.uint8),
        y_test=np.zeros(1, np.int64),
    )
    pipelines = data.make_pipelines(
        dataset, batch_size=BATCH_SIZE, noise_rate=0.4, seed=seed
    )
    iterator = iter(pipelines.train_dataset())
    for _ in range(20):  # warm-up: tracing, XLA compilation, prefetch
        next(iterator)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = 0
        for _ in range(batches):
            images, _ = next(iterator)
            count += int(images.shape[0])
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates), rates


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
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(images, labels)
        float(np.asarray(loss))  # wait for the last step
        rates.append(steps * BATCH_SIZE / (time.perf_counter() - start))
    return statistics.median(rates), rates


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--batches", type=int, default=200, help="pipeline batches per repeat"
    )
    parser.add_argument(
        "--steps", type=int, default=3, help="model steps per repeat"
    )
    args = parser.parse_args(argv)
    print(
        f"tensorflow {tf.__version__}, {os.cpu_count()} CPUs, "
        f"{NUM_IMAGES} images, batch {BATCH_SIZE}, median of {args.repeats}"
    )
    flip_crop, rates = pipeline_images_per_second(
        "flip_crop", args.repeats, args.batches
    )
    print(
        f"pipeline crop+flip:        {flip_crop:10.0f} img/s  "
        f"(runs: {', '.join(f'{rate:.0f}' for rate in rates)})"
    )
    rotate, rates = pipeline_images_per_second(
        "crop_flip_rotate", args.repeats, args.batches
    )
    print(
        f"pipeline crop+flip+rotate: {rotate:10.0f} img/s  "
        f"(runs: {', '.join(f'{rate:.0f}' for rate in rates)})"
    )
    model, rates = model_images_per_second(args.repeats, args.steps)
    print(
        f"ResNet-32 train step:      {model:10.0f} img/s  "
        f"(runs: {', '.join(f'{rate:.0f}' for rate in rates)})"
    )
    print(
        f"ratio pipeline/model: crop+flip {flip_crop / model:.1f}x, "
        f"crop+flip+rotate {rotate / model:.1f}x"
    )


if __name__ == "__main__":
    main()
