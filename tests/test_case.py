"""The shared test case of keras-robust, in keras-hub's shape.

keras-hub's `src/tests/test_case.py` gives every layer and model the same
checks (`run_serialization_test`, `run_precision_test`,
`run_model_saving_test`, ...); `tests/test_registered_objects.py` runs these
over every registered loss, layer, optimizer and zoo model. Each check is
a method of `TestCase`; a test class subclasses it and calls them.
"""

import json

import keras
import numpy as np
from keras import ops
from keras import tree

HALF_PRECISION_DTYPES = ("float16", "bfloat16")


def to_numpy(x):
    return ops.convert_to_numpy(x)


def config_json(instance):
    """`instance.get_config()` as canonical JSON (tuples become lists)."""
    return json.dumps(instance.get_config(), sort_keys=True)


def assert_float32_and_finite(tensors):
    for tensor in tree.flatten(tensors):
        assert keras.backend.standardize_dtype(tensor.dtype) == "float32"
        assert np.all(np.isfinite(to_numpy(tensor)))


class TestCase:
    """The checks every registered object goes through."""

    def run_serialization_test(self, instance, expected_attributes):
        """`get_config`/`from_config` and `keras.saving` round trips.

        Both revive an object of the same class with the same config, in
        which every attribute of `expected_attributes` has its value (so
        no hyperparameter falls back to a default on the way).
        """
        expected_config = config_json(instance)
        config = json.loads(expected_config)
        serialized = json.loads(
            json.dumps(keras.saving.serialize_keras_object(instance))
        )
        revived = [
            type(instance).from_config(config),
            keras.saving.deserialize_keras_object(serialized),
        ]
        for restored in revived:
            assert type(restored) is type(instance)
            assert config_json(restored) == expected_config
            for name, value in expected_attributes.items():
                assert getattr(restored, name) == value, name

    def run_precision_test(self, call, inputs):
        """`call(inputs in half precision, dtype)` is finite float32.

        `call` receives `inputs` cast to float16 and to bfloat16, and the
        dtype's name; every float it returns must be float32 and finite.
        """
        for dtype in HALF_PRECISION_DTYPES:
            assert_float32_and_finite(call(ops.cast(inputs, dtype), dtype))

    def run_sample_weight_test(
        self, make_model, loss, x, y, independent_examples=True
    ):
        """`sample_weight` weighs each example's loss, in evaluation and fit.

        `make_model()` returns the same freshly initialised model each time
        (seeded), `loss` is used with `reduction="sum"`.

        - evaluate: the loss with weights `w` is `sum(w * loss_n)`, the
          per-example losses `loss_n` taken from `predict`;
        - fit (`independent_examples`, i.e. no batch statistics couple the
          examples): one SGD step on the batch with weights `[1, 0, 1, 0,
          ...]` equals one step on the examples of weight 1 alone.
        """
        config = loss.get_config()
        summed = type(loss).from_config({**config, "reduction": "sum"})
        per_example = type(loss).from_config({**config, "reduction": None})
        weights = np.tile(np.array([1.0, 0.0], "float32"), len(y) // 2)
        model = make_model()
        model.compile(
            optimizer=keras.optimizers.SGD(0.1), loss=summed, run_eagerly=True
        )
        expected = np.sum(
            weights * to_numpy(per_example(y, model.predict(x, verbose=0)))
        )
        evaluated = model.evaluate(
            x, y, sample_weight=weights, batch_size=len(y), verbose=0
        )
        np.testing.assert_allclose(evaluated, expected, rtol=1e-5, atol=1e-6)
        if not independent_examples:
            return
        kept = weights == 1.0
        trained = []
        subset = tree.map_structure(lambda array: array[kept], (x, y))
        for batch in ((x, y, weights), (*subset, None)):
            model = make_model()
            model.compile(
                optimizer=keras.optimizers.SGD(0.1),
                loss=summed,
                run_eagerly=True,
            )
            features, labels, sample_weight = batch
            model.fit(
                features,
                labels,
                sample_weight=sample_weight,
                batch_size=len(labels),
                epochs=1,
                shuffle=False,
                verbose=0,
            )
            trained.append(model.get_weights())
        for weighted, subset in zip(*trained):
            np.testing.assert_allclose(weighted, subset, rtol=1e-5, atol=1e-6)

    def run_model_saving_test(self, model, inputs, tmp_path, training=False):
        """`model.save` to `.keras`, `keras.models.load_model` without
        `custom_objects`: same class, same outputs, same compiled loss.

        Returns the restored model."""
        path = str(tmp_path / "model.keras")
        expected = model(inputs, training=training)
        model.save(path)
        restored = keras.models.load_model(path)
        assert type(restored) is type(model)
        np.testing.assert_allclose(
            to_numpy(restored(inputs, training=training)),
            to_numpy(expected),
            rtol=1e-5,
            atol=1e-6,
        )
        if isinstance(model.loss, keras.losses.Loss):
            assert type(restored.loss) is type(model.loss)
            assert restored.loss.get_config() == model.loss.get_config()
        elif model.loss is not None:  # a registered loss function
            assert restored.loss is model.loss
        return restored
