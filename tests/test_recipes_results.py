"""Tests of recipes.results, the one record of results.json."""

import json
import os

import pytest

from recipes import config as config_lib
from recipes import results


def make_config(**fields):
    config = config_lib.get_default_config()
    config.dataset, config.model, config.loss = "digits", "mlp1024", "gce"
    for name, value in fields.items():
        config[name] = value
    return config


def make_result(config, test_accuracies=(0.5, 0.75)):
    epochs = len(test_accuracies)
    history = {
        "epoch": list(range(1, epochs + 1)),
        "train_loss": [1.0 / epoch for epoch in range(1, epochs + 1)],
        "test_accuracy": list(test_accuracies),
        "false_label_accuracy": [0.25] * epochs,
        "learning_rate": [0.01 * 0.95**epoch for epoch in range(epochs)],
    }
    return results.RunResult.from_history(
        config, history, wall_seconds=3.5, versions={"keras": "3"}
    )


def test_write_then_read_round_trip(tmp_path):
    config = make_config(noise_rate=0.4, epochs=2)
    result = make_result(config)
    path = results.write(tmp_path, result)
    assert path == os.path.join(tmp_path, results.RESULTS_FILENAME)
    again = results.read(tmp_path)
    assert again == results.read(path) == result
    assert again.test_accuracy == 0.75 and again.false_label_accuracy == 0.25
    assert again.train_loss == 0.5
    assert again.run_id == config_lib.run_id(config)
    assert again.settings == config_lib.settings(config)
    assert set(json.loads((tmp_path / "results.json").read_text())) == {
        "run_id", "settings", "history", "final", "wall_seconds", "versions"
    }


@pytest.mark.parametrize(
    "text",
    ['{"run_id": "x", "settings": {}', "not json", '{"run_id": "x"}', "[1, 2]"],
)
def test_a_damaged_file_is_named(tmp_path, text):
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(results.DamagedResultsError, match=str(path)):
        results.read(tmp_path)


def test_load_all_finds_every_run_and_skips_damaged_ones(tmp_path):
    configs = [make_config(seed=seed) for seed in (2, 0, 1)]
    for config in configs:
        results.write(tmp_path / "sweep" / config_lib.run_id(config), make_result(config))
    damaged = tmp_path / "sweep" / "broken" / "results.json"
    damaged.parent.mkdir()
    damaged.write_text("{")
    with pytest.warns(UserWarning, match="broken"):
        loaded = results.load_all(tmp_path)
    assert [result.settings["seed"] for result in loaded] == [0, 1, 2]
    assert results.load_all(tmp_path / "nothing") == []


def test_is_finished_and_settings_mismatch(tmp_path):
    config = make_config(epochs=2)
    assert not results.is_finished(tmp_path, config)
    results.write(tmp_path, make_result(config))
    assert results.is_finished(tmp_path, config)
    # Settings that compute nothing else still match.
    assert results.is_finished(tmp_path, config_lib.override(config, {"verbose": 0}))
    other = config_lib.override(config, {"learning_rate": 0.5})
    with pytest.raises(results.SettingsMismatchError) as raised:
        results.is_finished(tmp_path, other)
    message = str(raised.value)
    assert "\n" not in message and str(tmp_path) in message
    assert "learning_rate=0.01 there, 0.5 here" in message
