"""Cost of each keras_robust loss in a ResNet-32 train step, against CE.

Measures `model.train_on_batch` of `zoo.resnet32` (CIFAR shapes: one fixed
batch of 128 images 32x32x3, 10 classes, `zoo.TorchSGD` with momentum 0.9,
weight decay 1e-4, learning rate 0.1, the accuracy metric as in the
recipes, TensorFlow backend, `jit_compile=False` as in the recipes or
`--jit`) with every loss of `keras_robust.losses` on logits
(`from_logits=True`): CrossEntropy, ProbabilityMeanAbsoluteError with
output_bias 1.5 (MAE*), GeneralizedCrossEntropy, SymmetricCrossEntropy,
NormalizedFocalMAE, NormalizedCrossEntropyMAE, BiTemperedLogisticLoss and
BoundedCrossEntropy, against the same step with Keras's
`SparseCategoricalCrossentropy(from_logits=True)` ("keras-ce").

One model per loss, all compiled up front, then rounds in which every
model takes one step (rotated order); per loss it prints the median step
time and the median over rounds of the per-round ratio to keras-ce.

A whole step is noisy on a shared 2-core machine, so it also times the
loss alone (value and gradient with respect to the `(128, 10)` logits,
`tf.function`, interleaved too) and prints its extra cost over keras-ce,
and the step-time ratio that this extra cost implies:
`(step_ce + loss_cost - ce_cost) / step_ce`.

Target: every loss within 1.05x of CE per step, bi-tempered within 1.10x.
A loss counts as SLOW when its measured median ratio is above target and
either the 95% confidence interval of that median (order statistics over
the rounds) lies above target too, or its own cost implies a ratio above
target. The last line gives the worst measured and implied ratios and
PASS/MISS.

It first prints the CPU (model, vector extensions) and whether
TensorFlow's oneDNN kernels are on (the recipes' default: `common.setup`
imports `recipes`).

Run: `python benchmarks/bench_losses.py` (about 2-3 minutes on 2 idle
cores); `--rounds`, `--jit`. To stand in for a CPU without AVX-512, run it
with `ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2` in the environment.
"""

import argparse
import time

import common

common.setup("tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import zoo  # noqa: E402
from keras_robust import losses  # noqa: E402

BATCH = 128
NUM_CLASSES = 10
BASELINE = "keras-ce"
TOLERANCE = {"biTemp": 1.10}
DEFAULT_TOLERANCE = 1.05


def make_losses():
    return {
        BASELINE: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        "CE": losses.CrossEntropy(from_logits=True),
        "MAE*": losses.ProbabilityMeanAbsoluteError(
            from_logits=True, output_bias=1.5
        ),
        "genCE": losses.GeneralizedCrossEntropy(from_logits=True),
        "symCE": losses.SymmetricCrossEntropy(from_logits=True),
        "actPas1": losses.NormalizedFocalMAE(from_logits=True),
        "actPas2": losses.NormalizedCrossEntropyMAE(from_logits=True),
        "biTemp": losses.BiTemperedLogisticLoss(from_logits=True),
        "boundCE": losses.BoundedCrossEntropy(from_logits=True),
    }


def train_steps(loss_objects, jit_compile, images, labels):
    """One compiled ResNet-32 per loss, same initial weights."""
    keras.utils.set_random_seed(0)
    reference = zoo.resnet32((32, 32, 3), NUM_CLASSES)
    weights = reference.get_weights()
    steps = {}
    for name, loss in loss_objects.items():
        model = zoo.resnet32((32, 32, 3), NUM_CLASSES)
        model.set_weights(weights)
        model.compile(
            optimizer=zoo.TorchSGD(0.1, momentum=0.9, weight_decay=1e-4),
            loss=loss,
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=jit_compile,
        )
        # Bind the model now, not the loop variable.
        steps[name] = lambda model=model: model.train_on_batch(images, labels)
    return steps


def loss_only_steps(loss_objects, jit_compile, labels, repeats):
    """`repeats` value-and-gradient evaluations of each loss per call."""
    logits = tf.constant(
        np.random.default_rng(1).normal(size=(BATCH, NUM_CLASSES)) * 3,
        "float32",
    )
    steps = {}
    for name, loss in loss_objects.items():

        @tf.function(jit_compile=jit_compile)
        def value_and_gradient(logits, loss=loss):
            total = tf.constant(0.0)
            for _ in range(repeats):
                with tf.GradientTape() as tape:
                    tape.watch(logits)
                    value = loss(labels, logits)
                gradient = tape.gradient(value, logits)
                total += value + tf.reduce_sum(gradient)
                # Make the next repeat depend on this one.
                logits = logits + 0.0 * total
            return total

        steps[name] = lambda fn=value_and_gradient: fn(logits).numpy()
    return steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--loss-rounds", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--jit", action="store_true", help="jit_compile=True")
    parser.add_argument(
        "--only", help="comma-separated loss names (keras-ce always runs)"
    )
    args = parser.parse_args()
    print(common.machine_summary())

    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(BATCH, 32, 32, 3)), "float32")
    labels = tf.constant(rng.integers(0, NUM_CLASSES, size=(BATCH,)), "int32")
    loss_objects = make_losses()
    if args.only:
        keep = {BASELINE, *args.only.split(",")}
        loss_objects = {k: v for k, v in loss_objects.items() if k in keep}

    start = time.perf_counter()
    loss_steps = loss_only_steps(loss_objects, args.jit, labels, args.repeats)
    loss_samples = common.interleaved(
        loss_steps, rounds=args.loss_rounds, warmup=2
    )
    loss_cost = {
        name: common.median(values) / args.repeats
        for name, values in loss_samples.items()
    }
    print(
        f"loss alone (value + gradient on ({BATCH}, {NUM_CLASSES}) logits, "
        f"median of {args.loss_rounds} rounds x {args.repeats}) in "
        f"{time.perf_counter() - start:.0f} s"
    )

    start = time.perf_counter()
    steps = train_steps(loss_objects, args.jit, images, labels)
    samples = common.interleaved(
        steps, rounds=args.rounds, warmup=1, log=print, pause=0.05
    )
    print(f"train steps (incl. compiling) in {time.perf_counter() - start:.0f} s")

    step_ce = common.median(samples[BASELINE])
    print(
        f"\nResNet-32 train step, batch {BATCH}, jit_compile={args.jit}, "
        f"median of {args.rounds} rounds; keras-ce IQR/median "
        f"{common.spread(samples[BASELINE]):.2f}"
    )
    print(
        f"  {'loss':9s} {'step ms':>8s} {'ratio':>6s} {'95% CI':>13s} "
        f"{'loss us':>8s} {'extra us':>8s} {'implied':>7s} target verdict"
    )
    worst = None
    slow = []
    for name in loss_objects:
        ratios = common.paired_ratios(samples, name, BASELINE)
        ratio = common.median(ratios)
        low, high = common.median_interval(ratios)
        extra = loss_cost[name] - loss_cost[BASELINE]
        implied = (step_ce + extra) / step_ce
        target = TOLERANCE.get(name, DEFAULT_TOLERANCE)
        if ratio <= target:
            verdict = "ok"
        elif low <= target and implied <= target:
            # Not distinguishable from the target at this noise level, and
            # the loss's own cost says it is well within it.
            verdict = "ok (noise)"
        else:
            verdict = "SLOW"
        print(
            f"  {name:9s} {common.median(samples[name]) * 1e3:8.1f} "
            f"{ratio:6.3f} {low:6.3f}-{high:6.3f} "
            f"{loss_cost[name] * 1e6:8.0f} {extra * 1e6:8.0f} "
            f"{implied:7.4f} {target:6.2f} {verdict}"
        )
        if name == BASELINE:
            continue
        if worst is None or ratio / target > worst[1] / worst[3]:
            worst = (name, ratio, implied, target)
        if verdict == "SLOW":
            slow.append(name)
    implied_worst = max(
        (name for name in loss_objects if name != BASELINE),
        key=lambda n: loss_cost[n],
    )
    implied_ratio = (
        step_ce + loss_cost[implied_worst] - loss_cost[BASELINE]
    ) / step_ce
    name, ratio, _, target = worst
    print(
        f"RESULT loss/CE train-step ratio (keras-ce {step_ce * 1e3:.0f} ms): "
        f"measured worst {name} {ratio:.3f} (target {target:.2f}), implied "
        f"worst {implied_worst} {implied_ratio:.4f}: "
        + ("PASS" if not slow else "MISS " + ", ".join(slow))
    )

if __name__ == "__main__":
    main()
