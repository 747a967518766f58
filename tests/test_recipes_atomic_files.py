"""Tests of the atomic writers used for every results file."""

import json
import os

import pytest

from recipes import atomic_files


def test_write_json_replaces_the_file(tmp_path):
    path = tmp_path / "sub" / "results.json"
    atomic_files.write_json(path, {"a": 1})
    atomic_files.write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert os.listdir(path.parent) == ["results.json"]


def test_a_failed_write_keeps_the_old_file_and_raises(tmp_path):
    path = tmp_path / "results.json"
    atomic_files.write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        atomic_files.write_json(path, {"a": object()})  # not JSON serialisable
    assert json.loads(path.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["results.json"]


def test_an_interrupted_figure_leaves_no_file(tmp_path):
    class Interrupted:
        def savefig(self, *args, **kwargs):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_files.save_figure(Interrupted(), tmp_path / "plot.png")
    assert os.listdir(tmp_path) == []
