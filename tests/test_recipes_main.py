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


# ---------------------------------------------------------------------------
# The resolution step of main: every run's spec, before any training.


def resolve(config_argument, *overrides):
    from recipes import main

    fields = main.split_overrides(overrides)[1]
    return main.resolve_specs(main.load_config(config_argument), fields)


def usage_line(config_argument, *overrides):
    from recipes import cli

    with pytest.raises(cli.UsageError) as raised:
        resolve(config_argument, *overrides)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_a_field_that_a_sweep_sets_per_point_is_refused_with_the_argument_to_use():
    assert usage_line("quickstart", "--config.loss=nosuchloss") == (
        "--config.loss: the quickstart sweep sets loss per point; narrow it with "
        "--config='quickstart:losses=...'"
    )
    # The argument already given is kept, the one to use replaces its value.
    assert usage_line("quickstart:datasets=digits,seeds=0", "--config.seed=3") == (
        "--config.seed: the quickstart sweep sets seed per point; narrow it with "
        "--config='quickstart:datasets=digits,seeds=...'"
    )
    assert usage_line("offline_replication", "--config.learning_rate=0.1") == (
        "--config.learning_rate: the offline_replication sweep sets learning_rate "
        "per point; narrow it with --config='offline_replication:learning_rates=...'"
    )
    assert usage_line("table2", "--config.output_bias=1.0").endswith(
        "narrow it with --config='table2:losses=...'"
    )


def test_a_field_that_no_point_sets_applies_to_every_run():
    specs = resolve("quickstart", "--config.epochs=3")
    assert len(specs) == 33
    assert {spec.epochs for spec in specs} == {3}
    # Everything else is the quickstart's.
    assert {(spec.model, spec.noise_rate, spec.learning_rate) for spec in specs} == {
        ("mlp1024", 0.4, 0.01)
    }
    (spec,) = resolve("quickstart:datasets=digits,losses=mae*,seeds=1", "--config.epochs=3")
    assert spec.run_id.startswith("digits-mlp1024-mae*0.5-sym0.4-seed1-")


def test_unknown_fields_and_bad_values_are_one_line_for_every_config():
    assert usage_line("offline_replication", "--config.nosuchfield=1") == (
        "--config.nosuchfield: no such config field (--help lists them)"
    )
    assert usage_line("quickstart", "--config.epoch=3") == (
        "--config.epoch: no such config field; did you mean --config.epochs? "
        "(--help lists them)"
    )
    assert usage_line("quickstart", "--config.epochs=0") == (
        "--config.epochs=0: expected a positive integer"
    )
    assert usage_line("lr_grid", "--config.momentum=fast") == (
        "--config.momentum=fast: expected a number"
    )
    assert usage_line("default", "--config.loss=nosuchloss").startswith(
        "--config.loss='nosuchloss': Loss 'nosuchloss': unknown name"
    )


def test_a_bad_sweep_point_is_named_and_the_config_file_runs_once(tmp_path):
    counter = tmp_path / "runs.txt"
    path = tmp_path / "my_sweep.py"
    path.write_text(
        "from recipes import config as config_lib\n"
        f"open({str(counter)!r}, 'a').write('ran\\n')\n"
        "def get_config(arg=None):\n"
        "    config = config_lib.get_default_config()\n"
        "    config.dataset, config.model = 'digits', 'mlp1024'\n"
        "    return config\n"
        "def get_sweep(arg=None):\n"
        "    return [{'loss': 'ce'}, {'loss': 'gce', 'noise_rate': 1.5}]\n"
    )
    assert usage_line(str(path)) == (
        f"--config={path}: sweep point {{'loss': 'gce', 'noise_rate': 1.5}}: "
        "config.noise_rate=1.5: expected a number in [0, 1]"
    )
    assert counter.read_text() == "ran\n"
    # No narrowing argument: the file is where the field is set.
    assert usage_line(str(path), "--config.loss=mae").endswith(
        "no argument of the config narrows it; change it in the config file"
    )


def test_a_sweep_mistake_stops_before_creating_the_workdir(tmp_path):
    workdir = tmp_path / "q"
    process = run_main(tmp_path, "--config=quickstart", f"--workdir={workdir}",
                       "--config.loss=nosuchloss")
    assert process.returncode == 2
    assert process.stderr.strip().splitlines() == [
        "recipes.main: --config.loss: the quickstart sweep sets loss per point; "
        "narrow it with --config='quickstart:losses=...'"
    ]
    assert process.stdout == "" and not workdir.exists()


def test_help_lists_the_configs_and_the_fields(tmp_path):
    process = run_main(tmp_path, "--help")
    assert process.returncode == 0, process.stderr
    lines = process.stdout.splitlines()
    assert any(
        line.split() == ["quickstart", "Quickstart:", "the", "paper's", "finding", "in",
                         "two", "blocks,", "10", "and", "100", "classes."]
        for line in lines
    ), process.stdout
    for name in ("default", "offline_replication", "table2", "table3", "lr_grid"):
        assert any(line.split()[:1] == [name] for line in lines), name
    assert any(line.split()[:3] == ["epochs", "int", "default"] for line in lines)
    assert any(line.split()[:2] == ["loss", "str"] for line in lines)
    assert "XLA (tensorflow) or torch.compile (torch); jax always jits." in process.stdout


def test_report_only_on_a_missing_workdir_creates_nothing(tmp_path):
    workdir = tmp_path / "no" / "such"
    process = run_main(tmp_path, "--config=quickstart", f"--workdir={workdir}",
                       "--report_only")
    assert process.returncode == 2
    assert process.stderr.strip().splitlines() == [
        f"recipes.main: --report_only: --workdir={workdir} does not exist; nothing to report"
    ]
    assert not (tmp_path / "no").exists()


def test_status_of_a_run_and_of_a_directory_that_holds_nothing(tmp_path):
    from recipes import config as config_lib

    workdir = tmp_path / "no" / "such"
    process = run_main(tmp_path, "--config=quickstart", f"--workdir={workdir}", "--status")
    assert process.returncode == 2 and not (tmp_path / "no").exists()
    assert process.stderr.strip().splitlines() == [
        f"recipes.main: {workdir} holds no sweep or run "
        "(no sweep.json, results.json or checkpoint)."
    ]
    spec = config_lib.resolve({"dataset": "digits", "model": "mlp1024", "loss": "ce", "epochs": 2})
    history = {key: [1, 2] if key == "epoch" else [0.5, 0.75] for key in results.HISTORY_KEYS}
    results.write(tmp_path, results.RunResult.from_history(spec, history, 12.0, {}))
    process = run_main(tmp_path, f"--workdir={tmp_path}", "--status")
    assert process.returncode == 0, process.stderr
    assert process.stdout.splitlines()[1:] == [
        "finished (1):", f"  {spec.run_id}: test accuracy 0.7500 (12 s)"
    ]
