"""Gradients of a keras.ops function on whichever Keras backend is active."""

import keras
import numpy as np


def value_and_gradient(fn, x):
    """Returns numpy `(fn(x), d sum(fn(x)) / dx)` for a numpy input `x`.

    `fn` maps a backend tensor to a tensor of per-example values; rows of `x`
    that do not interact (as for a loss) get their own gradient rows.
    """
    x = np.asarray(x, dtype=np.float32)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tensor = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            values = fn(tensor)
            total = tf.reduce_sum(values)
        return values.numpy(), tape.gradient(total, tensor).numpy()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def total(tensor):
            values = fn(tensor)
            return jnp.sum(values), values

        (_, values), gradient = jax.value_and_grad(total, has_aux=True)(jnp.asarray(x))
        return np.asarray(values), np.asarray(gradient)
    if backend == "torch":
        import torch

        tensor = torch.tensor(x, requires_grad=True)
        values = fn(tensor)
        values.sum().backward()
        return values.detach().cpu().numpy(), tensor.grad.detach().cpu().numpy()
    raise NotImplementedError(f"Autodiff is not available on the {backend!r} backend.")
