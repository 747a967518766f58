"""A run's per-epoch curves as TensorBoard events, in its run directory.

`EpochEvents` is the Keras callback that writes, after each epoch, the
epoch's `train_loss`, `test_accuracy`, `false_label_accuracy` and
`learning_rate` (the run's history, `recipes.results.HISTORY_KEYS`; a
metric that `eval_every` skipped is left out) as one TensorBoard event at
step = epoch, into `<run dir>/events.out.tfevents.*`. So

    tensorboard --logdir runs/quickstart

shows every run of a sweep, live, named by its run id (its directory).

A resumed run continues its curves without duplicating an epoch. The
files are only ever appended to, one file per start of training, one
complete record per epoch (a record cut short by a kill is ignored by
TensorBoard's readers and by `read_epochs`). At the start of training
the epochs already in the files are read back (`read_epochs`): if they are
the first epochs of the history (restored from the checkpoint), only the
history's later epochs are written; otherwise (epochs the history no
longer holds: a kill between this write and the checkpoint's, or a
checkpoint set aside) the files are removed and the whole history is
written afresh. After that the files hold exactly the history's epochs,
once each, and every epoch end adds the one epoch the history gained. The
callback runs before the checkpoint's, so a checkpoint never holds an
epoch the events lack (a run resumed after its last epoch trains nothing
and starts no callback). Appending, unlike rewriting the file, keeps a
running `tensorboard` reading the same file as it grows.

Keras's own `TensorBoard` callback does not fit: it logs Keras's epoch
logs (not the history the run records and resumes), would log the resumed
epochs again, and needs TensorFlow's summary ops. This writer uses
TensorBoard's protos and record writer, with no TensorFlow.
"""

import os
import socket
import time

import keras
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.summary.writer import record_writer

from recipes import results

EVENTS_MARKER = "tfevents"
SCALAR_KEYS = tuple(key for key in results.HISTORY_KEYS if key != "epoch")


def events_files(run_dir):
    """The TensorBoard events files of `run_dir`, oldest first."""
    try:
        names = os.listdir(run_dir)
    except FileNotFoundError:
        return []
    return [
        os.path.join(run_dir, name) for name in sorted(names)
        if EVENTS_MARKER in name and os.path.isfile(os.path.join(run_dir, name))
    ]


def read_epochs(run_dir):
    """The epochs (steps) of the scalar events in `run_dir`'s files, in file order."""
    epochs = []
    for path in events_files(run_dir):
        for event in event_file_loader.LegacyEventFileLoader(path).Load():
            if event.HasField("summary") and event.summary.value:
                epochs.append(event.step)
    return epochs


def epoch_event(history, index):
    """The event of the history's `index`-th epoch: its non-None scalars at step = epoch."""
    values = [
        summary_pb2.Summary.Value(tag=key, simple_value=float(history[key][index]))
        for key in SCALAR_KEYS if history[key][index] is not None
    ]
    return event_pb2.Event(
        wall_time=time.time(),
        step=int(history["epoch"][index]),
        summary=summary_pb2.Summary(value=values),
    )


def _append(path, events):
    with open(path, "ab") as file:
        writer = record_writer.RecordWriter(file)
        # One write per event: a kill leaves at most the last record cut short.
        for event in events:
            writer.write(event.SerializeToString())
        writer.flush()


def new_events_file(run_dir):
    """Creates an events file that sorts after `run_dir`'s others; returns its path."""
    os.makedirs(run_dir, exist_ok=True)
    name = (
        f"events.out.{EVENTS_MARKER}.{int(time.time()):010d}."
        f"{socket.gethostname()}.{os.getpid()}.{len(events_files(run_dir)):04d}"
    )
    path = os.path.join(run_dir, name)
    _append(path, [event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")])
    return path


def continue_events(run_dir, history):
    """Makes `run_dir`'s events hold exactly the history's epochs; returns the file to append to."""
    written = read_epochs(run_dir)
    epochs = list(history["epoch"])
    if written != epochs[:len(written)]:
        for path in events_files(run_dir):
            os.remove(path)
        written = []
    path = new_events_file(run_dir)
    _append(path, [epoch_event(history, index) for index in range(len(written), len(epochs))])
    return path


class EpochEvents(keras.callbacks.Callback):
    """Writes each epoch of `history` as TensorBoard events in `run_dir`.

    Args:
        run_dir: The run's directory (TensorBoard names the run after it).
        history: The run's history dict (`recipes.results.HISTORY_KEYS`),
            holding the epochs restored from the checkpoint, to which the
            metrics callback before this one appends each epoch.
    """

    def __init__(self, run_dir, history):
        super().__init__()
        self.run_dir = os.fspath(run_dir)
        self.history = history
        self.path = None

    def on_train_begin(self, logs=None):
        self.path = continue_events(self.run_dir, self.history)

    def on_epoch_end(self, epoch, logs=None):
        _append(self.path, [epoch_event(self.history, len(self.history["epoch"]) - 1)])
