"""How far a sweep is: `[k/N]` on each finished run and the time left.

A `Progress` knows the sweep's runs (each in a group, the run's
`(model, dataset)`: their runs take similar times), the runs already
finished when the sweep starts (a resumed sweep) and the number of
workers, and gives the sweep's lines:

    33 runs: 5 already finished, 28 to train on 2 workers.
    [6/33] digits-mlp1024-ce-sym0.4-seed0: test accuracy 0.8222 (10 s); about 3 min left

`format_duration` writes the sweep's durations for people ("1 h 20 min"),
`format_elapsed` the total time of its last line (`recipes.main`), to the
second under an hour ("3 min 42 s").

The time left (`estimate_seconds_left`) is, for each group, the mean
seconds of its timed finished runs times its runs not finished, summed
over the groups and divided by the number of workers; a group with no
timed run yet takes the mean of every timed run. Before any run is timed
it is "estimating...". Runs finished before the start count with their
stored seconds (`results.json`'s `wall_seconds`) where given.

Example:

```python
groups = {spec.run_id: (spec.model, spec.dataset) for spec in specs}
progress = Progress(groups, finished={"a-run-id": 12.5}, workers=2)
print(progress.start_line())
print(progress.finished_line(spec.run_id, "test accuracy 0.8222 (10 s)", 10.0))
```
"""

import collections

ESTIMATING = "estimating..."


def _rounded(value):
    """`value` rounded half up (2.5 -> 3, where `round` gives 2)."""
    return int(value + 0.5)


def _check_seconds(seconds):
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"seconds={seconds!r} is not allowed: a finite number >= 0.")


def format_duration(seconds):
    """A duration for people: "42 s", "3 min", "1 h 20 min", "2 d 3 h".

    Raises:
        ValueError: for a negative or non-finite `seconds`.
    """
    _check_seconds(seconds)
    if _rounded(seconds) < 60:
        return f"{_rounded(seconds)} s"
    minutes = _rounded(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(_rounded(seconds / 3600), 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def format_elapsed(seconds):
    """A measured duration for people, to the second under an hour: "42 s",
    "3 min 42 s"; from an hour on as `format_duration` ("1 h 20 min").

    Raises:
        ValueError: for a negative or non-finite `seconds`.
    """
    _check_seconds(seconds)
    whole = _rounded(seconds)
    if whole >= 3600:
        return format_duration(seconds)
    minutes, rest = divmod(whole, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")


def estimate_seconds_left(timed, remaining, workers=1):
    """Seconds until the remaining runs are done, or None before any run is timed.

    Args:
        timed: `{group: [seconds of each timed finished run]}`.
        remaining: `{group: number of runs not finished}`.
        workers: Runs trained at a time (>= 1).

    Returns:
        The sum over groups of (the group's mean seconds, else the mean of
        every timed run) times its remaining runs, divided by `workers`;
        None when no run is timed yet.
    """
    if workers < 1:
        raise ValueError(f"workers={workers!r} is not allowed: an integer >= 1.")
    every = [seconds for values in timed.values() for seconds in values]
    if not every:
        return None
    overall = sum(every) / len(every)
    total = 0.0
    for group, count in remaining.items():
        values = timed.get(group)
        total += (sum(values) / len(values) if values else overall) * count
    return total / workers


def describe_left(seconds_left):
    """ "about 3 min left", "nothing left" or "estimating..." (for None)."""
    if seconds_left is None:
        return ESTIMATING
    if seconds_left == 0:
        return "nothing left"
    return f"about {format_duration(seconds_left)} left"


class Progress:
    """Counts a sweep's finished runs and estimates the time left.

    Args:
        groups: `{run id: group}` for every run of the sweep (the group
            of runs of similar duration, e.g. `(model, dataset)`).
        finished: The run ids finished before this start, or
            `{run id: stored seconds or None}`.
        workers: The number of runs trained at a time; 0 (the runs train
            in this process) counts as 1.
    """

    def __init__(self, groups, *, finished=(), workers=1):
        if not isinstance(workers, int) or workers < 0:
            raise ValueError(f"workers={workers!r} is not allowed: an integer >= 0.")
        self.groups = dict(groups)
        if not isinstance(finished, dict):
            finished = dict.fromkeys(finished)
        unknown = sorted(set(finished) - set(self.groups))
        if unknown:
            raise ValueError(
                f"finished={unknown[:3]!r} is not allowed: run ids of the sweep."
            )
        self.workers = workers
        self._finished = set()
        self._timed = collections.defaultdict(list)
        self.finished_before = len(finished)
        for run_id, seconds in finished.items():
            self.record(run_id, seconds)

    @property
    def total(self):
        """N, the number of runs of the sweep."""
        return len(self.groups)

    @property
    def count(self):
        """k, the number of finished runs."""
        return len(self._finished)

    def record(self, run_id, seconds=None):
        """Counts `run_id` as finished, timed by `seconds` if given.

        A run counted already is left as it is (a run that was finished
        before is not counted or timed twice).
        """
        if run_id not in self.groups:
            raise ValueError(f"run_id={run_id!r} is not allowed: a run id of the sweep.")
        if run_id in self._finished:
            return
        self._finished.add(run_id)
        if seconds is not None:
            self._timed[self.groups[run_id]].append(float(seconds))

    def seconds_left(self):
        """The estimated seconds left, or None before any run is timed."""
        remaining = collections.Counter(
            group for run_id, group in self.groups.items() if run_id not in self._finished
        )
        return estimate_seconds_left(self._timed, remaining, max(1, self.workers))

    def start_line(self):
        """How many runs, how many finished already, how many workers."""
        workers = max(1, self.workers)
        to_train = self.total - self.count
        line = f"{self.total} runs: {self.finished_before} already finished, {to_train} to train"
        line += f" on {workers} worker{'s' if workers != 1 else ''}"
        if self.finished_before and to_train:
            line += f"; {describe_left(self.seconds_left())}"
        return line + "."

    def finished_line(self, run_id, text, seconds=None):
        """Records `run_id` and returns `"[k/N] <text>; <time left>"`."""
        self.record(run_id, seconds)
        return f"[{self.count}/{self.total}] {text}; {describe_left(self.seconds_left())}"
