"""Tests of the eps solver (paper eq. 2)."""

import numpy as np
import pytest
from scipy import integrate
from scipy import special

import keras_robust
from keras_robust import expected_labelled_output
from keras_robust import solve_output_bias


@pytest.mark.parametrize("num_classes", [2, 10, 100])
def test_unbiased_network_outputs_one_over_c_on_average(num_classes):
    # By symmetry of i.i.d. logits, <a_k> = 1/c exactly at eps = 0.
    value = expected_labelled_output(num_classes, 0.0)
    assert value == pytest.approx(1.0 / num_classes, rel=0.01)


@pytest.mark.parametrize("eps", [-1.0, 0.0, 0.7, 2.5])
def test_two_classes_match_one_dimensional_quadrature(eps):
    # c = 2: a_k = sigmoid(eps + z_k - z_i) with z_k - z_i ~ N(0, 2).
    def integrand(x):
        return special.expit(eps + np.sqrt(2.0) * x) * np.exp(-0.5 * x * x)

    exact = integrate.quad(integrand, -np.inf, np.inf)[0] / np.sqrt(2 * np.pi)
    assert expected_labelled_output(2, eps, num_samples=400_000) == pytest.approx(
        exact, abs=2e-3
    )


# REFERENCE.md (checked independently) and paper Sec. 3.2: the paper rounds
# these to 0.5, 3.0, 0 and 2.5.
@pytest.mark.parametrize(
    "num_classes, target, expected",
    [(10, 0.15, 0.52), (100, 0.15, 3.03), (10, 0.1, 0.01), (100, 0.1, 2.51)],
)
def test_reproduces_the_papers_eps(num_classes, target, expected):
    eps = solve_output_bias(num_classes, target=target)
    assert eps == pytest.approx(expected, abs=0.02)
    assert expected_labelled_output(num_classes, eps) == pytest.approx(
        target, abs=1e-4
    )


def test_seeded_and_accurate_to_two_hundredths_across_seeds():
    first = solve_output_bias(100, target=0.15, seed=0)
    assert solve_output_bias(100, target=0.15, seed=0) == first
    others = [solve_output_bias(100, target=0.15, seed=s) for s in (1, 2, 3)]
    assert max(abs(o - first) for o in others) < 0.02


def test_target_at_one_over_c_gives_zero_and_below_gives_negative():
    assert solve_output_bias(10, target=0.1) == pytest.approx(0.0, abs=0.02)
    assert solve_output_bias(10, target=0.05) < -0.5


def test_vector_of_biases_is_increasing():
    values = expected_labelled_output(10, [0.0, 0.5, 1.0, 2.0])
    assert values.shape == (4,)
    assert np.all(np.diff(values) > 0)


def test_is_exported_at_package_level():
    assert keras_robust.solve_output_bias is solve_output_bias


@pytest.mark.parametrize(
    "kwargs, fragments",
    [
        ({"num_classes": 1}, ["num_classes", "1"]),
        ({"num_classes": 10, "target": 1.5}, ["target", "1.5", "(0, 1)"]),
        ({"num_classes": 10, "target": 0.0}, ["target", "0.0"]),
        ({"num_classes": 10, "num_samples": 0}, ["num_samples", "0"]),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, fragments):
    with pytest.raises(ValueError) as error:
        solve_output_bias(**kwargs)
    for fragment in fragments:
        assert fragment in str(error.value)
