r"""Quickstart: the paper's finding in two blocks, 10 and 100 classes.

Offline and in about four minutes on two CPU cores, two runs at a time
(the README says where):

    python -m recipes.main --config=recipes/configs/quickstart.py --workdir=runs/quickstart --workers=2

trains the paper's MLP1024 with 40 % symmetric label noise on two datasets
that ship with scikit-learn (ours, not the paper's; `keras_robust.data`):

- `digits`: 8x8 handwritten digits, 10 classes (1437 training, 360 test
  images), the setting of the paper's Table 2;
- `digit_pairs`: two digits side by side, class `10 * left + right`, 100
  classes (5000 training pairs of training digits, 2000 test pairs of test
  digits), the class count of the paper's Table 3 (CIFAR-100).

Losses: CE, MAE, MAE*, genCE, boundCE and boundCE*, seeds 0, 1, 2. The
output bias eps of MAE* and boundCE* (`"mae*"`, `"boundce*"`) is the
paper's for the dataset's class count, `keras_robust.presets.output_bias`
(paper eq. 2 at the paper's targets, rounded to one decimal): MAE* 0.5
and boundCE* 0.0 at 10 classes (so boundCE* is boundCE there, one run),
MAE* 3.0 and boundCE* 2.5 at 100 classes. The other hyperparameters are
paper Table 1's for the class count (`keras_robust.presets`). 33 runs.

What it shows (paper Sec. 3.2, 5): at 10 classes the robust losses beat
CE, which memorises the wrong labels; at 100 classes MAE and boundCE
barely train (their gradient vanishes when the labelled output starts near
1/c), and the output bias eps makes them train, far above CE.

The report (`<workdir>/report.md`, printed at the end) has one table per
dataset: final test accuracy (mean +- standard error over seeds) and the
false-label accuracy (accuracy on the mislabelled training images, against
their true labels). `<workdir>/curves_symmetric_noise40.png` shows both
blocks per epoch, `curves_<dataset>_mlp1024_symmetric_noise40.png` each.

Training follows the paper's MLP protocol (Sec. 4): SGD with momentum 0.95,
batch 32, no weight decay, learning rate times 0.95 every epoch. Only the
initial learning rate and the epoch count are ours, chosen for a few
minutes on two CPU cores:

- learning rate 0.01 for every loss: inside the paper's grid (supplement
  Table 1, where 0.01 is genCE's and biTemp's choice on Fashion-MNIST), and
  one rate for all losses so that none is tuned against the others.
- 20 epochs (900 steps on digits, 3140 on digit pairs): the robust losses
  have converged after about 10 epochs; CE peaks after 3-6 epochs and then
  memorises the wrong labels.

Arguments narrow the sweep (`+` joins values; quote a `*` in a shell),
`--config.<field>` changes every run:

    python -m recipes.main \
        --config='recipes/configs/quickstart.py:datasets=digit_pairs,losses=mae+mae*,seeds=0' \
        --config.epochs=5 --workdir=runs/quickstart_short
"""

from recipes.configs import common

DATASETS = ("digits", "digit_pairs")
LOSSES = ("ce", "mae", "mae*", "gce", "boundce", "boundce*")
SEEDS = (0, 1, 2)
ARGUMENTS = dict(datasets=DATASETS, losses=LOSSES, seeds=SEEDS)


def _parse(arg):
    arg = common.parse_arg(arg, **ARGUMENTS)
    common.check_choices("datasets", arg.datasets, DATASETS)
    common.check_choices("losses", arg.losses, LOSSES)
    return arg


def get_config(arg=None):
    """MLP1024, 40 % symmetric noise, lr 0.01, 20 epochs."""
    _parse(arg)
    config = common.offline_mlp_config(DATASETS[0])
    config.noise_rate = 0.4
    return config


def get_sweep(arg=None):
    """Per dataset, the losses (in the loss grammar), then the seeds.

    At 10 classes boundCE* resolves to boundCE (eps 0.0), the same run,
    which the sweep trains once (`recipes.config.resolve_sweep`).
    """
    arg = _parse(arg)
    return common.product(dataset=arg.datasets, loss=arg.losses, seed=arg.seeds)
