"""The README's tables against the code they document, and its links.

The README tables every `--config.FIELD` with its default and every
experiment config with its arguments; these tests fail when a field, a
default, a config or a documented argument default drifts from
`recipes.config.get_default_config()` and `recipes/configs/`. They also
check that every documented command has its smoke setting in
`.ci/readme_smoke.py` and that every relative link of README.md and
docs/*.md names a file of the repository.
"""

import ast
import glob
import importlib
import importlib.util
import os
import re

import pytest

from recipes import config as config_lib
from recipes import main as recipes_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


def _read(path):
    with open(path, encoding="utf-8") as document:
        return document.read()


def _table(text, header):
    """The rows (lists of cells) of the Markdown table whose header line starts with `header`."""
    lines = text.splitlines()
    starts = [index for index, line in enumerate(lines) if line.startswith(header)]
    assert len(starts) == 1, f"expected one table starting {header!r} in README.md"
    rows = []
    for line in lines[starts[0] + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def _code(cell):
    match = re.fullmatch(r"`([^`]*)`", cell)
    assert match, f"expected one code span, got {cell!r}"
    return match.group(1)


def _field_rows():
    return {
        _code(row[0]): _code(row[1])
        for row in _table(_read(README), "| field | default | meaning |")
    }


def _config_rows():
    return {
        _code(row[0]): row[2]
        for row in _table(_read(README), "| config | runs | arguments (default) |")
    }


def test_field_table_lists_every_config_field():
    defaults = config_lib.get_default_config()
    assert sorted(_field_rows()) == sorted(defaults.keys())


@pytest.mark.parametrize("field", sorted(config_lib.get_default_config().keys()))
def test_field_table_gives_the_default(field):
    default = config_lib.get_default_config()[field]
    documented = ast.literal_eval(_field_rows()[field])
    assert (type(documented), documented) == (type(default), default)


def test_recipes_table_has_a_row_per_config():
    assert sorted(_config_rows()) == sorted(recipes_main.config_names())


def _documented_argument_defaults():
    try:
        rows = _config_rows()
    except AssertionError:
        return []  # test_recipes_table_has_a_row_per_config names the problem.
    cases = []
    for name, arguments in sorted(rows.items()):
        for argument, value in re.findall(r"`(\w+)` \(`([^`]+)`\)", arguments):
            cases.append((name, argument, value))
    return cases


def test_recipes_table_documents_argument_defaults():
    # Every sweep config takes arguments; each must be documented with a default.
    documented = {name for name, _, _ in _documented_argument_defaults()}
    sweeps = {
        name for name in recipes_main.config_names()
        if hasattr(importlib.import_module(f"recipes.configs.{name}"), "get_sweep")
    }
    assert documented == sweeps


@pytest.mark.parametrize("name,argument,value", _documented_argument_defaults())
def test_documented_argument_default_is_the_default(name, argument, value):
    module = importlib.import_module(f"recipes.configs.{name}")
    assert module.get_sweep(f"{argument}={value}") == module.get_sweep(None)


def _smoke_module():
    spec = importlib.util.spec_from_file_location(
        "readme_smoke", os.path.join(ROOT, ".ci", "readme_smoke.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_documented_command_has_a_smoke_setting():
    smoke = _smoke_module()
    assert smoke.check_coverage(smoke.documented_commands(ROOT)) == []


def test_smoke_reads_bash_blocks_and_inline_commands():
    smoke = _smoke_module()
    text = (
        "Run `python -m a --x=1` or `ls`.\n"
        "```bash\n# a comment\npython -m b \\\n  --y=2\n```\n"
        "```python\nimport c\n```\n"
    )
    assert smoke.readme_commands(text) == ["python -m a --x=1", "python -m b --y=2"]
    assert smoke.readme_commands(text, inline=False) == ["python -m b --y=2"]


@pytest.mark.parametrize(
    "path",
    ["README.md", "CONTRIBUTING.md"]
    + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md"))),
)
def test_relative_links_name_files_of_the_repository(path):
    text = _read(os.path.join(ROOT, path))
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        resolved = os.path.normpath(os.path.join(ROOT, os.path.dirname(path), target))
        assert os.path.exists(resolved), f"{path} links to {target}, which does not exist"
