r"""The noise rate estimated from the data, and the loss chosen for it.

For a dataset and a noise setting (the ordinary `--config.<field>`s:
`dataset`, `model`, `noise_kind`, `noise_rate`, `noise_label_set`, ...),
the sweep trains `k` models with cross entropy (k-fold cross-validation,
`num_folds=k`): model `f` holds out the training examples `i % k == f`
and saves its softmax probabilities on them
(`recipes.train_lib.HOLDOUT_FILENAME`). The label noise is drawn once on
the whole training set, so every fold sees the same noisy labels. Every
training example then has probabilities from a model that did not train
on it; `keras_robust.estimate_noise` (confident learning) estimates from
them and the noisy labels the fraction of wrong labels. `summarize` prints
the estimate, its error against the true fraction of wrong labels, the
paper's noise rate it stands for (symmetric noise redraws a fraction
`noise_rate` of the labels uniformly, so about `noise_rate * (1 - 1/c)` of
them end up wrong: `NoiseEstimate.symmetric_noise_rate`) and, for
synthetic noise, that rate's error against the set `noise_rate`, then what
`keras_robust.losses.recommend()` chooses for it and the class count: the
loss, its hyperparameters and eps.

    python -m recipes.main --config=recipes/configs/estimate_noise.py --workdir=runs/estimate_noise

is MLP1024 on the offline digits with 40 % symmetric noise, 4 folds of
10 epochs (learning rate 0.01). Another dataset or noise:

    python -m recipes.main --config='recipes/configs/estimate_noise.py:folds=5' \
        --workdir=runs/estimate_cifar10n --config.dataset=cifar10_n \
        --config.model=resnet32 --config.noise_kind=human \
        --config.noise_label_set=worse --config.noise_rate=0 --config.epochs=20

The config argument `folds` (default 4, at least 2) sets `k`.
"""

import dataclasses
import os

import numpy as np

import keras_robust
from keras_robust import data
from keras_robust import losses
from recipes import config as config_lib
from recipes import train_lib
from recipes.configs import common

ARGUMENTS = dict(folds=4)
#: The config argument narrowing the field the points set.
NARROWED_BY = {"holdout_fold": "folds"}
# `get_config` settings that are not the Loss's own hyperparameters.
_LOSS_SETTINGS = ("name", "reduction", "from_logits", "output_bias", "dtype")


def check_folds(folds):
    """The config argument `folds`, checked: an integer >= 2."""
    if folds < 2:
        raise common.ConfigArgumentError(
            f"Config argument folds={folds}: expected an integer >= 2."
        )
    return folds


def _folds(arg):
    return check_folds(common.parse_arg(arg, **ARGUMENTS).folds)


def get_config(arg=None):
    """CE on digits with MLP1024, 40 % symmetric noise, lr 0.01, 10 epochs, k folds."""
    config = common.offline_mlp_config("digits")
    config.noise_rate = 0.4
    config.epochs = 10
    config.num_folds = _folds(arg)
    config.holdout_fold = 0
    return config


def get_sweep(arg=None):
    """One point per held-out fold."""
    return common.product(holdout_fold=range(_folds(arg)))


def out_of_sample_probabilities(specs, workdir):
    """The fold runs' held-out probabilities, one row per training example.

    Args:
        specs: The `RunSpec`s of the folds `0..k-1` of one noise setting.
        workdir: The sweep's directory (`<workdir>/<run id>/`).

    Returns:
        float64 `(N, c)`, row `i` from the model that held out example `i`.

    Raises:
        ValueError: when the folds do not cover every example exactly once.
    """
    rows, filled = {}, []
    for spec in specs:
        path = os.path.join(workdir, spec.run_id, train_lib.HOLDOUT_FILENAME)
        with np.load(path) as saved:
            rows.update(zip(saved["indices"].tolist(), saved["probabilities"]))
            filled.extend(saved["indices"].tolist())
    if sorted(filled) != list(range(len(filled))):
        raise ValueError(
            f"The held-out folds in {workdir} do not cover the training set once "
            f"each: {len(filled)} rows for {len(rows)} examples."
        )
    return np.stack([rows[index] for index in range(len(rows))]).astype(np.float64)


def _spec_and_settings(loss):
    """A configured Loss's `LossSpec` (name and eps) and own hyperparameters."""
    spec = losses.LossSpec(losses.canonical_name(type(loss).__name__), loss.output_bias)
    settings = {k: v for k, v in loss.get_config().items() if k not in _LOSS_SETTINGS}
    return spec, settings


def loss_fields(loss):
    """A configured Loss as run fields: `{"loss": text, "loss_kwargs": {...}}`.

    `text` is the loss in the grammar (`LossSpec.text`, eps included),
    `loss_kwargs` its own hyperparameters.
    """
    spec, settings = _spec_and_settings(loss)
    return {"loss": spec.text, "loss_kwargs": settings}


def describe_loss(loss):
    """`"genCE q=0.7, eps 0"`: a Loss's name in the grammar, hyperparameters and eps."""
    spec, settings = _spec_and_settings(loss)
    text = " ".join([spec.label, *(f"{key}={value:g}" for key, value in settings.items())])
    return f"{text}, eps {spec.output_bias:g}"


@dataclasses.dataclass(frozen=True)
class FoldEstimate:
    """The noise estimate of one noise setting from its finished fold runs.

    Attributes:
        spec: The `RunSpec` of fold 0 (the setting: dataset, noise, model).
        estimate: `keras_robust.estimate_noise`'s `NoiseEstimate`.
        wrong_fraction: The true fraction of wrong training labels.
        num_examples: The number of training examples estimated on.
    """

    spec: object
    estimate: object
    wrong_fraction: float
    num_examples: int


def estimate_from_folds(specs, workdir):
    """Confident learning on the out-of-sample probabilities of the folds `specs`.

    Args:
        specs: The `RunSpec`s of the folds `0..k-1` of one noise setting.
        workdir: The sweep's directory.

    Returns:
        A `FoldEstimate`.
    """
    spec = min(specs, key=lambda fold: fold.holdout_fold)
    probabilities = out_of_sample_probabilities(specs, workdir)
    dataset = data.load_dataset(spec.dataset, data_dir=spec.data_dir, source=spec.data_source)
    feed = dataclasses.replace(spec.feed, num_folds=1, holdout_fold=None)
    run_data = data.prepare_run_data(dataset, feed)
    estimate = keras_robust.estimate_noise(run_data.noisy_labels, probabilities)
    wrong = float(np.mean(run_data.noisy_labels != run_data.y_train))
    return FoldEstimate(spec, estimate, wrong, len(probabilities))


def summarize(results_list, workdir):
    """The estimate of the finished folds in `workdir` and `recommend()`'s choice.

    Args:
        results_list: The `RunResult`s of the sweep's fold runs.
        workdir: The sweep's directory.

    Returns:
        The printed text: one line per quantity.
    """
    specs = [config_lib.RunSpec.from_settings(result.settings) for result in results_list]
    found = estimate_from_folds(specs, workdir)
    spec, estimate, wrong = found.spec, found.estimate, found.wrong_fraction
    rate, eta = estimate.noise_rate, estimate.symmetric_noise_rate
    noise = spec.noise_label_set if spec.noise_kind == "human" else f"{spec.noise_rate:g}"
    lines = [
        f"Noise estimate of {spec.dataset} ({spec.noise_kind} noise {noise}): confident "
        f"learning on {spec.num_folds}-fold out-of-sample probabilities of "
        f"{found.num_examples} training examples ({spec.model}, CE, {spec.epochs} epochs)",
        f"estimated fraction of wrong labels: {rate:.4f}",
        f"true fraction of wrong labels:      {wrong:.4f} (error {rate - wrong:+.4f})",
        f"estimated noise rate (redrawn):     {eta:.4f} (wrong x c/(c-1))",
    ]
    if spec.noise_kind != "human":
        lines.append(
            f"set noise rate:                     {spec.noise_rate:.4f} "
            f"(error {eta - spec.noise_rate:+.4f})"
        )
    chosen = losses.recommend(eta, spec.num_classes)
    lines.append(
        f"recommend({eta:.4f}, {spec.num_classes}) chooses: {describe_loss(chosen)}"
    )
    return "\n".join(lines)
