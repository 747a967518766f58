"""Tests of recipes.tensorboard_events: read back with TensorBoard's own reader."""

import os

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.backend.event_processing import event_multiplexer

from recipes import results
from recipes import tensorboard_events

# Four epochs of a noisy run evaluated every other epoch (None in between).
HISTORY = {
    "epoch": [1, 2, 3, 4],
    "train_loss": [2.25, 1.5, 1.125, 0.75],
    "test_accuracy": [None, 0.5, None, 0.8125],
    "false_label_accuracy": [None, 0.25, None, 0.125],
    "learning_rate": [0.1, 0.1, 0.01, 0.01],
}


def curves(run_dir):
    """`{tag: [(step, value)]}` as TensorBoard reads the run directory."""
    accumulator = event_accumulator.EventAccumulator(os.fspath(run_dir))
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }


def expected_curves(history):
    return {
        key: [(epoch, np.float32(value)) for epoch, value in zip(history["epoch"], history[key])
              if value is not None]
        for key in tensorboard_events.SCALAR_KEYS
    }


def train(run_dir, history, upto):
    """Runs the callback as `model.fit` would, the metrics appending each epoch first."""
    callback = tensorboard_events.EpochEvents(run_dir, history)
    callback.on_train_begin()
    for epoch in range(len(history["epoch"]), upto):
        for key in results.HISTORY_KEYS:
            history[key].append(HISTORY[key][epoch])
        callback.on_epoch_end(epoch)


def first(epochs):
    return {key: list(values[:epochs]) for key, values in HISTORY.items()}


def test_events_equal_the_history(tmp_path):
    history = first(0)
    train(tmp_path, history, 4)
    assert history == HISTORY
    assert curves(tmp_path) == expected_curves(HISTORY)
    assert set(curves(tmp_path)) == set(tensorboard_events.SCALAR_KEYS)


def test_resume_continues_without_duplicates(tmp_path):
    train(tmp_path, first(0), 2)
    # Resumed from the checkpoint of epoch 2: the history holds epochs 1-2.
    train(tmp_path, first(2), 4)
    assert len(tensorboard_events.events_files(tmp_path)) == 2
    assert tensorboard_events.read_epochs(tmp_path) == [1, 2, 3, 4]
    assert curves(tmp_path) == expected_curves(HISTORY)


def test_resume_after_a_kill_before_the_checkpoint_rewrites(tmp_path):
    # Epoch 3's events were written, its checkpoint was not: resumed after epoch 2.
    train(tmp_path, first(0), 3)
    train(tmp_path, first(2), 4)
    assert tensorboard_events.read_epochs(tmp_path) == [1, 2, 3, 4]
    assert curves(tmp_path) == expected_curves(HISTORY)
    # A checkpoint set aside: the run starts over from an empty history.
    train(tmp_path, first(0), 1)
    assert tensorboard_events.read_epochs(tmp_path) == [1]


def test_record_cut_short_by_a_kill_is_written_again(tmp_path):
    train(tmp_path, first(0), 3)
    [path] = tensorboard_events.events_files(tmp_path)
    os.truncate(path, os.path.getsize(path) - 5)  # epoch 3's record cut short
    assert tensorboard_events.read_epochs(tmp_path) == [1, 2]
    train(tmp_path, first(3), 4)
    assert tensorboard_events.read_epochs(tmp_path) == [1, 2, 3, 4]
    assert curves(tmp_path) == expected_curves(HISTORY)


@pytest.mark.parametrize("epochs", [0, 2])
def test_start_lists_the_run_at_once(tmp_path, epochs):
    train(tmp_path, first(epochs), epochs)
    assert tensorboard_events.read_epochs(tmp_path) == HISTORY["epoch"][:epochs]
    assert len(tensorboard_events.events_files(tmp_path)) == 1


def test_tensorboard_names_each_run_of_a_sweep_by_its_run_id(tmp_path):
    run_ids = ["digits-mlp1024-ce-sym0.4-seed0", "digits-mlp1024-mae-sym0.4-seed0"]
    for run_id in run_ids:
        train(tmp_path / run_id, first(0), 2)
        (tmp_path / run_id / "checkpoint").mkdir()
    multiplexer = event_multiplexer.EventMultiplexer().AddRunsFromDirectory(os.fspath(tmp_path))
    multiplexer.Reload()
    assert sorted(multiplexer.Runs()) == run_ids
    for run_id in run_ids:
        scalars = multiplexer.Runs()[run_id]["scalars"]
        assert sorted(scalars) == sorted(tensorboard_events.SCALAR_KEYS)


def test_a_killed_and_resumed_run_has_its_history_as_events(tmp_path, kill_after):
    from recipes import config as config_lib
    from recipes import train_lib

    spec = config_lib.resolve({
        "dataset": "digits", "model": "mlp1024", "loss": "ce", "noise_rate": 0.4,
        "epochs": 3, "eval_every": 2, "train_size": 64, "verbose": 0,
    })
    with pytest.raises(KeyboardInterrupt):
        train_lib.train_and_evaluate(spec, tmp_path, callbacks=[kill_after(2)])
    assert tensorboard_events.read_epochs(tmp_path) == [1, 2]
    result = train_lib.train_and_evaluate(spec, tmp_path)
    assert tensorboard_events.read_epochs(tmp_path) == [1, 2, 3]
    assert curves(tmp_path) == expected_curves(results.read(tmp_path).history)
    assert result.history["test_accuracy"][0] is None
