"""Tests of `CorrectClassBias`: the layer form of the output bias."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_robust import autodiff
from keras_robust import losses
from keras_robust.layers import CorrectClassBias

pytestmark = pytest.mark.backend_independent

EPSILON = 0.5


def logits_and_labels(num_classes=10, batch=8, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((batch, num_classes)).astype(np.float32)
    labels = rng.integers(0, num_classes, batch).astype(np.int32)
    return logits, labels


def test_training_adds_epsilon_to_the_labelled_logit_only():
    logits, labels = logits_and_labels()
    out = ops.convert_to_numpy(CorrectClassBias(EPSILON)(logits, labels, training=True))
    expected = logits.copy()
    expected[np.arange(len(labels)), labels] += EPSILON
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-7)


def test_one_hot_and_column_labels_work_like_integer_labels():
    logits, labels = logits_and_labels()
    layer = CorrectClassBias(EPSILON)
    sparse = ops.convert_to_numpy(layer(logits, labels, training=True))
    one_hot = np.eye(10, dtype=np.float32)[labels]
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer(logits, one_hot, training=True)), sparse
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer(logits, labels[:, None], training=True)), sparse
    )


def test_inference_returns_the_logits_unchanged():
    logits, labels = logits_and_labels()
    layer = CorrectClassBias(EPSILON)
    for training in (False, None):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(layer(logits, labels, training=training)), logits
        )


@pytest.mark.parametrize("name", ["mae", "boundce", "gce", "ce"])
def test_layer_then_loss_equals_loss_with_output_bias(name):
    logits, labels = logits_and_labels(num_classes=10, batch=16, seed=1)
    label_tensor = ops.convert_to_tensor(labels)
    plain = losses.get(name, from_logits=True)
    biased = losses.get(name, from_logits=True, output_bias=EPSILON)
    layer = CorrectClassBias(EPSILON)

    value_layer, grad_layer = autodiff.value_and_gradient(
        lambda z: plain(label_tensor, layer(z, label_tensor, training=True)), logits
    )
    value_option, grad_option = autodiff.value_and_gradient(
        lambda z: biased(label_tensor, z), logits
    )
    np.testing.assert_allclose(value_layer, value_option, rtol=1e-6)
    np.testing.assert_allclose(grad_layer, grad_option, rtol=1e-5, atol=1e-8)


def test_fit_with_the_layer_matches_fit_with_the_loss_option():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = rng.integers(0, 4, 64).astype(np.int32)

    def backbone():
        keras.utils.set_random_seed(7)
        inputs = keras.Input((5,))
        return keras.Model(inputs, keras.layers.Dense(4)(inputs))

    # The loss option.
    with_option = backbone()
    with_option.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss=losses.ProbabilityMeanAbsoluteError(from_logits=True, output_bias=EPSILON),
    )
    with_option.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)

    # The layer, in a training model that also takes the labels.
    with_layer = backbone()
    images = keras.Input((5,))
    labels = keras.Input((), dtype="int32")
    biased = CorrectClassBias(EPSILON)(with_layer(images), labels)
    trainer = keras.Model([images, labels], biased)
    trainer.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss=losses.ProbabilityMeanAbsoluteError(from_logits=True),
    )
    trainer.fit((x, y), y, batch_size=16, epochs=2, shuffle=False, verbose=0)

    for a, b in zip(with_option.get_weights(), with_layer.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The trainer at inference is the backbone: the bias is not applied.
    np.testing.assert_allclose(
        trainer.predict((x, y), verbose=0), with_layer.predict(x, verbose=0), atol=1e-6
    )


def test_half_precision_logits_are_biased_in_float32():
    # Under mixed precision the layer computes in float32, as the losses do.
    logits, labels = logits_and_labels()
    logits = 1000.0 * logits
    layer = CorrectClassBias(EPSILON)
    out = layer(logits.astype("float16"), labels, training=True)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    expected = logits.astype("float16").astype("float32")
    expected[np.arange(len(labels)), labels] += EPSILON
    np.testing.assert_array_equal(ops.convert_to_numpy(out), expected)


@pytest.mark.parametrize("epsilon", [-0.1, float("nan"), float("inf")])
def test_bad_epsilon_raises(epsilon):
    with pytest.raises(ValueError, match="epsilon"):
        CorrectClassBias(epsilon)


def test_labels_outside_range_and_bad_shapes_raise():
    logits, labels = logits_and_labels()
    layer = CorrectClassBias(EPSILON)
    with pytest.raises(ValueError, match="labels"):
        layer(logits, np.full_like(labels, 10), training=True)
    with pytest.raises(ValueError, match="labels"):
        layer(logits, np.zeros((8, 3), np.int32), training=True)
