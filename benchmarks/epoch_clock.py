"""`EpochClock`: wall time of every epoch of a `model.fit`, callbacks included.

Import it after the benchmark has chosen its Keras backend.
"""

import time

import keras
import numpy as np


class EpochClock(keras.callbacks.Callback):
    """Records when `fit` starts and when each epoch ends.

    Add it last so that an epoch's end includes the earlier callbacks'
    `on_epoch_end` work (evaluation, checkpoints).
    """

    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        if not self.times:
            self.times.append(time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        # Waits for the epoch's last step on asynchronous backends (jax).
        keras.ops.convert_to_numpy(self.model.optimizer.iterations.value)
        self.times.append(time.perf_counter())

    def epoch_seconds(self):
        """Seconds of every epoch; the first includes compilation."""
        return [float(seconds) for seconds in np.diff(self.times)]
