"""Tests of `recipes.tune_lr` (supplement Table 1 with keras-tuner)."""

import collections
import glob
import json
import math
import os

import keras
import pytest
from absl import flags

from recipes import runner
from recipes import tune_lr

# keras-tuner 1.4.8 calls threading.currentThread().
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras_tuner")

_RATES = (0.001, 0.01, 0.05)
_EXECUTIONS = 2
_RUN_KWARGS = {"epochs": 1, "train_size": 96}
_SEARCH = dict(
    datasets=["digits"],
    losses=["mae*"],
    learning_rates=_RATES,
    executions=_EXECUTIONS,
    **_RUN_KWARGS,
)


class _RaiseInRun(keras.callbacks.Callback):
    """Raises `error` in the `n`-th run this callback sees."""

    def __init__(self, n, error, at="epoch_end"):
        super().__init__()
        self.n, self.error, self.at = n, error, at
        self.runs = 0

    def on_train_begin(self, logs=None):
        self.runs += 1
        if self.at == "train_begin" and self.runs == self.n:
            raise self.error

    def on_epoch_end(self, epoch, logs=None):
        if self.at == "epoch_end" and self.runs == self.n:
            raise self.error


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


def _results_mtimes(output_dir):
    return {
        path: os.stat(path).st_mtime_ns
        for path in glob.glob(os.path.join(output_dir, "runs", "*", "*", "results.json"))
    }


def test_interrupted_search_resumes_without_redoing_runs(tmp_path):
    output_dir = str(tmp_path / "lr")
    json_path = os.path.join(output_dir, "learning_rates.json")
    keys = [
        f"digits/mae*/lr{rate!r}/seed{seed}" for rate in _RATES for seed in range(_EXECUTIONS)
    ]

    # 1. Killed in the middle of the second run.
    with pytest.raises(KeyboardInterrupt):
        tune_lr.tune_learning_rates(
            output_dir, callbacks=[_RaiseInRun(2, KeyboardInterrupt("killed"))], **_SEARCH
        )
    log = tune_lr.read_log(output_dir)
    assert [entry["run"] for entry in log] == keys[:1]
    assert not os.path.exists(json_path)
    first = _results_mtimes(output_dir)
    assert len(first) == 1

    # 2. Resumed (no KeyError from the reloaded oracle); one run crashes:
    # the others go on, the search ends with an error and writes nothing.
    with pytest.raises(RuntimeError, match="1 of 6 runs"):
        tune_lr.tune_learning_rates(
            output_dir,
            callbacks=[_RaiseInRun(2, ValueError("crashed"), at="train_begin")],
            **_SEARCH,
        )
    log = tune_lr.read_log(output_dir)
    logged = [entry["run"] for entry in log]
    assert logged[:2] == keys[:2] and len(set(logged)) == len(logged) == len(keys) - 1
    (crashed,) = set(keys) - set(logged)
    assert not os.path.exists(json_path)
    assert {path: _results_mtimes(output_dir)[path] for path in first} == first

    # 3. The next start retries only the crashed run and completes the grid.
    before = _results_mtimes(output_dir)
    chosen, markdown = tune_lr.tune_learning_rates(output_dir, **_SEARCH)
    log = tune_lr.read_log(output_dir)
    assert [entry["run"] for entry in log[len(keys) - 1:]] == [crashed]
    trained = collections.Counter(entry["run"] for entry in log if entry["trained"])
    assert sorted(trained) == sorted(keys) and set(trained.values()) == {1}
    assert all(entry["tuner_id"] == "tuner0" for entry in log)
    after = _results_mtimes(output_dir)
    assert len(after) == len(_RATES) * _EXECUTIONS
    assert {path: after[path] for path in before} == before

    # The chosen rate: the best mean FINAL-epoch accuracy over the seeds.
    finals = {rate: _final_accuracies(output_dir, rate) for rate in _RATES}
    means = {rate: sum(values) / len(values) for rate, values in finals.items()}
    best = max(_RATES, key=lambda rate: means[rate])
    assert chosen == {"digits": {"mae*": best}}
    with open(json_path, encoding="utf-8") as file:
        assert json.load(file) == {"digits": {"mae*": best}}
    assert tune_lr.load_learning_rates(json_path) == chosen

    # One keras-tuner trial per run, scored with its final test accuracy.
    trial_files = glob.glob(os.path.join(output_dir, "tuner", "*", "trial_*", "trial.json"))
    assert len(trial_files) == len(keys)
    runs = []
    for path in trial_files:
        with open(path, encoding="utf-8") as file:
            trial = json.load(file)
        assert trial["status"] == "COMPLETED"
        key = trial["hyperparameters"]["values"]["run"]
        runs.append(key)
        rate, seed = _RATES[keys.index(key) // _EXECUTIONS], keys.index(key) % _EXECUTIONS
        assert trial["score"] == pytest.approx(finals[rate][seed])
    assert sorted(runs) == sorted(keys)

    # The table: mean ± s.e. (ddof=1) in percent, the chosen rate in bold.
    lines = [line for line in markdown.splitlines() if line.startswith("| MAE*")]
    assert len(lines) == 1
    cells = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert cells[0] == "MAE* eps=0.5"
    for cell, rate in zip(cells[1:4], _RATES):
        values = [100 * value for value in finals[rate]]
        mean = sum(values) / 2
        error = math.sqrt(sum((v - mean) ** 2 for v in values)) / math.sqrt(2)
        text = f"{mean:.2f} ± {error:.2f}"
        assert cell == (f"**{text}**" if rate == best else text)
    assert cells[4] == f"{best:g}"
    assert cells[5] == "–"  # the paper did not tune on digits
    with open(os.path.join(output_dir, "learning_rates.md"), encoding="utf-8") as file:
        assert file.read() == markdown

    # 4. A start on the finished grid trains nothing and merges the JSON.
    with open(json_path, "w", encoding="utf-8") as file:
        json.dump({"cifar10": {"ce": 0.001}}, file)
    chosen_again, markdown_again = tune_lr.tune_learning_rates(output_dir, **_SEARCH)
    assert (chosen_again, markdown_again) == (chosen, markdown)
    assert len(tune_lr.read_log(output_dir)) == len(keys)
    assert _results_mtimes(output_dir) == after
    assert tune_lr.load_learning_rates(json_path) == {
        "cifar10": {"ce": 0.001},
        "digits": {"mae*": best},
    }


def test_choose_learning_rate():
    statistics = {0.001: (50.0, 1.0, 2), 0.01: (60.0, 1.0, 2), 0.05: (60.0, 0.5, 2)}
    assert tune_lr.choose_learning_rate(statistics, [0.05, 0.01, 0.001]) == 0.01


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
