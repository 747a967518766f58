"""Save, load, restore and delete the training state of a run.

A run's checkpoint directory (`<run dir>/checkpoint/`) holds

- `epoch-<n>.variables.npz`: the value of every model variable, then every
  optimizer variable, after epoch `n`, with their paths;
- `state.json`: `{"settings", "epoch", "variables", "history",
  "wall_seconds"}`, naming the variables file of its epoch.

`save` writes the variables first and the state last, both atomically
(`recipes.atomic_files`), and only then removes the previous epoch's
variables, so a kill at any moment leaves a consistent checkpoint. An npz
file is 4x faster to write than `model.save_weights` (0.08 s against 0.28 s
for ResNet-32 on a 2-core CPU, whose Keras traversal is Python-bound).

`SaveEveryEpoch` is the Keras callback that saves after each epoch: it
copies the variables at the epoch's end (`snapshot`) and writes them
(`write`) in a background thread while the next epoch trains. Each save
first waits for the previous write, so at most one write is in flight and
a kill loses at most the epoch being written; `wait()` (called by
`on_train_end`, and by the trainer after a failed `fit`) waits for the last
one and raises its error, if any.
"""

import copy
import dataclasses
import json
import os
import shutil
import threading
import zipfile

import keras
import numpy as np

from recipes import atomic_files

CHECKPOINT_DIRNAME = "checkpoint"
STATE_FILENAME = "state.json"
_STATE_KEYS = ("settings", "epoch", "variables", "history", "wall_seconds")


class DamagedCheckpointError(ValueError):
    """A checkpoint that cannot be read (the message names the file)."""


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        state: The dict of state.json (`settings`, `epoch`, `variables`,
            `history`, `wall_seconds`).
        paths: The variable paths, model variables first.
        values: The variable values, in the order of `paths`.
    """

    state: dict
    paths: tuple
    values: tuple


def checkpoint_dir(run_dir):
    """`<run_dir>/checkpoint`."""
    return os.path.join(os.fspath(run_dir), CHECKPOINT_DIRNAME)


def _variables(model):
    # The model's variables, then the optimizer's (iterations, momenta, ...).
    return [*model.variables, *model.optimizer.variables]


def snapshot(model):
    """`(paths, values)` of the variables of `model` and its optimizer, as
    NumPy copies taken now (the model may train on meanwhile)."""
    variables = _variables(model)
    paths = tuple(variable.path for variable in variables)
    values = tuple(
        np.array(keras.ops.convert_to_numpy(variable.value), copy=True)
        for variable in variables
    )
    return paths, values


def write(directory, paths, values, state):
    """Writes a `snapshot`'s variables, then `state`, then removes older epochs.

    Args:
        directory: The checkpoint directory (created if needed).
        paths, values: A `snapshot(model)`.
        state: A JSON-able dict with `settings`, `epoch` (finished epochs),
            `history` and `wall_seconds`; `variables` is added.
    """
    os.makedirs(directory, exist_ok=True)
    arrays = {f"v{index:05d}": value for index, value in enumerate(values)}
    arrays["paths"] = np.array(paths)
    name = f"epoch-{state['epoch']:05d}.variables.npz"
    atomic_files.write_bytes(
        os.path.join(directory, name), lambda file: np.savez(file, **arrays)
    )
    atomic_files.write_json(
        os.path.join(directory, STATE_FILENAME), {**state, "variables": name}
    )
    for other in os.listdir(directory):
        if other.startswith("epoch-") and other != name:
            os.remove(os.path.join(directory, other))


def save(directory, model, state):
    """Saves the variables of `model` and its optimizer, then `state`, now.

    Args:
        directory: The checkpoint directory (created if needed).
        model: A compiled model whose optimizer is built.
        state: As for `write`.
    """
    write(directory, *snapshot(model), state)


def load(directory):
    """The `Checkpoint` in `directory`, or None if there is none.

    Raises:
        DamagedCheckpointError: naming the file, if state.json or the
            variables file it names cannot be read.
    """
    state_path = os.path.join(directory, STATE_FILENAME)
    if not os.path.exists(state_path):
        return None
    try:
        with open(state_path, encoding="utf-8") as file:
            state = json.load(file)
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise KeyError(", ".join(missing))
    except (ValueError, KeyError, TypeError) as error:
        raise DamagedCheckpointError(
            f"Damaged checkpoint {state_path}: {type(error).__name__}: {error}"
        ) from None
    variables_path = os.path.join(directory, state["variables"])
    try:
        with np.load(variables_path) as stored:
            paths = tuple(str(path) for path in stored["paths"])
            values = tuple(stored[f"v{index:05d}"] for index in range(len(paths)))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DamagedCheckpointError(
            f"Damaged checkpoint {variables_path}: {type(error).__name__}: {error}"
        ) from None
    return Checkpoint(state=state, paths=paths, values=values)


def restore(model, checkpoint):
    """Assigns a loaded `Checkpoint`'s values to `model` and its optimizer.

    The model must be built and compiled like the saved one, and its
    optimizer built (`model.optimizer.build(model.trainable_variables)`).

    Raises:
        ValueError: if the checkpoint holds other variables than the model.
    """
    variables = _variables(model)
    if list(checkpoint.paths) != [variable.path for variable in variables]:
        raise ValueError(
            f"The checkpoint holds other variables than the model's "
            f"({len(checkpoint.paths)} stored, {len(variables)} in the model)."
        )
    for variable, value in zip(variables, checkpoint.values):
        variable.assign(value)


def delete(directory):
    """Removes the checkpoint directory, if any."""
    shutil.rmtree(directory, ignore_errors=True)


class SaveEveryEpoch(keras.callbacks.Callback):
    """Saves the model, the optimizer and the run's history after every epoch.

    The variables and the state are copied at the epoch's end; the files are
    written in a background thread while the next epoch trains (see the
    module docstring). Call `wait()` after a `fit` that raised.

    Args:
        directory: The checkpoint directory.
        settings: The run's settings (`recipes.config.settings`).
        history: The run's history dict, up to date at epoch end (the
            metrics callback before this one appends to it).
        clock: A function returning the run's training seconds so far.
    """

    def __init__(self, directory, settings, history, clock):
        super().__init__()
        self.directory = directory
        self.settings = settings
        self.history = history
        self.clock = clock
        self._thread = None
        self._error = None

    def wait(self):
        """Waits for the write in flight, if any; raises its error."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _write(self, *args):
        try:
            write(*args)
        except BaseException as error:  # raised again by `wait`
            self._error = error

    def on_epoch_end(self, epoch, logs=None):
        self.wait()
        state = {
            "settings": self.settings,
            "epoch": epoch + 1,
            "history": copy.deepcopy(self.history),
            "wall_seconds": self.clock(),
        }
        self._thread = threading.Thread(
            target=self._write,
            args=(self.directory, *snapshot(self.model), state),
            name="checkpoint-writer",
        )
        self._thread.start()

    def on_train_end(self, logs=None):
        self.wait()
