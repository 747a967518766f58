"""The plugin and the zoo need only Keras and NumPy.

Each test runs a fresh interpreter under the jax backend (the jax extra);
where TensorFlow is installed it is hidden from that interpreter (an import
of it fails), so these tests hold in the full development environment and in
a virtual environment with the plugin alone.
"""

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    __import__("importlib").util.find_spec("jax") is None,
    reason="needs the jax extra",
)

# Makes `import tensorflow` (and tensorflow_datasets) fail, as where they
# are not installed.
HIDE_TENSORFLOW = """
import sys
sys.modules["tensorflow"] = None
sys.modules["tensorflow_datasets"] = None
"""


def run_python(code):
    environment = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run(
        [sys.executable, "-c", HIDE_TENSORFLOW + textwrap.dedent(code)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_plugin_and_zoo_import_and_train_without_tensorflow():
    output = run_python(
        """
        import numpy as np
        import keras_robust
        import zoo

        model = zoo.MLP(input_shape=(4, 4, 1), num_classes=3, hidden_units=(8,))
        eps = keras_robust.solve_output_bias(3, target=0.5)
        model.compile(
            optimizer="sgd",
            loss=keras_robust.losses.get("mae", from_logits=True, output_bias=eps),
        )
        rng = np.random.default_rng(0)
        x = rng.standard_normal((8, 4, 4, 1)).astype("float32")
        history = model.fit(x, np.arange(8) % 3, epochs=1, verbose=0)
        biased = keras_robust.layers.CorrectClassBias(eps)(
            model(x), np.arange(8) % 3, training=True
        )
        curve = keras_robust.analysis.labelled_neuron_error(
            "gce", 3, np.array([0.0, 1.0]), num_draws=10
        )
        assert np.isfinite(history.history["loss"][0]) and biased.shape == (8, 3)
        assert np.all(np.isfinite(curve))
        print(sorted(
            name for name, module in sys.modules.items()
            if name.split(".")[0] == "tensorflow" and module is not None
        ))
        """
    )
    assert output.strip() == "[]"


@pytest.mark.parametrize(
    "code, purpose",
    [
        ("keras_robust.data.make_pipelines", "keras_robust.data.make_pipelines"),
        ("keras_robust.data.Pipelines", "keras_robust.data.Pipelines"),
        (
            "keras_robust.data.load_dataset('cifar10', download=False)",
            "Loading 'cifar10' from TFDS",
        ),
    ],
)
def test_tensorflow_pieces_name_the_extra_to_install(code, purpose):
    output = run_python(
        f"""
        import keras_robust
        try:
            {code}
        except ImportError as error:
            print(error)
        """
    )
    assert output.strip().startswith(purpose)
    assert output.strip().endswith('pip install "keras-robust[data]"')
    assert len(output.strip().splitlines()) == 1
