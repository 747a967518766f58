"""What the experiment configs share: their argument string and sweep axes.

A config file's `get_config(arg=None)` and `get_sweep(arg=None)` receive
the text after the colon of `--config=recipes/configs/table2.py:ARG`, as in
google-research/big_vision. `parse_arg` turns it into named values:

    --config=recipes/configs/table2.py:models=mlp1024,datasets=fashion_mnist
    --config=recipes/configs/table2.py:losses=ce+gce,seeds=0+1

Several values of one argument are joined with `+` (the comma separates
arguments).

A sweep config declares its arguments with their defaults in `ARGUMENTS`;
`narrowing_argument` tells which of them narrows a field that the sweep
sets per point (`losses` narrows `loss`, `seeds` narrows `seed`, ...; a
file declares the others in `NARROWED_BY`), so that a command-line field
that a sweep sets per point is refused with the argument to use instead.
"""

import itertools

import ml_collections

import zoo
from keras_robust import data
from recipes import config as config_lib
from recipes import paper_results


class ConfigArgumentError(ValueError):
    """A config argument (`--config=file.py:ARG`) is not one the file takes."""


def _convert(name, text, default):
    kind = type(default[0]) if isinstance(default, tuple) and default else type(default)
    if isinstance(default, tuple) and not default:
        kind = str
    values = []
    for item in text.split("+") if isinstance(default, tuple) else [text]:
        try:
            if kind is bool:
                if item.lower() not in ("true", "false", ""):
                    raise ValueError(item)
                values.append(item.lower() == "true")
            else:
                values.append(kind(item))
        except ValueError:
            expected = kind.__name__
            if isinstance(default, tuple):
                expected += " values joined with '+'"
            raise ConfigArgumentError(
                f"Config argument {name}={text!r}: expected {expected}."
            ) from None
    return tuple(values) if isinstance(default, tuple) else values[0]


def parse_arg(arg, **defaults):
    """The values of a config file's argument string, with their defaults.

    Args:
        arg: `"name=value,name=value"` (None or `""`: all defaults). A
            tuple-valued argument takes several values joined with `+`.
        **defaults: Every argument the file takes with its default; the
            default's type (or its first element's, for a tuple) converts
            the text.

    Returns:
        An `ml_collections.ConfigDict` of the values.

    Raises:
        ConfigArgumentError: for an unknown name or a value of the wrong
            type; the message is one line naming it and what is allowed.
    """
    values = dict(defaults)
    for part in filter(None, (arg or "").split(",")):
        name, has_value, text = part.partition("=")
        name = name.strip()
        if name not in defaults:
            raise ConfigArgumentError(
                f"Unknown config argument {name!r}. Allowed: {', '.join(defaults)}."
            )
        if not has_value:
            raise ConfigArgumentError(
                f"Config argument {name!r} needs a value ({name}=...)."
            )
        values[name] = _convert(name, text.strip(), defaults[name])
    return ml_collections.ConfigDict(values)


#: Fields that the loss rows of every sweep set together with `loss`.
NARROWED_BY = {"output_bias": "losses"}


def narrowing_argument(module, field):
    """The config argument of a sweep config `module` that narrows `field`.

    Derived from the argument names (`<field>s` or `<field>es`, e.g.
    `seeds`, `losses`), after the module's own `NARROWED_BY` and then this
    module's.

    Returns:
        The argument's name, or None when the config has none for `field`.
    """
    arguments = getattr(module, "ARGUMENTS", {})
    declared = {**NARROWED_BY, **getattr(module, "NARROWED_BY", {})}
    for name in (declared.get(field), f"{field}s", f"{field}es"):
        if name in arguments:
            return name
    return None


def check_choices(name, values, allowed):
    """Raises ConfigArgumentError unless every one of `values` is in `allowed`."""
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise ConfigArgumentError(
            f"Config argument {name}={'+'.join(map(str, unknown))} is not allowed. "
            f"Allowed: {', '.join(map(str, allowed))}."
        )


def product(**axes):
    """The sweep over every combination of the axes, the last one fastest.

    Args:
        **axes: Sequences of values by setting name, e.g.
            `seed=(0, 1)`. An axis whose values are dicts contributes
            their items (several settings at once, e.g. the paper's loss
            rows `{"loss": "mae", "output_bias": 0.5}`); its name is only
            a label.

    Returns:
        A list of dicts of settings, without repeats, e.g.
        `product(loss=("ce", "gce"), seed=(0, 1))` is
        `[{"loss": "ce", "seed": 0}, {"loss": "ce", "seed": 1}, ...]`.
    """
    points = []
    for combination in itertools.product(*axes.values()):
        point = {}
        for name, value in zip(axes, combination):
            point.update(value if isinstance(value, dict) else {name: value})
        if point not in points:
            points.append(point)
    return points


def offline_mlp_config(dataset):
    """The offline configs' base: MLP1024 on `dataset`, lr 0.01, 20 epochs.

    The training of the quickstart and of the offline replication: the MLP
    protocol of paper Sec. 4, short enough for a CPU; one line per run from
    the grid, not one per epoch.
    """
    config = config_lib.get_default_config()
    config.dataset = dataset
    config.model = "mlp1024"
    config.learning_rate = 0.01
    config.epochs = 20
    config.verbose = 0
    return config


def table_rows(table_name, keys):
    """The sweep overrides of the rows `keys` of a paper table, in that order.

    Raises:
        ConfigArgumentError: for a key that is not a row of the table.
    """
    rows = {row.key: row.overrides for row in paper_results.table(table_name).rows}
    check_choices("losses", keys, tuple(rows))
    return [rows[key] for key in keys]


def paper_table(table_name):
    """`(ARGUMENTS, get_config, get_sweep)` of a paper-table config (`table2.py`, `table3.py`).

    The config argument takes `datasets`, `models`, `losses` (row keys of
    the table, e.g. `mae*`), `noise_rates` and `seeds`, each narrowing or
    changing the paper's axes (`recipes.paper_results.TABLES`); datasets
    and models the paper's table does not hold are allowed (e.g.
    `datasets=digits` for a quick offline check). The base config is
    `recipes.config.get_default_config()`: every run takes its model's
    training protocol and the paper's loss hyperparameters.
    """
    table = paper_results.table(table_name)
    arguments = dict(
        datasets=table.datasets,
        models=table.models,
        losses=tuple(row.key for row in table.rows),
        noise_rates=paper_results.NOISE_RATES,
        seeds=paper_results.SEEDS,
    )

    def parse(arg):
        arg = parse_arg(arg, **arguments)
        check_choices("datasets", arg.datasets, tuple(data.DATASETS))
        check_choices("models", arg.models, tuple(zoo.MODELS))
        return arg, table_rows(table_name, arg.losses)

    def get_config(arg=None):
        parse(arg)
        return config_lib.get_default_config()

    def get_sweep(arg=None):
        arg, rows = parse(arg)
        return product(
            dataset=arg.datasets, model=arg.models, row=rows,
            noise_rate=arg.noise_rates, seed=arg.seeds,
        )

    return arguments, get_config, get_sweep
