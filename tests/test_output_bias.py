"""Tests of the eps solver (paper eq. 2)."""

import time

import numpy as np
import pytest

import keras_robust
from keras_robust import expected_labelled_output
from keras_robust import solve_output_bias

pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize("num_classes", [2, 10, 100, 1000])
def test_unbiased_network_outputs_one_over_c(num_classes):
    # By symmetry of i.i.d. logits, <a_k> = 1/c exactly at eps = 0.
    value = expected_labelled_output(num_classes, 0.0)
    assert value == pytest.approx(1.0 / num_classes, rel=1e-12)


@pytest.mark.parametrize("eps", [-1.0, 0.0, 0.7, 2.5])
def test_two_classes_match_one_dimensional_integral(eps):
    # c = 2: a_k = sigmoid(eps + z_k - z_i) with z_k - z_i = sqrt(2) x,
    # x ~ N(0, 1); a fine Riemann sum of that independent 1-D integral.
    x = np.linspace(-12.0, 12.0, 200_001)
    density = np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)
    sigmoid = 1.0 / (1.0 + np.exp(-(eps + np.sqrt(2.0) * x)))
    exact = np.sum(sigmoid * density) * (x[1] - x[0])
    assert expected_labelled_output(2, eps) == pytest.approx(exact, abs=1e-9)


@pytest.mark.parametrize("num_classes, eps", [(10, 0.52), (100, 3.0)])
def test_matches_monte_carlo(num_classes, eps):
    z = np.random.default_rng(0).standard_normal((200_000, num_classes))
    z[:, 0] += eps
    peak = z.max(axis=1, keepdims=True)
    outputs = np.exp(z[:, 0] - peak[:, 0]) / np.exp(z - peak).sum(axis=1)
    standard_error = outputs.std() / np.sqrt(len(outputs))
    assert abs(expected_labelled_output(num_classes, eps) - outputs.mean()) < (
        4 * standard_error
    )


# REFERENCE.md (solved independently) and paper Sec. 3.2: MAE* at target
# 0.15, boundCE* at 0.1; the paper rounds them to 0.5, 3.0, 0 and 2.5.
@pytest.mark.parametrize(
    "num_classes, target, expected",
    [(10, 0.15, 0.52), (100, 0.15, 3.03), (100, 0.1, 2.51)],
)
def test_reproduces_the_papers_eps(num_classes, target, expected):
    eps = solve_output_bias(num_classes, target=target)
    assert eps == pytest.approx(expected, abs=0.01)
    assert expected_labelled_output(num_classes, eps) == pytest.approx(
        target, abs=1e-10
    )


def test_is_deterministic():
    assert solve_output_bias(100, 0.15) == solve_output_bias(100, 0.15)


@pytest.mark.parametrize("num_classes, target", [(10, 0.15), (100, 0.1), (2, 0.99)])
def test_takes_milliseconds(num_classes, target):
    # The best of five calls, so that a busy machine does not fail it.
    durations = []
    for _ in range(5):
        start = time.perf_counter()
        solve_output_bias(num_classes, target=target)
        durations.append(time.perf_counter() - start)
    assert min(durations) < 0.01


@pytest.mark.parametrize("num_classes", [2, 10, 100])
def test_target_of_one_over_c_gives_zero(num_classes):
    assert solve_output_bias(num_classes, target=1.0 / num_classes) == 0.0
    assert solve_output_bias(10, target=0.1 * (1 + 1e-13)) == 0.0


def test_target_below_one_over_c_names_the_smallest_allowed_target():
    with pytest.raises(ValueError) as error:
        solve_output_bias(10, target=0.05)
    message = str(error.value)
    for fragment in ["target=0.05", "num_classes=10", "1/num_classes = 0.1"]:
        assert fragment in message
    assert "\n" not in message


def test_increasing_in_eps_and_in_target():
    values = expected_labelled_output(10, [0.0, 0.5, 1.0, 2.0, 8.0])
    assert values.shape == (5,)
    assert np.all(np.diff(values) > 0)
    solutions = [solve_output_bias(100, target=t) for t in (0.02, 0.15, 0.5, 0.9)]
    assert np.all(np.diff(solutions) > 0)


def test_is_exported_at_package_level():
    assert keras_robust.solve_output_bias is solve_output_bias


@pytest.mark.parametrize(
    "kwargs, fragments",
    [
        ({"num_classes": 1}, ["num_classes", "1"]),
        ({"num_classes": 10, "target": 1.5}, ["target", "1.5", "(0, 1)"]),
        ({"num_classes": 10, "target": 1.0}, ["target", "1.0"]),
        ({"num_classes": 10, "target": 0.0}, ["target", "0.0"]),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, fragments):
    with pytest.raises(ValueError) as error:
        solve_output_bias(**kwargs)
    for fragment in fragments:
        assert fragment in str(error.value)
