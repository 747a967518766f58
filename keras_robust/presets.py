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
Sec. 3.2, eq. 2): the eps at which a freshly initialised network's expected
softmax output of the labelled class is 0.15 (MAE*) or 0.1 (boundCE*),
rounded to one decimal as the paper rounds it: MAE* 0.5 (10 classes) and
3.0 (100), boundCE* 0.0 and 2.5. Other class counts are solved with
`keras_robust.output_bias.solve_output_bias`; other losses get 0.
"""

from keras_robust import losses as _losses

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

# The paper's rounded solutions of eq. 2 (Sec. 3.2, Tables 2 and 3).
_OUTPUT_BIAS = {
    ("mae", 10): 0.5,
    ("mae", 100): 3.0,
    ("boundce", 10): 0.0,
    ("boundce", 100): 2.5,
}


def _num_classes(num_classes):
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, int)
        or num_classes < 2
    ):
        raise ValueError(
            "`num_classes` must be an integer >= 2. Received: "
            f"num_classes={num_classes!r}"
        )
    return num_classes


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
    key = (_losses.canonical_name(loss), _num_classes(num_classes))
    return dict(_LOSS_KWARGS.get(key, {}))


def output_bias(loss, num_classes):
    """The paper's eps of the starred variant of `loss` (MAE*, boundCE*).

    Args:
        loss: A loss name accepted by `keras_robust.losses.get`.
        num_classes: Number of classes.

    Returns:
        eps as a float: the paper's value for 10 and 100 classes, eq. 2
        solved and rounded to one decimal (at least 0) for other class
        counts, and 0.0 for a loss without a starred variant.

    Raises:
        ValueError: for an unknown loss name or a bad `num_classes`.
    """
    name = _losses.canonical_name(loss)
    num_classes = _num_classes(num_classes)
    if (name, num_classes) in _OUTPUT_BIAS:
        return _OUTPUT_BIAS[(name, num_classes)]
    if name not in OUTPUT_BIAS_TARGETS:
        return 0.0
    from keras_robust.output_bias import solve_output_bias

    eps = solve_output_bias(num_classes, target=OUTPUT_BIAS_TARGETS[name])
    return max(0.0, round(float(eps), 1))
