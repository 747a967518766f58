"""Tests of `recipes.statistics`: values worked out by hand."""

import math

import numpy as np
import pytest

from recipes import statistics


def test_mean_and_standard_error():
    mean, error = statistics.mean_and_standard_error([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    # Sample variance (ddof=1) 5/3, over n = 4.
    assert error == pytest.approx(math.sqrt(5 / 3) / 2)
    assert statistics.mean_and_standard_error([3.0]) == (3.0, None)
    with pytest.raises(ValueError, match="values"):
        statistics.mean_and_standard_error([])
    assert statistics.format_statistic(85.1, None) == "85.10"
    assert statistics.format_statistic(85.1, 0.25, 1) == "85.1 ± 0.2"
    assert statistics.format_percent(0.2) == "20 %"


def test_bold_rule_is_overlapping_error_bars():
    # The best is A, 90 ± 1: its bar reaches down to 89.
    column = {"A": (90.0, 1.0), "B": (88.5, 0.6), "C": (88.0, 0.9), "D": (87.0, None)}
    # B reaches up to 89.1 >= 89; C only to 88.9; D (one seed) is 87.
    assert statistics.best_within_error_bars(column) == {"A", "B"}
    assert statistics.within_error_bars((88.5, 0.6), (90.0, 1.0))
    assert not statistics.within_error_bars((90.0, 1.0), (88.0, 0.9))
    # Bars that just touch count as within.
    assert statistics.within_error_bars((1.0, 0.5), (2.0, 0.5))
    # Single seeds have no bar: only the best, and exact ties.
    assert statistics.best_within_error_bars(
        {"A": (90.0, None), "B": (89.99, None), "C": (90.0, None)}
    ) == {"A", "C"}
    assert statistics.best_within_error_bars({}) == set()


def test_kendall_tau_b_is_scipys():
    assert statistics.kendall_tau([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]) == pytest.approx(1.0)
    assert statistics.kendall_tau([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    # Concordant (0, 1), (0, 2); discordant (1, 2): (2 - 1) / 3.
    assert statistics.kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    # Four concordant pairs, one tie in each: 4 / sqrt((6 - 1) (6 - 1)).
    assert statistics.kendall_tau([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    assert statistics.kendall_tau([1, 1, 1], [1, 2, 3]) is None
    assert statistics.kendall_tau([1], [1]) is None
    with pytest.raises(ValueError, match="same length"):
        statistics.kendall_tau([1, 2], [1])


def test_bootstrap_of_identical_seeds_has_zero_width():
    # Every resample of a seed list of equal values has the same mean, so
    # every resampled tau is the tau of the means: (2 - 1) / 3.
    samples = [[1.0, 1.0, 1.0], [3.0, 3.0], [2.0]]
    tau, low, high = statistics.bootstrap_kendall_tau(samples, [1.0, 2.0, 3.0])
    assert tau == low == high == pytest.approx(1 / 3)


def test_bootstrap_interval_by_enumeration():
    # The paper orders A > B > C. A's two seeds 1 and 3 resample to a mean
    # of 3 (both draws 3) with probability 1/4, else to 2 or 1; B is 2.5 and
    # C is 0 in every resample. Mean 3: A > B > C, tau = 1. Mean 1 or 2:
    # B > A > C, one discordant pair of three, tau = 1/3. So the resampled
    # taus are 1 (1/4) and 1/3 (3/4), and the point tau (A's mean 2) is 1/3.
    samples = [[1.0, 3.0], [2.5, 2.5], [0.0, 0.0]]
    reference = [3.0, 2.0, 1.0]
    tau, low, high = statistics.bootstrap_kendall_tau(samples, reference)
    assert tau == pytest.approx(1 / 3)
    # 2.5th percentile inside the 3/4 at 1/3, 97.5th inside the 1/4 at 1.
    assert (low, high) == (pytest.approx(1 / 3), pytest.approx(1.0))
    # The 30th and 70th percentiles both fall in the 3/4 at 1/3.
    assert statistics.bootstrap_kendall_tau(samples, reference, confidence=0.4)[1:] == (
        pytest.approx(1 / 3), pytest.approx(1 / 3)
    )
    # A fixed seed: the same interval every time.
    assert statistics.bootstrap_kendall_tau(samples, reference, resamples=50) == (
        statistics.bootstrap_kendall_tau(samples, reference, resamples=50)
    )


def test_bootstrap_errors_name_the_argument():
    with pytest.raises(ValueError, match="confidence"):
        statistics.bootstrap_kendall_tau([[1.0], [2.0]], [1.0, 2.0], confidence=1.0)
    with pytest.raises(ValueError, match="resamples"):
        statistics.bootstrap_kendall_tau([[1.0], [2.0]], [1.0, 2.0], resamples=0)
    with pytest.raises(ValueError, match="same length"):
        statistics.bootstrap_kendall_tau([[1.0]], [1.0, 2.0])
    with pytest.raises(ValueError, match="empty"):
        statistics.bootstrap_kendall_tau([[], [1.0]], [1.0, 2.0])


def test_bootstrap_against_a_direct_computation():
    # The protocol spelled out: seed 0, each loss's seeds drawn with
    # replacement in turn, scipy's tau-b of every resample's means, the
    # 2.5th and 97.5th percentiles.
    from scipy import stats

    rng = np.random.default_rng(7)
    samples = [rng.normal(80.0 + 0.3 * i, 1.0, size=4 + i % 2) for i in range(6)]
    reference = [1.0, 3.0, 2.0, 5.0, 4.0, 6.0]
    draws = np.random.default_rng(0)
    means = np.stack([
        values[draws.integers(0, values.size, size=(300, values.size))].mean(axis=1)
        for values in samples
    ], axis=1)
    taus = [stats.kendalltau(row, reference).statistic for row in means]
    expected = np.percentile(taus, [2.5, 97.5])
    tau, low, high = statistics.bootstrap_kendall_tau(samples, reference, resamples=300)
    assert tau == pytest.approx(stats.kendalltau([v.mean() for v in samples], reference).statistic)
    assert (low, high) == (pytest.approx(expected[0]), pytest.approx(expected[1]))
    assert low < tau < high
