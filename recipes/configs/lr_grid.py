r"""Supplement Table 1: the MLP1024 learning-rate grid on clean data.

For every dataset and loss row of Table 2, the nine initial learning rates
of supplement Table 1 (0.0005 ... 0.05) with seeds 0-4, no label noise and
the MLP protocol otherwise (supplement Sec. 2): 2 x 9 x 9 x 5 = 810 runs.

    python -m recipes.main --config=recipes/configs/lr_grid.py --workdir=runs/lr_grid

Tuning is this sweep followed by choosing, per dataset and loss, the rate
with the best mean final test accuracy over the seeds (ties: the smaller
rate): the report (`<workdir>/report.md`) shows every rate beside the
paper's value, the chosen rate and the paper's, and writes the chosen
rates to `<workdir>/best_learning_rates.json`.

A subset, offline (`+` joins values; quote a `*` in a shell):

    python -m recipes.main \
        --config='recipes/configs/lr_grid.py:datasets=digits,losses=ce+mae*,learning_rates=0.001+0.01,seeds=0+1' \
        --config.epochs=2 --config.train_size=256 --workdir=runs/lr_digits

Arguments: `datasets`, `losses` (row keys of
`recipes.paper_results.TABLE2_ROWS`), `learning_rates`, `seeds`.
"""

from recipes import config as config_lib
from recipes import paper_results
from recipes.configs import common


ARGUMENTS = dict(
    datasets=paper_results.TABLES["table2"].datasets,
    losses=tuple(row.key for row in paper_results.TABLE2_ROWS),
    learning_rates=paper_results.LEARNING_RATES,
    seeds=paper_results.SEEDS,
)


def _arg(arg):
    arg = common.parse_arg(arg, **ARGUMENTS)
    return arg, common.table_rows("table2", arg.losses)


def get_config(arg=None):
    """MLP1024 on clean data with its protocol."""
    _arg(arg)  # Checks the argument.
    config = config_lib.get_default_config()
    config.model = "mlp1024"
    config.noise_rate = 0.0
    return config


def get_sweep(arg=None):
    """datasets x loss rows x learning rates x seeds."""
    arg, rows = _arg(arg)
    return common.product(
        dataset=arg.datasets,
        row=rows,
        learning_rate=arg.learning_rates,
        seed=arg.seeds,
    )
