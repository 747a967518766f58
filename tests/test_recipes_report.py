"""Tests of `recipes.paper_results` and `recipes.report`."""

import json
import math
import os
import pathlib
import re

import pytest
from absl import flags

from keras_robust import presets
from recipes import paper_results
from recipes import report

_PAPER_CANDIDATES = (
    pathlib.Path(__file__).resolve().parents[1] / "shared" / "paper.md",
    pathlib.Path(__file__).resolve().parents[2] / "shared" / "paper.md",
)
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
    keys = [row.key for row in presets.table_variants("table2")]
    blocks = paper_results.TABLE_BLOCKS["table2"]
    assert len(rows) == len(blocks) * len(keys)
    for block_index, (dataset, model) in enumerate(blocks):
        for row_index, key in enumerate(keys):
            printed = rows[block_index * len(keys) + row_index]
            for noise_rate, value in zip(paper_results.NOISE_RATES, printed, strict=True):
                assert paper_results.TABLE2[(dataset, model, key, noise_rate)] == value


def test_table3_cells_match_paper_text():
    rows = _printed_rows(_paper_text(), "Table 3:", "Empirical Results")
    keys = [row.key for row in presets.table_variants("table3")]
    assert len(rows) == len(keys)
    for key, printed in zip(keys, rows):
        for noise_rate, value in zip(paper_results.NOISE_RATES, printed, strict=True):
            assert paper_results.TABLE3[("cifar100", "resnet34", key, noise_rate)] == value


def test_learning_rate_table_matches_paper_text():
    text = _paper_text()
    rows = _printed_rows(text, "learning rate\t0.0005", "Backpropagation error")
    keys = [row.key for row in presets.table_variants("table2")]
    assert len(rows) == 2 * len(keys)
    for dataset_index, dataset in enumerate(("cifar10", "fashion_mnist")):
        for row_index, key in enumerate(keys):
            printed = rows[dataset_index * len(keys) + row_index]
            for rate, value in zip(paper_results.LEARNING_RATES, printed, strict=True):
                assert paper_results.paper_learning_rate_value(dataset, key, rate) == value


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


def test_bold_learning_rates_reproduce_table2():
    # Supplement Table 1's bold rates are the ones behind Table 2's MLP rows.
    for dataset in ("cifar10", "fashion_mnist"):
        for row in presets.table_variants("table2"):
            rate = paper_results.paper_best_learning_rate(dataset, row.key)
            lr_mean = paper_results.paper_learning_rate_value(dataset, row.key, rate)[0]
            assert lr_mean == paper_results.TABLE2[(dataset, "mlp1024", row.key, 0.0)][0]


# ---------------------------------------------------------------------------
# report


def _write_run(root, run_id, *, dataset, model, variant, noise_rate, seed, accuracy, epochs=3):
    noisy = noise_rate > 0
    history = {
        "epoch": list(range(1, epochs + 1)),
        "train_loss": [1.0 / e for e in range(1, epochs + 1)],
        "test_accuracy": [accuracy * e / epochs for e in range(1, epochs + 1)],
        "false_label_accuracy": (
            [0.5 * accuracy * e / epochs for e in range(1, epochs + 1)] if noisy else None
        ),
    }
    result = {
        "settings": {
            "dataset": dataset,
            "model": model,
            "loss": variant.split("*")[0],
            "loss_kwargs": {},
            "output_bias": 0.0,
            "variant": variant,
            "variant_label": presets.variant(variant).label,
            "noise_rate": noise_rate,
            "noise_kind": "symmetric",
            "seed": seed,
            "epochs": epochs,
            "learning_rate": 0.1,
        },
        "settings_hash": run_id,
        "history": history,
        "final": {
            "test_accuracy": accuracy,
            "false_label_accuracy": history["false_label_accuracy"][-1] if noisy else None,
            "train_loss": history["train_loss"][-1],
        },
        "wall_seconds": 1.0,
        "versions": {},
    }
    run_dir = os.path.join(root, run_id)
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "results.json"), "w") as file:
        json.dump(result, file)


# Final accuracies per (variant, noise rate), one per seed.
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
    root.mkdir()
    for (variant, noise_rate), accuracies in _ACCURACIES.items():
        for seed, accuracy in enumerate(accuracies):
            run_id = f"{variant}-{noise_rate}-{seed}".replace("*", "star")
            _write_run(
                str(root),
                run_id,
                dataset="cifar10",
                model="resnet32",
                variant=variant,
                noise_rate=noise_rate,
                seed=seed,
                accuracy=accuracy,
            )
    # Debris that must be ignored: a partial file, a temporary file and a
    # run without a final accuracy.
    (root / "broken").mkdir()
    (root / "broken" / "results.json").write_text('{"settings": {')
    (root / "ce-0.0-0" / "results.json.tmp").write_text("{}")
    (root / "unfinished").mkdir()
    (root / "unfinished" / "results.json").write_text(
        json.dumps({"settings": {"dataset": "cifar10"}, "final": {}})
    )
    return str(root)


def _by_hand(accuracies):
    values = [100 * a for a in accuracies]
    n = len(values)
    mean = sum(values) / n
    if n == 1:
        return mean, None
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance) / math.sqrt(n)


def _table_rows(markdown):
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| Loss"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_report_tables_and_curves(results_dir, tmp_path):
    output_dir = str(tmp_path / "out")
    with pytest.warns(UserWarning, match="Skipping"):
        markdown, paths = report.make_report(results_dir, output_dir=output_dir)

    rows = _table_rows(markdown)
    assert set(rows) == {"CE", "MAE* eps=0.5", "genCE"}
    assert "Noise 0 % | Noise 20 %" in markdown

    # CE at 0 %: five seeds, so no n=; the best of its column; paper value.
    mean, error = _by_hand(_ACCURACIES[("ce", 0.0)])
    assert (mean, round(error, 2)) == (pytest.approx(92.0), 0.71)
    assert rows["CE"][0] == f"**{mean:.2f} ± {error:.2f}** (paper 91.30 ± 0.33)"
    # MAE* at 0 %: three seeds, below CE.
    mean, error = _by_hand(_ACCURACIES[("mae*", 0.0)])
    assert rows["MAE* eps=0.5"][0] == f"{mean:.2f} ± {error:.2f} n=3 (paper 91.27 ± 0.13)"
    # 20 %: MAE* is best; CE has two seeds; genCE a single run (no error).
    mean, error = _by_hand(_ACCURACIES[("mae*", 0.2)])
    assert rows["MAE* eps=0.5"][1] == f"**{mean:.2f} ± {error:.2f}** n=3 (paper 89.95 ± 0.06)"
    mean, error = _by_hand(_ACCURACIES[("ce", 0.2)])
    assert (round(mean, 2), round(error, 2)) == (72.0, 2.0)
    assert rows["CE"][1] == "72.00 ± 2.00 n=2 (paper 78.21 ± 0.42)"
    assert rows["genCE"] == ["–", "80.00 n=1 (paper 89.92 ± 0.11)"]
    # Row order is the paper's.
    order = [line.split("|")[1].strip() for line in markdown.splitlines() if line.startswith("| ") and "Loss" not in line]
    assert order == ["CE", "MAE* eps=0.5", "genCE"]

    with open(os.path.join(output_dir, "report.md"), encoding="utf-8") as file:
        assert file.read() == markdown
    assert sorted(os.path.basename(path) for path in paths) == [
        "curves_cifar10_resnet32_symmetric_noise00.png",
        "curves_cifar10_resnet32_symmetric_noise20.png",
    ]
    for path in paths:
        assert os.path.getsize(path) > 1000
        with open(path, "rb") as file:
            assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    assert not [name for name in os.listdir(output_dir) if name.startswith(".tmp")]


def test_report_table_filter(results_dir, tmp_path):
    with pytest.warns(UserWarning):
        markdown, paths = report.make_report(
            results_dir, output_dir=str(tmp_path / "out"), table="table3", plots=False
        )
    assert "No finished runs" in markdown
    assert paths == []
    with pytest.raises(ValueError, match="table4"):
        report.make_report(results_dir, table="table4")


def test_mean_curve_and_settings_split(tmp_path):
    root = str(tmp_path)
    for seed, accuracy in enumerate((0.5, 0.7)):
        _write_run(
            root, f"run{seed}", dataset="digits", model="mlp1024", variant="ce",
            noise_rate=0.4, seed=seed, accuracy=accuracy,
        )
    results = report.load_results(root)
    groups = report.group_results(results)
    assert list(groups) == [("digits", "mlp1024", "symmetric", 0.4, "ce", "")]
    (runs,) = groups.values()
    epochs, means = report.mean_curve(runs, "test_accuracy")
    assert epochs == [1, 2, 3]
    assert means == pytest.approx([20.0, 40.0, 60.0])
    epochs, means = report.mean_curve(runs, "false_label_accuracy")
    assert means == pytest.approx([10.0, 20.0, 30.0])
    markdown = report.markdown_tables(groups)
    assert "not in the paper" in markdown
    assert "(paper" not in markdown
    assert _table_rows(markdown)["CE"] == ["**60.00 ± 10.00** n=2"]

    # Runs that differ in another setting than the seed are not averaged.
    results[1]["settings"]["learning_rate"] = 0.01
    groups = report.group_results(results)
    assert sorted(key[-1] for key in groups) == ["learning_rate=0.01", "learning_rate=0.1"]
    rows = _table_rows(report.markdown_tables(groups))
    assert rows == {
        "CE (learning_rate=0.01)": ["**70.00** n=1"],
        "CE (learning_rate=0.1)": ["50.00 n=1"],
    }


def test_mean_and_standard_error():
    mean, error = report.mean_and_standard_error([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert error == pytest.approx(math.sqrt(5 / 3) / 2)
    assert report.mean_and_standard_error([3.0]) == (3.0, None)
    with pytest.raises(ValueError, match="values"):
        report.mean_and_standard_error([])
    with pytest.raises(ValueError, match="results_dir"):
        report.load_results("/nonexistent/dir")


def test_flags_are_documented():
    flag_values = flags.FlagValues()
    report.define_flags(flag_values)
    help_text = flag_values.get_help()
    for name in ("results_dir", "output_dir", "markdown_file", "table", "plots"):
        assert re.search(rf"--(\[no\])?{name}\b", help_text), name
