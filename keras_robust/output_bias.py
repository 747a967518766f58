"""Choosing the output bias eps (paper Sec. 3.2, eq. 2)."""

import numpy as np

from keras_robust import validation

# Gauss-Hermite (probabilists') nodes integrate over the labelled logit
# z_k ~ N(0, 1) exactly enough; Monte Carlo draws cover the other c - 1.
_QUADRATURE_NODES = 32


def expected_labelled_output(num_classes, output_bias, *, num_samples=100_000, seed=0):
    """`< exp(z_k + eps) / (exp(z_k + eps) + sum_{i!=k} exp(z_i)) >`, z ~ N(0, 1).

    The expected softmax output of the labelled class of a freshly
    initialised network (paper eq. 2); a vector `output_bias` gives one value
    per eps, all with the same draws.
    """
    num_classes = validation.check_num_classes(num_classes)
    others = _others_logsumexp(num_classes, num_samples, seed)
    eps = np.atleast_1d(np.asarray(output_bias, dtype=np.float64))
    values = np.array([_expectation(others, e) for e in eps])
    return values if np.ndim(output_bias) else float(values[0])


def _others_logsumexp(num_classes, num_samples, seed):
    rng = np.random.default_rng(seed)
    others = rng.standard_normal((num_samples, num_classes - 1))
    peak = others.max(axis=1)
    return peak + np.log(np.exp(others - peak[:, None]).sum(axis=1))


def _expectation(others_logsumexp, eps):
    nodes, weights = np.polynomial.hermite_e.hermegauss(_QUADRATURE_NODES)
    weights = weights / weights.sum()
    # sigmoid(z_k + eps - logsumexp_{i != k} z_i), via tanh (stable, fast).
    x = nodes[None, :] + eps - others_logsumexp[:, None]
    sigmoid = 0.5 + 0.5 * np.tanh(0.5 * x)
    return float((sigmoid @ weights).mean())


def solve_output_bias(num_classes, target=0.15, *, num_samples=100_000, seed=0):
    """eps such that the expected labelled softmax output equals `target`.

    Solves paper eq. 2, `< exp(z_k + eps) / (exp(z_k + eps) +
    sum_{i!=k} exp(z_i)) > = target` for logits i.i.d. N(0, 1), by bisection
    on a fixed, seeded sample (the left side is increasing in eps). The paper
    uses `target=0.15` for MAE* (eps 0.52 at 10 classes, 3.03 at 100) and
    `target=0.1` for boundCE* (0.01 and 2.51); it rounds them to 0.5, 3.0, 0
    and 2.5. The result can be negative when `target` is below the output of
    an unbiased network (about 1/c); the losses accept only eps >= 0.

    Args:
        num_classes: Number of classes c >= 2.
        target: Expected output of the labelled class, in (0, 1).
        num_samples: Draws of the other c - 1 logits.
        seed: Seed of the draws.

    Returns:
        eps as a float, accurate to about 0.01 with the default sample.
    """
    num_classes = validation.check_num_classes(num_classes)
    target = validation.check_in_interval(
        "target", target, 0.0, 1.0, "(0, 1)", low_open=True, high_open=True
    )
    if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise ValueError(
            "Argument `num_samples` must be a positive integer. "
            f"Received: num_samples={num_samples!r}"
        )
    others = _others_logsumexp(num_classes, int(num_samples), seed)
    low, high = -1.0, 1.0
    while _expectation(others, low) > target:
        low *= 2.0
    while _expectation(others, high) < target:
        high *= 2.0
    while high - low > 1e-5:
        middle = 0.5 * (low + high)
        if _expectation(others, middle) < target:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)
