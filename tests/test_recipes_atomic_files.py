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


def test_write_with_gives_the_writer_a_path_ending_like_the_target(tmp_path):
    seen = []

    def save(path):
        seen.append(path)
        with open(path, "w") as file:
            file.write("model")

    target = tmp_path / "model.keras"
    atomic_files.write_with(target, save)
    assert seen[0].endswith("model.keras") and seen[0] != str(target)
    assert target.read_text() == "model"
    assert os.listdir(tmp_path) == ["model.keras"]


def test_set_aside_keeps_every_damaged_copy(tmp_path):
    for text in ("first", "second"):
        (tmp_path / "results.json").write_text(text)
        atomic_files.set_aside(tmp_path / "results.json")
    assert sorted(os.listdir(tmp_path)) == ["results.json.damaged", "results.json.damaged-2"]
    assert (tmp_path / "results.json.damaged-2").read_text() == "second"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_honour_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        atomic_files.write_json(tmp_path / "results.json", {"a": 1})
        atomic_files.write_bytes(tmp_path / "state.npz", lambda file: file.write(b"x"))
        atomic_files.append_json_line(tmp_path / "log.jsonl", {"a": 1})
    finally:
        os.umask(previous)
    for name in ("results.json", "state.npz", "log.jsonl"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == mode, name
