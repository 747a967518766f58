"""The held-out folds of the trainer and the `estimate_noise` recipe (tiny, on digits)."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import keras_robust
from keras_robust import data
from recipes import config as config_lib
from recipes import main
from recipes import train_lib
from recipes.configs import estimate_noise

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits():
    return data.load_dataset("digits")


def test_a_fold_run_holds_out_every_kth_example_after_drawing_the_noise(digits):
    feed = data.FeedSpec(batch_size=8, noise_rate=0.4, seed=3, train_size=10)
    full = data.prepare_run_data(digits, feed)
    import dataclasses

    fold = data.prepare_run_data(
        digits, dataclasses.replace(feed, num_folds=3, holdout_fold=1)
    )
    np.testing.assert_array_equal(fold.holdout_indices, [1, 4, 7])
    np.testing.assert_array_equal(fold.holdout_images, digits.x_train[[1, 4, 7]])
    kept = [0, 2, 3, 5, 6, 8, 9]
    np.testing.assert_array_equal(fold.x_train, digits.x_train[kept])
    np.testing.assert_array_equal(fold.y_train, full.y_train[kept])
    np.testing.assert_array_equal(fold.noisy_labels, full.noisy_labels[kept])
    np.testing.assert_array_equal(fold.noise_mask, full.noise_mask[kept])
    assert fold.steps_per_epoch == 1 and full.holdout_indices is None
    with pytest.raises(ValueError, match=r"`holdout_fold` must be an integer in \[0, 3\)"):
        data.prepare_run_data(digits, dataclasses.replace(feed, num_folds=3, holdout_fold=3))


def test_config_resolves_one_run_per_fold():
    specs = main.resolve_specs(main.load_config("estimate_noise:folds=3"), [])
    assert [(spec.num_folds, spec.holdout_fold) for spec in specs] == [(3, 0), (3, 1), (3, 2)]
    assert {(spec.dataset, spec.loss, spec.noise_rate, spec.epochs) for spec in specs} == {
        ("digits", "ce", 0.4, 10)
    }
    with pytest.raises(main.cli.UsageError, match="folds=1: expected an integer >= 2"):
        main.load_config("estimate_noise:folds=1")


def test_describe_loss_names_the_loss_its_hyperparameters_and_eps():
    assert estimate_noise.describe_loss(keras_robust.losses.recommend(0.2, 10)) == (
        "genCE q=0.7, eps 0"
    )
    assert estimate_noise.describe_loss(keras_robust.losses.recommend(0.0, 10)) == (
        "biTemp t1=0.8 t2=1.2 label_smoothing=0 num_iters=5, eps 0"
    )
    assert estimate_noise.describe_loss(keras_robust.losses.recommend(0.0, 100)) == (
        "boundCE*2.5, eps 2.5"
    )


def test_end_to_end_two_folds_on_digits(tmp_path, digits):
    workdir = tmp_path / "estimate"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ran = subprocess.run(
        [sys.executable, "-m", "recipes.main", "--config=estimate_noise:folds=2",
         f"--workdir={workdir}", "--config.train_size=200", "--config.epochs=1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    specs = main.resolve_specs(
        main.load_config("estimate_noise:folds=2"),
        [("train_size", "200"), ("epochs", "1")],
    )
    # Every example has one row, from the model that did not train on it.
    saved = [np.load(workdir / spec.run_id / train_lib.HOLDOUT_FILENAME) for spec in specs]
    np.testing.assert_array_equal(saved[0]["indices"], np.arange(0, 200, 2))
    np.testing.assert_array_equal(saved[1]["indices"], np.arange(1, 200, 2))
    probabilities = np.empty((200, 10))
    for fold in saved:
        assert fold["probabilities"].shape == (100, 10)
        np.testing.assert_allclose(fold["probabilities"].sum(axis=1), 1.0, atol=1e-5)
        probabilities[fold["indices"]] = fold["probabilities"]
    full = data.prepare_run_data(digits, config_lib.resolve(
        {**specs[0].settings, "num_folds": 1, "holdout_fold": None}
    ).feed)
    rate = keras_robust.estimate_noise(full.noisy_labels, probabilities).noise_rate
    wrong = np.mean(full.noisy_labels != full.y_train)
    eta = min(1.0, rate * 10 / 9)  # the redrawn fraction that leaves `rate` wrong
    chosen = estimate_noise.describe_loss(keras_robust.losses.recommend(eta, 10))
    lines = ran.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Noise estimate of digits"))
    assert lines[start + 1:start + 6] == [
        f"estimated fraction of wrong labels: {rate:.4f}",
        f"true fraction of wrong labels:      {wrong:.4f} (error {rate - wrong:+.4f})",
        f"estimated noise rate (redrawn):     {eta:.4f} (wrong x c/(c-1))",
        f"set noise rate:                     0.4000 (error {eta - 0.4:+.4f})",
        f"recommend({eta:.4f}, 10) chooses: {chosen}",
    ]
    assert "2-fold out-of-sample probabilities of 200 training examples" in lines[start]
