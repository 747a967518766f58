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

Arguments: see `recipes.configs.common.paper_table`; every run's fields
change with `--config.<field>=...` (e.g. `--config.epochs=10`).
"""

from recipes.configs import common

ARGUMENTS, get_config, get_sweep = common.paper_table("table2")
