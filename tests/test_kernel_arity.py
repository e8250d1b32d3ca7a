"""No Numba kernel takes more than 12 arguments: state travels in a few named bundles (issue 20).

The bundles are tuples of arrays built in one place each on the Python side (``Groups.kernel_state``,
``Points.kernel_state`` and their siblings; see :mod:`l2h.build._kernels`)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 12
KERNEL_FILES = ("l2h/build/_kernels.py",)


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


def test_kernel_arities_are_counted() -> None:
    source = "import numba\n@numba.njit(cache=True)\ndef f(a, b, *c, d=1):\n    pass\ndef g(x):\n    pass\n"
    assert kernel_arities(source) == {"f": 4}


def test_no_kernel_takes_more_than_12_arguments() -> None:
    too_many = {}
    for name in KERNEL_FILES:
        arities = kernel_arities((ROOT / name).read_text(encoding="utf-8"))
        assert arities, f"no Numba kernel found in {name}"
        too_many.update({f"{name}::{fn}": n for fn, n in arities.items() if n > LIMIT})
    assert not too_many, f"kernels with more than {LIMIT} arguments (bundle their state): {too_many}"
