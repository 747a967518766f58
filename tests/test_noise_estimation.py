"""Tests for `keras_robust.estimate_noise` (confident learning).

Reference values: hand-worked cases, synthetic noise of known rate, and
cleanlab's own functions (a test-only dependency; those tests are skipped
without it).
"""

import numpy as np
import pytest

import keras_robust
from keras_robust.data.noise import asymmetric_noise
from keras_robust.data.noise import pair_flip_transition
from keras_robust.noise_estimation import _round_preserving_row_totals
from keras_robust.noise_estimation import estimate_noise

# Two classes, six examples; worked by hand below.
HAND_LABELS = np.array([0, 0, 0, 0, 1, 1])
HAND_PROBS = np.array(
    [[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8], [0.1, 0.9], [0.6, 0.4]]
)

# Three classes: example 4 is below the threshold of its most probable
# class (0) and above those of classes 1 and 2; eq. 1 counts it as
# class 1, cleanlab as class 0.
ARGMAX_LABELS = np.array([0, 0, 1, 2, 0])
ARGMAX_PROBS = np.array(
    [
        [0.95, 0.03, 0.02],
        [0.95, 0.02, 0.03],
        [0.75, 0.25, 0.0],
        [0.75, 0.0, 0.25],
        [0.4, 0.31, 0.29],
    ]
)


def _model_like(num_examples, num_classes, boost, seed):
    """True labels and the softmax of true-class-boosted Gaussian logits."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, num_classes, num_examples)
    logits = rng.normal(size=(num_examples, num_classes))
    logits[np.arange(num_examples), true] += boost
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return true, probs / probs.sum(axis=1, keepdims=True)


def test_is_exported():
    assert keras_robust.estimate_noise is estimate_noise


def test_hand_worked_two_classes():
    # Thresholds (eq. 2): t0 = (0.9 + 0.8 + 0.7 + 0.2) / 4 = 0.65,
    # t1 = (0.9 + 0.4) / 2 = 0.65. Examples 0-2 are confidently class 0,
    # 3 and 4 class 1, example 5 is above neither threshold.
    estimate = estimate_noise(HAND_LABELS, HAND_PROBS)
    np.testing.assert_array_equal(estimate.confident_joint, [[3, 1], [0, 1]])
    # Calibration (eq. 3): row 0 already sums to its 4 labels, row 1 is
    # scaled from 1 to 2 examples: [[3, 1], [0, 2]] / 6.
    np.testing.assert_allclose(estimate.joint, np.array([[3, 1], [0, 2]]) / 6)
    assert estimate.noise_rate == pytest.approx(1 / 6)
    np.testing.assert_allclose(estimate.noise_matrix, [[1, 1 / 3], [0, 2 / 3]])
    np.testing.assert_allclose(
        estimate.inverse_noise_matrix, [[0.75, 0.0], [0.25, 1.0]]
    )


def test_argmax_among_confident_classes():
    # Thresholds: t0 = (0.95 + 0.95 + 0.4) / 3, t1 = t2 = 0.25. Example 4
    # is counted as class 1, the most probable class above threshold.
    estimate = estimate_noise(ARGMAX_LABELS, ARGMAX_PROBS)
    np.testing.assert_array_equal(
        estimate.confident_joint, [[2, 1, 0], [0, 1, 0], [0, 0, 1]]
    )
    assert estimate.noise_rate == pytest.approx(0.2)


def test_rounding_keeps_row_totals_by_largest_remainder():
    rows = np.array([[1.45, 1.35, 2.2], [1.6, 1.7, 1.7]])
    # Row 0 rounds to 4 of 5: the largest remainder (1.45) goes up. Row 1
    # rounds to 6 of 5: the entry rounded up the most (1.6) goes down.
    np.testing.assert_array_equal(
        _round_preserving_row_totals(rows), [[2, 1, 2], [1, 2, 2]]
    )


def test_class_never_given_gets_no_examples():
    true, probs = _model_like(300, 4, boost=4.0, seed=0)
    labels = np.where(true == 3, 0, true)  # nobody is labelled 3
    estimate = estimate_noise(labels, probs)
    np.testing.assert_array_equal(estimate.joint[3], 0.0)
    np.testing.assert_array_equal(estimate.confident_joint[:, 3], [0, 0, 0, 1])
    np.testing.assert_array_equal(estimate.inverse_noise_matrix[:, 3], 0.0)
    np.testing.assert_array_equal(estimate.noise_matrix[:, 3], 0.0)
    # The class-3 examples labelled 0 are counted into other classes.
    assert estimate.noise_rate == pytest.approx(1.0 - estimate.joint.trace())
    assert estimate.joint.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("noise_rate", [0.0, 0.2, 0.4, 0.6])
def test_symmetric_noise_rate_is_recovered(noise_rate):
    # Over 30 seeds of this generator (10 classes, 2000 examples, boost 4)
    # the estimate's error against the realised fraction of wrong labels
    # has mean within 0.002, standard deviation 0.004 and maximum 0.009;
    # 0.02 is five standard deviations.
    true, probs = _model_like(2000, 10, boost=4.0, seed=1)
    rng = np.random.default_rng(2)
    labels = true.copy()
    redraw = rng.random(true.size) < noise_rate
    labels[redraw] = rng.integers(0, 10, int(redraw.sum()))
    estimate = estimate_noise(labels, probs)
    assert abs(estimate.noise_rate - np.mean(labels != true)) < 0.02
    # Redrawing a fraction eta uniformly over 10 classes leaves eta * 9/10
    # wrong (each redrawn label stays right with probability 1/10, standard
    # deviation 0.006 of the fraction at eta 0.6); the symmetric rate undoes
    # that factor and lands on the redrawn fraction.
    assert estimate.symmetric_noise_rate == pytest.approx(
        estimate.noise_rate * 10 / 9, abs=1e-12
    )
    assert abs(estimate.symmetric_noise_rate - np.mean(redraw)) < 0.025


def test_recommend_takes_the_symmetric_rate():
    # 36 % wrong labels at 10 classes is the paper's 40 % noise: recommend()
    # then gives boundCE (Table 4, 40 % and more), where the fraction of
    # wrong labels itself would give genCE.
    estimate = keras_robust.NoiseEstimate(0.36, *(np.eye(10) / 10,) * 3, np.eye(10, dtype=int))
    assert estimate.symmetric_noise_rate == 0.4
    recommend = keras_robust.losses.recommend
    assert type(recommend(estimate.symmetric_noise_rate, 10)).__name__ == "BoundedCrossEntropy"
    assert type(recommend(estimate.noise_rate, 10)).__name__ == "GeneralizedCrossEntropy"


def test_symmetric_noise_rate_is_at_most_one():
    # Two classes, every label wrong: w = 1 would be eta = 2.
    probs = np.array([[0.9, 0.1], [0.1, 0.9]] * 4)
    labels = np.array([1, 0] * 4)
    estimate = estimate_noise(labels, probs)
    assert estimate.noise_rate > 0.5
    assert estimate.symmetric_noise_rate == min(1.0, estimate.noise_rate * 2)


def test_pair_flip_noise_matrix_is_recovered():
    # P(given = j + 1 | true = j) = 0.3: a transposed matrix would be off
    # by 0.3. Over 30 seeds the largest entry error against the realised
    # transition matrix is 0.031; the bound is twice that.
    true, probs = _model_like(2000, 10, boost=4.0, seed=3)
    labels, _ = asymmetric_noise(true, pair_flip_transition(10, 0.3), seed=4)
    realised = np.zeros((10, 10))
    np.add.at(realised, (true, labels), 1)
    realised /= realised.sum(axis=1, keepdims=True)
    estimate = estimate_noise(labels, probs)
    np.testing.assert_allclose(estimate.noise_matrix.T, realised, atol=0.06)
    assert abs(estimate.noise_rate - np.mean(labels != true)) < 0.02


def test_result_is_frozen_and_read_only():
    estimate = estimate_noise(HAND_LABELS, HAND_PROBS)
    with pytest.raises(AttributeError):
        estimate.noise_rate = 0.0
    with pytest.raises(ValueError):
        estimate.joint[0, 0] = 1.0


@pytest.mark.parametrize(
    "labels, probs, match",
    [
        (HAND_LABELS, HAND_PROBS[:, :1], "2-D array"),
        (HAND_LABELS, HAND_PROBS.ravel(), "2-D array"),
        (HAND_LABELS[:0], HAND_PROBS[:0], "2-D array"),
        (HAND_LABELS, HAND_PROBS * 2 - 0.5, r"in \[0, 1\]"),
        (HAND_LABELS, np.where(HAND_PROBS > 0.85, np.nan, HAND_PROBS), "fin"),
        (HAND_LABELS, HAND_PROBS * 0.9, "row 0 sums to 0.9"),
        (HAND_LABELS[:5], HAND_PROBS, "one label per row"),
        (HAND_LABELS.astype(float), HAND_PROBS, "integer"),
        (HAND_LABELS + 1, HAND_PROBS, r"\[0, 2\)"),
    ],
)
def test_bad_input_is_one_line_error(labels, probs, match):
    with pytest.raises(ValueError, match=match) as info:
        estimate_noise(labels, probs)
    assert "\n" not in str(info.value)


# cleanlab (AGPL-3.0) is a test-only reference, never a dependency.


@pytest.fixture
def cleanlab_count():
    return pytest.importorskip("cleanlab.count")


def _cleanlab_inputs():
    """Model-like inputs with noisy labels, and one with a class never given."""
    cases = []
    for seed, (num_examples, num_classes, boost) in enumerate(
        [(200, 2, 1.5), (300, 3, 2.0), (500, 10, 2.5), (400, 7, 1.0)]
    ):
        true, probs = _model_like(num_examples, num_classes, boost, seed)
        rng = np.random.default_rng(seed + 10)
        labels = np.where(
            rng.random(num_examples) < 0.3,
            rng.integers(0, num_classes, num_examples),
            true,
        )
        cases.append((labels, probs))
    labels, probs = cases[1]
    cases.append((np.where(labels == 2, 0, labels), probs))
    return cases


@pytest.mark.parametrize("case", range(5))
def test_matches_cleanlab(cleanlab_count, case):
    count = cleanlab_count
    labels, probs = _cleanlab_inputs()[case]
    estimate = estimate_noise(labels, probs)
    np.testing.assert_array_equal(
        estimate.confident_joint,
        count.compute_confident_joint(labels, probs, calibrate=False),
    )
    calibrated = count.compute_confident_joint(labels, probs)
    np.testing.assert_allclose(
        estimate.joint, count.estimate_joint(labels, probs), rtol=0, atol=1e-15
    )
    _, noise_matrix, inverse = count.estimate_latent(calibrated, labels)
    np.testing.assert_allclose(
        estimate.noise_matrix, noise_matrix, rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(
        estimate.inverse_noise_matrix, inverse, rtol=1e-12, atol=1e-15
    )
    assert round(estimate.noise_rate * len(labels)) == count.num_label_issues(
        labels, probs, estimation_method="off_diagonal_calibrated"
    )


def test_differs_from_cleanlab_only_by_the_argmax(cleanlab_count):
    # cleanlab counts example 4 as its overall most probable class, 0.
    np.testing.assert_array_equal(
        cleanlab_count.compute_confident_joint(
            ARGMAX_LABELS, ARGMAX_PROBS, calibrate=False
        ),
        [[3, 0, 0], [0, 1, 0], [0, 0, 1]],
    )
    assert estimate_noise(ARGMAX_LABELS, ARGMAX_PROBS).noise_rate == (
        pytest.approx(0.2)
    )
