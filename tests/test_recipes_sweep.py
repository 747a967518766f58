"""Tests of recipes.sweep: the grid, resuming a killed sweep, the report."""

import collections
import os

import keras
import pytest
from absl import flags

from recipes import quickstart
from recipes import runner
from recipes import sweep

TINY = dict(epochs=1, train_size=64, learning_rate=0.01)


def tiny_grid(**kwargs):
    settings = dict(
        datasets=["digits"],
        models=["mlp1024"],
        losses=["ce", "gce"],
        noise_rates=[0.2],
        seeds=[0, 1],
    )
    settings.update(kwargs)
    return sweep.grid("table2", **settings, **TINY)


class _KillOnRun(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at the end of the `n`-th run's first epoch."""

    def __init__(self, n):
        super().__init__()
        self.n = n
        self.runs = 0

    def on_train_begin(self, logs=None):
        self.runs += 1

    def on_epoch_end(self, epoch, logs=None):
        if self.runs == self.n:
            raise KeyboardInterrupt("sweep killed")


def test_table_grids():
    table2 = sweep.grid("table2")
    assert len(table2) == 2 * 2 * 9 * 5 * 5
    assert len({config.run_id for config in table2}) == len(table2)
    table3 = sweep.grid("table3")
    assert len(table3) == 10 * 5 * 5
    assert {c.model for c in table3} == {"resnet34"}
    assert {c.variant for c in table3} >= {"mae*1.5", "boundce*2.5"}
    cell = sweep.grid("table2", datasets=["cifar10"], models=["resnet32"], losses=["mae*"],
                      noise_rates=[0.4], seeds=[0], epochs=3)
    assert [c.run_id for c in cell] == ["cifar10-resnet32-mae_star0.5-sym0.4-seed0"]
    assert cell[0].epochs == 3 and cell[0].lr_boundaries == (100, 150)
    with pytest.raises(ValueError, match="Allowed"):
        sweep.grid("table2", datasets=["mnist"])
    with pytest.raises(ValueError, match="Allowed"):
        sweep.grid("table2", losses=["focal"])


def test_sweep_resumes_without_redoing_runs(tmp_path):
    configs = tiny_grid()
    assert len(configs) == 4
    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(configs, tmp_path, verbose=0, callbacks=[_KillOnRun(3)])
    first = sweep.read_log(tmp_path)
    assert [entry["trained"] for entry in first] == [True, True]
    done = {entry["run_id"] for entry in first}
    mtimes = {
        config.run_id: os.stat(runner.results_path(config, tmp_path)).st_mtime_ns
        for config in configs
        if config.run_id in done
    }

    sweep.run_sweep(configs, tmp_path, verbose=0)
    log = sweep.read_log(tmp_path)
    trained = collections.Counter(e["run_id"] for e in log if e["trained"])
    assert sorted(trained) == sorted(c.run_id for c in configs)
    assert set(trained.values()) == {1}
    assert len(log) == 4  # the resumed sweep ran only the two missing runs
    for run_id, mtime in mtimes.items():
        path = os.path.join(tmp_path, run_id, runner.RESULTS_FILENAME)
        assert os.stat(path).st_mtime_ns == mtime
    assert all(runner.is_finished(config, tmp_path) for config in configs)

    # A third start finds the grid done and trains nothing.
    sweep.run_sweep(configs, tmp_path, verbose=0)
    assert len(sweep.read_log(tmp_path)) == 4

    report = sweep.markdown_table(configs, tmp_path)
    assert "| CE |" in report and "| genCE |" in report and "±" in report


class _FailRun(keras.callbacks.Callback):
    """Raises an ordinary error in the `n`-th run."""

    def __init__(self, n):
        super().__init__()
        self.n = n
        self.runs = 0

    def on_train_begin(self, logs=None):
        self.runs += 1
        if self.runs == self.n:
            raise RuntimeError("run crashed")


def test_failed_run_is_retried_by_the_next_start(tmp_path, capsys):
    configs = tiny_grid(losses=["ce"], seeds=[0, 1, 2])
    sweep.run_sweep(configs, tmp_path, verbose=0, callbacks=[_FailRun(2)])
    assert "run crashed" in capsys.readouterr().err
    finished = [runner.is_finished(config, tmp_path) for config in configs]
    assert finished == [True, False, True]
    sweep.run_sweep(configs, tmp_path, verbose=0)
    assert all(runner.is_finished(config, tmp_path) for config in configs)
    trained = [entry["run_id"] for entry in sweep.read_log(tmp_path)]
    assert sorted(trained) == sorted(config.run_id for config in configs)


def test_sweep_refuses_results_of_other_settings(tmp_path):
    configs = tiny_grid(losses=["ce"], seeds=[0])
    runner.run(configs[0], tmp_path, verbose=0)
    changed = tiny_grid(losses=["ce"], seeds=[0])
    changed = [c.__class__(**{**c.__dict__, "learning_rate": 0.02}) for c in changed]
    with pytest.raises(runner.SettingsMismatchError):
        sweep.run_sweep(changed, tmp_path, verbose=0)


def test_sweep_main_report_only(tmp_path, capsys):
    flag_values = flags.FlagValues()
    sweep.define_flags(flag_values)
    flag_values([
        "sweep", "--datasets=digits", "--models=mlp1024", "--losses=ce",
        "--noise_rates=0.4", "--seeds=0", "--learning_rate=0.01", "--epochs=1",
        "--train_size=64", f"--output_dir={tmp_path}", "--report_only",
    ])
    sweep.sweep_from_flags(flag_values)
    out = capsys.readouterr()
    assert "| CE | - |" in out.out and "1 of 1 runs not finished" in out.err
    text = flag_values.module_help(sweep)
    for name in ("table", "datasets", "models", "losses", "noise_rates", "seeds",
                 "epochs", "train_size", "output_dir"):
        assert f"--{name}:" in text, name


def test_quickstart_smoke(tmp_path, capsys):
    flag_values = flags.FlagValues()
    quickstart.define_flags(flag_values)
    flag_values([
        "quickstart", "--losses=ce,mae*", "--seeds=0", "--epochs=1",
        "--train_size=64", f"--output_dir={tmp_path}",
    ])
    table = quickstart.quickstart_from_flags(flag_values)
    assert "| CE |" in table and "| MAE* eps=0.5 |" in table
    assert (tmp_path / quickstart.PLOT_FILENAME).stat().st_size > 0
    out = capsys.readouterr().out
    assert "40% symmetric noise" in out and table in out


def test_mean_and_sem():
    mean, sem = sweep.mean_and_sem([1.0, 2.0, 3.0])
    assert mean == 2.0 and sem == pytest.approx(1.0 / 3**0.5)
