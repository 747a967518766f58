"""How many local workers pay for a sweep of small runs on this machine.

`python -m recipes.main --config=... --workers=k` trains k runs of a sweep
at a time. On a CPU a single MLP1024 run at batch 32 keeps the cores busy
only during its train steps' matrix products; the rest of a run (building
the model, tracing and loading its compiled steps, the per-epoch
evaluation, Python between steps, writing results) and the command's own
start-up and report run on one core. This benchmark times the whole
command, as a user runs it, for every k of `--workers` (0: the runs one
after the other in the command's own process), alternating the k's round
by round (`common.interleaved`'s rotation), each time in a fresh workdir
and with an empty jax compilation cache of its own (a fresh
`XDG_CACHE_HOME`), as on a first run. It prints every round, the median
seconds per k and, as its last line, the median per-round ratio of each k
to `--workers=0` (< 1: the workers pay).

    python benchmarks/bench_workers.py [--config 'quickstart:seeds=0'] [--workers 0 2 3] [--rounds 2]

The default sweep is a third of the quickstart (seed 0 only: 11 runs of
20 epochs). Every command runs from a temporary directory outside the
checkout with the repository on `PYTHONPATH`; the backend is the recipes'
(`KERAS_BACKEND` if set, else jax where installed).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import common


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config", default="quickstart:seeds=0",
        help="the sweep, as --config of recipes.main (default: %(default)s)",
    )
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[0, 2, 3],
        help="the worker counts to compare; 0 (one process) is the baseline "
        "and is added if missing (default: 0 2 3)",
    )
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if any(k < 0 for k in args.workers):
        parser.error(f"--workers: expected counts >= 0. Received: {args.workers}")
    if args.rounds < 1:
        parser.error(f"--rounds: expected at least 1. Received: {args.rounds}")
    args.workers = sorted(set(args.workers) | {0})
    return args


def sweep_command(config, workers, workdir):
    """The `recipes.main` command line of one timed sweep."""
    command = [sys.executable, "-m", "recipes.main", f"--config={config}",
               f"--workdir={workdir}"]
    return command + ([f"--workers={workers}"] if workers else [])


def timed_sweep(config, workers):
    """A function that runs the sweep once, from scratch, and checks it ended well."""

    def run():
        with tempfile.TemporaryDirectory() as scratch:
            environment = common.child_environment(
                XDG_CACHE_HOME=os.path.join(scratch, "cache")
            )
            environment.pop("JAX_COMPILATION_CACHE_DIR", None)
            command = sweep_command(config, workers, os.path.join(scratch, "workdir"))
            start = time.perf_counter()
            process = subprocess.run(
                command, check=False, cwd=scratch, env=environment,
                capture_output=True, text=True,
            )
            seconds = time.perf_counter() - start
        if process.returncode:
            raise SystemExit(
                f"{' '.join(command)} exited with {process.returncode}:\n"
                + process.stderr[-2000:]
            )
        print(f"  workers={workers}: {seconds:.0f} s", flush=True)

    return run


def main(argv=None):
    args = parse_args(argv)
    if common.REPO_ROOT not in sys.path:
        sys.path.insert(0, common.REPO_ROOT)
    import recipes

    # The backend and compiler settings the commands will settle on
    # (the jax cache directory excepted: each command gets an empty one).
    recipes.start_command_line()
    recipes.import_tensorflow_quietly()
    print(f"{common.machine_summary()}; backend {os.environ['KERAS_BACKEND']}")
    print(f"sweep --config={args.config}; workers {args.workers}; {args.rounds} rounds",
          flush=True)
    names = {k: f"workers={k}" for k in args.workers}
    start = time.perf_counter()
    samples = common.interleaved(
        {names[k]: timed_sweep(args.config, k) for k in args.workers},
        rounds=args.rounds,
        warmup=0,
    )
    print(f"{len(args.workers) * args.rounds} commands in {time.perf_counter() - start:.0f} s\n")
    baseline = names[0]
    print("| workers | seconds (median) | x one process (median per-round ratio) |")
    print("|---|---|---|")
    for k in args.workers:
        name = names[k]
        print(f"| {k} | {common.median(samples[name]):.0f} | "
              f"{common.paired_ratio(samples, name, baseline):.2f} |")
    best = min(args.workers, key=lambda k: common.paired_ratio(samples, names[k], baseline))
    print(
        "RESULT "
        + ", ".join(
            f"workers={k} / one process {common.paired_ratio(samples, names[k], baseline):.2f}"
            for k in args.workers if k
        )
        + f"; fastest: workers={best}"
    )


if __name__ == "__main__":
    main()
