"""Noise-robust classification losses of Staats, Thamm & Rosenow (2023).

Every loss of the paper's Table 1 is a public function (the maths) and a thin
`keras.losses.Loss` subclass (configuration and serialization), in the style of
`keras/src/losses/losses.py`:

| paper    | class                          | `get()` name |
|----------|--------------------------------|--------------|
| CE       | `CrossEntropy`                 | `"ce"`       |
| MAE      | `ProbabilityMeanAbsoluteError` | `"mae"`      |
| genCE    | `GeneralizedCrossEntropy`      | `"gce"`      |
| symCE    | `SymmetricCrossEntropy`        | `"sce"`      |
| actPas1  | `NormalizedFocalMAE`           | `"actpas1"`  |
| actPas2  | `NormalizedCrossEntropyMAE`    | `"actpas2"`  |
| biTemp   | `BiTemperedLogisticLoss`       | `"bitemp"`   |
| boundCE  | `BoundedCrossEntropy`          | `"boundce"`  |

Conventions shared by all of them:

* `y_pred` are probabilities (`from_logits=False`, Keras's default) or logits
  (`from_logits=True`). Probabilities `p` are turned back into logits
  `log(max(p, tiny))`, which the softmax maps back to `p` exactly. A loss
  class with `from_logits=False` warns once if the first `y_pred` it sees
  with concrete values (an eager call) is not rows of probabilities.
* `y_true` are integer labels of shape `(B,)` or `(B, 1)`, or one-hot rows of
  shape `(B, c)`. A dense row `y` gives `sum_k y_k L_k`, the expected loss
  under `y`; for one-hot rows that is the paper's loss.
* `output_bias` (eps, paper Sec. 3.2) is added to the logit of the labelled
  class before the loss is evaluated: `z + eps * onehot(k)`. This is the
  paper's MAE* and boundCE*. Choose it with `keras_robust.solve_output_bias`.
* Everything is computed in float32 from the log-softmax, so values and
  gradients stay finite for logits of magnitude 1e4 and for float16 and
  bfloat16 inputs.

Notation: `z` logits, `a = softmax(z)`, `k` the labelled class, `c` classes.
"""

import dataclasses
import math
import numbers
import re
import warnings

import keras
from keras import ops

from keras_robust import validation

_PACKAGE = "keras_robust"

# Smallest positive normal float32; probabilities are clipped to it before
# their log is taken, so exact zeros give a finite (and irrelevant) logit.
_FLOAT32_TINY = 1.1754944e-38


def _register(obj):
    return keras.saving.register_keras_serializable(package=_PACKAGE)(obj)


# --------------------------------------------------------------------------
# Shared preprocessing: labels, logits, output bias.
# --------------------------------------------------------------------------


def _targets_and_logits(y_true, y_pred, from_logits, output_bias):
    """Returns float32 `(targets, logits)` of shape `(..., c)`.

    `targets` are one-hot rows (from integer labels) or the given dense rows;
    `logits` include the output bias on the labelled class.
    """
    output_bias = validation.check_output_bias(output_bias)
    y_pred = validation.as_tensor(y_pred)
    y_true = validation.as_tensor(y_true)
    pred_shape = tuple(y_pred.shape)
    true_shape = tuple(y_true.shape)
    if len(pred_shape) < 2 or pred_shape[-1] is None or pred_shape[-1] < 2:
        raise ValueError(
            "Argument `y_pred` must have shape (batch, num_classes) with "
            f"num_classes >= 2 known statically. Received: y_pred.shape="
            f"{pred_shape}"
        )
    num_classes = pred_shape[-1]
    if len(true_shape) == len(pred_shape) - 1:
        sparse = True
    elif len(true_shape) == len(pred_shape) and true_shape[-1] == 1:
        sparse = True
        y_true = ops.squeeze(y_true, axis=-1)
    elif len(true_shape) == len(pred_shape) and true_shape[-1] == num_classes:
        sparse = False
    else:
        raise ValueError(
            "Arguments `y_true` and `y_pred` have incompatible shapes: "
            f"y_true.shape={true_shape}, y_pred.shape={pred_shape}. Allowed: "
            f"integer labels of shape {pred_shape[:-1]} or "
            f"{pred_shape[:-1] + (1,)}, or one-hot labels of shape {pred_shape}."
        )
    batch_true = tuple(y_true.shape)[: len(pred_shape) - 1]
    for dim_true, dim_pred in zip(batch_true, pred_shape[:-1]):
        if dim_true is not None and dim_pred is not None and dim_true != dim_pred:
            raise ValueError(
                "Arguments `y_true` and `y_pred` disagree on the batch shape: "
                f"y_true.shape={true_shape}, y_pred.shape={pred_shape}."
            )

    if sparse:
        validation.check_labels_in_range(y_true, num_classes)
        labels = ops.cast(y_true, "int32")
        targets = ops.one_hot(labels, num_classes, dtype="float32")
        # Where the check above cannot run (compiled steps), a label outside
        # [0, c) makes its example's loss NaN, never a plausible number.
        in_range = ops.logical_and(labels >= 0, labels < num_classes)
        targets = ops.where(ops.expand_dims(in_range, -1), targets, float("nan"))
    else:
        targets = ops.cast(y_true, "float32")

    y_pred = ops.cast(y_pred, "float32")
    if from_logits:
        logits = y_pred
    else:
        logits = ops.log(ops.maximum(y_pred, _FLOAT32_TINY))
    if output_bias:
        logits = logits + output_bias * targets
    return targets, logits


def _log_softmax(logits):
    return logits - ops.logsumexp(logits, axis=-1, keepdims=True)


def _labelled(targets, values):
    """`sum_k y_k values_k`: the labelled entry for one-hot targets."""
    return ops.sum(targets * values, axis=-1)


def _mae_from_probabilities(targets, probabilities):
    return 2.0 * (1.0 - _labelled(targets, probabilities))


# --------------------------------------------------------------------------
# Hyperparameter checks: one per loss, used by its function and its class.
# --------------------------------------------------------------------------


def _check_no_hyperparameters():
    """CE, MAE and boundCE have none."""
    return {}


def _check_gce(q):
    return {
        "q": validation.check_in_interval("q", q, 0.0, 1.0, "(0, 1]", low_open=True)
    }


def _check_weights(alpha, beta):
    """symCE, actPas1, actPas2: weights of the active and passive terms."""
    return {
        "alpha": validation.check_non_negative("alpha", alpha),
        "beta": validation.check_non_negative("beta", beta),
    }


_FOCAL_FORMS = ("paper", "ma_et_al")


def _check_actpas1(alpha, beta, form):
    if form not in _FOCAL_FORMS:
        raise ValueError(
            f"Argument `form` must be one of {_FOCAL_FORMS}. Received: form={form!r}"
        )
    return {**_check_weights(alpha, beta), "form": form}


def _check_bitemp(t1, t2, label_smoothing, num_iters):
    if (
        isinstance(num_iters, bool)
        or not isinstance(num_iters, numbers.Integral)
        or num_iters < 1
    ):
        raise ValueError(
            "Argument `num_iters` must be an integer >= 1. "
            f"Received: num_iters={num_iters!r}"
        )
    return {
        "t1": validation.check_in_interval("t1", t1, 0.0, 1.0, "[0, 1]"),
        "t2": validation.check_positive("t2", t2),
        "label_smoothing": validation.check_in_interval(
            "label_smoothing", label_smoothing, 0.0, 1.0, "[0, 1)", high_open=True
        ),
        "num_iters": int(num_iters),
    }


# --------------------------------------------------------------------------
# Loss functions.
# --------------------------------------------------------------------------


@_register
def cross_entropy(y_true, y_pred, from_logits=False, output_bias=0.0):
    """Cross entropy, `CE = -log a_k` (paper Table 1).

    Error of the output neurons: `delta_n = a_n - [n = k]`.

    Args:
        y_true: Integer labels `(B,)`/`(B, 1)` or one-hot labels `(B, c)`.
        y_pred: Probabilities, or logits with `from_logits=True`, `(B, c)`.
        from_logits: Whether `y_pred` are logits.
        output_bias: eps added to the labelled logit (paper Sec. 3.2).

    Returns:
        Per-example losses of shape `(B,)`, float32.
    """
    targets, logits = _targets_and_logits(y_true, y_pred, from_logits, output_bias)
    return -_labelled(targets, _log_softmax(logits))


@_register
def probability_mean_absolute_error(
    y_true, y_pred, from_logits=False, output_bias=0.0
):
    """MAE between one-hot label and softmax output, `2 (1 - a_k)` (Table 1).

    This is the L1 distance `sum_i |y_i - a_i|` on class probabilities (Ghosh
    et al. 2017), not Keras's regression `MeanAbsoluteError`. With
    `output_bias=eps` it is the paper's MAE*.

    Error: `delta_n = 2 a_k (a_n - [n = k])`.

    Args: as `cross_entropy`.
    """
    targets, logits = _targets_and_logits(y_true, y_pred, from_logits, output_bias)
    return _mae_from_probabilities(targets, ops.softmax(logits, axis=-1))


@_register
def generalized_cross_entropy(
    y_true, y_pred, from_logits=False, q=0.7, output_bias=0.0
):
    """Generalized cross entropy, `genCE = (1 - a_k^q) / q` (Table 1).

    Zhang & Sabuncu (2018). `q -> 0` is CE, `q = 1` is MAE / 2. Agrees with
    `keras.losses.CategoricalGeneralizedCrossEntropy` (whose default q is 0.5;
    the paper uses 0.7).

    Error: `delta_n = a_k^q (a_n - [n = k])`.

    Args:
        q: Exponent in (0, 1].
        Others as `cross_entropy`.
    """
    q = _check_gce(q)["q"]
    targets, logits = _targets_and_logits(y_true, y_pred, from_logits, output_bias)
    powered = ops.exp(q * _log_softmax(logits))
    return (1.0 - _labelled(targets, powered)) / q


@_register
def symmetric_cross_entropy(
    y_true, y_pred, from_logits=False, alpha=0.1, beta=2.0, output_bias=0.0
):
    """Symmetric cross entropy, `symCE = alpha CE + beta MAE` (Table 1).

    Wang et al. (2019) with the reverse cross entropy written as MAE, which is
    their `A = -4` (their code clips the one-hot at 1e-4, an effective
    `A = ln 1e-4`, so its beta values are not ours).

    Error: `delta_n = (alpha + 2 beta a_k) (a_n - [n = k])`.

    Args:
        alpha: Weight of CE (paper: 0.1 for 10 classes, 6.0 for CIFAR-100).
        beta: Weight of MAE (paper: 2.0 for 10 classes, 0.2 for CIFAR-100).
        Others as `cross_entropy`.
    """
    alpha, beta = _check_weights(alpha, beta).values()
    targets, logits = _targets_and_logits(y_true, y_pred, from_logits, output_bias)
    log_probabilities = _log_softmax(logits)
    ce = -_labelled(targets, log_probabilities)
    mae = _mae_from_probabilities(targets, ops.exp(log_probabilities))
    return alpha * ce + beta * mae


def _log_one_minus_softmax(logits):
    """Exact `log(1 - a_i)` in O(c).

    Every class but the one with the largest logit has `a_i <= 1/2`, where
    `log1p(-a_i)` is accurate. For the largest,
    `log(1 - a_i) = logsumexp_{j != i} z_j - logsumexp_j z_j`, which stays
    exact when `a_i` rounds to 1 in float32 (where `log1p(-a_i)` is `-inf`).
    """
    num_classes = logits.shape[-1]
    log_total = ops.logsumexp(logits, axis=-1, keepdims=True)
    is_largest = ops.equal(
        ops.arange(num_classes, dtype="int32"),
        ops.expand_dims(ops.cast(ops.argmax(logits, axis=-1), "int32"), axis=-1),
    )
    minus_inf = ops.full_like(logits, float("-inf"))
    largest = (
        ops.logsumexp(ops.where(is_largest, minus_inf, logits), axis=-1, keepdims=True)
        - log_total
    )
    others = ops.log1p(-ops.exp(ops.where(is_largest, minus_inf, logits - log_total)))
    return ops.where(is_largest, largest, others)


@_register
def normalized_focal_mae(
    y_true,
    y_pred,
    from_logits=False,
    alpha=1.0,
    beta=20.0,
    output_bias=0.0,
    form="paper",
):
    """Active-passive loss actPas1: normalized focal loss plus MAE (Table 1).

    Paper form (`form="paper"`), with `f_i = log((1 - a_i)^0.5 a_i)`:
    `actPas1 = alpha f_k / sum_i f_i + beta MAE`, `MAE = 2 (1 - a_k)`.

    `form="ma_et_al"` is the "NFL" of Ma et al. (2020), active term
    `(1 - a_k)^0.5 log a_k / sum_j (1 - a_j)^0.5 log a_j` with the focal
    weights `(1 - a)^0.5` under stop-gradient. Its own MAE is `1 - a_k`, half
    of ours, so its published beta values must be halved to be used here.

    Error (paper form, supplement eq. 3, with the typo `a_k` -> `a_i` in the
    numerator's sum corrected):
    `delta_n = alpha (g_kn S - f_k sum_i g_in) / S^2 + 2 beta a_k (a_n - [n=k])`
    where `S = sum_i f_i`, `g_in = ([i=n] - a_n)(1 - a_i / (2 (1 - a_i)))`.

    Args:
        alpha: Weight of the normalized focal term (paper: 1.0).
        beta: Weight of MAE (paper: 20.0 for 10 classes, 0.2 for CIFAR-100).
        form: `"paper"` or `"ma_et_al"`.
        Others as `cross_entropy`.
    """
    alpha, beta, form = _check_actpas1(alpha, beta, form).values()
    targets, logits = _targets_and_logits(y_true, y_pred, from_logits, output_bias)
    log_probabilities = _log_softmax(logits)
    if form == "paper":
        focal = 0.5 * _log_one_minus_softmax(logits) + log_probabilities
    else:
        weights = ops.stop_gradient(ops.exp(0.5 * _log_one_minus_softmax(logits)))
        focal = weights * log_probabilities
    active = _labelled(targets, focal) / ops.sum(focal, axis=-1)
    mae = _mae_from_probabilities(targets, ops.exp(log_probabilities))
    return alpha * active + beta * mae


@_register
def normalized_cross_entropy_mae(
    y_true, y_pred, from_logits=False, alpha=1.0, beta=20.0, output_bias=0.0
):
    """Active-passive loss actPas2: normalized CE plus MAE (Table 1).

    `actPas2 = alpha log a_k / sum_i log a_i + beta MAE` (Ma et al. 2020,
    "NCE+MAE", with the paper's `MAE = 2 (1 - a_k)`).

    Error (supplement eq. 3): with `S = sum_i log a_i`,
    `delta_n = alpha (([n=k] - a_n) S - log a_k (1 - c a_n)) / S^2
    + 2 beta a_k (a_n - [n=k])`.

    Args:
        alpha: Weight of normalized CE (paper: 1.0).
        beta: Weight of MAE (paper: 20.0 for 10 classes, 0.2 for CIFAR-100).
        Others as `cross_entropy`.
    """
    alpha, beta = _check_weights(alpha, beta).values()
    targets, logits = _targets_and_logits(y_true, y_pred, from_logits, output_bias)
    log_probabilities = _log_softmax(logits)
    active = _labelled(targets, log_probabilities) / ops.sum(
        log_probabilities, axis=-1
    )
    mae = _mae_from_probabilities(targets, ops.exp(log_probabilities))
    return alpha * active + beta * mae


@_register
def bounded_cross_entropy(y_true, y_pred, from_logits=False, output_bias=0.0):
    """Bounded cross entropy, `boundCE = -log(exp(a_k) / sum_i exp(a_i))`.

    CE applied to `softmax(softmax(z))` (paper Table 1); bounded between
    `log(1 + (c-1)/e)` and `log(c - 1 + e)`, so far outliers are ignored.
    With `output_bias=eps` it is the paper's boundCE*.

    Error (supplement eq. 5):
    `delta_n = -a_k ([n=k] - a_n) + a_n (exp(a_n) - sum_j a_j exp(a_j))
    / sum_j exp(a_j)`.

    Args: as `cross_entropy`.
    """
    targets, logits = _targets_and_logits(y_true, y_pred, from_logits, output_bias)
    probabilities = ops.softmax(logits, axis=-1)
    return -_labelled(targets, _log_softmax(probabilities))


# Bi-tempered logistic loss (Amid, Warmuth, Anil, Koren 2019), a port of
# google/bi-tempered-loss (tensorflow/loss.py) onto keras.ops.


def _log_t(u, t):
    """Tempered logarithm `log_t(u) = (u^(1-t) - 1) / (1 - t)`."""
    if t == 1.0:
        return ops.log(u)
    return (ops.power(u, 1.0 - t) - 1.0) / (1.0 - t)


def _exp_t(u, t):
    """Tempered exponential `exp_t(u) = relu(1 + (1-t) u)^(1/(1-t))`."""
    if t == 1.0:
        return ops.exp(u)
    return ops.power(ops.relu(1.0 + (1.0 - t) * u), 1.0 / (1.0 - t))


def _normalization_fixed_point(activations, t, num_iters):
    """Normalization constant for `t > 1` by fixed-point iteration."""
    mu = ops.max(activations, axis=-1, keepdims=True)
    normalized_step_0 = activations - mu
    normalized = normalized_step_0
    for _ in range(num_iters):
        partition = ops.sum(_exp_t(normalized, t), axis=-1, keepdims=True)
        normalized = normalized_step_0 * ops.power(partition, 1.0 - t)
    partition = ops.sum(_exp_t(normalized, t), axis=-1, keepdims=True)
    return -_log_t(1.0 / partition, t) + mu


def _normalization_bisection(activations, t, num_iters):
    """Normalization constant for `t < 1` (compact support) by bisection."""
    mu = ops.max(activations, axis=-1, keepdims=True)
    normalized = activations - mu
    effective_dim = ops.sum(
        ops.cast(normalized > -1.0 / (1.0 - t), "float32"), axis=-1, keepdims=True
    )
    lower = ops.zeros_like(mu)
    upper = -_log_t(1.0 / effective_dim, t) * ops.ones_like(lower)
    for _ in range(num_iters):
        midpoint = (upper + lower) / 2.0
        total = ops.sum(_exp_t(normalized - midpoint, t), axis=-1, keepdims=True)
        below = ops.cast(total < 1.0, "float32")
        lower = lower * below + (1.0 - below) * midpoint
        upper = upper * (1.0 - below) + below * midpoint
    return (upper + lower) / 2.0 + mu


def tempered_softmax(logits, t, num_iters=5):
    """Tempered softmax `exp_t(z - lambda(z), t)` (Amid et al. 2019).

    `t = 1` is the softmax; `t > 1` gives heavier tails, `t < 1` compact
    support. Use it with `t = t2` for the predicted probabilities of a model
    trained with `BiTemperedLogisticLoss`.

    Args:
        logits: `(..., c)` logits.
        t: Temperature, > 0.
        num_iters: Fixed-point iterations (t > 1) or bisection steps (t < 1).
    """
    logits = ops.cast(validation.as_tensor(logits), "float32")
    if t == 1.0:
        return ops.softmax(logits, axis=-1)
    if t > 1.0:
        normalization = _normalization_fixed_point(logits, t, num_iters)
    else:
        normalization = _normalization_bisection(logits, t, num_iters)
    return _exp_t(logits - normalization, t)


def _bi_tempered_values_and_gradient(logits, targets, t1, t2, num_iters):
    probabilities = tempered_softmax(logits, t2, num_iters)
    if t1 == 1.0:
        # log(0) = -inf would give 0 * -inf; for t1 < 1, log_t(0) is finite.
        probabilities_in_log = ops.maximum(probabilities, _FLOAT32_TINY)
    else:
        probabilities_in_log = probabilities
    cross = (
        _log_t(targets + 1e-10, t1) - _log_t(probabilities_in_log, t1)
    ) * targets
    power = 2.0 - t1
    bregman = (ops.power(targets, power) - ops.power(probabilities, power)) / power
    values = ops.sum(cross - bregman, axis=-1)

    # Closed-form gradient of the reference implementation:
    # d = (p - y) p^(t2 - t1), grad = d - escort * sum(d), escort ~ p^t2.
    positive = probabilities > 0.0
    forget = ops.where(
        positive, ops.power(ops.where(positive, probabilities, 1.0), t2 - t1), 0.0
    )
    delta = (probabilities - targets) * forget
    escorts = ops.power(probabilities, t2)
    escorts = escorts / ops.sum(escorts, axis=-1, keepdims=True)
    gradient = delta - escorts * ops.sum(delta, axis=-1, keepdims=True)
    return values, gradient


@_register
def bi_tempered_logistic_loss(
    y_true,
    y_pred,
    from_logits=False,
    t1=0.8,
    t2=1.2,
    label_smoothing=0.0,
    num_iters=5,
    output_bias=0.0,
):
    """Bi-tempered logistic loss, biTemp (Amid et al. 2019; paper Table 1).

    With `p = tempered_softmax(z, t2)`:
    `L = sum_j y_j (log_t1(y_j + 1e-10) - log_t1(p_j))
    - (y_j^(2-t1) - p_j^(2-t1)) / (2 - t1)`.
    `t1 = t2 = 1` is cross entropy. Soft labels are accepted; label smoothing
    maps `y -> (1 - c/(c-1) ls) y + ls/(c-1)` as the reference does. The
    gradient is the reference's closed form, `d - escort sum(d)` with
    `d = (p - y) p^(t2-t1)` and `escort = p^t2 / sum p^t2`.

    Args:
        t1: Temperature of the log, in [0, 1] (paper: 0.8).
        t2: Temperature of the exp, > 0 (paper: 1.2).
        label_smoothing: In [0, 1).
        num_iters: Iterations of the normalization (reference default 5).
        Others as `cross_entropy`.
    """
    t1, t2, label_smoothing, num_iters = _check_bitemp(
        t1, t2, label_smoothing, num_iters
    ).values()
    targets, logits = _targets_and_logits(y_true, y_pred, from_logits, output_bias)
    num_classes = logits.shape[-1]
    if label_smoothing > 0.0:
        targets = (
            1.0 - num_classes / (num_classes - 1) * label_smoothing
        ) * targets + label_smoothing / (num_classes - 1)
    targets = ops.stop_gradient(targets)

    @ops.custom_gradient
    def loss_with_closed_form_gradient(logits, targets):
        values, gradient = _bi_tempered_values_and_gradient(
            logits, targets, t1, t2, num_iters
        )

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return (
                ops.expand_dims(upstream, axis=-1) * gradient,
                ops.zeros_like(targets),
            )

        return values, grad

    return loss_with_closed_form_gradient(logits, targets)


# --------------------------------------------------------------------------
# Loss classes.
# --------------------------------------------------------------------------


class RobustLoss(keras.losses.Loss):
    """Base class: stores the loss function and its hyperparameters.

    Subclasses set `fn` and `check_hyperparameters` (the check their
    function runs too) and pass their hyperparameters to `__init__`, which
    checks them; `get_config` returns all of them, so nothing reverts to a
    default after `keras.models.load_model`.
    """

    fn = None
    check_hyperparameters = staticmethod(_check_no_hyperparameters)

    def __init__(
        self,
        from_logits=False,
        output_bias=0.0,
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
        **hyperparameters,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not isinstance(from_logits, (bool, int)) or from_logits not in (0, 1):
            raise ValueError(
                "Argument `from_logits` must be a bool. "
                f"Received: from_logits={from_logits!r}"
            )
        self.from_logits = bool(from_logits)
        self.output_bias = validation.check_output_bias(output_bias)
        self._hyperparameters = type(self).check_hyperparameters(**hyperparameters)
        self._probabilities_checked = False

    def __getattr__(self, name):
        hyperparameters = self.__dict__.get("_hyperparameters", {})
        if name in hyperparameters:
            return hyperparameters[name]
        raise AttributeError(
            f"'{type(self).__name__}' object has no attribute '{name}'"
        )

    def call(self, y_true, y_pred):
        if not self.from_logits and not self._probabilities_checked:
            self._check_probabilities(y_pred)
        return type(self).fn(
            y_true,
            y_pred,
            from_logits=self.from_logits,
            output_bias=self.output_bias,
            **self._hyperparameters,
        )

    def _check_probabilities(self, y_pred):
        """Warns once if the first concrete `y_pred` is not probabilities.

        Keras's cross entropy warns likewise when `from_logits=False` meets
        an output that no softmax produced. Only the first batch whose values
        are concrete (an eager call) is inspected; in a compiled step the
        values are symbolic and nothing is computed.
        """
        values = validation.concrete_value(y_pred)
        if values is None:
            return
        self._probabilities_checked = True
        violation = validation.probability_violation(values)
        if violation is not None:
            warnings.warn(
                f"{type(self).__name__} (name={self.name!r}) has "
                f"`from_logits=False`, so `y_pred` must be probabilities, but "
                f"{violation}. Models that output logits (every zoo model) "
                "need `from_logits=True`.",
                stacklevel=2,
            )

    def get_config(self):
        config = super().get_config()
        config.update(
            from_logits=self.from_logits,
            output_bias=self.output_bias,
            dtype=self._dtype_policy.name,
            **self._hyperparameters,
        )
        return config

    def __repr__(self):
        settings = ", ".join(
            f"{key}={value!r}"
            for key, value in dict(
                from_logits=self.from_logits,
                output_bias=self.output_bias,
                **self._hyperparameters,
            ).items()
        )
        return f"{type(self).__name__}({settings})"


@_register
class CrossEntropy(RobustLoss):
    """Cross entropy `CE = -log a_k` (paper Table 1), sparse or one-hot labels.

    The same loss as Keras's `SparseCategoricalCrossentropy` and
    `CategoricalCrossentropy`, with the conventions of this module (either
    label format, `output_bias`, float32 internally).

    Args:
        from_logits: Whether `y_pred` are logits (default False:
            probabilities).
        output_bias: eps added to the labelled logit (paper Sec. 3.2).
        reduction, name, dtype: as `keras.losses.Loss`.

    Example:
    >>> loss = keras_robust.losses.CrossEntropy(from_logits=True)
    >>> loss([0, 1], [[2.0, 0.0], [0.0, 0.0]])
    """

    fn = staticmethod(cross_entropy)

    def __init__(
        self,
        from_logits=False,
        output_bias=0.0,
        reduction="sum_over_batch_size",
        name="cross_entropy",
        dtype=None,
    ):
        super().__init__(from_logits, output_bias, reduction, name, dtype)


@_register
class ProbabilityMeanAbsoluteError(RobustLoss):
    """MAE on class probabilities, `2 (1 - a_k)` (paper Table 1; MAE*).

    The L1 distance between the one-hot label and the softmax output (Ghosh
    et al. 2017), a classification loss, unlike Keras's regression
    `MeanAbsoluteError`. With `output_bias=eps` this is the paper's MAE*
    (eps 0.5 for 10 classes, 1.5 or 3.0 for CIFAR-100).

    Args: as `CrossEntropy`.
    """

    fn = staticmethod(probability_mean_absolute_error)

    def __init__(
        self,
        from_logits=False,
        output_bias=0.0,
        reduction="sum_over_batch_size",
        name="probability_mean_absolute_error",
        dtype=None,
    ):
        super().__init__(from_logits, output_bias, reduction, name, dtype)


@_register
class GeneralizedCrossEntropy(RobustLoss):
    """Generalized cross entropy `(1 - a_k^q) / q` (Zhang & Sabuncu 2018).

    Paper Table 1 (genCE) with q = 0.7. Unlike Keras's
    `CategoricalGeneralizedCrossEntropy` it takes logits or probabilities,
    sparse or one-hot labels, and q = 1 (MAE / 2).

    Args:
        q: Exponent in (0, 1]; default 0.7 as in the paper.
        Others as `CrossEntropy`.
    """

    fn = staticmethod(generalized_cross_entropy)
    check_hyperparameters = staticmethod(_check_gce)

    def __init__(
        self,
        q=0.7,
        from_logits=False,
        output_bias=0.0,
        reduction="sum_over_batch_size",
        name="generalized_cross_entropy",
        dtype=None,
    ):
        super().__init__(from_logits, output_bias, reduction, name, dtype, q=q)


@_register
class SymmetricCrossEntropy(RobustLoss):
    """Symmetric cross entropy `alpha CE + beta MAE` (Wang et al. 2019).

    Paper Table 1 (symCE): alpha 0.1 / beta 2.0 for ten classes, alpha 6.0 /
    beta 0.2 for CIFAR-100 (`keras_robust.presets.loss_kwargs`).

    Args:
        alpha: Weight of CE, >= 0.
        beta: Weight of MAE, >= 0.
        Others as `CrossEntropy`.
    """

    fn = staticmethod(symmetric_cross_entropy)
    check_hyperparameters = staticmethod(_check_weights)

    def __init__(
        self,
        alpha=0.1,
        beta=2.0,
        from_logits=False,
        output_bias=0.0,
        reduction="sum_over_batch_size",
        name="symmetric_cross_entropy",
        dtype=None,
    ):
        super().__init__(
            from_logits,
            output_bias,
            reduction,
            name,
            dtype,
            alpha=alpha,
            beta=beta,
        )


@_register
class NormalizedFocalMAE(RobustLoss):
    """Active-passive loss actPas1: normalized focal loss + MAE (Ma et al.).

    `alpha f_k / sum_i f_i + beta 2 (1 - a_k)`, `f_i = log((1-a_i)^0.5 a_i)`
    (paper Table 1). alpha 1.0; beta 20.0 for ten classes, 0.2 for CIFAR-100.
    `form="ma_et_al"` gives the original NFL term (focal weights under
    stop-gradient); see `normalized_focal_mae`.

    Args:
        alpha: Weight of the active term, >= 0.
        beta: Weight of MAE, >= 0.
        form: `"paper"` (default) or `"ma_et_al"`.
        Others as `CrossEntropy`.
    """

    fn = staticmethod(normalized_focal_mae)
    check_hyperparameters = staticmethod(_check_actpas1)

    def __init__(
        self,
        alpha=1.0,
        beta=20.0,
        form="paper",
        from_logits=False,
        output_bias=0.0,
        reduction="sum_over_batch_size",
        name="normalized_focal_mae",
        dtype=None,
    ):
        super().__init__(
            from_logits,
            output_bias,
            reduction,
            name,
            dtype,
            alpha=alpha,
            beta=beta,
            form=form,
        )


@_register
class NormalizedCrossEntropyMAE(RobustLoss):
    """Active-passive loss actPas2: normalized CE + MAE (Ma et al. 2020).

    `alpha log a_k / sum_i log a_i + beta 2 (1 - a_k)` (paper Table 1).
    alpha 1.0; beta 20.0 for ten classes, 0.2 for CIFAR-100.

    Args:
        alpha: Weight of the active term, >= 0.
        beta: Weight of MAE, >= 0.
        Others as `CrossEntropy`.
    """

    fn = staticmethod(normalized_cross_entropy_mae)
    check_hyperparameters = staticmethod(_check_weights)

    def __init__(
        self,
        alpha=1.0,
        beta=20.0,
        from_logits=False,
        output_bias=0.0,
        reduction="sum_over_batch_size",
        name="normalized_cross_entropy_mae",
        dtype=None,
    ):
        super().__init__(
            from_logits,
            output_bias,
            reduction,
            name,
            dtype,
            alpha=alpha,
            beta=beta,
        )


@_register
class BiTemperedLogisticLoss(RobustLoss):
    """Bi-tempered logistic loss (Amid et al. 2019), paper's biTemp.

    Port of google/bi-tempered-loss with its closed-form gradient; soft labels
    and label smoothing as the reference. Predict with
    `tempered_softmax(logits, t2)`.

    Args:
        t1: Temperature in [0, 1] (paper 0.8); t1 < 1 bounds the loss.
        t2: Temperature > 0 (paper 1.2); t2 > 1 gives heavy tails.
        label_smoothing: In [0, 1).
        num_iters: Normalization iterations, >= 1 (reference default 5).
        Others as `CrossEntropy`.

    Reference: Amid, Warmuth, Anil, Koren, "Robust bi-tempered logistic loss
    based on Bregman divergences", NeurIPS 2019.
    """

    fn = staticmethod(bi_tempered_logistic_loss)
    check_hyperparameters = staticmethod(_check_bitemp)

    def __init__(
        self,
        t1=0.8,
        t2=1.2,
        label_smoothing=0.0,
        num_iters=5,
        from_logits=False,
        output_bias=0.0,
        reduction="sum_over_batch_size",
        name="bi_tempered_logistic_loss",
        dtype=None,
    ):
        super().__init__(
            from_logits,
            output_bias,
            reduction,
            name,
            dtype,
            t1=t1,
            t2=t2,
            label_smoothing=label_smoothing,
            num_iters=num_iters,
        )


@_register
class BoundedCrossEntropy(RobustLoss):
    """Bounded cross entropy `-log(exp(a_k) / sum_i exp(a_i))` (Table 1).

    CE on `softmax(softmax(z))`. With `output_bias=eps` it is the paper's
    boundCE* (eps 0 for ten classes, 1.5 or 2.5 for CIFAR-100).

    Args: as `CrossEntropy`.
    """

    fn = staticmethod(bounded_cross_entropy)

    def __init__(
        self,
        from_logits=False,
        output_bias=0.0,
        reduction="sum_over_batch_size",
        name="bounded_cross_entropy",
        dtype=None,
    ):
        super().__init__(from_logits, output_bias, reduction, name, dtype)


# --------------------------------------------------------------------------
# Lookup by name, the loss grammar, and recommendation.
# --------------------------------------------------------------------------

# A new loss is a function, a class and one line here.
_CLASSES_BY_NAME = {
    "ce": CrossEntropy,
    "mae": ProbabilityMeanAbsoluteError,
    "gce": GeneralizedCrossEntropy,
    "sce": SymmetricCrossEntropy,
    "actpas1": NormalizedFocalMAE,
    "actpas2": NormalizedCrossEntropyMAE,
    "bitemp": BiTemperedLogisticLoss,
    "boundce": BoundedCrossEntropy,
}
#: The short names `get` accepts, in the order of the paper's Table 1.
LOSS_NAMES = tuple(_CLASSES_BY_NAME)

# The paper's spelling of each loss (Table 1), used in tables and legends.
_DISPLAY_NAMES = {
    "ce": "CE",
    "mae": "MAE",
    "gce": "genCE",
    "sce": "symCE",
    "actpas1": "actPas1",
    "actpas2": "actPas2",
    "bitemp": "biTemp",
    "boundce": "boundCE",
}

# The paper's spelling (genCE, symCE), class and function names, all lower case.
_ALIASES = {display.lower(): name for name, display in _DISPLAY_NAMES.items()}
for _name, _cls in list(_CLASSES_BY_NAME.items()):
    _ALIASES[_cls.__name__.lower()] = _name
    _ALIASES[_cls.fn.__name__] = _name

#: The loss grammar, in one line (error messages and docs).
LOSS_GRAMMAR = (
    "NAME, NAME* (the paper's eps for the number of classes) or NAME*EPS "
    f"(eps >= 0), NAME one of {', '.join(LOSS_NAMES)}; e.g. 'mae', 'mae*', "
    "'mae*1.5'"
)
_GRAMMAR = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:(\*)\s*(\S*))?\s*$")


def canonical_name(name):
    """Maps a loss name (`"genCE"`, `"gce"`, class name, ...) to its short name."""
    if not isinstance(name, str):
        raise ValueError(
            f"Argument `name` must be a string. Received: name={name!r}"
        )
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _CLASSES_BY_NAME:
        raise ValueError(
            f"Unknown loss name {name!r}. Allowed: {', '.join(LOSS_NAMES)} "
            "(or the class names "
            f"{', '.join(cls.__name__ for cls in _CLASSES_BY_NAME.values())})."
        )
    return key


def display_name(name):
    """The paper's spelling of a loss name: `display_name("gce") == "genCE"`."""
    return _DISPLAY_NAMES[canonical_name(name)]


@dataclasses.dataclass(frozen=True)
class LossSpec:
    """A loss and its output bias eps, in the one grammar of this package.

    The grammar is `NAME[*[EPS]]`: `"mae"` is MAE (eps 0), `"mae*"` the
    paper's starred MAE (MAE*, its eps for the number of classes from
    `keras_robust.presets.output_bias`, paper eq. 2), `"mae*1.5"` MAE with
    eps 1.5. Names are case-insensitive and take the paper's spellings
    (`"genCE"`) and the class names. The same spelling names a loss
    everywhere: `keras_robust.losses.get`, the recipes' `--config.loss`,
    run ids (`digits-mlp1024-mae*0.5-sym0.4-seed1`), tables and legends.

    Attributes:
        name: The short name, e.g. `"mae"` (one of `LOSS_NAMES`).
        output_bias: eps added to the labelled logit in training (>= 0).

    Example:
    >>> LossSpec.parse("MAE*", num_classes=100)
    LossSpec(name='mae', output_bias=3.0)
    >>> LossSpec("boundce", 2.5).label
    'boundCE*2.5'
    """

    name: str
    output_bias: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "name", canonical_name(self.name))
        object.__setattr__(
            self, "output_bias", validation.check_output_bias(self.output_bias)
        )

    @classmethod
    def parse(cls, text, num_classes=None):
        """The spec that `text` (`"mae"`, `"mae*"`, `"mae*1.5"`) names.

        Args:
            text: A loss in the grammar `NAME[*[EPS]]` (see the class).
            num_classes: Number of classes; needed for a bare star
                (`"mae*"`), whose eps depends on it.

        Raises:
            ValueError: one line naming `text` and the grammar.
        """
        match = _GRAMMAR.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"Loss {text!r} is not in the grammar {LOSS_GRAMMAR}.")
        name, star, eps_text = match.groups()
        try:
            name = canonical_name(name)
        except ValueError:
            raise ValueError(
                f"Loss {text!r}: unknown name {name!r}; the grammar is {LOSS_GRAMMAR}."
            ) from None
        if not star:
            return cls(name)
        if not eps_text:
            if num_classes is None:
                raise ValueError(
                    f"Loss {text!r}: the paper's eps depends on the number of "
                    "classes; pass `num_classes` or write the eps, e.g. "
                    f"'{name}*0.5'."
                )
            from keras_robust import presets

            return cls(name, presets.output_bias(name, num_classes))
        try:
            eps = float(eps_text)
        except ValueError:
            eps = None
        if eps is None or not math.isfinite(eps) or eps < 0:
            raise ValueError(
                f"Loss {text!r}: eps {eps_text!r} is not a number >= 0; the "
                f"grammar is {LOSS_GRAMMAR}."
            )
        return cls(name, eps)

    @property
    def text(self):
        """`"mae"` or `"mae*1.5"`: the spec in the grammar, lower case."""
        return self.name if self.output_bias == 0 else f"{self.name}*{self.output_bias!r}"

    @property
    def label(self):
        """`"MAE"`, `"MAE*1.5"`, `"boundCE*2.5"`: the paper's spelling."""
        name = _DISPLAY_NAMES[self.name]
        return name if self.output_bias == 0 else f"{name}*{self.output_bias!r}"

    def __str__(self):
        return self.text

    def get(self, **kwargs):
        """The configured loss, e.g. `spec.get(from_logits=True, q=0.7)`."""
        return _CLASSES_BY_NAME[self.name](output_bias=self.output_bias, **kwargs)


def get(identifier, num_classes=None, **kwargs):
    """Returns a configured loss, like `keras.losses.get` for our names.

    Args:
        identifier: A loss in the grammar of `LossSpec` (`"mae"`, `"gce"`,
            `"mae*"`, `"boundce*2.5"`; case-insensitive, the paper's
            `"genCE"`/`"symCE"` and class names work too), a serialized
            config dict, or a `keras.losses.Loss` instance.
        num_classes: Number of classes. With a name, the loss takes the
            paper's hyperparameters for that many classes
            (`keras_robust.presets.loss_kwargs`, paper Table 1) and a bare
            star its eps (`keras_robust.presets.output_bias`, eq. 2).
        **kwargs: Hyperparameters for a name, e.g. `from_logits=True,
            q=0.5`; they override the paper's.

    Example:
    >>> keras_robust.losses.get("mae*", num_classes=100, from_logits=True)
    ProbabilityMeanAbsoluteError(from_logits=True, output_bias=3.0)
    """
    if isinstance(identifier, keras.losses.Loss):
        if kwargs or num_classes is not None:
            raise ValueError(
                "Keyword arguments are only accepted with a loss name; "
                f"received a {type(identifier).__name__} instance and {kwargs}."
            )
        return identifier
    if isinstance(identifier, dict):
        loss = keras.saving.deserialize_keras_object(identifier)
        if kwargs:
            loss = type(loss).from_config({**loss.get_config(), **kwargs})
        return loss
    if isinstance(identifier, str):
        spec = LossSpec.parse(identifier, num_classes)
        if "output_bias" in kwargs:
            if spec.output_bias != 0:
                raise ValueError(
                    f"Loss {identifier!r} already sets eps; received also "
                    f"output_bias={kwargs['output_bias']!r}."
                )
            spec = LossSpec(spec.name, kwargs.pop("output_bias"))
        if num_classes is not None:
            from keras_robust import presets

            kwargs = {**presets.loss_kwargs(spec.name, num_classes), **kwargs}
        return spec.get(**kwargs)
    raise ValueError(
        "Argument `identifier` must be a loss name, a config dict or a "
        f"keras.losses.Loss. Received: identifier={identifier!r}"
    )


#: The noise rates at which `recommend()` changes its choice (paper Table 4,
#: in the paper's noise rate: the fraction of labels redrawn uniformly).
RECOMMENDATION_THRESHOLDS = (0.05, 0.4)


def recommend(noise_rate, num_classes, *, from_logits=True, **kwargs):
    """Returns a loss chosen by the paper's recommendations (Table 4).

    The paper's Table 4 ("Recommendations"), refined by its Tables 2 and 3,
    with the thresholds `RECOMMENDATION_THRESHOLDS`:

    * `noise_rate < 0.05`: biTemp (t1 0.8, t2 1.2) for up to ten classes;
      for more classes boundCE* with the paper's eps for `num_classes`
      (`keras_robust.presets.output_bias`, eq. 2: 2.5 at 100 classes),
      which beat CE and biTemp on CIFAR-100 (Table 3, "inherent noise").
    * `0.05 <= noise_rate < 0.4`: genCE with q = 0.7.
    * `noise_rate >= 0.4`: boundCE for up to ten classes (best mean accuracy
      at 40 % and 60 % in Table 2), genCE for more classes (Table 3).

    Args:
        noise_rate: The paper's noise rate eta, in [0, 1]: the fraction of
            training labels redrawn uniformly over all `num_classes`
            classes (paper Sec. 4; a redrawn label may stay right, so a
            fraction `eta (c - 1) / c` of the labels is wrong). From an
            estimate of the fraction of wrong labels, pass
            `keras_robust.estimate_noise(...).symmetric_noise_rate`.
        num_classes: Number of classes, >= 2.
        from_logits: Whether the model outputs logits (True, as the zoo's
            models and most Keras classifiers without a final softmax do)
            or probabilities.
        **kwargs: Passed to the loss, e.g. `reduction="sum"`.
    """
    from keras_robust import presets

    noise_rate = validation.check_in_interval(
        "noise_rate", noise_rate, 0.0, 1.0, "[0, 1]"
    )
    num_classes = validation.check_num_classes(num_classes)
    kwargs["from_logits"] = from_logits
    low, high = RECOMMENDATION_THRESHOLDS
    if noise_rate < low:
        if num_classes <= 10:
            return BiTemperedLogisticLoss(t1=0.8, t2=1.2, **kwargs)
        eps = presets.output_bias("boundce", num_classes)
        return BoundedCrossEntropy(output_bias=eps, **kwargs)
    if noise_rate < high:
        return GeneralizedCrossEntropy(q=0.7, **kwargs)
    if num_classes <= 10:
        return BoundedCrossEntropy(**kwargs)
    return GeneralizedCrossEntropy(q=0.7, **kwargs)


__all__ = [
    "LOSS_GRAMMAR",
    "LOSS_NAMES",
    "BiTemperedLogisticLoss",
    "BoundedCrossEntropy",
    "CrossEntropy",
    "GeneralizedCrossEntropy",
    "LossSpec",
    "NormalizedCrossEntropyMAE",
    "NormalizedFocalMAE",
    "ProbabilityMeanAbsoluteError",
    "RobustLoss",
    "SymmetricCrossEntropy",
    "bi_tempered_logistic_loss",
    "bounded_cross_entropy",
    "canonical_name",
    "cross_entropy",
    "display_name",
    "generalized_cross_entropy",
    "get",
    "normalized_cross_entropy_mae",
    "normalized_focal_mae",
    "probability_mean_absolute_error",
    "recommend",
    "symmetric_cross_entropy",
    "tempered_softmax",
]
