"""Training recipes of keras-robust: the paper's experiments as configs.

One job per module (the shape of flax's examples and big_vision):

- `recipes/configs/`: one file per experiment, `get_config()` and, for a
  sweep, `get_sweep()`, each with its launch command in its docstring
  (`default`, `quickstart`, `table2`, `table3`, `lr_grid`).
- `recipes.main`: runs any config, `python -m recipes.main
  --config=recipes/configs/quickstart.py --workdir=runs/quickstart`.
- `recipes.config`: the settings of one run, their defaults, and their
  resolution into a `RunSpec` (with the run id), once before any
  training; `recipes.protocols`: the networks' training protocols.
- `recipes.train_lib`: `train_and_evaluate(spec, workdir)`;
  `recipes.checkpoint`: a run's resumable state.
- `recipes.results`: the one record of a finished run (`results.json`).
- the sweep engine (resumable, distributable over processes and
  machines, surviving dead workers and chiefs): `recipes.sweep`
  (`run_sweep`), `recipes.sweep_files` (a sweep's runs, `sweep.json`, its
  log), `recipes.tuner` and `recipes.oracle` (the keras-tuner hypermodel,
  tuner and grid oracle), `recipes.chief` (the chief's serving loop),
  `recipes.launcher` (`--workers=k` local workers), `recipes.distributed`
  (the sweep's environment variables, read once), `recipes.lease` (who
  holds a run or a worker now: a lease file with a heartbeat), and
  `recipes.grid` (the command that joins a started sweep).
- watching long work: `recipes.progress` (a sweep's `[k/N]` and time
  left), `recipes.status` (`--status`: a sweep's runs by state, read
  without changing anything), `recipes.tensorboard_events` (each run's
  per-epoch curves for TensorBoard).
- `recipes.report`: statistics, Markdown tables and curves of finished
  runs beside the paper's numbers (`recipes.paper_results`).
- `recipes.figure1`: paper Fig. 1 from `keras_robust.analysis`.
- `recipes.atomic_files`: the atomic writers behind every output file;
  `recipes.cli`: command-line mistakes as one line.

Importing a module of `recipes` starts nothing and reads no environment
variable. A command line (`recipes.main`, `recipes.grid`, ...) calls
`start_tensorflow_quietly()` first, before anything imports Keras; it sets
two TensorFlow defaults unless the environment already sets them:

- `TF_ENABLE_ONEDNN_OPTS=1`: TensorFlow's oneDNN CPU kernels. TensorFlow
  turns them on by itself only on CPUs with AVX-512 VNNI, AMX or similar;
  on an AVX2-only AMD EPYC they made the ResNet-32 train step 1.7x faster.
- `TF_CPP_MIN_LOG_LEVEL=2`: no start-up INFO and WARNING lines. TensorFlow
  2.21 writes some of them (the CUDA probe on a machine without a GPU, the
  oneDNN notice) before it reads that variable, so with the level at 2 or
  more TensorFlow is imported there, on the TensorFlow backend, with the
  process's standard error closed for the time of the import.
"""

import contextlib
import importlib.util
import logging
import os
import sys
import warnings

TENSORFLOW_DEFAULTS = {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _set_tensorflow_defaults():
    unset = [name for name in TENSORFLOW_DEFAULTS if name not in os.environ]
    for name in unset:
        os.environ[name] = TENSORFLOW_DEFAULTS[name]
    if "TF_ENABLE_ONEDNN_OPTS" in unset and "tensorflow" in sys.modules:
        warnings.warn(
            "TensorFlow was imported before `recipes.start_tensorflow_quietly()`, "
            "so TF_ENABLE_ONEDNN_OPTS=1 comes too late to take effect; set it in "
            "the environment, or call that first, for TensorFlow's faster oneDNN "
            "CPU kernels.",
            stacklevel=3,
        )


@contextlib.contextmanager
def _standard_error_silenced():
    """Sends file descriptor 2 (C++ logging included) to /dev/null."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def quiet():
    """Whether start-up logging is silenced (`TF_CPP_MIN_LOG_LEVEL` 2 or 3)."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL") in ("2", "3")


def import_tensorflow_quietly():
    """Imports TensorFlow (if installed) with its start-up lines silenced.

    Does nothing when TensorFlow is already imported or not installed, or
    when `TF_CPP_MIN_LOG_LEVEL` asks for the lines. Called by
    `start_tensorflow_quietly` under the TensorFlow backend, and by the
    trainer before a tf.data pipeline under the others.
    """
    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return
    if not quiet():
        return
    with _standard_error_silenced():
        import tensorflow

        # Device discovery logs the CUDA probe's error (cuInit) on a machine
        # without a GPU.
        tensorflow.config.list_physical_devices()


def start_tensorflow_quietly():
    """Sets the TensorFlow defaults and, on its backend, imports it quietly.

    The first thing a command line does, before anything imports Keras
    (which imports TensorFlow on the TensorFlow backend): see the module
    docstring. Warns when TensorFlow was imported before, too late for
    `TF_ENABLE_ONEDNN_OPTS`.
    """
    _set_tensorflow_defaults()
    if quiet():
        # jax's INFO line about a missing TPU library, on every CPU machine.
        logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        import_tensorflow_quietly()
