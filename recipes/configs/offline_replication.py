r"""The paper's Tables 2 and 3 offline, by its MLP protocol: rates first, then noise.

The rows of paper Table 2 (CE, MAE, MAE* eps=0.5, boundCE, genCE, symCE,
actPas1, actPas2, biTemp) on `digits` (10 classes) and the rows of Table 3
(CE, MAE* eps=1.5 and 3.0, boundCE* eps=1.5 and 2.5, genCE, symCE, actPas1,
actPas2, biTemp) on `digit_pairs` (100 classes), both datasets ours and
shipped with scikit-learn (`keras_robust.data`), with the paper's MLP1024
trained as in paper Sec. 4 and supplement Sec. 2, in one sweep of stages
(`recipes.stages`):

1. Learning rates: every row at the nine initial rates of supplement
   Table 1 (0.0005 ... 0.05), clean labels, seeds 0-4; per row the rate
   with the best mean final test accuracy is chosen (ties: the smaller;
   `recipes.learning_rate_choice`). Where it sits on the edge of the grid,
   alone the best, the grid is extended by the next rate at the same
   spacing (0.08, 0.1, ... above; 0.0003, 0.0001, ... below), five seeds,
   until the best rate lies inside.
2. Noise: every row at its chosen rate, symmetric noise 0, 10, 20, 40, 60
   and 80 % (the paper's columns and 80 %), seeds 0-4. The clean column is
   stage 1's runs at that rate (same settings, same run ids).

Stage 1 is (9 + 10) x 9 x 5 = 855 runs, stage 2 (9 + 10) x 5 x 5 = 475 new
runs: 1330 runs, plus 5 per rate added past an edge. Every run is 10
epochs of batch 32, 45 steps per epoch on digits (1437 training images)
and 157 on digit pairs (5000): 888,750 steps in stage 1 and 493,750 in
stage 2, 1,382,500 in all, plus 450 (digits) or 1570 (digit pairs) per
added run:

    python -m recipes.main --config=recipes/configs/offline_replication.py --workdir=runs/offline_replication

Like every sweep it resumes after a stop (the same command: finished runs
and stages are not redone) and spreads over workers (`--workers=k`, or a
chief and workers, `recipes.grid`; the chief must be this command, which
finds the next stage). Loss hyperparameters are paper Table 1's for the
class count.

Epochs: the paper does not state the MLP's. Clean CE (its Fashion-MNIST
rate 0.005 on digits, 0.01 on digit pairs, seed 0, 20 epochs) stays within
0.5 points of its last epoch's test accuracy (digits 97.5 %, digit pairs
93.25 %) from epoch 7 on, on both datasets (`levelled_epoch`). Both stages
train 10 epochs: past that point, and, since the MLP's schedule decays the
rate per epoch whatever the run's length, a 10-epoch run is the first half
of a 20-epoch one, within 0.5 points of it for clean CE. The rate stage
gives every loss its best rate for those 10 epochs. `summarize` measures
the same on the finished clean runs at their chosen rates and prints it
after the report.

The report prints each dataset's learning-rate table (the chosen rate in
bold, the rates added past an edge named; on digits beside supplement
Table 1's rates for CIFAR-10 and Fashion-MNIST, the paper's MLP1024
datasets; the paper trains no MLP at 100 classes), then each noise table,
the paper's values it is ranked against (for digits Table 2's MLP1024
blocks, Fashion-MNIST and CIFAR-10, each and their mean; for digit pairs
Table 3) and, per noise rate, how well the ranking of the losses agrees
with each: Kendall's tau-b with its bootstrap interval over seeds and the
pairs of losses that swap places (`recipes.agreement`).

Arguments narrow the sweep (`+` joins values; quote a `*` in a shell):
`tables` (`table2` on digits, `table3` on digit pairs), `losses` (row keys
of either table, e.g. `mae*`, `boundce*2.5`), `learning_rates` (the grid
of stage 1), `noise_rates`, `seeds`:

    python -m recipes.main \
        --config='recipes/configs/offline_replication.py:tables=table3,learning_rates=0.003+0.01+0.03,noise_rates=0.4,seeds=0' \
        --workdir=runs/offline_table3_40
"""

from recipes import blocks
from recipes import learning_rate_choice
from recipes import paper_results
from recipes import tables as tables_lib
from recipes.configs import common

#: The offline dataset standing in for each paper table's datasets.
DATASETS = {"table2": "digits", "table3": "digit_pairs"}
NOISE_RATES = paper_results.NOISE_RATES + (0.8,)
#: Epochs of every run of both stages (see the module docstring).
EPOCHS = 10
#: How close (in points of test accuracy) to its last epoch a curve is
#: levelled off, for `summarize`.
LEVEL_POINTS = 0.5


def _row_keys():
    keys = []
    for name in DATASETS:
        keys += [row.key for row in paper_results.table(name).rows if row.key not in keys]
    return tuple(keys)


ARGUMENTS = dict(
    tables=tuple(DATASETS),
    losses=_row_keys(),
    learning_rates=paper_results.LEARNING_RATES,
    noise_rates=NOISE_RATES,
    seeds=paper_results.SEEDS,
)
#: The arguments that narrow the fields a point sets other than by name.
NARROWED_BY = {"dataset": "tables"}


def _parse(arg):
    arg = common.parse_arg(arg, **ARGUMENTS)
    common.check_choices("tables", arg.tables, tuple(DATASETS))
    common.check_choices("losses", arg.losses, ARGUMENTS["losses"])
    if not arg.learning_rates or min(arg.learning_rates) <= 0:
        raise common.ConfigArgumentError(
            f"Config argument learning_rates={'+'.join(map(str, arg.learning_rates))} "
            "is not allowed: one or more rates > 0."
        )
    return arg


def get_config(arg=None):
    """MLP1024 with its protocol, 10 epochs; dataset, rate and noise per point."""
    _parse(arg)
    config = common.offline_mlp_config(DATASETS["table2"])
    config.epochs = EPOCHS
    return config


def _clean_points(row, rates, seeds):
    return common.product(
        row=[row], noise_rate=(0.0,), learning_rate=sorted(rates), seed=seeds
    )


def choose_rate(row, rates, seeds, finished):
    """Stage 1 of one row: `(rates to run, chosen rate or None)`.

    Args:
        row: The row's point fields (dataset, loss, output bias).
        rates: The grid of stage 1.
        seeds: The seeds of every rate.
        finished: `recipes.stages.Finished` (None: nothing finished).

    Returns:
        The grid, extended past its edge while the best rate of the
        finished runs sits there alone (`learning_rate_choice.rates_to_try`),
        and the chosen rate once every run of that grid finished.
    """
    rates = sorted(rates)
    while True:
        means = {}
        for point in _clean_points(row, rates, seeds):
            result = None if finished is None else finished.get(point)
            if result is None:
                return rates, None
            means.setdefault(point["learning_rate"], []).append(result)
        means = {rate: blocks.cell_statistic(runs)[0] for rate, runs in means.items()}
        following = learning_rate_choice.rates_to_try(means)
        if not following:
            return rates, learning_rate_choice.best_learning_rate(means)
        rates = sorted(rates + list(following))


def get_sweep(arg=None, finished=None):
    """Per table and row of `losses`: stage 1's grid, then, once chosen, the noise.

    Args:
        arg: The config argument (see the module docstring).
        finished: `recipes.stages.Finished`, the runs finished so far.
    """
    arg = _parse(arg)
    points = []
    for name in arg.tables:
        for table_row in paper_results.table(name).rows:
            if table_row.key not in arg.losses:
                continue
            row = {"dataset": DATASETS[name], **table_row.overrides}
            rates, chosen = choose_rate(row, arg.learning_rates, arg.seeds, finished)
            clean = _clean_points(row, rates, arg.seeds)
            points += clean
            if chosen is not None:
                noisy = common.product(
                    row=[{**row, "learning_rate": chosen}],
                    noise_rate=arg.noise_rates, seed=arg.seeds,
                )
                # The clean column at the chosen rate is stage 1's.
                points += [point for point in noisy if point not in clean]
    if not points:
        raise common.ConfigArgumentError(
            f"Config argument losses={'+'.join(arg.losses)} names no row of "
            f"tables={'+'.join(arg.tables)}."
        )
    return points


def levelled_epoch(curves, points=LEVEL_POINTS):
    """The first epoch (from 1) from which the mean curve stays within `points` of its end.

    Args:
        curves: Per seed, the test accuracy (a fraction) of every epoch.
    """
    mean = [100.0 * sum(values) / len(values) for values in zip(*curves)]
    epoch = len(mean)
    while epoch > 1 and abs(mean[epoch - 2] - mean[-1]) <= points:
        epoch -= 1
    return epoch


def summarize(results_list, workdir):
    """The chosen rates beside the paper's, and where each clean row levelled off.

    The paper's rates are supplement Table 1's bold ones, for the same loss
    row on its MLP1024 datasets (10 classes; it trains no MLP at 100). The
    last column is `levelled_epoch` of the row's clean runs at its chosen
    rate: the first epoch from which their mean test accuracy stays within
    `LEVEL_POINTS` of its last epoch's.
    """
    del workdir  # Everything is in the results.
    paper = [dataset for dataset, model in paper_results.TABLE_BLOCKS["table2"]
             if model == "mlp1024"]
    lines = []
    for block in blocks.group_blocks(results_list):
        if block.kind != "learning_rate":
            continue
        chosen = learning_rate_choice.choose_learning_rates(block)
        rows = []
        epochs = 0
        for row, rate in chosen.items():
            key = getattr(block.comparable_row(row), "key", None)
            theirs = [paper_results.paper_best_learning_rate(dataset, key) for dataset in paper]
            curves = [run.history["test_accuracy"] for run in block.rows[row][rate].runs]
            epochs = max(epochs, len(curves[0]))
            rows.append([block.label(row), f"{rate:g}"] + [
                "–" if value is None else f"{value:g}" for value in theirs
            ] + [str(levelled_epoch(curves))])
        lines += [
            f"{block.dataset}: initial learning rates chosen on clean labels, beside "
            "supplement Table 1's, and the epoch from which the clean test accuracy at "
            f"the chosen rate stays within {LEVEL_POINTS:g} points of its last epoch's "
            "(mean over seeds):", "",
            tables_lib.markdown_table(
                ["Loss", "chosen"] + [f"paper ({dataset})" for dataset in paper]
                + [f"levelled (epoch of {epochs})"], rows
            ), "",
        ]
    return "\n".join(lines) if lines else "No learning-rate stage has finished."
