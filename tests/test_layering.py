"""The package's import structure: layers point one way and no modules import each other in a
circle. Every import counts (module level, under ``TYPE_CHECKING``, inside functions): a cycle
hidden in a function is still a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: folder -> the package it installs as (pyproject's package-dir)
FOLDERS = {"dstream": "dstream", "receivers": "dstream.receivers",
           "checkpoint": "dstream.checkpoint", "service": "dstream.service"}


def _modules() -> dict[str, Path]:
    modules = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


MODULES = _modules()


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The package modules ``node`` imports (``from p import m`` names module ``p.m`` when
    there is one)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in MODULES}
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([node.module] if node.module else []))
    found = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        found.add(submodule if submodule in MODULES else base)
    return found & MODULES.keys()


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _imported(module, path, node)
        graph[module] = edges - {module}
    return graph


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return components


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_reads_relative_absolute_and_deferred_imports() -> None:
    assert "dstream.rdd" in GRAPH["dstream.context"]                      # from .rdd import RDD
    assert "dstream.receivers.receiver" in GRAPH["dstream.receivers.socket"]  # absolute
    assert "dstream.streaming" in GRAPH["dstream"]                         # a package


def test_no_modules_import_each_other_in_a_circle() -> None:
    cycles = _cycles(GRAPH)
    described = ["\n".join(f"  {a} -> {b}" for a in cycle for b in sorted(GRAPH[a])
                           if b in cycle) for cycle in cycles]
    assert not cycles, "import cycles:\n" + "\n\n".join(described)


def _is_in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


ENGINE = "the batch engine"     # dstream's own modules, outside streaming and the folders above

LAYERS = [
    # (importer, must not import)
    ("dstream.receivers", "dstream"),
    ("dstream.checkpoint", "dstream"),
    (ENGINE, "dstream.streaming"),
    (ENGINE, "dstream.service"),
    ("dstream.streaming", "dstream.service"),
]


def _in_layer(module: str, layer: str) -> bool:
    if layer == ENGINE:
        return module != "dstream" and not any(
            _is_in(module, p) for p in ("dstream.streaming", *list(FOLDERS.values())[1:]))
    return _is_in(module, layer)


@pytest.mark.parametrize("importer, forbidden", LAYERS)
def test_layers_point_one_way(importer: str, forbidden: str) -> None:
    wrong = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if _in_layer(m, importer)
                   for t in targets if _is_in(t, forbidden) and not _in_layer(t, importer))
    assert not wrong, f"{importer} must not import {forbidden}:\n" + "\n".join(wrong)
