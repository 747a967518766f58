"""Tests of recipes.runner and recipes.train on the offline "digits" set."""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest
from absl import app
from absl import flags

from keras_robust import data
from recipes import runner
from recipes import train


def tiny_config(**overrides):
    settings = dict(
        noise_rate=0.4,
        seed=0,
        epochs=3,
        learning_rate=0.05,
        train_size=128,
    )
    settings.update(overrides)
    return runner.RunConfig.paper_defaults("digits", "mlp1024", "mae*", **settings)


class _KillAfter(keras.callbacks.Callback):
    """Raises after `epochs` epochs, once they are checkpointed."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt(f"killed after epoch {self.epochs}")


# ---------------------------------------------------------------------------
# RunConfig.
# ---------------------------------------------------------------------------


def test_paper_defaults_resnet():
    config = runner.RunConfig.paper_defaults("cifar10", "resnet32", "mae*", 0.4, 1)
    assert config.loss == "mae" and config.output_bias == 0.5
    assert config.variant == "mae*" and config.label == "MAE* eps=0.5"
    assert (config.epochs, config.batch_size, config.momentum) == (200, 128, 0.9)
    assert config.weight_decay == 1e-4 and config.augment
    assert config.lr_schedule == "step" and config.lr_boundaries == (100, 150)
    assert config.learning_rate_at(99) == pytest.approx(0.1)
    assert config.learning_rate_at(100) == pytest.approx(0.01)
    assert config.learning_rate_at(150) == pytest.approx(0.001)
    assert config.run_id == "cifar10-resnet32-mae_star0.5-sym0.4-seed1"


def test_paper_defaults_mlp_and_table3():
    config = runner.RunConfig.paper_defaults("fashion_mnist", "mlp1024", "gce")
    assert config.learning_rate == 0.01 and config.loss_kwargs == {"q": 0.7}
    assert (config.batch_size, config.momentum, config.weight_decay) == (32, 0.95, 0.0)
    assert config.lr_schedule == "exponential" and not config.augment
    assert config.learning_rate_at(2) == pytest.approx(0.01 * 0.95**2)
    c100 = runner.RunConfig.paper_defaults("cifar100", "resnet34", "boundce*2.5")
    assert (c100.loss, c100.output_bias) == ("boundce", 2.5)
    assert runner.RunConfig.paper_defaults("cifar100", "resnet34", "sce").loss_kwargs == {
        "alpha": 6.0,
        "beta": 0.2,
    }
    # Loss kwargs overrides update the paper's values key by key.
    sce = runner.RunConfig.paper_defaults(
        "cifar10", "resnet32", "sce", loss_kwargs={"beta": 1.0}
    )
    assert sce.loss_kwargs == {"alpha": 0.1, "beta": 1.0}
    # An eps other than the row's gets its own variant key and run id.
    custom = runner.RunConfig.paper_defaults("cifar10", "resnet32", "mae", output_bias=1.0)
    assert custom.variant == "mae*1" and "mae_star1-" in custom.run_id


def test_config_errors():
    with pytest.raises(ValueError, match="Allowed"):
        runner.RunConfig.paper_defaults("mnist", "resnet32", "ce")
    with pytest.raises(ValueError, match="Allowed"):
        runner.RunConfig.paper_defaults("cifar10", "resnet32", "focal")
    with pytest.raises(ValueError, match="learning_rate"):
        runner.RunConfig.paper_defaults("digits", "mlp1024", "ce")
    with pytest.raises(TypeError, match="Unknown RunConfig fields"):
        runner.RunConfig.paper_defaults("cifar10", "resnet32", "ce", epoch=3)
    with pytest.raises(ValueError, match="noise_rate"):
        runner.RunConfig.paper_defaults("cifar10", "resnet32", "ce", noise_rate=1.5)


def test_settings_hash_and_round_trip():
    config = tiny_config()
    again = runner.RunConfig.from_dict(json.loads(json.dumps(dataclasses.asdict(config))))
    assert again == config and again.settings_hash == config.settings_hash
    assert dataclasses.replace(config, data_dir="/x").settings_hash == config.settings_hash
    assert dataclasses.replace(config, epochs=4).settings_hash != config.settings_hash
    assert len({config, again}) == 1


# ---------------------------------------------------------------------------
# run().
# ---------------------------------------------------------------------------


def _kill_and_resume(config, output_dir):
    with pytest.raises(KeyboardInterrupt):
        runner.run(config, output_dir, verbose=0, callbacks=[_KillAfter(2)])
    assert not os.path.exists(runner.results_path(config, output_dir))
    return runner.run(config, output_dir, verbose=0)


def _assert_same_history(resumed, straight):
    assert resumed["history"]["epoch"] == straight["history"]["epoch"]
    for key in ("train_loss", "test_accuracy", "false_label_accuracy", "learning_rate"):
        np.testing.assert_allclose(
            resumed["history"][key], straight["history"][key], rtol=1e-6, atol=0
        )
    assert resumed["final"] == pytest.approx(straight["final"], rel=1e-6)


def test_run_resumes_to_identical_results(tmp_path):
    config = tiny_config()
    straight = runner.run(config, tmp_path / "straight", verbose=0)

    killed_dir = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        runner.run(config, killed_dir, verbose=0, callbacks=[_KillAfter(2)])
    assert not os.path.exists(runner.results_path(config, killed_dir))
    state = json.loads(
        (killed_dir / config.run_id / "checkpoint" / "state.json").read_text()
    )
    assert state["epoch"] == 2 and state["history"]["epoch"] == [1, 2]
    resumed = runner.run(config, killed_dir, verbose=0)

    assert resumed["history"]["epoch"] == [1, 2, 3]
    _assert_same_history(resumed, straight)
    assert not os.path.exists(killed_dir / config.run_id / "checkpoint")
    # The schema.
    assert set(straight) == {
        "settings", "settings_hash", "history", "final", "wall_seconds", "versions",
    }
    assert straight["settings"] == json.loads(json.dumps(dataclasses.asdict(config)))
    assert set(straight["versions"]) == {"keras", "tensorflow", "keras_robust", "backend"}
    assert 0.0 <= straight["final"]["false_label_accuracy"] <= 1.0


def _built_model(config):
    keras.backend.clear_session()
    datasets = runner.load_datasets(config)
    model = runner.build_model(config, datasets)
    runner.compile_model(config, model)
    model.optimizer.build(model.trainable_variables)
    return model


def test_checkpoint_files_and_keras_weights_checkpoints_resume(tmp_path):
    config = tiny_config()
    straight = runner.run(config, tmp_path / "straight", verbose=0)
    killed_dir = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        runner.run(config, killed_dir, verbose=0, callbacks=[_KillAfter(2)])
    checkpoint = killed_dir / config.run_id / "checkpoint"
    assert sorted(os.listdir(checkpoint)) == ["epoch-00002.variables.npz", "state.json"]

    # A checkpoint of keras-robust 0.1 (Keras .weights.h5) still resumes.
    model = _built_model(config)
    runner._load_variables(model, str(checkpoint / "epoch-00002.variables.npz"))
    model.save_weights(str(checkpoint / "epoch-00002.weights.h5"))
    os.remove(checkpoint / "epoch-00002.variables.npz")
    state = json.loads((checkpoint / "state.json").read_text())
    state["weights"] = "epoch-00002.weights.h5"
    (checkpoint / "state.json").write_text(json.dumps(state))
    _assert_same_history(runner.run(config, killed_dir, verbose=0), straight)


def test_checkpoint_of_another_model_is_refused(tmp_path):
    config = tiny_config()
    path = str(tmp_path / "variables.npz")
    runner._save_variables(_built_model(config), path)
    other = _built_model(dataclasses.replace(config, model="resnet32"))
    with pytest.raises(ValueError, match="other variables than the model's"):
        runner._load_variables(other, path)


def test_eval_every_evaluates_every_nth_and_the_last_epoch(tmp_path):
    every_epoch = runner.run(tiny_config(epochs=3), tmp_path / "a", verbose=0)
    sparse = runner.run(tiny_config(epochs=3, eval_every=2), tmp_path / "b", verbose=0)
    history = sparse["history"]
    assert history["test_accuracy"][0] is None
    assert history["false_label_accuracy"][0] is None
    # The evaluated epochs are those of the per-epoch run: same training.
    for key in ("test_accuracy", "false_label_accuracy"):
        assert history[key][1:] == pytest.approx(every_epoch["history"][key][1:])
    assert sparse["final"] == pytest.approx(every_epoch["final"])
    with pytest.raises(ValueError, match="eval_every"):
        tiny_config(eval_every=0)


def test_steps_per_execution_must_divide_the_epoch(tmp_path):
    # 128 images in batches of 32: 4 steps per epoch.
    with pytest.raises(ValueError, match=r"steps_per_execution=3.*\[1, 2, 4\]"):
        runner.run(tiny_config(steps_per_execution=3), tmp_path, verbose=0)
    results = runner.run(tiny_config(epochs=1, steps_per_execution=2), tmp_path, verbose=0)
    assert len(results["history"]["epoch"]) == 1


def test_finished_run_is_not_redone_and_never_overwritten(tmp_path):
    config = tiny_config(epochs=1, noise_rate=0.0)
    first = runner.run(config, tmp_path, verbose=0)
    assert first["final"]["false_label_accuracy"] is None
    path = runner.results_path(config, tmp_path)
    mtime = os.stat(path).st_mtime_ns
    assert runner.run(config, tmp_path, verbose=0) == first
    assert os.stat(path).st_mtime_ns == mtime
    assert runner.is_finished(config, tmp_path)

    changed = dataclasses.replace(config, learning_rate=0.01)
    assert changed.run_id == config.run_id
    with pytest.raises(runner.SettingsMismatchError, match="settings_hash"):
        runner.run(changed, tmp_path, verbose=0)
    assert os.stat(path).st_mtime_ns == mtime
    replaced = runner.run(changed, tmp_path, verbose=0, overwrite=True)
    assert replaced["settings_hash"] == changed.settings_hash
    assert runner.load_results(path)["settings_hash"] == changed.settings_hash


def test_mixed_precision_policy_is_restored(tmp_path):
    config = tiny_config(epochs=1, train_size=64, mixed_precision="mixed_bfloat16")
    results = runner.run(config, tmp_path, verbose=0)
    assert np.isfinite(results["final"]["train_loss"])
    assert keras.config.dtype_policy().name == "float32"


def test_augmented_run_resumes_exactly(tmp_path, monkeypatch):
    # CIFAR-10 shapes and policy (flip + crop inside the model, fed raw
    # images by tf.data), random data.
    rng = np.random.default_rng(0)
    fake = data.Dataset(
        data.get_spec("cifar10"),
        rng.integers(0, 256, (48, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, 48),
        rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, 16),
    )
    monkeypatch.setattr(runner.data, "load_dataset", lambda *args, **kwargs: fake)
    config = runner.RunConfig.paper_defaults(
        "cifar10", "mlp1024", "gce", noise_rate=0.5, epochs=3, batch_size=16,
        learning_rate=0.01, augment=True,
    )
    straight = runner.run(config, tmp_path / "straight", verbose=0)
    _assert_same_history(_kill_and_resume(config, tmp_path / "killed"), straight)
    # Another seed draws other crops: the augmentation is really applied.
    other = runner.run(dataclasses.replace(config, seed=1), tmp_path, verbose=0)
    assert other["history"]["train_loss"] != straight["history"]["train_loss"]


# ---------------------------------------------------------------------------
# recipes.train.
# ---------------------------------------------------------------------------


def test_parse_loss_kwargs():
    assert train.parse_loss_kwargs(None) == {}
    assert train.parse_loss_kwargs('{"q": 0.5}') == {"q": 0.5}
    assert train.parse_loss_kwargs("alpha=0.1, beta=2") == {"alpha": 0.1, "beta": 2}
    with pytest.raises(ValueError):
        train.parse_loss_kwargs("alpha")


def _train_flags(*args):
    flag_values = flags.FlagValues()
    train.define_flags(flag_values)
    flag_values(["train", *args])
    return flag_values


def test_train_main_uses_paper_defaults_and_flags(tmp_path, capsys):
    flag_values = _train_flags(
        "--dataset=digits",
        "--model=mlp1024",
        "--loss=gce",
        "--loss_kwargs=q=0.5",
        "--noise_rate=0.2",
        "--learning_rate=0.02",
        "--epochs=1",
        "--train_size=96",
        f"--output_dir={tmp_path}",
        "--verbose=0",
    )
    config = train.config_from_flags(flag_values)
    results = train.train_from_flags(flag_values)
    assert config.loss_kwargs == {"q": 0.5} and config.batch_size == 32
    assert config.lr_schedule == "exponential" and config.lr_decay == 0.95
    assert results["settings"] == json.loads(json.dumps(dataclasses.asdict(config)))
    out = capsys.readouterr().out
    assert "test accuracy" in out and runner.results_path(config, tmp_path) in out
    # Unset flags take the paper's values.
    paper = train.config_from_flags(_train_flags("--dataset=cifar10", "--loss=mae*"))
    assert paper == runner.RunConfig.paper_defaults("cifar10", "resnet32", "mae*")


def test_train_rejects_unknown_values():
    for name, value, allowed in (
        ("dataset", "mnist", "cifar10"),
        ("model", "vgg", "resnet32"),
        ("loss", "focal", "boundce"),
    ):
        with pytest.raises(flags.IllegalFlagValueError, match=allowed):
            _train_flags(f"--{name}={value}")


def test_train_help_documents_every_flag():
    flag_values = flags.FlagValues()
    train.define_flags(flag_values)
    # What `python -m recipes.train --help` prints (absl's main-module help).
    text = flag_values.module_help(train)
    for field in dataclasses.fields(runner.RunConfig):
        if field.name in ("variant", "label"):  # follow from loss and eps
            continue
        assert f"--{field.name}:" in text or f"--[no]{field.name}:" in text, field.name
    for name in ("--loss:", "--loss_kwargs:", "--output_dir:", "--[no]overwrite:"):
        assert name in text
    for flag in flag_values.get_flags_for_module(train):
        assert flag.help, flag.name


def test_learning_rates_file_of_tune_lr(tmp_path):
    path = tmp_path / "learning_rates.json"
    path.write_text(json.dumps({"digits": {"mae*": 0.003, "gce": 0.02}, "cifar10": {"ce": 0.05}}))
    common = (f"--learning_rates_file={path}", "--model=mlp1024")

    config = train.config_from_flags(_train_flags(*common, "--dataset=digits", "--loss=mae*"))
    assert config.learning_rate == 0.003 and config.variant == "mae*"
    assert config == tiny_config(
        learning_rate=0.003, noise_rate=0.0, epochs=100, train_size=None
    )
    gce = train.config_from_flags(_train_flags(*common, "--dataset=digits", "--loss=gce"))
    assert gce.learning_rate == 0.02
    # It also replaces the paper's rates, e.g. of ResNets on CIFAR-10 ...
    resnet = train.config_from_flags(
        _train_flags(f"--learning_rates_file={path}", "--dataset=cifar10", "--loss=ce")
    )
    assert resnet.learning_rate == 0.05 and resnet.model == "resnet32"
    # ... and --learning_rate wins over the file.
    given = train.config_from_flags(
        _train_flags(*common, "--dataset=digits", "--loss=mae*", "--learning_rate=0.1")
    )
    assert given.learning_rate == 0.1

    # A missing (dataset, variant) names the file, the dataset and the variant.
    for args, dataset, variant in (
        (("--dataset=digits", "--loss=ce"), "digits", "ce"),
        (("--dataset=fashion_mnist", "--loss=mae*"), "fashion_mnist", "mae*"),
        # --output_bias makes another variant than the tuned 'mae*'.
        (("--dataset=digits", "--loss=mae*", "--output_bias=1.0"), "digits", "mae*1"),
    ):
        flag_values = _train_flags(*common, *args)
        with pytest.raises(ValueError) as raised:
            train.config_from_flags(flag_values)
        message = str(raised.value)
        assert str(path) in message and repr(dataset) in message and repr(variant) in message
        # python -m recipes.train reports it as a usage error, before training.
        with pytest.raises(app.UsageError, match="no learning rate for dataset"):
            train.train_from_flags(flag_values)

    with pytest.raises(ValueError, match="Cannot read --learning_rates_file"):
        train.config_from_flags(
            _train_flags(f"--learning_rates_file={tmp_path / 'missing.json'}", "--dataset=digits")
        )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"digits": {"ce": "fast"}}))
    with pytest.raises(ValueError, match="not a learning_rates.json"):
        train.config_from_flags(_train_flags(f"--learning_rates_file={bad}", "--dataset=digits"))
