"""The `cifar_n` config: the paper's loss rows on CIFAR-N's human label sets."""

import collections
import inspect

import pytest

from recipes import cli
from recipes import main
from recipes import paper_results
from recipes.configs import cifar_n
from recipes.configs import common


def resolve(config_argument, *overrides):
    fields = main.split_overrides(overrides)[1]
    return main.resolve_specs(main.load_config(config_argument), fields)


def test_full_sweep_is_the_table_rows_on_every_label_set_with_the_resnet_protocol():
    assert "python -m recipes.main --config=recipes/configs/cifar_n.py --workdir=runs/cifar_n" in (
        inspect.getdoc(cifar_n)
    )
    specs = resolve("cifar_n")
    # (5 CIFAR-10N sets x 9 Table 2 rows + CIFAR-100N's set x 10 Table 3 rows) x 5 seeds.
    assert len(specs) == (5 * 9 + 10) * 5 == 275
    assert len({spec.run_id for spec in specs}) == 275
    per_set = collections.Counter(
        (spec.dataset, spec.model, spec.noise_label_set) for spec in specs
    )
    assert per_set == {
        **{("cifar10_n", "resnet32", name): 45
           for name in ("aggre", "random1", "random2", "random3", "worse")},
        ("cifar100_n", "resnet34", "noisy"): 50,
    }
    assert {(spec.noise_kind, spec.noise_rate, spec.epochs, spec.batch_size)
            for spec in specs} == {("human", 0.0, 200, 128)}
    cifar100 = {spec.loss_spec.text for spec in specs if spec.dataset == "cifar100_n"}
    assert cifar100 == {
        "ce", "mae*1.5", "mae*3.0", "boundce*1.5", "boundce*2.5", "gce", "sce",
        "actpas1", "actpas2", "bitemp",
    }
    cifar10 = {spec.loss_spec.text for spec in specs if spec.dataset == "cifar10_n"}
    assert cifar10 == {row.key for row in paper_results.TABLE2_ROWS} - {"mae*"} | {"mae*0.5"}
    assert {spec.seed for spec in specs} == set(range(5))
    for field in {key for point in cifar_n.get_sweep() for key in point}:
        assert common.narrowing_argument(cifar_n, field) in cifar_n.ARGUMENTS, field


def test_arguments_narrow_the_sweep():
    specs = resolve("cifar_n:label_sets=aggre+noisy,losses=ce+mae*1.5,seeds=3")
    assert [spec.run_id for spec in specs] == [
        "cifar10_n-resnet32-ce-human-aggre-seed3",
        "cifar100_n-resnet34-ce-human-noisy-seed3",
        "cifar100_n-resnet34-mae*1.5-human-noisy-seed3",
    ]
    # A field no point sets applies to every run.
    assert {spec.epochs for spec in resolve("cifar_n:seeds=0", "--config.epochs=2")} == {2}


@pytest.mark.parametrize("argument, overrides, message", [
    ("cifar_n:label_sets=clean", (),
     "Config argument label_sets=clean is not allowed. Allowed: aggre, random1, "
     "random2, random3, worse, noisy."),
    ("cifar_n:losses=nosuch", (),
     "Config argument losses=nosuch is not allowed. Allowed: ce, mae, mae*, boundce, "
     "gce, sce, actpas1, actpas2, bitemp, mae*1.5, mae*3.0, boundce*1.5, boundce*2.5."),
    ("cifar_n:label_sets=aggre,losses=mae*1.5", (),
     "Config arguments label_sets=aggre and losses=mae*1.5 leave no run: the losses "
     "of CIFAR-10N's label sets are Table 2's rows, those of CIFAR-100N's Table 3's."),
    ("cifar_n", ("--config.noise_label_set=worse",),
     "--config.noise_label_set: the cifar_n sweep sets noise_label_set per point; "
     "narrow it with --config='cifar_n:label_sets=...'"),
])
def test_mistakes_are_one_line(argument, overrides, message):
    with pytest.raises(cli.UsageError) as raised:
        resolve(argument, *overrides)
    assert message in str(raised.value) and "\n" not in str(raised.value)
