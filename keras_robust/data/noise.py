"""Label noise: synthetic (paper section 4, "Datasets"), or made by people.

The paper uses symmetric noise: a fraction `eta` of the training examples
gets a new label drawn uniformly from all `c` classes, which may equal the
true one. The returned mask marks those re-drawn examples; the paper's
"false label accuracy" (Fig. 2, lower panels) is measured on them against
their true labels. Class-dependent (asymmetric) noise, which the paper lists
as future work, is offered through a transition matrix. Human noise
(`human_noise`) draws nothing: it takes the labels that annotators gave
(CIFAR-N, `keras_robust.data.cifar_n`).

All draws use `np.random.default_rng(seed)`, so a seed fixes the noise.
"""

import math

import numpy as np

NOISE_KINDS = ("symmetric", "asymmetric", "pair_flip", "human")


def _check_noise_rate(noise_rate):
    try:
        value = float(noise_rate)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(noise_rate, bool) or not (
        math.isfinite(value) and 0.0 <= value <= 1.0
    ):
        raise ValueError(
            "`noise_rate` must be a finite number in [0, 1]. "
            f"Received: noise_rate={noise_rate!r}"
        )
    return value


def _check_num_classes(num_classes):
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or num_classes < 1
    ):
        raise ValueError(
            "`num_classes` must be a positive integer. "
            f"Received: num_classes={num_classes!r}"
        )
    return int(num_classes)


def _check_labels(labels, num_classes, name="labels"):
    labels = np.asarray(labels)
    if labels.ndim != 1 or not (
        np.issubdtype(labels.dtype, np.integer) or labels.size == 0
    ):
        raise ValueError(
            f"`{name}` must be a 1-D array of integer class indices. "
            f"Received: {name} with shape {labels.shape} and dtype "
            f"{labels.dtype}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"`{name}` must lie in [0, {num_classes}) for "
            f"num_classes={num_classes}. Received: {name} with min "
            f"{labels.min()} and max {labels.max()}"
        )
    return labels.astype(np.int64)


def _check_transition_matrix(transition_matrix, num_classes=None):
    matrix = np.asarray(transition_matrix, dtype=np.float64)
    if (
        matrix.ndim != 2
        or matrix.shape[0] != matrix.shape[1]
        or matrix.shape[0] == 0
        or (num_classes is not None and matrix.shape[0] != num_classes)
    ):
        expected = "(c, c)" if num_classes is None else (
            f"({num_classes}, {num_classes})"
        )
        raise ValueError(
            f"`transition_matrix` must be a square matrix of shape {expected}."
            f" Received: transition_matrix with shape {matrix.shape}"
        )
    if (
        not np.all(np.isfinite(matrix))
        or np.any(matrix < 0)
        or not np.allclose(matrix.sum(axis=1), 1.0, atol=1e-6)
    ):
        raise ValueError(
            "`transition_matrix` must be row-stochastic (non-negative rows "
            "that sum to 1). Received: transition_matrix with row sums "
            f"{matrix.sum(axis=1)} and minimum entry {matrix.min()}"
        )
    return matrix


def symmetric_noise(labels, noise_rate, num_classes, seed):
    """Applies symmetric label noise.

    Exactly `round(noise_rate * N)` examples, chosen by a seeded random
    permutation, get a label drawn uniformly from all `num_classes` classes.
    About `1 / num_classes` of them keep their true label by chance.

    Args:
        labels: Integer array `(N,)` of clean labels in `[0, num_classes)`.
        noise_rate: Fraction `eta` in `[0, 1]` of examples to re-draw.
        num_classes: Number of classes `c`.
        seed: Seed for `np.random.default_rng`.

    Returns:
        `(noisy_labels, noise_mask)`: int64 `(N,)` labels and a bool `(N,)`
        mask that is `True` for the re-drawn examples.
    """
    noise_rate = _check_noise_rate(noise_rate)
    num_classes = _check_num_classes(num_classes)
    labels = _check_labels(labels, num_classes)
    rng = np.random.default_rng(seed)
    num_noisy = int(round(noise_rate * labels.size))
    noisy_index = rng.permutation(labels.size)[:num_noisy]
    noisy_labels = labels.copy()
    noisy_labels[noisy_index] = rng.integers(0, num_classes, size=num_noisy)
    noise_mask = np.zeros(labels.size, dtype=bool)
    noise_mask[noisy_index] = True
    return noisy_labels, noise_mask


def pair_flip_transition(num_classes, noise_rate):
    """Returns the pair-flip transition matrix.

    Label `i` becomes `(i + 1) mod c` with probability `noise_rate` and
    stays `i` otherwise.

    Args:
        num_classes: Number of classes `c`.
        noise_rate: Flip probability in `[0, 1]`.

    Returns:
        A float64 row-stochastic `(c, c)` matrix `T`, `T[i, j] = P(j | i)`.
    """
    noise_rate = _check_noise_rate(noise_rate)
    num_classes = _check_num_classes(num_classes)
    identity = np.eye(num_classes)
    return (1.0 - noise_rate) * identity + noise_rate * np.roll(
        identity, 1, axis=1
    )


def asymmetric_noise(labels, transition_matrix, seed):
    """Applies class-dependent label noise from a transition matrix.

    Every example's label is resampled from row `y` of the row-stochastic
    matrix `T` (`T[i, j]` is the probability that true class `i` is
    labelled `j`).

    Unlike `symmetric_noise`, every example is resampled here, so the mask
    marks the examples whose noisy label differs from the true label.

    Args:
        labels: Integer array `(N,)` of clean labels in `[0, c)`.
        transition_matrix: Row-stochastic `(c, c)` matrix.
        seed: Seed for `np.random.default_rng`.

    Returns:
        `(noisy_labels, noise_mask)`: int64 `(N,)` labels and a bool `(N,)`
        mask that is `True` where the noisy label differs from the true one.
    """
    matrix = _check_transition_matrix(transition_matrix)
    num_classes = matrix.shape[0]
    labels = _check_labels(labels, num_classes)
    rng = np.random.default_rng(seed)
    # Inverse-CDF sampling: the number of cumulative row entries that a
    # uniform draw exceeds is the sampled class.
    cumulative = np.cumsum(matrix, axis=1)
    cumulative[:, -1] = 1.0
    uniform = rng.random(labels.size)
    noisy_labels = np.empty_like(labels)
    for true_class in range(num_classes):
        index = np.flatnonzero(labels == true_class)
        noisy_labels[index] = np.searchsorted(
            cumulative[true_class], uniform[index], side="right"
        )
    noisy_labels = np.minimum(noisy_labels, num_classes - 1)
    return noisy_labels, noisy_labels != labels


def human_noise(labels, human_labels, num_classes):
    """Takes the training labels from human annotations.

    Nothing is drawn: the noisy labels are `human_labels`, e.g. a CIFAR-N
    label set (`Dataset.human_label_set`), and the mask marks the examples
    whose human label differs from the clean one, so `noise_mask.mean()`
    is the measured noise rate of the label set.

    Args:
        labels: Integer array `(N,)` of clean labels in `[0, num_classes)`.
        human_labels: Integer array `(N,)` of the labels people gave the
            same examples, in `[0, num_classes)`.
        num_classes: Number of classes `c`.

    Returns:
        `(noisy_labels, noise_mask)`: int64 `(N,)` copy of `human_labels`
        and a bool `(N,)` mask that is `True` where it differs from
        `labels`.
    """
    num_classes = _check_num_classes(num_classes)
    labels = _check_labels(labels, num_classes)
    noisy_labels = _check_labels(human_labels, num_classes, "human_labels")
    if noisy_labels.shape != labels.shape:
        raise ValueError(
            "`human_labels` must have one label per example "
            f"({labels.size}). Received: human_labels with shape "
            f"{noisy_labels.shape}"
        )
    return noisy_labels.copy(), noisy_labels != labels


def apply_label_noise(
    labels,
    kind,
    noise_rate,
    num_classes,
    seed,
    transition_matrix=None,
    human_labels=None,
):
    """Applies label noise of the given kind.

    Args:
        labels: Integer array `(N,)` of clean labels.
        kind: `"symmetric"` (`symmetric_noise`, the paper's noise),
            `"pair_flip"` (`asymmetric_noise` with
            `pair_flip_transition(num_classes, noise_rate)`) or
            `"asymmetric"` (`asymmetric_noise` with `transition_matrix`;
            without one it is the pair-flip matrix, and with one
            `noise_rate` is only validated, since the matrix sets the rate).
        noise_rate: Noise rate in `[0, 1]`.
        num_classes: Number of classes `c`.
        seed: Seed for `np.random.default_rng`.
        transition_matrix: Optional `(c, c)` matrix for `"asymmetric"`.

    Returns:
        `(noisy_labels, noise_mask)`, see `symmetric_noise` and
        `asymmetric_noise` for the mask semantics of each kind.
    """
    if kind not in NOISE_KINDS:
        raise ValueError(
            f"Unknown noise kind: kind={kind!r}. Known kinds: {NOISE_KINDS}"
        )
    noise_rate = _check_noise_rate(noise_rate)
    num_classes = _check_num_classes(num_classes)
    if transition_matrix is not None and kind != "asymmetric":
        raise ValueError(
            "`transition_matrix` is only used with kind='asymmetric'. "
            f"Received: kind={kind!r} and a transition_matrix"
        )
    if (human_labels is None) == (kind == "human"):
        raise ValueError(
            "`human_labels` are required with kind='human' and only used "
            f"there. Received: kind={kind!r} and human_labels="
            f"{'None' if human_labels is None else 'an array'}"
        )
    if kind == "human":
        return human_noise(labels, human_labels, num_classes)
    if kind == "symmetric":
        return symmetric_noise(labels, noise_rate, num_classes, seed)
    if transition_matrix is None:
        transition_matrix = pair_flip_transition(num_classes, noise_rate)
    else:
        transition_matrix = _check_transition_matrix(
            transition_matrix, num_classes
        )
    return asymmetric_noise(labels, transition_matrix, seed)
