"""The recipes' import graph: no cycle, and no module imports a script."""

import ast
import pathlib

RECIPES = pathlib.Path(__file__).resolve().parents[1] / "recipes"
# Modules that are only command lines (`python -m recipes.<name>`).
SCRIPTS = {"recipes.main", "recipes.figure1", "recipes.grid"}


def _module_name(path):
    parts = path.relative_to(RECIPES.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports():
    """`{module: {(imported recipes module, at module level)}}`."""
    graph = {}
    for path in sorted(RECIPES.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = {id(node) for node in tree.body}
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            else:
                continue
            for name in names:
                if name.startswith("recipes."):
                    found.add((name, id(node) in top_level))
        graph[_module_name(path)] = found
    modules = set(graph)
    return {
        module: {(name, top) for name, top in found if name in modules}
        for module, found in graph.items()
    }


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(module, path):
        state[module] = "open"
        for name in sorted(graph[module]):
            if state.get(name) == "open":
                return path[path.index(name):] + [name]
            if name not in state:
                cycle = visit(name, path + [name])
                if cycle:
                    return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return None


def test_no_cycle_and_no_script_imported():
    imports = _imports()
    assert {"recipes.grid", "recipes.report", "recipes.configs.common"} <= set(imports)
    graph = {module: {name for name, _ in found} for module, found in imports.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))
    importers = {
        module: sorted(found & SCRIPTS) for module, found in graph.items() if found & SCRIPTS
    }
    assert importers == {}
    # Every recipes import is at module level (none dodges a cycle in a function).
    late = {module: sorted(n for n, top in found if not top) for module, found in imports.items()}
    assert {module: names for module, names in late.items() if names} == {}
