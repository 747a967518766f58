"""Tests of the model zoo (`zoo/`) and `zoo.TorchSGD`."""

import functools

import numpy as np
import pytest

import keras
from keras import layers

import zoo
from test_case import TestCase

# Trainable parameter counts equal the PyTorch references' `parameters()`
# totals: akamaster/pytorch_resnet_cifar10 README table and `test()`
# (ResNet-32, 10 classes: 464,154; "0.46M"), weiaicunzai/pytorch-cifar100
# `resnet34` with 100 classes (21,328,292), and the paper's MLP1024 (3072*1024
# + 1024*512 + 512*512 + 512*10 weights plus biases). Keras additionally
# counts the BatchNormalization moving mean/variance as non-trainable
# weights (PyTorch's running-stat buffers), pinned separately: 2 per BN
# channel. `test_pinned_counts_equal_the_pytorch_reference_modules` checks
# these numbers against the reference networks written in PyTorch.
PARAMETER_COUNTS = {
    # name: (input_shape, num_classes, trainable, non_trainable)
    "resnet32": ((32, 32, 3), 10, 464_154, 2_272),
    "resnet34": ((32, 32, 3), 100, 21_328_292, 17_024),
    "mlp1024": ((32, 32, 3), 10, 3_939_338, 0),
}


def count_weights(weights):
    return sum(int(np.prod(weight.shape)) for weight in weights)


def random_images(shape, batch=2, seed=0):
    return (
        np.random.default_rng(seed)
        .normal(size=(batch, *shape))
        .astype("float32")
    )


@functools.lru_cache(maxsize=None)
def shared_model(name, input_shape, num_classes):
    """A float32 zoo model, built once per module and shared read-only.

    Building is what makes this module slow on the jax backend (every new
    variable shape compiles its initializer), so tests that only inspect or
    call a model share one instance per configuration.
    """
    return zoo.build(name, input_shape, num_classes)


@pytest.mark.parametrize("name", sorted(PARAMETER_COUNTS))
def test_parameter_counts_match_pytorch_references(name):
    input_shape, num_classes, trainable, non_trainable = PARAMETER_COUNTS[name]
    model = shared_model(name, input_shape, num_classes)
    assert count_weights(model.trainable_weights) == trainable
    assert count_weights(model.non_trainable_weights) == non_trainable
    assert model.count_params() == trainable + non_trainable


def torch_reference_models(torch):
    """The PyTorch reference networks, as in their repositories."""
    nn = torch.nn
    functional = torch.nn.functional

    class AkamasterBlock(nn.Module):
        # akamaster/pytorch_resnet_cifar10 resnet.py, BasicBlock option "A".
        def __init__(self, in_planes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.pad = planes // 4 if stride != 1 or in_planes != planes else 0

        def forward(self, x):
            out = functional.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if self.pad:
                pad = (0, 0, 0, 0, self.pad, self.pad)
                x = functional.pad(x[:, :, ::2, ::2], pad)
            return functional.relu(out + x)

    class WeiaicunzaiBlock(nn.Module):
        # weiaicunzai/pytorch-cifar100 models/resnet.py, BasicBlock.
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
                nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
                nn.BatchNorm2d(out_channels),
            )
            self.shortcut = nn.Sequential()
            if stride != 1 or in_channels != out_channels:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                    nn.BatchNorm2d(out_channels),
                )

        def forward(self, x):
            return functional.relu(self.residual(x) + self.shortcut(x))

    def resnet(block, stem, stages, num_classes):
        modules = [
            nn.Conv2d(3, stem, 3, 1, 1, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU(),
        ]
        in_planes = stem
        for planes, num_blocks, stride in stages:
            for index in range(num_blocks):
                modules.append(
                    block(in_planes, planes, stride if index == 0 else 1)
                )
                in_planes = planes
        modules += [
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(in_planes, num_classes),
        ]
        return nn.Sequential(*modules)

    return {
        "resnet32": resnet(
            AkamasterBlock, 16, [(16, 5, 1), (32, 5, 2), (64, 5, 2)], 10
        ),
        "resnet34": resnet(
            WeiaicunzaiBlock,
            64,
            [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)],
            100,
        ),
        "mlp1024": nn.Sequential(
            nn.Flatten(),
            nn.Linear(3072, 1024),
            nn.ReLU(),
            nn.Linear(1024, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        ),
    }


def test_pinned_counts_equal_the_pytorch_reference_modules():
    torch = pytest.importorskip("torch")
    for name, module in torch_reference_models(torch).items():
        _, _, trainable, non_trainable = PARAMETER_COUNTS[name]
        assert sum(p.numel() for p in module.parameters()) == trainable
        running_stats = sum(
            buffer.numel()
            for buffer_name, buffer in module.named_buffers()
            if "running" in buffer_name
        )
        assert running_stats == non_trainable
        # Same output size on CIFAR images as the Keras model.
        logits = module.eval()(torch.zeros(2, 3, 32, 32))
        assert tuple(logits.shape) == (2, PARAMETER_COUNTS[name][1])


# On jax and torch every new spatial size compiles each op of an eager
# forward pass anew, which makes ResNet-34 at 28x28 and 32x32 cost tens of
# seconds there; its output sizes are computed by the same backend-agnostic
# layer code at any size, so those two run on TensorFlow only and the other
# backends call ResNet-34 at 8x8.
TENSORFLOW_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="slow eager ResNet-34 forward; shapes covered at 8x8",
)
SHAPE_CASES = [
    pytest.param(
        name,
        input_shape,
        num_classes,
        marks=(
            TENSORFLOW_ONLY
            if name == "resnet34" and input_shape != (8, 8, 1)
            else ()
        ),
    )
    for name in ("resnet32", "resnet34", "mlp1024")
    for input_shape, num_classes in (
        ((32, 32, 3), 100 if name == "resnet34" else 10),
        ((28, 28, 1), 10),
        ((8, 8, 1), 10),
    )
] + [pytest.param("resnet32", (32, 32, 3), 100)]


@pytest.mark.backend_independent
@pytest.mark.parametrize("name,input_shape,num_classes", SHAPE_CASES)
def test_output_shape_and_float32_logits(name, input_shape, num_classes):
    model = shared_model(name, input_shape, num_classes)
    logits = model(random_images(input_shape), training=False)
    assert tuple(logits.shape) == (2, num_classes)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(logits)))


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", ["resnet32", "mlp1024"])
def test_logits_stay_float32_under_mixed_precision(name):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = zoo.build(name, (8, 8, 1), 10)
        logits = model(random_images((8, 8, 1)), training=True)
        assert model.get_layer("logits").dtype_policy.name == "float32"
        assert model.layers[-2].compute_dtype == "bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


@pytest.mark.parametrize("name", ["resnet32", "resnet34", "mlp1024"])
def test_initialisation_and_batch_norm_match_pytorch(name):
    model = shared_model(name, (8, 8, 1), 10)

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


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the fused kernel is TensorFlow's; elsewhere it is Keras's layer",
)
@pytest.mark.parametrize("spatial", [(5, 6), (1, 1)])
def test_fused_batch_norm_equals_keras_batch_norm(spatial):
    import tensorflow as tf

    rng = np.random.default_rng(7)
    x = tf.constant(rng.normal(2.0, 3.0, size=(4, *spatial, 7)), "float32")
    reference = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    fused = zoo.FusedBatchNormalization(momentum=0.9, epsilon=1e-5)
    assert fused.get_config() == {
        **reference.get_config(),
        "name": fused.name,
    }
    for layer in (reference, fused):
        layer.build(x.shape)
    weights = [rng.normal(size=(7,)).astype("float32") for _ in range(4)]
    weights[3] = np.abs(weights[3])  # moving variance
    reference.set_weights(weights)
    fused.set_weights(weights)
    results = []
    for layer in (reference, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * tf.cos(y))
        gradients = tape.gradient(loss, [x, *layer.trainable_weights])
        results.append([y, *gradients, *layer.non_trainable_weights])
    for expected, actual in zip(*results):
        np.testing.assert_allclose(
            np.asarray(actual), np.asarray(expected), rtol=1e-5, atol=1e-4
        )
    # Inference uses the moving statistics (fused too), as does a frozen
    # layer in training; neither updates them.
    moving = [np.asarray(fused.moving_mean), np.asarray(fused.moving_variance)]
    for training in (False, None):
        np.testing.assert_allclose(
            np.asarray(fused(x, training=training)),
            np.asarray(reference(x, training=training)),
            rtol=1e-5,
            atol=1e-5,
        )
    fused.trainable = reference.trainable = False
    np.testing.assert_allclose(
        np.asarray(fused(x, training=True)),
        np.asarray(reference(x, training=True)),
        rtol=1e-5,
        atol=1e-5,
    )
    for before, after in zip(moving, (fused.moving_mean, fused.moving_variance)):
        np.testing.assert_array_equal(np.asarray(after), before)


@pytest.mark.backend_independent
def test_option_a_shortcut_matches_numpy():
    x = random_images((7, 6, 16), batch=2, seed=1)
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


def torch_conv2d_reference(x, kernel, stride, padding):
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
    model = shared_model("resnet32", (8, 8, 1), 10)
    # The first conv of stage 2 has stride 2; PyTorch pads 1 on every side.
    pad = model.get_layer("stage2_block1_conv1_pad")
    conv = model.get_layer("stage2_block1_conv1")
    assert conv.strides == (2, 2) and conv.padding == "valid"
    strided_conv = keras.Model(pad.input, conv.output)
    x = random_images((8, 8, 16), seed=2)
    expected = torch_conv2d_reference(
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
    model = shared_model("resnet34", (28, 28, 1), 10)
    residual = model.get_layer("stage4_block1_conv1").output
    shortcut = model.get_layer("stage4_block1_shortcut_conv").output
    assert tuple(residual.shape) == (None, 4, 4, 512)
    assert tuple(shortcut.shape) == (None, 4, 4, 512)


SMALL_RESNET = {
    "stem_filters": 4,
    "stage_filters": (4, 8),
    "blocks_per_stage": (1, 2),
}


def normalization_layers(model):
    return [
        layer.name
        for layer in model.layers
        if isinstance(
            layer, (layers.BatchNormalization, layers.GroupNormalization)
        )
    ]


@keras.saving.register_keras_serializable(package="test_zoo")
def group_normalization(name):
    """A registered normalization factory, as `CifarResNet` documents."""
    return layers.GroupNormalization(groups=2, name=name)


@pytest.mark.backend_independent
def test_normalization_argument_chooses_the_layer(tmp_path):
    fused = shared_model("resnet32", (8, 8, 1), 10)
    plain = zoo.resnet32((8, 8, 1), 10, normalization="keras")
    # The stem, two per block (15 blocks), no projection in ResNet-32.
    names = normalization_layers(plain)
    assert len(names) == 31 and names == normalization_layers(fused)
    for name in names:
        assert type(fused.get_layer(name)) is zoo.FusedBatchNormalization
        assert type(plain.get_layer(name)) is layers.BatchNormalization
        assert plain.get_layer(name).get_config() == {
            **fused.get_layer(name).get_config(),
            "name": name,
        }
    assert plain.count_params() == fused.count_params()
    # A factory: every normalization of the network, saved and restored.
    model = zoo.CifarResNet(
        (8, 8, 1), 3, **SMALL_RESNET, normalization=group_normalization
    )
    names = normalization_layers(model)
    assert len(names) == 7  # stem, 3 blocks x 2; option A has none
    assert all(
        type(model.get_layer(name)) is layers.GroupNormalization
        for name in names
    )
    restored = TestCase().run_model_saving_test(
        model, random_images((8, 8, 1)), tmp_path
    )
    assert restored.normalization is group_normalization


@pytest.mark.backend_independent
def test_projection_shortcut_where_the_shape_changes():
    model = zoo.CifarResNet(
        (8, 8, 1), 3, **SMALL_RESNET, shortcut="projection"
    )
    # Stage 2's first block changes shape; its second keeps it.
    conv = model.get_layer("stage2_block1_shortcut_conv")
    assert conv.kernel_size == (1, 1) and conv.strides == (2, 2)
    batch_norm = model.get_layer("stage2_block1_shortcut_bn")
    assert isinstance(batch_norm, zoo.FusedBatchNormalization)
    names = {layer.name for layer in model.layers}
    assert "stage1_block1_shortcut_conv" not in names
    assert "stage2_block2_shortcut_conv" not in names
    # 1x1 kernel 4 -> 8 and its batch norm's gamma and beta.
    option_a = zoo.CifarResNet((8, 8, 1), 3, **SMALL_RESNET)
    trainable = sum(
        int(np.prod(w.shape)) for w in model.trainable_weights
    ) - sum(int(np.prod(w.shape)) for w in option_a.trainable_weights)
    assert trainable == 4 * 8 + 2 * 8


@pytest.mark.parametrize(
    "arguments, fragments",
    [
        ({"shortcut": "option_b"}, ["`shortcut`", "'option_b'", "projection"]),
        ({"normalization": "batch"}, ["`normalization`", "'batch'", "keras"]),
        ({"stage_filters": (4,)}, ["stage_filters=(4,)", "blocks_per_stage"]),
        ({"blocks_per_stage": (1, 0)}, ["`blocks_per_stage`", "(1, 0)"]),
        ({"stem_filters": 0}, ["`stem_filters`", "stem_filters=0"]),
        ({"stage_filters": (4, 7)}, ["option-A", "4 -> 7", "stage2_block1"]),
    ],
)
def test_bad_resnet_arguments_raise_clear_errors(arguments, fragments):
    with pytest.raises(ValueError) as error:
        zoo.CifarResNet((8, 8, 1), 3, **{**SMALL_RESNET, **arguments})
    for fragment in fragments:
        assert fragment in str(error.value)


def test_presets_build_the_registered_models():
    assert set(zoo.CifarResNet.PRESETS) == {"resnet32", "resnet34"}
    assert set(zoo.MLP.PRESETS) == {"mlp1024"}
    model = zoo.CifarResNet.from_preset(
        "resnet32", input_shape=(8, 8, 1), num_classes=10
    )
    assert model.name == "resnet32"
    preset = shared_model("resnet32", (8, 8, 1), 10)
    assert model.get_config() == preset.get_config()
    with pytest.raises(ValueError, match=r"preset='resnet50'.*resnet34"):
        zoo.CifarResNet.from_preset("resnet50", input_shape=(8, 8, 1))


@pytest.mark.backend_independent
def test_zoo_model_inside_a_functional_model_saves_and_loads(tmp_path):
    # As the recipes use it: a layer in front, the network as a layer.
    network = zoo.CifarResNet((8, 8, 1), 3, **SMALL_RESNET)
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, network(layers.Rescaling(0.5)(inputs)))
    restored = TestCase().run_model_saving_test(
        model, random_images((8, 8, 1)), tmp_path
    )
    assert isinstance(restored.layers[-1], zoo.CifarResNet)


def test_benchmark_builder_swaps_batch_norm_by_argument():
    from benchmarks import common

    for keras_batch_norm, layer_class in (
        (True, layers.BatchNormalization),
        (False, zoo.FusedBatchNormalization),
    ):
        model = common.resnet32((8, 8, 1), 10, keras_batch_norm)
        assert model.normalization == ("keras" if keras_batch_norm else "fused")
        assert {
            type(model.get_layer(name))
            for name in normalization_layers(model)
        } == {layer_class}


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


def torch_sgd_reference(
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
    expected = torch_sgd_reference(
        WEIGHTS, GRADS, [0.1, 0.1], 0.9, 1e-4, nesterov
    )
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6)


def apply_gradient(optimizer, gradient, variable):
    gradient = keras.ops.convert_to_tensor(np.asarray(gradient, "float32"))
    optimizer.apply_gradients([(gradient, variable)])


@pytest.mark.backend_independent
def test_torch_sgd_one_step_by_hand():
    # torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=1e-2), two steps:
    #   step 1: d = g1 + wd * w0, buf = d,            w1 = w0 - lr * buf
    #   step 2: d = g2 + wd * w1, buf = 0.9 * buf + d, w2 = w1 - lr * buf
    variable = keras.Variable(np.array([1.0, -2.0], "float32"))
    optimizer = zoo.TorchSGD(0.1, momentum=0.9, weight_decay=1e-2)
    apply_gradient(optimizer, [0.5, -1.0], variable)
    # d = (0.5 + 0.01, -1.0 - 0.02) = (0.51, -1.02)
    np.testing.assert_allclose(variable.numpy(), [0.949, -1.898], rtol=1e-6)
    apply_gradient(optimizer, [1.0, 0.0], variable)
    # d = (1.00949, -0.01898); buf = (0.459 + 1.00949, -0.918 - 0.01898)
    np.testing.assert_allclose(
        variable.numpy(), [0.949 - 0.146849, -1.898 + 0.093698], rtol=1e-6
    )


@pytest.mark.parametrize("nesterov", [False, True])
def test_torch_sgd_matches_real_torch_optim_sgd(nesterov):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    weights = rng.normal(size=(4, 3)).astype("float32")
    grads = rng.normal(size=(3, 4, 3)).astype("float32")
    lrs = [0.1, 0.1, 0.01]
    parameter = torch.nn.Parameter(torch.tensor(weights))
    torch_sgd = torch.optim.SGD(
        [parameter], lr=lrs[0], momentum=0.9, weight_decay=1e-4,
        nesterov=nesterov,
    )
    variable = keras.Variable(weights)
    learning_rate = keras.Variable(lrs[0])
    optimizer = zoo.TorchSGD(
        lambda: learning_rate, momentum=0.9, weight_decay=1e-4,
        nesterov=nesterov,
    )
    for grad, lr in zip(grads, lrs):
        for group in torch_sgd.param_groups:
            group["lr"] = lr
        learning_rate.assign(lr)
        parameter.grad = torch.tensor(grad)
        torch_sgd.step()
        apply_gradient(optimizer, grad, variable)
        np.testing.assert_allclose(
            variable.numpy(), parameter.detach().numpy(), rtol=1e-6, atol=1e-7
        )


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
    expected = torch_sgd_reference(WEIGHTS, GRADS, [0.1, 0.01], 0.9, 1e-4)
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
    # atol: float32 rounding of parameters of size ~0.2 (torch.compile may
    # reorder sums); a parameter near 1e-4 is the result of a cancellation.
    np.testing.assert_allclose(new_kernel[:, 0], params[:3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_bias, params[3:], rtol=1e-5, atol=1e-6)


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
    model = zoo.resnet32((8, 8, 1), 10)
    model.compile(
        optimizer=zoo.TorchSGD(0.1, momentum=0.9, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x = random_images((8, 8, 1), seed=5)
    # Momentum buffers must survive the round trip too.
    model.optimizer.build(model.trainable_variables)
    buffer = model.optimizer.momentum_buffers[0]
    buffer.assign(keras.ops.ones(buffer.shape))
    path = str(tmp_path / "resnet32.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(
        restored.get_layer("stage2_block1_shortcut"), zoo.OptionAShortcut
    )
    assert restored.get_layer("stage3_block1_shortcut").channel_padding == 16
    assert isinstance(restored.optimizer, zoo.TorchSGD)
    assert restored.optimizer.l2_weight_decay == 1e-4
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored.optimizer.momentum_buffers[0]),
        1.0,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        rtol=1e-5,
        atol=1e-6,
    )
