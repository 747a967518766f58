"""Tests of `python -m recipes.main`, run as a user runs it: a new process
started outside the checkout."""

import os
import pathlib
import subprocess
import sys

import pytest

from recipes import results

ROOT = pathlib.Path(__file__).resolve().parents[1]
DIGITS_RUN = (
    "--config.dataset=digits", "--config.model=mlp1024", "--config.loss=gce",
    "--config.noise_rate=0.4", "--config.epochs=1", "--config.train_size=64",
    "--config.verbose=0",
)


def run_main(cwd, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "recipes.main", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


def test_one_run_from_another_directory_then_report_and_mismatch(tmp_path):
    workdir = tmp_path / "run"
    # The config path is relative to the installed package, not to cwd.
    trained = run_main(tmp_path, "--config=recipes/configs/default.py",
                       f"--workdir={workdir}", *DIGITS_RUN)
    assert trained.returncode == 0, trained.stderr
    result = results.read(workdir)
    assert result.settings["learning_rate"] == 0.01  # digits: the documented default
    assert f"test accuracy:        {result.test_accuracy:.4f}" in trained.stdout
    # The saved model loads in a fresh process after `import keras_robust, zoo`
    # (its loss, augmentation layer and optimizer are theirs) and takes raw
    # uint8 images.
    loader = (
        "import keras_robust, zoo, keras, sys\n"
        "model = keras.models.load_model(sys.argv[1])\n"
        "test = keras_robust.data.load_dataset('digits')\n"
        "print(model.evaluate(test.x_test, test.y_test, verbose=0, return_dict=True)['accuracy'])\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", loader, str(workdir / "model.keras")], cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert float(loaded.stdout.split()[-1]) == pytest.approx(result.test_accuracy, abs=1e-6)

    again = run_main(tmp_path, "--config=default", f"--workdir={workdir}",
                     "--report_only", *DIGITS_RUN)
    assert again.returncode == 0, again.stderr
    assert f"run_id:               {result.run_id}" in again.stdout

    other = run_main(tmp_path, "--config=default", f"--workdir={workdir}",
                     *DIGITS_RUN, "--config.epochs=2")
    assert other.returncode == 2  # found before any training
    assert other.stderr.strip().splitlines() == [
        f"recipes.main: Settings mismatch: {workdir / 'results.json'} holds a run "
        "with other settings (epochs=1 there, 2 here); use another --workdir or "
        "remove that run."
    ]


@pytest.mark.parametrize(
    "args, expected",
    [
        (("--config.epoch=3",),
         "--config.epoch: no such config field; did you mean --config.epochs?"),
        (("--config.dataset=mnist",),
         "--config.dataset='mnist': expected one of cifar10, fashion_mnist, cifar100, digits"),
        (("--config.noise_rate=lots",), "--config.noise_rate=lots: expected a number"),
        (("--config.seed=a",), "--config.seed=a: expected an integer"),
        (("--workdir=/proc/no/such/dir",), "--workdir=/proc/no/such/dir: not a writable directory"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(tmp_path, args, expected):
    process = run_main(tmp_path, "--config=default", f"--workdir={tmp_path / 'w'}",
                       *DIGITS_RUN, *args)
    assert process.returncode == 2
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith(f"recipes.main: {expected}"), lines[0]
    assert process.stdout == ""
    assert not (tmp_path / "w" / "results.json").exists()
