r"""Paper Table 2: ResNet-32 and MLP1024 on CIFAR-10 and Fashion-MNIST.

The nine loss rows of Table 2 (CE, MAE, MAE* eps=0.5, boundCE, genCE,
symCE, actPas1, actPas2, biTemp), noise rates 0, 0.1, 0.2, 0.4, 0.6 and
seeds 0-4: 2 x 2 x 9 x 5 x 5 = 900 runs with the paper's protocols
(`recipes.protocols`: ResNet-32 200 epochs; MLP1024 100 epochs at the
bold learning rates of supplement Table 1).

    python -m recipes.main --config=recipes/configs/table2.py --workdir=runs/table2

A subset, through the config argument (`+` joins several values; quote
the argument in a shell when it holds a `*`):

    python -m recipes.main \
        --config='recipes/configs/table2.py:models=mlp1024,datasets=fashion_mnist' \
        --workdir=runs/table2

Arguments: `datasets`, `models`, `losses` (row keys of
`recipes.paper_results.TABLE2_ROWS`), `noise_rates`, `seeds`. Fields of
every run change with `--config.<field>=...` (e.g. `--config.epochs=10`).
Stop and restart at will; `--workers=k` trains k runs at a time and the
chief/worker variables of `recipes.grid` spread the sweep over machines.
The report (`<workdir>/report.md`) sets each cell beside the paper's.
"""

from recipes import config as config_lib
from recipes.configs import common


def get_config(arg=None):
    """Every run's settings but the swept ones: the paper's protocols."""
    common.paper_table_arg("table2", arg)
    return config_lib.get_default_config()


def get_sweep(arg=None):
    """datasets x models x loss rows x noise rates x seeds."""
    return common.paper_table_sweep("table2", arg)
