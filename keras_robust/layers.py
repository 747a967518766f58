"""`CorrectClassBias`: the output bias eps as a layer (paper Sec. 3.2)."""

import keras
from keras import ops

from keras_robust import validation


@keras.saving.register_keras_serializable(package="keras_robust")
class CorrectClassBias(keras.layers.Layer):
    """Adds eps to the logit of the labelled class, in training only.

    `training=True`: returns `logits + epsilon * onehot(labels)` (integer
    labels `(B,)`/`(B, 1)` or one-hot `(B, c)`); otherwise the logits
    unchanged. Followed by a loss with `from_logits=True` this is the same as
    that loss with `output_bias=epsilon` (the paper's MAE* and boundCE*),
    while predictions at inference are untouched.

    The layer computes in float32 by default so that mixed-precision
    policies do not round the logits.

    Args:
        epsilon: The bias eps, a finite number >= 0; see
            `keras_robust.solve_output_bias`.

    Example:
    ```python
    images = keras.Input((32, 32, 3))
    labels = keras.Input((), dtype="int32")
    logits = backbone(images)
    biased = keras_robust.layers.CorrectClassBias(0.5)(logits, labels)
    trainer = keras.Model([images, labels], biased)
    trainer.compile(
        optimizer="sgd",
        loss=keras_robust.losses.ProbabilityMeanAbsoluteError(from_logits=True),
    )
    trainer.fit((x, y), y)
    backbone.predict(x)  # inference without the bias
    ```
    """

    def __init__(self, epsilon, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.epsilon = validation.check_non_negative("epsilon", epsilon)

    def call(self, logits, labels=None, training=None):
        logits = validation.as_tensor(logits)
        if not training or labels is None or self.epsilon == 0.0:
            return logits
        labels = validation.as_tensor(labels)
        num_classes = logits.shape[-1]
        if len(labels.shape) == len(logits.shape) and labels.shape[-1] == num_classes:
            targets = ops.cast(labels, logits.dtype)
        else:
            if len(labels.shape) == len(logits.shape) and labels.shape[-1] == 1:
                labels = ops.squeeze(labels, axis=-1)
            if len(labels.shape) != len(logits.shape) - 1:
                raise ValueError(
                    "Argument `labels` must be integer labels of shape "
                    f"{tuple(logits.shape[:-1])} or one-hot labels of shape "
                    f"{tuple(logits.shape)}. Received: labels.shape="
                    f"{tuple(labels.shape)}"
                )
            validation.check_labels_in_range(labels, num_classes)
            targets = ops.one_hot(ops.cast(labels, "int32"), num_classes, dtype=logits.dtype)
        return logits + ops.cast(self.epsilon, logits.dtype) * targets

    def compute_output_shape(self, logits_shape, labels_shape=None):
        return logits_shape

    def get_config(self):
        config = super().get_config()
        config["epsilon"] = self.epsilon
        return config
