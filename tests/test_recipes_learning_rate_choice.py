"""Tests of `recipes.learning_rate_choice` and the learning-rate table."""

import pytest

from recipes import blocks
from recipes import learning_rate_choice
from recipes import paper_results
from recipes import tables


def _block(rows, dataset="digits"):
    """A learning-rate block of `{(loss, eps): {rate: (mean, error, n)}}`."""
    cells = {
        (loss, eps, ""): {rate: blocks.Cell([], statistic) for rate, statistic in by_rate.items()}
        for (loss, eps), by_rate in rows.items()
    }
    columns = sorted({rate for by_rate in rows.values() for rate in by_rate})
    return blocks.Block(dataset, "mlp1024", "symmetric", "learning_rate", columns, cells)


def test_chooses_the_best_mean_ties_to_the_smaller_rate():
    block = _block({
        ("ce", 0.0): {0.001: (55.0, 0.1, 5), 0.003: (56.0, 0.5, 5), 0.01: (54.0, 0.1, 5)},
        ("gce", 0.0): {0.001: (50.0, 0.1, 5), 0.003: (52.0, 0.1, 5), 0.01: (52.0, 0.2, 5)},
        ("mae", 0.5): {0.001: (40.0, 1.0, 5), 0.003: (45.0, 1.0, 5), 0.01: (47.0, 1.0, 5)},
    })
    assert learning_rate_choice.choose_learning_rates(block) == {
        ("ce", 0.0, ""): 0.003,
        ("gce", 0.0, ""): 0.003,
        ("mae", 0.5, ""): 0.01,
    }
    # MAE*0.5's best is the largest rate: on the edge, the only such row.
    assert tables.rows_on_edge(block) == [("mae", 0.5, "")]
    rows = {line.split(" | ")[0]: line for line in tables.learning_rate_table(block).splitlines()}
    # The grid 0.001, 0.003, 0.01 holds mantissas 1 and 3 per decade: next is 0.03.
    assert rows["| MAE*0.5"].endswith("| 0.01 (edge: try 0.03) | 0.003 | 0.003 |")
    assert rows["| CE"].endswith("| 0.003 | 0.001 | 0.005 |")
    # The chosen cell is bold; digits sets its rates beside the paper's MLP1024 blocks.
    assert "**56.0 ± 0.5**" in rows["| CE"]
    assert "paper (cifar10) | paper (fashion_mnist) |" in tables.learning_rate_table(block)


def test_edges_of_the_papers_grid_continue_its_decade_pattern():
    grid = paper_results.LEARNING_RATES  # 0.0005 ... 0.05: mantissas 1, 3, 5, 8
    assert learning_rate_choice.grid_edge(grid, 0.01) is None
    assert learning_rate_choice.next_learning_rates(grid, 0.01) == ()
    assert learning_rate_choice.grid_edge(grid, 0.05) == "high"
    assert learning_rate_choice.next_learning_rates(grid, 0.05) == (0.08,)
    assert learning_rate_choice.next_learning_rates(grid, 0.05, count=3) == (0.08, 0.1, 0.3)
    assert learning_rate_choice.grid_edge(grid, 0.0005) == "low"
    assert learning_rate_choice.next_learning_rates(grid, 0.0005, count=2) == (0.0001, 0.0003)


def test_other_grids_continue_at_their_spacing():
    # Whole decades continue with whole decades.
    assert learning_rate_choice.next_learning_rates((0.001, 0.01, 0.1), 0.1) == (1.0,)
    assert learning_rate_choice.next_learning_rates((0.001, 0.01, 0.1), 0.001) == (0.0001,)
    # 1-3 per decade continues 1-3.
    assert learning_rate_choice.next_learning_rates((0.01, 0.03), 0.03, count=2) == (0.1, 0.3)
    # A grid of one rate is on both edges.
    assert learning_rate_choice.grid_edge((0.01,), 0.01) == "both"
    assert learning_rate_choice.next_learning_rates((0.01,), 0.01) == (0.001, 0.1)


def test_rates_to_try_extend_an_edge_that_is_the_best_alone():
    # Inside: 0.003 is best.
    assert learning_rate_choice.rates_to_try({0.001: 80.0, 0.003: 90.0, 0.01: 85.0}) == ()
    # High edge: 0.01 is best alone; the grid (mantissas 1, 3) goes on with 0.03.
    assert learning_rate_choice.rates_to_try({0.001: 50.0, 0.003: 60.0, 0.01: 70.0}) == (0.03,)
    assert learning_rate_choice.rates_to_try(
        {0.001: 50.0, 0.003: 60.0, 0.01: 70.0}, count=2) == (0.03, 0.1)
    # Low edge: 0.001 is best alone: 0.0003 next.
    assert learning_rate_choice.rates_to_try({0.001: 70.0, 0.003: 60.0, 0.01: 50.0}) == (0.0003,)
    # Low edge tied with a rate inside (ties go to the smaller rate): the
    # best is reached inside too, so the grid ends there.
    assert learning_rate_choice.best_learning_rate({0.001: 70.0, 0.003: 70.0, 0.01: 50.0}) == (
        0.001)
    assert learning_rate_choice.rates_to_try({0.001: 70.0, 0.003: 70.0, 0.01: 50.0}) == ()
    # The report flags the same rows only.
    tied = _block({("ce", 0.0): {0.001: (70.0, 0.1, 5), 0.003: (70.0, 0.1, 5),
                                 0.01: (50.0, 0.1, 5)}})
    assert tables.rows_on_edge(tied) == []
    assert "| 0.001 | 0.001 | 0.005 |" in tables.learning_rate_table(tied)
    # The paper's grid extended by 0.08 where 0.05 was best: 0.08 is worse,
    # so the best lies inside now.
    means = dict.fromkeys(paper_results.LEARNING_RATES, 40.0) | {0.05: 60.0, 0.08: 55.0}
    assert learning_rate_choice.best_learning_rate(means) == 0.05
    assert learning_rate_choice.rates_to_try(means) == ()
    assert learning_rate_choice.rates_to_try(means | {0.08: 61.0}) == (0.1,)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="chosen"):
        learning_rate_choice.next_learning_rates((0.01, 0.1), 0.05)
    with pytest.raises(ValueError, match="rates"):
        learning_rate_choice.next_learning_rates((0.0, 0.1), 0.1)
    with pytest.raises(ValueError, match="count"):
        learning_rate_choice.next_learning_rates((0.01, 0.1), 0.1, count=0)
    with pytest.raises(ValueError, match="rates"):
        learning_rate_choice.grid_edge((), 0.1)
    with pytest.raises(ValueError, match="means"):
        learning_rate_choice.best_learning_rate({})
