"""Every public module of l2h and cohiclust_extra declares its API in ``__all__``, and every name there exists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

WITHOUT_ALL_STILL: set[str] = set()  # modules allowed no __all__ (none)


def public_modules() -> list[Path]:
    paths = []
    for folder in ("l2h", "cohiclust_extra"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if not any(part.startswith("_") and part != "__init__" for part in parts):
                paths.append(path)
    return paths


def declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            assert node.value is not None
            return list(ast.literal_eval(node.value))
    return None


def defined_names(tree: ast.Module) -> set[str]:
    """Names bound at module level (assignments, defs, classes, imports, also under if/try)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


@pytest.mark.parametrize("path", public_modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_public_module_has_all(path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = declared_all(tree)
    if rel in WITHOUT_ALL_STILL:
        pytest.skip("being moved into l2h/build/")
    assert names is not None, f"{rel} has no __all__"
    assert len(set(names)) == len(names), f"{rel}: __all__ names a name twice"
    if "__getattr__" not in defined_names(tree):  # lazily provided names cannot be checked statically
        missing = sorted(set(names) - defined_names(tree))
        assert not missing, f"{rel}: __all__ names what the module does not define: {missing}"


def test_cohiclust_extra_module_index_lists_every_module() -> None:
    doc = ast.get_docstring(ast.parse((ROOT / "cohiclust_extra" / "__init__.py").read_text(encoding="utf-8"))) or ""
    listed = {line.split()[0] for line in doc.split("-------\n", 1)[1].splitlines() if line.strip()}
    modules = {p.stem for p in (ROOT / "cohiclust_extra").glob("*.py") if p.stem != "__init__"}
    assert modules - listed == set()
