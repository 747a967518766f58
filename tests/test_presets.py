"""Tests that the presets hold the paper's numbers (checked against its Table 1 text)."""

import pathlib
import re

import pytest

from keras_robust import losses
from keras_robust import output_bias as output_bias_lib
from keras_robust import presets

# Verbatim excerpts of the paper, shipped with the tests.
PAPER_TABLES = pathlib.Path(__file__).resolve().parent / "data" / "paper_tables.md"


def test_table1_hyperparameters():
    # Paper Table 1: the first value for ten classes, the second for CIFAR-100.
    assert presets.loss_kwargs("sce", 10) == {"alpha": 0.1, "beta": 2.0}
    assert presets.loss_kwargs("symCE", 100) == {"alpha": 6.0, "beta": 0.2}
    assert presets.loss_kwargs("actpas1", 100) == {"alpha": 1.0, "beta": 0.2}
    assert presets.loss_kwargs("actpas2", 10) == {"alpha": 1.0, "beta": 20.0}
    assert presets.loss_kwargs("gce", 100) == {"q": 0.7}
    assert presets.loss_kwargs("bitemp", 10) == {"t1": 0.8, "t2": 1.2}
    assert presets.loss_kwargs("ce", 10) == {}


def _table1_row(loss_label):
    text = PAPER_TABLES.read_text(encoding="utf-8")
    table1 = text[text.index("Table 1: Summary") : text.index("Table 2:")]
    return next(line for line in table1.splitlines() if line.startswith(loss_label + "\t"))


@pytest.mark.parametrize(
    "label, name", [("symCE", "sce"), ("actPas1", "actpas1"), ("actPas2", "actpas2")]
)
def test_table1_alpha_beta_rows_of_the_paper_text(label, name):
    # "alpha = 0.1; 6.0": the first value for ten classes, the second for 100.
    row = _table1_row(label)
    alphas = re.search(r"alpha = ([\d.]+); ([\d.]+)", row).groups()
    betas = re.search(r"beta = ([\d.]+); ([\d.]+)", row).groups()
    for index, num_classes in enumerate((10, 100)):
        assert presets.loss_kwargs(name, num_classes) == {
            "alpha": float(alphas[index]), "beta": float(betas[index])}


def test_table1_gce_and_bitemp_rows_of_the_paper_text():
    q = float(re.search(r"q = ([\d.]+)", _table1_row("genCE")).group(1))
    t1, t2 = re.search(r"t_1 = ([\d.]+).*t_2 = ([\d.]+)", _table1_row("biTemp")).groups()
    for num_classes in (10, 100):
        assert presets.loss_kwargs("gce", num_classes) == {"q": q}
        assert presets.loss_kwargs("bitemp", num_classes) == {"t1": float(t1), "t2": float(t2)}


def test_loss_without_preset_gets_its_class_defaults():
    # Other class counts: the loss classes' defaults, which are Table 1's
    # ten-class values.
    assert presets.loss_kwargs("sce", 7) == {}
    assert losses.get("sce", **presets.loss_kwargs("sce", 7)).get_config()["alpha"] == 0.1
    assert presets.output_bias("gce", 100) == 0.0


@pytest.mark.parametrize("num_classes", [10, 100])
def test_every_preset_builds_its_loss(num_classes):
    for name in losses.LOSS_NAMES:
        eps = presets.output_bias(name, num_classes)
        loss = losses.get(name, output_bias=eps, **presets.loss_kwargs(name, num_classes))
        assert loss.output_bias == eps


def test_output_bias_is_the_papers_eps():
    # Paper Sec. 3.2 and Tables 2, 3: MAE* 0.5 and 3.0, boundCE* 0 and 2.5.
    assert presets.output_bias("mae", 10) == 0.5
    assert presets.output_bias("mae", 100) == 3.0
    assert presets.output_bias("boundCE", 10) == 0.0
    assert presets.output_bias("boundce", 100) == 2.5


def test_output_bias_of_other_class_counts_solves_eq2():
    # REFERENCE.md: eq. 2 solved gives MAE 0.52 at c=10 and 3.03 at c=100,
    # which the paper rounds as this does for other class counts.
    for num_classes, target in ((10, 0.15), (100, 0.15), (100, 0.1)):
        eps = output_bias_lib.solve_output_bias(num_classes, target=target)
        loss = "mae" if target == 0.15 else "boundce"
        assert round(eps, 1) == presets.output_bias(loss, num_classes)
    eps_20 = presets.output_bias("mae", 20)
    assert 0.5 < eps_20 < 3.0
    assert eps_20 == round(eps_20, 1)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: presets.loss_kwargs("nope", 10), "nope"),
        (lambda: presets.output_bias("nope", 10), "nope"),
        (lambda: presets.loss_kwargs("sce", 1), "num_classes"),
        (lambda: presets.output_bias("mae", "cifar10"), "num_classes"),
    ],
)
def test_bad_arguments_raise(call, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        call()
