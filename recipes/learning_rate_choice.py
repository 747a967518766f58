r"""The choice of an initial learning rate from a grid, as the paper makes it.

Paper supplement Sec. 2: MLP1024 is trained on clean labels at nine
initial learning rates, five seeds each, and "the value with the best
average accuracy out of five runs" is used in the noisy tables; supplement
Table 1 prints test accuracies, so the rate is chosen on the test split.
`choose_learning_rates` does the same: per row of a learning-rate block
(`recipes.blocks`), the rate with the highest mean final test accuracy over
seeds (ties: the smaller rate).

A best rate on the edge of the grid (its smallest or largest rate) may not
be the best rate at all: the grid must be extended past that edge until
the best rate lies inside. `next_learning_rates` gives the rates to try
next, continuing the grid as the paper's grid continues: every decade
holds the same mantissas as the grid (the paper's 0.0005, 0.0008, 0.001,
0.003, 0.005, 0.008, 0.01, 0.03, 0.05 holds 1, 3, 5 and 8), so above 0.05
come 0.08, 0.1, 0.3 and below 0.0005 come 0.0003, 0.0001, 0.00008. A grid
of whole decades (0.001, 0.01, 0.1) continues with whole decades, i.e. at
its own spacing in log space.

`rates_to_try` is the whole rule for a staged sweep
(`recipes/configs/offline_replication.py`): the next rates past the edge
while the edge rate is the best one alone; none once the best lies inside,
or where a rate inside the grid is as good (ties go to the smaller rate,
so rates too small to change the network's predictions would otherwise
extend the grid downwards forever).
"""


def choose_learning_rates(block):
    """The best learning rate of each row of a learning-rate block.

    Returns:
        `{row: rate}`: the rate with the highest mean final test accuracy,
        ties going to the smaller rate.
    """
    chosen = {}
    for row in block.rows:
        means = row_means(block, row)
        if means:
            chosen[row] = best_learning_rate(means)
    return chosen


def row_means(block, row):
    """`{rate: mean final test accuracy (%)}` of a row of a learning-rate block."""
    cells = block.rows[row]
    return {
        rate: cells[rate].statistic[0]
        for rate in block.columns
        if rate in cells and cells[rate].statistic
    }


def best_learning_rate(means):
    """The rate of the highest mean of `{rate: mean accuracy}`; ties: the smaller rate."""
    if not means:
        raise ValueError("Argument `means` must not be empty.")
    return max(means.items(), key=lambda item: (item[1], -item[0]))[0]


def rates_to_try(means, count=1):
    """The next `count` rates past the edge of the grid of `{rate: mean accuracy}`.

    Returns:
        `next_learning_rates(rates, best, count)` where the best rate
        (`best_learning_rate`) sits on the edge of the grid and no other
        rate is as good; else `()`.
    """
    best = best_learning_rate(means)
    if sum(1 for mean in means.values() if mean == means[best]) > 1:
        return ()
    return next_learning_rates(list(means), best, count)


def grid_edge(rates, chosen):
    """Which edge of the grid `rates` the `chosen` rate sits on.

    Returns:
        `"low"`, `"high"`, `"both"` (a grid of one rate) or None (inside).
    """
    rates = sorted(float(rate) for rate in rates)
    if not rates:
        raise ValueError("Argument `rates` must not be empty.")
    low, high = chosen == rates[0], chosen == rates[-1]
    if low and high:
        return "both"
    return "low" if low else ("high" if high else None)


def _mantissa_and_exponent(rate):
    mantissa, exponent = f"{rate:.6e}".split("e")
    return f"{float(mantissa):g}", int(exponent)


def next_learning_rates(rates, chosen, count=1):
    """The next `count` rates past the edge of `rates` that `chosen` sits on.

    Args:
        rates: The grid's learning rates (positive).
        chosen: The best rate of the grid (`choose_learning_rates`).
        count: How many rates to give past the edge.

    Returns:
        A sorted tuple: empty when `chosen` lies inside the grid; the
        `count` rates below the grid (low edge), above it (high edge) or
        both (a grid of one rate), continuing the grid's decade pattern
        (see the module docstring).
    """
    rates = sorted(float(rate) for rate in rates)
    if any(rate <= 0 for rate in rates):
        raise ValueError(f"Argument `rates` must hold positive rates. Received: rates={rates}")
    if float(chosen) not in rates:
        raise ValueError(
            f"Argument `chosen` must be one of `rates`. Received: chosen={chosen}, rates={rates}"
        )
    if count < 1:
        raise ValueError(f"Argument `count` must be a positive integer. Received: count={count}")
    edge = grid_edge(rates, float(chosen))
    if edge is None:
        return ()
    parts = [_mantissa_and_exponent(rate) for rate in rates]
    mantissas = sorted({mantissa for mantissa, _ in parts}, key=float)
    exponents = [exponent for _, exponent in parts]
    decades = range(min(exponents) - count - 1, max(exponents) + count + 2)
    ladder = sorted({float(f"{mantissa}e{decade}") for decade in decades for mantissa in mantissas})
    below = [rate for rate in ladder if rate < rates[0]][-count:]
    above = [rate for rate in ladder if rate > rates[-1]][:count]
    return tuple({"low": below, "high": above, "both": below + above}[edge])
