"""Cost of each keras_robust loss in a train step, against CE.

Measures `model.train_on_batch` with every loss of `keras_robust.losses` on
logits (`from_logits=True`): CrossEntropy, ProbabilityMeanAbsoluteError
with output_bias 1.5 (MAE*), GeneralizedCrossEntropy, SymmetricCrossEntropy,
NormalizedFocalMAE, NormalizedCrossEntropyMAE, BiTemperedLogisticLoss and
BoundedCrossEntropy, against the same step with Keras's
`SparseCategoricalCrossentropy(from_logits=True)` ("keras-ce"). Two
models (`--model`), each as its recipes train it, with the accuracy metric:

- `resnet32` (default): `zoo.resnet32` at CIFAR shapes, one fixed batch of
  128 images 32x32x3, 10 classes, `zoo.TorchSGD` with momentum 0.9, weight
  decay 1e-4, learning rate 0.1;
- `mlp1024`: `zoo.mlp1024` at digit-pairs shapes, batch 32 of 8x16x1,
  100 classes, SGD with momentum 0.95, learning rate 0.01, where the loss
  weighs most (100 classes, a small step).

On the TensorFlow backend (default, `jit_compile=False` as in the TensorFlow
recipes, or `--jit`) or on jax (`--backend=jax`, always compiled, as the
MLP recipes run by default).

One model per loss, all compiled up front, then rounds in which every
model takes one step (rotated order); per loss it prints the median step
time and the median over rounds of the per-round ratio to keras-ce.

A whole step is noisy on a shared 2-core machine, so it also times the
loss alone (value and gradient with respect to the logits, compiled,
interleaved too) and prints its extra cost over keras-ce, and the
step-time ratio that this extra cost implies:
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
cores); `--model=mlp1024 --backend=jax` for the MLP recipes' step;
`--rounds`, `--jit`. To stand in for a CPU without AVX-512, run it
with `ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2` in the environment.
"""

import argparse
import sys
import time

import common

BACKENDS = ("tensorflow", "jax")


def _add_backend_argument(parser):
    parser.add_argument(
        "--backend", choices=BACKENDS, default="tensorflow",
        help="the Keras backend (KERAS_BACKEND in the environment wins)",
    )


def _backend_argument(argv):
    """`--backend`, read before Keras is imported (it fixes the backend)."""
    parser = argparse.ArgumentParser(add_help=False)
    _add_backend_argument(parser)
    known, _ = parser.parse_known_args(argv)
    return known.backend


common.setup(_backend_argument(sys.argv[1:]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zoo  # noqa: E402
from keras_robust import losses  # noqa: E402

#: Per `--model`: (builder, input shape, classes, batch, optimizer).
MODELS = {
    "resnet32": (
        zoo.resnet32, (32, 32, 3), 10, 128,
        lambda: zoo.TorchSGD(0.1, momentum=0.9, weight_decay=1e-4),
    ),
    "mlp1024": (
        zoo.mlp1024, (8, 16, 1), 100, 32,
        lambda: keras.optimizers.SGD(0.01, momentum=0.95),
    ),
}
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


def train_steps(model_name, loss_objects, jit_compile, images, labels):
    """One compiled model per loss, same initial weights."""
    build, input_shape, num_classes, _, optimizer = MODELS[model_name]
    keras.utils.set_random_seed(0)
    weights = build(input_shape, num_classes).get_weights()
    steps = {}
    for name, loss in loss_objects.items():
        model = build(input_shape, num_classes)
        model.set_weights(weights)
        model.compile(
            optimizer=optimizer(),
            loss=loss,
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=jit_compile,
        )
        # Bind the model now, not the loop variable.
        steps[name] = lambda model=model: model.train_on_batch(images, labels)
    return steps


def _tensorflow_value_and_gradient(loss, labels, repeats, jit_compile):
    import tensorflow as tf

    @tf.function(jit_compile=jit_compile)
    def value_and_gradient(logits):
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

    return value_and_gradient


def _jax_value_and_gradient(loss, labels, repeats, jit_compile):
    del jit_compile  # Always compiled, as Keras's jax train step.
    import jax
    import jax.numpy as jnp

    value_and_grad = jax.value_and_grad(lambda logits: loss(labels, logits))

    @jax.jit
    def value_and_gradient(logits):
        total = jnp.zeros(())
        for _ in range(repeats):
            value, gradient = value_and_grad(logits)
            total += value + jnp.sum(gradient)
            # Make the next repeat depend on this one.
            logits = logits + 0.0 * total
        return total

    return value_and_gradient


def loss_only_steps(loss_objects, jit_compile, labels, num_classes, repeats):
    """`repeats` compiled value-and-gradient evaluations of each loss per call."""
    logits = keras.ops.convert_to_tensor(
        np.random.default_rng(1).normal(size=(len(labels), num_classes)) * 3,
        "float32",
    )
    labels = keras.ops.convert_to_tensor(labels)
    compiled = {
        "tensorflow": _tensorflow_value_and_gradient,
        "jax": _jax_value_and_gradient,
    }[keras.backend.backend()]
    steps = {}
    for name, loss in loss_objects.items():
        fn = compiled(loss, labels, repeats, jit_compile)
        steps[name] = lambda fn=fn: float(fn(logits))
    return steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--loss-rounds", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--jit", action="store_true",
        help="jit_compile=True (TensorFlow; jax always compiles)",
    )
    parser.add_argument("--model", choices=sorted(MODELS), default="resnet32")
    _add_backend_argument(parser)
    parser.add_argument(
        "--only", help="comma-separated loss names (keras-ce always runs)"
    )
    args = parser.parse_args()
    if keras.backend.backend() not in BACKENDS:
        parser.error(
            f"KERAS_BACKEND={keras.backend.backend()} is not allowed here: "
            f"one of {', '.join(BACKENDS)} (or unset, and --backend)."
        )
    print(common.machine_summary())

    _, input_shape, num_classes, batch, _ = MODELS[args.model]
    jit_compile = args.jit or keras.backend.backend() == "jax"
    rng = np.random.default_rng(0)
    images = rng.normal(size=(batch, *input_shape)).astype("float32")
    labels = rng.integers(0, num_classes, size=(batch,)).astype("int32")
    loss_objects = make_losses()
    if args.only:
        keep = {BASELINE, *args.only.split(",")}
        loss_objects = {k: v for k, v in loss_objects.items() if k in keep}

    start = time.perf_counter()
    loss_steps = loss_only_steps(
        loss_objects, jit_compile, labels, num_classes, args.repeats
    )
    loss_samples = common.interleaved(
        loss_steps, rounds=args.loss_rounds, warmup=2
    )
    loss_cost = {
        name: common.median(values) / args.repeats
        for name, values in loss_samples.items()
    }
    print(
        f"loss alone (value + gradient on ({batch}, {num_classes}) logits, "
        f"median of {args.loss_rounds} rounds x {args.repeats}) in "
        f"{time.perf_counter() - start:.0f} s"
    )

    start = time.perf_counter()
    steps = train_steps(args.model, loss_objects, jit_compile, images, labels)
    samples = common.interleaved(
        steps, rounds=args.rounds, warmup=1, log=print, pause=0.05
    )
    print(f"train steps (incl. compiling) in {time.perf_counter() - start:.0f} s")

    step_ce = common.median(samples[BASELINE])
    print(
        f"\n{args.model} train step on {keras.backend.backend()}, batch {batch}, "
        f"jit_compile={jit_compile}, "
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
