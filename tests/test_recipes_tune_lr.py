"""Tests of `recipes.tune_lr` (supplement Table 1 with keras-tuner)."""

import glob
import json
import math
import os

import pytest
from absl import flags

from recipes import runner
from recipes import tune_lr

# keras-tuner 1.4.8 calls threading.currentThread().
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras_tuner")

_RATES = (0.001, 0.05)
_EXECUTIONS = 2
_RUN_KWARGS = {"epochs": 1, "train_size": 96}


def _final_accuracies(output_dir, rate):
    directory = tune_lr.runs_dir(output_dir, "digits", "mae*", rate)
    accuracies = []
    for seed in range(_EXECUTIONS):
        config = tune_lr.run_config("digits", "mae*", rate, seed, **_RUN_KWARGS)
        assert config.learning_rate == rate and config.output_bias == 0.5
        results = runner.load_results(runner.results_path(config, directory))
        assert results["settings"]["seed"] == seed
        accuracies.append(results["final"]["test_accuracy"])
    return accuracies


def test_tiny_grid_search_on_digits(tmp_path):
    output_dir = str(tmp_path / "lr")
    chosen, markdown = tune_lr.tune_learning_rates(
        output_dir,
        datasets=["digits"],
        losses=["mae*"],
        learning_rates=_RATES,
        executions=_EXECUTIONS,
        **_RUN_KWARGS,
    )

    # Each rate and seed trained once, in its own directory.
    finals = {rate: _final_accuracies(output_dir, rate) for rate in _RATES}
    means = {rate: sum(values) / len(values) for rate, values in finals.items()}
    best = max(_RATES, key=lambda rate: means[rate])
    assert chosen == {"digits": {"mae*": best}}
    with open(os.path.join(output_dir, "learning_rates.json"), encoding="utf-8") as file:
        assert json.load(file) == {"digits": {"mae*": best}}
    assert tune_lr.load_learning_rates(os.path.join(output_dir, "learning_rates.json")) == chosen

    # keras-tuner's score of each trial is the mean FINAL-epoch accuracy.
    trial_files = glob.glob(os.path.join(output_dir, "tuner", "*", "trial_*", "trial.json"))
    assert len(trial_files) == len(_RATES)
    for path in trial_files:
        with open(path, encoding="utf-8") as file:
            trial = json.load(file)
        rate = trial["hyperparameters"]["values"]["learning_rate"]
        assert trial["score"] == pytest.approx(means[rate])

    # The table: mean ± s.e. (ddof=1) in percent, the chosen rate in bold.
    lines = [line for line in markdown.splitlines() if line.startswith("| MAE*")]
    assert len(lines) == 1
    cells = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert cells[0] == "MAE* eps=0.5"
    for cell, rate in zip(cells[1:3], _RATES):
        values = [100 * value for value in finals[rate]]
        mean = sum(values) / 2
        error = math.sqrt(sum((v - mean) ** 2 for v in values)) / math.sqrt(2)
        text = f"{mean:.2f} ± {error:.2f}"
        assert cell == (f"**{text}**" if rate == best else text)
    assert cells[3] == f"{best:g}"
    assert cells[4] == "–"  # the paper did not tune on digits
    with open(os.path.join(output_dir, "learning_rates.md"), encoding="utf-8") as file:
        assert file.read() == markdown

    # A rerun trains nothing and merges into the existing JSON.
    stamps = {
        path: os.path.getmtime(path)
        for path in glob.glob(os.path.join(output_dir, "runs", "*", "*", "results.json"))
    }
    assert len(stamps) == len(_RATES) * _EXECUTIONS
    with open(os.path.join(output_dir, "learning_rates.json"), "w", encoding="utf-8") as file:
        json.dump({"cifar10": {"ce": 0.001}}, file)
    chosen_again, _ = tune_lr.tune_learning_rates(
        output_dir,
        datasets=["digits"],
        losses=["mae*"],
        learning_rates=_RATES,
        executions=_EXECUTIONS,
        **_RUN_KWARGS,
    )
    assert chosen_again == chosen
    assert {path: os.path.getmtime(path) for path in stamps} == stamps
    assert tune_lr.load_learning_rates(os.path.join(output_dir, "learning_rates.json")) == {
        "cifar10": {"ce": 0.001},
        "digits": {"mae*": best},
    }


def test_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="learning_rates"):
        tune_lr.tune_learning_rates(str(tmp_path), datasets=["digits"], learning_rates=[0.01, -1.0])
    with pytest.raises(ValueError, match="learning_rates"):
        tune_lr.tune_learning_rates(str(tmp_path), datasets=["digits"], learning_rates=["fast"])
    with pytest.raises(ValueError, match="executions"):
        tune_lr.search_learning_rate("digits", "ce", str(tmp_path), executions=0)
    with pytest.raises(ValueError, match="imagenet"):
        tune_lr.search_learning_rate("imagenet", "ce", str(tmp_path))
    with pytest.raises(ValueError, match="datasets"):
        tune_lr.tune_learning_rates(str(tmp_path), datasets=[])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"cifar10": {"ce": -1}}))
    with pytest.raises(ValueError, match="positive rate"):
        tune_lr.load_learning_rates(str(bad))


def test_paper_table_cells_and_flags():
    statistics = {0.001: (55.0, 0.5, 5), 0.003: (54.0, 0.2, 3)}
    markdown = tune_lr.markdown_table(
        "cifar10", {"ce": (statistics, 0.001)}, [0.001, 0.003, 0.05], executions=5
    )
    (line,) = [line for line in markdown.splitlines() if line.startswith("| CE")]
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells == [
        "CE",
        "**55.00 ± 0.50** (paper 55.70 ± 0.13)",
        "54.00 ± 0.20 n=3 (paper 55.41 ± 0.15)",
        "– (paper 10.00 ± 0.00)",
        "0.001",
        "0.001",
    ]
    flag_values = flags.FlagValues()
    tune_lr.define_flags(flag_values)
    help_text = flag_values.get_help()
    for name in ("output_dir", "datasets", "losses", "learning_rates", "executions",
                 "model", "noise_rate", "epochs", "train_size", "verbose"):
        assert f"--{name}" in help_text
