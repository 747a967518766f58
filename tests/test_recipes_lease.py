"""`recipes.lease`: one live worker per run, dead ones taken over."""

import json
import os
import subprocess
import sys
import time

import pytest

from recipes import lease


TIMEOUT = 0.4


@pytest.fixture
def short_timeout():
    return TIMEOUT


def _write_lease(run_dir, age, host="other-machine", pid=1):
    os.makedirs(run_dir, exist_ok=True)
    path = lease.lease_path(run_dir)
    with open(path, "w") as file:
        json.dump({"owner": "tuner7", "token": "t", "host": host, "pid": pid}, file)
    then = time.time() - age
    os.utime(path, (then, then))


def test_one_holder_at_a_time_and_release(tmp_path, short_timeout):
    run_dir = tmp_path / "run"
    held = lease.take(run_dir, "tuner0", TIMEOUT)
    assert held is not None
    info = lease.read(run_dir)
    assert (info.owner, info.pid) == ("tuner0", os.getpid()) and info.is_live(TIMEOUT)
    # The heartbeat keeps it live well past the timeout.
    time.sleep(3 * short_timeout)
    assert lease.read(run_dir).is_live(TIMEOUT)
    assert lease.take(run_dir, "tuner1", TIMEOUT) is None
    held.release()
    assert lease.read(run_dir) is None
    again = lease.take(run_dir, "tuner1", TIMEOUT)
    assert lease.read(run_dir).owner == "tuner1"
    again.release()


def test_a_remote_holder_is_dead_after_the_timeout(tmp_path, short_timeout):
    run_dir = tmp_path / "run"
    _write_lease(run_dir, age=0.0)
    assert lease.read(run_dir).is_live(TIMEOUT)
    assert lease.take(run_dir, "tuner0", TIMEOUT) is None
    _write_lease(run_dir, age=10 * short_timeout)
    assert not lease.read(run_dir).is_live(TIMEOUT)
    taken = lease.take(run_dir, "tuner0", TIMEOUT)
    assert taken is not None and lease.read(run_dir).owner == "tuner0"
    taken.release()
    assert sorted(os.listdir(run_dir)) == []


def test_a_dead_process_of_this_host_is_dead_at_once(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    run_dir = tmp_path / "run"
    _write_lease(run_dir, age=0.0, host=os.uname().nodename, pid=int(finished.stdout))
    assert not lease.read(run_dir).is_live(timeout=3600)


def test_a_slow_holder_learns_it_lost_the_run(tmp_path, short_timeout):
    run_dir = tmp_path / "run"
    slow = lease.take(run_dir, "tuner0", TIMEOUT)
    stop = lease.StopIfLeaseLost(slow)
    stop.on_train_batch_end(0)  # still ours: nothing happens
    # Another worker judged it dead (as after a long stall) and took it.
    os.remove(lease.lease_path(run_dir))
    _write_lease(run_dir, age=0.0)
    deadline = time.monotonic() + 20 * short_timeout
    while not slow.lost and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slow.lost
    with pytest.raises(lease.LeaseLostError, match="another worker took this run over"):
        stop.on_train_batch_end(1)
    slow.release()
    assert lease.read(run_dir).owner == "tuner7"  # the new holder's file stays


def test_hold_waits_for_the_holder(tmp_path, short_timeout, capsys):
    run_dir = tmp_path / "run"
    _write_lease(run_dir, age=0.0)
    start = time.monotonic()
    with lease.hold(run_dir, "tuner0", timeout=TIMEOUT, poll_seconds=0.05):
        waited = time.monotonic() - start
        assert lease.read(run_dir).owner == "tuner0"
    assert waited >= short_timeout * 0.9
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("run: held by tuner7 (pid 1 on other-machine); waiting")


def test_a_lease_replaced_between_read_and_take_over_is_left_alone(tmp_path, short_timeout, monkeypatch):
    # Two workers find the same dead lease; the first takes it over before the
    # second moves the file aside: the second must leave the first's lease.
    run_dir = tmp_path / "run"
    _write_lease(run_dir, age=10 * short_timeout)
    stale = lease.read(run_dir)
    assert not stale.is_live(TIMEOUT)
    first = lease.take(run_dir, "tuner0", TIMEOUT)
    assert first is not None
    with monkeypatch.context() as patched:
        patched.setattr(lease, "read", lambda directory: stale)
        assert lease.take(run_dir, "tuner1", TIMEOUT) is None
    assert lease.read(run_dir).owner == "tuner0"
    assert sorted(os.listdir(run_dir)) == ["lease.json"]
    assert not first.lost
    first.release()
