"""The import graph between a package's modules has no circles (imports inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (``from pkg import mod`` names the module)."""
    modules = {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, base] if base else anchor)
                named = [f"{base}.{alias.name}" for alias in node.names]
                targets = [target if target in modules else base for target in named]
            for target in targets:
                while target and target not in modules:  # `import pkg.mod.x` -> pkg.mod
                    target = target.rpartition(".")[0]
                if target and target != name and not (is_package and target.startswith(name + ".")):
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports, or None (iterative depth-first search)."""
    state = dict.fromkeys(graph, 0)  # 0 unseen, 1 on the path, 2 done
    for start in graph:
        if state[start]:
            continue
        path: list[str] = [start]
        todo: list[list[str]] = [sorted(graph[start])]
        state[start] = 1
        while path:
            if not todo[-1]:
                state[path.pop()] = 2
                todo.pop()
                continue
            nxt = todo[-1].pop()
            if state[nxt] == 1:
                return [*path[path.index(nxt) :], nxt]
            if state[nxt] == 0:
                state[nxt] = 1
                path.append(nxt)
                todo.append(sorted(graph[nxt]))
    return None


def test_find_cycle_finds_one_and_only_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("package", ["cohiclust_extra"])
def test_no_circles_between_modules(package: str) -> None:
    graph = import_graph(package)
    assert len(graph) > 5
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_graph_sees_function_local_imports() -> None:
    graph = import_graph("cohiclust_extra")
    assert "cohiclust_extra.nets" in graph["cohiclust_extra.backbones"]  # imported inside functions
    assert "cohiclust_extra.device" in graph["cohiclust_extra.training"]


# Imports l2h.io for InputError until the build's own wing replaces it (issue 20).
IO_IMPORTERS_STILL = {"l2h.distributed.engine"}


def test_l2h_modules_import_from_the_real_homes_not_l2h_io() -> None:
    """``l2h.io`` gathers the public I/O functions for users; l2h's own modules import their homes."""
    graph = import_graph("l2h")
    users = {name for name, targets in graph.items() if "l2h.io" in targets} - {"l2h"} - IO_IMPORTERS_STILL
    assert not users, f"import these from l2h._validation / l2h.arrays / l2h.files / l2h.treeio instead: {users}"
