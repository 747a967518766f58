"""Layers and blocks shared by the zoo models, in PyTorch's conventions.

The paper's networks come from PyTorch repositories; these pieces make the
Keras versions compute what the references compute:

- `conv2d_torch_padding` / `conv3x3`: `nn.Conv2d(..., bias=False)`, padded
  on every side as PyTorch pads (Keras's `"same"` shifts strided grids).
- `normalization_layer`: `nn.BatchNorm2d` with PyTorch's momentum and
  epsilon, as `FusedBatchNormalization` (TensorFlow's fused kernel),
  Keras's own `BatchNormalization`, or any layer a callable returns.
- `OptionAShortcut`: He et al.'s parameter-free option-A shortcut.
- `basic_block`: the ResNet basic block (two 3x3 convolutions) with an
  option-A or a 1x1-projection shortcut.
"""

import keras
from keras import layers
from keras import ops

# PyTorch's BatchNorm2d defaults (momentum 0.1 on the new batch statistic,
# eps 1e-5) in Keras terms, where momentum weights the old moving average.
BATCH_NORM_MOMENTUM = 0.9
BATCH_NORM_EPSILON = 1e-5

NORMALIZATIONS = ("fused", "keras")
SHORTCUTS = ("option_a", "projection")


def check_integer(name, value, minimum):
    """Returns `value` if it is an integer (not a bool) >= `minimum` (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "non-negative" if minimum == 0 else "positive"
        raise ValueError(
            f"`{name}` must be a {kind} integer. Received: {name}={value!r}"
        )
    return value


def conv2d_torch_padding(
    x, filters, kernel_size, strides, padding, name, dtype=None
):
    """Applies `nn.Conv2d(..., stride, padding, bias=False)` the PyTorch way.

    PyTorch pads `padding` pixels on every side. Keras `"same"` agrees for
    stride 1 and odd kernels of size `2 * padding + 1`, but for stride 2 on
    an even input it pads only bottom/right, which shifts the sampling grid
    by one pixel. Other convolutions therefore pad explicitly with
    `ZeroPadding2D` and convolve with `"valid"`. Kernels are Glorot-uniform
    (the paper's initialisation).
    """
    if strides == 1 and kernel_size == 2 * padding + 1:
        keras_padding = "same"
    else:
        if padding:
            x = layers.ZeroPadding2D(
                padding, dtype=dtype, name=f"{name}_pad"
            )(x)
        keras_padding = "valid"
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=keras_padding,
        use_bias=False,
        kernel_initializer="glorot_uniform",
        dtype=dtype,
        name=name,
    )(x)


def conv3x3(x, filters, strides, name, dtype=None):
    """`nn.Conv2d(in, filters, 3, stride=strides, padding=1, bias=False)`."""
    return conv2d_torch_padding(x, filters, 3, strides, 1, name, dtype=dtype)


@keras.saving.register_keras_serializable(package="zoo")
class FusedBatchNormalization(layers.BatchNormalization):
    """`keras.layers.BatchNormalization` with TensorFlow's fused kernel.

    The same layer, weights, config and results as Keras's
    BatchNormalization; only on the TensorFlow backend, for 4-D
    channels-last inputs, the forward pass runs as one `FusedBatchNormV3`
    op instead of Keras's moments, normalization and moving-average ops:

    - in training (with its fused gradient): a ResNet-32 train step about
      1.4x faster on a 2-core CPU (`keras-tf` against `keras-tf-kerasbn` in
      `benchmarks/bench_torch.py --extras`);
    - in inference (moving statistics), where TensorFlow's graph optimizer
      can merge it with the convolution before it: ResNet-32 evaluation
      about 1.3x faster on that CPU.

    Other backends, masks, renorm, synchronized, or a layer without
    `center`/`scale` take the Keras path. The moving variance is updated
    with the biased batch variance, as Keras does (the fused op returns the
    unbiased one).
    """

    def _use_fused(self, inputs, mask):
        return (
            mask is None
            and keras.backend.backend() == "tensorflow"
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and self.center
            and self.scale
            and not self.renorm
            and not getattr(self, "synchronized", False)
        )

    def call(self, inputs, training=None, mask=None):
        if not self._use_fused(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        # Keras computes batch norm in float32 whatever the input dtype.
        inputs = tf.cast(inputs, "float32")
        gamma = tf.cast(self.gamma, "float32")
        beta = tf.cast(self.beta, "float32")
        if not (training and self.trainable):
            # Keras's inference path: the moving statistics.
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs,
                gamma,
                beta,
                mean=tf.cast(self.moving_mean, "float32"),
                variance=tf.cast(self.moving_variance, "float32"),
                epsilon=self.epsilon,
                data_format="NHWC",
                is_training=False,
            )
            return tf.cast(outputs, self.compute_dtype)
        outputs, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
            inputs,
            gamma,
            beta,
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=True,
        )
        shape = tf.shape(inputs)
        count = tf.cast(shape[0] * shape[1] * shape[2], "float32")
        variance = unbiased_variance * (count - 1.0) / tf.maximum(count, 1.0)
        momentum = self.momentum
        self.moving_mean.assign(
            self.moving_mean * momentum + mean * (1.0 - momentum)
        )
        self.moving_variance.assign(
            self.moving_variance * momentum + variance * (1.0 - momentum)
        )
        return tf.cast(outputs, self.compute_dtype)


def check_normalization(normalization):
    """Returns `normalization` if it is a known name or a callable."""
    if callable(normalization) or normalization in NORMALIZATIONS:
        return normalization
    raise ValueError(
        f"`normalization` must be one of {list(NORMALIZATIONS)} or a callable "
        "`factory(name)` returning a layer. "
        f"Received: normalization={normalization!r}"
    )


def normalization_layer(normalization, name, dtype=None):
    """`nn.BatchNorm2d(channels)` as a Keras layer named `name`.

    Args:
        normalization: `"fused"` for `FusedBatchNormalization` (TensorFlow's
            fused kernel on that backend), `"keras"` for Keras's
            `BatchNormalization`, both with PyTorch's momentum and epsilon;
            or a callable `factory(name)` that returns the layer to use.
        name: Layer name.
        dtype: Dtype policy of the built-in layers (a factory chooses its
            own).
    """
    if callable(normalization):
        return normalization(name)
    layer_class = {
        "fused": FusedBatchNormalization,
        "keras": layers.BatchNormalization,
    }[check_normalization(normalization)]
    return layer_class(
        momentum=BATCH_NORM_MOMENTUM,
        epsilon=BATCH_NORM_EPSILON,
        dtype=dtype,
        name=name,
    )


@keras.saving.register_keras_serializable(package="zoo")
class OptionAShortcut(layers.Layer):
    """Parameter-free shortcut of He et al.'s option A.

    Keeps every `strides`-th row and column (`x[:, ::2, ::2, :]` for the
    default stride 2) and zero-pads the channel axis by `channel_padding`
    on each side, as akamaster/pytorch_resnet_cifar10's
    `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))`
    does on channels-first tensors.

    Args:
        channel_padding: Number of zero channels added before and after the
            input channels (`planes // 4` in the reference).
        strides: Spatial subsampling step. Defaults to 2.
        **kwargs: Base layer keyword arguments, e.g. `name` or `dtype`.
    """

    def __init__(self, channel_padding, strides=2, **kwargs):
        super().__init__(**kwargs)
        check_integer("channel_padding", channel_padding, minimum=0)
        check_integer("strides", strides, minimum=1)
        self.channel_padding = channel_padding
        self.strides = strides

    def call(self, inputs):
        subsampled = inputs[:, :: self.strides, :: self.strides, :]
        return ops.pad(
            subsampled,
            [
                [0, 0],
                [0, 0],
                [0, 0],
                [self.channel_padding, self.channel_padding],
            ],
        )

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape

        def subsampled(size):
            return None if size is None else -(-size // self.strides)

        return (
            batch,
            subsampled(height),
            subsampled(width),
            None if channels is None else channels + 2 * self.channel_padding,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {"channel_padding": self.channel_padding, "strides": self.strides}
        )
        return config


def basic_block(
    x, filters, strides, name, shortcut="option_a", normalization="fused",
    dtype=None,
):
    """The ResNet basic block: `relu(residual(x) + shortcut(x))`.

    `residual` is conv3x3 (stride `strides`), normalization, ReLU, conv3x3,
    normalization. Where the shape changes (`strides != 1` or a new number
    of filters) the shortcut is

    - `"option_a"`: `OptionAShortcut` padding the new channels with zeros,
      half on each side (akamaster/pytorch_resnet_cifar10's `BasicBlock`
      with `option='A'`, where the channels double; no parameters);
    - `"projection"`: a 1x1 convolution with stride `strides` and a
      normalization (weiaicunzai/pytorch-cifar100's `BasicBlock`);

    otherwise the identity.

    Args:
        x: Channels-last input tensor.
        filters: Output channels of both convolutions.
        strides: Stride of the first convolution and of the shortcut.
        name: Prefix of the block's layer names.
        shortcut: `"option_a"` or `"projection"`.
        normalization: See `normalization_layer`.
        dtype: Dtype policy of the block's layers.
    """
    if shortcut not in SHORTCUTS:
        raise ValueError(
            f"`shortcut` must be one of {list(SHORTCUTS)}. "
            f"Received: shortcut={shortcut!r}"
        )
    residual = conv3x3(x, filters, strides, f"{name}_conv1", dtype)
    residual = normalization_layer(normalization, f"{name}_bn1", dtype)(
        residual
    )
    residual = layers.ReLU(dtype=dtype, name=f"{name}_relu1")(residual)
    residual = conv3x3(residual, filters, 1, f"{name}_conv2", dtype)
    residual = normalization_layer(normalization, f"{name}_bn2", dtype)(
        residual
    )
    added_channels = filters - x.shape[-1]
    if strides == 1 and added_channels == 0:
        skip = x
    elif shortcut == "option_a":
        if added_channels < 0 or added_channels % 2:
            raise ValueError(
                "An option-A shortcut pads the same number of zero channels "
                "on each side, so a block must add an even, non-negative "
                f"number of channels. Received: {x.shape[-1]} -> {filters} "
                f"channels in block {name!r}"
            )
        skip = OptionAShortcut(
            channel_padding=added_channels // 2,
            strides=strides,
            dtype=dtype,
            name=f"{name}_shortcut",
        )(x)
    else:
        skip = conv2d_torch_padding(
            x, filters, 1, strides, 0, f"{name}_shortcut_conv", dtype
        )
        skip = normalization_layer(
            normalization, f"{name}_shortcut_bn", dtype
        )(skip)
    x = layers.Add(dtype=dtype, name=f"{name}_add")([residual, skip])
    return layers.ReLU(dtype=dtype, name=f"{name}_out")(x)
