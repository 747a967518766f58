r"""The paper's losses on human label noise: CIFAR-10N and CIFAR-100N.

CIFAR-N (Wei et al., ICLR 2022, "Learning with Noisy Labels Revisited: A
Study Using Real-World Human Annotations") re-labelled the CIFAR training
images by people (`keras_robust.data.cifar_n`). This sweep trains on those
labels (`noise_kind="human"`, `noise_rate` 0: the measured rate of each
label set is what counts, printed and recorded in results.json) with the
paper's ResNet protocol (`recipes.protocols`, 200 epochs):

- CIFAR-10N, ResNet-32: the nine loss rows of paper Table 2 on each label
  set `aggre`, `random1`, `random2`, `random3`, `worse`;
- CIFAR-100N, ResNet-34: the ten loss rows of paper Table 3 on `noisy`;

seeds 0-4: (5 x 9 + 1 x 10) x 5 = 275 runs.

    python -m recipes.main --config=recipes/configs/cifar_n.py --workdir=runs/cifar_n

A subset, through the config argument (`+` joins several values; quote
the argument in a shell when it holds a `*`): `label_sets` (the CIFAR-10N
and CIFAR-100N sets; the dataset follows from them), `losses` (row keys of
Tables 2 and 3, e.g. `mae*` or `mae*1.5`; a key runs on the datasets whose
table has it) and `seeds`:

    python -m recipes.main \
        --config='recipes/configs/cifar_n.py:label_sets=aggre+noisy,losses=ce+gce,seeds=0' \
        --workdir=runs/cifar_n

The human labels are a manual download: TFDS's `cifar10_n` and
`cifar100_n` read them from `<data_dir>/downloads/manual/` (default
`~/tensorflow_datasets/downloads/manual/`). Get `CIFAR-10_human_ordered.npy`,
`side_info_cifar10N.csv` and `image_order_c10.npy` (CIFAR-100N:
`CIFAR-100_human_ordered.npy`, `side_info_cifar100N.csv`,
`image_order_c100.npy`) from https://github.com/UCSC-REAL/cifar-10-100n,
convert the `.npy` annotations to `CIFAR-10_human_annotations.csv` (resp.
`CIFAR-100_human_annotations.csv`) as `tfds.builder("cifar10_n").
MANUAL_DOWNLOAD_INSTRUCTIONS` shows, and put the three files there; a run
without them stops with one line saying the same
(`keras_robust.data.cifar_n.manual_download_error`).

The report has a human-noise block per dataset (`recipes.human_tables`),
columns by label set headed by their measured rates, compared with none of
the paper's (synthetic-noise) tables. The published CIFAR-N results of Wei
et al. are not printed beside ours: no source of their numbers was at hand
to cite, so none are given rather than numbers without a source.
"""

from keras_robust.data import cifar_n as cifar_n_data
from recipes import config as config_lib
from recipes import paper_results
from recipes.configs import common

#: The dataset of each label set, its network and paper table.
DATASETS = {
    "cifar10_n": ("resnet32", "table2"),
    "cifar100_n": ("resnet34", "table3"),
}
LABEL_SETS = tuple(
    label_set for dataset in DATASETS for label_set in cifar_n_data.LABEL_SETS[dataset]
)
_ROW_KEYS = tuple(dict.fromkeys(
    row.key for _, table in DATASETS.values() for row in paper_results.table(table).rows
))
ARGUMENTS = dict(label_sets=LABEL_SETS, losses=_ROW_KEYS, seeds=paper_results.SEEDS)
#: The config argument narrowing each field the points set.
NARROWED_BY = {"dataset": "label_sets", "model": "label_sets", "noise_label_set": "label_sets"}


def _parse(arg):
    arg = common.parse_arg(arg, **ARGUMENTS)
    for name in ("label_sets", "losses"):  # every default is all there is
        common.check_choices(name, arg[name], ARGUMENTS[name])
    return arg


def get_config(arg=None):
    """Human noise on CIFAR-10N's `aggre` with ResNet-32 (each point sets its own)."""
    _parse(arg)
    config = config_lib.get_default_config()
    config.dataset = "cifar10_n"
    config.model = "resnet32"
    config.noise_kind = "human"
    config.noise_label_set = "aggre"
    return config


def get_sweep(arg=None):
    """The points: per label set, its dataset's network and table rows, per seed.

    Raises:
        common.ConfigArgumentError: for a value not allowed, or a choice of
            label sets and losses that leaves no run.
    """
    arg = _parse(arg)
    points = []
    for dataset, (model, table) in DATASETS.items():
        rows = {row.key for row in paper_results.table(table).rows}
        keys = [key for key in arg.losses if key in rows]
        sets = [name for name in arg.label_sets if name in cifar_n_data.LABEL_SETS[dataset]]
        points += common.product(
            dataset=(dataset,), model=(model,), noise_label_set=sets,
            row=common.table_rows(table, keys) if sets else (), seed=arg.seeds,
        )
    if not points:
        raise common.ConfigArgumentError(
            f"Config arguments label_sets={'+'.join(arg.label_sets)} and "
            f"losses={'+'.join(arg.losses)} leave no run: the losses of CIFAR-10N's "
            "label sets are Table 2's rows, those of CIFAR-100N's Table 3's."
        )
    return points

