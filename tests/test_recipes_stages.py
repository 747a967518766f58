"""A sweep in stages (`recipes.stages`): the offline replication's protocol end to end.

The staged loop runs in-process with a stand-in trainer whose accuracy is
a fixed function of the loss and the learning rate, so that every stage
and every chosen rate is known by hand; the distributed paths train for
real, on 64 digits images for one epoch, with a config of two stages.
"""

import json
import os
import subprocess
import sys
import time

import pytest
from absl.testing import flagsaver

from recipes import config as config_lib
from recipes import launcher
from recipes import main as main_lib
from recipes import results
from recipes import stages
from recipes import sweep_files
from recipes import train_lib
from recipes.chief import ChiefLostError
from recipes.distributed import SweepEnvironment

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras_tuner")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARG = "tables=table2,losses=ce+mae,learning_rates=0.001+0.005+0.05,noise_rates=0.0+0.4,seeds=0"
SMALL = ("--config.epochs=1", "--config.train_size=64")
# Clean test accuracy by (loss, learning rate); 40 % noise costs 0.1.
ACCURACY = {
    # CE: best at 0.005, inside the grid 0.001, 0.005, 0.05.
    ("ce", 0.001): 0.80, ("ce", 0.005): 0.90, ("ce", 0.05): 0.85,
    # MAE: best at 0.05, the grid's edge; the grid holds mantissas 1 and 5
    # per decade, so 0.1 is tried next, is worse, and 0.05 is chosen.
    ("mae", 0.001): 0.50, ("mae", 0.005): 0.60, ("mae", 0.05): 0.70, ("mae", 0.1): 0.65,
}


class StandIn:
    """`train_and_evaluate` that writes the result of `ACCURACY` at once.

    Counts the runs it trains; raises KeyboardInterrupt (a kill) at the
    run number `kill_at`.
    """

    def __init__(self, kill_at=None):
        self.trained = []
        self.kill_at = kill_at

    def __call__(self, spec, workdir, data=None, callbacks=()):
        if results.is_finished(workdir, spec):
            return results.read(workdir)
        if len(self.trained) + 1 == self.kill_at:
            self.kill_at = None
            raise KeyboardInterrupt("killed")
        accuracy = ACCURACY[(spec.loss, spec.learning_rate)] - spec.noise_rate / 4
        history = {key: [1] if key == "epoch" else [accuracy] for key in results.HISTORY_KEYS}
        result = results.RunResult.from_history(spec, history, 1.0, {})
        results.write(workdir, result)
        self.trained.append((spec.loss, spec.learning_rate, spec.noise_rate))
        return result


def run_in_process(workdir, trainer, monkeypatch):
    monkeypatch.setattr(train_lib, "train_and_evaluate", trainer)
    with flagsaver.flagsaver(config=f"offline_replication:{ARG}", workdir=str(workdir)):
        main_lib.main(["recipes.main", *SMALL])


def test_stages_choose_extend_then_train_the_noise_at_the_chosen_rates(
        tmp_path, monkeypatch, capsys):
    trainer = StandIn()
    run_in_process(tmp_path, trainer, monkeypatch)
    assert trainer.trained == [
        # Stage 1: the grid on clean labels.
        ("ce", 0.001, 0.0), ("ce", 0.005, 0.0), ("ce", 0.05, 0.0),
        ("mae", 0.001, 0.0), ("mae", 0.005, 0.0), ("mae", 0.05, 0.0),
        # Stage 2: CE's noise at its rate (its clean run is stage 1's), and
        # MAE's grid past its edge.
        ("ce", 0.005, 0.4), ("mae", 0.1, 0.0),
        # Stage 3: MAE's noise at 0.05.
        ("mae", 0.05, 0.4),
    ]
    out = capsys.readouterr().out
    assert out.count("Next stage:") == 2
    assert "9 of 9 runs finished" in out
    # The chosen rates beside supplement Table 1's bold entries (CIFAR-10,
    # Fashion-MNIST), and where each clean row levelled off.
    assert "| Loss | chosen | paper (cifar10) | paper (fashion_mnist) | levelled (epoch of 1) |" \
        in out
    assert "| CE | 0.005 | 0.001 | 0.005 | 1 |" in out
    assert "| MAE | 0.05 | 0.0008 | 0.0008 | 1 |" in out
    with open(tmp_path / "best_learning_rates.json") as file:
        assert json.load(file) == {"digits": {"mlp1024": {"CE": 0.005, "MAE": 0.05}}}
    report = (tmp_path / "report.md").read_text()
    grid, noise = report.split("## digits, mlp1024, symmetric noise")
    assert "| CE | 80.0 n=1 | **90.0** n=1 | 85.0 n=1 | – | 0.005 | 0.001 | 0.005 |" in grid
    assert "| MAE | 50.0 n=1 | 60.0 n=1 | **70.0** n=1 | 65.0 n=1 | 0.05 |" in grid
    assert "Rates beyond supplement Table 1's grid (0.0005 to 0.05; a staged sweep adds " \
        "them where the best rate sat on its edge): MAE 0.1." in grid
    # The noise table: each loss at its chosen rate, the clean column stage 1's.
    assert "| CE | **90.0** n=1 | **80.0** n=1 |" in noise
    assert "| MAE | 70.0 n=1 | 60.0 n=1 |" in noise

    # The same command again trains nothing.
    again = StandIn()
    run_in_process(tmp_path, again, monkeypatch)
    assert again.trained == []
    assert "9 of 9 runs finished" in capsys.readouterr().out


def test_a_killed_staged_sweep_resumes_where_it_stopped(tmp_path, monkeypatch, capsys):
    first = StandIn(kill_at=8)  # In stage 2, after CE's noisy run.
    with pytest.raises(KeyboardInterrupt):
        run_in_process(tmp_path, first, monkeypatch)
    assert len(first.trained) == 7
    second = StandIn()
    run_in_process(tmp_path, second, monkeypatch)
    assert second.trained == [("mae", 0.1, 0.0), ("mae", 0.05, 0.4)]
    assert "9 of 9 runs finished" in capsys.readouterr().out


# A staged config of two stages whatever the accuracies: CE and MAE at two
# rates on clean labels, then each at its better rate with 40 % noise.
STAGED_CONFIG = """
from recipes import learning_rate_choice
from recipes.configs import common

ARGUMENTS = {}


def get_config(arg=None):
    return common.offline_mlp_config("digits")


def get_sweep(arg=None, finished=None):
    clean = [{"loss": loss, "noise_rate": 0.0, "learning_rate": rate, "seed": 0}
             for loss in ("ce", "mae") for rate in (0.01, 0.1)]
    points = list(clean)
    for loss in ("ce", "mae"):
        done = {p["learning_rate"]: finished and finished.get(p) for p in clean
                if p["loss"] == loss}
        if all(done.values()):
            means = {rate: result.test_accuracy for rate, result in done.items()}
            rate = learning_rate_choice.best_learning_rate(means)
            points.append({"loss": loss, "noise_rate": 0.4, "learning_rate": rate, "seed": 0})
    return points
"""


def _environment(**variables):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1", **variables)
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        if name not in variables:
            env.pop(name, None)
    return env


def _check_two_stages(workdir):
    """Every run trained once, the noisy ones at each loss's better clean rate."""
    finished = results.load_all(workdir)
    assert len(finished) == 6
    clean = {(r.settings["loss"], r.settings["learning_rate"]): r.test_accuracy
             for r in finished if r.settings["noise_rate"] == 0.0}
    for loss in ("ce", "mae"):
        (noisy,) = [r for r in finished
                    if r.settings["loss"] == loss and r.settings["noise_rate"] == 0.4]
        better = 0.1 if clean[(loss, 0.1)] > clean[(loss, 0.01)] else 0.01
        assert noisy.settings["learning_rate"] == better
    trained = [entry["run_id"] for entry in sweep_files.read_log(workdir) if entry["trained"]]
    assert sorted(trained) == sorted(r.run_id for r in finished)
    assert sweep_files.read_sweep_stage(workdir)[1] is True


def test_a_chief_serves_both_stages_to_a_worker_that_follows_it(tmp_path):
    config = tmp_path / "staged.py"
    config.write_text(STAGED_CONFIG)
    workdir = tmp_path / "runs"
    port = str(launcher.free_port())
    distributed = dict(KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=port,
                       KERAS_ROBUST_HEARTBEAT_TIMEOUT="5")
    chief = subprocess.Popen(
        [sys.executable, "-m", "recipes.main", f"--config={config}", f"--workdir={workdir}",
         *SMALL],
        cwd=tmp_path, env=_environment(KERASTUNER_TUNER_ID="chief", **distributed),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    # A worker without the config: it trains what the chief's sweep.json names.
    for _ in range(600):
        if (workdir / sweep_files.SWEEP_FILENAME).exists() or chief.poll() is not None:
            break
        time.sleep(0.1)
    worker = subprocess.Popen(
        [sys.executable, "-m", "recipes.grid", f"--workdir={workdir}"],
        cwd=tmp_path, env=_environment(KERASTUNER_TUNER_ID="tuner0", **distributed),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        chief_out, _ = chief.communicate(timeout=120)
        worker_out, _ = worker.communicate(timeout=60)
    finally:
        for process in (chief, worker):
            if process.poll() is None:
                process.kill()
                process.wait()
    assert chief.returncode == 0, chief_out[-3000:]
    assert worker.returncode == 0, worker_out[-3000:]
    assert worker_out.count("Worker tuner0 done") == 2
    _check_two_stages(workdir)


def test_finished_looks_points_up_by_run_id():
    config = config_lib.override(
        main_lib.load_config("offline_replication").config, {"epochs": 1}
    )
    point = {"dataset": "digits", "loss": "mae", "output_bias": 0.5, "noise_rate": 0.0,
             "learning_rate": 0.003, "seed": 1}
    spec = config_lib.resolve(config_lib.override(config, point))
    history = {key: [1] if key == "epoch" else [0.5] for key in results.HISTORY_KEYS}
    result = results.RunResult.from_history(spec, history, 1.0, {})
    finished = stages.Finished(
        lambda p: config_lib.resolve(config_lib.override(config, p)), [result]
    )
    assert finished.get(point) is result
    assert finished.get({**point, "seed": 2}) is None
    assert finished.get({**point, "loss": "no such loss"}) is None
    assert stages.is_staged(main_lib.load_config("offline_replication").module)
    assert not stages.is_staged(main_lib.load_config("lr_grid").module)


def test_a_worker_follows_the_stages_of_sweep_json_until_final(tmp_path, monkeypatch):
    config = main_lib.load_config("offline_replication").config
    first, second = [
        config_lib.resolve_sweep(config, [{"loss": loss, "seed": 0}]) for loss in ("ce", "mae")
    ]
    joined = []

    def run_sweep(specs, workdir, *, environment):
        # The chief moves on while the worker trains: a new stage, then final.
        joined.append([spec.loss for spec in specs])
        sweep_files.write_sweep_file(second, workdir, final=len(joined) == 2)

    monkeypatch.setattr(stages.sweep_lib, "run_sweep", run_sweep)
    worker = SweepEnvironment(tuner_id="tuner0", oracle_ip="127.0.0.1", oracle_port=1,
                              chief_timeout=0.5)
    sweep_files.write_sweep_file(first, tmp_path, final=False)
    stages.follow_chief(tmp_path, worker, poll_seconds=0.01)
    assert joined == [["ce"], ["mae"]]
    # A stage done and no next one, nor the final mark: the chief is lost.
    sweep_files.write_sweep_file(first, tmp_path, final=False)
    monkeypatch.setattr(stages.sweep_lib, "run_sweep", lambda *args, **kwargs: None)
    with pytest.raises(ChiefLostError, match="no next stage of the sweep"):
        stages.follow_chief(tmp_path, worker, poll_seconds=0.01)
