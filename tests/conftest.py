"""Shared pytest setup.

The Keras backend is chosen by the ``KERAS_BACKEND`` environment variable
before anything imports Keras; CI runs the suite once per backend.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import importlib.util  # noqa: E402

# Before Keras: the recipes' TensorFlow defaults (oneDNN, quiet import), as
# in a recipe's own process. The plugin's tests also run where only the
# plugin is installed (no TensorFlow, no absl, no recipes' extras).
if importlib.util.find_spec("recipes") is not None:
    import recipes  # noqa: E402

    recipes.start_tensorflow_quietly()
import keras  # noqa: E402
import pytest  # noqa: E402

# The recipes' command lines that tests start inherit the suite's backend
# (unset, they would choose jax), so that their runs are the runs the
# tests resolve in process.
os.environ["KERAS_BACKEND"] = keras.backend.backend()

MARKERS = {
    "backend_independent": "tests of keras.ops code that CI repeats on every Keras backend",
}


def pytest_configure(config):
    # Registered here as well as in pyproject.toml, for the copies of the
    # plugin's tests that CI runs outside the checkout.
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    if importlib.util.find_spec("absl") is not None:
        from absl import flags

        # absl flags are unparsed under pytest; recipes read them through
        # flagsaver.
        flags.FLAGS.mark_as_parsed()


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Each test starts with float32 policy and a fresh Keras graph state."""
    yield
    keras.mixed_precision.set_global_policy("float32")
    # free_memory=False skips a full gc.collect() after every test.
    keras.backend.clear_session(free_memory=False)


class _KillAfter(keras.callbacks.Callback):
    """Raises KeyboardInterrupt after `epochs` epochs (once checkpointed)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt(f"killed after epoch {self.epochs}")


@pytest.fixture
def kill_after():
    """`kill_after(n)`: a Keras callback that kills a run after epoch `n`."""
    return _KillAfter


@pytest.fixture
def tiny_grid():
    """`tiny_grid(losses, seeds, **fields)`: `(config, sweep)` of a small digits grid.

    The config is the MLP on 64 digits images with 20 % noise for one
    epoch (`fields` change it); the sweep is every loss with every seed.
    """
    from recipes import config as config_lib

    def make(losses=("ce", "gce"), seeds=(0, 1), **fields):
        config = config_lib.override(
            config_lib.get_default_config(),
            {
                "dataset": "digits", "model": "mlp1024", "noise_rate": 0.2, "epochs": 1,
                "train_size": 64, "learning_rate": 0.01, "verbose": 0, **fields,
            },
        )
        return config, [{"loss": loss, "seed": seed} for loss in losses for seed in seeds]

    return make


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"
