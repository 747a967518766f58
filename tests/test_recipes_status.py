"""Tests of recipes.status on directories built by hand, one run in each state."""

import json
import os
import socket

from recipes import checkpoint
from recipes import config as config_lib
from recipes import lease
from recipes import results
from recipes import status
from recipes import sweep_files

NOW = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC
TIMEOUT = 120.0
MLP = {"model": "mlp1024", "dataset": "digits", "epochs": 4}
RESNET = {"model": "resnet32", "dataset": "cifar10", "epochs": 4}


def write_sweep(workdir, **runs):
    """Writes sweep.json of one run per name (its fields and seed); returns `{name: run id}`."""
    specs = {
        name: config_lib.resolve({**fields, "loss": "ce", "seed": seed})
        for seed, (name, fields) in enumerate(runs.items())
    }
    sweep_files.write_sweep_file(list(specs.values()), workdir)
    return {name: spec.run_id for name, spec in specs.items()}


def _touch(path, at):
    os.utime(path, (at, at))


def finish(run_dir, run_id, settings, accuracy, seconds):
    result = results.RunResult(
        run_id=run_id, settings=settings,
        history={key: [0.5] for key in results.HISTORY_KEYS},
        final={"test_accuracy": accuracy, "false_label_accuracy": 0.25, "train_loss": 0.5},
        wall_seconds=seconds, versions={},
    )
    results.write(run_dir, result)


def checkpointed(run_dir, settings, epoch, seconds, at):
    directory = checkpoint.checkpoint_dir(run_dir)
    os.makedirs(directory)
    path = os.path.join(directory, checkpoint.STATE_FILENAME)
    with open(path, "w") as file:
        json.dump({"settings": settings, "epoch": epoch, "wall_seconds": seconds,
                   "history": {}, "variables": f"epoch-{epoch:05d}.variables.npz"}, file)
    _touch(path, at)


def leased(run_dir, owner, host, pid, since, heartbeat):
    os.makedirs(run_dir, exist_ok=True)
    path = lease.lease_path(run_dir)
    with open(path, "w") as file:
        json.dump({"owner": owner, "token": "t", "host": host, "pid": pid, "since": since}, file)
    _touch(path, heartbeat)


def sweep(tmp_path):
    ids = write_sweep(
        tmp_path, done_a=MLP, done_b=RESNET, running=MLP, stale=MLP,
        queued=RESNET, resume=MLP, aside=RESNET,
    )
    finish(tmp_path / ids["done_a"], ids["done_a"], MLP, 0.8125, 30.0)
    os.makedirs(tmp_path / ids["done_b"])
    finish(tmp_path / ids["done_b"], ids["done_b"], RESNET, 0.5, 600.0)
    leased(tmp_path / ids["running"], "tuner0", socket.gethostname(), os.getpid(),
           since=NOW - 720, heartbeat=NOW - 10)
    checkpointed(tmp_path / ids["running"], MLP, 2, 20.0, at=NOW - 60)
    leased(tmp_path / ids["stale"], "tuner1", "other-machine", 1, since=NOW - 3600,
           heartbeat=NOW - 300)
    checkpointed(tmp_path / ids["resume"], MLP, 3, 45.0, at=NOW - 7200)
    os.makedirs(tmp_path / ids["aside"])
    (tmp_path / ids["aside"] / "results.json.damaged").write_text("{")
    return ids


def test_sweep_runs_by_state(tmp_path):
    workdir, ids = tmp_path, sweep(tmp_path)
    lines, exit_status = status.report(workdir, timeout=TIMEOUT, now=NOW)
    assert exit_status == 0
    # Left: MLP 3 runs x 30 s, ResNet 2 runs x 600 s = 1290 s on the 1 live worker.
    assert lines == [
        f"{workdir}: 7 runs: 2 finished, 1 running, 1 stale, 3 queued, "
        "1 with files set aside; about 22 min left on 1 worker.",
        "finished (2):",
        f"  {ids['done_a']}: test accuracy 0.8125 (30 s)",
        f"  {ids['done_b']}: test accuracy 0.5000 (10 min)",
        "running (1):",
        f"  {ids['running']}: tuner0 (pid {os.getpid()} on {socket.gethostname()}), epoch 2 of 4 "
        "done (20:25 UTC, 1 min ago), since 20:14 UTC, 12 min ago",
        "stale (1):",
        f"  {ids['stale']}: tuner1 (pid 1 on other-machine) sent no heartbeat for 5 min "
        "(timeout 2 min); no epoch done yet; another worker may take it over",
        "queued (3):",
        f"  {ids['queued']}",
        f"  {ids['resume']}: resumes after epoch 3 of 4 (18:26 UTC, 2 h ago)",
        f"  {ids['aside']}",
        "failed or set aside (1):",
        f"  {ids['aside']} (queued): {workdir / ids['aside'] / 'results.json.damaged'}",
    ]


def test_status_changes_nothing(tmp_path):
    workdir = tmp_path
    sweep(workdir)
    (workdir / lease.CLOCK_FILENAME).write_text("")

    def snapshot():
        return sorted(
            (os.path.join(root, name), os.stat(os.path.join(root, name)).st_mtime)
            for root, _, names in os.walk(workdir) for name in names
            if name != lease.CLOCK_FILENAME
        )

    before = snapshot()
    lines, _ = status.report(workdir, timeout=TIMEOUT)
    assert snapshot() == before
    # Measured on the file system's clock: the stale lease is 5 min behind it.
    assert any("sent no heartbeat for" in line for line in lines)


def test_a_single_run(tmp_path):
    checkpointed(tmp_path, MLP, 2, 20.0, at=NOW - 30)
    lines, exit_status = status.report(tmp_path, timeout=TIMEOUT, now=NOW)
    # 10 s per epoch, 2 epochs left.
    assert (exit_status, lines) == (0, [
        f"{tmp_path}: 1 run: 0 finished, 1 running, 0 stale, 0 queued; "
        "about 20 s left on 1 worker.",
        "running (1):",
        f"  {tmp_path.name}: epoch 2 of 4 done (20:26 UTC, 30 s ago); "
        "no lease (a single run): interrupted if that is long past",
    ])
    finish(tmp_path, "digits-mlp1024-ce-sym0.4-seed0", MLP, 0.75, 42.0)
    lines, _ = status.report(tmp_path, timeout=TIMEOUT, now=NOW)
    assert lines[0].endswith("1 run: 1 finished, 0 running, 0 stale, 0 queued; all done.")
    assert lines[2] == "  digits-mlp1024-ce-sym0.4-seed0: test accuracy 0.7500 (42 s)"


def test_a_directory_that_holds_nothing(tmp_path):
    lines, exit_status = status.report(tmp_path, timeout=TIMEOUT)
    assert exit_status == 2 and len(lines) == 1 and "holds no sweep or run" in lines[0]
    missing = tmp_path / "missing"
    assert status.report(missing, timeout=TIMEOUT)[1] == 2
    assert not missing.exists()


def test_a_sweep_file_of_another_layout_is_one_line(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"config": {}, "sweep": []}))
    lines, exit_status = status.report(tmp_path, timeout=TIMEOUT)
    assert exit_status == 2 and len(lines) == 1
    assert "sweep.json is damaged" in lines[0]


def test_a_taken_lease_says_since_when(tmp_path):
    held = lease.take(tmp_path, "tuner3", 60.0)
    try:
        info = lease.read(tmp_path, now=os.stat(lease.lease_path(tmp_path)).st_mtime + 90)
        assert info.owner == "tuner3" and info.age == 90.0
        assert abs(info.since - os.stat(lease.lease_path(tmp_path)).st_mtime) < 5
    finally:
        held.release()


def test_a_lease_of_a_gone_process_of_this_host_is_stale(tmp_path):
    run_id = write_sweep(tmp_path, r=MLP)["r"]
    leased(tmp_path / run_id, "tuner2", socket.gethostname(), 2**22 + 1, since=NOW - 60,
           heartbeat=NOW - 5)
    lines, _ = status.report(tmp_path, timeout=TIMEOUT, now=NOW)
    assert lines[1:] == [
        "stale (1):",
        f"  {run_id}: tuner2 (pid {2**22 + 1} on {socket.gethostname()}) is gone (no such process "
        "on this host); no epoch done yet; another worker may take it over",
    ]
