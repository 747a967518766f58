"""Tests of recipes.progress: counts, estimates and durations worked out by hand."""

import pytest

from recipes import progress


@pytest.mark.parametrize("seconds, text", [
    (0, "0 s"), (42.4, "42 s"), (150, "3 min"), (59.6, "1 min"), (90, "2 min"), (3569, "59 min"),
    (3600, "1 h"), (4800, "1 h 20 min"), (86399, "1 d"), (2 * 86400 + 3 * 3600, "2 d 3 h"),
])
def test_format_duration(seconds, text):
    assert progress.format_duration(seconds) == text


@pytest.mark.parametrize("seconds, text", [
    (0, "0 s"), (42.4, "42 s"), (59.6, "1 min"), (120, "2 min"), (222, "3 min 42 s"),
    (3599.4, "59 min 59 s"), (3599.6, "1 h"), (4800, "1 h 20 min"),
])
def test_format_elapsed(seconds, text):
    assert progress.format_elapsed(seconds) == text


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_format_elapsed_refuses_bad_seconds(seconds):
    with pytest.raises(ValueError, match="seconds="):
        progress.format_elapsed(seconds)


def test_format_duration_refuses_negative():
    with pytest.raises(ValueError, match="seconds=-1"):
        progress.format_duration(-1)


def test_fresh_sweep_counts_and_estimates_per_group():
    # Group A: 3 runs, group B: 2 runs, 2 workers.
    groups = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"}
    sweep = progress.Progress(groups, workers=2)
    assert sweep.start_line() == "5 runs: 0 already finished, 5 to train on 2 workers."
    # A has 2 left at 10 s, B borrows the overall mean 10 s: (20 + 20) / 2 = 20 s.
    assert sweep.finished_line("a1", "a1: ok", 10.0) == "[1/5] a1: ok; about 20 s left"
    # A: 2 x 10 = 20, B: 1 x 600 = 600; 620 / 2 = 310 s = 5.2 min.
    assert sweep.finished_line("b1", "b1: ok", 600.0) == "[2/5] b1: ok; about 5 min left"
    # A: mean (10 + 30) / 2 = 20, 1 left; B: 600, 1 left; 620 / 2 = 310 s.
    assert sweep.seconds_left() == 310.0
    sweep.finished_line("a2", "a2", 30.0)
    assert sweep.seconds_left() == 310.0
    sweep.finished_line("a3", "a3", 20.0)
    assert sweep.finished_line("b2", "b2: ok", 500.0) == "[5/5] b2: ok; nothing left"


def test_estimating_before_any_run_is_timed():
    sweep = progress.Progress({"a": 1, "b": 1, "c": 1}, workers=0)
    assert sweep.start_line() == "3 runs: 0 already finished, 3 to train on 1 worker."
    assert sweep.finished_line("a", "a", None) == "[1/3] a; estimating..."
    assert sweep.finished_line("b", "b", 90.0) == "[2/3] b; about 2 min left"


def test_resumed_sweep_counts_earlier_runs_once():
    # 4 runs, 2 finished before at 100 s and 200 s (mean 150), one worker.
    sweep = progress.Progress(
        {"r1": "G", "r2": "G", "r3": "G", "r4": "G"},
        finished={"r1": 100.0, "r2": 200.0}, workers=1,
    )
    assert sweep.start_line() == (
        "4 runs: 2 already finished, 2 to train on 1 worker; about 5 min left."
    )
    # A finished run handed out again is not counted twice.
    assert sweep.finished_line("r2", "r2", 0.0) == "[2/4] r2; about 5 min left"
    assert sweep.finished_line("r3", "r3", 150.0) == "[3/4] r3; about 3 min left"


def test_estimate_seconds_left_closed_form():
    timed = {"A": [10.0, 20.0], "B": [100.0]}
    # A: 15 x 3 = 45; B: 100 x 2 = 200; C (untimed) borrows 130 / 3 x 1.
    seconds = progress.estimate_seconds_left(timed, {"A": 3, "B": 2, "C": 1}, workers=5)
    assert seconds == pytest.approx((45 + 200 + 130 / 3) / 5)
    assert progress.estimate_seconds_left({}, {"A": 3}) is None


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="workers=-1"):
        progress.Progress({"a": 1}, workers=-1)
    with pytest.raises(ValueError, match=r"finished=\['z'\]"):
        progress.Progress({"a": 1}, finished=["z"])
    with pytest.raises(ValueError, match="run_id='z'"):
        progress.Progress({"a": 1}).record("z")
