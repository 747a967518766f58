"""ResNet-32 for CIFAR, as in akamaster/pytorch_resnet_cifar10 (`resnet32()`).

He et al., "Deep Residual Learning for Image Recognition" (2016), section 4.2:
a 3x3 convolution with 16 filters, three stages of 5 basic blocks with
16/32/64 filters (the first block of stages 2 and 3 has stride 2), option-A
shortcuts (stride-2 subsampling plus zero channel padding), global average
pooling and a dense classifier. 464,154 trainable parameters for 10 classes.

This module also holds the PyTorch-convention building blocks (explicitly
padded convolutions, BatchNormalization with PyTorch's defaults, float32
classifier) that the other zoo models share.
"""

import keras
from keras import layers
from keras import ops

# PyTorch's BatchNorm2d defaults (momentum 0.1 on the new batch statistic,
# eps 1e-5) in Keras terms, where momentum weights the old moving average.
BATCH_NORM_MOMENTUM = 0.9
BATCH_NORM_EPSILON = 1e-5


def image_input(input_shape, num_classes):
    """Validates the builder arguments and returns the model's `keras.Input`."""
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or not all(
        isinstance(size, int) and not isinstance(size, bool) and size > 0
        for size in input_shape
    ):
        raise ValueError(
            "`input_shape` must be (height, width, channels) with positive "
            f"integer sizes. Received: input_shape={input_shape!r}"
        )
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, int)
        or num_classes < 1
    ):
        raise ValueError(
            "`num_classes` must be a positive integer. "
            f"Received: num_classes={num_classes!r}"
        )
    return keras.Input(shape=input_shape, name="images")


def conv2d_torch_padding(x, filters, kernel_size, strides, padding, name):
    """Applies `nn.Conv2d(..., stride, padding, bias=False)` the PyTorch way.

    PyTorch pads `padding` pixels on every side. Keras `"same"` agrees for
    stride 1 and odd kernels of size `2 * padding + 1`, but for stride 2 on
    an even input it pads only bottom/right, which shifts the sampling grid
    by one pixel. Other convolutions therefore pad explicitly with
    `ZeroPadding2D` and convolve with `"valid"`.
    """
    if strides == 1 and kernel_size == 2 * padding + 1:
        keras_padding = "same"
    else:
        if padding:
            x = layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
        keras_padding = "valid"
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=keras_padding,
        use_bias=False,
        kernel_initializer="glorot_uniform",
        name=name,
    )(x)


def conv3x3(x, filters, strides, name):
    """`nn.Conv2d(in, filters, 3, stride=strides, padding=1, bias=False)`."""
    return conv2d_torch_padding(x, filters, 3, strides, 1, name)


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


def batch_norm(x, name):
    """`nn.BatchNorm2d` with PyTorch's momentum and epsilon (fused on TF)."""
    return FusedBatchNormalization(
        momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, name=name
    )(x)


def classifier(x, num_classes):
    """`nn.Linear(features, num_classes)`: logits, float32 under any policy."""
    return layers.Dense(
        num_classes,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        dtype="float32",
        name="logits",
    )(x)


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
        if (
            isinstance(channel_padding, bool)
            or not isinstance(channel_padding, int)
            or channel_padding < 0
        ):
            raise ValueError(
                "`channel_padding` must be a non-negative integer. "
                f"Received: channel_padding={channel_padding!r}"
            )
        if (
            isinstance(strides, bool)
            or not isinstance(strides, int)
            or strides < 1
        ):
            raise ValueError(
                "`strides` must be a positive integer. "
                f"Received: strides={strides!r}"
            )
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


def _basic_block(x, filters, strides, name):
    """akamaster `BasicBlock` with the option-A shortcut."""
    in_channels = x.shape[-1]
    residual = conv3x3(x, filters, strides, name=f"{name}_conv1")
    residual = batch_norm(residual, name=f"{name}_bn1")
    residual = layers.ReLU(name=f"{name}_relu1")(residual)
    residual = conv3x3(residual, filters, 1, name=f"{name}_conv2")
    residual = batch_norm(residual, name=f"{name}_bn2")
    if strides != 1 or in_channels != filters:
        shortcut = OptionAShortcut(
            channel_padding=filters // 4,
            strides=strides,
            name=f"{name}_shortcut",
        )(x)
    else:
        shortcut = x
    x = layers.Add(name=f"{name}_add")([residual, shortcut])
    return layers.ReLU(name=f"{name}_out")(x)


def resnet32(input_shape=(32, 32, 3), num_classes=10, *, name="resnet32"):
    """ResNet-32 for CIFAR-sized images, returning logits.

    Reproduces `resnet32()` of akamaster/pytorch_resnet_cifar10, channels
    last, except that the stem accepts any number of input channels and the
    kernels are Glorot-uniform (the paper's choice). Strided 3x3
    convolutions pad one pixel on every side, as PyTorch's `padding=1` does.
    BatchNormalization uses PyTorch's momentum and epsilon, and the
    classifier stays float32 under a mixed-precision policy.

    Args:
        input_shape: Image shape `(height, width, channels)`.
        num_classes: Number of output logits.
        name: Model name.

    Returns:
        A functional `keras.Model` mapping images to `(batch, num_classes)`
        logits.
    """
    inputs = image_input(input_shape, num_classes)
    x = conv3x3(inputs, 16, 1, name="stem_conv")
    x = batch_norm(x, name="stem_bn")
    x = layers.ReLU(name="stem_relu")(x)
    for stage, (filters, first_strides) in enumerate(
        [(16, 1), (32, 2), (64, 2)], start=1
    ):
        for block in range(1, 6):
            x = _basic_block(
                x,
                filters,
                first_strides if block == 1 else 1,
                name=f"stage{stage}_block{block}",
            )
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = classifier(x, num_classes)
    return keras.Model(inputs, outputs, name=name)
