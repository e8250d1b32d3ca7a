"""The import graph of ``l2h/``: no circles, nothing imports upward.

Every ``import``/``from ... import`` of an ``l2h`` module counts, at module level or inside a function
(a lazy import still ties the two modules together).  Upward means: a module importing the package
``l2h`` itself (its ``__init__`` is the public facade, which imports the modules), and the build's
wing (``l2h.build``) importing the modules above it (``l2h.merge``, ``l2h.distributed``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import l2h

ROOT = Path(l2h.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Module name -> the ``l2h`` modules it imports (``from a import b`` counts ``a.b`` when
    ``a/b.py`` or ``a/b/`` exists, else ``a``)."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.split(".")[0] == "l2h")
            elif isinstance(node, ast.ImportFrom):
                if node.module == "l2h" and [a.name for a in node.names] == ["__version__"]:
                    continue  # the version string lives in the facade (pyproject.toml reads it there)
                base = node.module or ""
                if node.level:  # relative: from the package, node.level - 1 levels up
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                if base.split(".")[0] != "l2h":
                    continue
                subs = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules}
                found.update(subs or {base})
                if len(subs) < len(node.names):
                    found.add(base)
        found.discard(name)
        graph[name] = {m for m in found if m in modules}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One circle of the graph (empty when there is none)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_no_module_imports_the_package_facade():
    upward = sorted(name for name, deps in import_graph().items() if name != "l2h" and "l2h" in deps)
    assert not upward, f"these modules import the package l2h itself: {upward}"


def test_the_build_imports_nothing_above_it():
    graph = import_graph()
    above = {"l2h.merge", "l2h.distributed"}
    bad = {
        name: sorted(d for d in deps if any(d == a or d.startswith(a + ".") for a in above))
        for name, deps in graph.items()
        if name.startswith("l2h.build")
    }
    assert not any(bad.values()), bad


def test_no_circles():
    circle = _cycle(import_graph())
    assert not circle, " -> ".join(circle)


def test_the_checker_finds_circles_and_submodules():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "l2h.build.exact" in graph["l2h.build.groups"]
    assert "l2h.build.api" in graph["l2h.build"]
