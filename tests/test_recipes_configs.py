"""Tests of the experiment configs in `recipes/configs/` and their helpers."""

import importlib
import inspect
import types

import pytest

from recipes import config as config_lib
from recipes import paper_results
from recipes.configs import common

SWEEP_CONFIGS = ("quickstart", "offline_replication", "table2", "table3", "lr_grid")


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
    specs = config_lib.resolve_sweep(config, sweep)
    # Only the quickstart's boundCE* at 10 classes is a repeat (eps 0).
    assert len(specs) == len(sweep) - (3 if name == "quickstart" else 0)
    # Every config says which argument narrows each field its points set.
    for field in {key for point in sweep for key in point}:
        assert common.narrowing_argument(module, field) in module.ARGUMENTS, field


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
    assert resolved.run_id == "cifar10-resnet32-mae*0.5-sym0.4-seed0"
    assert (resolved.epochs, resolved.lr_boundaries, resolved.batch_size) == (200, (100, 150), 128)
    with pytest.raises(common.ConfigArgumentError, match="datasets=mnist is not allowed"):
        _config_module("table2").get_config("datasets=mnist")
    with pytest.raises(common.ConfigArgumentError, match="losses=focal is not allowed"):
        _config_module("table3").get_sweep("losses=focal")


def test_quickstart_is_the_readme_experiment():
    module = _config_module("quickstart")
    config = module.get_config()
    sweep = module.get_sweep()
    # boundCE* is boundCE at 10 classes (eq. 2 gives eps 0.0016, 0.0 rounded).
    assert len(sweep) == 2 * 6 * 3
    specs = config_lib.resolve_sweep(config, sweep)
    assert len(specs) == (5 + 6) * 3
    resolved = {(spec.dataset, spec.loss, spec.output_bias): spec for spec in specs}
    # eps: paper Sec. 3.2 / Tables 2-3 (MAE* 0.5 and 3.0, boundCE* 0 and 2.5).
    assert set(resolved) == {
        ("digits", "ce", 0.0), ("digits", "mae", 0.0), ("digits", "mae", 0.5),
        ("digits", "gce", 0.0), ("digits", "boundce", 0.0),
        ("digit_pairs", "ce", 0.0), ("digit_pairs", "mae", 0.0), ("digit_pairs", "mae", 3.0),
        ("digit_pairs", "gce", 0.0), ("digit_pairs", "boundce", 0.0),
        ("digit_pairs", "boundce", 2.5),
    }
    gce = resolved[("digits", "gce", 0.0)]
    assert (gce.dataset, gce.model, gce.noise_rate, gce.epochs) == ("digits", "mlp1024", 0.4, 20)
    assert (gce.learning_rate, gce.momentum, gce.batch_size, gce.lr_decay) == (0.01, 0.95, 32, 0.95)
    assert dict(gce.loss_kwargs) == {"q": 0.7}
    assert {p["seed"] for p in sweep} == {0, 1, 2}
    (point,) = module.get_sweep("datasets=digit_pairs,losses=boundce*,seeds=1")
    assert point == {"dataset": "digit_pairs", "loss": "boundce*", "seed": 1}
    (spec,) = config_lib.resolve_sweep(config, [point])
    assert spec.run_id == "digit_pairs-mlp1024-boundce*2.5-sym0.4-seed1-93165ac3f3"
    with pytest.raises(common.ConfigArgumentError, match="datasets=cifar10 is not allowed"):
        module.get_sweep("datasets=cifar10")


class _Finished:
    """`recipes.stages.Finished` of made-up results: `{(loss, eps, rate, noise): accuracy}`."""

    def __init__(self, accuracies):
        self.accuracies = accuracies

    def get(self, point):
        key = (point["loss"], point["output_bias"], point["learning_rate"], point["noise_rate"])
        if key not in self.accuracies:
            return None
        return types.SimpleNamespace(final={"test_accuracy": self.accuracies[key]})


def test_offline_replication_covers_both_tables():
    module = _config_module("offline_replication")
    sweep = module.get_sweep()
    # Stage 1: every row at the nine rates of supplement Table 1, clean, 5 seeds.
    assert len(sweep) == (9 + 10) * 9 * 5
    rows = {
        dataset: {(p["loss"], p["output_bias"]) for p in sweep if p["dataset"] == dataset}
        for dataset in ("digits", "digit_pairs")
    }
    assert rows["digits"] == {(r.loss, r.output_bias) for r in paper_results.TABLE2_ROWS}
    assert rows["digit_pairs"] == {(r.loss, r.output_bias) for r in paper_results.TABLE3_ROWS}
    assert {p["noise_rate"] for p in sweep} == {0.0}
    assert {p["learning_rate"] for p in sweep} == set(paper_results.LEARNING_RATES)
    config = module.get_config()
    resolved = config_lib.resolve(config_lib.override(config, sweep[-1]))
    assert (resolved.model, resolved.epochs, resolved.batch_size) == ("mlp1024", 10, 32)
    # Table 1's 100-class hyperparameters for the digit pairs.
    (point,) = module.get_sweep("tables=table3,losses=sce,learning_rates=0.01,seeds=0")
    sce = config_lib.resolve(config_lib.override(config, point))
    assert (sce.dataset, dict(sce.loss_kwargs)) == ("digit_pairs", {"alpha": 6.0, "beta": 0.2})
    with pytest.raises(common.ConfigArgumentError, match="names no row"):
        module.get_sweep("tables=table2,losses=mae*1.5")
    with pytest.raises(common.ConfigArgumentError, match="learning_rates=0.0 is not allowed"):
        module.get_sweep("learning_rates=0")


def test_offline_replication_stages_by_hand():
    module = _config_module("offline_replication")
    arg = "tables=table2,losses=ce+mae*,learning_rates=0.001+0.003+0.01,noise_rates=0.0+0.4,seeds=0"

    def points(accuracies):
        sweep = module.get_sweep(arg, finished=_Finished(accuracies))
        return sorted((p["loss"], p["learning_rate"], p["noise_rate"]) for p in sweep)

    clean = [(loss, rate, 0.0) for loss in ("ce", "mae") for rate in (0.001, 0.003, 0.01)]
    assert points({}) == sorted(clean)
    # CE's best (0.003) lies inside: its noise at 0.003 (the clean point is
    # stage 1's). MAE*'s best (0.01) is its grid's edge: 0.03 next.
    stage1 = {("ce", 0.0, 0.001, 0.0): 0.80, ("ce", 0.0, 0.003, 0.0): 0.90,
              ("ce", 0.0, 0.01, 0.0): 0.85, ("mae", 0.5, 0.001, 0.0): 0.50,
              ("mae", 0.5, 0.003, 0.0): 0.60, ("mae", 0.5, 0.01, 0.0): 0.70}
    assert points(stage1) == sorted(clean + [("ce", 0.003, 0.4), ("mae", 0.03, 0.0)])
    # 0.03 is better still: 0.1 next; then 0.1 is worse, and MAE* takes 0.03.
    stage2 = {**stage1, ("mae", 0.5, 0.03, 0.0): 0.75}
    assert points(stage2) == sorted(
        clean + [("ce", 0.003, 0.4), ("mae", 0.03, 0.0), ("mae", 0.1, 0.0)]
    )
    stage3 = {**stage2, ("mae", 0.5, 0.1, 0.0): 0.72}
    assert points(stage3) == sorted(
        clean + [("ce", 0.003, 0.4), ("mae", 0.03, 0.0), ("mae", 0.1, 0.0),
                 ("mae", 0.03, 0.4)]
    )


def test_levelled_epoch():
    module = _config_module("offline_replication")
    # Mean curve 50, 80, 90, 95.2, 95.4, 95.0: within 0.5 of 95.0 from epoch 4.
    curves = [[0.50, 0.80, 0.90, 0.950, 0.954, 0.950], [0.50, 0.80, 0.90, 0.954, 0.954, 0.950]]
    assert module.levelled_epoch(curves) == 4
    assert module.levelled_epoch([[0.9]]) == 1


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
    run_ids = {spec.run_id for spec in config_lib.resolve_sweep(config, small)}
    assert len(run_ids) == 4
