"""ResNet-32 evaluation with the fused batch norm against Keras's own.

The per-epoch test and false-label evaluation of the recipes is about a
seventh of a CIFAR epoch at 20 % noise (`bench_epoch.py`), all of it
ResNet-32 inference. `zoo.FusedBatchNormalization` runs TensorFlow's fused
kernel in inference too, which TensorFlow's graph optimizer can merge with
the convolution before it. This benchmark times `model.evaluate` over
`--images` CIFAR-shaped images in batches of 1000 (the recipes' evaluation
batch), alternating round by round between

- `fused`: `zoo.resnet32` as shipped;
- `keras-bn`: the same network with `keras.layers.BatchNormalization`,

with the same weights (the moving statistics of a few training steps), and
checks that both give the same logits. Last line: the median per-round
ratio keras-bn / fused (> 1: the fused layer is faster) and the ratio of
the best rounds (the least disturbed by other load).

    python benchmarks/bench_evaluation.py [--rounds 8] [--images 2000]
"""

import argparse
import os
import sys

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCHMARKS)

import common  # noqa: E402

common.setup("tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import zoo  # noqa: E402

EVAL_BATCH_SIZE = 1000


def build(keras_batch_norm):
    model = common.resnet32(keras_batch_norm=keras_batch_norm)
    model.compile(
        optimizer=zoo.TorchSGD(0.1, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    images = rng.standard_normal((args.images, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, args.images).astype("int32")
    test = tf.data.Dataset.from_tensor_slices((images, labels))
    test = test.batch(EVAL_BATCH_SIZE).cache()

    keras.utils.set_random_seed(0)
    fused = build(keras_batch_norm=False)
    fused.fit(images[:256], labels[:256], batch_size=128, verbose=0, shuffle=False)
    keras_bn = build(keras_batch_norm=True)
    keras_bn.set_weights(fused.get_weights())
    expected = keras_bn.predict(images[:200], verbose=0)
    actual = fused.predict(images[:200], verbose=0)
    difference = float(np.max(np.abs(actual - expected)))
    print(f"max |logit difference| fused vs keras-bn: {difference:.2e}")
    assert difference < 1e-3 * max(1.0, float(np.max(np.abs(expected))))

    candidates = {
        "fused": lambda: fused.evaluate(test, verbose=0),
        "keras-bn": lambda: keras_bn.evaluate(test, verbose=0),
    }
    samples = common.interleaved(candidates, args.rounds, warmup=1, log=print)
    for name, values in samples.items():
        print(
            f"{name:9s} median {common.median(values):.3f} s per evaluation of "
            f"{args.images} images (IQR/median {common.spread(values):.2f})"
        )
    ratio = common.paired_ratio(samples, "keras-bn", "fused")
    best = min(samples["keras-bn"]) / min(samples["fused"])
    print(
        f"RESULT evaluation time keras-bn / fused = {ratio:.3f} (median of "
        f"per-round ratios); best-of-rounds {best:.3f}"
    )


if __name__ == "__main__":
    main()
