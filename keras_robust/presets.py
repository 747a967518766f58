"""The paper's loss hyperparameters, by loss name and number of classes.

Paper Table 1 gives one value per loss for ten classes (CIFAR-10,
Fashion-MNIST) and one for a hundred (CIFAR-100):

| loss | 10 classes | 100 classes |
|---|---|---|
| genCE | q 0.7 | q 0.7 |
| symCE | alpha 0.1, beta 2.0 | alpha 6.0, beta 0.2 |
| actPas1, actPas2 | alpha 1.0, beta 20.0 | alpha 1.0, beta 0.2 |
| biTemp | t1 0.8, t2 1.2 | t1 0.8, t2 1.2 |

`loss_kwargs(loss, num_classes)` returns them; any other number of classes,
and a loss without hyperparameters, gets `{}` (the loss class's defaults,
which are the ten-class values).

`output_bias(loss, num_classes)` is the eps of the starred losses (paper
Sec. 3.2, eq. 2), the one place that computes it: paper eq. 2 solved at the
paper's target (a freshly initialised network's expected softmax output of
the labelled class is 0.15 for MAE*, 0.1 for boundCE*) and rounded to one
decimal, as the paper rounds it; 0 where the target is at or below 1/c (an
unbiased network already reaches it). That gives the paper's MAE* 0.5 (10
classes) and 3.0 (100), boundCE* 0.0 and 2.5; other losses get 0.
"""

import functools

from keras_robust import losses as _losses
from keras_robust import validation

# Paper Table 1, keyed by (loss name, number of classes).
_LOSS_KWARGS = {
    ("gce", 10): {"q": 0.7},
    ("gce", 100): {"q": 0.7},
    ("sce", 10): {"alpha": 0.1, "beta": 2.0},
    ("sce", 100): {"alpha": 6.0, "beta": 0.2},
    ("actpas1", 10): {"alpha": 1.0, "beta": 20.0},
    ("actpas1", 100): {"alpha": 1.0, "beta": 0.2},
    ("actpas2", 10): {"alpha": 1.0, "beta": 20.0},
    ("actpas2", 100): {"alpha": 1.0, "beta": 0.2},
    ("bitemp", 10): {"t1": 0.8, "t2": 1.2},
    ("bitemp", 100): {"t1": 0.8, "t2": 1.2},
}

#: Target of paper eq. 2 for each loss with a starred (eps) variant.
OUTPUT_BIAS_TARGETS = {"mae": 0.15, "boundce": 0.1}


def loss_kwargs(loss, num_classes):
    """The paper's hyperparameters of `loss` for `num_classes` (Table 1).

    Args:
        loss: A loss name accepted by `keras_robust.losses.get`.
        num_classes: Number of classes (10 and 100 have paper values).

    Returns:
        A new dict such as `{"alpha": 6.0, "beta": 0.2}`, without
        `from_logits` and `output_bias`; `{}` where the paper gives none.

    Raises:
        ValueError: for an unknown loss name or a bad `num_classes`.
    """
    key = (_losses.canonical_name(loss), validation.check_num_classes(num_classes))
    return dict(_LOSS_KWARGS.get(key, {}))


def output_bias(loss, num_classes):
    """The eps of the starred variant of `loss` (MAE*, boundCE*) at `num_classes`.

    Paper eq. 2 solved at the paper's target for the loss
    (`OUTPUT_BIAS_TARGETS`) and rounded to one decimal, as the paper rounds
    it (MAE* 0.5 and 3.0, boundCE* 0.0 and 2.5 at 10 and 100 classes); 0.0
    where the target is at or below 1/c, and for a loss without a starred
    variant. Every eps of this package (`keras_robust.losses.get("mae*")`,
    `recommend()`, the recipes' configs, run ids and reports) comes from here.

    Args:
        loss: A loss name accepted by `keras_robust.losses.get`.
        num_classes: Number of classes, >= 2.

    Returns:
        eps as a float.

    Raises:
        ValueError: for an unknown loss name or a bad `num_classes`.
    """
    return _rounded_output_bias(
        _losses.canonical_name(loss), validation.check_num_classes(num_classes)
    )


@functools.lru_cache(maxsize=None)
def _rounded_output_bias(name, num_classes):
    target = OUTPUT_BIAS_TARGETS.get(name)
    if target is None or target <= 1.0 / num_classes:
        return 0.0
    from keras_robust.output_bias import solve_output_bias

    return round(float(solve_output_bias(num_classes, target=target)), 1)
