"""`recipes.sweep.run_sweep` in one process: resume, retry, checks, the sweep file."""

import collections
import json
import os

import keras
import pytest

from recipes import config as config_lib
from recipes import results
from recipes import sweep as sweep_lib
from recipes import sweep_files
from recipes.distributed import SweepEnvironment
from recipes.distributed import SweepError

# keras-tuner 1.4.8 calls threading.currentThread().
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras_tuner")


def run_sweep(config, sweep, workdir, **kwargs):
    """`run_sweep` of the resolved points in this process alone (no chief, no workers)."""
    specs = config_lib.resolve_sweep(config, sweep)
    return sweep_lib.run_sweep(specs, workdir, environment=SweepEnvironment(), **kwargs)


def tiny_config(**fields):
    config = config_lib.get_default_config()
    config.update(
        dataset="digits", model="mlp1024", noise_rate=0.2, epochs=1,
        train_size=64, learning_rate=0.01, verbose=0,
    )
    return config_lib.override(config, fields)


def tiny_sweep(losses=("ce", "gce"), seeds=(0, 1)):
    return [{"loss": loss, "seed": seed} for loss in losses for seed in seeds]


class _RaiseInRun(keras.callbacks.Callback):
    """Raises `error` at the end of the first epoch of the `n`-th run."""

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


def _run_dirs(config, sweep, workdir):
    return [
        os.path.join(workdir, config_lib.resolve(config_lib.override(config, point)).run_id)
        for point in sweep
    ]


def test_killed_sweep_resumes_without_redoing_runs(tmp_path, capsys):
    config, sweep = tiny_config(), tiny_sweep()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(
            config, sweep, tmp_path, callbacks=[_RaiseInRun(3, KeyboardInterrupt("killed"))]
        )
    first = sweep_files.read_log(tmp_path)
    assert [entry["trained"] for entry in first] == [True, True]
    run_dirs = _run_dirs(config, sweep, tmp_path)
    mtimes = {
        run_dir: os.stat(results.results_path(run_dir)).st_mtime_ns
        for run_dir in run_dirs[:2]
    }
    assert not os.path.exists(results.results_path(run_dirs[2]))

    capsys.readouterr()
    finished = run_sweep(config, sweep, tmp_path)
    assert [result.run_id for result in finished] == [os.path.basename(d) for d in run_dirs]
    # Progress: the start line counts the runs finished before; each
    # finished run's line has [k/N] and the time left.
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"4 runs: 2 already finished, 2 to train on 1 worker; about {lines[0].split('about ')[1]}"
    ) and lines[0].endswith(f"left. ({tmp_path})")
    ran = [line for line in lines if line.startswith("[")]
    assert [line.split("]")[0] for line in ran] == ["[3/4", "[4/4"]
    assert ran[0].startswith(f"[3/4] {os.path.basename(run_dirs[2])}: test accuracy ")
    assert ran[0].endswith(" left") and ran[1].endswith("; nothing left")
    log = sweep_files.read_log(tmp_path)
    trained = collections.Counter(entry["run_id"] for entry in log if entry["trained"])
    assert sorted(trained) == sorted(os.path.basename(d) for d in run_dirs)
    assert set(trained.values()) == {1}
    assert len(log) == 4  # the second start ran only the two missing runs
    for run_dir, mtime in mtimes.items():
        assert os.stat(results.results_path(run_dir)).st_mtime_ns == mtime
    assert {result.settings["loss"] for result in finished} == {"ce", "gce"}

    # A third start finds the sweep done and trains nothing.
    assert len(run_sweep(config, sweep, tmp_path)) == 4
    assert len(sweep_files.read_log(tmp_path)) == 4
    assert "tuner0: every run of the sweep is finished; nothing to train." in capsys.readouterr().out


def test_failed_run_is_retried_by_the_next_start(tmp_path, capsys):
    config, sweep = tiny_config(), tiny_sweep(losses=("ce",), seeds=(0, 1, 2))
    finished = run_sweep(
        config, sweep, tmp_path,
        callbacks=[_RaiseInRun(2, RuntimeError("run crashed"), at="train_begin")],
    )
    err = capsys.readouterr().err
    assert "run crashed" in err and "1 of 3 runs did not finish" in err
    assert [result.settings["seed"] for result in finished] == [0, 2]
    finished = run_sweep(config, sweep, tmp_path)
    assert [result.settings["seed"] for result in finished] == [0, 1, 2]
    trained = [entry["run_id"] for entry in sweep_files.read_log(tmp_path)]
    run_ids = [os.path.basename(run_dir) for run_dir in _run_dirs(config, sweep, tmp_path)]
    assert sorted(trained) == sorted(run_ids)


def test_sweep_checks_every_point_before_training(tmp_path):
    config = tiny_config()
    # A run directory holding the results of other settings.
    ce, gce = _run_dirs(config, tiny_sweep(seeds=(0,)), tmp_path)
    run_sweep(config, tiny_sweep(losses=("ce",), seeds=(0,)), tmp_path)
    results.write(gce, results.read(ce))
    with pytest.raises(results.SettingsMismatchError, match="loss='ce' there, 'gce' here"):
        run_sweep(config, tiny_sweep(seeds=(0,)), tmp_path)
    with pytest.raises(SweepError, match="The sweep has no runs"):
        run_sweep(config, [], tmp_path)
    assert len(sweep_files.read_log(tmp_path)) == 1


def test_repeated_points_run_once_and_sweep_file_round_trips(tmp_path):
    config = tiny_config()
    sweep = [{"loss": "ce"}, {"loss": "ce", "seed": 0}, {"loss_kwargs.q": 0.5, "loss": "gce"}]
    finished = run_sweep(config, sweep, tmp_path)
    assert len(finished) == 2
    assert finished[1].settings["loss_kwargs"] == {"q": 0.5}
    # sweep.json: every run's id and settings, in order; a worker rebuilds
    # the same specs from it.
    with open(tmp_path / sweep_files.SWEEP_FILENAME) as file:
        stored = json.load(file)
    assert stored == {"runs": [
        {"run_id": result.run_id, "settings": result.settings} for result in finished
    ]}
    assert sweep_files.read_sweep_file(tmp_path) == config_lib.resolve_sweep(config, sweep)


def test_a_damaged_results_file_is_named_set_aside_and_redone(tmp_path, capsys):
    config, sweep = tiny_config(), tiny_sweep(losses=("ce",))
    first = run_sweep(config, sweep, tmp_path)
    damaged, intact = _run_dirs(config, sweep, tmp_path)
    path = results.results_path(damaged)
    with open(path) as file:
        text = file.read()
    with open(path, "w") as file:
        file.write(text[: len(text) // 2])
    capsys.readouterr()
    with pytest.warns(UserWarning, match=f"Damaged results file {path}: .*set aside as {path}.damaged"):
        again = run_sweep(config, sweep, tmp_path)
    assert [result.final for result in again] == [result.final for result in first]
    err = capsys.readouterr().err
    assert f"1 damaged files were set aside (kept for inspection; their runs were redone or resumed): {path}.damaged" in err
    # Only the damaged run was trained again.
    redone = [entry["run_id"] for entry in sweep_files.read_log(tmp_path)][len(sweep):]
    assert redone == [os.path.basename(damaged)]
    assert results.read(intact) == first[1]
