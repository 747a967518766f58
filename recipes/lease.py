r"""Who holds a directory of a sweep now: a lease file with a heartbeat.

A worker holds `<workdir>/workers/<tuner id>/lease.json` while it lives
and `<run dir>/lease.json` while it trains that run
(`{"owner", "token", "host", "pid", "since"}`), each touched every quarter
of the heartbeat timeout by a background thread. A lease is live while its
last touch is younger than the timeout (the sweep's
`SweepEnvironment.heartbeat_timeout`, 120 s by default), measured on the clock of
the file system that holds the sweep (a probe file is touched and its
mtime read), so that workers on other machines of a shared file system
agree whatever their own clocks say. A lease of a process of this host
whose pid is gone is dead at once.

- `hold(run_dir, owner, timeout=...)` takes the lease: at once if there is none or it
  is dead (the dead one is renamed away, then the new one is created with
  `O_EXCL`, so of two takers exactly one wins), else it waits, polling,
  until it is released or goes dead.
- While held, the heartbeat thread checks that the file still holds its
  token; if another worker took the run over (this one was only slow),
  `Lease.lost` becomes true and `StopIfLeaseLost` stops training at the
  next batch with `LeaseLostError`.
- `read(run_dir)` and `LeaseInfo.is_live(timeout)` let the chief of a
  sweep tell a dead worker from a live one and requeue its run.
"""

import contextlib
import dataclasses
import json
import os
import socket
import sys
import threading
import time
import uuid

import keras

LEASE_FILENAME = "lease.json"
CLOCK_FILENAME = ".clock"


class LeaseLostError(RuntimeError):
    """Another worker took over the run this worker was training."""


def filesystem_now(directory):
    """The current time on the clock of the file system holding `directory`."""
    probe = os.path.join(os.fspath(directory), CLOCK_FILENAME)
    with open(probe, "a"):
        pass
    os.utime(probe, None)
    return os.stat(probe).st_mtime


def _pid_is_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclasses.dataclass(frozen=True)
class LeaseInfo:
    """A lease as read from its file.

    Attributes:
        owner: The tuner id of the holder (`tuner0`, ...).
        token: Unique per taking of the lease.
        host: The holder's host name.
        pid: The holder's process id.
        age: Seconds since its last heartbeat (file system clock).
        since: When the holder took it (its `time.time()`), or None.
    """

    owner: str
    token: str
    host: str
    pid: int
    age: float
    since: float = None

    def is_live(self, timeout):
        """Whether the holder is alive: a heartbeat within `timeout` seconds and, on this host, its pid."""
        if self.host == socket.gethostname() and _pid_is_gone(self.pid):
            return False
        return self.age <= timeout


def lease_path(run_dir):
    """`<run_dir>/lease.json`."""
    return os.path.join(os.fspath(run_dir), LEASE_FILENAME)


def read(run_dir, now=None):
    """The `LeaseInfo` of `run_dir`, or None if nobody holds it.

    `now`: the time its age is measured to; by default the file system's
    clock (`filesystem_now` of the run directory's parent).

    A lease file that cannot be read (cut short while written) counts as
    held by nobody after the timeout, like a dead holder's: its age is
    that of the file.
    """
    path = lease_path(run_dir)
    try:
        modified = os.stat(path).st_mtime
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        return None
    if now is None:
        now = filesystem_now(os.path.dirname(os.path.abspath(run_dir)))
    age = max(0.0, now - modified)
    try:
        fields = json.loads(text)
        return LeaseInfo(
            owner=str(fields["owner"]), token=str(fields["token"]),
            host=str(fields["host"]), pid=int(fields["pid"]), age=age,
            since=None if fields.get("since") is None else float(fields["since"]),
        )
    except (ValueError, KeyError, TypeError):
        return LeaseInfo(owner="?", token="?", host="?", pid=-1, age=age)


def _try_create(path, fields):
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    try:
        os.write(descriptor, json.dumps(fields).encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return True


class Lease:
    """A held lease; `release()` gives it back. Use `take` or `hold` to take one."""

    def __init__(self, run_dir, owner, token, timeout):
        self.run_dir = os.fspath(run_dir)
        self.owner = owner
        self.token = token
        self.timeout = timeout
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def _still_mine(self):
        info = read(self.run_dir)
        return info is not None and info.token == self.token

    def _beat(self):
        period = self.timeout / 4
        while not self._stop.wait(period):
            try:
                if not self._still_mine():
                    self.lost = True
                    return
                os.utime(lease_path(self.run_dir), None)
            except OSError:
                # The shared file system is away for a moment: try again.
                continue

    def release(self):
        """Stops the heartbeat and removes the file if it is still ours."""
        self._stop.set()
        self._thread.join()
        if not self.lost and self._still_mine():
            with contextlib.suppress(FileNotFoundError):
                os.remove(lease_path(self.run_dir))


def take(run_dir, owner, timeout):
    """Takes the lease of `run_dir` if it is free or dead; returns it, or None.

    Returns None while another live worker holds it (a heartbeat within
    `timeout` seconds).
    """
    os.makedirs(run_dir, exist_ok=True)
    path = lease_path(run_dir)
    token = uuid.uuid4().hex
    fields = {"owner": owner, "token": token, "host": socket.gethostname(), "pid": os.getpid(),
              "since": time.time()}
    if _try_create(path, fields):
        return Lease(run_dir, owner, token, timeout)
    info = read(run_dir)
    if info is not None and info.is_live(timeout):
        return None
    # Dead: move it aside, then create. Another taker may have replaced the
    # dead lease between our read and our rename: then what we moved is its
    # fresh lease, which goes back unless a third taker got in first.
    aside = f"{path}.dead-{token}"
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        pass
    else:
        moved_token = _token_of(aside)
        if info is not None and moved_token != info.token:
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
            os.remove(aside)
            return None
        os.remove(aside)
    if _try_create(path, fields):
        return Lease(run_dir, owner, token, timeout)
    return None


def _token_of(path):
    """The token of the lease file at `path`; "?" where it cannot be read."""
    try:
        with open(path, encoding="utf-8") as file:
            return str(json.load(file)["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return "?"


@contextlib.contextmanager
def hold(run_dir, owner, *, timeout, poll_seconds=None, out=None):
    """Holds the lease of `run_dir` for the `with` block; waits while a live worker has it.

    Prints one line when it has to wait, naming the holder.
    """
    poll_seconds = timeout / 4 if poll_seconds is None else poll_seconds
    told = False
    while True:
        lease = take(run_dir, owner, timeout)
        if lease is not None:
            break
        if not told:
            info = read(run_dir)
            holder = "another worker" if info is None else f"{info.owner} (pid {info.pid} on {info.host})"
            print(
                f"{os.path.basename(os.fspath(run_dir))}: held by {holder}; "
                f"waiting until it finishes or sends no heartbeat for {timeout:g} s.",
                file=sys.stdout if out is None else out, flush=True,
            )
            told = True
        time.sleep(poll_seconds)
    try:
        yield lease
    finally:
        lease.release()


class StopIfLeaseLost(keras.callbacks.Callback):
    """Stops training with `LeaseLostError` once `lease` is lost."""

    def __init__(self, lease):
        super().__init__()
        self.lease = lease

    def _check(self):
        if self.lease.lost:
            raise LeaseLostError(
                f"{self.lease.run_dir}: another worker took this run over "
                f"(no heartbeat from {self.lease.owner} for "
                f"{self.lease.timeout:g} s); {self.lease.owner} stops it."
            )

    def on_train_batch_end(self, batch, logs=None):
        self._check()

    def on_epoch_end(self, epoch, logs=None):
        self._check()
