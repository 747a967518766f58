r"""How the ranking of a block's losses agrees with the paper's, like for like.

A noise block is ranked against the paper blocks of its own kind
(`paper_results.reference_blocks`): a block the paper has against itself;
digits (an MLP, 10 classes) against Table 2's MLP1024 blocks, Fashion-MNIST
and CIFAR-10, each and their mean; digit pairs (100 classes) against Table
3. Per noise rate the paper has a column for and per comparison:

- Kendall's tau-b between our mean accuracies and the paper's, over the
  losses both have (`statistics.kendall_tau`; +1: the same order);
- its 95 % percentile bootstrap interval over seeds
  (`statistics.bootstrap_kendall_tau`: each loss's seeds resampled with
  replacement, 2000 resamples, seed 0), so an agreement can be told from
  chance: an interval that holds 0 cannot;
- the pairs of losses that swap places (ahead in the paper, behind here),
  marked where our two means are within error bars of each other
  (`statistics.within_error_bars`).
"""

import collections

from recipes import paper_results
from recipes import statistics
from recipes import tables

#: Fewest losses a ranking is compared over.
MIN_ROWS = 3


class Agreement(
    collections.namedtuple("Agreement", "noise_rate reference tau low high swapped")
):
    """One comparison: `reference` names the paper blocks, `(low, high)` tau's interval.

    `swapped` lists `(a, b, within_errors)` row labels: `a` ahead of `b` in
    the paper and behind it here.
    """


def comparisons(block):
    """`[(title, paper blocks)]` a block is ranked against: each block, and their mean."""
    references = block.reference_blocks
    result = [(f"{dataset} {model}", ((dataset, model),)) for dataset, model in references]
    if len(references) > 1:
        names = " and ".join(f"{dataset} {model}" for dataset, model in references)
        result.append((f"mean of {names}", tuple(references)))
    return result


def rank_agreement(block, **bootstrap_kwargs):
    """Per noise rate and comparison, how the block's ranking agrees with the paper's.

    Args:
        block: A noise block (`recipes.blocks.Block`).
        **bootstrap_kwargs: Passed to `statistics.bootstrap_kendall_tau`.

    Returns:
        A list of `Agreement`, by noise rate, then comparison. Noise rates
        the paper has no column for, or with fewer than `MIN_ROWS` common
        rows, are left out.
    """
    agreement = []
    name = block.comparable_table
    if name is None:
        return agreement
    for noise_rate in block.columns:
        for title, references in comparisons(block):
            paper = paper_results.reference_values(name, references, noise_rate)
            if not paper:
                continue
            common = []
            for row, cells in block.rows.items():
                paper_row = block.comparable_row(row)
                cell = cells.get(noise_rate)
                if paper_row is None or cell is None or cell.statistic is None:
                    continue
                common.append((block.label(row), cell, paper[paper_row.key][0]))
            if len(common) < MIN_ROWS:
                continue
            tau, low, high = statistics.bootstrap_kendall_tau(
                [cell.values() for _, cell, _ in common],
                [value for _, _, value in common],
                **bootstrap_kwargs,
            )
            swapped = [
                (label_a, label_b, statistics.within_error_bars(
                    cell_a.statistic[:2], cell_b.statistic[:2]
                ))
                for label_a, cell_a, paper_a in common
                for label_b, cell_b, paper_b in common
                if paper_a > paper_b and cell_a.statistic[0] < cell_b.statistic[0]
            ]
            agreement.append(Agreement(noise_rate, title, tau, low, high, swapped))
    return agreement


def _signed(value):
    return "–" if value is None else f"{value:+.2f}"


def agreement_table(agreement):
    """The Markdown of a list of `Agreement`, or None when it is empty."""
    if not agreement:
        return None
    rows = []
    for item in agreement:
        pairs = "; ".join(
            f"{a} ahead of {b} in the paper, behind here"
            + (" (within error bars)" if within_errors else "")
            for a, b, within_errors in item.swapped
        )
        interval = "–" if item.low is None else f"[{_signed(item.low)}, {_signed(item.high)}]"
        rows.append([
            statistics.format_percent(item.noise_rate), item.reference, _signed(item.tau),
            interval, pairs or "none",
        ])
    confidence = f"{100 * statistics.BOOTSTRAP_CONFIDENCE:g} %"
    return tables.markdown_table(
        ["Noise", "paper block", "Kendall's tau-b", f"{confidence} interval",
         "losses that swap places"],
        rows,
    )


def reference_tables(block):
    """`[(title, Markdown)]`: the paper's values of a block's rows, one table per comparison.

    For a block the paper does not have; the paper's `mean ± error` over the
    comparison's blocks at each noise rate the paper has.
    """
    name = block.comparable_table
    if name is None or block.paper_table:
        return []
    columns = [
        rate for rate in block.columns
        if paper_results.reference_values(name, block.reference_blocks, rate)
    ]
    keys = {block.comparable_row(row).key for row in block.rows if block.comparable_row(row)}
    result = []
    for title, references in comparisons(block):
        values = {rate: paper_results.reference_values(name, references, rate) for rate in columns}
        rows = [
            [row.label] + [paper_results.format_value(values[rate][row.key]) for rate in columns]
            for row in paper_results.table(name).rows
            if row.key in keys
        ]
        header = ["Loss"] + [f"Noise {statistics.format_percent(rate)}" for rate in columns]
        label = name.replace("table", "Table ")
        result.append((f"Paper {label}, {title}", tables.markdown_table(header, rows)))
    return result
