r"""The paper's Tables 2 and 3 offline: every loss row on digits and digit pairs.

The rows of paper Table 2 (CE, MAE, MAE* eps=0.5, boundCE, genCE, symCE,
actPas1, actPas2, biTemp) on `digits` (10 classes) and the rows of Table 3
(CE, MAE* eps=1.5 and 3.0, boundCE* eps=1.5 and 2.5, genCE, symCE, actPas1,
actPas2, biTemp) on `digit_pairs` (100 classes), both datasets ours and
shipped with scikit-learn (`keras_robust.data`), with the paper's MLP1024,
symmetric noise 0, 10, 20, 40, 60 and 80 % (the paper's columns and 80 %)
and seeds 0-4: (9 + 10) x 6 x 5 = 570 runs, about 80 minutes on two CPU
cores (see the README for the measured time):

    python -m recipes.main --config=recipes/configs/offline_replication.py --workdir=runs/offline_replication

Like every sweep it resumes after a stop and spreads over workers
(`--workers=k`, or a chief and workers, `recipes.grid`). Training is the
quickstart's (`recipes/configs/quickstart.py`): the MLP protocol of paper
Sec. 4 for 20 epochs, loss hyperparameters of paper Table 1 for the class
count. The initial learning rate follows each table's own rule: Table 2's
MLP rows train each loss at its rate of supplement Table 1, so on digits
every loss takes its Fashion-MNIST rate (`TABLE2_LEARNING_RATE_DATASET`;
actPas1 and actPas2 do not train at all at 0.01, 20x the rate the paper
found for them); Table 3 trains every loss at one rate, so on digit pairs
every loss takes 0.01, the quickstart's.

The report prints each table, then the paper's (for digits the mean of
Table 2's four blocks, which is how the paper ranks losses in its
"Top-mean-acc" rows; for digit pairs Table 3) and, per noise rate, how well
the ranking of the losses agrees with the paper's: Kendall's tau-b and the
pairs of losses that swap places (`recipes.report.rank_agreement`).

Arguments narrow the sweep (`+` joins values; quote a `*` in a shell):
`tables` (`table2` on digits, `table3` on digit pairs), `losses` (row keys
of either table, e.g. `mae*`, `boundce*2.5`), `noise_rates`, `seeds`:

    python -m recipes.main \
        --config='recipes/configs/offline_replication.py:tables=table3,noise_rates=0.4,seeds=0' \
        --workdir=runs/offline_table3_40
"""

from keras_robust import losses
from recipes import paper_results
from recipes import protocols
from recipes.configs import common

#: The offline dataset standing in for each paper table's datasets.
DATASETS = {"table2": "digits", "table3": "digit_pairs"}
NOISE_RATES = paper_results.NOISE_RATES + (0.8,)
#: Whose supplement Table 1 rates the Table 2 rows take on digits (the
#: paper's grey-level dataset learned by its MLP).
TABLE2_LEARNING_RATE_DATASET = "fashion_mnist"
#: Every loss's rate on the digit pairs, as Table 3 trains every loss at one.
TABLE3_LEARNING_RATE = 0.01


def _row_keys():
    keys = []
    for name in DATASETS:
        keys += [row.key for row in paper_results.table(name).rows if row.key not in keys]
    return tuple(keys)


ARGUMENTS = dict(
    tables=tuple(DATASETS),
    losses=_row_keys(),
    noise_rates=NOISE_RATES,
    seeds=paper_results.SEEDS,
)
#: The arguments that narrow the fields a point sets other than by name.
NARROWED_BY = {"dataset": "tables", "learning_rate": "losses"}


def _parse(arg):
    arg = common.parse_arg(arg, **ARGUMENTS)
    common.check_choices("tables", arg.tables, tuple(DATASETS))
    common.check_choices("losses", arg.losses, ARGUMENTS["losses"])
    return arg


def _learning_rate(table_name, row):
    if table_name == "table3":
        return TABLE3_LEARNING_RATE
    overrides = row.overrides
    loss = losses.LossSpec(overrides["loss"], overrides.get("output_bias", 0.0))
    return protocols.mlp_learning_rate(TABLE2_LEARNING_RATE_DATASET, loss.text)


def get_config(arg=None):
    """MLP1024, 20 epochs (the quickstart's training); rates per sweep point."""
    _parse(arg)
    return common.offline_mlp_config(DATASETS["table2"])


def get_sweep(arg=None):
    """Per table, its rows (those of `losses` it has), noise rates, seeds."""
    arg = _parse(arg)
    points = []
    for name in arg.tables:
        rows = [
            {**row.overrides, "learning_rate": _learning_rate(name, row)}
            for row in paper_results.table(name).rows
            if row.key in arg.losses
        ]
        points += common.product(
            dataset=(DATASETS[name],), row=rows, noise_rate=arg.noise_rates, seed=arg.seeds
        )
    if not points:
        raise common.ConfigArgumentError(
            f"Config argument losses={'+'.join(arg.losses)} names no row of "
            f"tables={'+'.join(arg.tables)}."
        )
    return points
