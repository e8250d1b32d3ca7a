"""Every public function of the public ``l2h`` modules has a numpydoc docstring.

A public function is a module-level ``def`` whose name has no leading underscore, in a module of
``l2h/`` whose own name (and package path) has no leading underscore.  Its docstring needs a one-line
summary and, when the function takes parameters, a numpydoc ``Parameters`` section that lists every
parameter (``name : type`` lines; ``a, b : type`` documents both).  Static check (``ast``): nothing is
imported, so optional dependencies do not matter.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "l2h"

_SECTION = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+)\n-{3,}\n", re.M)


def _public_modules() -> list[Path]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts):
            continue
        modules.append(path)
    return modules


def _parameter_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return names


def _sections(doc: str) -> dict[str, str]:
    """Numpydoc section title -> body (the text up to the next section)."""
    heads = list(_SECTION.finditer(doc))
    return {
        m.group("title").strip(): doc[m.end() : heads[i + 1].start() if i + 1 < len(heads) else len(doc)]
        for i, m in enumerate(heads)
    }


def _documented(parameters_body: str) -> set[str]:
    names: set[str] = set()
    for line in parameters_body.splitlines():
        if line.strip() and not line[0].isspace():
            head = line.split(" : ", 1)[0]
            names.update(part.strip().lstrip("*") for part in head.split(","))
    return names


def _problems(path: Path, package: Path = PACKAGE) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(package.parent).as_posix()
    found = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("_"):
            continue
        where = f"{rel}:{node.name}"
        doc = ast.get_docstring(node)
        if not doc or not doc.strip().splitlines()[0].strip():
            found.append(f"{where}: no one-line summary")
            continue
        names = _parameter_names(node)
        if not names:
            continue
        sections = _sections(doc)
        if "Parameters" not in sections:
            found.append(f"{where}: no numpydoc 'Parameters' section")
            continue
        missing = [name for name in names if name not in _documented(sections["Parameters"])]
        if missing:
            found.append(f"{where}: 'Parameters' does not list {', '.join(missing)}")
    return found


def test_public_modules_found() -> None:
    names = {path.relative_to(PACKAGE).as_posix() for path in _public_modules()}
    assert {"compare.py", "io.py", "distributed/shards.py", "report/__init__.py"} <= names
    assert "_validation.py" not in names
    assert "distributed/_compat.py" not in names


def test_checker_catches_missing_sections(tmp_path: Path) -> None:
    module = tmp_path / "l2h" / "example.py"
    module.parent.mkdir()
    module.write_text(
        "def ok(a, *, b=1):\n"
        '    """Summary.\n\n    Parameters\n    ----------\n    a, b : int\n        Numbers.\n    """\n'
        "def no_section(a):\n"
        '    """Summary only."""\n'
        "def partial(a, b):\n"
        '    """Summary.\n\n    Parameters\n    ----------\n    a : int\n        A number.\n\n'
        '    Returns\n    -------\n    b : int\n    """\n'
        "def no_args():\n"
        '    """Summary."""\n'
        "def undocumented(x):\n"
        "    return x\n"
        "def _private(x):\n"
        "    return x\n",
        encoding="utf-8",
    )
    assert _problems(module, package=module.parent) == [
        "l2h/example.py:no_section: no numpydoc 'Parameters' section",
        "l2h/example.py:partial: 'Parameters' does not list b",
        "l2h/example.py:undocumented: no one-line summary",
    ]


@pytest.mark.parametrize("path", _public_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_public_functions_have_numpydoc(path: Path) -> None:
    problems = _problems(path)
    assert not problems, "\n".join(problems)
