"""No Numba kernel takes more than 12 arguments: state travels in a few named bundles (issue 20).

The bundles are tuples of arrays built in one place each on the Python side (``Groups.kernel_state``,
``Points.kernel_state`` and their siblings, see :mod:`l2h.build._kernels`; ``_Layout.kernel_state``
and its siblings, see :mod:`l2h._metrics_kernels`).  Every module of ``l2h/`` that defines a
Numba-compiled function is checked, found by parsing, not listed by hand."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 12


def _is_njit(decorator: ast.expr) -> bool:
    """``@numba.njit``, ``@njit``, ``@numba.jit`` or a call of one of them."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name in ("njit", "jit")


def kernel_arities(source: str) -> dict[str, int]:
    """Name -> number of parameters of every Numba-compiled function defined in ``source``."""
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and any(_is_njit(d) for d in node.decorator_list):
            args = node.args
            found[node.name] = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
            found[node.name] += (args.vararg is not None) + (args.kwarg is not None)
    return found


def kernel_modules() -> dict[str, dict[str, int]]:
    """Path (relative to the repo) -> :func:`kernel_arities` of every module in ``l2h/`` that has kernels."""
    found = {}
    for path in sorted((ROOT / "l2h").rglob("*.py")):
        arities = kernel_arities(path.read_text(encoding="utf-8"))
        if arities:
            found[path.relative_to(ROOT).as_posix()] = arities
    return found


def test_kernel_arities_are_counted() -> None:
    source = "import numba\n@numba.njit(cache=True)\ndef f(a, b, *c, d=1):\n    pass\ndef g(x):\n    pass\n"
    assert kernel_arities(source) == {"f": 4}


def test_no_kernel_takes_more_than_12_arguments() -> None:
    modules = kernel_modules()
    # The search must see the known kernel modules (a parser that finds nothing would pass vacuously).
    assert {"l2h/build/_kernels.py", "l2h/_metrics_kernels.py"} <= modules.keys(), sorted(modules)
    too_many = {}
    for name, arities in modules.items():
        too_many.update({f"{name}::{fn}": n for fn, n in arities.items() if n > LIMIT})
    assert not too_many, f"kernels with more than {LIMIT} arguments (bundle their state): {too_many}"
