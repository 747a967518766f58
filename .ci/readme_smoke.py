"""Runs every command of README.md and docs/*.md in a smoke setting, outside the checkout.

Usage (from any directory, with the virtual environment to test active):

    python .ci/readme_smoke.py [--list]

The documented commands are the lines of the ```bash blocks (continuation
lines joined) of README.md and of docs/*.md, in that order (the docs by
file name), and the inline code spans of README.md that start with
`python `, `pip ` or `KERAS_BACKEND=`. Each must have an entry in `SMOKE`:
the command as the documents write it, mapped to the command run here,
which is the documented command narrowed to a smoke setting (digits, one
epoch, a few runs, one benchmark round), or to `None` with the reason in
`NOT_RUN_HERE`. A documented command without an entry, or an entry whose
command no document has any more, fails the run, so the documents and this
list cannot drift apart. `--list` prints the commands and these problems,
and runs nothing.

The commands run in order, with bash, in one scratch directory outside the
checkout (later commands read what earlier ones wrote, as a user's would),
with `$CHECKOUT` set to the checkout. A command that fails or runs past its
time limit fails the run; every result is printed.
"""

import glob
import os
import re
import subprocess
import sys
import tempfile
import time

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT_SECONDS = 600

# The smoke grid of the sweep commands: digits, one loss, one seed.
SMALL = "--config.epochs=1 --config.train_size=64"
SWEEP_ARG = "models=mlp1024,datasets=digits,losses=ce,noise_rates=0.4,seeds=0"
QUICKSTART = (
    "--config='quickstart:losses=ce+mae*,seeds=0' --workdir=runs/quickstart "
    "--config.epochs=1"
)
TABLE2_SUBSET = "table2:models=mlp1024,datasets=digits,losses=ce+gce,noise_rates=0.4,seeds=0"
OFFLINE = (
    "offline_replication:losses=ce+mae*3.0,learning_rates=0.003+0.01+0.03,noise_rates=0.4,seeds=0"
)

SMOKE = {
    # README: the two commands at the top, the installs, the quickstart.
    'pip install ".[recipes]" && python -m recipes.main --config=quickstart '
    "--workdir=runs/quickstart --workers=2":
        f'pip install --quiet "$CHECKOUT[recipes]" && python -m recipes.main {QUICKSTART} --workers=2',
    'pip install ".[test,jax]" && python -m pytest -n 2': None,
    "pip install .": 'pip install --quiet "$CHECKOUT"',
    'pip install ".[data]"': 'pip install --quiet "$CHECKOUT[data]"',
    'pip install ".[recipes]"': 'pip install --quiet "$CHECKOUT[recipes]"',
    "pip install . jax": 'pip install --quiet "$CHECKOUT" jax',
    "python -m recipes.main --config=quickstart --workdir=runs/quickstart --workers=2":
        f"python -m recipes.main {QUICKSTART} --workers=2",
    "python -m recipes.main --help": "python -m recipes.main --help",
    # README: Recipes.
    "python -m recipes.main --config=default --workdir=runs/gce "
    "--config.dataset=digits --config.model=mlp1024 --config.loss=gce "
    "--config.noise_rate=0.4":
        "python -m recipes.main --config=default --workdir=runs/gce "
        "--config.dataset=digits --config.model=mlp1024 --config.loss=gce "
        f"--config.noise_rate=0.4 {SMALL}",
    "python -m recipes.main --config=default --workdir=runs/cifar10-mae "
    "--config.dataset=cifar10 --config.model=resnet32 --config.loss='mae*' "
    "--config.noise_rate=0.4":
        "python -m recipes.main --config=default --workdir=runs/cifar10-mae "
        "--config.dataset=digits --config.model=resnet32 --config.loss='mae*' "
        f"--config.noise_rate=0.4 {SMALL}",
    "python -m recipes.main "
    "--config='table2:models=mlp1024,datasets=fashion_mnist,losses=ce+gce' "
    "--workdir=runs/table2_subset":
        f"python -m recipes.main --config='{TABLE2_SUBSET}' {SMALL} "
        "--workdir=runs/table2_subset",
    "python -m recipes.main "
    "--config='table2:models=mlp1024,datasets=fashion_mnist,losses=ce+gce' "
    "--workdir=runs/table2_subset --report_only":
        f"python -m recipes.main --config='{TABLE2_SUBSET}' "
        "--workdir=runs/table2_subset --report_only",
    "python -m recipes.main --config=quickstart --workdir=runs/quickstart --status":
        f"python -m recipes.main {QUICKSTART} --status",
    # docs/distributed.md: a chief and a worker on this machine instead of
    # two hosts.
    "python -m recipes.main --config=offline_replication "
    "--workdir=runs/offline_replication --workers=2":
        f"python -m recipes.main --config='{OFFLINE}' "
        f"--workdir=runs/offline_replication --workers=2 {SMALL}",
    "KERASTUNER_TUNER_ID=chief KERASTUNER_ORACLE_IP=10.0.0.1 "
    "KERASTUNER_ORACLE_PORT=8000 python -m recipes.main --config=table2 "
    "--workdir=/shared/table2":
        "port=$(python -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); "
        "print(s.getsockname()[1])'); "
        "KERASTUNER_TUNER_ID=chief KERASTUNER_ORACLE_IP=127.0.0.1 "
        f"KERASTUNER_ORACLE_PORT=$port python -m recipes.main --config='table2:{SWEEP_ARG}' "
        f"--workdir=runs/distributed {SMALL} & chief=$!; "
        "KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=127.0.0.1 "
        f"KERASTUNER_ORACLE_PORT=$port python -m recipes.main --config='table2:{SWEEP_ARG}' "
        f"--workdir=runs/distributed {SMALL} && wait $chief",
    "KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 "
    "KERASTUNER_ORACLE_PORT=8000 python -m recipes.main --config=table2 "
    "--workdir=/shared/table2": None,
    # docs/losses.md.
    "python -m recipes.figure1":
        "python -m recipes.figure1 --num_draws=20 --num_points=5",
    # docs/performance.md: one benchmark round each.
    "python benchmarks/bench_torch.py --no-jax --no-xla --extras":
        'python "$CHECKOUT/benchmarks/bench_torch.py" --no-jax --no-xla --extras '
        "--rounds 1",
    "python benchmarks/bench_torch.py --no-jax --no-xla --extras --max_isa=avx2":
        'python "$CHECKOUT/benchmarks/bench_torch.py" --no-jax --no-xla --extras '
        "--max_isa=avx2 --rounds 1",
    "python benchmarks/onednn_primitives.py --max_isa=avx2":
        'python "$CHECKOUT/benchmarks/onednn_primitives.py" --max_isa=avx2 '
        "--rounds 1 --steps 1",
    "python benchmarks/bench_losses.py":
        'python "$CHECKOUT/benchmarks/bench_losses.py" --rounds 1 --loss-rounds 1 '
        "--repeats 1",
    "python benchmarks/bench_losses.py --model=mlp1024 --backend=jax":
        'python "$CHECKOUT/benchmarks/bench_losses.py" --model=mlp1024 --backend=jax '
        "--rounds 1 --loss-rounds 1 --repeats 1",
    "python benchmarks/bench_epoch.py":
        'python "$CHECKOUT/benchmarks/bench_epoch.py" --rounds 1 --epochs 2 '
        "--train_size 256",
    "python benchmarks/bench_recipe_step.py --epochs 20":
        'python "$CHECKOUT/benchmarks/bench_recipe_step.py" --rounds 1 --epochs 2 '
        "--train_size 256",
    "python benchmarks/bench_workers.py":
        'python "$CHECKOUT/benchmarks/bench_workers.py" --rounds 1 --workers 0 2 '
        "--config 'quickstart:datasets=digits,losses=ce,seeds=0'",
    "python benchmarks/bench_pipeline.py":
        'python "$CHECKOUT/benchmarks/bench_pipeline.py" --repeats 1',
    "python benchmarks/bench_evaluation.py":
        'python "$CHECKOUT/benchmarks/bench_evaluation.py" --rounds 1 --images 256',
    "python benchmarks/bench_options.py":
        'python "$CHECKOUT/benchmarks/bench_options.py" --rounds 1',
    "KERAS_BACKEND=jax python benchmarks/bench_gpu_epoch.py --epochs 4":
        'KERAS_BACKEND=jax python "$CHECKOUT/benchmarks/bench_gpu_epoch.py" '
        "--epochs 2 --train_size 256",
    "KERAS_BACKEND=jax python benchmarks/bench_shared_device.py --max_workers 3":
        'KERAS_BACKEND=jax python "$CHECKOUT/benchmarks/bench_shared_device.py" '
        "--max_workers 2 --repeats 1",
    # docs/recipes.md.
    "python -m recipes.report --results_dir=runs/table2_subset":
        "python -m recipes.report --results_dir=runs/table2_subset",
    "KERAS_BACKEND=jax python -m recipes.main --config=default "
    "--workdir=runs/cifar10-jax --config.dataset=cifar10 --config.model=resnet32 "
    "--config.loss='mae*' --config.noise_rate=0.4 --config.device_resident=True "
    "--config.data_source=keras":
        "KERAS_BACKEND=jax python -m recipes.main --config=default "
        "--workdir=runs/digits-jax --config.dataset=digits --config.model=resnet32 "
        "--config.loss='mae*' --config.noise_rate=0.4 --config.device_resident=True "
        f"{SMALL}",
    # docs/data.md.
    "python -m recipes.main --config=estimate_noise --workdir=runs/estimate_noise":
        "python -m recipes.main --config=estimate_noise:folds=2 "
        f"--workdir=runs/estimate_noise {SMALL}",
    "python -m recipes.main --config=recommend_check --workdir=runs/recommend_check":
        "python -m recipes.main --config='recommend_check:datasets=digits,noise_rates=0.4,"
        "seeds=0,folds=2,fold_epochs=1,epochs=1' --workdir=runs/recommend_check "
        "--config.train_size=64",
    # docs/reliability.md.
    "python benchmarks/soak_sweep.py --minutes=7":
        'python "$CHECKOUT/benchmarks/soak_sweep.py" --minutes=0.01 --losses=ce '
        "--seeds=2 --epochs=1 --train_size=64 --kills_per_round=2",
    # docs/replication.md: the sweep that docs/distributed.md trained with
    # --workers=2, finished: it prints its report.
    "python -m recipes.main --config=offline_replication "
    "--workdir=runs/offline_replication":
        f"python -m recipes.main --config='{OFFLINE}' "
        f"--workdir=runs/offline_replication {SMALL}",
}

NOT_RUN_HERE = {
    'pip install ".[test,jax]" && python -m pytest -n 2':
        "the test suite needs the checkout's tests/; .ci/run runs it there",
    "KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 "
    "KERASTUNER_ORACLE_PORT=8000 python -m recipes.main --config=table2 "
    "--workdir=/shared/table2":
        "run as the worker of the chief command's smoke run",
}

_INLINE_COMMAND = re.compile(r"`((?:python |pip |KERAS_BACKEND=)[^`]+)`")


def readme_commands(text, inline=True):
    """The commands of a Markdown document, in order, without duplicates.

    Args:
        text: The document.
        inline: Whether inline code spans that start with `python `, `pip `
            or `KERAS_BACKEND=` count as commands too (as in the README).
    """
    commands = []
    in_bash = False
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_bash = stripped == "```bash"
            continue
        if in_bash:
            if stripped.startswith("#") or not stripped:
                continue
            if stripped.endswith("\\"):
                pending += stripped[:-1].strip() + " "
                continue
            commands.append(pending + stripped)
            pending = ""
        elif inline:
            commands.extend(
                match.group(1) for match in _INLINE_COMMAND.finditer(line)
            )
    normalised = [" ".join(command.split()) for command in commands]
    return list(dict.fromkeys(normalised))


def documented_commands(checkout=CHECKOUT):
    """The commands of README.md (blocks and inline) then docs/*.md (blocks)."""
    with open(os.path.join(checkout, "README.md"), encoding="utf-8") as readme:
        commands = readme_commands(readme.read())
    for path in sorted(glob.glob(os.path.join(checkout, "docs", "*.md"))):
        with open(path, encoding="utf-8") as document:
            commands += readme_commands(document.read(), inline=False)
    return list(dict.fromkeys(commands))


def check_coverage(commands):
    """Problems: README commands without a smoke entry, and stale entries."""
    problems = [
        f"README command without a smoke setting in .ci/readme_smoke.py: {command}"
        for command in commands
        if command not in SMOKE
    ]
    problems += [
        f"smoke entry for a command no document has: {command}"
        for command in SMOKE
        if command not in commands
    ]
    problems += [
        f"smoke entry None without a reason in NOT_RUN_HERE: {command}"
        for command, smoke in SMOKE.items()
        if smoke is None and command not in NOT_RUN_HERE
    ]
    return problems


def main(argv):
    commands = documented_commands()
    problems = check_coverage(commands)
    if "--list" in argv:
        for command in commands:
            print(command)
        for problem in problems:
            print(f"FAIL {problem}")
        return 1 if problems else 0
    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        return 1
    env = dict(os.environ, CHECKOUT=CHECKOUT)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    failed = []
    with tempfile.TemporaryDirectory(prefix="readme-smoke-") as scratch:
        for index, command in enumerate(commands, 1):
            smoke = SMOKE[command]
            if smoke is None:
                print(f"[{index}/{len(commands)}] not run here ({NOT_RUN_HERE[command]}): {command}")
                continue
            print(f"[{index}/{len(commands)}] {smoke}", flush=True)
            start = time.perf_counter()
            try:
                process = subprocess.run(
                    ["bash", "-c", smoke], cwd=scratch, env=env,
                    capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                )
                status = process.returncode
                output = process.stdout + process.stderr
            except subprocess.TimeoutExpired as error:
                status = "timeout"
                output = (error.stdout or b"").decode() + (error.stderr or b"").decode()
            seconds = time.perf_counter() - start
            if status == 0:
                print(f"    ok in {seconds:.0f} s")
            else:
                failed.append(command)
                print(f"    FAILED ({status}) in {seconds:.0f} s; its last lines:")
                for line in output.strip().splitlines()[-25:]:
                    print(f"    | {line}")
    ran = sum(1 for command in commands if SMOKE[command] is not None)
    print(f"Documented commands smoke: {ran - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
