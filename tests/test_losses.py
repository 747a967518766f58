"""Losses against closed forms (paper Table 1, supplement eqs. 3 and 5) and
published reference vectors (google/bi-tempered-loss tensorflow/loss_test.py).

The numpy references below are written from the paper's formulas, not from
our implementation.
"""

import inspect
import math
import re
import warnings

import keras
import numpy as np
import pytest
from keras import ops

from keras_robust import autodiff
from keras_robust import losses

pytestmark = pytest.mark.backend_independent

PAPER_KWARGS = {
    "ce": {},
    "mae": {},
    "gce": {"q": 0.7},
    "sce": {"alpha": 0.1, "beta": 2.0},
    "actpas1": {"alpha": 1.0, "beta": 20.0},
    "actpas2": {"alpha": 1.0, "beta": 20.0},
    "bitemp": {"t1": 0.8, "t2": 1.2},
    "boundce": {},
}


# ---------------------------------------------------------------- numpy side


def np_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def np_loss(name, z, k, **kw):
    """Per-example loss from paper Table 1, float64."""
    z = z.astype(np.float64)
    a = np_softmax(z)
    rows = np.arange(len(k))
    a_k = a[rows, k]
    mae = 2.0 * (1.0 - a_k)
    if name == "ce":
        return -np.log(a_k)
    if name == "mae":
        return mae
    if name == "gce":
        return (1.0 - a_k ** kw["q"]) / kw["q"]
    if name == "sce":
        return kw["alpha"] * -np.log(a_k) + kw["beta"] * mae
    if name == "actpas1":
        f = np.log((1.0 - a) ** 0.5 * a)
        return kw["alpha"] * f[rows, k] / f.sum(-1) + kw["beta"] * mae
    if name == "actpas2":
        return kw["alpha"] * np.log(a_k) / np.log(a).sum(-1) + kw["beta"] * mae
    if name == "boundce":
        return -np.log(np.exp(a_k) / np.exp(a).sum(-1))
    raise KeyError(name)


def np_delta(name, z, k, **kw):
    """Closed-form errors delta_n = dL/dz_n (Table 1, supplement eqs. 3, 5)."""
    z = z.astype(np.float64)
    a = np_softmax(z)
    c = z.shape[-1]
    y = np.eye(c)[k]
    rows = np.arange(len(k))
    a_k = a[rows, k][:, None]
    mae = 2.0 * a_k * (a - y)
    if name == "ce":
        return a - y
    if name == "mae":
        return mae
    if name == "gce":
        return a_k ** kw["q"] * (a - y)
    if name == "sce":
        return kw["alpha"] * (a - y) + kw["beta"] * mae
    if name == "actpas2":
        s = np.log(a).sum(-1, keepdims=True)
        active = ((y - a) * s - np.log(a_k) * (1.0 - c * a)) / s**2
        return kw["alpha"] * active + kw["beta"] * mae
    if name == "actpas1":
        f = np.log((1.0 - a) ** 0.5 * a)
        s = f.sum(-1, keepdims=True)
        # g[b, i, n] = d f_i / d z_n = ([i=n] - a_n)(1 - a_i / (2 (1 - a_i)))
        g = (np.eye(c)[None] - a[:, None, :]) * (1.0 - a / (2.0 * (1.0 - a)))[:, :, None]
        g_k = g[rows, k]
        f_k = f[rows, k][:, None]
        active = (g_k * s - f_k * g.sum(axis=1)) / s**2
        return kw["alpha"] * active + kw["beta"] * mae
    if name == "boundce":
        e = np.exp(a)
        return -a_k * (y - a) + a * (e - (a * e).sum(-1, keepdims=True)) / e.sum(
            -1, keepdims=True
        )
    raise KeyError(name)


def loss_and_grad(loss, labels, logits):
    labels = ops.convert_to_tensor(labels)
    return autodiff.value_and_gradient(lambda z: loss(labels, z), logits)


def per_example(name, **kwargs):
    return losses.get(name, from_logits=True, reduction=None, **kwargs)


# ------------------------------------------------------------ closed forms

CLOSED_FORM = ["ce", "mae", "gce", "sce", "actpas1", "actpas2", "boundce"]


@pytest.mark.parametrize("num_classes", [10, 100])
@pytest.mark.parametrize("name", CLOSED_FORM)
def test_value_and_gradient_match_closed_form(name, num_classes):
    rng = np.random.default_rng(num_classes)
    z = (2.0 * rng.standard_normal((16, num_classes))).astype(np.float32)
    k = rng.integers(0, num_classes, 16)
    kw = PAPER_KWARGS[name]
    values, grads = loss_and_grad(per_example(name, **kw), k, z)
    np.testing.assert_allclose(values, np_loss(name, z, k, **kw), rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(grads, np_delta(name, z, k, **kw), rtol=1e-3, atol=2e-6)


@pytest.mark.parametrize("name", CLOSED_FORM)
def test_output_bias_shifts_the_labelled_logit(name):
    rng = np.random.default_rng(1)
    z = rng.standard_normal((8, 10)).astype(np.float32)
    k = rng.integers(0, 10, 8)
    kw = PAPER_KWARGS[name]
    shifted = z + 0.5 * np.eye(10, dtype=np.float32)[k]
    values, grads = loss_and_grad(per_example(name, output_bias=0.5, **kw), k, z)
    np.testing.assert_allclose(values, np_loss(name, shifted, k, **kw), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(grads, np_delta(name, shifted, k, **kw), rtol=1e-3, atol=2e-6)


def test_actpas1_ma_et_al_form_is_the_original_nfl():
    # Ma et al. (2020) NFL: (1-p_k)^g log p_k / sum_j (1-p_j)^g log p_j, g=0.5.
    rng = np.random.default_rng(2)
    z = rng.standard_normal((8, 10)).astype(np.float32)
    k = rng.integers(0, 10, 8)
    a = np_softmax(z.astype(np.float64))
    w = (1.0 - a) ** 0.5 * np.log(a)
    expected = w[np.arange(8), k] / w.sum(-1) + 2.0 * 2.0 * (1.0 - a[np.arange(8), k])
    loss = per_example("actpas1", alpha=1.0, beta=2.0, form="ma_et_al")
    values, _ = loss_and_grad(loss, k, z)
    np.testing.assert_allclose(values, expected, rtol=2e-5)


# ------------------------------------------------------------ bi-tempered

# google/bi-tempered-loss, tensorflow/loss_test.py.
BT_LABELS = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.2, 0.8, 0.0]], np.float32)
BT_ACTIVATIONS = np.array(
    [[-0.5, 0.1, 2.0], [0.1, 1.5, -5.0], [4.0, -3.0, -6.0]], np.float32
)


@pytest.mark.parametrize(
    "t1, t2, expected",
    [(1.0, 1.0, 0.62870466), (0.9, 1.1, 0.45677936), (0.8, 1.2, 0.34298314), (0.7, 1.3, 0.26295574)],
)
def test_bitemp_dynamic_temperatures_reference(t1, t2, expected):
    loss = losses.bi_tempered_logistic_loss(
        np.array([[0.2, 0.5, 0.3]], np.float32),
        np.array([[-0.5, 0.1, 2.0]], np.float32),
        from_logits=True,
        t1=t1,
        t2=t2,
    )
    np.testing.assert_allclose(ops.convert_to_numpy(loss), [expected], atol=1e-5)


def test_bitemp_loss_value_references():
    fn = losses.bi_tempered_logistic_loss
    np.testing.assert_allclose(
        ops.convert_to_numpy(fn(BT_LABELS, BT_ACTIVATIONS, True, t1=0.5, t2=1.5)),
        [0.02301914, 0.18972909, 0.93874922],
        atol=1e-5,
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(fn(BT_LABELS, BT_ACTIVATIONS, True, t1=0.5, t2=0.8, num_iters=20)),
        [0.21646356, 0.41836615, 1.33997854],
        atol=1e-5,
    )


def test_bitemp_label_smoothing_reference():
    loss = losses.bi_tempered_logistic_loss(
        np.eye(3, dtype=np.float32), BT_ACTIVATIONS, True, t1=0.5, t2=1.5, label_smoothing=0.1
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(loss), [0.76652711, 0.08627685, 1.35443510], atol=1e-5
    )


def test_bitemp_sparse_sum_reference():
    activations = np.array(
        [[-0.5, 0.1, 2.0], [0.1, 1.5, -5.0], [4.0, -3.0, -6.0], [-1.5, 0.7, 5.2]], np.float32
    )
    loss = losses.BiTemperedLogisticLoss(t1=0.5, t2=1.5, from_logits=True, reduction="sum")
    np.testing.assert_allclose(
        ops.convert_to_numpy(loss(np.array([0, 2, 1, 0]), activations)), 5.269439, atol=1e-4
    )


def test_tempered_softmax_reference():
    np.testing.assert_allclose(
        ops.convert_to_numpy(losses.tempered_softmax(BT_ACTIVATIONS, 4.0)),
        [
            [0.3205458, 0.32714278, 0.3523402],
            [0.3430056, 0.36491093, 0.29220778],
            [0.41369352, 0.30534995, 0.28299212],
        ],
        atol=1e-5,
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(losses.tempered_softmax(BT_ACTIVATIONS, 1.0)),
        np_softmax(BT_ACTIVATIONS),
        atol=1e-6,
    )


@pytest.mark.parametrize("t1, t2", [(0.8, 1.2), (0.5, 1.5), (0.5, 1.0), (0.9, 0.8)])
def test_bitemp_closed_form_gradient_matches_autodiff_of_the_definition(t1, t2):
    rng = np.random.default_rng(3)
    z = rng.standard_normal((6, 10)).astype(np.float32)
    y = rng.dirichlet(np.ones(10), 6).astype(np.float32)
    labels = ops.convert_to_tensor(y)

    def exp_t(u, t):
        return ops.relu(1.0 + (1.0 - t) * u) ** (1.0 / (1.0 - t))

    def np_normalization(row, t):
        # Solve sum_j exp_t(z_j - lam) = 1 by float64 bisection.
        total = lambda lam: np.sum(
            np.maximum(1.0 + (1.0 - t) * (row - lam), 0.0) ** (1.0 / (1.0 - t))
        )
        lower, upper = row.max(), row.max() + 1.0
        while total(upper) > 1.0:
            upper += 2.0 * (upper - lower)
        for _ in range(200):
            middle = (lower + upper) / 2.0
            lower, upper = (middle, upper) if total(middle) > 1.0 else (lower, middle)
        return (lower + upper) / 2.0

    if t2 != 1.0:
        solved = np.array([[np_normalization(r, t2)] for r in z.astype(np.float64)])

    def definition(logits):
        # One Newton step on sum(exp_t(z - lam)) = 1 from the solved lam: the
        # value stays put and the gradient is the implicit-function one,
        # d lam / dz_j = exp_t(z_j - lam)^t2 / sum(exp_t(z - lam)^t2).
        if t2 == 1.0:
            return softmax_definition(ops.softmax(logits, axis=-1))
        lam0 = ops.convert_to_tensor(solved.astype(np.float32))
        e = exp_t(logits - lam0, t2)
        e_pow_t2 = ops.where(e > 0, ops.where(e > 0, e, 1.0) ** t2, 0.0)
        lam = lam0 + (ops.sum(e, axis=-1, keepdims=True) - 1.0) / ops.sum(
            e_pow_t2, axis=-1, keepdims=True
        )
        return softmax_definition(exp_t(logits - lam, t2))

    def softmax_definition(p):
        log_t = lambda u, t: ops.log(u) if t == 1.0 else (u ** (1 - t) - 1) / (1 - t)
        # log_t(0, t1 < 1) = -1 / (1 - t1), written so that autodiff stays finite.
        positive = p > 0
        log_t_p = ops.where(
            positive, log_t(ops.where(positive, p, 1.0), t1), -1.0 / (1.0 - t1)
        )
        cross = (log_t(labels + 1e-10, t1) - log_t_p) * labels
        return ops.sum(cross - (labels ** (2 - t1) - p ** (2 - t1)) / (2 - t1), axis=-1)

    expected_values, expected_grads = autodiff.value_and_gradient(definition, z)
    loss = per_example("bitemp", t1=t1, t2=t2, num_iters=30)
    values, grads = loss_and_grad(loss, y, z)
    np.testing.assert_allclose(values, expected_values, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grads, expected_grads, rtol=1e-3, atol=2e-5)


def test_bitemp_at_unit_temperatures_is_cross_entropy():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((8, 10)).astype(np.float32)
    k = rng.integers(0, 10, 8)
    values, grads = loss_and_grad(per_example("bitemp", t1=1.0, t2=1.0), k, z)
    np.testing.assert_allclose(values, np_loss("ce", z, k), rtol=1e-5)
    np.testing.assert_allclose(grads, np_delta("ce", z, k), atol=1e-6)


# ------------------------------------------------------ limits and Keras


def test_gce_agrees_with_keras_categorical_generalized_cross_entropy():
    rng = np.random.default_rng(5)
    probs = np_softmax(rng.standard_normal((16, 10))).astype(np.float32)
    k = rng.integers(0, 10, 16)
    for q in (0.3, 0.7):
        ours = losses.GeneralizedCrossEntropy(q=q)(k, probs)
        theirs = keras.losses.CategoricalGeneralizedCrossEntropy(q=q)(k, probs)
        np.testing.assert_allclose(ops.convert_to_numpy(ours), ops.convert_to_numpy(theirs), rtol=1e-5)


def test_gce_at_q_one_is_half_mae():
    rng = np.random.default_rng(6)
    z = rng.standard_normal((8, 10)).astype(np.float32)
    k = rng.integers(0, 10, 8)
    gce, _ = loss_and_grad(per_example("gce", q=1.0), k, z)
    mae, _ = loss_and_grad(per_example("mae"), k, z)
    np.testing.assert_allclose(gce, mae / 2, rtol=1e-5)


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_invariant_to_a_constant_added_to_all_logits(name):
    rng = np.random.default_rng(7)
    z = rng.standard_normal((8, 10)).astype(np.float32)
    k = rng.integers(0, 10, 8)
    loss = per_example(name, **PAPER_KWARGS[name])
    a, _ = loss_and_grad(loss, k, z)
    b, _ = loss_and_grad(loss, k, z + 7.5)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_sparse_column_and_one_hot_labels_agree(name):
    rng = np.random.default_rng(8)
    z = rng.standard_normal((8, 10)).astype(np.float32)
    k = rng.integers(0, 10, 8)
    loss = losses.get(name, from_logits=True, output_bias=0.3, **PAPER_KWARGS[name])
    sparse = ops.convert_to_numpy(loss(k, z))
    column = ops.convert_to_numpy(loss(k[:, None], z))
    one_hot = ops.convert_to_numpy(loss(np.eye(10, dtype=np.float32)[k], z))
    np.testing.assert_allclose(column, sparse, rtol=1e-6)
    np.testing.assert_allclose(one_hot, sparse, rtol=1e-6)


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_from_logits_and_probabilities_agree(name):
    rng = np.random.default_rng(9)
    z = (2 * rng.standard_normal((8, 10))).astype(np.float32)
    k = rng.integers(0, 10, 8)
    kw = dict(PAPER_KWARGS[name], output_bias=0.5)
    from_logits = losses.get(name, from_logits=True, **kw)(k, z)
    from_probs = losses.get(name, from_logits=False, **kw)(k, np_softmax(z).astype(np.float32))
    np.testing.assert_allclose(
        ops.convert_to_numpy(from_probs), ops.convert_to_numpy(from_logits), rtol=1e-4
    )


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_exact_zero_and_one_probabilities_are_finite(name):
    probs = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]], np.float32)
    loss = losses.get(name, reduction=None, **PAPER_KWARGS[name])
    values, grads = loss_and_grad(loss, np.array([0, 2]), probs)
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(grads))


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
@pytest.mark.parametrize("scale", [1e2, 1e4])
def test_extreme_logits_stay_finite(name, scale):
    rng = np.random.default_rng(10)
    z = (scale * rng.standard_normal((32, 10))).astype(np.float32)
    k = rng.integers(0, 10, 32)
    k[:4] = np.argmax(z[:4], axis=-1)  # confidently right as well as wrong
    for output_bias in (0.0, 3.0):
        loss = per_example(name, output_bias=output_bias, **PAPER_KWARGS[name])
        values, grads = loss_and_grad(loss, k, z)
        assert np.all(np.isfinite(values)), values
        assert np.all(np.isfinite(grads)), grads


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_inputs_compute_in_float32(name, dtype):
    rng = np.random.default_rng(11)
    z = (3 * rng.standard_normal((16, 100))).astype(np.float32)
    k = rng.integers(0, 100, 16)
    kw = PAPER_KWARGS[name]
    low = ops.cast(z, dtype)
    rounded = ops.convert_to_numpy(ops.cast(low, "float32"))
    values = losses.get(name, from_logits=True, reduction=None, **kw).call(k, low)
    assert ops.convert_to_numpy(values).dtype == np.float32
    expected = ops.convert_to_numpy(losses.get(name, from_logits=True, reduction=None, **kw)(k, rounded))
    np.testing.assert_allclose(ops.convert_to_numpy(values), expected, rtol=1e-5, atol=1e-6)
    # From probabilities in half precision: softmax outputs that underflow to 0.
    probs = ops.cast(np_softmax(20 * z).astype(np.float32), dtype)
    values = losses.get(name, reduction=None, **kw).call(k, probs)
    assert np.all(np.isfinite(ops.convert_to_numpy(values)))


# ------------------------------------------------------- serialization

# Config and `keras.saving` round trips with every hyperparameter checked,
# and models saved with each loss: `tests/test_registered_objects.py`.


def test_get_by_paper_names_and_class_names():
    assert isinstance(losses.get("genCE"), losses.GeneralizedCrossEntropy)
    assert isinstance(losses.get("symCE"), losses.SymmetricCrossEntropy)
    assert isinstance(losses.get("BoundedCrossEntropy"), losses.BoundedCrossEntropy)
    assert isinstance(losses.get("mae"), losses.ProbabilityMeanAbsoluteError)
    loss = losses.get("mae", output_bias=0.5)
    assert losses.get(loss) is loss
    assert losses.get(keras.saving.serialize_keras_object(loss)).output_bias == 0.5


# ------------------------------------------------------------ training


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_each_loss_trains_a_small_model(name):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    centers = 3 * rng.standard_normal((4, 8))
    y = rng.integers(0, 4, 256)
    x = (centers[y] + rng.standard_normal((256, 8))).astype(np.float32)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(4)])
    loss = losses.get(name, from_logits=True, **PAPER_KWARGS[name])
    lr = 0.002 if name in ("actpas1", "actpas2") else 0.05
    model.compile(optimizer=keras.optimizers.SGD(lr, momentum=0.9), loss=loss)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < before


# ------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "make, fragments",
    [
        (lambda: losses.GeneralizedCrossEntropy(q=0.0), ["`q`", "q=0.0", "(0, 1]"]),
        (lambda: losses.GeneralizedCrossEntropy(q=1.5), ["`q`", "q=1.5", "(0, 1]"]),
        (lambda: losses.BiTemperedLogisticLoss(t1=1.2), ["`t1`", "t1=1.2", "[0, 1]"]),
        (lambda: losses.BiTemperedLogisticLoss(t2=0.0), ["`t2`", "t2=0.0", "> 0"]),
        (lambda: losses.BiTemperedLogisticLoss(t2=float("inf")), ["`t2`", "t2=inf"]),
        (lambda: losses.BiTemperedLogisticLoss(label_smoothing=1.0), ["label_smoothing=1.0", "[0, 1)"]),
        (lambda: losses.ProbabilityMeanAbsoluteError(output_bias=-0.5), ["`output_bias`", "output_bias=-0.5", ">= 0"]),
        (lambda: losses.BoundedCrossEntropy(output_bias=float("nan")), ["`output_bias`", "output_bias=nan", "finite"]),
        (lambda: losses.SymmetricCrossEntropy(alpha=-1.0), ["`alpha`", "alpha=-1.0"]),
        (lambda: losses.get("focal"), ["'focal'", "mae", "gce", "boundce"]),
        (lambda: losses.recommend(1.5, 10), ["`noise_rate`", "noise_rate=1.5", "[0, 1]"]),
        (lambda: losses.recommend(0.2, 1), ["`num_classes`", "num_classes=1"]),
    ],
)
def test_bad_arguments_raise_clear_errors(make, fragments):
    with pytest.raises(ValueError) as error:
        make()
    for fragment in fragments:
        assert fragment in str(error.value)


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_labels_outside_range_raise(name):
    loss = losses.get(name, from_logits=True)
    z = np.zeros((3, 5), np.float32)
    for bad in ([0, 5, 1], [0, -1, 1]):
        with pytest.raises(ValueError, match=r"outside \[0, 5\)"):
            loss(np.array(bad), z)


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_mismatched_shapes_raise(name):
    loss = losses.get(name, from_logits=True)
    with pytest.raises(ValueError, match="incompatible shapes"):
        loss(np.zeros((4, 3), np.float32), np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="batch shape"):
        loss(np.zeros((3,), np.int32), np.zeros((4, 5), np.float32))


# ------------------------------------------------------------ recommend


def test_recommend_follows_paper_table_4():
    assert isinstance(losses.recommend(0.0, 10), losses.BiTemperedLogisticLoss)
    low_noise_many_classes = losses.recommend(0.01, 100)
    assert isinstance(low_noise_many_classes, losses.BoundedCrossEntropy)
    assert low_noise_many_classes.output_bias == pytest.approx(2.5, abs=0.05)
    assert isinstance(losses.recommend(0.2, 10), losses.GeneralizedCrossEntropy)
    assert losses.recommend(0.2, 100).q == 0.7
    assert isinstance(losses.recommend(0.4, 10), losses.BoundedCrossEntropy)
    assert isinstance(losses.recommend(0.6, 100), losses.GeneralizedCrossEntropy)
    assert losses.recommend(0.2, 10, from_logits=True).from_logits
    assert "Table 4" in losses.recommend.__doc__


@pytest.mark.parametrize(
    "function, arguments, message",
    [
        (losses.probability_mean_absolute_error, {"output_bias": float("nan")}, "output_bias=nan"),
        (losses.cross_entropy, {"output_bias": -1.0}, "output_bias=-1.0"),
        (losses.generalized_cross_entropy, {"q": 0.0}, "q=0.0"),
        (losses.symmetric_cross_entropy, {"alpha": float("inf")}, "alpha=inf"),
        (losses.normalized_focal_mae, {"beta": -1.0}, "beta=-1.0"),
        (losses.normalized_cross_entropy_mae, {"alpha": -0.5}, "alpha=-0.5"),
        (losses.bi_tempered_logistic_loss, {"t1": 1.5}, "t1=1.5"),
        (losses.bi_tempered_logistic_loss, {"t2": 0.0}, "t2=0.0"),
        (losses.bi_tempered_logistic_loss, {"label_smoothing": 1.0}, "label_smoothing=1.0"),
        (losses.bi_tempered_logistic_loss, {"num_iters": 0}, "num_iters=0"),
        (losses.normalized_focal_mae, {"form": "nfl"}, "form='nfl'"),
    ],
)
def test_functions_check_their_arguments_as_the_classes_do(function, arguments, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        function(np.array([0]), np.array([[0.5, 0.5]]), **arguments)


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_class_and_function_share_one_hyperparameter_check(name):
    cls = type(losses.get(name))
    function_arguments = set(inspect.signature(cls.fn).parameters)
    checked = set(inspect.signature(cls.check_hyperparameters).parameters)
    assert checked == function_arguments - {
        "y_true", "y_pred", "from_logits", "output_bias"
    }


# ------------------------------------------- probabilities with from_logits


def logits_batch(num_classes=5):
    rng = np.random.default_rng(4)
    logits = 3.0 * rng.standard_normal((8, num_classes)).astype("float32")
    return np.arange(8) % num_classes, logits


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_logits_with_from_logits_false_warn_once(name):
    loss = losses.get(name)
    labels, logits = logits_batch()
    with pytest.warns(UserWarning) as record:
        loss(labels, logits)
    assert len(record) == 1
    message = str(record[0].message)
    assert "from_logits=True" in message and "\n" not in message
    assert type(loss).__name__ in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss(labels, logits)  # once per instance


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_softmax_outputs_do_not_warn(dtype):
    labels, logits = logits_batch(num_classes=100)
    probabilities = ops.cast(ops.softmax(ops.cast(logits, dtype)), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in losses.LOSS_NAMES:
            losses.get(name)(labels, probabilities)
            losses.get(name, from_logits=True)(labels, logits)


def test_rows_that_do_not_sum_to_one_warn():
    loss = losses.ProbabilityMeanAbsoluteError()
    with pytest.warns(UserWarning, match="row sums to 0.6"):
        loss(np.array([0, 1]), np.array([[0.2, 0.4], [0.5, 0.5]], "float32"))


def test_compiled_steps_do_not_inspect_values():
    # A probability loss on a model that outputs probabilities and on one
    # that outputs logits: compiled fit runs (and a logits model warns only
    # where the step runs eagerly, as on torch).
    inputs = keras.Input((3,))
    logits = keras.layers.Dense(4)(inputs)
    x, y = np.ones((8, 3), "float32"), np.arange(8) % 4
    for outputs, may_warn in ((keras.layers.Softmax()(logits), False), (logits, True)):
        loss = losses.ProbabilityMeanAbsoluteError()
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="sgd", loss=loss)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        warned = any("from_logits" in str(w.message) for w in record)
        if keras.backend.backend() == "torch":
            assert warned == may_warn
        else:
            assert not warned
            assert not loss._probabilities_checked


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", sorted(losses.LOSS_NAMES))
def test_label_outside_the_classes_is_never_a_plausible_loss(name):
    # Label 3 of 3 classes, inside model.evaluate (compiled where the
    # backend compiles): an error where the check can run, else NaN for
    # that example and finite losses for the others.
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    model.compile(loss=losses.get(name, from_logits=True, reduction=None))
    x = np.ones((2, 2), "float32")
    try:
        per_example = model.predict_on_batch(x)
        values = ops.convert_to_numpy(
            model.loss(np.array([1, 3]), per_example)
        )
    except ValueError as error:
        assert "outside [0, 3)" in str(error)
        values = None
    if values is not None:
        assert np.isfinite(values[0]) and np.isnan(values[1])
    try:
        compiled = model.evaluate(x, np.array([1, 3]), verbose=0, return_dict=True)
    except ValueError as error:  # Eager backends (torch) can check.
        assert "outside [0, 3)" in str(error)
    else:
        assert math.isnan(compiled["loss"])
