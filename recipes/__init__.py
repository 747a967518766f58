"""Training recipes of keras-robust: the paper's experiments as scripts.

- `recipes.runner`: `RunConfig` (every setting of one run) and `run()`, which
  trains one configuration with `model.fit`, resumes an interrupted run from
  its last epoch and writes `<output_dir>/<run_id>/results.json`.
- `recipes.train`: one run from the command line (absl flags).
- `recipes.quickstart`: CE against robust losses on the offline "digits"
  set with 40 % label noise, in a few minutes on a laptop CPU.
- `recipes.sweep`: paper Tables 2 and 3 as a keras-tuner grid search
  (resumable, distributable over several machines).
- `recipes.tune_lr`: supplement Table 1, the MLP learning-rate grid.
- `recipes.report`: the tables (next to the paper's numbers) and the
  accuracy curves of Figs. 2-4 from a results directory.
- `recipes.figure1`: paper Fig. 1 from `keras_robust.analysis`.
- `recipes.atomic_files`: the atomic writers behind every output file.

The training scripts are thin fronts over `recipes.runner`.

Importing any module of `recipes` sets two TensorFlow defaults, before
TensorFlow is imported, unless the environment already sets them:

- `TF_ENABLE_ONEDNN_OPTS=1`: TensorFlow's oneDNN CPU kernels. TensorFlow
  turns them on by itself only on CPUs with AVX-512 VNNI, AMX or similar;
  on an AVX2-only AMD EPYC they made the ResNet-32 train step 1.7x faster.
- `TF_CPP_MIN_LOG_LEVEL=2`: no start-up INFO and WARNING lines. TensorFlow
  2.21 writes some of them (the CUDA probe on a machine without a GPU, the
  oneDNN notice) before it reads that variable, so with the level at 2 or
  more TensorFlow is imported here, on the TensorFlow backend, with the
  process's standard error closed for the time of the import.
"""

import contextlib
import importlib.util
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
            "TensorFlow was imported before `recipes`, so TF_ENABLE_ONEDNN_OPTS=1 "
            "comes too late to take effect; set it in the environment, or import "
            "`recipes` first, for TensorFlow's faster oneDNN CPU kernels.",
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


def _import_tensorflow_quietly():
    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] not in ("2", "3"):
        return
    with _standard_error_silenced():
        import tensorflow

        # Device discovery logs the CUDA probe's error (cuInit) on a machine
        # without a GPU.
        tensorflow.config.list_physical_devices()


_set_tensorflow_defaults()
_import_tensorflow_quietly()
