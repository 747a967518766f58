r"""Does `recommend()` choose as well from an estimated noise rate as from the true one?

For each dataset and symmetric noise rate, the sweep trains

- the `estimate_noise` folds: `k` models with cross entropy, each holding
  out one k-th of the training set, whose out-of-sample probabilities give
  `keras_robust.estimate_noise` its estimate (confident learning) of the
  fraction of wrong labels and so of the paper's noise rate
  (`NoiseEstimate.symmetric_noise_rate`);
- every loss that `keras_robust.losses.recommend()` can choose at the
  dataset's class count (one per range of `RECOMMENDATION_THRESHOLDS`:
  biTemp, genCE and boundCE at 10 classes, boundCE* and genCE at 100),
  and CE, with seeds 0-2, each as `recommend()` configures it.

`summarize` prints one table row per dataset and noise rate: the set rate,
the estimated one and its error, the loss `recommend()` chooses from the
estimate and its final test accuracy (mean +- standard error over seeds),
the loss it chooses from the true rate and its accuracy, and CE's. Offline,
on digits and digit pairs with 0, 20, 40 and 60 % noise (4 folds of 10
epochs, then 20 epochs per loss, the quickstart's training): 116 runs.

    python -m recipes.main --config=recommend_check --workdir=runs/recommend_check

Arguments narrow the sweep (`+` joins values): `datasets`, `noise_rates`,
`seeds`, `folds` (at least 2), `fold_epochs` (the folds' epochs, 10),
`epochs` (the losses' epochs, 20):

    python -m recipes.main --config='recommend_check:datasets=digits,noise_rates=0.4,seeds=0' \
        --workdir=runs/recommend_check_digits
"""

import collections

from keras_robust import data
from keras_robust import losses
from recipes import config as config_lib
from recipes import statistics
from recipes.configs import common
from recipes.configs import estimate_noise

DATASETS = ("digits", "digit_pairs")
NOISE_RATES = (0.0, 0.2, 0.4, 0.6)
SEEDS = (0, 1, 2)
#: The epochs of the estimating folds (the `estimate_noise` recipe's).
FOLD_EPOCHS = 10
#: The epochs of the losses' runs (the quickstart's).
EPOCHS = 20
ARGUMENTS = dict(
    datasets=DATASETS, noise_rates=NOISE_RATES, seeds=SEEDS, folds=4,
    fold_epochs=FOLD_EPOCHS, epochs=EPOCHS,
)
#: The config arguments narrowing the fields the points set.
NARROWED_BY = {"holdout_fold": "folds", "num_folds": "folds", "epochs": "epochs"}
#: Cross entropy, the baseline, as sweep fields.
CE_FIELDS = {"loss": "ce", "loss_kwargs": {}}


def _parse(arg):
    arg = common.parse_arg(arg, **ARGUMENTS)
    common.check_choices("datasets", arg.datasets, DATASETS)
    estimate_noise.check_folds(arg.folds)
    return arg


def get_config(arg=None):
    """MLP1024 on digits, lr 0.01 (the quickstart's training); epochs by point."""
    _parse(arg)
    return common.offline_mlp_config(DATASETS[0])


def candidate_losses(num_classes):
    """The losses `recommend()` can choose at `num_classes`, as sweep fields.

    One per range of `keras_robust.losses.RECOMMENDATION_THRESHOLDS`, in
    order: `{"loss": text, "loss_kwargs": {...}}` with the loss's text in
    the grammar (`LossSpec.text`) and its hyperparameters.
    """
    candidates = []
    for rate in (0.0, *losses.RECOMMENDATION_THRESHOLDS):
        point = estimate_noise.loss_fields(losses.recommend(rate, num_classes))
        if point not in candidates:
            candidates.append(point)
    return candidates


def get_sweep(arg=None):
    """Per dataset and noise rate: the folds, then each candidate loss and CE by seed."""
    arg = _parse(arg)
    points = []
    for dataset in arg.datasets:
        num_classes = data.get_spec(dataset).num_classes
        trained = [*candidate_losses(num_classes), CE_FIELDS]
        for noise_rate in arg.noise_rates:
            setting = {"dataset": dataset, "noise_rate": noise_rate}
            points += common.product(
                setting=[setting], loss=["ce"], epochs=[arg.fold_epochs],
                num_folds=[arg.folds], holdout_fold=range(arg.folds),
            )
            points += common.product(
                setting=[setting], loss=trained, epochs=[arg.epochs], seed=arg.seeds
            )
    return points


def _loss_key(text, loss_kwargs):
    """A loss's text and hyperparameters as a dict key."""
    return text, tuple(sorted(loss_kwargs.items()))


def _accuracy(cells, fields):
    cell = cells.get(_loss_key(fields["loss"], fields["loss_kwargs"]))
    if not cell:
        return "–"
    mean, error = statistics.mean_and_standard_error([100 * value for value in cell])
    return statistics.format_statistic(mean, error, decimals=1)


def _label(fields):
    return losses.LossSpec.parse(fields["loss"]).label


def summarize(results_list, workdir):
    """The table of the check: estimate, choices and their accuracies.

    Args:
        results_list: The `RunResult`s of the sweep.
        workdir: The sweep's directory.

    Returns:
        The printed Markdown table.
    """
    folds = collections.defaultdict(list)
    accuracies = collections.defaultdict(lambda: collections.defaultdict(list))
    for result in results_list:
        spec = config_lib.RunSpec.from_settings(result.settings)
        setting = (spec.dataset, spec.noise_rate)
        if spec.num_folds > 1:
            folds[setting].append(spec)
        else:
            key = _loss_key(spec.loss_spec.text, spec.loss_kwargs)
            accuracies[setting][key].append(result.test_accuracy)
    lines = [
        "| dataset | noise rate | estimated (error) | wrong labels: true, estimated "
        "| chosen from the estimate | its accuracy % | chosen from the true rate "
        "| its accuracy % | CE accuracy % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, rate), specs in sorted(folds.items()):
        found = estimate_noise.estimate_from_folds(specs, workdir)
        eta = found.estimate.symmetric_noise_rate
        num_classes = found.spec.num_classes
        from_estimate = estimate_noise.loss_fields(losses.recommend(eta, num_classes))
        from_truth = estimate_noise.loss_fields(losses.recommend(rate, num_classes))
        cells = accuracies[(dataset, rate)]
        lines.append(
            f"| {dataset} | {rate:g} | {eta:.3f} ({eta - rate:+.3f}) "
            f"| {found.wrong_fraction:.3f}, {found.estimate.noise_rate:.3f} "
            f"| {_label(from_estimate)} | {_accuracy(cells, from_estimate)} "
            f"| {_label(from_truth)} | {_accuracy(cells, from_truth)} "
            f"| {_accuracy(cells, CE_FIELDS)} |"
        )
    return "\n".join(lines)
