r"""Paper Table 3: ResNet-34 on CIFAR-100.

The ten loss rows of Table 3 (CE, MAE* eps=1.5 and 3.0, boundCE* eps=1.5
and 2.5, genCE, symCE, actPas1, actPas2, biTemp, with the CIFAR-100
hyperparameters of paper Table 1), noise rates 0, 0.1, 0.2, 0.4, 0.6 and
seeds 0-4: 10 x 5 x 5 = 250 runs of the ResNet protocol (200 epochs):

    python -m recipes.main --config=recipes/configs/table3.py --workdir=runs/table3

The config argument (`recipes.configs.common.paper_table`) narrows it, e.g.
to two rows at 40 % noise (quote a `*` in a shell):
`--config='recipes/configs/table3.py:losses=ce+boundce*2.5,noise_rates=0.4'`.
"""

from recipes.configs import common

ARGUMENTS, get_config, get_sweep = common.paper_table("table3")
