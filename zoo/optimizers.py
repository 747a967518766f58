"""`torch.optim.SGD` as a Keras 3 optimizer."""

import numbers

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class TorchSGD(keras.optimizers.Optimizer):
    """Stochastic gradient descent with PyTorch's update rule.

    Follows `torch.optim.SGD` (dampening 0) for every trainable variable:

    ```python
    g = gradient + weight_decay * w      # coupled L2, biases and BN included
    buf = momentum * buf + g             # buf = g on the first step
    w = w - learning_rate * buf          # nesterov: lr * (g + momentum * buf)
    ```

    Keras's own `SGD` differs in two ways: its `weight_decay` is decoupled
    (`w -= lr * wd * w` outside the gradient, so it never enters the
    momentum buffer) and its velocity absorbs the learning rate, so a
    learning-rate drop acts on the old velocity at once instead of through
    the buffer. The torch buffer starts at `g` on the first step, which
    equals `momentum * 0 + g`, so a zero-initialised buffer is identical.

    Subclasses `keras.optimizers.Optimizer` directly so the torch backend
    does not swap it for its own SGD. `exclude_from_weight_decay()` applies
    to the coupled decay.

    Args:
        learning_rate: A float, a
            `keras.optimizers.schedules.LearningRateSchedule` or a callable
            without arguments returning the value. Required, as in torch.
        momentum: Non-negative float; 0 disables the momentum buffer.
        weight_decay: Non-negative float, the L2 coefficient added to the
            gradient (PyTorch's `weight_decay`).
        nesterov: Whether to use Nesterov momentum (needs `momentum > 0`).
        **kwargs: Base optimizer keyword arguments (`clipnorm`,
            `global_clipnorm`, `use_ema`, `name`, ...). Keras's decoupled
            `weight_decay` is not available here.

    Reference:
        PyTorch `torch.optim.SGD` documentation (algorithm box).
    """

    def __init__(
        self,
        learning_rate,
        momentum=0.0,
        weight_decay=0.0,
        nesterov=False,
        name="torch_sgd",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate, weight_decay=None, name=name, **kwargs
        )
        if weight_decay is None:
            weight_decay = 0.0
        for arg_name, value in (
            ("momentum", momentum),
            ("weight_decay", weight_decay),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or value < 0
            ):
                raise ValueError(
                    f"`{arg_name}` must be a non-negative float. "
                    f"Received: {arg_name}={value!r}"
                )
        if nesterov and momentum == 0:
            raise ValueError(
                "Nesterov momentum requires `momentum > 0`. "
                f"Received: nesterov={nesterov!r}, momentum={momentum!r}"
            )
        self.momentum = float(momentum)
        # `self.weight_decay` is the base class's decoupled decay and stays
        # None; the coupled coefficient lives here.
        self.l2_weight_decay = float(weight_decay)
        self.nesterov = bool(nesterov)

    def build(self, variables):
        """Creates one momentum buffer per variable when `momentum > 0`."""
        if self.built:
            return
        super().build(variables)
        self.momentum_buffers = []
        if self.momentum != 0:
            self.momentum_buffers = [
                self.add_variable_from_reference(variable, "momentum_buffer")
                for variable in variables
            ]

    def update_step(self, gradient, variable, learning_rate):
        """Applies one torch-SGD update to `variable`."""
        learning_rate = ops.cast(learning_rate, variable.dtype)
        step = ops.cast(gradient, variable.dtype)
        if self.l2_weight_decay != 0 and self._use_weight_decay(variable):
            step = ops.add(
                step,
                ops.multiply(
                    ops.cast(self.l2_weight_decay, variable.dtype), variable
                ),
            )
        if self.momentum != 0:
            momentum = ops.cast(self.momentum, variable.dtype)
            buffer = self.momentum_buffers[self._get_variable_index(variable)]
            new_buffer = ops.add(ops.multiply(momentum, buffer), step)
            self.assign(buffer, new_buffer)
            if self.nesterov:
                step = ops.add(step, ops.multiply(momentum, new_buffer))
            else:
                step = new_buffer
        self.assign_sub(variable, ops.multiply(learning_rate, step))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "weight_decay": self.l2_weight_decay,
                "nesterov": self.nesterov,
            }
        )
        return config
