"""No function in l2h/, cli/ or cohiclust_extra/ is over 100 lines (its docstring aside)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 100


def body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from ``def`` to the function's end, without its docstring (decorators not counted)."""
    assert node.end_lineno is not None
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        assert first.end_lineno is not None
        lines -= first.end_lineno - first.lineno + 1
    return lines


def long_functions(limit: int = LIMIT) -> dict[str, int]:
    """``"path::name"`` -> length of every function (methods and nested ones too) over ``limit`` lines."""
    found: dict[str, int] = {}
    for folder in ("l2h", "cli", "cohiclust_extra"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and body_lines(node) > limit:
                    found[f"{path.relative_to(ROOT).as_posix()}::{node.name}"] = body_lines(node)
    return found


def test_body_lines_leaves_out_the_docstring() -> None:
    source = 'def f():\n    """Doc\n    string."""\n    x = 1\n    return x\n'
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    assert body_lines(node) == 3


def test_no_function_is_over_100_lines() -> None:
    found = long_functions()
    assert not found, f"functions over {LIMIT} lines (docstring aside): {found}"
