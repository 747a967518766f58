"""Argument checks with errors that name the argument, the value and what is allowed."""

import importlib
import math
import numbers

import numpy as np
from keras import ops


def import_optional(module, extra, purpose):
    """Imports `module`, which the extra `extra` installs, for `purpose`.

    Raises a one-line ImportError naming the extra when it is missing: the
    plugin itself needs only Keras and NumPy.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{purpose} needs {module.split('.')[0]}, which is not installed: "
            f'pip install "keras-robust[{extra}]"'
        ) from error


def _is_real_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_in_interval(
    name, value, low, high, allowed, *, low_open=False, high_open=False
):
    """Returns `float(value)` if it lies in the interval, else raises ValueError."""
    if _is_real_number(value) and math.isfinite(value):
        above_low = value > low if low_open else value >= low
        below_high = value < high if high_open else value <= high
        if above_low and below_high:
            return float(value)
    raise ValueError(
        f"Argument `{name}` must be a number in {allowed}. Received: {name}={value!r}"
    )


def check_non_negative(name, value):
    """Returns `float(value)` for a finite number >= 0, else raises ValueError."""
    if _is_real_number(value) and math.isfinite(value) and value >= 0:
        return float(value)
    raise ValueError(
        f"Argument `{name}` must be a finite number >= 0. Received: {name}={value!r}"
    )


def check_positive(name, value):
    """Returns `float(value)` for a finite number > 0, else raises ValueError."""
    if _is_real_number(value) and math.isfinite(value) and value > 0:
        return float(value)
    raise ValueError(
        f"Argument `{name}` must be a finite number > 0. Received: {name}={value!r}"
    )


def check_output_bias(output_bias):
    """The output bias eps must be finite and >= 0 (paper Sec. 3.2)."""
    return check_non_negative("output_bias", output_bias)


def check_num_classes(num_classes):
    """Returns `int(num_classes)` for an integer >= 2, else raises ValueError."""
    if (
        isinstance(num_classes, numbers.Integral)
        and not isinstance(num_classes, bool)
        and num_classes >= 2
    ):
        return int(num_classes)
    raise ValueError(
        "Argument `num_classes` must be an integer >= 2. "
        f"Received: num_classes={num_classes!r}"
    )


def as_tensor(value, dtype=None):
    """`value` (array, list, tensor or variable) as a backend tensor.

    `ops.convert_to_tensor` reads a `keras.Variable`, but returns a
    `tf.Variable` as it is (TensorFlow counts it as a tensor), and some ops
    (`argmax`, ...) then fail on it; its value is read here as well.
    """
    tensor = ops.convert_to_tensor(value, dtype=dtype)
    if hasattr(tensor, "read_value"):
        tensor = tensor.read_value()
    return tensor


def concrete_value(tensor):
    """The tensor's values as numpy when they are known now, else None.

    Inside a compiled step (a `tf.function` graph, a jax trace, a
    `torch.compile` graph) and in Keras's shape tracing values are symbolic
    and cannot be checked without a host round trip.
    """
    if isinstance(tensor, (np.ndarray, numbers.Number, list, tuple)):
        return np.asarray(tensor)
    module = type(tensor).__module__
    if module.startswith("tensorflow"):
        import tensorflow as tf

        if tf.executing_eagerly() and hasattr(tensor, "numpy"):
            return tensor.numpy()
        return None
    if module.startswith("jax"):
        import jax

        if isinstance(tensor, jax.core.Tracer):
            return None
        return np.asarray(tensor)
    if module.startswith("torch"):
        import torch

        # Keras traces shapes on the "meta" device, which holds no values.
        if tensor.device.type == "meta" or torch.compiler.is_compiling():
            return None
        tensor = tensor.detach().cpu()
        # NumPy has no bfloat16; its values are exact in float32.
        return tensor.float().numpy() if tensor.is_floating_point() else tensor.numpy()
    return None


def check_labels_in_range(labels, num_classes):
    """Raises ValueError if concrete integer labels fall outside [0, c).

    Checked whenever the labels are concrete (eager calls, numpy inputs);
    compiled steps cannot raise, and the losses make such an example's loss
    NaN there instead (the data pipeline also validates labels once when
    they are loaded).
    """
    values = concrete_value(labels)
    if values is None or values.size == 0:
        return
    bad = (values < 0) | (values >= num_classes) | (values != np.round(values))
    if np.any(bad):
        offending = values[bad].ravel()[:5].tolist()
        raise ValueError(
            f"Argument `y_true` holds labels outside [0, {num_classes}) or "
            f"non-integer labels: {offending}. Integer labels must lie in "
            f"[0, num_classes) with num_classes={num_classes} taken from "
            "y_pred.shape[-1]."
        )


# Rows of a float16 or bfloat16 softmax sum to 1 within about 1e-3.
PROBABILITY_TOLERANCE = 1e-2


def probability_violation(values):
    """Why the NumPy array `values` is not rows of probabilities, or None.

    Probabilities lie in [0, 1] and their rows (the last axis) sum to 1,
    within `PROBABILITY_TOLERANCE`.
    """
    if values.size == 0:
        return None
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if low < -PROBABILITY_TOLERANCE or high > 1.0 + PROBABILITY_TOLERANCE:
        return f"values in [{low:.3g}, {high:.3g}], outside [0, 1]"
    sums = values.sum(axis=-1)
    worst = float(sums.flat[np.argmax(np.abs(sums - 1.0))])
    if abs(worst - 1.0) > PROBABILITY_TOLERANCE:
        return f"a row sums to {worst:.3g}, not 1"
    return None
