r"""One training run; every field at its default unless overridden.

    python -m recipes.main --config=recipes/configs/default.py --workdir=runs/one \
        --config.dataset=digits --config.model=mlp1024 --config.loss=gce \
        --config.noise_rate=0.4

trains the paper's MLP1024 on the offline "digits" set with 40 % symmetric
label noise and genCE (q 0.7, paper Table 1), with the MLP protocol of
`recipes.protocols` (SGD momentum 0.95, batch 32, learning rate 0.01 times
0.95 per epoch where supplement Table 1 has no rate, 100 epochs), and
saves `runs/one/results.json` and `runs/one/model.keras`. Without
overrides it is the paper's ResNet-32 on CIFAR-10 with cross entropy.
Every field of `recipes.config` can be set with `--config.<field>=...`,
e.g. `--config.loss='mae*' --config.epochs=20 --config.learning_rate=0.003`.
"""

from recipes import config as config_lib


def get_config(arg=None):
    """The default run, which also saves its trained model."""
    del arg  # This config has no options.
    config = config_lib.get_default_config()
    config.save_model = True
    return config
