"""ResNet-32 seconds per CIFAR-10 epoch, Keras (jax) against PyTorch.

Written for a GPU machine that has jax and PyTorch but no TensorFlow: its
code uses neither TensorFlow nor tf.data (`keras.utils.set_random_seed`
imports TensorFlow only to seed it, and only where it is installed). Both
sides train ResNet-32 (464,154 parameters) with batch 128, SGD momentum 0.9,
coupled weight decay 1e-4, learning rate 0.1, float32, for `--epochs`
epochs of `--train_size` CIFAR-shaped random images, and the script reports
the median time of the epochs after the first (which compiles):

- `keras`: `zoo.resnet32` behind `keras_robust.data.DeviceAugmentation`
  (per-image flip and crop with zero padding 4, and normalisation, inside
  the compiled train step), trained with `model.fit` as `recipes.main`
  with `--config.device_resident=True` does: `keras_robust.data.make_resident_data` puts the
  uint8 training set on the accelerator once and gathers every batch there
  (`--feed=resident`, default). `--feed=host` instead passes the NumPy
  arrays to `fit`, which copies every batch from host memory.
- `torch`: `benchmarks/torch_resnet32.py` on the same device, with the
  whole set on the device as float32 and no augmentation (less work than
  the Keras side), channels-last on a GPU.

Last line: the ratio torch / keras of the median epoch times (> 1: ours is
faster). The issue's target on one H100: at most 1.5 s per epoch and faster
than PyTorch. On a CPU use small sizes, e.g.

    KERAS_BACKEND=jax python benchmarks/bench_gpu_epoch.py --train_size 1024 --epochs 2
"""

import argparse
import os
import statistics
import sys
import time

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCHMARKS)
import common  # noqa: E402

common.setup("jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zoo  # noqa: E402
from keras_robust import data  # noqa: E402
from keras_robust import losses  # noqa: E402
from epoch_clock import EpochClock  # noqa: E402

BATCH_SIZE = 128
LEARNING_RATE = 0.1
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4


def random_cifar(train_size, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (train_size, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, train_size).astype(np.int32)
    return images, labels


def keras_epochs(images, labels, epochs, feed, steps_per_execution):
    spec = data.get_spec("cifar10")
    keras.utils.set_random_seed(0)
    inputs = keras.Input(spec.image_shape, dtype="uint8")
    augmented = data.DeviceAugmentation.from_spec(spec, seed=0)(inputs)
    model = keras.Model(inputs, zoo.resnet32(spec.image_shape, 10)(augmented))
    model.compile(
        optimizer=zoo.TorchSGD(LEARNING_RATE, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY),
        loss=losses.CrossEntropy(from_logits=True),
        steps_per_execution=steps_per_execution,
    )
    clock = EpochClock()
    if feed == "resident":
        dataset = data.Dataset(spec, images, labels, images[:BATCH_SIZE], labels[:BATCH_SIZE])
        resident = data.make_resident_data(dataset, batch_size=BATCH_SIZE, noise_rate=0.0)
        model.fit(
            resident.train_dataset(), epochs=epochs,
            steps_per_epoch=resident.steps_per_epoch, shuffle=False,
            callbacks=[clock], verbose=0,
        )
    else:
        model.fit(
            images, labels, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True,
            callbacks=[clock], verbose=0,
        )
    return clock.epoch_seconds()


def torch_epochs(images, labels, epochs):
    import torch

    import torch_resnet32

    device = "cuda" if torch.cuda.is_available() else "cpu"
    memory_format = torch.channels_last if device == "cuda" else torch.contiguous_format
    torch.manual_seed(0)
    model = torch_resnet32.resnet32(10).to(device, memory_format=memory_format)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float().div(255.0)
    x = x.contiguous(memory_format=memory_format)
    y = torch.from_numpy(labels).long().to(device)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(y), device=device)
        for begin in range(0, len(y), BATCH_SIZE):
            index = order[begin:begin + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[index]), y[index])
            loss.backward()
            optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        else:
            loss.item()
        seconds.append(time.perf_counter() - start)
    return seconds, device


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train_size", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps_per_execution", type=int, default=1)
    parser.add_argument("--feed", choices=("resident", "host"), default="resident")
    parser.add_argument("--skip_torch", action="store_true")
    args = parser.parse_args()

    steps = -(-args.train_size // BATCH_SIZE)
    if steps % args.steps_per_execution:
        # Keras would train whole extra executions per epoch (see
        # recipes.train_lib.check_steps_per_execution).
        divisors = [d for d in range(1, min(steps, 64) + 1) if steps % d == 0]
        parser.error(
            f"--steps_per_execution must divide the {steps} steps per epoch; "
            f"allowed up to 64: {divisors}"
        )
    images, labels = random_cifar(args.train_size)
    print(
        f"backend {keras.backend.backend()}, {args.train_size} images, batch "
        f"{BATCH_SIZE}, {args.epochs} epochs (the first compiles)", flush=True,
    )
    keras_seconds = keras_epochs(
        images, labels, args.epochs, args.feed, args.steps_per_execution
    )
    print(f"keras ({args.feed} feed) epochs: " + ", ".join(f"{s:.2f}" for s in keras_seconds) + " s", flush=True)
    keras_median = statistics.median(keras_seconds[1:] or keras_seconds)
    if args.skip_torch:
        torch_median = None
    else:
        torch_seconds, device = torch_epochs(images, labels, args.epochs)
        print(
            f"torch ({device}) epochs: " + ", ".join(f"{s:.2f}" for s in torch_seconds) + " s"
        )
        torch_median = statistics.median(torch_seconds[1:] or torch_seconds)
    line = f"RESULT ResNet-32 seconds per epoch: keras {keras_median:.2f}"
    if torch_median is not None:
        line += f", torch {torch_median:.2f}; torch/keras = {torch_median / keras_median:.3f}"
    print(line)


if __name__ == "__main__":
    main()
