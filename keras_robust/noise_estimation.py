"""The label noise of a dataset, estimated by confident learning.

`estimate_noise(labels, pred_probs)` estimates the fraction of wrong labels
and the class-conditional noise matrix from out-of-sample predicted
probabilities (e.g. k-fold cross-validation), by the confident joint of
Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in
Dataset Labels", JAIR 70 (2021), section 3.1. The noise rate it returns
converts (`NoiseEstimate.symmetric_noise_rate`) into the paper's noise
rate, which `keras_robust.losses.recommend()` takes.

It needs NumPy only. Its defaults are those of cleanlab 2.x
(`cleanlab.count.compute_confident_joint`, `estimate_joint`,
`estimate_latent`), with which it agrees to float precision except where
`estimate_noise`'s docstring says otherwise; cleanlab is not needed.
"""

import dataclasses

import numpy as np

# cleanlab's tolerance of the threshold comparison `p >= t - tolerance`
# (FLOATING_POINT_COMPARISON) and its lower bound on a threshold.
THRESHOLD_TOLERANCE = 1e-6
MIN_THRESHOLD = 2e-6
# The threshold of a class that no example is labelled with: above every
# probability, so no example is counted into it (cleanlab's BIG_VALUE).
UNGIVEN_THRESHOLD = 2.0
# How far a row of `pred_probs` may sum from 1 (float32 softmax outputs
# over a hundred classes are within about 1e-6).
ROW_SUM_TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class NoiseEstimate:
    """The label noise estimated by `estimate_noise`.

    Indices: `i` is a given (possibly wrong) label, `j` a true label; `c`
    the number of classes and `N` the number of examples. The arrays are
    read-only float64 (counts: int64).

    Attributes:
        noise_rate: The estimated fraction of wrong labels,
            `1 - trace(joint)`.
        joint: `(c, c)` estimate of `Q[i, j] = P(given = i, true = j)`;
            it sums to 1 and its row `i` sums to the fraction of examples
            labelled `i`.
        noise_matrix: `(c, c)`, `P(given = i | true = j)` at `[i, j]`;
            columns sum to 1 (a column of zeros for a class that no
            example is counted into). Its transpose is the row-stochastic
            `transition_matrix` of `keras_robust.data.asymmetric_noise`.
        inverse_noise_matrix: `(c, c)`, `P(true = i | given = j)` at
            `[i, j]`; columns sum to 1 (zeros for a class never given).
        confident_joint: `(c, c)` int64 counts `C[i, j]` of examples
            labelled `i` that are confidently of class `j`, before
            calibration (eq. 1, with the diagonal raised to at least 1).
    """

    noise_rate: float
    joint: np.ndarray
    noise_matrix: np.ndarray
    inverse_noise_matrix: np.ndarray
    confident_joint: np.ndarray

    @property
    def symmetric_noise_rate(self):
        """The paper's noise rate that leaves `noise_rate` of the labels wrong.

        Symmetric noise of rate `eta` (paper Sec. 4) redraws a fraction
        `eta` of the labels uniformly over all `c` classes, so a redrawn
        label stays right with probability `1/c` and a fraction
        `eta (c - 1) / c` ends up wrong. This is `noise_rate * c / (c - 1)`,
        at most 1: the `noise_rate` that `keras_robust.losses.recommend()`
        takes (its thresholds are the paper's, in `eta`). Rounded to 12
        decimals, so that 0.36 at 10 classes is 0.4, not 0.39999999999999997.
        """
        num_classes = self.joint.shape[0]
        return min(1.0, round(self.noise_rate * num_classes / (num_classes - 1), 12))


def _check_pred_probs(pred_probs):
    try:
        probs = np.asarray(pred_probs, dtype=np.float64)
    except (TypeError, ValueError):
        probs = np.empty((0,))
    if probs.ndim != 2 or probs.shape[0] < 1 or probs.shape[1] < 2:
        raise ValueError(
            "`pred_probs` must be a 2-D array (N, c) of class probabilities "
            "with N >= 1 examples and c >= 2 classes. Received: pred_probs "
            f"with shape {np.shape(pred_probs)}"
        )
    if not np.all(np.isfinite(probs)) or probs.min() < 0 or probs.max() > 1:
        raise ValueError(
            "`pred_probs` must hold probabilities in [0, 1]. Received: "
            f"pred_probs with minimum {np.nanmin(probs)} and maximum "
            f"{np.nanmax(probs)}, finite: {bool(np.all(np.isfinite(probs)))}"
        )
    row_error = np.abs(probs.sum(axis=1) - 1.0)
    if row_error.max() > ROW_SUM_TOLERANCE:
        row = int(row_error.argmax())
        raise ValueError(
            "Each row of `pred_probs` must sum to 1 (within "
            f"{ROW_SUM_TOLERANCE}). Received: row {row} sums to "
            f"{float(probs[row].sum())}; pass softmax outputs, not logits"
        )
    return probs


def _check_labels(labels, num_examples, num_classes):
    labels = np.asarray(labels)
    if labels.shape != (num_examples,) or not np.issubdtype(
        labels.dtype, np.integer
    ):
        raise ValueError(
            "`labels` must be a 1-D integer array with one label per row of "
            f"`pred_probs` ({num_examples}). Received: labels with shape "
            f"{labels.shape} and dtype {labels.dtype}"
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"`labels` must lie in [0, {num_classes}) for the {num_classes} "
            f"columns of `pred_probs`. Received: labels with min "
            f"{labels.min()} and max {labels.max()}"
        )
    return labels.astype(np.int64)


def _thresholds(labels, probs):
    """Eq. 2: the mean self-confidence of each class among its examples."""
    num_classes = probs.shape[1]
    thresholds = np.full(num_classes, UNGIVEN_THRESHOLD)
    for k in range(num_classes):
        given_k = labels == k
        if given_k.any():
            thresholds[k] = np.mean(probs[given_k, k])
    return np.maximum(thresholds, MIN_THRESHOLD)


def _confident_joint(labels, probs):
    """Eq. 1: counts of (given label, argmax among the confident classes)."""
    num_classes = probs.shape[1]
    confident = probs >= _thresholds(labels, probs) - THRESHOLD_TOLERANCE
    counted = confident.any(axis=1)
    true_guess = np.where(confident, probs, -np.inf).argmax(axis=1)
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (labels[counted], true_guess[counted]), 1)
    # As cleanlab: every class keeps at least one correctly labelled example.
    np.fill_diagonal(counts, np.maximum(counts.diagonal(), 1))
    return counts


def _round_preserving_row_totals(matrix):
    """Rounds each row to integers that keep its rounded total.

    Largest remainders first (cleanlab's `round_preserving_row_totals`):
    entries are rounded, then the ones rounded down the most are raised
    (or those rounded up the most lowered) until the row's total is
    `round(sum(row))`. Each rounding error is at most 1/2, so the
    correction touches at most half a row plus one entry: one pass.
    """
    rounded = np.round(matrix)
    for row, values in enumerate(matrix):
        missing = int(np.round(values.sum()) - rounded[row].sum())
        if missing:
            step = 1 if missing > 0 else -1
            order = np.argsort(values - rounded[row])[::-step]
            rounded[row, order[: min(abs(missing), len(values))]] += step
    return rounded.astype(np.int64)


def _calibrate(confident_joint, label_counts):
    """Eq. 3 in counts: rows scaled to the label counts, total N, rounded."""
    calibrated = (
        confident_joint.T / confident_joint.sum(axis=1) * label_counts
    ).T
    calibrated = calibrated / calibrated.sum() * label_counts.sum()
    return _round_preserving_row_totals(calibrated)


def _read_only(array):
    array.setflags(write=False)
    return array


def estimate_noise(labels, pred_probs):
    """Estimates the label noise from out-of-sample predicted probabilities.

    Confident learning (Northcutt et al., JAIR 2021, section 3.1), with
    `p[x, j]` the predicted probability of class `j` for example `x`, `X_i`
    the examples labelled `i` and `m` the number of classes:

    1. Per-class thresholds, the mean self-confidence (eq. 2):
       `t_j = mean_{x in X_j} p[x, j]`.
    2. The confident joint (eq. 1): `C[i, j]` counts the `x in X_i` whose
       class `j = argmax_{l : p[x, l] >= t_l} p[x, l]` (the most probable
       class among those above their threshold); an example with no class
       above its threshold is not counted.
    3. Calibration and the joint (eq. 3): each row scaled to the number of
       examples given that label, `C~[i, j] = C[i, j] / sum_j' C[i, j'] *
       |X_i|`, and `Q = C~ / sum C~`.
    4. The noise rate `1 - trace(Q)` (the fraction of examples whose given
       label is not their true one), the noise matrix
       `P(given = i | true = j) = Q[i, j] / sum_i' Q[i', j]` and the
       inverse noise matrix `P(true = i | given = j) = Q[j, i] /
       sum_i' Q[j, i']`.

    The details follow cleanlab 2.x's defaults (`compute_confident_joint`
    with `calibrate=True`, `estimate_joint`, `estimate_latent`): a class is
    above its threshold when `p >= t - 1e-6`, thresholds are at least
    2e-6, each diagonal count of `C` is raised to at least 1, and the
    calibrated counts are rounded to integers that keep each row's total
    (largest remainders), so `Q` is a matrix of counts over N.

    Where this differs from cleanlab:

    - With two or more classes above their thresholds, cleanlab takes the
      most probable class over *all* classes, as eq. 1 does not; the two
      differ only when that class is itself below its threshold.
    - cleanlab's `estimate_latent` also clips off-diagonal noise rates at
      0.9999 and renormalises the columns, which changes an entry only
      when one wrong label holds more than 99.99 % of a true class.

    A class that no example is labelled with has no threshold; as cleanlab
    does, no example is then counted into it (threshold 2), and it gets a
    zero row in `joint` and zero columns in both noise matrices.

    `cleanlab.count.num_label_issues(..., estimation_method=
    "off_diagonal_calibrated")` is `round(noise_rate * N)`; its default
    method counts the off-diagonal of the uncalibrated joint instead.

    Args:
        labels: Integer array `(N,)` of given labels in `[0, c)`.
        pred_probs: Array `(N, c)` of out-of-sample predicted class
            probabilities (softmax outputs, rows summing to 1), e.g. from
            k-fold cross-validation: each row from a model that did not
            train on that example. Computed in float64.

    Returns:
        A `NoiseEstimate`.

    Raises:
        ValueError: for `pred_probs` not of shape `(N, c)` with `c >= 2`,
            entries outside `[0, 1]`, rows not summing to 1, or `labels`
            of the wrong shape or dtype or outside `[0, c)`.

    Example:

    ```python
    estimate = keras_robust.estimate_noise(labels, pred_probs)
    print(f"{estimate.noise_rate:.1%} of the labels look wrong")
    loss = keras_robust.losses.recommend(estimate.symmetric_noise_rate, num_classes)
    ```
    """
    probs = _check_pred_probs(pred_probs)
    labels = _check_labels(labels, *probs.shape)
    confident_joint = _confident_joint(labels, probs)
    label_counts = np.bincount(labels, minlength=probs.shape[1])
    calibrated = _calibrate(confident_joint, label_counts)
    joint = calibrated / calibrated.sum()
    tiny = np.finfo(np.float64).tiny
    noise_matrix = calibrated / np.maximum(calibrated.sum(axis=0), tiny)
    inverse = calibrated.T / np.maximum(calibrated.sum(axis=1), tiny)
    return NoiseEstimate(
        noise_rate=float(1.0 - joint.trace()),
        joint=_read_only(joint),
        noise_matrix=_read_only(noise_matrix),
        inverse_noise_matrix=_read_only(inverse),
        confident_joint=_read_only(confident_joint),
    )
