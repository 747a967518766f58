"""Tests of the Fig. 1 learning-curve analysis against closed forms."""

import numpy as np
import pytest

from keras_robust import analysis
from keras_robust import losses

pytestmark = pytest.mark.backend_independent

Z_K = np.linspace(-6.0, 6.0, 13).astype(np.float32)
NUM_DRAWS = 300


def _labelled_probabilities(num_classes, z_k, eps=0.0, seed=0):
    # The analysis's draws: default_rng(seed), (num_draws, c - 1) normals.
    others = np.random.default_rng(seed).standard_normal((NUM_DRAWS, num_classes - 1))
    others = others.astype(np.float32).astype(np.float64)
    peak = others.max(axis=1)
    others_lse = peak + np.log(np.exp(others - peak[:, None]).sum(axis=1))
    return 1.0 / (1.0 + np.exp(others_lse[None, :] - (z_k[:, None] + eps)))


@pytest.mark.parametrize("num_classes", [10, 100])
def test_cross_entropy_curve_is_a_k_minus_one(num_classes):
    # Paper Table 1: delta_k = a_k - 1 for CE.
    expected = (_labelled_probabilities(num_classes, Z_K) - 1.0).mean(axis=1)
    curve = analysis.labelled_neuron_error("ce", num_classes, Z_K, num_draws=NUM_DRAWS)
    np.testing.assert_allclose(curve, expected, atol=1e-5)


@pytest.mark.parametrize("num_classes", [10, 100])
def test_mae_curve_is_minus_two_a_k_one_minus_a_k(num_classes):
    # Paper Table 1: MAE = 2 (1 - a_k), delta_k = -2 a_k (1 - a_k).
    a = _labelled_probabilities(num_classes, Z_K)
    curve = analysis.labelled_neuron_error("mae", num_classes, Z_K, num_draws=NUM_DRAWS)
    np.testing.assert_allclose(curve, (-2.0 * a * (1.0 - a)).mean(axis=1), atol=1e-5)


def test_output_bias_shifts_the_curve_by_eps():
    eps = 2.5
    biased = analysis.labelled_neuron_error(
        losses.ProbabilityMeanAbsoluteError(output_bias=eps), 100, Z_K, num_draws=NUM_DRAWS
    )
    shifted = analysis.labelled_neuron_error("mae", 100, Z_K + eps, num_draws=NUM_DRAWS)
    np.testing.assert_allclose(biased, shifted, atol=1e-6)


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_every_loss_gives_a_finite_learning_curve(name):
    curve = analysis.labelled_neuron_error(name, 10, Z_K, num_draws=50)
    assert curve.shape == Z_K.shape
    assert np.all(np.isfinite(curve))
    # Every loss pushes the labelled logit up: delta_k <= 0.
    assert np.all(curve <= 1e-6)


def test_initial_histogram_is_a_normal_density_shifted_by_eps():
    for eps in (0.0, 2.5):
        centers, density = analysis.initial_logit_histogram(10, output_bias=eps)
        width = centers[1] - centers[0]
        assert np.sum(density) * width == pytest.approx(1.0, abs=1e-3)
        assert np.sum(centers * density) * width == pytest.approx(eps, abs=0.02)
        peak = centers[np.argmax(density)]
        assert abs(peak - eps) < 0.3


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="loss"):
        analysis.labelled_neuron_error(3.0, 10, Z_K)
    with pytest.raises(ValueError, match="z_k"):
        analysis.labelled_neuron_error("ce", 10, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="num_classes"):
        analysis.labelled_neuron_error("ce", 1, Z_K)
    with pytest.raises(ValueError, match="output_bias"):
        analysis.initial_logit_histogram(10, output_bias=-1.0)
