"""Tests of recipes.config and recipes.protocols: defaults, resolution, run ids."""

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
    config = config_lib.resolve(make_config(loss="mae*", noise_rate=0.4, seed=1))
    assert (config.dataset, config.model) == ("cifar10", "resnet32")
    assert (config.loss, config.output_bias) == ("mae", 0.5)
    assert (config.epochs, config.batch_size, config.momentum) == (200, 128, 0.9)
    assert config.weight_decay == 1e-4 and config.augment
    assert config.lr_schedule == "step" and tuple(config.lr_boundaries) == (100, 150)
    assert config_lib.learning_rate(config, 99) == pytest.approx(0.1)
    assert config_lib.learning_rate(config, 100) == pytest.approx(0.01)
    assert config_lib.learning_rate(config, 150) == pytest.approx(0.001)
    # The paper's own settings need no hash in their id.
    assert config_lib.run_id(config) == "cifar10-resnet32-mae_star0.5-sym0.4-seed1"


def test_mlp_protocol_and_supplement_table1_rates():
    config = config_lib.resolve(
        make_config(dataset="fashion_mnist", model="mlp1024", loss="gce")
    )
    # Supplement Table 1 (bold): genCE 0.01 on Fashion-MNIST; Table 1: q 0.7.
    assert config.learning_rate == 0.01 and config.loss_kwargs.to_dict() == {"q": 0.7}
    assert (config.batch_size, config.momentum, config.weight_decay) == (32, 0.95, 0.0)
    assert config.lr_schedule == "exponential" and not config.augment
    assert config_lib.learning_rate(config, 2) == pytest.approx(0.01 * 0.95**2)
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
    assert sce.loss == "sce" and sce.loss_kwargs.to_dict() == {"alpha": 6.0, "beta": 0.2}
    # Given loss_kwargs update the paper's key by key.
    beta = config_lib.resolve(
        config_lib.override(base, {"loss": "sce", "loss_kwargs.beta": 1.0})
    )
    assert beta.loss_kwargs.to_dict() == {"alpha": 6.0, "beta": 1.0}


def test_resolve_is_idempotent_and_locked():
    config = config_lib.resolve(make_config(dataset="digits", model="mlp1024", loss="mae*"))
    again = config_lib.resolve(config)
    assert again.to_dict() == config.to_dict()
    assert config_lib.is_resolved(config)
    assert not config_lib.is_resolved(config_lib.get_default_config())
    with pytest.raises(AttributeError):
        config.no_such_field = 1


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"dataset": "mnist"}, "config.dataset='mnist': expected one of cifar10"),
        ({"model": "vgg"}, "config.model='vgg': expected one of"),
        ({"loss": "focal"}, "config.loss='focal': expected one of ce, mae"),
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


def test_run_ids_are_readable_and_unique_per_setting():
    base = make_config(dataset="digits", model="mlp1024", loss="mae*", noise_rate=0.4)
    plain = config_lib.run_id(base)
    assert plain == "digits-mlp1024-mae_star0.5-sym0.4-seed0"
    ids = {plain}
    for overrides in (
        {"learning_rate": 0.02},
        {"batch_size": 64},
        {"epochs": 20},
        {"loss_kwargs": {"q": 0.5}, "loss": "gce"},
        {"train_size": 100},
        {"eval_every": 2},
    ):
        run_id = config_lib.run_id(config_lib.override(base, overrides))
        assert run_id.startswith("digits-mlp1024-")
        assert run_id not in ids, overrides
        ids.add(run_id)
    # Giving the protocol's value explicitly, or settings that compute
    # nothing else, keep the id.
    for same in ({"learning_rate": 0.01}, {"data_dir": "/x"}, {"verbose": 0},
                 {"save_model": True}):
        assert config_lib.run_id(config_lib.override(base, same)) == plain
    quick = config_lib.override(base, {"epochs": 20})
    assert config_lib.non_default_settings(quick) == {"epochs": 20}


def test_settings_of_an_older_record_without_a_new_field_still_match():
    config = make_config(dataset="digits", model="mlp1024", noise_rate=0.2)
    recorded = config_lib.settings(config)
    assert config_lib.settings_differences(recorded, config) == {}
    # A results file written before `eval_every` existed lacks it: it ran
    # with the default, so it is the same run.
    del recorded["eval_every"]
    assert config_lib.settings_differences(recorded, config) == {}
    recorded["learning_rate"] = 0.5
    assert config_lib.settings_differences(recorded, config) == {
        "learning_rate": (0.5, 0.01)
    }
    assert config_lib.settings_differences(
        {**config_lib.settings(config), "data_dir": "/elsewhere"}, config
    ) == {}


def test_settings_are_plain_json():
    settings = config_lib.settings(make_config(loss="gce"))
    assert settings["lr_boundaries"] == [100, 150]
    assert settings["loss_kwargs"] == {"q": 0.7}
    assert settings["output_bias"] == 0.0 and settings["loss"] == "gce"
