r"""What a sweep's directory holds: its runs, `sweep.json`, `sweep_log.jsonl`.

    <workdir>/sweep.json          the runs handed out now, in their order,
                                  and whether later stages may follow (a
                                  worker joins the sweep from it)
    <workdir>/sweep_log.jsonl     one line per trial: run id, tuner id,
                                  whether it trained, seconds
    <workdir>/<run id>/           a run (`Run`): results.json once finished,
                                  lease.json while a worker trains it
    <workdir>/workers/<tuner id>/ a distributed worker's lease (`recipes.lease`)
    <workdir>/tuner/              the keras-tuner state (`recipes.tuner`)
"""

import hashlib
import json
import os

from recipes import atomic_files
from recipes import config as config_lib
from recipes import results as results_lib
from recipes.distributed import SweepError

LOG_FILENAME = "sweep_log.jsonl"
SWEEP_FILENAME = "sweep.json"
WORKERS_DIRNAME = "workers"


class Run:
    """One run of a sweep: its `recipes.config.RunSpec`, run id and directory."""

    def __init__(self, spec, workdir):
        self.spec = spec
        self.run_id = spec.run_id
        self.run_dir = os.path.join(os.fspath(workdir), self.run_id)

    def is_finished(self):
        """Whether the run is done (a damaged results file: not done; the
        trainer sets it aside and trains the run again)."""
        try:
            return results_lib.is_finished(self.run_dir, self.spec)
        except results_lib.DamagedResultsError:
            return False


def sweep_runs(specs, workdir):
    """The runs of a sweep (`recipes.config.RunSpec`s), in its order, without repeats.

    Checks every run directory, so that a results file of other settings
    stops the sweep before any training.

    Raises:
        results.SettingsMismatchError: for a run directory of other
            settings.
        SweepError: for an empty sweep.
    """
    if not specs:
        raise SweepError("The sweep has no runs.")
    runs = {}
    for spec in specs:
        run = Run(spec, workdir)
        runs.setdefault(run.run_id, run)
    for run in runs.values():
        run.is_finished()
    return list(runs.values())


def digest(runs):
    """A short hash of the runs' ids: names the sweep's keras-tuner state."""
    text = "\n".join(run.run_id for run in runs)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def write_sweep_file(specs, workdir, *, final=True):
    """Writes `<workdir>/sweep.json`: `{"runs": [{"run_id", "settings"}, ...]}` in order.

    Args:
        specs: The `RunSpec`s handed out now, in order.
        workdir: The sweep's directory.
        final: False while the process that serves the runs may serve a
            later stage of the sweep (`recipes.stages`) once they are done:
            the file then says `"final": false`.
    """
    stored = {"runs": [{"run_id": spec.run_id, "settings": spec.settings} for spec in specs]}
    if not final:
        stored["final"] = False
    atomic_files.write_text(
        os.path.join(os.fspath(workdir), SWEEP_FILENAME), json.dumps(stored, indent=1) + "\n"
    )


def read_sweep_file(workdir):
    """The `RunSpec`s of `<workdir>/sweep.json`, rebuilt (and checked) from their settings.

    Raises:
        SweepError: if it is missing, unreadable or damaged.
    """
    return read_sweep_stage(workdir)[0]


def read_sweep_stage(workdir):
    """`(specs, final)` of `<workdir>/sweep.json` (`write_sweep_file`; no "final": True).

    Raises:
        SweepError: if it is missing, unreadable or damaged.
    """
    path = os.path.join(os.fspath(workdir), SWEEP_FILENAME)
    try:
        with open(path, encoding="utf-8") as file:
            stored = json.load(file)
        specs = [config_lib.RunSpec.from_settings(run["settings"]) for run in stored["runs"]]
        return specs, bool(stored.get("final", True))
    except FileNotFoundError:
        raise SweepError(
            f"{path} does not exist: no sweep was started in that directory."
        ) from None
    except OSError as error:
        raise SweepError(f"{path} cannot be read ({error.strerror}).") from None
    except (ValueError, KeyError, TypeError) as error:
        raise SweepError(f"{path} is damaged ({error}).") from None


def append_log(workdir, entry):
    """Appends one trial's entry to `<workdir>/sweep_log.jsonl`."""
    atomic_files.append_json_line(os.path.join(os.fspath(workdir), LOG_FILENAME), entry)


def read_log(workdir):
    """The entries of `<workdir>/sweep_log.jsonl` (empty if none)."""
    return atomic_files.read_json_lines(os.path.join(os.fspath(workdir), LOG_FILENAME))


def worker_dir(workdir, tuner_id):
    """`<workdir>/workers/<tuner id>`: where a live worker holds its lease."""
    return os.path.join(os.fspath(workdir), WORKERS_DIRNAME, tuner_id)


def damaged_files(runs):
    """The damaged results files and checkpoints set aside in the runs' directories."""
    found = []
    for run in runs:
        if os.path.isdir(run.run_dir):
            found += sorted(
                os.path.join(run.run_dir, name) for name in os.listdir(run.run_dir)
                if ".damaged" in name
            )
    return found
