r"""Supplement Table 1: grid search of the MLP1024 learning rate with keras-tuner.

For every (dataset, loss) pair, the initial learning rates (by default the
nine of `keras_robust.presets.MLP_LEARNING_RATE_GRID`) are tried on clean
data, as in supplement Sec. 2: `--executions` runs per rate (seeds
0..executions-1) through `recipes.runner.run`, with the paper's MLP1024
protocol otherwise. The score of a rate is the mean over its seeds of the
FINAL-epoch test accuracy (not keras-tuner's best-epoch mean); the rate
with the best score is chosen (ties: the smaller rate).

The whole grid (datasets x losses x rates x seeds) is one keras-tuner
search built like `recipes.sweep`'s: its oracle is
`recipes.sweep.RunGridOracle` over one `hp.Choice("run", [run keys])`, and
each trial is ONE run (key `<dataset>/<loss>/lr<rate>/seed<seed>`) that
reports its final test accuracy as the objective `final_test_accuracy`.
The chosen rates are computed from the runs' results files once the grid
is done. (keras-tuner 1.4.8's stock `GridSearch` cannot continue a
reloaded, interrupted search, keras-team/keras-tuner#1055, and serialises
distributed workers over a single hyperparameter.)

Outputs under `--output_dir`:

- `runs/<dataset>-<loss>-lr<rate>/<run_id>/results.json`: the runs, one
  directory per learning rate (the runner's run ids do not contain the
  rate). `recipes.report` can read them.
- `tuner/tune_lr-<hash of the grid and settings>/`: keras-tuner's state.
- `tune_lr_log.jsonl`: one line per trial (run key, tuner id, whether it
  trained, seconds).
- `learning_rates.json`: the chosen initial rates,
  `{"<dataset>": {"<loss key>": <rate>, ...}, ...}`, e.g.
  `{"cifar10": {"ce": 0.001, "mae*": 0.003}}`; loss keys are the row keys
  of paper Table 2 (`keras_robust.presets.table_variants("table2")`), as
  given to `--losses`. A later search merges its pairs into an existing
  file. `load_learning_rates(path)` reads it, and so does `recipes.train
  --learning_rates_file=<output_dir>/learning_rates.json`.
- `learning_rates.md`: per dataset, rows = losses, columns = rates, cells
  = final test accuracy in percent, `mean ± s.e.` over seeds (ddof=1), the
  chosen rate in bold; the paper's value (supplement Table 1) in
  parentheses and its chosen rate in the last column.

Resuming: stop the search at any time and start the same command again.
Finished runs are not redone (their results.json files), the interrupted
run resumes from its last finished epoch, and keras-tuner (reloaded from
`tuner/`) hands out the remaining runs. A run that fails is reported on
stderr while the others go on; the search then ends with an error, writes
no summary files, and the next start retries the failed runs.

Several machines (or one process per GPU), as in `recipes.sweep`: every
process gets the same flags and the same `--output_dir` on a shared file
system. Start one chief, which only hands out runs, blocks until the grid
is done and then writes `learning_rates.json` and `.md`, and any number of
workers, each with its own `KERASTUNER_TUNER_ID`:

    # on the chief, e.g. host 10.0.0.1
    KERASTUNER_TUNER_ID=chief KERASTUNER_ORACLE_IP=10.0.0.1 \
    KERASTUNER_ORACLE_PORT=8000 \
        python -m recipes.tune_lr --output_dir=/shared/lr --datasets=cifar10

    # on every worker (CUDA_VISIBLE_DEVICES=i for one per GPU)
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 \
    KERASTUNER_ORACLE_PORT=8000 \
        python -m recipes.tune_lr --output_dir=/shared/lr --datasets=cifar10

Without these variables one process runs the whole grid.

Usage:

    python -m recipes.tune_lr --output_dir=/tmp/lr --datasets=cifar10 \
        --losses=ce,mae,mae* --executions=5
    # Quick offline check (scikit-learn digits):
    python -m recipes.tune_lr --output_dir=/tmp/lr --datasets=digits \
        --learning_rates=0.001,0.01 --executions=2 --epochs=2 --train_size=256
"""

import collections
import hashlib
import json
import os
import re
import sys
import time
import traceback

from absl import app
from absl import flags

from keras_robust import presets
from recipes import atomic_files
from recipes import paper_results
from recipes import report
from recipes import runner

#: Objective name reported by every trial.
OBJECTIVE = "final_test_accuracy"
LEARNING_RATES_FILENAME = "learning_rates.json"
TABLE_FILENAME = "learning_rates.md"
LOG_FILENAME = "tune_lr_log.jsonl"
TUNER_DIRNAME = "tuner"
DEFAULT_DATASETS = ("cifar10", "fashion_mnist")
DEFAULT_LOSSES = tuple(row.key for row in presets.table_variants("table2"))


def _safe_name(text):
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(text).replace("*", "_star"))


def _rate_name(learning_rate):
    return f"{learning_rate:g}"


def runs_dir(output_dir, dataset, loss_key, learning_rate):
    """Directory of the runs of one grid point."""
    name = f"{dataset}-{loss_key}-lr{_rate_name(learning_rate)}"
    return os.path.join(output_dir, "runs", _safe_name(name))


def run_config(dataset, loss_key, learning_rate, seed, *, model="mlp1024", noise_rate=0.0, **overrides):
    """The `RunConfig` of one execution of one grid point."""
    return runner.RunConfig.paper_defaults(
        dataset,
        model or "mlp1024",
        loss_key,
        noise_rate=noise_rate,
        seed=seed,
        learning_rate=float(learning_rate),
        **{key: value for key, value in overrides.items() if value is not None},
    )


# ---------------------------------------------------------------------------
# The grid and keras-tuner (the approach of recipes.sweep).
# ---------------------------------------------------------------------------


class GridPoint(collections.namedtuple(
    "GridPoint", "key dataset loss_key learning_rate seed config directory"
)):
    """One run of the search: a (dataset, loss, learning rate, seed) cell."""


def _point_key(dataset, loss_key, learning_rate, seed):
    # repr keeps rates apart that %g would merge.
    return f"{dataset}/{loss_key}/lr{float(learning_rate)!r}/seed{int(seed)}"


def grid_points(output_dir, datasets, losses, learning_rates, executions, **run_kwargs):
    """The runs of a search, ordered by dataset, loss, rate, seed, without repeats."""
    output_dir = os.fspath(output_dir)
    points = {}
    for dataset in datasets:
        for loss_key in losses:
            for rate in learning_rates:
                for seed in range(executions):
                    key = _point_key(dataset, loss_key, rate, seed)
                    if key not in points:
                        points[key] = GridPoint(
                            key,
                            dataset,
                            loss_key,
                            float(rate),
                            seed,
                            run_config(dataset, loss_key, rate, seed, **run_kwargs),
                            runs_dir(output_dir, dataset, loss_key, rate),
                        )
    return list(points.values())


def _grid_digest(points):
    text = "\n".join(f"{p.key} {p.config.settings_hash}" for p in points)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def _append_log(output_dir, entry):
    atomic_files.append_json_line(os.path.join(output_dir, LOG_FILENAME), entry)


def read_log(output_dir):
    """The entries of `<output_dir>/tune_lr_log.jsonl` (empty if none)."""
    return atomic_files.read_json_lines(
        os.path.join(os.fspath(output_dir), LOG_FILENAME)
    )


def _make_hypermodel_class():
    import keras_tuner

    class LearningRateRuns(keras_tuner.HyperModel):
        """A hypermodel whose only hyperparameter picks one run of the grid.

        `build(hp)` returns the `GridPoint` chosen by `hp.Choice("run",
        keys)`; `fit` trains it with `runner.run` (a no-op for a finished
        run) and returns its final-epoch test accuracy as the objective.
        """

        def __init__(self, points, output_dir, *, verbose=0, callbacks=()):
            super().__init__(name="learning_rate_runs")
            self.points = {point.key: point for point in points}
            self.output_dir = os.fspath(output_dir)
            self.verbose = verbose
            self.callbacks = tuple(callbacks)

        def build(self, hp):
            return self.points[hp.Choice("run", list(self.points))]

        def fit(self, hp, point, *args, **kwargs):
            trained = not runner.is_finished(point.config, point.directory)
            start = time.time()
            try:
                results = runner.run(
                    point.config, point.directory, verbose=self.verbose, callbacks=self.callbacks
                )
            except Exception:
                # keras-tuner records the trial as failed without showing why.
                print(f"Run {point.key} failed:", file=sys.stderr)
                traceback.print_exc()
                raise
            _append_log(
                self.output_dir,
                {
                    "run": point.key,
                    "dataset": point.dataset,
                    "loss": point.loss_key,
                    "learning_rate": point.learning_rate,
                    "seed": point.seed,
                    "tuner_id": os.environ.get("KERASTUNER_TUNER_ID", "tuner0"),
                    "trained": trained,
                    "seconds": round(time.time() - start, 3),
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
            )
            return {OBJECTIVE: float(results["final"]["test_accuracy"])}

    return LearningRateRuns


def make_tuner(points, output_dir, *, verbose=0, callbacks=()):
    """The resumable keras-tuner search over `points` (one run per trial).

    `recipes.sweep.RunGridOracle` and `RunGridTuner`; the state lives in
    `<output_dir>/tuner/tune_lr-<grid digest>` and is reloaded by the same
    grid (another grid gets a project of its own; the runs are shared).
    """
    import keras_tuner

    from recipes import sweep

    oracle = sweep.RunGridOracle(
        objective=keras_tuner.Objective(OBJECTIVE, direction="max"),
        max_trials=len(points),
    )
    return sweep.RunGridTuner(
        oracle=oracle,
        hypermodel=_make_hypermodel_class()(
            points, output_dir, verbose=verbose, callbacks=callbacks
        ),
        directory=os.path.join(os.fspath(output_dir), TUNER_DIRNAME),
        project_name=f"tune_lr-{_grid_digest(points)}",
        overwrite=False,
    )


def _is_distributed_worker():
    return bool(os.environ.get("KERASTUNER_ORACLE_IP")) and (
        os.environ.get("KERASTUNER_TUNER_ID", "chief") != "chief"
    )


def _check_executions(executions):
    if isinstance(executions, bool) or not isinstance(executions, int) or executions < 1:
        raise ValueError(
            f"Argument `executions` must be a positive integer. Received: executions={executions!r}"
        )
    return executions


def run_search(points, output_dir, *, verbose=0, callbacks=()):
    """Runs the grid through keras-tuner (distributed if the env says so).

    Raises before any training if a run directory holds results of other
    settings. A run that fails is reported on stderr, the others go on,
    and the next start retries it.

    Returns:
        The tuner.
    """
    from recipes import sweep

    if not points:
        raise ValueError("The grid is empty.")
    for point in points:
        sweep.check_no_conflicts([point.config], point.directory)
    tuner = make_tuner(
        points,
        output_dir,
        verbose=2 if verbose >= 2 else 0,
        callbacks=callbacks,
    )
    tuner.search(verbose=bool(verbose))
    return tuner


def choose_learning_rate(statistics, learning_rates):
    """The rate with the best mean accuracy (ties: the smaller rate)."""
    best = None
    for rate in sorted(learning_rates):
        if best is None or statistics[rate][0] > statistics[best][0]:
            best = rate
    return best


def _search(points, output_dir, datasets, losses, learning_rates, executions, *, verbose, callbacks, run_kwargs):
    """Runs the grid; `{dataset: {loss_key: (statistics, chosen rate)}}` (None on a worker)."""
    run_search(points, output_dir, verbose=verbose, callbacks=callbacks)
    if _is_distributed_worker():
        return None
    missing = [point.key for point in points if not runner.is_finished(point.config, point.directory)]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise RuntimeError(
            f"{len(missing)} of {len(points)} runs of the learning-rate grid did not "
            f"finish ({shown}); their errors are printed above. Start the same "
            "search again to retry them (finished runs are not redone)."
        )
    rows = {}
    for dataset in datasets:
        for loss_key in losses:
            statistics = grid_statistics(
                output_dir, dataset, loss_key, learning_rates, executions, **run_kwargs
            )
            rows.setdefault(dataset, {})[loss_key] = (
                statistics,
                choose_learning_rate(statistics, learning_rates),
            )
    return rows


def search_learning_rate(
    dataset,
    loss_key,
    output_dir,
    *,
    learning_rates=presets.MLP_LEARNING_RATE_GRID,
    executions=5,
    verbose=0,
    callbacks=(),
    **run_kwargs,
):
    """Grid search of one (dataset, loss) pair; returns the chosen rate.

    Writes no summary files (`tune_learning_rates` does).

    Args:
        dataset: A `keras_robust.data` dataset name.
        loss_key: A row key of paper Table 2 (`"mae*"`, ...) or a loss name.
        output_dir: Root of `runs/` and `tuner/`.
        learning_rates: The grid.
        executions: Seeds per grid point (0..executions-1).
        verbose: 0 silent; 1 keras-tuner's trial summaries; 2 also the
            runs' one line per epoch.
        callbacks: Keras callbacks passed to every run.
        **run_kwargs: `model`, `noise_rate` and `RunConfig` overrides such
            as `epochs` or `train_size` (None values are dropped).

    Returns:
        The best learning rate (a float), or None on a distributed worker.

    Raises:
        RuntimeError: if runs failed (a rerun retries them).
    """
    learning_rates = _check_learning_rates(learning_rates)
    _check_executions(executions)
    output_dir = os.fspath(output_dir)
    # Fails early (not inside a trial) on a bad dataset, loss or override.
    points = grid_points(output_dir, [dataset], [loss_key], learning_rates, executions, **run_kwargs)
    rows = _search(
        points, output_dir, [dataset], [loss_key], learning_rates, executions,
        verbose=verbose, callbacks=callbacks, run_kwargs=run_kwargs,
    )
    return None if rows is None else rows[dataset][loss_key][1]


def _check_learning_rates(learning_rates):
    try:
        rates = [float(rate) for rate in learning_rates]
    except (TypeError, ValueError):
        raise ValueError(
            "Argument `learning_rates` must be a list of numbers. "
            f"Received: learning_rates={learning_rates!r}"
        ) from None
    if not rates or any(not rate > 0 for rate in rates) or len(set(rates)) != len(rates):
        raise ValueError(
            "Argument `learning_rates` must be distinct positive numbers. "
            f"Received: learning_rates={learning_rates!r}"
        )
    return sorted(rates)


def grid_statistics(output_dir, dataset, loss_key, learning_rates, executions, **run_kwargs):
    """`{rate: (mean, s.e., n)}` in percent over the finished seeds of each rate."""
    statistics = {}
    for rate in learning_rates:
        directory = runs_dir(output_dir, dataset, loss_key, rate)
        accuracies = []
        for seed in range(executions):
            config = run_config(dataset, loss_key, rate, seed, **run_kwargs)
            if runner.is_finished(config, directory):
                results = runner.load_results(runner.results_path(config, directory))
                accuracies.append(100.0 * results["final"]["test_accuracy"])
        if accuracies:
            mean, error = report.mean_and_standard_error(accuracies)
            statistics[rate] = (mean, error, len(accuracies))
    return statistics


def markdown_table(dataset, rows, learning_rates, executions, decimals=2):
    """The Markdown table of one dataset.

    Args:
        dataset: Dataset name.
        rows: `{loss_key: (statistics, chosen_rate)}` with `statistics` as
            returned by `grid_statistics`.
        learning_rates: The columns.
        executions: Seeds per grid point (cells with fewer show `n=`).

    Returns:
        The Markdown text.
    """
    header = ["Loss"] + [f"lr {_rate_name(rate)}" for rate in learning_rates] + ["chosen", "paper"]
    lines = [
        f"## {dataset}: final test accuracy (%) per initial learning rate",
        "",
        f"Mean ± s.e. over {executions} seeds (ddof=1); bold: chosen rate; "
        "in parentheses: paper supplement Table 1.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for loss_key, (statistics, chosen) in rows.items():
        try:
            label = presets.variant(loss_key).label
        except ValueError:
            label = loss_key
        cells = [label]
        for rate in learning_rates:
            paper = paper_results.paper_learning_rate_value(dataset, loss_key, rate)
            if rate not in statistics:
                cells.append("–" if paper is None else f"– (paper {paper_results.format_value(paper, decimals)})")
                continue
            mean, error, n = statistics[rate]
            text = report.format_statistic(mean, error, decimals)
            if chosen is not None and abs(rate - chosen) < 1e-12:
                text = f"**{text}**"
            if n < executions:
                text += f" n={n}"
            if paper is not None:
                text += f" (paper {paper_results.format_value(paper, decimals)})"
            cells.append(text)
        try:
            paper_rate = _rate_name(paper_results.paper_best_learning_rate(dataset, loss_key))
        except ValueError:
            paper_rate = "–"
        cells.append("–" if chosen is None else _rate_name(chosen))
        cells.append(paper_rate)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def _merge_learning_rates(path, chosen):
    merged = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as file:
            merged = json.load(file)
    for dataset, rates in chosen.items():
        merged.setdefault(dataset, {}).update(rates)
    atomic_files.write_text(path, json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return merged


def tune_learning_rates(
    output_dir,
    *,
    datasets=DEFAULT_DATASETS,
    losses=DEFAULT_LOSSES,
    learning_rates=presets.MLP_LEARNING_RATE_GRID,
    executions=5,
    verbose=0,
    callbacks=(),
    **run_kwargs,
):
    """Runs the grid (one keras-tuner search) and writes `learning_rates.json` and `.md`.

    Args:
        output_dir: Output root (see the module docstring).
        datasets: Dataset names.
        losses: Loss row keys of Table 2 (or loss names).
        learning_rates: The grid (default: the paper's nine rates).
        executions: Seeds per grid point.
        verbose: 0 silent, 1 trial summaries, 2 also per-epoch lines.
        callbacks: Keras callbacks passed to every run.
        **run_kwargs: `model` (default `"mlp1024"`), `noise_rate` (default
            0) and `RunConfig` overrides such as `epochs`, `train_size`.

    Returns:
        `(chosen, markdown)`: `{dataset: {loss_key: rate}}` of this call and
        the Markdown tables. On a distributed worker, `({}, "")`.

    Raises:
        RuntimeError: if runs failed (a rerun retries them); nothing is
            written then.
    """
    if not datasets or not losses:
        raise ValueError(
            "Arguments `datasets` and `losses` must not be empty. "
            f"Received: datasets={datasets!r}, losses={losses!r}"
        )
    learning_rates = _check_learning_rates(learning_rates)
    _check_executions(executions)
    output_dir = os.fspath(output_dir)
    datasets = list(dict.fromkeys(datasets))
    losses = list(dict.fromkeys(losses))
    # Fails early (not inside a trial) on a bad dataset, loss or override.
    points = grid_points(output_dir, datasets, losses, learning_rates, executions, **run_kwargs)
    rows = _search(
        points, output_dir, datasets, losses, learning_rates, executions,
        verbose=verbose, callbacks=callbacks, run_kwargs=run_kwargs,
    )
    if rows is None:
        return {}, ""
    chosen = {
        dataset: {loss_key: best for loss_key, (_, best) in per_loss.items()}
        for dataset, per_loss in rows.items()
    }
    sections = ["# MLP learning-rate grid (paper supplement Table 1)", ""]
    for dataset, per_loss in rows.items():
        sections.append(markdown_table(dataset, per_loss, learning_rates, executions))
    markdown = "\n".join(sections)
    atomic_files.write_text(os.path.join(output_dir, TABLE_FILENAME), markdown)
    _merge_learning_rates(os.path.join(output_dir, LEARNING_RATES_FILENAME), chosen)
    return chosen, markdown


def load_learning_rates(path):
    """Reads a `learning_rates.json` file: `{dataset: {loss_key: rate}}`."""
    with open(path, encoding="utf-8") as file:
        rates = json.load(file)
    if not isinstance(rates, dict) or not all(
        isinstance(per_loss, dict)
        and all(isinstance(rate, (int, float)) and rate > 0 for rate in per_loss.values())
        for per_loss in rates.values()
    ):
        raise ValueError(
            f"{path} must hold {{dataset: {{loss_key: positive rate}}}}. Received: {rates!r}"
        )
    return rates


def define_flags(flag_values=flags.FLAGS):
    """Defines this recipe's flags (called when run as a script)."""
    flags.DEFINE_string(
        "output_dir", None,
        "Root of runs/, tuner/, learning_rates.json and learning_rates.md (required).",
        flag_values=flag_values,
    )
    flags.DEFINE_list(
        "datasets", list(DEFAULT_DATASETS),
        "Datasets to tune on ('digits' works offline).", flag_values=flag_values,
    )
    flags.DEFINE_list(
        "losses", list(DEFAULT_LOSSES),
        "Loss rows of paper Table 2 to tune (ce, mae, mae*, boundce, gce, sce, "
        "actpas1, actpas2, bitemp).", flag_values=flag_values,
    )
    flags.DEFINE_list(
        "learning_rates", [_rate_name(rate) for rate in presets.MLP_LEARNING_RATE_GRID],
        "The grid of initial learning rates (default: the paper's nine).",
        flag_values=flag_values,
    )
    flags.DEFINE_integer(
        "executions", 5, "Runs (seeds 0..N-1) per learning rate; the paper uses five.",
        lower_bound=1, flag_values=flag_values,
    )
    flags.DEFINE_string("model", "mlp1024", "Network (zoo name); the paper tunes MLP1024.", flag_values=flag_values)
    flags.DEFINE_float(
        "noise_rate", 0.0, "Symmetric label-noise rate; the paper tunes on clean data.",
        lower_bound=0.0, upper_bound=1.0, flag_values=flag_values,
    )
    flags.DEFINE_integer(
        "epochs", None, "Epochs per run. Default: the MLP preset's (100).",
        lower_bound=1, flag_values=flag_values,
    )
    flags.DEFINE_integer(
        "train_size", None, "Use only the first N training images. Default: all.",
        lower_bound=1, flag_values=flag_values,
    )
    flags.DEFINE_string("data_dir", None, "TFDS data directory. Default: TFDS's.", flag_values=flag_values)
    flags.DEFINE_integer(
        "verbose", 1, "0 silent, 1 keras-tuner trial summaries, 2 also one line per epoch.",
        flag_values=flag_values,
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    flag_values = flags.FLAGS
    if not flag_values.output_dir:
        raise app.UsageError("--output_dir is required.")
    try:
        learning_rates = [float(rate) for rate in flag_values.learning_rates]
    except ValueError:
        raise app.UsageError(
            f"--learning_rates must be numbers. Received: {flag_values.learning_rates}"
        ) from None
    chosen, markdown = tune_learning_rates(
        flag_values.output_dir,
        datasets=flag_values.datasets,
        losses=flag_values.losses,
        learning_rates=learning_rates,
        executions=flag_values.executions,
        verbose=flag_values.verbose,
        model=flag_values.model,
        noise_rate=flag_values.noise_rate,
        epochs=flag_values.epochs,
        train_size=flag_values.train_size,
        data_dir=flag_values.data_dir,
    )
    if markdown:
        print(markdown)
        print(f"Chosen rates: {json.dumps(chosen)}")
        print(f"Wrote {os.path.join(flag_values.output_dir, LEARNING_RATES_FILENAME)}")
    else:
        tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
        mine = [e for e in read_log(flag_values.output_dir) if e["tuner_id"] == tuner_id]
        print(f"Worker {tuner_id} done: {len(mine)} runs.")


if __name__ == "__main__":
    define_flags()
    app.run(main)
