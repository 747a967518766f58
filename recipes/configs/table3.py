r"""Paper Table 3: ResNet-34 on CIFAR-100.

The ten loss rows of Table 3 (CE, MAE* eps=1.5 and 3.0, boundCE* eps=1.5
and 2.5, genCE, symCE, actPas1, actPas2, biTemp, with the CIFAR-100
hyperparameters of paper Table 1), noise rates 0, 0.1, 0.2, 0.4, 0.6 and
seeds 0-4: 10 x 5 x 5 = 250 runs of the ResNet protocol (200 epochs).

    python -m recipes.main --config=recipes/configs/table3.py --workdir=runs/table3

A subset, through the config argument (`+` joins several values; quote
the argument in a shell when it holds a `*`):

    python -m recipes.main \
        --config='recipes/configs/table3.py:losses=ce+boundce*2.5,noise_rates=0.4' \
        --workdir=runs/table3

Arguments: `datasets`, `models`, `losses` (row keys of
`recipes.paper_results.TABLE3_ROWS`), `noise_rates`, `seeds`. Fields of
every run change with `--config.<field>=...` (e.g. `--config.epochs=10`).
Stop and restart at will; `--workers=k` trains k runs at a time and the
chief/worker variables of `recipes.grid` spread the sweep over machines.
The report (`<workdir>/report.md`) sets each cell beside the paper's.
"""

from recipes import config as config_lib
from recipes.configs import common


def get_config(arg=None):
    """Every run's settings but the swept ones: the paper's protocols."""
    common.paper_table_arg("table3", arg)
    return config_lib.get_default_config()


def get_sweep(arg=None):
    """datasets x models x loss rows x noise rates x seeds."""
    return common.paper_table_sweep("table3", arg)
