"""Tests of recipes.config and recipes.protocols: defaults, resolution, run ids."""

import dataclasses

import pytest

from recipes import config as config_lib
from recipes import protocols


def make_config(**fields):
    config = config_lib.get_default_config()
    for name, value in fields.items():
        config[name] = value
    return config


def test_resnet_protocol_of_the_paper():
    # Paper Sec. 4: SGD 0.9, batch 128, wd 1e-4, lr 0.1 x0.1 at 100, 150 of 200.
    spec = config_lib.resolve(make_config(loss="mae*", noise_rate=0.4, seed=1))
    assert (spec.dataset, spec.model) == ("cifar10", "resnet32")
    assert (spec.loss, spec.output_bias, spec.loss_spec.text) == ("mae", 0.5, "mae*0.5")
    assert (spec.epochs, spec.batch_size, spec.momentum) == (200, 128, 0.9)
    assert spec.weight_decay == 1e-4 and spec.augment
    assert spec.lr_schedule == "step" and spec.lr_boundaries == (100, 150)
    assert spec.learning_rate_at(99) == pytest.approx(0.1)
    assert spec.learning_rate_at(100) == pytest.approx(0.01)
    assert spec.learning_rate_at(150) == pytest.approx(0.001)
    assert spec.num_classes == 10
    # The paper's own settings need no hash in their id.
    assert spec.run_id == "cifar10-resnet32-mae*0.5-sym0.4-seed1"


def test_mlp_protocol_and_supplement_table1_rates():
    spec = config_lib.resolve(
        make_config(dataset="fashion_mnist", model="mlp1024", loss="gce")
    )
    # Supplement Table 1 (bold): genCE 0.01 on Fashion-MNIST; Table 1: q 0.7.
    assert spec.learning_rate == 0.01 and dict(spec.loss_kwargs) == {"q": 0.7}
    assert (spec.batch_size, spec.momentum, spec.weight_decay) == (32, 0.95, 0.0)
    assert spec.lr_schedule == "exponential" and not spec.augment
    assert spec.learning_rate_at(2) == pytest.approx(0.01 * 0.95**2)
    mae_star = config_lib.resolve(make_config(model="mlp1024", loss="mae*"))
    assert mae_star.learning_rate == 0.003  # supplement Table 1, CIFAR-10, MAE* eps 0.5
    assert protocols.mlp_learning_rate("cifar10", "actpas2") == 0.0008


def test_digits_and_unknown_rates_take_the_documented_default():
    config = config_lib.resolve(make_config(dataset="digits", model="mlp1024", loss="gce"))
    assert config.learning_rate == protocols.DEFAULT_MLP_LEARNING_RATE == 0.01
    assert config.epochs == 100


def test_cifar100_presets_and_starred_losses():
    base = make_config(dataset="cifar100", model="resnet34")
    assert config_lib.resolve(config_lib.override(base, {"loss": "boundce*"})).output_bias == 2.5
    assert config_lib.resolve(config_lib.override(base, {"loss": "mae*"})).output_bias == 3.0
    explicit = config_lib.resolve(config_lib.override(base, {"loss": "mae*1.5"}))
    assert (explicit.loss, explicit.output_bias) == ("mae", 1.5)
    sce = config_lib.resolve(config_lib.override(base, {"loss": "symCE"}))
    assert sce.loss == "sce" and dict(sce.loss_kwargs) == {"alpha": 6.0, "beta": 0.2}
    # Given loss_kwargs update the paper's key by key.
    beta = config_lib.resolve(
        config_lib.override(base, {"loss": "sce", "loss_kwargs.beta": 1.0})
    )
    assert beta.loss_kwargs == {"alpha": 6.0, "beta": 1.0}


def test_a_spec_is_frozen_and_rebuilds_from_its_settings():
    spec = config_lib.resolve(make_config(dataset="digits", model="mlp1024", loss="mae*"))
    assert config_lib.RunSpec.from_settings(spec.settings) == spec
    assert config_lib.RunSpec.from_settings(spec.settings).run_id == spec.run_id
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.epochs = 3
    with pytest.raises(TypeError):
        spec.loss_kwargs["q"] = 0.5
    # The spec has a field for every config field, and only those.
    names = {field.name for field in dataclasses.fields(spec)} - {"protocol_settings"}
    assert names == set(config_lib.get_default_config())
    with pytest.raises(config_lib.ConfigError, match="config.epoch=3: unknown field"):
        config_lib.RunSpec.from_settings({**spec.settings, "epoch": 3})


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"dataset": "mnist"}, "config.dataset='mnist': expected one of cifar10"),
        ({"model": "vgg"}, "config.model='vgg': expected one of"),
        ({"loss": "focal"}, "config.loss='focal': Loss 'focal': unknown name"),
        ({"loss": "mae*-1"}, "config.loss='mae*-1': Loss 'mae*-1'"),
        ({"noise_rate": 1.5}, "config.noise_rate=1.5: expected a number in [0, 1]"),
        ({"learning_rate": -0.1}, "config.learning_rate=-0.1: expected a finite number > 0"),
        ({"epochs": 0}, "config.epochs=0: expected a positive integer"),
        ({"lr_schedule": "cosine"}, "config.lr_schedule='cosine': expected one of step"),
        ({"loss_kwargs": {"z": 1}}, "config.loss_kwargs={'z': 1}: expected hyperparameters"),
        ({"loss": "mae*1.5", "output_bias": 2.0}, "config.output_bias=2.0: expected None or 1.5"),
        ({"mixed_precision": "float16"}, "config.mixed_precision='float16': expected one of"),
        ({"verbose": 5}, "config.verbose=5: expected one of 0, 1, 2"),
    ],
)
def test_errors_are_one_line_naming_field_value_and_allowed(fields, expected):
    with pytest.raises(config_lib.ConfigError) as raised:
        config_lib.resolve(config_lib.override(config_lib.get_default_config(), fields))
    message = str(raised.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_override_refuses_unknown_fields():
    with pytest.raises(config_lib.ConfigError, match="config.epoch=3: unknown field"):
        config_lib.override(config_lib.get_default_config(), {"epoch": 3})


def run_id(config):
    return config_lib.resolve(config).run_id


def test_run_ids_are_readable_and_unique_per_setting():
    base = make_config(dataset="digits", model="mlp1024", loss="mae*", noise_rate=0.4)
    plain = run_id(base)
    assert plain == "digits-mlp1024-mae*0.5-sym0.4-seed0"
    # The loss grammar: the same run however its eps is spelled.
    assert run_id(config_lib.override(base, {"loss": "mae*0.5"})) == plain
    assert run_id(config_lib.override(base, {"loss": "MAE", "output_bias": 0.5})) == plain
    ids = {plain}
    for overrides in (
        {"learning_rate": 0.02},
        {"batch_size": 64},
        {"epochs": 20},
        {"loss_kwargs": {"q": 0.5}, "loss": "gce"},
        {"train_size": 100},
        {"eval_every": 2},
    ):
        new = run_id(config_lib.override(base, overrides))
        assert new.startswith("digits-mlp1024-")
        assert new not in ids, overrides
        ids.add(new)
    # Giving the protocol's value explicitly, or settings that compute
    # nothing else, keep the id.
    for same in ({"learning_rate": 0.01}, {"data_dir": "/x"}, {"verbose": 0},
                 {"save_model": True}):
        assert run_id(config_lib.override(base, same)) == plain
    quick = config_lib.resolve(config_lib.override(base, {"epochs": 20}))
    assert quick.non_default_settings() == {"epochs": 20}
    # The hash is that of the sorted JSON of the differences (ids of
    # earlier versions keep their hash): sha256('{"epochs":20}')[:10].
    assert quick.run_id == "digits-mlp1024-mae*0.5-sym0.4-seed0-93165ac3f3"


def test_settings_of_an_older_record_without_a_new_field_still_match():
    spec = config_lib.resolve(make_config(dataset="digits", model="mlp1024", noise_rate=0.2))
    recorded = spec.settings
    assert spec.settings_differences(recorded) == {}
    # A results file written before `eval_every` existed lacks it: it ran
    # with the default, so it is the same run.
    del recorded["eval_every"]
    assert spec.settings_differences(recorded) == {}
    recorded["learning_rate"] = 0.5
    assert spec.settings_differences(recorded) == {
        "learning_rate": (0.5, 0.01)
    }
    assert spec.settings_differences({**spec.settings, "data_dir": "/elsewhere"}) == {}


def test_settings_are_plain_json():
    settings = config_lib.resolve(make_config(loss="gce")).settings
    assert settings["lr_boundaries"] == [100, 150]
    assert settings["loss_kwargs"] == {"q": 0.7}
    assert settings["output_bias"] == 0.0 and settings["loss"] == "gce"


def test_resolve_sweep_applies_free_fields_and_refuses_swept_ones():
    base = make_config(dataset="digits", model="mlp1024", epochs=3)
    points = [{"loss": "ce", "seed": 0}, {"loss": "mae*", "seed": 0}, {"loss": "ce", "seed": 0}]
    specs = config_lib.resolve_sweep(base, points, command_line_fields=["epochs"])
    # Repeats are one run; a field that no point sets applies to every one.
    assert [spec.run_id.split("-")[2] for spec in specs] == ["ce", "mae*0.5"]
    assert {spec.epochs for spec in specs} == {3}
    with pytest.raises(config_lib.SweptFieldError) as raised:
        config_lib.resolve_sweep(base, points, command_line_fields=["epochs", "loss"])
    assert raised.value.field == "loss"
    with pytest.raises(config_lib.SweptFieldError):
        config_lib.resolve_sweep(base, [{"loss_kwargs.q": 0.5}], ["loss_kwargs"])


def test_resolve_sweep_names_the_point_that_does_not_resolve():
    base = make_config(dataset="digits", model="mlp1024")
    with pytest.raises(config_lib.PointError) as raised:
        config_lib.resolve_sweep(base, [{"loss": "ce"}, {"loss": "nosuchloss"}])
    message = str(raised.value)
    assert message.startswith("sweep point {'loss': 'nosuchloss'}: config.loss='nosuchloss'")
    assert "\n" not in message
    with pytest.raises(config_lib.PointError, match="sweep point {'epoch': 1}: config.epoch=1"):
        config_lib.resolve_sweep(base, [{"epoch": 1}])
    # The base config is checked too, before the points.
    with pytest.raises(config_lib.ConfigError, match="config.epochs=0"):
        config_lib.resolve_sweep(config_lib.override(base, {"epochs": 0}), [{"seed": 1}])


def test_the_class_count_and_the_feed_come_from_the_spec():
    spec = config_lib.resolve(
        make_config(dataset="digit_pairs", model="mlp1024", loss="boundce*",
                    noise_rate=0.4, train_size=64, seed=3)
    )
    # 100 classes: boundCE* takes eps 2.5 (paper Table 3) from the one owner.
    assert (spec.num_classes, spec.output_bias, spec.loss_spec.label) == (100, 2.5, "boundCE*2.5")
    assert spec.feed == config_lib.data.FeedSpec(
        batch_size=32, noise_rate=0.4, seed=3, augment=False, train_size=64
    )
