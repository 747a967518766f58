r"""What a sweep (or a run) in a directory is doing, read without changing it.

    python -m recipes.main --workdir=runs/quickstart --status

prints the runs of `<workdir>/sweep.json` by state:

- finished: `results.json` (`recipes.results`), with the test accuracy
  and the training time;
- running: a live lease (`recipes.lease`): the worker, its pid and host,
  the last finished epoch (`checkpoint/state.json`) and since when;
- stale: a lease without a heartbeat for the heartbeat timeout (its
  worker died; the chief queues the run again);
- queued: nothing yet, or a checkpoint to resume from;
- set aside: the `*.damaged*` files of a run (kept for inspection) and a
  damaged `results.json`, named;

then the time left (`recipes.progress.estimate_seconds_left` on the
finished runs' `wall_seconds`, per model and dataset, over the live
workers). A directory without `sweep.json` that holds one run (its
`results.json`, checkpoint or lease) gets the same lines for that run; a
directory that holds neither gets one line and exit status 2.

It only reads: it works while the sweep runs, from any machine that sees
the directory, read-only mounts included. Lease ages are measured on the
file system's clock when the sweep's clock file is there (`recipes.lease`),
else on this machine's.
"""

import dataclasses
import functools
import json
import os
import time

from recipes import checkpoint
from recipes import distributed
from recipes import lease as lease_lib
from recipes import progress
from recipes import results
from recipes import sweep_files

NOTHING_STATUS = 2
STATES = ("finished", "running", "stale", "queued")


@dataclasses.dataclass(frozen=True)
class RunStatus:
    """One run's state as read from its directory.

    Attributes:
        run_id: The run id (the directory's name in a sweep).
        state: One of `STATES`.
        detail: What follows the run id on its line ("" for none).
        group: `(model, dataset)`: runs of similar duration.
        wall_seconds: Training seconds of a finished run, else None.
        set_aside: The run's set-aside or damaged files.
        owner: The lease holder of a running run, else None.
        seconds_left: An unfinished run's checkpointed seconds per epoch
            times its epochs left, else None.
    """

    run_id: str
    state: str
    detail: str
    group: tuple
    wall_seconds: float = None
    set_aside: tuple = ()
    owner: str = None
    seconds_left: float = None


def clock_now(directory):
    """The file system's time where the sweep keeps its clock file, else this machine's.

    Touches only a clock file that the sweep's workers already touch.
    """
    if os.path.exists(os.path.join(directory, lease_lib.CLOCK_FILENAME)):
        try:
            return lease_lib.filesystem_now(directory)
        except OSError:
            pass  # A read-only mount.
    return time.time()


def describe_time(timestamp, now):
    """ "07:42 UTC, 12 min ago"; the date too when it is not today."""
    moment = time.gmtime(timestamp)
    shown = time.strftime(
        "%H:%M UTC" if moment[:3] == time.gmtime(now)[:3] else "%Y-%m-%d %H:%M UTC", moment
    )
    return f"{shown}, {progress.format_duration(max(0.0, now - timestamp))} ago"


def _checkpoint_state(run_dir):
    """The checkpoint's state.json with its `written` time (mtime), or None."""
    path = os.path.join(checkpoint.checkpoint_dir(run_dir), checkpoint.STATE_FILENAME)
    try:
        with open(path, encoding="utf-8") as file:
            return {**json.load(file), "written": os.stat(path).st_mtime}
    except (OSError, ValueError, TypeError):
        return None


def _set_aside_files(run_dir):
    try:
        names = sorted(os.listdir(run_dir))
    except OSError:
        return ()
    return tuple(os.path.join(run_dir, name) for name in names if ".damaged" in name)


def _epochs_done(state, epochs, now, word=""):
    """ "epoch 3 of 20<word> (07:42 UTC, 2 min ago)": the last finished epoch, or None."""
    if state is None:
        return None
    return (
        f"epoch {state.get('epoch')}" + ("" if epochs is None else f" of {epochs}")
        + f"{word} ({describe_time(state['written'], now)})"
    )


def _run_seconds_left(state, epochs):
    """The checkpointed seconds per epoch times the epochs left, or None."""
    try:
        return state["wall_seconds"] / state["epoch"] * max(0, epochs - state["epoch"])
    except (TypeError, KeyError, ZeroDivisionError):
        return None


def run_status(run_dir, run_id, settings, *, timeout, now, in_sweep=True):
    """The `RunStatus` of one run directory.

    Args:
        run_dir: The run's directory (need not exist).
        run_id: Its run id.
        settings: Its settings (`RunSpec.settings`), or None where unknown.
        timeout: The heartbeat timeout, seconds.
        now: The time lease ages are measured to (`clock_now`).
        in_sweep: Whether workers train it under a lease; a single run
            trains without one, so its checkpoint makes it "running" (or
            interrupted: the time of its last epoch tells).
    """
    settings = settings or {}
    group = (settings.get("model"), settings.get("dataset"))
    set_aside = _set_aside_files(run_dir)
    try:
        result = results.read(run_dir)
    except FileNotFoundError:
        result = None
    except results.DamagedResultsError as error:
        result = None
        set_aside += (str(error),)
    if result is not None:
        detail = (
            f"test accuracy {result.test_accuracy:.4f} "
            f"({progress.format_duration(result.wall_seconds)})"
        )
        return RunStatus(run_id, "finished", detail, group, result.wall_seconds, set_aside)
    state = _checkpoint_state(run_dir)
    done = _epochs_done(state, settings.get("epochs"), now)
    epoch = _epochs_done(state, settings.get("epochs"), now, " done") or "no epoch done yet"
    unfinished = functools.partial(
        RunStatus, run_id, group=group, set_aside=set_aside,
        seconds_left=_run_seconds_left(state, settings.get("epochs")),
    )
    info = lease_lib.read(run_dir, now=now)
    if info is None and not in_sweep and state is not None:
        return unfinished(
            "running", f"{epoch}; no lease (a single run): interrupted if that is long past"
        )
    if info is None:
        return unfinished("queued", "" if done is None else f"resumes after {done}")
    holder = f"{info.owner} (pid {info.pid} on {info.host})"
    if info.is_live(timeout):
        since = "" if info.since is None else f", since {describe_time(info.since, now)}"
        return unfinished("running", f"{holder}, {epoch}{since}", owner=info.owner)
    why = (
        f"sent no heartbeat for {progress.format_duration(info.age)} "
        f"(timeout {progress.format_duration(timeout)})"
        if info.age > timeout else "is gone (no such process on this host)"
    )
    return unfinished("stale", f"{holder} {why}; {epoch}; another worker may take it over")


def sweep_runs(workdir):
    """`[(run_id, settings)]` of `<workdir>/sweep.json`, or None if there is none.

    Raises:
        distributed.SweepError: naming the file, if it is damaged or of
            another layout (`recipes.sweep_files.read_sweep_file`).
    """
    if not os.path.isfile(os.path.join(workdir, sweep_files.SWEEP_FILENAME)):
        return None
    return [(spec.run_id, spec.settings) for spec in sweep_files.read_sweep_file(workdir)]


def _single_run(workdir):
    """`[(run_id, settings)]` of a directory holding one run, or None."""
    try:
        result = results.read(workdir)
        return [(result.run_id, result.settings)]
    except results.DamagedResultsError:
        return [(os.path.basename(os.path.abspath(workdir)), None)]
    except FileNotFoundError:
        pass
    state = _checkpoint_state(workdir)
    if state is not None or os.path.exists(lease_lib.lease_path(workdir)):
        return [(os.path.basename(os.path.abspath(workdir)), (state or {}).get("settings"))]
    return None


def time_left(statuses):
    """ "about 3 min left on 2 workers", "all done", ...: the sweep's time left.

    The estimate of `recipes.progress` from the finished runs, over the
    running workers; for a single run, its seconds per epoch times its
    epochs left.
    """
    workers = len({run.owner for run in statuses if run.state == "running"})
    timed, remaining = {}, {}
    for run in statuses:
        if run.state == "finished":
            timed.setdefault(run.group, []).append(run.wall_seconds)
        else:
            remaining[run.group] = remaining.get(run.group, 0) + 1
    if not remaining:
        return "all done"
    if len(statuses) == 1 and statuses[0].seconds_left is not None:
        seconds = statuses[0].seconds_left
    else:
        seconds = progress.estimate_seconds_left(timed, remaining, max(1, workers))
    left = progress.describe_left(seconds)
    if not workers:
        return f"no worker is training now ({left} for one)"
    return left + f" on {workers} worker{'s' if workers > 1 else ''}"


def summary_line(statuses, workdir):
    """The first line: the counts by state and the time left."""
    counted = ", ".join(
        f"{sum(1 for run in statuses if run.state == state)} {state}" for state in STATES
    )
    aside = sum(1 for run in statuses if run.set_aside)
    return (
        f"{workdir}: {len(statuses)} run{'s' if len(statuses) != 1 else ''}: {counted}"
        + (f", {aside} with files set aside" if aside else "")
        + f"; {time_left(statuses)}."
    )


def report(workdir, *, timeout, now=None):
    """The status lines of `workdir` and the exit status (0, or 2 when it holds nothing).

    Args:
        workdir: A sweep's directory (`sweep.json`) or a run's.
        timeout: The heartbeat timeout in seconds: a lease without a
            heartbeat for longer is stale.
        now: The time ages are measured to; by default `clock_now`.
    """
    workdir = os.fspath(workdir)
    try:
        runs = sweep_runs(workdir) if os.path.isdir(workdir) else None
    except distributed.SweepError as error:
        return [str(error)], NOTHING_STATUS
    if runs is None:
        runs = _single_run(workdir) if os.path.isdir(workdir) else None
        if runs is None:
            return [
                f"{workdir} holds no sweep or run (no {sweep_files.SWEEP_FILENAME}, "
                f"{results.RESULTS_FILENAME} or checkpoint)."
            ], NOTHING_STATUS
        run_dirs, in_sweep = [workdir], False
    else:
        in_sweep = True
        run_dirs = [os.path.join(workdir, run_id) for run_id, _ in runs]
    if now is None:
        now = clock_now(os.path.dirname(os.path.abspath(run_dirs[0])))
    statuses = [
        run_status(run_dir, run_id, settings, timeout=timeout, now=now, in_sweep=in_sweep)
        for run_dir, (run_id, settings) in zip(run_dirs, runs)
    ]
    lines = [summary_line(statuses, workdir)]
    for state in STATES:
        listed = [run for run in statuses if run.state == state]
        if listed:
            lines.append(f"{state} ({len(listed)}):")
            lines += [
                f"  {run.run_id}" + (f": {run.detail}" if run.detail else "") for run in listed
            ]
    aside = [(run, path) for run in statuses for path in run.set_aside]
    if aside:
        lines.append(f"failed or set aside ({len(aside)}):")
        lines += [f"  {run.run_id} ({run.state}): {path}" for run, path in aside]
    return lines, 0
