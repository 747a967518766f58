"""Tests of `recipes.paper_results` and `recipes.report`."""

import json
import math
import os
import pathlib
import re
import subprocess
import sys

import pytest

from recipes import config as config_lib
from recipes import paper_results
from recipes import report
from recipes import results

REPO = pathlib.Path(__file__).resolve().parents[1]
_PAPER_CANDIDATES = (REPO / "shared" / "paper.md", REPO.parent / "shared" / "paper.md")
_PAIR = re.compile(r"(\d+\.\d+)\s*±\s*(\d+\.\d+)")


def _paper_text():
    for path in _PAPER_CANDIDATES:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    pytest.skip("paper.md is not available next to the repository.")


def _printed_rows(text, start, stop):
    """`(mean, error)` pairs of each table row between two markers of paper.md."""
    segment = text[text.index(start) :]
    segment = segment[: segment.index(stop)]
    rows = []
    for line in segment.splitlines():
        line = line.replace("<b>", "").replace("</b>", "")
        line = line.replace("$", "").replace("\\pm", "±")
        pairs = [(float(m), float(e)) for m, e in _PAIR.findall(line)]
        if pairs:
            rows.append(pairs)
    return rows


# ---------------------------------------------------------------------------
# paper_results


def test_table2_cells_match_paper_text():
    rows = _printed_rows(_paper_text(), "Table 2:", "Top-mean-acc")
    keys = [row.key for row in paper_results.TABLE2_ROWS]
    blocks = paper_results.TABLE_BLOCKS["table2"]
    assert len(rows) == len(blocks) * len(keys)
    for block_index, (dataset, model) in enumerate(blocks):
        for row_index, key in enumerate(keys):
            printed = rows[block_index * len(keys) + row_index]
            for noise_rate, value in zip(paper_results.NOISE_RATES, printed, strict=True):
                assert paper_results.TABLE2[(dataset, model, key, noise_rate)] == value


def test_table3_cells_match_paper_text():
    rows = _printed_rows(_paper_text(), "Table 3:", "Empirical Results")
    keys = [row.key for row in paper_results.TABLE3_ROWS]
    assert len(rows) == len(keys)
    for key, printed in zip(keys, rows):
        for noise_rate, value in zip(paper_results.NOISE_RATES, printed, strict=True):
            assert paper_results.TABLE3[("cifar100", "resnet34", key, noise_rate)] == value


def test_learning_rate_table_matches_paper_text():
    text = _paper_text()
    rows = _printed_rows(text, "learning rate\t0.0005", "Backpropagation error")
    keys = [row.key for row in paper_results.TABLE2_ROWS]
    assert len(rows) == 2 * len(keys)
    for dataset_index, dataset in enumerate(("cifar10", "fashion_mnist")):
        for row_index, key in enumerate(keys):
            printed = rows[dataset_index * len(keys) + row_index]
            for rate, value in zip(paper_results.LEARNING_RATES, printed, strict=True):
                assert paper_results.paper_learning_rate_value(dataset, key, rate) == value


def test_row_labels_are_the_papers():
    # The row labels as paper.md prints them in Tables 2 and 3.
    assert [row.label for row in paper_results.TABLE2_ROWS] == [
        "CE", "MAE", "MAE* eps=0.5", "boundCE", "genCE", "symCE", "actPas1",
        "actPas2", "biTemp",
    ]
    assert [row.label for row in paper_results.TABLE3_ROWS][1:5] == [
        "MAE* eps=1.5", "MAE* eps=3.0", "boundCE* eps=1.5", "boundCE* eps=2.5",
    ]
    assert paper_results.find_row("table3", "boundce", 2.5).key == "boundce*2.5"
    assert paper_results.find_row("table2", "mae", 0.5).key == "mae*"
    assert paper_results.find_row("table2", "mae", 1.5) is None
    assert paper_results.TABLES["table2"].rows[2].overrides == {"loss": "mae", "output_bias": 0.5}


def test_spot_checks_and_lookups():
    assert paper_results.paper_value("cifar10", "mlp1024", "ce", 0.0) == (55.70, 0.13)
    assert paper_results.paper_value("fashion_mnist", "resnet32", "sce", 0.6) == (91.91, 0.13)
    assert paper_results.paper_value("cifar100", "resnet34", "boundce*2.5", 0.0) == (76.54, 0.12)
    assert paper_results.paper_value("cifar100", "resnet34", "mae*1.5", 0.4) == (55.71, 0.45)
    assert paper_results.paper_value("digits", "mlp1024", "ce", 0.0) is None
    assert paper_results.paper_value("cifar10", "resnet32", "ce", 0.3) is None
    assert paper_results.table_for("cifar100", "resnet34") == "table3"
    assert paper_results.table_for("digits", "mlp1024") is None
    assert paper_results.format_value((55.7, 0.1)) == "55.70 ± 0.10"
    with pytest.raises(ValueError, match="noise_rate"):
        paper_results.paper_value("cifar10", "resnet32", "ce", "high")
    with pytest.raises(ValueError, match="table4"):
        paper_results.table("table4")


def test_bold_learning_rates():
    # The rates of supplement Table 1 in bold (read off the printed table:
    # each is the rate whose clean accuracy is Table 2's MLP1024 entry).
    assert paper_results.paper_best_learning_rate("cifar10", "ce") == 0.001
    assert paper_results.paper_best_learning_rate("cifar10", "mae*") == 0.003
    assert paper_results.paper_best_learning_rate("fashion_mnist", "gce") == 0.01
    assert paper_results.paper_best_learning_rate("fashion_mnist", "mae") == 0.0008
    assert paper_results.paper_best_learning_rate("digits", "ce") is None


# ---------------------------------------------------------------------------
# report


def _write_run(root, *, accuracy, epochs=3, dataset="cifar10", model="resnet32", **fields):
    """Writes one finished run through `results.write`; returns its RunResult."""
    config = config_lib.override(
        config_lib.get_default_config(),
        {"dataset": dataset, "model": model, "epochs": epochs, **fields},
    )
    noisy = config.noise_rate > 0
    history = {
        "epoch": list(range(1, epochs + 1)),
        "train_loss": [1.0 / e for e in range(1, epochs + 1)],
        "test_accuracy": [accuracy * e / epochs for e in range(1, epochs + 1)],
        "false_label_accuracy": [
            0.5 * accuracy * e / epochs if noisy else None for e in range(1, epochs + 1)
        ],
        "learning_rate": [0.1] * epochs,
    }
    result = results.RunResult.from_history(config, history, 1.0, {"keras": "3"})
    results.write(os.path.join(root, result.run_id), result)
    return result


_ROWS = {"ce": {"loss": "ce"}, "mae*": {"loss": "mae", "output_bias": 0.5}, "gce": {"loss": "gce"}}
# Final accuracies per (row, noise rate), one per seed.
_ACCURACIES = {
    ("ce", 0.0): [0.90, 0.92, 0.91, 0.93, 0.94],
    ("ce", 0.2): [0.70, 0.74],
    ("mae*", 0.0): [0.89, 0.94, 0.92],
    ("mae*", 0.2): [0.85, 0.86, 0.88],
    ("gce", 0.2): [0.80],
}


@pytest.fixture
def results_dir(tmp_path):
    root = tmp_path / "runs"
    for (row, noise_rate), accuracies in _ACCURACIES.items():
        for seed, accuracy in enumerate(accuracies):
            _write_run(root, accuracy=accuracy, noise_rate=noise_rate, seed=seed, **_ROWS[row])
    return root


def _by_hand(accuracies):
    values = [100 * a for a in accuracies]
    n = len(values)
    mean = sum(values) / n
    if n == 1:
        return mean, None
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance) / math.sqrt(n)


def _table_rows(markdown, header="| Loss"):
    """The rows of the first table whose header starts with `header`, by first cell."""
    rows, inside = {}, False
    for line in markdown.splitlines():
        if line.startswith(header):
            inside = True
        elif inside and line.startswith("| "):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
        elif inside and not line.startswith("|"):
            break
    return rows


def test_noise_table_and_curves(results_dir, tmp_path):
    output_dir = tmp_path / "out"
    markdown = report.write_report(results.load_all(results_dir), output_dir)

    rows = _table_rows(markdown)
    assert list(rows) == ["CE", "MAE* eps=0.5", "genCE"]  # the paper's order
    assert "| Loss | Noise 0 % | Noise 20 % |" in markdown
    assert "## cifar10, resnet32, symmetric noise (paper Table 2)" in markdown
    # CE at 0 %: five seeds, so no n=; the best of its column; paper value.
    mean, error = _by_hand(_ACCURACIES[("ce", 0.0)])
    assert (mean, round(error, 2)) == (pytest.approx(92.0), 0.71)
    assert rows["CE"][0] == f"**{mean:.2f} ± {error:.2f}** (paper 91.30 ± 0.33)"
    mean, error = _by_hand(_ACCURACIES[("mae*", 0.0)])
    assert rows["MAE* eps=0.5"][0] == f"{mean:.2f} ± {error:.2f} n=3 (paper 91.27 ± 0.13)"
    # 20 %: MAE* is best; CE has two seeds; genCE a single run (no error).
    mean, error = _by_hand(_ACCURACIES[("mae*", 0.2)])
    assert rows["MAE* eps=0.5"][1] == f"**{mean:.2f} ± {error:.2f}** n=3 (paper 89.95 ± 0.06)"
    assert rows["CE"][1] == "72.00 ± 2.00 n=2 (paper 78.21 ± 0.42)"
    assert rows["genCE"] == ["–", "80.00 n=1 (paper 89.92 ± 0.11)"]
    # Same order as the paper's block at 20 % (MAE* > genCE > CE); 0 % has
    # only two rows.
    assert _table_rows(markdown, "| Noise | Kendall") == {"20 %": ["+1.00", "none"]}

    assert (output_dir / report.REPORT_FILENAME).read_text(encoding="utf-8") == markdown
    pngs = sorted(path.name for path in output_dir.glob("*.png"))
    assert pngs == [
        "curves_cifar10_resnet32_symmetric_noise00.png",
        "curves_cifar10_resnet32_symmetric_noise20.png",
    ]
    for name in pngs:
        assert (output_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (output_dir / report.LEARNING_RATES_FILENAME).exists()
    assert not [path for path in output_dir.iterdir() if path.name.startswith(".tmp")]


def test_kendall_tau_b():
    assert report.kendall_tau([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]) == 1.0
    assert report.kendall_tau([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == -1.0
    # Concordant (0, 1), (0, 2); discordant (1, 2): (2 - 1) / 3.
    assert report.kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    # Four concordant pairs, one tie in each: 4 / sqrt((6 - 1) (6 - 1)).
    assert report.kendall_tau([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    assert report.kendall_tau([1, 1, 1], [1, 2, 3]) is None
    with pytest.raises(ValueError, match="same length"):
        report.kendall_tau([1, 2], [1])


def test_offline_block_against_the_papers_mean_ranking(tmp_path):
    # Two seeds each: means 86, 84, 82 and 81 %, standard errors 0, 0, 0
    # and 2 (genCE), so genCE's swap with boundCE is within the errors.
    rows = {"mae*": (0.86, 0.86), "ce": (0.84, 0.84), "boundce": (0.82, 0.82),
            "gce": (0.79, 0.83)}
    settings = {**_ROWS, "boundce": {"loss": "boundce"}}
    for row, accuracies in rows.items():
        for seed, accuracy in enumerate(accuracies):
            _write_run(
                tmp_path, accuracy=accuracy, dataset="digits", model="mlp1024",
                noise_rate=0.2, seed=seed, **settings[row],
            )
    _write_run(
        tmp_path, accuracy=0.5, dataset="digit_pairs", model="mlp1024",
        loss="mae", output_bias=3.0, noise_rate=0.2, seed=0,
    )
    # A noise rate the paper has no column for: in our table, not compared.
    for row in ("ce", "mae*", "gce"):
        _write_run(
            tmp_path, accuracy=0.3, dataset="digits", model="mlp1024",
            noise_rate=0.8, seed=0, **_ROWS[row],
        )
    markdown = report.write_report(results.load_all(tmp_path), tmp_path / "out")
    # 10 classes compare with Table 2, as the mean of its four blocks.
    assert markdown.index("## digits,") < markdown.index("## digit_pairs,")
    expected = {
        label: sum(
            paper_results.TABLE2[(dataset, model, key, 0.2)][0]
            for dataset, model in paper_results.TABLE_BLOCKS["table2"]
        ) / 4
        for label, key in (("CE", "ce"), ("MAE* eps=0.5", "mae*"), ("boundCE", "boundce"),
                           ("genCE", "gce"))
    }
    assert "Paper Table 2, mean of its 4 blocks:" in markdown
    reference = markdown[markdown.index("Paper Table 2, mean of its 4 blocks:"):]
    reference_rows = _table_rows(reference)
    assert reference_rows == {label: [f"{value:.2f}"] for label, value in expected.items()}
    # Paper: MAE* > genCE > boundCE > CE; here MAE* > CE > boundCE > genCE:
    # 3 concordant and 3 discordant pairs.
    assert _table_rows(markdown, "| Noise | Kendall") == {
        "20 %": [
            "+0.00",
            "boundCE ahead of CE in the paper, behind here; "
            "genCE ahead of CE in the paper, behind here; "
            "genCE ahead of boundCE in the paper, behind here (within our s.e.)",
        ]
    }
    # Both blocks share 20 % noise: one figure with a column each.
    assert (tmp_path / "out" / "curves_symmetric_noise20.png").is_file()


def test_single_noise_rate_table_and_settings_split(tmp_path):
    for seed, accuracy in enumerate((0.5, 0.7)):
        _write_run(
            tmp_path, accuracy=accuracy, dataset="digits", model="mlp1024",
            loss="ce", noise_rate=0.4, seed=seed,
        )
    runs = results.load_all(tmp_path)
    markdown = report.write_report(runs, tmp_path / "out", plots=False)
    assert "not in the paper" in markdown and "(paper" not in markdown
    assert "| Loss | test accuracy (%) | false label accuracy (%) | seeds |" in markdown
    # One decimal outside the paper's tables; false-label accuracy is half.
    assert _table_rows(markdown)["CE"] == ["60.0 ± 10.0", "30.0 ± 5.0", "2"]
    assert "Settings of every run: epochs=3, batch_size=32, learning_rate=0.01" in markdown

    epochs, means, errors = report.mean_curve(runs, "test_accuracy")
    assert epochs == [1, 2, 3]
    assert means == pytest.approx([20.0, 40.0, 60.0])
    assert errors == pytest.approx([10 / 3, 20 / 3, 10.0])

    # Runs that differ in another setting than the seed are not averaged.
    _write_run(
        tmp_path, accuracy=0.9, dataset="digits", model="mlp1024", loss="ce",
        noise_rate=0.4, seed=0, batch_size=64,
    )
    rows = _table_rows(report.markdown_report(results.load_all(tmp_path)))
    assert rows == {
        "CE (batch_size=32)": ["60.0 ± 10.0", "30.0 ± 5.0", "2"],
        "CE (batch_size=64)": ["90.0", "45.0", "1"],
    }


def test_learning_rate_grid_chooses_the_best_rate(tmp_path):
    # Final accuracies per (row, rate), two seeds each.
    accuracies = {
        ("ce", 0.001): (0.556, 0.558),
        ("ce", 0.01): (0.540, 0.545),
        ("mae*", 0.001): (0.50, 0.52),
        ("mae*", 0.01): (0.51, 0.51),  # a tie on the mean: the smaller rate wins
    }
    for (row, rate), values in accuracies.items():
        for seed, accuracy in enumerate(values):
            _write_run(
                tmp_path, accuracy=accuracy, model="mlp1024", learning_rate=rate,
                seed=seed, **_ROWS[row],
            )
    markdown = report.write_report(results.load_all(tmp_path), tmp_path / "out", plots=False)
    assert "| Loss | lr 0.001 | lr 0.01 | chosen | paper |" in markdown
    rows = _table_rows(markdown)
    mean, error = _by_hand(accuracies[("ce", 0.001)])
    assert rows["CE"][0] == f"**{mean:.2f} ± {error:.2f}** n=2 (paper 55.70 ± 0.13)"
    assert rows["CE"][2:] == ["0.001", "0.001"]
    assert rows["MAE* eps=0.5"][2:] == ["0.001", "0.003"]
    chosen = json.loads((tmp_path / "out" / report.LEARNING_RATES_FILENAME).read_text())
    assert chosen == {"cifar10": {"mlp1024": {"CE": 0.001, "MAE* eps=0.5": 0.001}}}
    assert not list((tmp_path / "out").glob("*.png"))


def test_mean_and_standard_error():
    mean, error = report.mean_and_standard_error([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert error == pytest.approx(math.sqrt(5 / 3) / 2)
    assert report.mean_and_standard_error([3.0]) == (3.0, None)
    with pytest.raises(ValueError, match="values"):
        report.mean_and_standard_error([])
    assert report.format_statistic(85.1, None) == "85.10"
    assert report.markdown_table(["a", "b"], [[1, 2]]) == "| a | b |\n|---|---|\n| 1 | 2 |"
    assert report.markdown_report([]).endswith("No finished runs.\n")


def test_script_reports_a_directory(results_dir, tmp_path):
    # A damaged results file is named and skipped; the report goes on.
    (results_dir / "broken").mkdir()
    (results_dir / "broken" / results.RESULTS_FILENAME).write_text('{"settings": {')
    completed = subprocess.run(
        [sys.executable, "-m", "recipes.report", f"--results_dir={results_dir}", "--noplots"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "| MAE* eps=0.5 |" in completed.stdout
    assert "broken" in completed.stderr
    assert (results_dir / report.REPORT_FILENAME).exists()

    completed = subprocess.run(
        [sys.executable, "-m", "recipes.report", f"--results_dir={tmp_path / 'nowhere'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        f"recipes.report: --results_dir={tmp_path / 'nowhere'}: not a directory"
    ]
