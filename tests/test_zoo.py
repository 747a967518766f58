"""Tests of the model zoo (`zoo/`) and `zoo.TorchSGD`."""

import numpy as np
import pytest

import keras
from keras import layers

import zoo

# Trainable parameter counts equal the PyTorch references' `parameters()`
# totals: akamaster/pytorch_resnet_cifar10 README table and `test()`
# (ResNet-32, 10 classes: 464,154; "0.46M"), weiaicunzai/pytorch-cifar100
# `resnet34` with 100 classes (21,328,292), and the paper's MLP1024 (3072*1024
# + 1024*512 + 512*512 + 512*10 weights plus biases). Keras additionally
# counts the BatchNormalization moving mean/variance as non-trainable
# weights (PyTorch's running-stat buffers), pinned separately: 2 per BN
# channel.
PARAMETER_COUNTS = {
    # name: (input_shape, num_classes, trainable, non_trainable)
    "resnet32": ((32, 32, 3), 10, 464_154, 2_272),
    "resnet34": ((32, 32, 3), 100, 21_328_292, 17_024),
    "mlp1024": ((32, 32, 3), 10, 3_939_338, 0),
}


def _count(weights):
    return sum(int(np.prod(weight.shape)) for weight in weights)


def _images(shape, batch=2, seed=0):
    return (
        np.random.default_rng(seed)
        .normal(size=(batch, *shape))
        .astype("float32")
    )


@pytest.mark.parametrize("name", sorted(PARAMETER_COUNTS))
def test_parameter_counts_match_pytorch_references(name):
    input_shape, num_classes, trainable, non_trainable = PARAMETER_COUNTS[name]
    model = zoo.build(name, input_shape, num_classes)
    assert _count(model.trainable_weights) == trainable
    assert _count(model.non_trainable_weights) == non_trainable
    assert model.count_params() == trainable + non_trainable


SHAPE_CASES = [
    (name, input_shape, num_classes)
    for name in ("resnet32", "mlp1024")
    for input_shape, num_classes in (
        ((32, 32, 3), 10),
        ((28, 28, 1), 10),
        ((32, 32, 3), 100),
        ((8, 8, 1), 10),
    )
] + [
    # ResNet-34 is slow to build; 28x28 exercises an odd 7x7 stage.
    ("resnet34", (32, 32, 3), 100),
    ("resnet34", (28, 28, 1), 10),
]


@pytest.mark.backend_independent
@pytest.mark.parametrize("name,input_shape,num_classes", SHAPE_CASES)
def test_output_shape_and_float32_logits(name, input_shape, num_classes):
    model = zoo.get(name)(input_shape, num_classes)
    logits = model(_images(input_shape), training=False)
    assert tuple(logits.shape) == (2, num_classes)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(logits)))


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", ["resnet32", "mlp1024"])
def test_logits_stay_float32_under_mixed_precision(name):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = zoo.build(name, (8, 8, 3), 10)
        logits = model(_images((8, 8, 3)), training=True)
        assert model.get_layer("logits").dtype_policy.name == "float32"
        assert model.layers[-2].compute_dtype == "bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


@pytest.mark.parametrize("name", ["resnet32", "resnet34", "mlp1024"])
def test_initialisation_and_batch_norm_match_pytorch(name):
    model = zoo.build(name, (8, 8, 3), 10)

    def layers_of(layer_class):
        return [x for x in model.layers if isinstance(x, layer_class)]

    batch_norms = layers_of(layers.BatchNormalization)
    convs = layers_of(layers.Conv2D)
    denses = layers_of(layers.Dense)
    for layer in batch_norms:
        assert layer.momentum == pytest.approx(0.9)
        assert layer.epsilon == pytest.approx(1e-5)
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(layer.gamma), 1.0
        )
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(layer.beta), 0.0
        )
    for layer in convs:
        assert not layer.use_bias
        assert isinstance(
            layer.kernel_initializer, keras.initializers.GlorotUniform
        )
    for layer in denses:
        assert isinstance(
            layer.kernel_initializer, keras.initializers.GlorotUniform
        )
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(layer.bias), 0.0
        )
    assert (
        denses[-1].name == "logits"
        and denses[-1].activation is keras.activations.linear
    )
    assert bool(batch_norms) == name.startswith("resnet")


@pytest.mark.backend_independent
def test_option_a_shortcut_matches_numpy():
    x = _images((7, 6, 16), batch=2, seed=1)
    output = keras.ops.convert_to_numpy(
        zoo.OptionAShortcut(channel_padding=8)(x)
    )
    # PyTorch: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 8, 8)) on NCHW.
    expected = np.zeros((2, 4, 3, 32), "float32")
    expected[..., 8:24] = x[:, ::2, ::2, :]
    np.testing.assert_array_equal(output, expected)
    layer = zoo.OptionAShortcut(channel_padding=8)
    assert layer.compute_output_shape((None, 7, 6, 16)) == (None, 4, 3, 32)
    restored = zoo.OptionAShortcut.from_config(layer.get_config())
    assert (restored.channel_padding, restored.strides) == (8, 2)
    with pytest.raises(ValueError, match="channel_padding=-1"):
        zoo.OptionAShortcut(channel_padding=-1)


def _torch_conv2d(x, kernel, stride, padding):
    """NHWC cross-correlation with PyTorch's symmetric zero padding."""
    x = np.pad(x, [(0, 0), (padding, padding), (padding, padding), (0, 0)])
    size = kernel.shape[0]
    out_h = (x.shape[1] - size) // stride + 1
    out_w = (x.shape[2] - size) // stride + 1
    out = np.zeros((x.shape[0], out_h, out_w, kernel.shape[-1]), "float64")
    for i in range(out_h):
        for j in range(out_w):
            patch = x[
                :,
                i * stride : i * stride + size,
                j * stride : j * stride + size,
            ]
            out[:, i, j] = np.einsum("bhwc,hwco->bo", patch, kernel)
    return out


@pytest.mark.backend_independent
def test_strided_conv_pads_like_pytorch():
    model = zoo.resnet32((8, 8, 3), 10)
    # The first conv of stage 2 has stride 2; PyTorch pads 1 on every side.
    pad = model.get_layer("stage2_block1_conv1_pad")
    conv = model.get_layer("stage2_block1_conv1")
    assert conv.strides == (2, 2) and conv.padding == "valid"
    strided_conv = keras.Model(pad.input, conv.output)
    x = _images((8, 8, 16), seed=2)
    expected = _torch_conv2d(
        x, keras.ops.convert_to_numpy(conv.kernel), stride=2, padding=1
    )
    output = keras.ops.convert_to_numpy(strided_conv(x))
    assert output.shape == (2, 4, 4, 32)
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-4)
    # Keras "same" would sample a grid shifted by one pixel.
    same = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False)
    same.build((None, 8, 8, 16))
    same.set_weights([keras.ops.convert_to_numpy(conv.kernel)])
    assert not np.allclose(
        keras.ops.convert_to_numpy(same(x)), expected, atol=1e-3
    )


@pytest.mark.backend_independent
def test_odd_sized_stage_matches_pytorch_output_size():
    # 28x28 inputs reach 7x7 before ResNet-34's last stride; PyTorch gives
    # floor((7 + 2 - 3) / 2) + 1 = 4.
    model = zoo.resnet34((28, 28, 1), 10)
    residual = model.get_layer("conv5_block1_conv1").output
    shortcut = model.get_layer("conv5_block1_shortcut_conv").output
    assert tuple(residual.shape) == (None, 4, 4, 512)
    assert tuple(shortcut.shape) == (None, 4, 4, 512)


def test_registry_lookup_and_unknown_name():
    assert set(zoo.MODELS) == {"resnet32", "resnet34", "mlp1024"}
    assert zoo.get("ResNet32") is zoo.resnet32
    assert zoo.get("MLP1024") is zoo.mlp1024
    with pytest.raises(
        ValueError, match=r"name='resnet50'.*mlp1024.*resnet32.*resnet34"
    ):
        zoo.get("resnet50")
    with pytest.raises(ValueError, match="input_shape"):
        zoo.build("mlp1024", (32, 32), 10)
    with pytest.raises(ValueError, match="num_classes=0"):
        zoo.build("mlp1024", (32, 32, 3), 0)


def _torch_sgd_reference(
    weights, grads, lrs, momentum, weight_decay, nesterov=False
):
    """`torch.optim.SGD.step` written out in numpy (dampening 0)."""
    weights = np.array(weights, "float64")
    buffer = None
    for grad, lr in zip(grads, lrs):
        grad = np.asarray(grad, "float64") + weight_decay * weights
        buffer = grad.copy() if buffer is None else momentum * buffer + grad
        step = grad + momentum * buffer if nesterov else buffer
        weights = weights - lr * step
    return weights


GRADS = [
    np.array([0.5, -1.0, 2.0], "float32"),
    np.array([-0.25, 0.75, 1.5], "float32"),
]
WEIGHTS = np.array([1.0, -2.0, 0.5], "float32")


@pytest.mark.backend_independent
@pytest.mark.parametrize("nesterov", [False, True])
def test_torch_sgd_matches_pytorch_update(nesterov):
    variable = keras.Variable(WEIGHTS)
    optimizer = zoo.TorchSGD(
        0.1, momentum=0.9, weight_decay=1e-4, nesterov=nesterov
    )
    for grad in GRADS:
        optimizer.apply_gradients(
            [(keras.ops.convert_to_tensor(grad), variable)]
        )
    expected = _torch_sgd_reference(
        WEIGHTS, GRADS, [0.1, 0.1], 0.9, 1e-4, nesterov
    )
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6)


@pytest.mark.backend_independent
def test_torch_sgd_differs_from_keras_sgd_decoupled_decay():
    # The replication trap: Keras SGD's weight_decay is decoupled.
    updated = []
    for optimizer in (
        zoo.TorchSGD(0.1, momentum=0.9, weight_decay=1e-2),
        keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=1e-2),
    ):
        variable = keras.Variable(WEIGHTS)
        for grad in GRADS:
            optimizer.apply_gradients(
                [(keras.ops.convert_to_tensor(grad), variable)]
            )
        updated.append(variable.numpy())
    assert np.abs(updated[0] - updated[1]).max() > 1e-4


@pytest.mark.backend_independent
def test_torch_sgd_honours_learning_rate_schedule():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [0], [0.1, 0.01]
    )
    # Keras schedules see the iteration count: step 0 -> 0.1, step 1 -> 0.01.
    variable = keras.Variable(WEIGHTS)
    optimizer = zoo.TorchSGD(schedule, momentum=0.9, weight_decay=1e-4)
    for grad in GRADS:
        optimizer.apply_gradients(
            [(keras.ops.convert_to_tensor(grad), variable)]
        )
    expected = _torch_sgd_reference(WEIGHTS, GRADS, [0.1, 0.01], 0.9, 1e-4)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6)


@pytest.mark.backend_independent
def test_torch_sgd_in_jit_compiled_fit_decays_biases():
    # A linear model under MSE has the gradient 2/n X^T (X w + b - y).
    x = np.random.default_rng(3).normal(size=(8, 3)).astype("float32")
    y = np.random.default_rng(4).normal(size=(8, 1)).astype("float32")
    model = keras.Sequential(
        [keras.Input((3,)), layers.Dense(1, bias_initializer="ones")]
    )
    kernel, bias = (w.astype("float64") for w in model.get_weights())
    model.compile(
        optimizer=zoo.TorchSGD(0.05, momentum=0.9, weight_decay=0.1),
        loss="mse",
        jit_compile=True,
    )
    model.fit(
        np.concatenate([x, x]),
        np.concatenate([y, y]),
        batch_size=8,
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    params = np.concatenate([kernel[:, 0], bias])
    features = np.concatenate([x, np.ones((8, 1))], axis=1).astype("float64")
    buffer = np.zeros_like(params)
    for _ in range(2):
        grad = 2 / 8 * features.T @ (features @ params - y[:, 0]) + 0.1 * params
        buffer = 0.9 * buffer + grad
        params = params - 0.05 * buffer
    new_kernel, new_bias = model.get_weights()
    np.testing.assert_allclose(new_kernel[:, 0], params[:3], rtol=1e-5)
    np.testing.assert_allclose(new_bias, params[3:], rtol=1e-5)


@pytest.mark.backend_independent
def test_torch_sgd_config_round_trip():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [100, 150], [0.1, 0.01, 0.001]
    )
    optimizer = zoo.TorchSGD(
        schedule, momentum=0.9, weight_decay=1e-4, nesterov=True, clipnorm=1.0
    )
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer)
    )
    assert isinstance(restored, zoo.TorchSGD)
    assert restored.get_config() == optimizer.get_config()
    assert (restored.momentum, restored.l2_weight_decay) == (0.9, 1e-4)
    assert restored.nesterov and restored.clipnorm == 1.0
    # Keras's decoupled decay stays off.
    assert restored.weight_decay is None
    with pytest.raises(ValueError, match="momentum=-0.5"):
        zoo.TorchSGD(0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="Nesterov"):
        zoo.TorchSGD(0.1, nesterov=True)


@pytest.mark.backend_independent
def test_resnet32_saves_and_loads_without_custom_objects(tmp_path):
    model = zoo.resnet32((8, 8, 3), 10)
    model.compile(
        optimizer=zoo.TorchSGD(0.1, momentum=0.9, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x = _images((8, 8, 3), seed=5)
    path = str(tmp_path / "resnet32.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(
        restored.get_layer("stage2_block1_shortcut"), zoo.OptionAShortcut
    )
    assert restored.get_layer("stage3_block1_shortcut").channel_padding == 16
    assert isinstance(restored.optimizer, zoo.TorchSGD)
    assert restored.optimizer.l2_weight_decay == 1e-4
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        rtol=1e-5,
        atol=1e-6,
    )
