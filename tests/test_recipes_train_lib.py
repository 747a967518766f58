"""Tests of recipes.train_lib.train_and_evaluate on the offline "digits" set."""

import os
import time

import keras
import numpy as np
import pytest

from keras_robust import data
from recipes import checkpoint
from recipes import config as config_lib
from recipes import results
from recipes import train_lib


def tiny_spec(**fields):
    config = config_lib.get_default_config()
    config.dataset, config.model, config.loss = "digits", "mlp1024", "mae*"
    config.noise_rate = 0.4
    config.epochs = 3
    config.learning_rate = 0.05
    config.train_size = 128
    config.verbose = 0
    return config_lib.resolve(config_lib.override(config, fields))


def kill_and_resume(spec, workdir, kill_after, data=None):
    with pytest.raises(KeyboardInterrupt):
        train_lib.train_and_evaluate(spec, workdir, data=data, callbacks=[kill_after(2)])
    assert not os.path.exists(workdir / results.RESULTS_FILENAME)
    loaded = checkpoint.load(checkpoint.checkpoint_dir(workdir))
    assert loaded.state["epoch"] == 2 and loaded.state["history"]["epoch"] == [1, 2]
    return train_lib.train_and_evaluate(spec, workdir, data=data)


def test_killed_and_resumed_run_is_bit_identical(tmp_path, kill_after):
    spec = tiny_spec()
    straight = train_lib.train_and_evaluate(spec, tmp_path / "straight")
    resumed = kill_and_resume(spec, tmp_path / "killed", kill_after)
    assert resumed.history["epoch"] == [1, 2, 3]
    assert resumed.history == straight.history
    assert resumed.final == straight.final
    assert not os.path.exists(checkpoint.checkpoint_dir(tmp_path / "killed"))
    assert resumed.settings == spec.settings
    assert set(resumed.versions) == {"keras", "tensorflow", "keras_robust", "backend"}
    assert 0.0 <= straight.false_label_accuracy <= 1.0
    # The schedule of the MLP protocol: times 0.95 per epoch.
    np.testing.assert_allclose(
        straight.history["learning_rate"], [0.05, 0.05 * 0.95, 0.05 * 0.95**2]
    )


def test_finished_run_is_not_redone_and_other_settings_are_refused(tmp_path):
    spec = tiny_spec(epochs=1, noise_rate=0.0)
    first = train_lib.train_and_evaluate(spec, tmp_path)
    assert first.false_label_accuracy is None
    path = tmp_path / results.RESULTS_FILENAME
    mtime = os.stat(path).st_mtime_ns
    assert train_lib.train_and_evaluate(spec, tmp_path) == first
    assert os.stat(path).st_mtime_ns == mtime

    changed = tiny_spec(epochs=1, noise_rate=0.0, learning_rate=0.01)
    with pytest.raises(results.SettingsMismatchError, match="learning_rate=0.05 there"):
        train_lib.train_and_evaluate(changed, tmp_path)
    assert os.stat(path).st_mtime_ns == mtime


def test_a_checkpoint_of_other_settings_is_refused(tmp_path, kill_after):
    with pytest.raises(KeyboardInterrupt):
        train_lib.train_and_evaluate(tiny_spec(), tmp_path, callbacks=[kill_after(1)])
    with pytest.raises(results.SettingsMismatchError, match="seed=0 there, 1 here"):
        train_lib.train_and_evaluate(tiny_spec(seed=1), tmp_path)


def test_damaged_results_are_set_aside_and_the_run_redone(tmp_path):
    spec = tiny_spec(epochs=1, train_size=64)
    (tmp_path / results.RESULTS_FILENAME).write_text('{"run_id": ')
    with pytest.warns(UserWarning, match="set aside"):
        result = train_lib.train_and_evaluate(spec, tmp_path)
    assert result == results.read(tmp_path)
    assert (tmp_path / "results.json.damaged").read_text() == '{"run_id": '


@pytest.mark.parametrize("damage", ["truncated variables", "missing variables", "bad state"])
def test_a_damaged_checkpoint_is_set_aside_and_the_run_starts_over(tmp_path, kill_after, damage):
    spec = tiny_spec(epochs=2, train_size=64)
    clean = train_lib.train_and_evaluate(spec, tmp_path / "clean")
    run_dir = tmp_path / "damaged"
    with pytest.raises(KeyboardInterrupt):
        train_lib.train_and_evaluate(spec, run_dir, callbacks=[kill_after(1)])
    directory = run_dir / checkpoint.CHECKPOINT_DIRNAME
    (variables,) = directory.glob("epoch-*.variables.npz")
    if damage == "truncated variables":
        variables.write_bytes(variables.read_bytes()[:100])
    elif damage == "missing variables":
        variables.unlink()
    else:
        (directory / checkpoint.STATE_FILENAME).write_text('{"epoch": 1, "sett')
    # A kill during a write leaves its temporary file behind.
    (run_dir / ".tmp-abc123results.json").write_text("{")
    (directory / ".tmp-def456state.json").write_text("{")
    with pytest.warns(UserWarning) as warned:
        resumed = train_lib.train_and_evaluate(spec, run_dir)
    messages = [str(warning.message) for warning in warned]
    assert any(
        message.startswith("Damaged checkpoint ") and f"set aside as {directory}.damaged" in message
        for message in messages
    ), messages
    assert any("Removed 2 temporary files of interrupted writes" in m for m in messages), messages
    assert (run_dir / "checkpoint.damaged").is_dir()
    assert not list(run_dir.glob(".tmp-*"))
    assert resumed.history == clean.history and resumed.final == clean.final


def test_eval_every_evaluates_every_nth_and_the_last_epoch(tmp_path):
    every_epoch = train_lib.train_and_evaluate(tiny_spec(), tmp_path / "a")
    sparse = train_lib.train_and_evaluate(tiny_spec(eval_every=2), tmp_path / "b")
    assert sparse.history["test_accuracy"][0] is None
    assert sparse.history["false_label_accuracy"][0] is None
    # The evaluated epochs are those of the per-epoch run: same training.
    for key in ("test_accuracy", "false_label_accuracy", "train_loss"):
        assert sparse.history[key][1:] == every_epoch.history[key][1:]
    assert sparse.final == every_epoch.final


def test_steps_per_execution_must_divide_the_epoch(tmp_path):
    # 128 images in batches of 32: 4 steps per epoch.
    with pytest.raises(config_lib.ConfigError, match=r"steps_per_execution=3: .*: 1, 2, 4$"):
        train_lib.train_and_evaluate(tiny_spec(steps_per_execution=3), tmp_path)
    result = train_lib.train_and_evaluate(tiny_spec(epochs=1, steps_per_execution=2), tmp_path)
    assert result.history["epoch"] == [1]


def test_mixed_precision_policy_is_restored(tmp_path):
    spec = tiny_spec(epochs=1, train_size=64, mixed_precision="mixed_bfloat16")
    result = train_lib.train_and_evaluate(spec, tmp_path)
    assert np.isfinite(result.train_loss)
    assert keras.config.dtype_policy().name == "float32"


def test_augmentation_in_the_model_resumes_exactly(tmp_path, kill_after):
    # CIFAR-10 shapes and policy (flip + crop inside the model), random data.
    rng = np.random.default_rng(0)
    fake = data.Dataset(
        data.get_spec("cifar10"),
        rng.integers(0, 256, (48, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, 48),
        rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, 16),
    )
    fields = dict(
        dataset="cifar10", loss="gce", noise_rate=0.5, batch_size=16,
        learning_rate=0.01, augment=True, train_size=None,
    )
    spec = tiny_spec(**fields)
    straight = train_lib.train_and_evaluate(spec, tmp_path / "straight", data=fake)
    resumed = kill_and_resume(spec, tmp_path / "killed", kill_after, data=fake)
    assert resumed.history == straight.history
    # Another seed draws other crops: the augmentation is really applied.
    other = train_lib.train_and_evaluate(
        tiny_spec(**fields, seed=1), tmp_path / "other", data=fake
    )
    assert other.history["train_loss"] != straight.history["train_loss"]


def test_saved_model_loads_and_predicts_like_the_trained_one(tmp_path):
    spec = tiny_spec(epochs=1, train_size=64, save_model=True)
    train_lib.train_and_evaluate(spec, tmp_path)
    model = keras.models.load_model(tmp_path / train_lib.MODEL_FILENAME)
    run_data = train_lib.load_data(spec)
    images = run_data.x_test[:8]
    logits = model.predict(images, verbose=0)
    assert logits.shape == (8, 10)
    # Raw uint8 in: the model normalises (and, in training only, augments).
    accuracy = model.evaluate(run_data.test_dataset(), verbose=0, return_dict=True)
    assert accuracy["accuracy"] == pytest.approx(results.read(tmp_path).test_accuracy)


def test_a_finished_run_leaves_no_graphs_behind(tmp_path):
    # TensorFlow's custom-gradient registry used to keep every run's train
    # graph alive (tensorflow/tensorflow#97697): a sweep worker grew per run.
    import gc

    from tensorflow.python.framework import func_graph
    from tensorflow.python.framework import ops as tf_ops

    def live_graphs():
        gc.collect()
        return sum(
            isinstance(obj, func_graph.FuncGraph) for obj in gc.get_objects()
        )

    def custom_gradients():
        return {
            name for name in tf_ops._gradient_registry.list()
            if name.startswith("CustomGradient-")
        }

    registered = custom_gradients()
    train_lib.train_and_evaluate(tiny_spec(epochs=1, train_size=64), tmp_path / "a")
    graphs_after_one_run = live_graphs()
    train_lib.train_and_evaluate(tiny_spec(epochs=1, train_size=64), tmp_path / "b")
    assert live_graphs() == graphs_after_one_run
    assert custom_gradients() == registered


def test_a_dataset_of_another_name_is_refused(tmp_path):
    digits = data.load_dataset("digits")
    with pytest.raises(ValueError, match="a dataset of 'digits'"):
        train_lib.train_and_evaluate(tiny_spec(dataset="cifar10"), tmp_path, data=digits)
    assert not os.path.exists(tmp_path / results.RESULTS_FILENAME)


def test_evaluation_equals_keras_evaluate_per_batch():
    # Batches of 100 over 360 test and the false-label images: the joined
    # set is padded to whole batches, and each part counted on its own.
    spec = tiny_spec(epochs=1, train_size=64)
    keras.utils.set_random_seed(0)
    run_data = train_lib.load_data(spec)
    run_data.eval_batch_size = 100
    model = train_lib.build_model(spec, run_data)
    train_lib.compile_model(spec, model)
    model.fit(run_data.train_dataset(), epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
    evaluation = train_lib.Evaluation(run_data)
    assert len(evaluation.images) % 100 == 0
    assert len(evaluation.images) > len(evaluation.labels)  # padded
    expected = [
        model.evaluate(dataset, verbose=0, return_dict=True)["accuracy"]
        for dataset in (run_data.test_dataset(), run_data.false_label_dataset())
    ]
    assert evaluation(model) == tuple(float(value) for value in expected)
    assert 0.0 < expected[0] < 1.0  # not a degenerate model


def test_evaluation_without_noise_has_no_false_label_accuracy():
    spec = tiny_spec(epochs=1, train_size=64, noise_rate=0.0)
    run_data = train_lib.load_data(spec)
    model = train_lib.build_model(spec, run_data)
    train_lib.compile_model(spec, model)
    test_accuracy, false_label_accuracy = train_lib.Evaluation(run_data)(model)
    assert false_label_accuracy is None
    assert test_accuracy == pytest.approx(
        model.evaluate(run_data.test_dataset(), verbose=0, return_dict=True)["accuracy"]
    )


def test_a_killed_run_waits_for_the_checkpoint_being_written(tmp_path, kill_after, monkeypatch):
    # The checkpoint of the last finished epoch is written in the background;
    # an interrupted `fit` still leaves it on disk.
    write = checkpoint.write

    def slow_write(*args):
        time.sleep(0.5)
        write(*args)

    monkeypatch.setattr(checkpoint, "write", slow_write)
    with pytest.raises(KeyboardInterrupt):
        train_lib.train_and_evaluate(
            tiny_spec(train_size=64), tmp_path, callbacks=[kill_after(2)]
        )
    loaded = checkpoint.load(checkpoint.checkpoint_dir(tmp_path))
    assert loaded.state["epoch"] == 2 and loaded.state["history"]["epoch"] == [1, 2]
