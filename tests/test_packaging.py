"""What ``pip install .`` installs: every package folder of the source tree, and the report's assets.

The quick start's first command is a regular (not editable) install, so a sub-package missing from
pyproject.toml's ``packages`` list works in every editable checkout and breaks only there
(``l2h build`` then fails with an ImportError).  Checked statically: pyproject.toml against the folders.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")


def _setuptools() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]


def test_every_package_folder_is_installed():
    config = _setuptools()
    listed = set(config["packages"])
    found = set()
    for name, folder in config["package-dir"].items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            parts = init.parent.relative_to(ROOT / folder).parts
            if "__pycache__" in parts:
                continue
            found.add(".".join((name, *parts)))
    assert sorted(found - listed) == [], "add these to [tool.setuptools] packages in pyproject.toml"
    assert sorted(listed - found) == [], "pyproject.toml lists packages that have no folder"


def test_the_report_assets_are_installed():
    data = _setuptools()["package-data"]
    assets = {p.suffix for p in (ROOT / "l2h" / "report").iterdir() if p.suffix in {".js", ".css", ".html"}}
    assert {f"*{s}" for s in assets} <= set(data["l2h.report"])
