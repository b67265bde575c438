"""The layers import one way only, with no import circle (read from the source, not run)."""

from __future__ import annotations

import ast
import pathlib

from tests.conftest import REPO

# Lower number = lower layer. A module may import its own package and lower layers. The
# `recsys` command (pipelines.cli) is the one entry point above everything, benchmarks included.
LAYERS = {"core": 0, "serving": 1, "retrieval": 2, "ranking": 2, "pipelines": 3, "benchmarks": 4}
ENTRY_POINT = "pipelines.cli"


def _imports(path: pathlib.Path) -> set[str]:
    """Project modules a file imports (dotted names), at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in LAYERS}


def _graph() -> dict[str, set[str]]:
    modules = {}
    for package in LAYERS:
        for path in (REPO / package).glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            modules[name] = path
    return {
        name: {i for i in _imports(path) if i in modules and i != name}
        for name, path in modules.items()
    }


def test_no_import_from_a_higher_layer_or_a_sibling():
    wrong = []
    for module, imported in _graph().items():
        package = module.split(".")[0]
        level = max(LAYERS.values()) + 1 if module == ENTRY_POINT else LAYERS[package]
        for target in imported:
            other = target.split(".")[0]
            if other != package and LAYERS[other] >= level:
                wrong.append(f"{module} imports {target}")
    assert not wrong, wrong


def test_no_import_circle():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            assert state.get(target) != 1, " -> ".join([*path, module, target])
            if target not in state:
                visit(target, [*path, module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_the_check_sees_a_wrong_import(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from pipelines import jobs\n")
    assert _imports(bad) == {"pipelines", "pipelines.jobs"}
