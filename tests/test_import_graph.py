"""The import graph between a package's modules has no circles (imports inside functions count too), and
nothing in ``l2h`` imports upward: the README's layer map holds (each module imports only from its own
layer and the layers below), no module imports the package facade ``l2h`` (its ``__init__``, which
imports the modules), the build's wing ``l2h.build`` imports nothing above it (``l2h.merge``, which
routes a Dask client, and ``l2h.distributed``, built on the wing), and the tree model ``l2h.hierarchy``
imports no view (its notebook methods reach the views by name, checked below)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# Folders installed under another import name (pyproject.toml's package-dir).
IMPORT_NAMES = {"cli": "l2h_cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts[0] = IMPORT_NAMES.get(parts[0], parts[0])
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(*packages: str) -> dict[str, set[str]]:
    """Module -> the modules of the folders ``packages`` it imports (``from pkg import mod`` names the module)."""
    modules = {module_name(p): p for package in packages for p in sorted((ROOT / package).rglob("*.py"))}
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


@pytest.mark.parametrize("package", ["l2h", "cohiclust_extra", "cli"])
def test_no_circles_between_modules(package: str) -> None:
    graph = import_graph(package)
    assert len(graph) > 5
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_graph_sees_function_local_imports() -> None:
    graph = import_graph("cohiclust_extra")
    assert "cohiclust_extra.nets" in graph["cohiclust_extra.backbones"]  # imported inside functions
    assert "cohiclust_extra.device" in graph["cohiclust_extra.training"]


IO_IMPORTERS_STILL: set[str] = set()


def test_l2h_modules_import_from_the_real_homes_not_l2h_io() -> None:
    """``l2h.io`` gathers the public I/O functions for users; l2h's own modules import their homes."""
    graph = import_graph("l2h")
    users = {name for name, targets in graph.items() if "l2h.io" in targets} - {"l2h"} - IO_IMPORTERS_STILL
    assert not users, f"import these from l2h._validation / l2h.arrays / l2h.files / l2h.treeio instead: {users}"


def test_no_l2h_module_imports_the_package_facade() -> None:
    upward = []
    for path in sorted((ROOT / "l2h").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(alias.name == "l2h" for alias in node.names):
                upward.append(module_name(path))
            # the version string lives in the facade (pyproject.toml reads it there)
            if isinstance(node, ast.ImportFrom) and node.module == "l2h" and node.level == 0:
                names = {alias.name for alias in node.names} - {"__version__"}
                # `from l2h import treeio` names a module, not the facade's re-exports
                names = {n for n in names if not any((ROOT / "l2h" / f).exists() for f in (f"{n}.py", n))}
                if names and path.name != "__init__.py":
                    upward.append(module_name(path))
    assert not upward, f"these modules import the package l2h itself: {sorted(set(upward))}"


def test_the_build_imports_nothing_above_it() -> None:
    graph = import_graph("l2h")
    assert "l2h.build.exact" in graph["l2h.build.groups"]
    above = ("l2h.merge", "l2h.distributed")
    bad = {
        name: sorted(t for t in targets if any(t == a or t.startswith(a + ".") for a in above))
        for name, targets in graph.items()
        if name == "l2h.build" or name.startswith("l2h.build.")
    }
    assert not any(bad.values()), bad


def test_the_cli_graph_is_seen_under_its_import_name() -> None:
    graph = import_graph("cli")
    assert "l2h_cli._inputs" in graph["l2h_cli.build"]


def test_the_tree_model_imports_no_view_and_reaches_each_by_name() -> None:
    """``Hierarchy.report``/``plot``/``show`` call ``_view(module, name)``: each pair names an existing
    function of a view module (above the model), so the lookup hides no other edge and no stale name."""
    graph = import_graph("l2h")
    views = {"l2h.annotate", "l2h.render", "l2h.plot", "l2h.report", "l2h.report.notebook"}
    assert not graph["l2h.hierarchy"] & views
    source = ast.parse((ROOT / "l2h" / "hierarchy.py").read_text(encoding="utf-8"))
    calls = [
        node
        for node in ast.walk(source)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_view"
    ]
    pairs = {tuple(ast.literal_eval(arg) for arg in call.args) for call in calls}
    assert {module for module, _ in pairs} == views
    for module, name in pairs:
        assert callable(getattr(importlib.import_module(module), name)), (module, name)


def readme_layers() -> list[list[str]]:
    """The README's layer map, top to bottom: the names in the first column of each line."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- layer-map -->")[1].split("<!-- /layer-map -->")[0]
    lines = [line for line in block.strip().splitlines() if not line.startswith("```")]
    return [[n for n in re.split(r"\s{2,}", line.strip())[0].split() if not n.startswith("(")] for line in lines]


def layer_of(module: str, layers: list[list[str]]) -> int:
    """The line of the map that holds ``module`` (``x/`` holds a package and its modules)."""
    homes = {"cli/": "l2h_cli", "cohiclust_extra/": "cohiclust_extra"}
    found = []
    for index, names in enumerate(layers):
        for name in names:
            home = homes.get(name) or "l2h." + name.removesuffix("/")
            if module == home or (name.endswith("/") and module.startswith(home + ".")):
                found.append(index)
    assert len(found) == 1, f"{module} is on {len(found)} lines of the README's layer map"
    return found[0]


def test_the_readmes_layer_map_holds() -> None:
    """Every module of l2h, l2h_cli and cohiclust_extra is on one line of the map, and imports only from
    its line and the lines below.  (The facade ``l2h`` re-exports on first use and is left out.)"""
    layers = readme_layers()
    assert len(layers) > 8
    graph = import_graph("l2h", "cli", "cohiclust_extra")
    upward = [
        f"{name} -> {target}"
        for name, targets in graph.items()
        if name != "l2h"
        for target in targets
        if target != "l2h" and layer_of(target, layers) < layer_of(name, layers)
    ]
    assert not upward, f"imports that point up the README's layer map: {upward}"


def test_the_layer_check_sees_an_upward_import() -> None:
    layers = [["merge"], ["hierarchy"]]
    assert layer_of("l2h.merge", layers) < layer_of("l2h.hierarchy", layers)
    assert layer_of("l2h.build.api", [["build/"]]) == 0
    with pytest.raises(AssertionError, match="on 0 lines"):
        layer_of("l2h.plot", layers)
