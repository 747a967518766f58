"""Human label noise (CIFAR-N) through the recipes: config, data, run, report.

Offline: TFDS's `cifar10_n` is replaced by `tfds.testing.mock_data` with
examples built here whose human labels differ from the clean ones at known
places (`WRONG`), so the measured rates are hand-counted.
"""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from keras_robust import data
from recipes import blocks
from recipes import config as config_lib
from recipes import report
from recipes import results

tfds = pytest.importorskip("tensorflow_datasets")
tf = pytest.importorskip("tensorflow")

ROOT = pathlib.Path(__file__).resolve().parents[1]
NUM_TRAIN = 20
CLEAN = np.arange(NUM_TRAIN) % 10
# Per label set, the training examples whose human label is wrong.
WRONG = {
    "aggre": [0, 1],
    "random1": [2, 3, 4, 5],
    "random2": [0, 5, 10, 15],
    "random3": [],
    "worse": [0, 1, 2, 3, 4, 5, 6, 7],
}
FEATURES = {
    "aggre": "aggre_label", "random1": "random_label1", "random2": "random_label2",
    "random3": "random_label3", "worse": "worse_label",
}


def human(label_set):
    labels = CLEAN.copy()
    labels[WRONG[label_set]] = (labels[WRONG[label_set]] + 3) % 10
    return labels


def as_dataset(self, split, **kwargs):
    """CIFAR-10N-like examples: random images, clean labels 0..9 twice."""
    del self, kwargs
    rng = np.random.default_rng(0 if str(split).startswith("train") else 1)
    if str(split).startswith("train"):
        features = {
            "image": rng.integers(0, 256, (NUM_TRAIN, 32, 32, 3), dtype=np.uint8),
            "label": CLEAN,
        }
        features.update({FEATURES[name]: human(name) for name in WRONG})
    else:
        features = {
            "image": rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8),
            "label": np.arange(10),
        }
    return tf.data.Dataset.from_tensor_slices(features)


@pytest.fixture(scope="module")
def cifar10_n():
    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        return data.load_dataset("cifar10_n", download=False)


def human_config(**fields):
    config = config_lib.get_default_config()
    config.update(dict(
        dataset="cifar10_n", model="mlp1024", noise_kind="human",
        noise_label_set="aggre",
    ))
    config.update(fields)
    return config


def test_label_set_is_resolved_checked_and_named_in_the_run_id():
    spec = config_lib.resolve(human_config())
    assert spec.noise_label_set == "aggre" and spec.noise_rate == 0.0
    assert spec.run_id == "cifar10_n-mlp1024-ce-human-aggre-seed0"
    assert spec.feed.label_set == "aggre" and spec.feed.noise_kind == "human"
    assert config_lib.RunSpec.from_settings(spec.settings) == spec
    # Another label set is another run; synthetic runs keep their ids.
    assert config_lib.resolve(human_config(noise_label_set="worse")).run_id == (
        "cifar10_n-mlp1024-ce-human-worse-seed0"
    )
    synthetic = config_lib.get_default_config()
    synthetic.update(dict(dataset="digits", model="mlp1024", noise_rate=0.4))
    assert config_lib.resolve(synthetic).run_id == "digits-mlp1024-ce-sym0.4-seed0"


@pytest.mark.parametrize("fields, message", [
    (dict(noise_label_set="noisy"),
     "config.noise_label_set='noisy': expected one of aggre, random1, random2, "
     "random3, worse"),
    (dict(noise_label_set=None),
     "config.noise_label_set=None: expected one of aggre, random1, random2, "
     "random3, worse"),
    (dict(noise_rate=0.2),
     "config.noise_rate=0.2: expected 0 with human noise: its rate is measured "
     "from the label set"),
    (dict(dataset="cifar10"),
     "config.noise_kind='human': needs cifar10_n or cifar100_n"),
    (dict(noise_kind="symmetric"),
     "config.noise_label_set='aggre': expected None unless noise_kind='human'"),
    (dict(num_folds=4),
     "config.holdout_fold=None: expected an integer in [0, 4) with num_folds=4"),
    (dict(num_folds=4, holdout_fold=4),
     "config.holdout_fold=4: expected an integer in [0, 4) with num_folds=4"),
    (dict(holdout_fold=0), "config.holdout_fold=0: expected None with num_folds=1"),
    (dict(num_folds=0), "config.num_folds=0: expected a positive integer"),
])
def test_bad_human_noise_settings_are_one_line(fields, message):
    with pytest.raises(config_lib.ConfigError) as raised:
        config_lib.resolve(human_config(**fields))
    assert str(raised.value) == message
    cifar100 = human_config(dataset="cifar100_n", model="resnet34",
                            noise_label_set="noisy")
    assert config_lib.resolve(cifar100).run_id.endswith("-human-noisy-seed0")


@pytest.mark.parametrize("label_set", sorted(WRONG))
def test_run_data_trains_on_the_chosen_label_set(cifar10_n, label_set):
    spec = config_lib.resolve(human_config(noise_label_set=label_set, train_size=12))
    run_data = data.prepare_run_data(cifar10_n, spec.feed)
    np.testing.assert_array_equal(run_data.noisy_labels, human(label_set)[:12])
    np.testing.assert_array_equal(run_data.y_train, CLEAN[:12])
    wrong = [index for index in WRONG[label_set] if index < 12]
    np.testing.assert_array_equal(np.flatnonzero(run_data.noise_mask), wrong)


def test_both_data_paths_feed_the_human_labels(cifar10_n):
    feed = config_lib.resolve(human_config(noise_label_set="random2", batch_size=20)).feed
    for run_data in (data.make_pipelines(cifar10_n, feed),
                     data.make_resident_data(cifar10_n, feed)):
        np.testing.assert_array_equal(run_data.noisy_labels, human("random2"))
        np.testing.assert_array_equal(np.flatnonzero(run_data.noise_mask), WRONG["random2"])
        [(_, labels)] = [batch for batch in run_data.false_label_dataset()]
        np.testing.assert_array_equal(np.asarray(labels), CLEAN[WRONG["random2"]])


def run_main(cwd, *args):
    """`recipes.main` in a new process whose TFDS serves `as_dataset`."""
    program = (
        "import sys, tensorflow_datasets as tfds\n"
        "from tests import test_recipes_human_noise as mock\n"
        "from recipes import main\n"
        "sys.argv = ['recipes.main', *sys.argv[1:]]\n"
        "with tfds.testing.mock_data(as_dataset_fn=mock.as_dataset):\n"
        "    main.run()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", program, *args], cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
        text=True, timeout=300,
    )


def test_end_to_end_run_records_the_measured_rate_and_false_labels(tmp_path, cifar10_n):
    workdir = tmp_path / "run"
    trained = run_main(
        tmp_path, "--config=default", f"--workdir={workdir}",
        "--config.dataset=cifar10_n", "--config.model=mlp1024",
        "--config.noise_kind=human", "--config.noise_label_set=worse",
        "--config.train_size=10", "--config.batch_size=5", "--config.epochs=1",
        "--config.save_model=True", "--config.verbose=2",
    )
    assert trained.returncode == 0, trained.stderr
    # 8 of the first 10 `worse` labels are wrong (8 of all 20: 40 %).
    assert (
        "Human label set 'worse' of cifar10_n: 80.00% of the 10 training labels "
        "are wrong." in trained.stdout
    )
    result = results.read(workdir)
    assert result.run_id == "cifar10_n-mlp1024-ce-human-worse-seed0-" + result.run_id[-10:]
    assert result.settings["noise_label_set"] == "worse"
    assert result.measured_noise_rate == 0.8
    # The false-label accuracy is the model's on those 8 images, true labels.
    import keras

    import keras_robust  # noqa: F401  (registers the loss and layers)
    import zoo  # noqa: F401

    model = keras.models.load_model(workdir / "model.keras")
    predicted = np.argmax(model.predict(cifar10_n.x_train[:8], verbose=0), axis=-1)
    assert result.false_label_accuracy == pytest.approx(np.mean(predicted == CLEAN[:8]))

    # The report: a human-noise block of its own, columns by label set,
    # headed by the measured rate, compared with no paper table.
    [block] = blocks.group_blocks([result])
    assert (block.noise_kind, block.kind, block.columns) == ("human", "label_set", ["worse"])
    assert block.paper_table is None and block.comparable_table is None
    markdown = report.markdown_report([result])
    assert "## cifar10_n, mlp1024, human noise (CIFAR-N label sets; not in the paper)" in markdown
    assert "| Loss | worse (80.00 % wrong) |" in markdown
    assert "Ranking" not in markdown and "Top-mean-acc" not in markdown


def test_results_without_the_measured_rate_still_read(tmp_path):
    spec = config_lib.resolve(human_config())
    history = {key: [0.5] for key in results.HISTORY_KEYS}
    result = results.RunResult.from_history(spec, history, 1.0, {}, 0.25)
    results.write(tmp_path, result)
    assert results.read(tmp_path).measured_noise_rate == 0.25
    stored = result.to_dict()
    del stored["measured_noise_rate"]
    import json

    (tmp_path / "results.json").write_text(json.dumps(stored))
    assert results.read(tmp_path).measured_noise_rate is None
