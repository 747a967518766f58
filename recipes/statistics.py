r"""Statistics over seeds: means, error bars and rank agreement.

The numbers behind the report's tables (`recipes.tables`):

- `mean_and_standard_error`: the mean of a cell's seeds and its standard
  error (sample standard deviation, ddof=1, over sqrt(n)).
- `within_error_bars` and `best_within_error_bars`: the rule that bolds a
  table cell and marks a swap of two losses as insignificant. Two
  statistics `(mean, s.e.)` are within error bars of each other when their
  bars `mean +- s.e.` overlap: `mean_low + s.e._low >= mean_high -
  s.e._high`. A single seed has no error bar (s.e. 0), so in a column of
  single seeds only the best mean (and exact ties) is bold.
- `kendall_tau`: Kendall's tau-b of two rankings (`scipy.stats.kendalltau`).
- `bootstrap_kendall_tau`: tau-b of the losses' mean accuracies against a
  fixed reference ranking, with a percentile bootstrap interval over seeds:
  each resample draws every loss's seeds with replacement (as many as it
  has), recomputes the losses' means and tau-b; the interval is the
  `(1 - confidence) / 2` and `(1 + confidence) / 2` percentiles of the
  resampled taus (2000 resamples, 95 %, seed 0 by default, so a report is
  reproducible).

Imports only NumPy at module level (SciPy where tau is computed), never
TensorFlow or Keras.
"""

import math

import numpy as np

#: Resamples, confidence and seed of the bootstrap interval of the report.
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_CONFIDENCE = 0.95
BOOTSTRAP_SEED = 0


def mean_and_standard_error(values):
    """Mean and standard error of the mean (ddof=1); error None for one value."""
    values = [float(value) for value in values]
    if not values:
        raise ValueError("Argument `values` must not be empty.")
    n = len(values)
    mean = sum(values) / n
    if n == 1:
        return mean, None
    variance = sum((value - mean) ** 2 for value in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def format_statistic(mean, error, decimals=2):
    """`"85.10 ± 0.30"`, or `"85.10"` without an error."""
    if error is None:
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} ± {error:.{decimals}f}"


def within_error_bars(first, second):
    """Whether two `(mean, error)` statistics' bars `mean ± error` overlap.

    An error of None (a single seed) counts as 0.
    """
    (low_mean, low_error), (high_mean, high_error) = sorted(
        [(first[0], first[1] or 0.0), (second[0], second[1] or 0.0)]
    )
    return low_mean + low_error >= high_mean - high_error


def best_within_error_bars(statistics):
    """The keys of `{key: (mean, error)}` within error bars of the best mean.

    The best is the highest mean (of equal means, the one with the widest
    bar); a key is in when `within_error_bars` holds against it, so the best
    is always in.

    Returns:
        A set of keys; empty for an empty dict.
    """
    if not statistics:
        return set()
    best = max(statistics.values(), key=lambda value: (value[0], value[1] or 0.0))
    return {key for key, value in statistics.items() if within_error_bars(value, best)}


def kendall_tau(x, y):
    """Kendall's tau-b of two equally long sequences (`scipy.stats.kendalltau`).

    Returns:
        The tau-b as a float, or None where it is undefined (a constant
        sequence, fewer than two values).
    """
    from scipy import stats

    if len(x) != len(y):
        raise ValueError(
            f"Arguments `x` and `y` must have the same length. Received: {len(x)} and {len(y)}"
        )
    if len(x) < 2:
        return None
    tau = stats.kendalltau(x, y, variant="b", method="asymptotic").statistic
    return None if math.isnan(tau) else float(tau)


def bootstrap_kendall_tau(
    samples,
    reference,
    *,
    resamples=BOOTSTRAP_RESAMPLES,
    confidence=BOOTSTRAP_CONFIDENCE,
    seed=BOOTSTRAP_SEED,
):
    """Kendall's tau-b of the samples' means against `reference`, with an interval.

    Args:
        samples: One sequence of per-seed values per item (loss).
        reference: One reference value per item (e.g. the paper's accuracy).
        resamples: Number of bootstrap resamples.
        confidence: Coverage of the percentile interval, in (0, 1).
        seed: Seed of the resampling.

    Returns:
        `(tau, low, high)`: tau-b of the means, and the percentile interval
        of the resampled taus (resamples where tau is undefined, all means
        equal, are left out). None for an undefined tau or interval.
    """
    if len(samples) != len(reference):
        raise ValueError(
            "Arguments `samples` and `reference` must have the same length. "
            f"Received: {len(samples)} and {len(reference)}"
        )
    if not 0 < confidence < 1:
        raise ValueError(
            f"Argument `confidence` must be in (0, 1). Received: confidence={confidence}"
        )
    if resamples < 1:
        raise ValueError(
            f"Argument `resamples` must be a positive integer. Received: resamples={resamples}"
        )
    samples = [np.asarray(values, dtype=float) for values in samples]
    if any(values.size == 0 for values in samples):
        raise ValueError("Argument `samples` must not hold an empty sequence.")
    tau = kendall_tau([values.mean() for values in samples], list(reference))
    rng = np.random.default_rng(seed)
    means = np.stack(
        [
            values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
            for values in samples
        ],
        axis=1,
    )
    # tau depends on the order of the means alone: one scipy call per
    # distinct order (ranks, ties kept) of the resamples.
    from scipy import stats

    orders, inverse = np.unique(stats.rankdata(means, axis=1), axis=0, return_inverse=True)
    taus = np.array([
        np.nan if value is None else value
        for value in (kendall_tau(order, list(reference)) for order in orders)
    ])[np.ravel(inverse)]
    taus = taus[~np.isnan(taus)]
    if not taus.size:
        return tau, None, None
    low, high = np.percentile(taus, [50 * (1 - confidence), 50 * (1 + confidence)])
    return tau, float(low), float(high)


def format_percent(fraction):
    """`"20 %"` for 0.2: a noise rate as the report's headers print it."""
    return f"{100 * fraction:g} %"
