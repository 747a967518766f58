"""The CIFAR ResNet of He et al., configurable, with the paper's two presets.

He et al., "Deep Residual Learning for Image Recognition" (2016): a 3x3
convolution stem without max-pool, stages of basic blocks (the first block
of every stage after the first has stride 2), global average pooling and a
dense classifier. `PRESETS`:

- `"resnet32"`: akamaster/pytorch_resnet_cifar10 `resnet32()`: stem 16,
  three stages of 5 blocks with 16/32/64 filters, option-A shortcuts;
  464,154 trainable parameters for 10 classes.
- `"resnet34"`: weiaicunzai/pytorch-cifar100 `resnet34()`: stem 64, stages
  of 3/4/6/3 blocks with 64/128/256/512 filters, 1x1-projection shortcuts;
  21,328,292 trainable parameters for 100 classes.
"""

import keras
from keras import layers

from zoo import backbone
from zoo.backbone import classifier
from zoo.backbone import image_input
from zoo.layers import basic_block
from zoo.layers import check_integer
from zoo.layers import check_normalization
from zoo.layers import conv3x3
from zoo.layers import normalization_layer


@keras.saving.register_keras_serializable(package="zoo")
class CifarResNet(backbone.Backbone):
    """ResNet for CIFAR-sized images, channels last, returning logits.

    Reproduces the PyTorch references of `PRESETS`, except that the stem
    accepts any number of input channels and the kernels are
    Glorot-uniform (the paper's choice). Strided 3x3 convolutions pad one
    pixel on every side, as PyTorch's `padding=1` does; the normalization
    uses PyTorch's momentum and epsilon; the classifier stays float32 under
    a mixed-precision policy.

    Layers are named `stem_conv`, `stem_bn`, `stem_relu`,
    `stage{s}_block{b}_{conv1,bn1,relu1,conv2,bn2,add,out}` (stages and
    blocks counted from 1), `..._shortcut` (option A) or
    `..._shortcut_conv`/`..._shortcut_bn` (projection), `avg_pool` and
    `logits`.

    Args:
        input_shape: Image shape `(height, width, channels)`.
        num_classes: Number of output logits.
        stem_filters: Filters of the stem convolution.
        stage_filters: Filters of each stage, e.g. `(16, 32, 64)`.
        blocks_per_stage: Basic blocks of each stage, e.g. `(5, 5, 5)`.
        shortcut: `"option_a"` (zero-padded identity) or `"projection"`
            (1x1 convolution and normalization) where a block changes shape;
            see `zoo.layers.basic_block`.
        normalization: `"fused"` (default: `zoo.FusedBatchNormalization`,
            TensorFlow's fused kernel on that backend), `"keras"`
            (`keras.layers.BatchNormalization`), or a callable
            `factory(name)` returning a layer; a saved model rebuilds a
            factory through `keras.saving` (register it with
            `keras.saving.register_keras_serializable`).
        dtype: Dtype policy of every layer but the classifier; `None` uses
            the global policy.
        name: Model name.
        **kwargs: `trainable`.

    Example:
    ```python
    model = zoo.CifarResNet.from_preset(
        "resnet32", input_shape=(32, 32, 3), num_classes=10,
        normalization="keras",
    )
    ```
    """

    PRESETS = {
        "resnet32": {
            "description": "akamaster/pytorch_resnet_cifar10 resnet32(), "
            "option-A shortcuts; 464,154 parameters for 10 classes.",
            "config": {
                "stem_filters": 16,
                "stage_filters": (16, 32, 64),
                "blocks_per_stage": (5, 5, 5),
                "shortcut": "option_a",
            },
        },
        "resnet34": {
            "description": "weiaicunzai/pytorch-cifar100 resnet34(), "
            "projection shortcuts; 21,328,292 parameters for 100 classes.",
            "config": {
                "stem_filters": 64,
                "stage_filters": (64, 128, 256, 512),
                "blocks_per_stage": (3, 4, 6, 3),
                "shortcut": "projection",
            },
        },
    }

    def __init__(
        self,
        input_shape,
        num_classes,
        stem_filters,
        stage_filters,
        blocks_per_stage,
        shortcut="option_a",
        normalization="fused",
        dtype=None,
        name="cifar_resnet",
        **kwargs,
    ):
        stage_filters = backbone.check_positive_ints(
            "stage_filters", stage_filters
        )
        blocks_per_stage = backbone.check_positive_ints(
            "blocks_per_stage", blocks_per_stage
        )
        check_integer("stem_filters", stem_filters, minimum=1)
        if len(stage_filters) != len(blocks_per_stage):
            raise ValueError(
                "`stage_filters` and `blocks_per_stage` must have one entry "
                f"per stage. Received: stage_filters={stage_filters!r}, "
                f"blocks_per_stage={blocks_per_stage!r}"
            )
        check_normalization(normalization)
        policy = backbone.policy_name(dtype)

        inputs = image_input(input_shape, num_classes)
        x = conv3x3(inputs, stem_filters, 1, "stem_conv", policy)
        x = normalization_layer(normalization, "stem_bn", policy)(x)
        x = layers.ReLU(dtype=policy, name="stem_relu")(x)
        for stage, (filters, num_blocks) in enumerate(
            zip(stage_filters, blocks_per_stage), start=1
        ):
            for block in range(1, num_blocks + 1):
                x = basic_block(
                    x,
                    filters,
                    strides=2 if stage > 1 and block == 1 else 1,
                    name=f"stage{stage}_block{block}",
                    shortcut=shortcut,
                    normalization=normalization,
                    dtype=policy,
                )
        x = layers.GlobalAveragePooling2D(dtype=policy, name="avg_pool")(x)
        outputs = classifier(x, num_classes)
        super().__init__(
            inputs=inputs, outputs=outputs, dtype=policy, name=name, **kwargs
        )
        self.stem_filters = stem_filters
        self.stage_filters = stage_filters
        self.blocks_per_stage = blocks_per_stage
        self.shortcut = shortcut
        self.normalization = normalization

    def get_config(self):
        config = super().get_config()
        normalization = self.normalization
        if callable(normalization):
            normalization = keras.saving.serialize_keras_object(normalization)
        config.update(
            {
                "stem_filters": self.stem_filters,
                "stage_filters": self.stage_filters,
                "blocks_per_stage": self.blocks_per_stage,
                "shortcut": self.shortcut,
                "normalization": normalization,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        if isinstance(config.get("normalization"), dict):
            config = {
                **config,
                "normalization": keras.saving.deserialize_keras_object(
                    config["normalization"]
                ),
            }
        return cls(**config)


def resnet32(input_shape=(32, 32, 3), num_classes=10, **kwargs):
    """ResNet-32 (`CifarResNet` preset); `kwargs`: more of its arguments."""
    return CifarResNet.from_preset(
        "resnet32", input_shape=input_shape, num_classes=num_classes, **kwargs
    )


def resnet34(input_shape=(32, 32, 3), num_classes=100, **kwargs):
    """ResNet-34 (`CifarResNet` preset); `kwargs`: more of its arguments."""
    return CifarResNet.from_preset(
        "resnet34", input_shape=input_shape, num_classes=num_classes, **kwargs
    )
