"""Learning curves of the losses (paper Sec. 3, Fig. 1).

The error of the labelled output neuron, `delta_k = dL/dz_k`, as a function
of its pre-activation `z_k`, with the other logits of a freshly initialised
network drawn i.i.d. from N(0, 1), averaged over draws. Computed by autodiff
through the real loss classes, so the curves show exactly what training uses.
"""

import numpy as np
from keras import ops

from keras_robust import autodiff
from keras_robust import losses as losses_lib
from keras_robust import validation


def _as_logit_loss(loss):
    """A per-example (`reduction=None`), from-logits copy of `loss`."""
    if isinstance(loss, str):
        loss = losses_lib.get(loss)
    if not isinstance(loss, losses_lib.RobustLoss):
        raise ValueError(
            "Argument `loss` must be a loss name or a keras_robust loss. "
            f"Received: loss={loss!r}"
        )
    config = {**loss.get_config(), "from_logits": True, "reduction": None}
    return type(loss).from_config(config)


def labelled_neuron_error(loss, num_classes, z_k, *, num_draws=1000, seed=0):
    """Mean `delta_k = dL/dz_k` at each value of the labelled logit `z_k`.

    Args:
        loss: A loss name (`"mae"`, ...) or a `keras_robust.losses` instance;
            its hyperparameters and `output_bias` are used as configured.
        num_classes: Number of classes c >= 2.
        z_k: 1-D array of labelled-logit values (the x axis of Fig. 1).
        num_draws: Draws of the other c - 1 logits ~ N(0, 1) per value.
        seed: Seed of the draws (the same draws are used for every z_k).

    Returns:
        Array of the shape of `z_k`: the averaged error of the labelled neuron.
    """
    num_classes = validation.check_num_classes(num_classes)
    loss = _as_logit_loss(loss)
    z_k = np.asarray(z_k, dtype=np.float32)
    if z_k.ndim != 1:
        raise ValueError(f"Argument `z_k` must be 1-D. Received: shape {z_k.shape}")
    others = np.random.default_rng(seed).standard_normal(
        (num_draws, num_classes - 1)
    ).astype(np.float32)
    logits = np.concatenate(
        [
            np.repeat(z_k, num_draws)[:, None],
            np.tile(others, (len(z_k), 1)),
        ],
        axis=1,
    )
    labels = np.zeros(len(logits), dtype=np.int32)
    label_tensor = ops.convert_to_tensor(labels)
    _, gradient = autodiff.value_and_gradient(lambda z: loss(label_tensor, z), logits)
    return gradient[:, 0].reshape(len(z_k), num_draws).mean(axis=1)


def initial_logit_histogram(
    num_classes, *, output_bias=0.0, num_draws=100_000, bins=80, seed=0
):
    """Histogram of the labelled logit at initialisation, shifted by eps.

    At initialisation the logits are i.i.d. N(0, 1) (paper Sec. 3.2); during
    training the loss sees `z_k + eps`. The bin range is wide enough for both
    the shifted and the unshifted histogram of Fig. 1.

    Returns:
        `(bin_centers, density)`.
    """
    validation.check_num_classes(num_classes)
    output_bias = validation.check_output_bias(output_bias)
    z_k = np.random.default_rng(seed).standard_normal(num_draws) + output_bias
    density, edges = np.histogram(z_k, bins=bins, range=(-5.0, 5.0 + output_bias), density=True)
    return 0.5 * (edges[:-1] + edges[1:]), density
