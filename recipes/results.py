"""The one record of a finished run: `<run dir>/results.json`.

Everything that writes or reads a run's results goes through this module:
the trainer writes a `RunResult` with `write`, the grid and the reports read
them with `read` and `load_all`, and `is_finished` tells whether a run
directory already holds the run of a `recipes.config.RunSpec`. Nothing here
resolves a config: a run's settings are its spec's. Test fixtures are
written with `write` too. The file is JSON:

    {"run_id": str,
     "settings": {...},            # recipes.config.RunSpec.settings
     "history": {"epoch": [1, 2, ...], "train_loss": [...],
                 "test_accuracy": [...], "false_label_accuracy": [...],
                 "learning_rate": [...]},
     "final": {"test_accuracy", "false_label_accuracy", "train_loss"},
     "wall_seconds": float,
     "versions": {"keras", "tensorflow", "keras_robust", "backend"},
     "measured_noise_rate": float}  # or null in files written without it

`false_label_accuracy` is None without noise, and the evaluated metrics are
None in the epochs that `eval_every` skips. `measured_noise_rate` is the
fraction of the run's training labels that differ from the true ones: for
human noise (`noise_kind="human"`) the rate of the chosen label set on the
training examples used, the rate that counts.
"""

import dataclasses
import json
import os
import warnings

from recipes import atomic_files

RESULTS_FILENAME = "results.json"
HISTORY_KEYS = (
    "epoch", "train_loss", "test_accuracy", "false_label_accuracy", "learning_rate"
)
FINAL_KEYS = ("test_accuracy", "false_label_accuracy", "train_loss")


class DamagedResultsError(ValueError):
    """A results file that cannot be read as a `RunResult` (names the file)."""


class SettingsMismatchError(RuntimeError):
    """A run directory that holds a run of other settings (one-line message)."""


@dataclasses.dataclass(frozen=True)
class RunResult:
    """The results of one finished run.

    Attributes:
        run_id: The run's `recipes.config.RunSpec.run_id`.
        settings: The run's `recipes.config.RunSpec.settings`.
        history: Per-epoch lists under `HISTORY_KEYS`.
        final: The last epoch's metrics under `FINAL_KEYS`.
        wall_seconds: Training time, summed over resumed pieces.
        versions: Versions of keras, tensorflow, keras_robust and the backend.
        measured_noise_rate: Fraction of the training labels that differ
            from the true ones (None when not recorded).
    """

    run_id: str
    settings: dict
    history: dict
    final: dict
    wall_seconds: float
    versions: dict
    measured_noise_rate: float | None = None

    @classmethod
    def from_history(cls, spec, history, wall_seconds, versions, measured_noise_rate=None):
        """The result of the run `spec` (a `RunSpec`) whose per-epoch metrics are `history`."""
        return cls(
            run_id=spec.run_id,
            settings=spec.settings,
            history={key: list(history[key]) for key in HISTORY_KEYS},
            final={key: history[key][-1] for key in FINAL_KEYS},
            wall_seconds=float(wall_seconds),
            versions=dict(versions),
            measured_noise_rate=(
                None if measured_noise_rate is None else float(measured_noise_rate)
            ),
        )

    @property
    def test_accuracy(self):
        """Final test accuracy."""
        return self.final["test_accuracy"]

    @property
    def false_label_accuracy(self):
        """Final false-label accuracy (None without noise)."""
        return self.final["false_label_accuracy"]

    @property
    def train_loss(self):
        """Final training loss."""
        return self.final["train_loss"]

    def to_dict(self):
        """The JSON object of results.json."""
        return dataclasses.asdict(self)


def results_path(path_or_run_dir):
    """`path_or_run_dir` if it names a file, else `<it>/results.json`."""
    path = os.fspath(path_or_run_dir)
    if os.path.isdir(path):
        return os.path.join(path, RESULTS_FILENAME)
    return path


def write(run_dir, result):
    """Writes `result` to `<run_dir>/results.json` atomically; returns the path."""
    path = os.path.join(os.fspath(run_dir), RESULTS_FILENAME)
    atomic_files.write_json(path, result.to_dict())
    return path


def read(path_or_run_dir):
    """The `RunResult` of a results file or of a run directory.

    Raises:
        FileNotFoundError: if there is no such file.
        DamagedResultsError: naming the file, if it is not a results file
            (truncated, not JSON, missing fields).
    """
    path = results_path(path_or_run_dir)
    with open(path, encoding="utf-8") as file:
        text = file.read()
    try:
        fields = json.loads(text)
        result = RunResult(**{
            field.name: fields[field.name] if field.default is dataclasses.MISSING
            else fields.get(field.name, field.default)
            for field in dataclasses.fields(RunResult)
        })
        missing = [key for key in HISTORY_KEYS if key not in result.history]
        missing += [key for key in FINAL_KEYS if key not in result.final]
        if missing:
            raise KeyError(", ".join(missing))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DamagedResultsError(
            f"Damaged results file {path}: {type(error).__name__}: {error}"
        ) from None
    return result


def load_all(root):
    """Every `RunResult` under `root` (recursively), sorted by run id.

    A damaged results file is skipped with a warning that names it.
    """
    found = []
    for directory, subdirectories, files in os.walk(os.fspath(root)):
        subdirectories.sort()
        if RESULTS_FILENAME in files:
            try:
                found.append(read(os.path.join(directory, RESULTS_FILENAME)))
            except DamagedResultsError as error:
                warnings.warn(f"{error}; skipped.", stacklevel=2)
    return sorted(found, key=lambda result: result.run_id)


def mismatch_message(path, recorded, spec):
    """One line saying how the settings recorded in `path` differ from `spec`'s."""
    differences = spec.settings_differences(recorded)
    listed = ", ".join(
        f"{name}={old!r} there, {new!r} here"
        for name, (old, new) in sorted(differences.items())
    )
    return (
        f"Settings mismatch: {path} holds a run with other settings ({listed}); "
        "use another --workdir or remove that run."
    )


def is_finished(run_dir, spec):
    """Whether `run_dir` holds the finished run of `spec` (a `RunSpec`).

    Raises:
        SettingsMismatchError: if it holds a finished run of other settings
            (one line naming the differing fields).
        DamagedResultsError: if its results file is damaged.
    """
    path = os.path.join(os.fspath(run_dir), RESULTS_FILENAME)
    if not os.path.exists(path):
        return False
    recorded = read(path).settings
    if spec.settings_differences(recorded):
        raise SettingsMismatchError(mismatch_message(path, recorded, spec))
    return True
