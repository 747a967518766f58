"""The `recommend_check` recipe: recommend() from an estimated against the true noise rate."""

import os
import pathlib
import subprocess
import sys

from recipes import main
from recipes import results
from recipes.configs import recommend_check

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_candidates_are_the_losses_of_paper_table_4():
    # Table 4 with its refinements (keras_robust.losses.recommend): below 5 %
    # noise biTemp (10 classes) or boundCE* (eps 2.5 at 100 classes, paper
    # eq. 2), up to 40 % genCE, above it boundCE (10) or genCE (100).
    assert recommend_check.candidate_losses(10) == [
        {"loss": "bitemp", "loss_kwargs": {"t1": 0.8, "t2": 1.2, "label_smoothing": 0.0,
                                           "num_iters": 5}},
        {"loss": "gce", "loss_kwargs": {"q": 0.7}},
        {"loss": "boundce", "loss_kwargs": {}},
    ]
    assert recommend_check.candidate_losses(100) == [
        {"loss": "boundce*2.5", "loss_kwargs": {}},
        {"loss": "gce", "loss_kwargs": {"q": 0.7}},
    ]


def test_sweep_has_the_folds_and_every_candidate_by_seed():
    loaded = main.load_config("recommend_check:datasets=digit_pairs,noise_rates=0.2,seeds=0+1")
    specs = main.resolve_specs(loaded, [])
    folds = [spec for spec in specs if spec.num_folds > 1]
    trained = [spec for spec in specs if spec.num_folds == 1]
    assert [spec.holdout_fold for spec in folds] == [0, 1, 2, 3]
    assert {spec.epochs for spec in folds} == {10} and {spec.loss for spec in folds} == {"ce"}
    # boundCE*2.5, genCE and CE, two seeds each, 20 epochs.
    assert sorted((spec.loss_spec.text, spec.seed) for spec in trained) == [
        ("boundce*2.5", 0), ("boundce*2.5", 1), ("ce", 0), ("ce", 1), ("gce", 0), ("gce", 1),
    ]
    assert {spec.epochs for spec in trained} == {20}
    assert {spec.noise_rate for spec in specs} == {0.2}


def test_end_to_end_on_digits(tmp_path):
    workdir = tmp_path / "check"
    arguments = [
        "--config=recommend_check:datasets=digits,noise_rates=0.4,seeds=0,folds=2,"
        "fold_epochs=1,epochs=1",
        "--config.train_size=100",
    ]
    ran = subprocess.run(
        [sys.executable, "-m", "recipes.main", *arguments, f"--workdir={workdir}"],
        cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True, text=True, timeout=600,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    specs = main.resolve_specs(main.load_config(arguments[0].partition("=")[2]),
                               [("train_size", "100")])
    accuracy = {
        spec.loss_spec.text: results.read(workdir / spec.run_id).test_accuracy
        for spec in specs if spec.num_folds == 1
    }
    row = next(line for line in ran.stdout.splitlines() if line.startswith("| digits | 0.4 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    # The true rate 0.4 at 10 classes: boundCE (Table 4, 40 % and more).
    assert cells[6:8] == ["boundCE", f"{100 * accuracy['boundce']:.1f}"]
    assert cells[8] == f"{100 * accuracy['ce']:.1f}"
    estimated = float(cells[2].split()[0])
    wrong_true, wrong_estimated = (float(value) for value in cells[3].split(", "))
    assert abs(estimated - min(1.0, wrong_estimated * 10 / 9)) < 0.002
    chosen = {"bitemp": "biTemp", "gce": "genCE", "boundce": "boundCE"}
    chosen_from_estimate = (
        "biTemp" if estimated < 0.05 else "genCE" if estimated < 0.4 else "boundCE"
    )
    assert cells[4] == chosen_from_estimate in chosen.values()
    text = next(key for key, label in chosen.items() if label == chosen_from_estimate)
    assert cells[5] == f"{100 * accuracy[text]:.1f}"
    assert 0.0 < wrong_true < 0.6
