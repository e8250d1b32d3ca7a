"""The README stays a short front page, and the documentation's links resolve.

* README.md: at most 250 lines, and its quick start is exactly the two commands CI runs
  (``.ci/readme_commands.py`` reads them; ``.ci/run`` runs them).
* Every relative link and image of README.md and of ``docs/*.md`` points at a file that exists, as
  on GitHub; a link between pages with an ``#anchor`` names a heading of the target page (MkDocs'
  heading ids); a link that leaves ``docs/`` points into a folder the site serves
  (``docs/_hooks/l2h_docs.py``'s ``MOUNTS``), so the site has it too.
* External links cannot be followed offline: they are only checked to be well-formed http(s) URLs.
* With MkDocs installed (``pip install -e ".[docs]"``), the site builds with warnings as errors:
  docstrings that do not parse, links to missing pages and unknown anchors all fail it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"

QUICK_START = [
    "pip install . && l2h build examples/digits_logits.npy --out digits_tree.nwk",
    'pip install -e ".[test,train]" && python -m pytest',
]

_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def _load(path: Path, name: str):  # noqa: ANN202 - a module
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages() -> list[Path]:
    return [README, *sorted(p for p in DOCS.rglob("*.md") if "_hooks" not in p.parts)]


def _prose(text: str) -> str:
    """The Markdown without fenced code blocks and code spans (links there are not links)."""
    return _CODE.sub("", _FENCE.sub("", text))


def _links(path: Path) -> list[str]:
    return _LINK.findall(_prose(path.read_text(encoding="utf-8")))


def slugify(heading: str) -> str:
    """The id MkDocs gives a heading (Python-Markdown's ``toc`` slugify of the rendered text)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = text.replace("`", "").replace("*", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for match in _HEADING.finditer(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = base = slugify(match.group(2))
        n = 0
        while slug in found:  # toc's rule for repeated headings: _1, _2, ...
            n += 1
            slug = f"{base}_{n}"
        found.add(slug)
    return found


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move the details to docs/"


def test_readme_quick_start_is_the_two_commands_ci_runs():
    readme_commands = _load(ROOT / ".ci" / "readme_commands.py", "readme_commands")
    assert readme_commands.quick_start_commands(README.read_text(encoding="utf-8")) == QUICK_START


def test_readme_quick_start_reader_fails_loudly():
    readme_commands = _load(ROOT / ".ci" / "readme_commands.py", "readme_commands")
    with pytest.raises(SystemExit, match="no '## Quick start' section"):
        readme_commands.quick_start_commands("# l2h\n\n## Install\n")
    with pytest.raises(SystemExit, match="no ```bash block"):
        readme_commands.quick_start_commands("## Quick start\n\ntext\n\n## Next\n")


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path):
    hook = _load(DOCS / "_hooks" / "l2h_docs.py", "l2h_docs_hook")
    generated = {"api", "cli"}  # pages the hook writes at build time
    problems = []
    for target in _links(page):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        assert "://" not in target, f"{page.name}: unsupported link {target}"
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        in_docs = page.is_relative_to(DOCS)
        if in_docs and dest.is_relative_to(DOCS) and dest.relative_to(DOCS).parts[0] in generated:
            continue
        if not dest.exists():
            problems.append(f"{target}: {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest} is missing")
            continue
        if in_docs and not dest.is_relative_to(DOCS):
            folder = dest.relative_to(ROOT).parts[0]
            suffixes = hook.MOUNTS.get(folder, ())
            if dest.suffix not in suffixes:
                problems.append(f"{target}: outside docs/ and not served by the site (docs/_hooks MOUNTS)")
        if anchor and dest.suffix == ".md" and in_docs and anchor not in anchors(dest):
            problems.append(f"{target}: no heading with id #{anchor} in {dest.name}")
    assert not problems, f"{page.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_external_links_are_well_formed(page: Path):
    for target in _links(page):
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            assert parts.scheme == "https" or parts.netloc.startswith(("127.0.0.1", "localhost")), target
            assert re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?", parts.netloc), target


def test_slugify_matches_mkdocs():
    """The anchor check above uses the same ids as the site (Python-Markdown's toc extension)."""
    toc = pytest.importorskip("markdown.extensions.toc")
    for page in _pages()[1:]:
        for match in _HEADING.finditer(_FENCE.sub("", page.read_text(encoding="utf-8"))):
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(2)).replace("`", "").replace("*", "")
            assert slugify(match.group(2)) == toc.slugify(text, "-"), match.group(2)


def test_site_builds_without_warnings(tmp_path: Path):
    """``mkdocs build --strict``: what CI runs after the tests (skipped without the docs extra)."""
    for module in ("mkdocs", "mkdocstrings_handlers.python", "material"):
        pytest.importorskip(module)
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert done.returncode == 0 and not warnings, "\n".join(warnings) or done.stderr[-3000:]
    assert (tmp_path / "site" / "examples" / "digits_report.png").exists()
    # The API reference documents every public name of every public module: those in its __all__, or
    # (without one) its top-level functions and classes, listed here from the source, not by MkDocs.
    hook = _load(DOCS / "_hooks" / "l2h_docs.py", "l2h_docs_hook")
    missing = []
    for module in hook.public_modules():
        page = (tmp_path / "site" / "api" / module / "index.html").read_text(encoding="utf-8")
        ids = set(re.findall(r'id="([\w.]+)"', page))
        for name in _public_names(module):
            if f"{module}.{name}" not in ids and not any(i.endswith(f".{name}") for i in ids):
                missing.append(f"{module}.{name}")
    assert not missing, f"not in the API reference: {missing}"
    # Sphinx roles became links or code, and .. math:: became formulas
    text = (tmp_path / "site" / "api" / "l2h.metrics" / "index.html").read_text(encoding="utf-8")
    assert ":func:" not in text and ".. math::" not in text and 'class="arithmatex"' in text
    assert 'href="#l2h.metrics.contingency_table"' in text


def _public_names(module: str) -> list[str]:
    import ast

    parts = module.split(".")
    path = ROOT.joinpath(*parts).with_suffix(".py")
    if not path.exists():
        path = ROOT.joinpath(*parts, "__init__.py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            assert isinstance(node.value, (ast.List, ast.Tuple))
            return [e.value for e in node.value.elts if isinstance(e, ast.Constant) and not e.value.startswith("_")]
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]


def test_readme_tour_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The README's commands after the quick start (score, show, report, cut the digits tree) run as
    written, from the repository root, on the tree the quick start builds."""
    import shlex
    import shutil

    from tests._cli import run

    readme = README.read_text(encoding="utf-8")
    tour = re.search(r"^Then score.*?^```bash\s*$(.*?)^```\s*$", readme, flags=re.M | re.S)
    assert tour is not None, "README.md lost its tour after the quick start"
    commands = [line for line in re.sub(r"\\\n\s*", "", tour.group(1)).splitlines() if line.strip()]
    assert commands and all(line.startswith("l2h ") for line in commands)
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("*.png"))
    monkeypatch.chdir(tmp_path)
    built = run("build", "examples/digits_logits.npy", "--out", "digits_tree.nwk", "--quiet")
    assert built.exit_code == 0, built.output
    for line in commands:
        result = run(*shlex.split(line)[1:])
        assert result.exit_code == 0, f"{line}\n{result.output[-2000:]}"
