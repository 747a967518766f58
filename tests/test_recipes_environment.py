"""What a recipes command line sets up for TensorFlow, and what importing
a recipes module does not.

Each case runs in a fresh interpreter: TensorFlow reads these variables
once, when it is imported.
"""

import importlib.util as importlib_util
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_START = "import recipes; recipes.start_tensorflow_quietly()\n"
_PRINT_ONEDNN = (
    _START + "import os\n"
    # TensorFlow's own record of whether its oneDNN kernels are on.
    "from tensorflow.python.util import _pywrap_util_port\n"
    "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], _pywrap_util_port.IsMklEnabled())\n"
)


def _environment(**environment):
    """This process's environment without the two variables under test."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL")
    }
    env["KERAS_BACKEND"] = "tensorflow"
    env.update(environment)
    return env


def _python(code, **environment):
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=_environment(**environment),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_importing_recipes_modules_starts_no_tensorflow():
    process = _python(
        "import os, sys\n"
        "import recipes, recipes.paper_results, recipes.protocols, recipes.cli\n"
        "import recipes.atomic_files\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules,"
        " os.environ.get('TF_ENABLE_ONEDNN_OPTS'))\n"
    )
    assert process.stdout.split() == ["False", "False", "None"]
    assert process.stderr == ""


def test_starting_turns_onednn_on():
    assert _python(_PRINT_ONEDNN).stdout.split() == ["1", "True"]


def test_the_users_onednn_setting_wins():
    process = _python(_PRINT_ONEDNN, TF_ENABLE_ONEDNN_OPTS="0")
    assert process.stdout.split() == ["0", "False"]


def test_tensorflow_start_up_is_quiet():
    # On a machine without a GPU TensorFlow 2.21 logs its CUDA probe and a
    # oneDNN notice before it reads TF_CPP_MIN_LOG_LEVEL.
    process = _python(_START + "import keras; keras.ops.ones(2) + 1")
    assert process.stderr == ""


def test_tensorflow_logs_when_asked():
    process = _python(
        _START + "import keras; keras.ops.ones(2) + 1", TF_CPP_MIN_LOG_LEVEL="0"
    )
    assert "oneDNN" in process.stderr


def test_warns_when_tensorflow_came_first():
    process = _python("import tensorflow\n" + _START)
    assert "TF_ENABLE_ONEDNN_OPTS=1 comes too late" in process.stderr


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backends_do_not_import_tensorflow(backend):
    pytest.importorskip(backend)
    process = _python(
        _START + "import sys, keras; print('tensorflow' in sys.modules)",
        KERAS_BACKEND=backend,
    )
    assert process.stdout.strip() == "False"


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_a_run_does_not_open_with_tensorflow_start_up_lines(tmp_path, backend):
    # Under jax too, op determinism, tf.data and keras.utils.set_random_seed
    # import TensorFlow when it is installed.
    pytest.importorskip(backend)
    process = subprocess.run(
        [
            sys.executable, "-m", "recipes.main", "--config=default",
            f"--workdir={tmp_path / 'run'}", "--config.dataset=digits",
            "--config.model=mlp1024", "--config.epochs=1",
            "--config.train_size=64", "--config.save_model=False",
        ],
        cwd=REPO_ROOT, env=_environment(KERAS_BACKEND=backend),
        capture_output=True, text=True, timeout=300,
    )
    assert process.returncode == 0, process.stderr[-2000:]
    for line in ("cudart_stub", "cuInit", "oneDNN custom operations", "libtpu"):
        assert line not in process.stderr


def _recipes_run(workdir, environment, epochs):
    return subprocess.Popen(
        [
            sys.executable, "-m", "recipes.main", "--config=default",
            f"--workdir={workdir}", "--config.dataset=digits", "--config.model=mlp1024",
            f"--config.epochs={epochs}", "--config.train_size=640", "--config.verbose=0",
        ],
        cwd=REPO_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def test_recipes_default_to_jax_with_its_cache_and_resume_bit_identical(tmp_path):
    # KERAS_BACKEND unset: the recipes choose jax (installed with the
    # recipes), cache its compiled steps, feed the arrays as they are, and
    # a run killed after a checkpoint resumes to the same history.
    pytest.importorskip("jax")
    import json
    import signal
    import time

    environment = _environment(XDG_CACHE_HOME=str(tmp_path / "cache"))
    del environment["KERAS_BACKEND"]
    environment.pop("JAX_COMPILATION_CACHE_DIR", None)
    straight = _recipes_run(tmp_path / "straight", environment, epochs=4)
    assert straight.wait(timeout=300) == 0, straight.stderr.read()[-2000:]
    cache = tmp_path / "cache" / "keras_robust" / "jax"
    assert any(cache.iterdir())

    killed = _recipes_run(tmp_path / "killed", environment, epochs=4)
    state = tmp_path / "killed" / "checkpoint" / "state.json"
    deadline = time.monotonic() + 300
    while killed.poll() is None and time.monotonic() < deadline:
        if state.exists() and json.loads(state.read_text())["epoch"] >= 1:
            killed.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    assert killed.wait(timeout=60) == -signal.SIGKILL
    resumed = _recipes_run(tmp_path / "killed", environment, epochs=4)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()[-2000:]

    results = [
        json.loads((tmp_path / name / "results.json").read_text())
        for name in ("straight", "killed")
    ]
    assert results[0]["versions"]["backend"] == "jax"
    assert results[0]["settings"]["device_resident"] is True
    assert results[1]["history"] == results[0]["history"]


def test_the_environment_chooses_the_backend_and_the_cache():
    import recipes

    assert recipes.recipes_backend({"KERAS_BACKEND": "torch"}) == "torch"
    expected = "jax" if importlib_util.find_spec("jax") else "tensorflow"
    assert recipes.recipes_backend({}) == expected
    assert recipes.jax_cache_directory({"XDG_CACHE_HOME": "/c"}) == "/c/keras_robust/jax"
    assert recipes.jax_cache_directory({}) == os.path.join(
        os.path.expanduser("~"), ".cache", "keras_robust", "jax"
    )
