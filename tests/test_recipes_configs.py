"""Tests of the experiment configs in `recipes/configs/` and their helpers."""

import importlib
import inspect

import pytest

from recipes import config as config_lib
from recipes import paper_results
from recipes.configs import common

SWEEP_CONFIGS = ("quickstart", "table2", "table3", "lr_grid")


def _config_module(name):
    return importlib.import_module(f"recipes.configs.{name}")


def test_parse_arg():
    arg = common.parse_arg(None, datasets=("cifar10",), seeds=(0, 1), rate=0.5, fast=False)
    assert arg.datasets == ("cifar10",) and arg.seeds == (0, 1) and arg.rate == 0.5
    arg = common.parse_arg(
        "datasets=digits+cifar10,seeds=3,rate=0.25,fast=true",
        datasets=("cifar10",), seeds=(0, 1), rate=0.5, fast=False,
    )
    assert arg.datasets == ("digits", "cifar10")
    assert arg.seeds == (3,) and arg.rate == 0.25 and arg.fast is True
    with pytest.raises(common.ConfigArgumentError, match="argument 'seed'. Allowed: seeds"):
        common.parse_arg("seed=1", seeds=(0,))
    with pytest.raises(common.ConfigArgumentError, match=r"seeds='a\+1': expected int values"):
        common.parse_arg("seeds=a+1", seeds=(0,))
    with pytest.raises(common.ConfigArgumentError, match="needs a value"):
        common.parse_arg("seeds", seeds=(0,))
    with pytest.raises(common.ConfigArgumentError, match="fast='maybe': expected bool"):
        common.parse_arg("fast=maybe", fast=False)


def test_product():
    assert common.product(loss=("ce", "gce"), seed=(0, 1)) == [
        {"loss": "ce", "seed": 0}, {"loss": "ce", "seed": 1},
        {"loss": "gce", "seed": 0}, {"loss": "gce", "seed": 1},
    ]
    rows = [{"loss": "mae", "output_bias": 0.5}, {"loss": "ce"}]
    assert common.product(row=rows, seed=(7,)) == [
        {"loss": "mae", "output_bias": 0.5, "seed": 7}, {"loss": "ce", "seed": 7},
    ]
    assert common.product(seed=(1, 1)) == [{"seed": 1}]


@pytest.mark.parametrize("name", SWEEP_CONFIGS)
def test_every_config_documents_its_command_and_resolves(name):
    module = _config_module(name)
    assert f"python -m recipes.main --config=recipes/configs/{name}.py --workdir=runs/{name}" in (
        inspect.getdoc(module)
    )
    config = module.get_config()
    sweep = module.get_sweep()
    run_ids = [config_lib.run_id(config_lib.override(config, point)) for point in sweep]
    assert len(set(run_ids)) == len(sweep)


def test_paper_table_sweeps():
    table2 = _config_module("table2").get_sweep()
    assert len(table2) == 2 * 2 * 9 * 5 * 5  # datasets, models, rows, noise, seeds
    table3 = _config_module("table3").get_sweep()
    assert len(table3) == 10 * 5 * 5
    assert {point["model"] for point in table3} == {"resnet34"}
    assert {(p["loss"], p["output_bias"]) for p in table3} >= {("mae", 1.5), ("boundce", 2.5)}
    # A subset, big_vision style; the point resolves to the paper's protocol.
    config = _config_module("table2").get_config("models=resnet32,datasets=cifar10")
    (point,) = _config_module("table2").get_sweep(
        "models=resnet32,datasets=cifar10,losses=mae*,noise_rates=0.4,seeds=0"
    )
    resolved = config_lib.resolve(config_lib.override(config, point))
    assert config_lib.run_id(resolved) == "cifar10-resnet32-mae_star0.5-sym0.4-seed0"
    assert (resolved.epochs, resolved.lr_boundaries, resolved.batch_size) == (200, (100, 150), 128)
    with pytest.raises(common.ConfigArgumentError, match="datasets=mnist is not allowed"):
        _config_module("table2").get_config("datasets=mnist")
    with pytest.raises(common.ConfigArgumentError, match="losses=focal is not allowed"):
        _config_module("table3").get_sweep("losses=focal")


def test_quickstart_is_the_readme_experiment():
    module = _config_module("quickstart")
    config = module.get_config()
    sweep = module.get_sweep()
    assert len(sweep) == 4 * 3
    resolved = {
        (p["loss"], p["output_bias"]): config_lib.resolve(config_lib.override(config, p))
        for p in sweep
    }
    assert set(resolved) == {("ce", 0.0), ("mae", 0.5), ("gce", 0.0), ("boundce", 0.0)}
    gce = resolved[("gce", 0.0)]
    assert (gce.dataset, gce.model, gce.noise_rate, gce.epochs) == ("digits", "mlp1024", 0.4, 20)
    assert (gce.learning_rate, gce.momentum, gce.batch_size, gce.lr_decay) == (0.01, 0.95, 32, 0.95)
    assert dict(gce.loss_kwargs) == {"q": 0.7}
    assert {p["seed"] for p in sweep} == {0, 1, 2}


def test_learning_rate_grid():
    module = _config_module("lr_grid")
    sweep = module.get_sweep()
    assert len(sweep) == 2 * 9 * len(paper_results.LEARNING_RATES) * 5
    config = module.get_config()
    assert (config.model, config.noise_rate) == ("mlp1024", 0.0)
    small = module.get_sweep("datasets=digits,losses=ce,learning_rates=0.001+0.01,seeds=0+1")
    assert [(p["learning_rate"], p["seed"]) for p in small] == [
        (0.001, 0), (0.001, 1), (0.01, 0), (0.01, 1),
    ]
    # The rates are part of the run ids: no collisions between rates.
    run_ids = {config_lib.run_id(config_lib.override(config, p)) for p in small}
    assert len(run_ids) == 4
