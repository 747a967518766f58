"""Training recipes of keras-robust: the paper's experiments as configs.

One job per module (the shape of flax's examples and big_vision):

- `recipes/configs/`: one file per experiment, `get_config()` and, for a
  sweep, `get_sweep()`, each with its launch command in its docstring
  (`default`, `quickstart`, `offline_replication`, `table2`, `table3`,
  `lr_grid`, `cifar_n`, `estimate_noise`).
- `recipes.main`: runs any config, `python -m recipes.main
  --config=recipes/configs/quickstart.py --workdir=runs/quickstart`.
- `recipes.config`: the settings of one run, their defaults, and their
  resolution into a `RunSpec` (with the run id), once before any
  training; `recipes.field_checks`: the checks of every setting;
  `recipes.protocols`: the networks' training protocols.
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
  holds a run or a worker now: a lease file with a heartbeat),
  `recipes.stages` (a sweep in stages, each following from the results
  before it: `run_stages`, `follow_chief`), and `recipes.grid` (the
  command that joins a started sweep).
- watching long work: `recipes.progress` (a sweep's `[k/N]` and time
  left), `recipes.status` (`--status`: a sweep's runs by state, read
  without changing anything), `recipes.tensorboard_events` (each run's
  per-epoch curves for TensorBoard).
- the report of finished runs beside the paper's numbers
  (`recipes.paper_results`): `recipes.report` (writes it; its command
  line), `recipes.blocks` (runs grouped into tables), `recipes.tables` and
  `recipes.human_tables` (Markdown), `recipes.agreement` (rankings against
  the paper), `recipes.statistics` (mean, standard error, Kendall's tau
  and its bootstrap), `recipes.learning_rate_choice`, `recipes.curves`
  (learning curves) and `recipes.styles` (one colour and marker per loss).
- `recipes.figure1`: paper Fig. 1 from `keras_robust.analysis`.
- `recipes.atomic_files`: the atomic writers behind every output file;
  `recipes.cli`: command-line mistakes as one line.

Importing a module of `recipes` starts nothing and reads no environment
variable. A command line (`recipes.main`, `recipes.grid`, ...) calls
`start_command_line()` first, before anything imports Keras. It settles
the backend and the compilers' settings from the environment, once:

- `KERAS_BACKEND`: the recipes' Keras backend. Unset, it is `jax` where jax
  is installed (the `recipes` extra installs it), else `tensorflow`: the
  recipes' MLP runs are about 2x faster a step on jax than on TensorFlow on
  a CPU (docs/performance.md), their input still comes from tf.data or,
  under jax, from the arrays themselves (`device_resident`). On a CPU the
  ResNet runs are faster on TensorFlow (`KERAS_BACKEND=tensorflow`).
  Keras's own `keras.json` is not read for the recipes' backend.
- under jax, its persistent compilation cache (`JAX_COMPILATION_CACHE_DIR`,
  default `$XDG_CACHE_HOME/keras_robust/jax`, i.e.
  `~/.cache/keras_robust/jax`): the runs of a sweep that share a model and
  loss compile their train and evaluation steps once, not once per run (a
  few seconds each on a CPU, a third of a 20-epoch MLP run). A compiled
  step is the same program whether compiled or read back, so results do
  not change. `JAX_COMPILATION_CACHE_DIR=` (empty) turns it off.
- two TensorFlow defaults, unless the environment already sets them:
  `TF_ENABLE_ONEDNN_OPTS=1`, TensorFlow's oneDNN CPU kernels (TensorFlow
  turns them on by itself only on CPUs with AVX-512 VNNI, AMX or similar;
  on an AVX2-only AMD EPYC they made the ResNet-32 train step 1.7x
  faster), and `TF_CPP_MIN_LOG_LEVEL=2`, no start-up INFO and WARNING
  lines. TensorFlow 2.21 writes some of them (the CUDA probe on a machine
  without a GPU, the oneDNN notice) before it reads that variable, so with
  the level at 2 or more TensorFlow is imported there, on the TensorFlow
  backend, with the process's standard error closed for the time of the
  import. `start_tensorflow_quietly()` is this step alone (the test suite's
  start, which keeps the backend the environment gives).
"""

import contextlib
import importlib.util
import logging
import os
import sys
import warnings

TENSORFLOW_DEFAULTS = {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
#: The recipes' backend where `KERAS_BACKEND` is unset, the first installed.
PREFERRED_BACKENDS = ("jax", "tensorflow")
#: jax's persistent compilation cache: every compiled step is cached (the
#: MLP's evaluation step compiles in well under jax's default 1 s).
JAX_CACHE_DEFAULTS = {
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
}


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


def recipes_backend(environ):
    """The recipes' Keras backend: `KERAS_BACKEND`, else the first installed
    of `PREFERRED_BACKENDS` (`tensorflow` when none is)."""
    if environ.get("KERAS_BACKEND"):
        return environ["KERAS_BACKEND"]
    for backend in PREFERRED_BACKENDS:
        if importlib.util.find_spec(backend) is not None:
            return backend
    return PREFERRED_BACKENDS[-1]


def jax_cache_directory(environ):
    """The default of `JAX_COMPILATION_CACHE_DIR`: `$XDG_CACHE_HOME/keras_robust/jax`."""
    cache_home = environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(cache_home, "keras_robust", "jax")


def start_command_line():
    """Settles the backend and the compilers' settings; see the module docstring.

    The first thing a command line does, before anything imports Keras or
    jax. Reads (and where unset, sets) `KERAS_BACKEND`, the jax cache's and
    TensorFlow's variables in `os.environ`, then `start_tensorflow_quietly()`.
    """
    backend = os.environ["KERAS_BACKEND"] = recipes_backend(os.environ)
    if backend == "jax":
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", jax_cache_directory(os.environ))
        for name, value in JAX_CACHE_DEFAULTS.items():
            os.environ.setdefault(name, value)
    start_tensorflow_quietly()


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
