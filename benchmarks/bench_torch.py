"""ResNet-32 train step: ours (Keras 3) against PyTorch on this CPU.

Measures the time of one training step of ResNet-32 (akamaster
architecture, option-A shortcuts, BatchNormalization, 464,154 parameters;
`zoo.resnet32` against `benchmarks/torch_resnet32.py`) on one fixed batch
of 128 CIFAR-shaped images (32x32x3, float32), cross entropy on logits, SGD
with momentum 0.9, coupled weight decay 1e-4 and learning rate 0.1
(`zoo.TorchSGD` against `torch.optim.SGD`): forward, backward and update,
the same work per step.

Candidates, timed in alternation (rounds A, B, C, ... with rotated order,
a short pause between candidates so one framework's spinning worker
threads do not eat into the next one's time):

- `torch`: PyTorch eager, `torch.set_num_threads(<cores>)`, NCHW.
- `torch-cl`: the same in `torch.channels_last` memory format.
- `keras-tf`: Keras on TensorFlow as the recipes set it up (`import
  recipes` first: TensorFlow's oneDNN kernels on), `model.train_on_batch`,
  `tf.function` without XLA (`jit_compile=False`, the recipes' default).
- `keras-tf-onednn-off` (worker subprocess driven in lock-step):
  the same with `TF_ENABLE_ONEDNN_OPTS=0`, TensorFlow's own default on CPUs
  without AVX-512 VNNI or AMX (AVX2-only AMD EPYC, for one).
- `keras-tf-xla` (unless `--no-xla`): `keras-tf` with `jit_compile=True`.
- `keras-jax` (worker, unless `--no-jax`): Keras on JAX, jitted train step.
- with `--extras`: `keras-tf-kerasbn`, Keras's own (unfused)
  BatchNormalization instead of `zoo.FusedBatchNormalization`, and a
  worker with one TensorFlow inter-op thread (`keras-tf-inter1`).

It first prints the CPU (model, vector extensions) and whether
TensorFlow's oneDNN kernels are on. `--max_isa=avx2` caps oneDNN (in
TensorFlow and PyTorch) and PyTorch's own kernels at AVX2
(`ONEDNN_MAX_CPU_ISA=AVX2`, `ATEN_CPU_CAPABILITY=avx2`), which stands in for
a CPU without AVX-512 on one that has it.

Targets, for the step as the recipes set it up: torch/keras-tf
>= 1.2 (PyTorch NCHW) and torch-cl/keras-tf >= 1.0 (PyTorch's best
layout), medians over rounds of the per-round ratios. The last line gives
both, the gain from oneDNN, and PASS or MISS.

Run: `python benchmarks/bench_torch.py` (about 3 minutes on 2 cores);
`--rounds`, `--no-jax`, `--no-xla`, `--extras`, `--max_isa=avx2`.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import common

BATCH = 128
IMAGE_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
LEARNING_RATE = 0.1
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4
EXPECTED_PARAMETERS = 464_154


def _batch():
    import numpy as np

    rng = np.random.default_rng(0)
    images = rng.normal(size=(BATCH, *IMAGE_SHAPE)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, size=(BATCH,)).astype("int32")
    return images, labels


def keras_step(jit_compile, keras_batch_norm=False):
    """Returns `(step_fn, trainable_parameter_count)` on the current backend.

    `keras_batch_norm=True` builds the model with Keras's own
    BatchNormalization instead of `zoo.FusedBatchNormalization`.
    """
    import keras
    import numpy as np

    import zoo

    keras.utils.set_random_seed(0)
    images, labels = _batch()
    model = common.resnet32(IMAGE_SHAPE, NUM_CLASSES, keras_batch_norm)
    model.compile(
        optimizer=zoo.TorchSGD(
            LEARNING_RATE, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    images = keras.ops.convert_to_tensor(images)
    labels = keras.ops.convert_to_tensor(labels)
    count = sum(int(np.prod(w.shape)) for w in model.trainable_weights)

    def step():
        # Returns numpy loss values, so the step has finished.
        return model.train_on_batch(images, labels)

    return step, count


def torch_step(threads, channels_last=False):
    import torch

    import torch_resnet32

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images, labels = _batch()
    model = torch_resnet32.resnet32(NUM_CLASSES)
    model.train()
    memory_format = (
        torch.channels_last if channels_last else torch.contiguous_format
    )
    model = model.to(memory_format=memory_format)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=LEARNING_RATE,
        momentum=MOMENTUM,
        weight_decay=WEIGHT_DECAY,
    )
    images = torch.from_numpy(images).permute(0, 3, 1, 2)
    images = images.contiguous(memory_format=memory_format)
    labels = torch.from_numpy(labels).long()
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step, torch_resnet32.count_parameters(model)


class Worker:
    """A Keras configuration in a subprocess, stepped over a pipe."""

    def __init__(self, name, env, **config):
        self.name = name
        full_env = dict(os.environ)
        full_env.update(env)
        self.process = subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--worker",
                json.dumps(config),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=full_env,
            text=True,
            bufsize=1,
        )
        self.parameters = None

    def wait_ready(self):
        reply = self._read()
        self.parameters = int(reply.split()[1])

    def _read(self):
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"worker {self.name} died")
            if line.startswith(("READY", "DONE")):
                return line

    def step(self):
        self.process.stdin.write("STEP\n")
        self.process.stdin.flush()
        self._read()

    def close(self):
        try:
            self.process.stdin.write("QUIT\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass
        self.process.wait(timeout=60)


def run_worker(config):
    config = json.loads(config)
    common.setup()
    if "inter_op" in config:
        import tensorflow as tf

        tf.config.threading.set_inter_op_parallelism_threads(config["inter_op"])
    step, count = keras_step(config.get("jit_compile", True))
    step()
    step()
    print(f"READY {count}", flush=True)
    for line in sys.stdin:
        if line.strip() == "STEP":
            step()
            print("DONE", flush=True)
        else:
            break


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=1, help="per round")
    parser.add_argument("--pause", type=float, default=0.1)
    parser.add_argument("--no-jax", action="store_true")
    parser.add_argument("--no-xla", action="store_true")
    parser.add_argument("--extras", action="store_true")
    common.add_max_isa_flag(parser)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker)
        return

    common.setup("tensorflow", max_isa=args.max_isa)
    threads = common.num_cores()
    print(common.machine_summary())
    print(f"batch {BATCH}, {IMAGE_SHAPE}, float32; torch threads {threads}")
    # Workers start first so their compilation overlaps ours.
    workers = [
        # TensorFlow's own default on CPUs without AVX-512 VNNI or AMX.
        Worker(
            "keras-tf-onednn-off",
            {"KERAS_BACKEND": "tensorflow", "TF_ENABLE_ONEDNN_OPTS": "0"},
            jit_compile=False,
        )
    ]
    if not args.no_jax:
        workers.append(Worker("keras-jax", {"KERAS_BACKEND": "jax"}))
    if args.extras:
        workers.append(
            Worker(
                "keras-tf-inter1",
                {"KERAS_BACKEND": "tensorflow"},
                jit_compile=False,
                inter_op=1,
            )
        )
    start = time.perf_counter()
    import keras

    assert keras.backend.backend() == "tensorflow"
    candidates = {}
    counts = {}
    candidates["torch"], counts["torch"] = torch_step(threads)
    candidates["torch-cl"], counts["torch-cl"] = torch_step(threads, True)
    candidates["keras-tf"], counts["keras-tf"] = keras_step(False)
    if not args.no_xla:
        candidates["keras-tf-xla"], counts["keras-tf-xla"] = keras_step(True)
    if args.extras:
        candidates["keras-tf-kerasbn"], counts["keras-tf-kerasbn"] = (
            keras_step(False, keras_batch_norm=True)
        )
    for worker in workers:
        worker.wait_ready()
        candidates[worker.name] = worker.step
        counts[worker.name] = worker.parameters
    print(f"built and compiled in {time.perf_counter() - start:.0f} s")
    print("trainable parameters: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    assert set(counts.values()) == {EXPECTED_PARAMETERS}, counts

    samples = common.interleaved(
        candidates,
        rounds=args.rounds,
        steps_per_round=args.steps,
        warmup=2,
        log=print,
        pause=args.pause,
    )
    for worker in workers:
        worker.close()

    print(f"\nmedian step time over {args.rounds} rounds x {args.steps} steps:")
    keras_names = [name for name in candidates if "torch" not in name]
    for name in candidates:
        line = (
            f"  {name:20s} median {common.median(samples[name]) * 1e3:7.1f} "
            f"ms, min {min(samples[name]) * 1e3:7.1f} ms "
            f"(IQR/median {common.spread(samples[name]):.2f})"
        )
        if name in keras_names:
            for torch_name in ("torch", "torch-cl"):
                ratio = common.paired_ratio(samples, torch_name, name)
                line += f"  {torch_name}/{name} = {ratio:.3f}"
        print(line)
    # keras-tf is the step as a recipe sets it up; the targets above.
    nchw_ratio = common.paired_ratio(samples, "torch", "keras-tf")
    cl_ratio = common.paired_ratio(samples, "torch-cl", "keras-tf")
    onednn_gain = common.paired_ratio(samples, "keras-tf-onednn-off", "keras-tf")
    passed = nchw_ratio >= 1.2 and cl_ratio >= 1.0
    print(
        f"RESULT keras-tf (as the recipes set it up) "
        f"{common.median(samples['keras-tf']) * 1e3:.0f} ms: "
        f"torch/keras-tf {nchw_ratio:.3f} (target >= 1.2), "
        f"torch-cl/keras-tf {cl_ratio:.3f} (target >= 1.0), "
        f"oneDNN off/on {onednn_gain:.2f}x; "
        f"{'PASS' if passed else 'MISS'}"
    )


if __name__ == "__main__":
    main()
