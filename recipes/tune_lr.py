r"""Supplement Table 1: grid search of the MLP1024 learning rate with keras-tuner.

For every (dataset, loss) pair, a `keras_tuner.GridSearch` walks the
initial learning rates (`hp.Choice("learning_rate", ...)`, by default the
nine of `keras_robust.presets.MLP_LEARNING_RATE_GRID`) on clean data, as in
supplement Sec. 2. Each trial trains `--executions` runs (seeds
0..executions-1) through `recipes.runner.run`, with the paper's MLP1024
protocol otherwise, and reports the mean FINAL-epoch test accuracy as the
objective `final_test_accuracy`. (keras-tuner's own `executions_per_trial`
averaging would take each execution's best epoch instead, so the trial
computes the objective itself.) The rate with the best objective is chosen.

Outputs under `--output_dir`:

- `runs/<dataset>-<loss>-lr<rate>/<run_id>/results.json`: the runs, one
  directory per learning rate (the runner's run ids do not contain the
  rate). `recipes.report` can read them.
- `tuner/<dataset>-<loss>-<hash of the grid and settings>/`: keras-tuner's
  state. Rerunning the same command skips finished trials and finished
  runs, so an interrupted search resumes.
- `learning_rates.json`: the chosen initial rates,
  `{"<dataset>": {"<loss key>": <rate>, ...}, ...}`, e.g.
  `{"cifar10": {"ce": 0.001, "mae*": 0.003}}`; loss keys are the row keys
  of paper Table 2 (`keras_robust.presets.table_variants("table2")`). A
  later search merges its pairs into an existing file. `recipes.train
  --learning_rates_file=<output_dir>/learning_rates.json` reads it.
- `learning_rates.md`: per dataset, rows = losses, columns = rates, cells
  = final test accuracy in percent, `mean ± s.e.` over seeds (ddof=1), the
  chosen rate in bold; the paper's value (supplement Table 1) in
  parentheses and its chosen rate in the last column.

Distributed search works as in `recipes.sweep` (keras-tuner's
`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`);
only the chief (or a single process) writes the summary files, which then
needs the workers' run directories on a shared file system.

Usage:

    python -m recipes.tune_lr --output_dir=/tmp/lr --datasets=cifar10 \
        --losses=ce,mae,mae* --executions=5
    # Quick offline check (scikit-learn digits):
    python -m recipes.tune_lr --output_dir=/tmp/lr --datasets=digits \
        --learning_rates=0.001,0.01 --executions=2 --epochs=2 --train_size=256
"""

import hashlib
import json
import os
import re

from absl import app
from absl import flags

from keras_robust import presets
from recipes import paper_results
from recipes import report
from recipes import runner

#: Objective name reported by every trial.
OBJECTIVE = "final_test_accuracy"
LEARNING_RATES_FILENAME = "learning_rates.json"
TABLE_FILENAME = "learning_rates.md"
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


def _make_tuner_class():
    import keras_tuner

    class FinalAccuracyGridSearch(keras_tuner.GridSearch):
        """GridSearch whose trials train through `recipes.runner.run`.

        The objective is the mean over `executions_per_trial` seeds of the
        final-epoch test accuracy (not keras-tuner's best-epoch mean).
        """

        def __init__(self, *, dataset, loss_key, output_dir, run_kwargs, verbose, **kwargs):
            self.dataset = dataset
            self.loss_key = loss_key
            self.runs_output_dir = output_dir
            self.run_kwargs = run_kwargs
            self.run_verbose = verbose
            super().__init__(**kwargs)

        def run_trial(self, trial, *args, **kwargs):
            learning_rate = trial.hyperparameters.get("learning_rate")
            try:
                accuracies = []
                for seed in range(self.executions_per_trial):
                    config = run_config(
                        self.dataset, self.loss_key, learning_rate, seed, **self.run_kwargs
                    )
                    results = runner.run(
                        config,
                        runs_dir(self.runs_output_dir, self.dataset, self.loss_key, learning_rate),
                        verbose=self.run_verbose,
                    )
                    accuracies.append(float(results["final"]["test_accuracy"]))
            except Exception as error:
                # keras-tuner would mark the trial invalid and go on silently.
                raise keras_tuner.errors.FatalError(
                    f"Run of {self.dataset}/{self.loss_key} at learning rate "
                    f"{learning_rate} failed: {type(error).__name__}: {error}"
                ) from error
            return {OBJECTIVE: sum(accuracies) / len(accuracies)}

    return FinalAccuracyGridSearch


def _project_name(dataset, loss_key, learning_rates, executions, run_kwargs):
    """keras-tuner project of one search; another grid or setting gets its own."""
    settings = json.dumps(
        [learning_rates, executions, {k: v for k, v in run_kwargs.items() if k != "data_dir"}],
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(settings.encode("utf-8")).hexdigest()[:8]
    return _safe_name(f"{dataset}-{loss_key}-{digest}")


def _is_distributed_worker():
    return bool(os.environ.get("KERASTUNER_ORACLE_IP")) and (
        os.environ.get("KERASTUNER_TUNER_ID", "chief") != "chief"
    )


def search_learning_rate(
    dataset,
    loss_key,
    output_dir,
    *,
    learning_rates=presets.MLP_LEARNING_RATE_GRID,
    executions=5,
    verbose=0,
    **run_kwargs,
):
    """Grid search of one (dataset, loss) pair; returns the chosen rate.

    Args:
        dataset: A `keras_robust.data` dataset name.
        loss_key: A row key of paper Table 2 (`"mae*"`, ...) or a loss name.
        output_dir: Root of `runs/` and `tuner/`.
        learning_rates: The grid.
        executions: Seeds per grid point (0..executions-1).
        verbose: 0 silent; 1 keras-tuner's trial summaries; 2 also the
            runs' one line per epoch.
        **run_kwargs: `model`, `noise_rate` and `RunConfig` overrides such
            as `epochs` or `train_size` (None values are dropped).

    Returns:
        The best learning rate (a float), or None on a distributed worker.
    """
    import keras_tuner

    learning_rates = _check_learning_rates(learning_rates)
    if isinstance(executions, bool) or not isinstance(executions, int) or executions < 1:
        raise ValueError(
            f"Argument `executions` must be a positive integer. Received: executions={executions!r}"
        )
    # Fail early (not inside a trial) on a bad dataset, loss or override.
    run_config(dataset, loss_key, learning_rates[0], 0, **run_kwargs)
    hyperparameters = keras_tuner.HyperParameters()
    hyperparameters.Choice("learning_rate", list(learning_rates), ordered=True)
    tuner = _make_tuner_class()(
        dataset=dataset,
        loss_key=loss_key,
        output_dir=output_dir,
        run_kwargs=run_kwargs,
        verbose=2 if verbose >= 2 else 0,
        hyperparameters=hyperparameters,
        tune_new_entries=False,
        allow_new_entries=False,
        objective=keras_tuner.Objective(OBJECTIVE, direction="max"),
        executions_per_trial=executions,
        directory=os.path.join(output_dir, "tuner"),
        project_name=_project_name(dataset, loss_key, learning_rates, executions, run_kwargs),
    )
    tuner.search(verbose=bool(verbose))
    if _is_distributed_worker():
        return None
    (best,) = tuner.get_best_hyperparameters(1)
    return float(best.get("learning_rate"))


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
    report.write_text_atomically(path, json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return merged


def tune_learning_rates(
    output_dir,
    *,
    datasets=DEFAULT_DATASETS,
    losses=DEFAULT_LOSSES,
    learning_rates=presets.MLP_LEARNING_RATE_GRID,
    executions=5,
    verbose=0,
    **run_kwargs,
):
    """Runs the grid searches and writes `learning_rates.json` and `.md`.

    Args:
        output_dir: Output root (see the module docstring).
        datasets: Dataset names.
        losses: Loss row keys of Table 2 (or loss names).
        learning_rates: The grid (default: the paper's nine rates).
        executions: Seeds per grid point.
        verbose: 0 silent, 1 trial summaries, 2 also per-epoch lines.
        **run_kwargs: `model` (default `"mlp1024"`), `noise_rate` (default
            0) and `RunConfig` overrides such as `epochs`, `train_size`.

    Returns:
        `(chosen, markdown)`: `{dataset: {loss_key: rate}}` of this call and
        the Markdown tables. On a distributed worker, `({}, "")`.
    """
    if not datasets or not losses:
        raise ValueError(
            "Arguments `datasets` and `losses` must not be empty. "
            f"Received: datasets={datasets!r}, losses={losses!r}"
        )
    learning_rates = _check_learning_rates(learning_rates)
    chosen = {}
    for dataset in datasets:
        for loss_key in losses:
            best = search_learning_rate(
                dataset,
                loss_key,
                output_dir,
                learning_rates=learning_rates,
                executions=executions,
                verbose=verbose,
                **run_kwargs,
            )
            if best is not None:
                chosen.setdefault(dataset, {})[loss_key] = best
    if _is_distributed_worker():
        return {}, ""
    sections = ["# MLP learning-rate grid (paper supplement Table 1)", ""]
    for dataset in datasets:
        rows = {
            loss_key: (
                grid_statistics(output_dir, dataset, loss_key, learning_rates, executions, **run_kwargs),
                chosen[dataset][loss_key],
            )
            for loss_key in losses
        }
        sections.append(markdown_table(dataset, rows, learning_rates, executions))
    markdown = "\n".join(sections)
    report.write_text_atomically(os.path.join(output_dir, TABLE_FILENAME), markdown)
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


if __name__ == "__main__":
    define_flags()
    app.run(main)
