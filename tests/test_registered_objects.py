"""The shared test case (`tests/test_case.py`) over every registered object.

Every class and function that `keras_robust.losses`, `keras_robust.layers`
and `zoo` register for Keras serialization has a case here, and
`test_every_registered_object_has_a_case` fails for one that does not.
(`keras_robust.data`'s `DeviceAugmentation` is tested with the data
pipeline in `tests/test_augment.py`.)
"""

import keras
import numpy as np
import pytest

import zoo
from keras_robust import losses
from keras_robust.layers import CorrectClassBias
from test_case import TestCase

pytestmark = pytest.mark.backend_independent

NUM_CLASSES = 4

# Hyperparameters other than the defaults, so that a round trip that drops
# one is seen.
LOSS_HYPERPARAMETERS = {
    "ce": {},
    "mae": {},
    "gce": {"q": 0.4},
    "sce": {"alpha": 6.0, "beta": 0.2},
    "actpas1": {"alpha": 2.0, "beta": 0.2, "form": "ma_et_al"},
    "actpas2": {"alpha": 3.0, "beta": 0.2},
    "bitemp": {"t1": 0.6, "t2": 1.4, "label_smoothing": 0.05, "num_iters": 7},
    "boundce": {},
}

# The zoo models at 8x8x1 and 3 classes. ResNet-32 and MLP1024 are their
# presets (0.5 M and 0.9 M parameters there); ResNet-34's options
# (projection shortcuts, here with Keras's batch norm) run at small widths
# (an identity and a projection block), and the preset itself once, in
# `test_resnet34_preset_saves_and_loads`.
IMAGE_SHAPE = (8, 8, 1)
MODEL_CASES = {
    # case: (builder, its arguments, the hyperparameters it must have)
    "resnet32": (
        zoo.resnet32, {}, zoo.CifarResNet.PRESETS["resnet32"]["config"]
    ),
    "resnet34_options": (
        zoo.CifarResNet,
        {
            "stem_filters": 4,
            "stage_filters": (4, 8),
            "blocks_per_stage": (1, 1),
            "shortcut": "projection",
            "normalization": "keras",
        },
        {},
    ),
    "mlp1024": (zoo.mlp1024, {}, zoo.MLP.PRESETS["mlp1024"]["config"]),
    "mlp_small": (zoo.MLP, {"hidden_units": (16, 8)}, {}),
}
# Registered models whose preset is checked by a test of its own.
SAVED_ONCE = {"resnet34"}


def batch(num_classes=NUM_CLASSES, size=8, seed=0):
    """Logits `(size, num_classes)` of scale 3 and integer labels."""
    rng = np.random.default_rng(seed)
    logits = (3.0 * rng.standard_normal((size, num_classes))).astype("float32")
    return logits, rng.integers(0, num_classes, size).astype("int32")


def features_and_labels(seed):
    """Inputs of `dense_model` (8 examples of 6 features) and labels."""
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((8, 6)).astype("float32")
    return features, rng.integers(0, NUM_CLASSES, 8).astype("int32")


def images(size=4, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((size, *IMAGE_SHAPE)).astype("float32")


def dense_model(num_inputs=6):
    """A seeded linear classifier, the model that carries a loss."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((num_inputs,))
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(inputs))


def build_model(case, **kwargs):
    builder, arguments, _ = MODEL_CASES[case]
    keras.utils.set_random_seed(0)
    return builder(
        input_shape=IMAGE_SHAPE, num_classes=3, **arguments, **kwargs
    )


class TestLosses(TestCase):
    def loss(self, name):
        return losses.get(
            name,
            name="custom",
            from_logits=True,
            output_bias=1.5,
            reduction="sum",
            **LOSS_HYPERPARAMETERS[name],
        )

    @pytest.mark.parametrize("name", losses.LOSS_NAMES)
    def test_serialization(self, name):
        self.run_serialization_test(
            self.loss(name),
            {
                "name": "custom",
                "from_logits": True,
                "output_bias": 1.5,
                "reduction": "sum",
                **LOSS_HYPERPARAMETERS[name],
            },
        )

    @pytest.mark.parametrize("name", losses.LOSS_NAMES)
    def test_precision(self, name):
        loss = self.loss(name)
        logits, labels = batch()

        def call(half_logits, dtype):
            # `call` sees the half-precision logits; `__call__` casts them.
            return loss.call(labels, half_logits), loss(labels, half_logits)

        self.run_precision_test(call, logits)

    @pytest.mark.parametrize("name", losses.LOSS_NAMES)
    def test_sample_weight(self, name):
        x, labels = features_and_labels(seed=2)
        self.run_sample_weight_test(dense_model, self.loss(name), x, labels)

    @pytest.mark.parametrize("name", losses.LOSS_NAMES)
    def test_model_saving(self, name, tmp_path):
        model = dense_model()
        model.compile(optimizer="sgd", loss=self.loss(name))
        features, _ = features_and_labels(seed=5)
        self.run_model_saving_test(model, features, tmp_path)


class TestLossFunctions(TestCase):
    """The registered functions, usable as `compile(loss=...)`."""

    FUNCTIONS = [type(losses.get(name)).fn for name in losses.LOSS_NAMES]

    @pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda fn: fn.__name__)
    def test_serialization_and_precision(self, fn):
        serialized = keras.saving.serialize_keras_object(fn)
        assert keras.saving.deserialize_keras_object(serialized) is fn
        logits, labels = batch()
        self.run_precision_test(
            lambda half, dtype: fn(labels, half, from_logits=True), logits
        )

    @pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda fn: fn.__name__)
    def test_model_saving(self, fn, tmp_path):
        model = dense_model()
        model.compile(optimizer="sgd", loss=fn)
        self.run_model_saving_test(
            model, features_and_labels(seed=5)[0], tmp_path
        )


class TestCorrectClassBias(TestCase):
    def trainer(self):
        """A linear classifier trained through the layer (eps 0.5)."""
        keras.utils.set_random_seed(0)
        features = keras.Input((6,))
        labels = keras.Input((), dtype="int32")
        logits = keras.layers.Dense(NUM_CLASSES)(features)
        return keras.Model(
            [features, labels], CorrectClassBias(0.5)(logits, labels)
        )

    def test_serialization(self):
        self.run_serialization_test(
            CorrectClassBias(2.5, name="bias"), {"epsilon": 2.5, "name": "bias"}
        )

    def test_precision(self):
        logits, labels = batch()
        loss = losses.CrossEntropy(from_logits=True)

        def call(half_logits, dtype):
            biased = CorrectClassBias(0.5)(half_logits, labels, training=True)
            return biased, loss.call(labels, biased)

        self.run_precision_test(call, logits)

    def test_sample_weight(self):
        x, labels = features_and_labels(seed=3)
        self.run_sample_weight_test(
            self.trainer,
            losses.ProbabilityMeanAbsoluteError(from_logits=True),
            (x, labels),
            labels,
        )

    def test_model_saving(self, tmp_path):
        x, labels = features_and_labels(seed=4)
        restored = self.run_model_saving_test(
            self.trainer(), (x, labels), tmp_path, training=True
        )
        assert restored.layers[-1].epsilon == 0.5


class TestZooLayers(TestCase):
    def test_fused_batch_normalization(self):
        layer = zoo.FusedBatchNormalization(
            momentum=0.8, epsilon=1e-3, center=False, name="bn"
        )
        self.run_serialization_test(
            layer,
            {"momentum": 0.8, "epsilon": 1e-3, "center": False, "name": "bn"},
        )
        self.run_precision_test(
            lambda half, dtype: zoo.FusedBatchNormalization()(
                half, training=True
            ),
            images(),
        )

    def test_option_a_shortcut(self):
        layer = zoo.OptionAShortcut(channel_padding=3, strides=1, name="skip")
        self.run_serialization_test(
            layer, {"channel_padding": 3, "strides": 1, "name": "skip"}
        )
        self.run_precision_test(
            lambda half, dtype: zoo.OptionAShortcut(2)(half),
            images(),
        )

    def test_torch_sgd(self):
        optimizer = zoo.TorchSGD(
            0.05, momentum=0.8, weight_decay=1e-3, nesterov=True, name="sgd"
        )
        self.run_serialization_test(
            optimizer,
            {
                "momentum": 0.8,
                "l2_weight_decay": 1e-3,
                "nesterov": True,
                "name": "sgd",
            },
        )


class TestZooModels(TestCase):
    @pytest.mark.parametrize("case", sorted(MODEL_CASES))
    def test_serialization(self, case):
        model = build_model(case, dtype="mixed_bfloat16", name="custom")
        _, arguments, hyperparameters = MODEL_CASES[case]
        self.run_serialization_test(
            model,
            {
                "name": "custom",
                "input_shape": (None, *IMAGE_SHAPE),
                "output_shape": (None, 3),
                "policy_name": "mixed_bfloat16",
                **hyperparameters,
                **arguments,
            },
        )

    @pytest.mark.parametrize("case", sorted(MODEL_CASES))
    def test_precision(self, case):
        loss = losses.CrossEntropy(from_logits=True)
        labels = np.array([0, 1, 2, 0])

        def call(half_images, dtype):
            model = build_model(case, dtype=f"mixed_{dtype}")
            for layer in model.layers[1:-1]:
                assert layer.compute_dtype == dtype, layer.name
            assert all(w.dtype == "float32" for w in model.weights)
            logits = model(half_images, training=True)
            return logits, loss(labels, logits)

        self.run_precision_test(call, images())

    @pytest.mark.parametrize("case", sorted(MODEL_CASES))
    def test_sample_weight(self, case):
        model = build_model(case)
        has_batch_norm = any(
            isinstance(layer, keras.layers.BatchNormalization)
            for layer in model.layers
        )
        self.run_sample_weight_test(
            lambda: build_model(case),
            losses.GeneralizedCrossEntropy(from_logits=True),
            images(),
            np.array([0, 1, 2, 0]),
            independent_examples=not has_batch_norm,
        )

    @pytest.mark.parametrize("case", sorted(MODEL_CASES))
    def test_model_saving(self, case, tmp_path):
        model = build_model(case)
        restored = self.run_model_saving_test(model, images(), tmp_path)
        assert restored.get_config() == model.get_config()


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="21 M parameters: saved and loaded once, on TensorFlow",
)
def test_resnet34_preset_saves_and_loads(tmp_path):
    model = zoo.resnet34(IMAGE_SHAPE, 3)
    TestCase().run_model_saving_test(model, images(), tmp_path)


def test_every_registered_object_has_a_case():
    covered = {
        *(type(losses.get(name)) for name in losses.LOSS_NAMES),
        *TestLossFunctions.FUNCTIONS,
        CorrectClassBias,
        zoo.FusedBatchNormalization,
        zoo.OptionAShortcut,
        zoo.TorchSGD,
        zoo.CifarResNet,
        zoo.MLP,
    }
    registered = {
        obj
        for obj in keras.saving.get_custom_objects().values()
        if obj.__module__.startswith(
            ("keras_robust.losses", "keras_robust.layers", "zoo")
        )
    }
    assert registered == covered
    assert set(zoo.MODELS) == {
        name for name in MODEL_CASES if name in zoo.MODELS
    } | SAVED_ONCE
