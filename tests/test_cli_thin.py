"""Issue 20 item 4: a thin CLI. Shared options are declared once (cli/_inputs.py), the CLI imports
only public l2h names, and a function-local import defers something heavy or nothing is imported
locally at all."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parent.parent / "cli"
FILES = sorted(CLI.glob("*.py"))
# Private l2h modules the CLI still imports (none: l2h.kernel_cache and l2h.images are public).
PRIVATE_STILL_USED: set[tuple[str, str]] = set()
# Modules whose import a command defers on purpose (numba, torch, dask, matplotlib behind them).
HEAVY = ("l2h.merge", "l2h.build", "l2h.warmup", "l2h._numba", "l2h.distributed", "l2h_cli._build_dask",
         "l2h_cli._metrics_dask", "cohiclust_extra.training", "cohiclust_extra.pretrained", "torch",
         "torchvision", "rich.progress", "difflib", "multiprocessing", "scipy", "dask", "matplotlib")  # fmt: skip


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    local = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            local.update(id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, [a.name for a in node.names], id(node) in local
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], id(node) in local


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_only_public_l2h_names(path: Path) -> None:
    for module, names, _ in _imports(path):
        if not module.startswith("l2h.") and module != "l2h":
            continue
        if any(part.startswith("_") for part in module.split(".")):
            assert (path.name, module) in PRIVATE_STILL_USED, f"{path.name} imports the private {module}"
        private = [n for n in names if n.startswith("_") and n != "__version__"]
        assert not private, f"{path.name} imports private names {private} from {module}"


# cli/main.py imports each verb's module at run time by design (LazyGroup: a fast `l2h --help`).
@pytest.mark.parametrize("path", [p for p in FILES if p.name != "main.py"], ids=lambda p: p.name)
def test_local_imports_defer_something(path: Path) -> None:
    for module, _, local in _imports(path):
        if local:
            assert module.startswith(HEAVY), f"{path.name}: the local import of {module} defers nothing"


@pytest.mark.parametrize("path", [p for p in FILES if p.name != "_inputs.py"], ids=lambda p: p.name)
def test_shared_options_are_declared_once(path: Path) -> None:
    text = path.read_text()
    for flag in ("--json", "--quiet", "--images", "--logits", "--labels", "--class-names", "--leaf-names", "--key"):
        assert not re.search(rf'click\.option\(\s*"{flag}"', text), f"{path.name} declares {flag} itself"
    assert not re.search(r"^_?FILE = click\.Path", text, re.M), f"{path.name} defines FILE again"
