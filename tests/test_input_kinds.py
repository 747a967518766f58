"""Every loss and the layer take every input a Keras user can hand them.

The contract, per backend: eager backend tensors (tf.Tensor, jax.Array,
torch.Tensor), `keras.Variable`, `tf.Variable` (TensorFlow), NumPy arrays,
and symbolic inputs inside a compiled functional model; float16, bfloat16
and float32; integer labels of shape `(B,)` and `(B, 1)` and one-hot labels.
Values and gradients are finite and equal across kinds: each kind is
compared with the same computation on float32 NumPy copies of the same
(rounded) inputs, within a tolerance of the input's dtype.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_robust import losses
from keras_robust.layers import CorrectClassBias
from test_case import TestCase

pytestmark = pytest.mark.backend_independent

BACKEND = keras.backend.backend()
NUM_CLASSES = 4
BATCH = 6
DTYPES = ("float32", "float16", "bfloat16")
# Relative tolerance of a gradient returned in the input's dtype (values are
# float32 in every case and agree to float32 rounding).
GRADIENT_RTOL = {"float32": 1e-5, "float16": 2e-3, "bfloat16": 1.6e-2}
LABEL_FORMATS = ("sparse", "sparse_column", "one_hot")
KINDS = (
    "numpy",
    "tensor",
    "keras_variable",
    *(("tf_variable",) if BACKEND == "tensorflow" else ()),
)
# Every registered loss, as a class instance and as its function.
LOSS_CASES = [
    (name, form) for name in losses.LOSS_NAMES for form in ("class", "function")
]


def make_loss(name, form, from_logits):
    """The class without output bias, the function with eps 0.5."""
    if form == "class":
        return losses.get(name, from_logits=from_logits)
    fn = type(losses.get(name)).fn
    return lambda y_true, y_pred: fn(
        y_true, y_pred, from_logits=from_logits, output_bias=0.5
    )


def case_inputs(label_format, dtype, from_logits, seed=0):
    """float32 NumPy `(labels, predictions)`, predictions rounded to `dtype`."""
    rng = np.random.default_rng(seed)
    logits = 2.0 * rng.standard_normal((BATCH, NUM_CLASSES)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, BATCH).astype("int32")
    predictions = logits if from_logits else to_numpy(ops.softmax(logits))
    predictions = to_numpy(ops.cast(ops.cast(predictions, dtype), "float32"))
    if label_format == "sparse_column":
        labels = labels[:, None]
    elif label_format == "one_hot":
        labels = np.eye(NUM_CLASSES, dtype="float32")[labels]
    return labels, predictions


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float32")


def as_kind(array, kind, dtype=None):
    """`array` (NumPy) as the input kind `kind`, in `dtype`."""
    dtype = dtype or keras.backend.standardize_dtype(array.dtype)
    if kind == "numpy":
        return to_numpy_dtype(array, dtype)
    tensor = ops.convert_to_tensor(array, dtype=dtype)
    if kind == "tensor":
        return tensor
    if kind == "keras_variable":
        return keras.Variable(tensor, dtype=dtype, trainable=False)
    if kind == "tf_variable":
        import tensorflow as tf

        return tf.Variable(tensor)
    raise ValueError(kind)


def to_numpy_dtype(array, dtype):
    if dtype == "bfloat16":
        import ml_dtypes

        return np.asarray(array).astype(ml_dtypes.bfloat16)
    return np.asarray(array).astype(dtype)


def value_and_gradient(fn, x):
    """`(fn(x), d sum(fn(x)) / dx)` as float32 NumPy for an input `x`.

    `x` is a tensor or a variable of any kind; the gradient is taken with
    respect to the tensor the variable holds. NumPy inputs give no gradient
    (None).
    """
    if isinstance(x, np.ndarray):
        return to_numpy(fn(x)), None
    is_variable = isinstance(x, keras.Variable)
    source = x.value if is_variable else x
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(source)
            values = fn(x)
        return to_numpy(values), to_numpy(tape.gradient(values, source))
    if BACKEND == "jax":
        import jax

        def total(raw):
            if is_variable:
                with keras.StatelessScope(state_mapping=[(x, raw)]):
                    values = fn(x)
            else:
                values = fn(raw)
            return ops.sum(values), values

        (_, values), gradient = jax.value_and_grad(total, has_aux=True)(source)
        return to_numpy(values), to_numpy(gradient)
    if BACKEND == "torch":
        source.requires_grad_(True)
        values = fn(x)
        ops.sum(values).backward()
        return to_numpy(values.detach()), to_numpy(source.grad)
    raise NotImplementedError(BACKEND)


class InputKindsTestCase(TestCase):
    def run_input_kinds_test(self, fn, make_inputs, reference):
        """`fn(labels, predictions)` on every kind, dtype and label format.

        `make_inputs(label_format, dtype)` gives float32 NumPy inputs (the
        predictions rounded to `dtype`); `reference(labels, predictions)`
        gives the expected float32 `(values, gradient)`. Every kind's values
        and gradients are finite and equal to the reference.
        """
        for label_format in LABEL_FORMATS:
            for dtype in DTYPES:
                labels, predictions = make_inputs(label_format, dtype)
                expected_values, expected_gradient = reference(labels, predictions)
                for kind in KINDS:
                    # Labels of the same kind as the predictions.
                    case = (label_format, dtype, kind)
                    y_true = as_kind(labels, kind)
                    values, gradient = value_and_gradient(
                        lambda y_pred: fn(y_true, y_pred),
                        as_kind(predictions, kind, dtype),
                    )
                    assert np.all(np.isfinite(values)), case
                    np.testing.assert_allclose(
                        values, expected_values, rtol=1e-5, atol=1e-6, err_msg=str(case)
                    )
                    if gradient is None:
                        continue
                    assert np.all(np.isfinite(gradient)), case
                    np.testing.assert_allclose(
                        gradient,
                        expected_gradient,
                        rtol=GRADIENT_RTOL[dtype],
                        atol=GRADIENT_RTOL[dtype] * np.abs(expected_gradient).max(),
                        err_msg=str(case),
                    )


class TestLossInputKinds(InputKindsTestCase):
    @pytest.mark.parametrize("from_logits", [True, False], ids=["logits", "probs"])
    @pytest.mark.parametrize("name, form", LOSS_CASES)
    def test_every_kind_gives_the_same_values_and_gradients(
        self, name, form, from_logits
    ):
        loss = make_loss(name, form, from_logits)

        def reference(labels, predictions):
            return value_and_gradient(
                lambda y_pred: loss(labels, y_pred),
                ops.convert_to_tensor(predictions),
            )

        self.run_input_kinds_test(
            loss,
            lambda label_format, dtype: case_inputs(label_format, dtype, from_logits),
            reference,
        )

    @pytest.mark.parametrize("name, form", LOSS_CASES)
    def test_symbolic_inputs_in_a_compiled_functional_model(self, name, form):
        # One fit step per loss, the label format and the dtype of the
        # model's logits varying over the losses.
        index = LOSS_CASES.index((name, form))
        label_format = LABEL_FORMATS[index % 3]
        dtype = DTYPES[(index // 3) % 3]
        loss = make_loss(name, form, from_logits=True)
        rng = np.random.default_rng(index)
        features = rng.standard_normal((BATCH, 5)).astype("float32")
        labels, _ = case_inputs(label_format, "float32", True, seed=index)
        keras.utils.set_random_seed(0)
        inputs = keras.Input((5,))
        logits = keras.layers.Dense(NUM_CLASSES, dtype=dtype)(inputs)
        model = keras.Model(inputs, logits)
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss)
        before = model.predict(features, verbose=0)
        expected = np.mean(to_numpy(loss(labels, before)))
        history = model.fit(features, labels, batch_size=BATCH, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-4)
        assert all(np.all(np.isfinite(to_numpy(w))) for w in model.weights)


class TestCorrectClassBiasInputKinds(InputKindsTestCase):
    def test_every_kind_gives_the_same_values_and_gradients(self):
        layer = CorrectClassBias(0.5)

        def reference(labels, logits):
            rows = labels if labels.ndim == 2 and labels.shape[1] > 1 else (
                np.eye(NUM_CLASSES, dtype="float32")[labels.reshape(-1)]
            )
            # d sum(logits + eps onehot) / d logits = 1.
            return logits + 0.5 * rows, np.ones_like(logits)

        self.run_input_kinds_test(
            lambda labels, logits: layer(logits, labels, training=True),
            lambda label_format, dtype: case_inputs(label_format, dtype, True),
            reference,
        )

    @pytest.mark.parametrize("label_format", LABEL_FORMATS)
    def test_symbolic_inputs_in_a_compiled_functional_model(self, label_format):
        labels, _ = case_inputs(label_format, "float32", True, seed=3)
        features = np.random.default_rng(3).standard_normal((BATCH, 5))
        keras.utils.set_random_seed(0)
        inputs = keras.Input((5,))
        label_input = keras.Input(labels.shape[1:], dtype=labels.dtype)
        logits = keras.layers.Dense(NUM_CLASSES)(inputs)
        biased = CorrectClassBias(0.5)(logits, label_input)
        model = keras.Model([inputs, label_input], biased)
        loss = losses.ProbabilityMeanAbsoluteError(from_logits=True)
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss)
        before = model([features, labels], training=True)
        expected = np.mean(to_numpy(loss(labels, before)))
        history = model.fit(
            (features.astype("float32"), labels), labels, batch_size=BATCH, verbose=0
        )
        np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-4)


def test_every_registered_loss_has_a_case():
    registered = {
        obj
        for obj in keras.saving.get_custom_objects().values()
        if getattr(obj, "__module__", "") == "keras_robust.losses"
    }
    covered = {type(losses.get(name)) for name, _ in LOSS_CASES} | {
        type(losses.get(name)).fn for name, _ in LOSS_CASES
    }
    assert registered == covered
