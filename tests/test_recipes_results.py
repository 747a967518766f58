"""Tests of recipes.results, the one record of results.json."""

import json
import os

import pytest

from recipes import config as config_lib
from recipes import results


def make_spec(**fields):
    config = config_lib.get_default_config()
    config.dataset, config.model, config.loss = "digits", "mlp1024", "gce"
    for name, value in fields.items():
        config[name] = value
    return config_lib.resolve(config)


def make_result(spec, test_accuracies=(0.5, 0.75)):
    epochs = len(test_accuracies)
    history = {
        "epoch": list(range(1, epochs + 1)),
        "train_loss": [1.0 / epoch for epoch in range(1, epochs + 1)],
        "test_accuracy": list(test_accuracies),
        "false_label_accuracy": [0.25] * epochs,
        "learning_rate": [0.01 * 0.95**epoch for epoch in range(epochs)],
    }
    return results.RunResult.from_history(
        spec, history, wall_seconds=3.5, versions={"keras": "3"}
    )


def test_write_then_read_round_trip(tmp_path):
    spec = make_spec(noise_rate=0.4, epochs=2)
    result = make_result(spec)
    path = results.write(tmp_path, result)
    assert path == os.path.join(tmp_path, results.RESULTS_FILENAME)
    again = results.read(tmp_path)
    assert again == results.read(path) == result
    assert again.test_accuracy == 0.75 and again.false_label_accuracy == 0.25
    assert again.train_loss == 0.5
    assert again.run_id == spec.run_id == "digits-mlp1024-gce-sym0.4-seed0-e2826b0417"
    assert again.settings == spec.settings
    assert set(json.loads((tmp_path / "results.json").read_text())) == {
        "run_id", "settings", "history", "final", "wall_seconds", "versions",
        "measured_noise_rate",
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
    for spec in [make_spec(seed=seed) for seed in (2, 0, 1)]:
        results.write(tmp_path / "sweep" / spec.run_id, make_result(spec))
    damaged = tmp_path / "sweep" / "broken" / "results.json"
    damaged.parent.mkdir()
    damaged.write_text("{")
    with pytest.warns(UserWarning, match="broken"):
        loaded = results.load_all(tmp_path)
    assert [result.settings["seed"] for result in loaded] == [0, 1, 2]
    assert results.load_all(tmp_path / "nothing") == []


def test_is_finished_and_settings_mismatch(tmp_path):
    spec = make_spec(epochs=2)
    assert not results.is_finished(tmp_path, spec)
    results.write(tmp_path, make_result(spec))
    assert results.is_finished(tmp_path, spec)
    # Settings that compute nothing else still match.
    assert results.is_finished(tmp_path, make_spec(epochs=2, verbose=0))
    other = make_spec(epochs=2, learning_rate=0.5)
    with pytest.raises(results.SettingsMismatchError) as raised:
        results.is_finished(tmp_path, other)
    message = str(raised.value)
    assert "\n" not in message and str(tmp_path) in message
    assert "learning_rate=0.01 there, 0.5 here" in message


def test_recording_and_checking_a_run_resolves_nothing(tmp_path, monkeypatch):
    spec, other = make_spec(epochs=2), make_spec(epochs=3)

    def resolve(config):
        raise AssertionError("resolved again")

    monkeypatch.setattr(config_lib, "resolve", resolve)
    results.write(tmp_path, make_result(spec))
    assert results.is_finished(tmp_path, spec)
    with pytest.raises(results.SettingsMismatchError, match="epochs=2 there, 3 here"):
        results.is_finished(tmp_path, other)
