r"""Soak test of a distributed sweep: many random SIGKILLs of workers and chief.

    python benchmarks/soak_sweep.py --minutes=6

Trains a small digits grid (`--losses` x `--seeds`, `--epochs` epochs of
`--train_size` images, the MLP) once in a single process (the reference),
then again and again, each round in a fresh directory, with a chief and
`--workers` workers (`python -m recipes.grid`) on 127.0.0.1, while a
killer SIGKILLs a random process (the chief with probability
`--chief_share`, else a worker) every 0.5 to `--max_gap` seconds, at most
`--kills_per_round` times a round. A killed process is started again
after 0 to 2 s: a worker under its own id or, every other time, a new
one; the chief on the same port. A round ends when the chief and every
worker exited with status 0. Rounds continue until `--minutes` are over.

Printed at the end: rounds, kills survived (workers, chief), runs
completed, points requeued (a dead worker's run given to another, or a
running run queued again by a restarted chief), duplicates (a run trained
to its end twice in one round), lost (a point without results, or whose
results differ from the reference's but for the wall time), processes
that failed on their own (exit status other than 0 without being
killed), and the wall time. Duplicates, lost and failed must be 0.
`KERAS_ROBUST_HEARTBEAT_TIMEOUT` is `--heartbeat_timeout` (3 s) and
`KERAS_ROBUST_CHIEF_TIMEOUT` is 30 s in the children.
"""

import argparse
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import common  # noqa: E402

common.setup()

from recipes import config as config_lib  # noqa: E402
from recipes import launcher  # noqa: E402
from recipes import results  # noqa: E402
from recipes import sweep_files  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--losses", default="ce,gce")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train_size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chief_share", type=float, default=0.3)
    parser.add_argument("--max_gap", type=float, default=5.0)
    parser.add_argument("--kills_per_round", type=int, default=5)
    parser.add_argument("--heartbeat_timeout", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=None, help="of the killer (default: random)")
    parser.add_argument(
        "--workdir", default=None,
        help="default: a temporary directory, removed at the end unless something failed",
    )
    return parser.parse_args(argv)


def config_and_sweep(args):
    config = config_lib.override(
        config_lib.get_default_config(),
        {
            "dataset": "digits", "model": "mlp1024", "noise_rate": 0.2,
            "epochs": args.epochs, "train_size": args.train_size,
            "learning_rate": 0.01, "verbose": 0,
        },
    )
    sweep = [
        {"loss": loss, "seed": seed}
        for loss in args.losses.split(",") for seed in range(args.seeds)
    ]
    return config, sweep


class Child:
    """A `python -m recipes.grid` process, its output appended to a log."""

    def __init__(self, workdir, log_dir, env, tuner_id=None, port=None):
        env = dict(env)
        if tuner_id is not None:
            env.update(
                KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=str(port),
            )
        self.tuner_id = tuner_id or "single"
        self.log_path = os.path.join(log_dir, f"{self.tuner_id}.log")
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "recipes.grid", f"--workdir={workdir}"],
                cwd=common.REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def child_env(args):
    return common.child_environment(
        OMP_NUM_THREADS="1",
        KERAS_ROBUST_HEARTBEAT_TIMEOUT=str(args.heartbeat_timeout),
        KERAS_ROBUST_CHIEF_TIMEOUT="30",
    )


def comparable(run_dir):
    stored = results.read(run_dir).to_dict()
    del stored["wall_seconds"]
    return stored


def run_round(args, config, sweep, workdir, rng, figures):
    """One sweep under random kills; adds to `figures`."""
    env = child_env(args)
    sweep_files.write_sweep_file(config_lib.resolve_sweep(config, sweep), workdir)
    logs = os.path.join(workdir, "logs")
    os.makedirs(logs)
    port = launcher.free_port()
    live = {"chief": Child(workdir, logs, env, "chief", port)}
    for index in range(args.workers):
        live[f"tuner{index}"] = Child(workdir, logs, env, f"tuner{index}", port)
    next_id = args.workers
    kills = 0
    next_kill = time.monotonic() + rng.uniform(0.5, args.max_gap)
    while True:
        for name, child in list(live.items()):
            code = child.process.poll()
            if code is not None:
                del live[name]
                if code != 0:
                    figures["failed"] += 1
                    print(f"  {name} exited with status {code} on its own (log {child.log_path})")
        if "chief" not in live and not live:
            break
        if kills < args.kills_per_round and time.monotonic() >= next_kill and live:
            name = "chief" if "chief" in live and rng.random() < args.chief_share else rng.choice(
                [name for name in live if name != "chief"] or ["chief"])
            live.pop(name).kill()
            kills += 1
            figures["chief kills" if name == "chief" else "worker kills"] += 1
            time.sleep(rng.uniform(0.0, 2.0))
            if name != "chief" and kills % 2 == 0:
                name = f"tuner{next_id}"
                next_id += 1
            live[name] = Child(workdir, logs, env, name, port)
            next_kill = time.monotonic() + rng.uniform(0.5, args.max_gap)
        time.sleep(0.05)

    run_ids = [spec.run_id for spec in config_lib.resolve_sweep(config, sweep)]
    trained = collections.Counter(
        entry["run_id"] for entry in sweep_files.read_log(workdir) if entry["trained"]
    )
    figures["duplicates"] += sum(count - 1 for count in trained.values() if count > 1)
    for run_id in run_ids:
        try:
            same = comparable(os.path.join(workdir, run_id)) == comparable(
                os.path.join(args.reference, run_id))
        except (FileNotFoundError, results.DamagedResultsError):
            same = False
        figures["runs completed" if same else "lost"] += 1
    with open(os.path.join(logs, "chief.log")) as file:
        for line in file:
            if line.startswith("Requeued run"):
                figures["requeued"] += 1
            elif line.startswith("Queued again (unfinished in an earlier start): "):
                figures["requeued"] += line.count(",") + 1
    figures["rounds"] += 1


def main(argv=None):
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    rng = random.Random(seed)
    root = args.workdir or tempfile.mkdtemp(prefix="soak-sweep-")
    os.makedirs(root, exist_ok=True)
    config, sweep = config_and_sweep(args)
    print(f"{common.machine_summary()}; killer seed {seed}; {len(sweep)} points a round; in {root}")

    start = time.monotonic()
    args.reference = os.path.join(root, "reference")
    shutil.rmtree(args.reference, ignore_errors=True)
    sweep_files.write_sweep_file(config_lib.resolve_sweep(config, sweep), args.reference)
    reference = Child(args.reference, root, child_env(args))
    if reference.process.wait() != 0:
        sys.exit(f"The reference sweep failed: see {reference.log_path}")
    print(f"reference sweep: {time.monotonic() - start:.0f} s")

    figures = collections.Counter()
    soak_start = time.monotonic()
    while time.monotonic() - soak_start < args.minutes * 60:
        workdir = os.path.join(root, f"round{figures['rounds'] + 1}")
        shutil.rmtree(workdir, ignore_errors=True)
        run_round(args, config, sweep, workdir, rng, figures)
        print(f"round {figures['rounds']}: {dict(figures)}", flush=True)
    wall = time.monotonic() - soak_start
    print(
        f"rounds: {figures['rounds']}, kills survived: "
        f"{figures['worker kills'] + figures['chief kills']} "
        f"({figures['worker kills']} workers, {figures['chief kills']} chief), "
        f"runs completed: {figures['runs completed']}, points requeued: {figures['requeued']}, "
        f"duplicates: {figures['duplicates']}, lost: {figures['lost']}, "
        f"failed on their own: {figures['failed']}, wall time: {wall:.0f} s"
    )
    if figures["duplicates"] or figures["lost"] or figures["failed"]:
        sys.exit(f"Kept for inspection: {root}")
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
