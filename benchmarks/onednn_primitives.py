"""Where a ResNet-32 train step spends its oneDNN time: ours against PyTorch.

Both frameworks run their convolutions and (ours) batch normalization on
oneDNN. This runs the train steps of `bench_torch.py` (ours as the recipes
set it up, PyTorch channels-last) each in a child process under
`ONEDNN_VERBOSE=profile_exec`, which makes oneDNN print the execution time
of every primitive, and prints per step and side by side:

- the time per primitive kind and direction (convolution forward,
  backward data, backward weights, batch normalization, reorders);
- the convolutions by shape, with the kernel oneDNN chose in each framework.

The children run in alternation (`--rounds` each, ours first, then
PyTorch, then ours again, ...) and every figure is the median over rounds,
as the machines here are noisy.

Ours runs with one TensorFlow inter-op thread here, so that two primitives
never share the cores and each time is the primitive's own (with
TensorFlow's default two, concurrent primitives each report their share of
a longer wall time). The step times of `bench_torch.py` are wall times; the
sum of oneDNN times here is not, and leaves out what runs outside oneDNN
(PyTorch's batch norm and element-wise ops, TensorFlow's Eigen ops).

Run: `python benchmarks/onednn_primitives.py --max_isa=avx2` (about a
minute on 2 cores); `--steps` (timed steps per child), `--rounds`.
"""

import argparse
import collections
import ctypes
import os
import statistics
import subprocess
import sys

import common

CHILDREN = ("ours", "torch-cl")
START_MARK = "=====timed steps start"
END_MARK = "=====timed steps end"


def run_child(name, steps):
    """Runs `steps` train steps of `name`; oneDNN prints each primitive."""
    import bench_torch

    if name == "ours":
        import tensorflow as tf

        tf.config.threading.set_inter_op_parallelism_threads(1)
        step, _ = bench_torch.keras_step(False)
    else:
        step, _ = bench_torch.torch_step(common.num_cores(), channels_last=True)
    libc = ctypes.CDLL(None)

    def mark(text):
        # oneDNN writes through C stdio: flush both streams so the marks
        # land between the right primitive lines.
        sys.stdout.flush()
        libc.fflush(None)
        print(text, flush=True)
        libc.fflush(None)

    for _ in range(3):
        step()
    mark(START_MARK)
    for _ in range(steps):
        step()
    mark(END_MARK)


def parse(output, steps):
    """Per-step milliseconds by (primitive, direction) and by conv shape."""
    lines = output.splitlines()
    timed = lines[lines.index(START_MARK) + 1 : lines.index(END_MARK)]
    by_kind = collections.Counter()
    by_shape = collections.Counter()
    kernels = {}
    for line in timed:
        fields = line.split(",")
        if not line.startswith("onednn_verbose") or "exec" not in fields:
            continue
        at = fields.index("exec")
        primitive, kernel, direction = fields[at + 2 : at + 5]
        milliseconds = float(fields[-1]) / steps
        by_kind[(primitive, direction)] += milliseconds
        if primitive == "convolution":
            key = (direction, fields[-2])
            by_shape[key] += milliseconds
            kernels[key] = kernel
    return by_kind, by_shape, kernels


def median_over_rounds(parsed_rounds):
    """`parse`'s figures, each the median over rounds (0 where absent)."""
    medians = []
    for part in (0, 1):
        keys = set().union(*(parsed[part] for parsed in parsed_rounds))
        medians.append(
            collections.Counter(
                {
                    key: statistics.median(
                        parsed[part][key] for parsed in parsed_rounds
                    )
                    for key in keys
                }
            )
        )
    kernels = {}
    for parsed in parsed_rounds:
        kernels.update(parsed[2])
    return medians[0], medians[1], kernels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    common.add_max_isa_flag(parser)
    parser.add_argument("--child", choices=CHILDREN, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for flag in ("steps", "rounds"):
        value = getattr(args, flag)
        if value < 1:
            parser.exit(2, f"--{flag} must be at least 1. Received: {value}\n")
    common.setup("tensorflow", max_isa=args.max_isa)
    if args.child:
        run_child(args.child, args.steps)
        return

    print(common.machine_summary())
    env = dict(os.environ, ONEDNN_VERBOSE="profile_exec")
    rounds = {name: [] for name in CHILDREN}
    for _ in range(args.rounds):
        for name in CHILDREN:
            child = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--child", name,
                 "--steps", str(args.steps)],
                env=env, capture_output=True, text=True, check=False,
            )
            if child.returncode or START_MARK not in child.stdout:
                sys.exit(f"{name} failed:\n{child.stderr[-2000:]}")
            rounds[name].append(parse(child.stdout, args.steps))
    ours_kind, ours_shape, ours_kernel = median_over_rounds(rounds["ours"])
    torch_kind, torch_shape, torch_kernel = median_over_rounds(rounds["torch-cl"])
    print(
        f"\noneDNN time per train step, ms (mean of {args.steps} steps, "
        f"median of {args.rounds} rounds):"
    )
    print(f"  {'primitive':40s} {'ours':>8s} {'torch-cl':>9s} {'ours/torch':>11s}")
    for key in sorted(set(ours_kind) | set(torch_kind), key=lambda k: -ours_kind[k]):
        ours, torch = ours_kind[key], torch_kind[key]
        ratio = f"{ours / torch:11.2f}" if torch > 0.05 else f"{'-':>11s}"
        print(f"  {' '.join(key):40s} {ours:8.1f} {torch:9.1f} {ratio}")
    total_ours, total_torch = sum(ours_kind.values()), sum(torch_kind.values())
    print(f"  {'all oneDNN primitives':40s} {total_ours:8.1f} {total_torch:9.1f}")

    print("\nconvolutions by shape (ours pads strided ones with ZeroPadding2D,")
    print("so their input is 2 pixels larger and unpadded), ms per step:")
    for key in sorted(set(ours_shape) | set(torch_shape),
                      key=lambda k: -(ours_shape[k] + torch_shape[k])):
        direction, shape = key
        print(
            f"  {direction:17s} {shape:58s} {ours_shape[key]:6.2f} "
            f"{ours_kernel.get(key, '-'):>32s} | {torch_shape[key]:6.2f} "
            f"{torch_kernel.get(key, '-')}"
        )


if __name__ == "__main__":
    main()
