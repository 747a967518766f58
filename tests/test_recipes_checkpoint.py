"""Tests of recipes.checkpoint: save, load, restore, delete."""

import json
import os

import keras
import numpy as np
import pytest

import zoo
from recipes import checkpoint


def compiled_model(model_name="mlp1024", seed=0):
    keras.utils.set_random_seed(seed)
    model = zoo.build(model_name, (8, 8, 1), 10)
    model.compile(optimizer=zoo.TorchSGD(learning_rate=0.1, momentum=0.9), loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def values(model):
    return [keras.ops.convert_to_numpy(v.value) for v in [*model.variables, *model.optimizer.variables]]


def state(epoch):
    return {"settings": {"seed": 0}, "epoch": epoch, "history": {"epoch": [epoch]},
            "wall_seconds": 1.0}


def test_save_load_restore_round_trip(tmp_path):
    saved = compiled_model(seed=0)
    saved.optimizer.iterations.assign(7)
    checkpoint.save(tmp_path, saved, state(1))
    checkpoint.save(tmp_path, saved, state(2))
    # Only the last epoch's variables are kept.
    assert sorted(os.listdir(tmp_path)) == ["epoch-00002.variables.npz", "state.json"]

    loaded = checkpoint.load(tmp_path)
    assert loaded.state["epoch"] == 2 and loaded.state["history"] == {"epoch": [2]}
    restored = compiled_model(seed=1)
    assert not all(np.array_equal(a, b) for a, b in zip(values(saved), values(restored)))
    checkpoint.restore(restored, loaded)
    for a, b in zip(values(saved), values(restored)):
        np.testing.assert_array_equal(a, b)
    assert int(restored.optimizer.iterations.numpy()) == 7

    checkpoint.delete(tmp_path)
    assert not tmp_path.exists()
    assert checkpoint.load(tmp_path) is None


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    checkpoint.save(tmp_path, compiled_model("mlp1024"), state(1))
    with pytest.raises(ValueError, match="other variables than the model's"):
        checkpoint.restore(compiled_model("resnet32"), checkpoint.load(tmp_path))


def test_damaged_checkpoints_are_named(tmp_path):
    checkpoint.save(tmp_path, compiled_model(), state(1))
    variables = tmp_path / "epoch-00001.variables.npz"
    variables.write_bytes(variables.read_bytes()[:100])
    with pytest.raises(checkpoint.DamagedCheckpointError, match=str(variables)):
        checkpoint.load(tmp_path)
    (tmp_path / "state.json").write_text(json.dumps({"epoch": 1}))
    with pytest.raises(checkpoint.DamagedCheckpointError, match="state.json"):
        checkpoint.load(tmp_path)


def test_save_every_epoch_writes_a_snapshot_in_the_background(tmp_path):
    model = compiled_model()
    history = {"epoch": [1]}
    saver = checkpoint.SaveEveryEpoch(tmp_path, {"seed": 0}, history, lambda: 2.5)
    saver.set_model(model)
    saver.on_epoch_end(0)
    expected = values(model)
    # The next epoch changes the model and the history while the file is written.
    for variable in model.trainable_variables:
        variable.assign(variable + 1.0)
    history["epoch"].append(2)
    saver.on_train_end()
    loaded = checkpoint.load(tmp_path)
    assert loaded.state["epoch"] == 1 and loaded.state["history"] == {"epoch": [1]}
    assert loaded.state["wall_seconds"] == 2.5
    for a, b in zip(expected, loaded.values):
        np.testing.assert_array_equal(a, b)


def test_a_failed_background_write_is_raised_by_wait(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    saver = checkpoint.SaveEveryEpoch(blocker, {}, {}, lambda: 0.0)
    saver.set_model(compiled_model())
    saver.on_epoch_end(0)
    with pytest.raises(OSError):
        saver.wait()
    saver.wait()  # raised once; nothing in flight any more
