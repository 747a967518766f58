"""Tests of `recipes.figure1` (paper Fig. 1)."""

import json
import os

import numpy as np
import pytest
from absl import flags

import keras_robust
from keras_robust import presets
from recipes import figure1


def test_writes_figure_and_data(tmp_path):
    output_dir = str(tmp_path / "figure1")
    path = figure1.make_figure1(output_dir, num_draws=4, num_points=5, seed=1)

    assert path == os.path.join(output_dir, "figure1.png")
    assert os.path.getsize(path) > 10_000
    with open(path, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    assert not [name for name in os.listdir(output_dir) if name.startswith(".tmp")]

    with open(os.path.join(output_dir, "figure1.json"), encoding="utf-8") as file:
        panels = json.load(file)
    assert [panel["num_classes"] for panel in panels] == [10, 100]
    # eps of paper Sec. 3.2, rounded as in the paper, from its one owner.
    assert panels[0]["output_bias"] == {"mae": 0.5, "boundce": 0.0}
    assert panels[1]["output_bias"] == {"mae": 3.0, "boundce": 2.5}
    assert panels[1]["output_bias"]["mae"] == presets.output_bias("mae", 100)
    for panel in panels:
        assert list(panel["curves"]) == [label for label, _, _ in figure1.CURVES]
        for curve in panel["curves"].values():
            assert len(curve["delta_k"]) == 5
            # The labelled neuron's error is never positive.
            assert max(curve["delta_k"]) <= 1e-6
        # CE: delta_k = a_k - 1 rises towards 0 with z_k.
        ce = np.asarray(panel["curves"]["CE"]["delta_k"])
        assert np.all(np.diff(ce) > 0)
        assert ce[0] == pytest.approx(-1.0, abs=0.01)
        # Histograms without and with eps, each a density.
        assert len(panel["histograms"]) == 2
        for histogram in panel["histograms"].values():
            width = histogram["centers"][1] - histogram["centers"][0]
            assert sum(histogram["density"]) * width == pytest.approx(1.0, abs=0.02)
    # symCE (alpha = 6) is rescaled at 100 classes, as in the paper.
    assert panels[1]["curves"]["symCE"]["scale"] == 6
    assert panels[1]["curves"]["MAE*"]["output_bias"] == 3.0
    assert panels[1]["curves"]["boundCE*"]["output_bias"] == 2.5
    assert set(panels[1]["histograms"]) == {"0", "2.5"}
    # Labels in the loss grammar; a starred curve with eps 0 is "boundCE*0".
    labels = [figure1.curve_labels(panel) for panel in panels]
    assert labels[0]["boundCE*"] == "boundCE*0" and labels[1]["boundCE*"] == "boundCE*2.5"
    assert labels[1]["symCE"] == "symCE / 6"
    assert labels[0]["CE"] == "CE" and labels[1]["MAE*"] == "MAE*3.0"
    # Coinciding curves are named together: boundCE* is boundCE at eps 0;
    # symCE / 6 = CE + MAE / 30 at 100 classes differs from CE by at most
    # a_k (1 - a_k) / 15 <= 1/60, under the tolerance 0.02.
    entries = [figure1.legend_entries(panel) for panel in panels]
    assert "boundCE and boundCE*0 (coincide)" in entries[0]
    assert "CE and symCE / 6 (coincide)" in entries[1]
    assert "CE" not in entries[1] and "symCE / 6" not in entries[1]


def test_chunked_error_equals_one_call():
    z_k = np.linspace(-3.0, 3.0, 7)
    whole = keras_robust.analysis.labelled_neuron_error("actpas1", 10, z_k, num_draws=3, seed=2)
    chunked = figure1.labelled_neuron_error_in_chunks(
        keras_robust.losses.get("actpas1", from_logits=True), 10, z_k, 3, 2,
        max_elements=2 * 3 * 10,  # two z_k values per chunk
    )
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-7)


def test_errors_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="num_points"):
        figure1.make_figure1(str(tmp_path), num_points=1)
    with pytest.raises(ValueError, match="num_draws"):
        figure1.compute_panel(10, np.zeros(2), num_draws=0)


def test_flags_are_documented():
    flag_values = flags.FlagValues()
    figure1.define_flags(flag_values)
    help_text = flag_values.get_help()
    for name in ("output_dir", "num_draws", "seed", "num_points"):
        assert f"--{name}" in help_text


def test_runs_without_flags(tmp_path):
    # `python -m recipes.figure1` needs no flag: it writes runs/figure1.
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    completed = subprocess.run(
        [sys.executable, "-m", "recipes.figure1", "--num_draws=2", "--num_points=3"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": repo},
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert (tmp_path / "runs" / "figure1" / "figure1.png").stat().st_size > 10_000
    completed = subprocess.run(
        [sys.executable, "-m", "recipes.figure1", "extra"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": repo},
    )
    assert completed.returncode == 2
    assert completed.stderr.strip() == "recipes.figure1: unexpected arguments: extra"
    completed = subprocess.run(
        [sys.executable, "-m", "recipes.figure1", "--num_draws=abc"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": repo},
    )
    assert completed.returncode == 2
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith("recipes.figure1: flag --num_draws=abc: ")
