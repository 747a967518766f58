"""Tests that the presets hold the paper's numbers (checked against paper.md)."""

import pathlib
import re

import pytest

from keras_robust import losses
from keras_robust import presets

PAPER = pathlib.Path(__file__).resolve().parents[2] / "shared" / "paper.md"


def test_table1_hyperparameters():
    assert presets.loss_kwargs("sce", "cifar10") == {"alpha": 0.1, "beta": 2.0}
    assert presets.loss_kwargs("symCE", "cifar100") == {"alpha": 6.0, "beta": 0.2}
    assert presets.loss_kwargs("actpas1", "cifar100") == {"alpha": 1.0, "beta": 0.2}
    assert presets.loss_kwargs("actpas2", "fashion_mnist") == {"alpha": 1.0, "beta": 20.0}
    assert presets.loss_kwargs("gce", "cifar100") == {"q": 0.7}
    assert presets.loss_kwargs("bitemp", "cifar10") == {"t1": 0.8, "t2": 1.2}


@pytest.mark.skipif(not PAPER.exists(), reason="paper.md is not beside the checkout")
def test_table1_rows_of_the_paper_text():
    text = PAPER.read_text()
    row = next(line for line in text.splitlines() if line.startswith("symCE\t"))
    alphas = re.search(r"alpha = ([\d.]+); ([\d.]+)", row).groups()
    betas = re.search(r"beta = ([\d.]+); ([\d.]+)", row).groups()
    assert presets.loss_kwargs("sce", "cifar10") == {
        "alpha": float(alphas[0]), "beta": float(betas[0])}
    assert presets.loss_kwargs("sce", "cifar100") == {
        "alpha": float(alphas[1]), "beta": float(betas[1])}


def test_every_preset_builds_its_loss():
    for table in ("table2", "table3"):
        dataset = "cifar100" if table == "table3" else "cifar10"
        for row in presets.table_variants(table):
            loss = losses.get(
                row.loss, output_bias=row.output_bias, **presets.loss_kwargs(row.loss, dataset)
            )
            assert loss.output_bias == row.output_bias


def test_table_variants_and_eps():
    assert [v.key for v in presets.table_variants("table2")] == [
        "ce", "mae", "mae*", "boundce", "gce", "sce", "actpas1", "actpas2", "bitemp"]
    assert presets.variant("mae*").output_bias == 0.5
    assert presets.variant("boundce*2.5").output_bias == 2.5
    assert presets.variant("mae*3.0").output_bias == 3.0


def test_training_presets():
    resnet = presets.training_preset("resnet32")
    assert (resnet.momentum, resnet.batch_size, resnet.weight_decay) == (0.9, 128, 1e-4)
    assert (resnet.learning_rate, resnet.epochs, resnet.lr_boundaries_epochs) == (
        0.1, 200, (100, 150))
    mlp = presets.training_preset("mlp1024")
    assert (mlp.momentum, mlp.batch_size, mlp.lr_decay_per_epoch) == (0.95, 32, 0.95)
    assert presets.mlp_learning_rate("mae*", "cifar10") == 0.003
    assert presets.mlp_learning_rate("gce", "fashion_mnist") == 0.01


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: presets.loss_kwargs("sce", "mnist"), "mnist"),
        (lambda: presets.loss_kwargs("nope", "cifar10"), "nope"),
        (lambda: presets.table_variants("table9"), "table9"),
        (lambda: presets.variant("mae**"), "mae**"),
        (lambda: presets.training_preset("vgg"), "vgg"),
    ],
)
def test_unknown_names_raise(call, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        call()
