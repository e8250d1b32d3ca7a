"""MkDocs hook that builds the parts of the l2h site which come from the code.

* ``api/<module>.md``: one API reference page per public module of ``l2h`` (a module whose dotted
  name has no part starting with ``_``), rendered by mkdocstrings from its numpydoc docstrings.
* ``cli/<command>.md``: one page per ``l2h`` command, holding its ``--help`` exactly as the terminal
  shows it (sub-commands included).
* The Development page's module map (every module with the first line of its docstring) and layer
  map (copied from the README, its one home).
* Files outside ``docs/`` that pages link to (the example pictures and data of ``examples/``): the
  pages link to them as ``../examples/NAME`` so the same links work on GitHub; the hook copies them
  into the site under ``examples/`` and rewrites those links.

Nothing here is a page to render: ``mkdocs.yml`` excludes ``_hooks/`` from the docs.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: Repository folders whose files the site serves, as {folder: suffixes}.
MOUNTS: dict[str, tuple[str, ...]] = {"examples": (".png", ".svg", ".tsv", ".nwk", ".txt", ".sh", ".py")}

_LINK = re.compile(r"(\]\()([^)\s]+)(\))")


def public_modules(package: Path = ROOT / "l2h") -> list[str]:
    """Dotted names of the public modules of ``package``, sorted (packages before their modules)."""
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts[1:]):
            continue
        names.append(".".join(parts))
    return sorted(names)


def _module_summary(name: str) -> str:
    import ast

    parts = name.split(".")
    path = ROOT.joinpath(*parts).with_suffix(".py")
    if not path.exists():
        path = ROOT.joinpath(*parts, "__init__.py")
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def _module_tree(name: str) -> Any:
    import ast

    parts = name.split(".")
    path = ROOT.joinpath(*parts).with_suffix(".py")
    if not path.exists():
        path = ROOT.joinpath(*parts, "__init__.py")
    return ast.parse(path.read_text(encoding="utf-8"))


def lazy_names(name: str) -> dict[str, str]:
    """``{name: dotted path}`` of what the module's ``__getattr__`` imports on first use (static analysis
    cannot see those), for the names its ``__all__`` lists."""
    import ast

    listed = _all_names(name)
    found = {}
    for node in _module_tree(name).body:
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and sub.module:
                    for alias in sub.names:
                        if f'"{alias.asname or alias.name}"' in listed:
                            found[alias.asname or alias.name] = f"{sub.module}.{alias.name}"
    return found


def _api_page(name: str) -> str:
    page = (
        f"::: {name}\n    options:\n      show_submodules: false\n      show_root_heading: true\n"
        "      show_root_full_path: true\n      heading_level: 1\n"
    )
    for short, target in lazy_names(name).items():
        # documented on its own module's page: one anchor per object, so cross-references are unique
        module, attr = target.rsplit(".", 1)
        summary = _object_summary(module, attr)
        page += (
            f"\n## `{short}` {{ #{name}.{short} }}\n\n{summary}\n\n"
            f"Imported on first use from [`{target}`][{target}], where it is documented.\n"
        )
    return page


def _object_summary(module: str, attr: str) -> str:
    """The first paragraph of the docstring of ``module.attr`` (a top-level function or class)."""
    import ast

    for node in _module_tree(module).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == attr:
            return " ".join((ast.get_docstring(node) or "").strip().split("\n\n")[0].split())
    return ""


def _all_names(name: str) -> str:
    """The source text of the module's ``__all__`` (empty when it has none)."""
    import ast

    for node in _module_tree(name).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return ast.unparse(node.value).replace("'", '"')
    return ""


def _api_index(names: list[str]) -> str:
    rows = "\n".join(f"| [`{n}`]({n}.md) | {_module_summary(n)} |" for n in names)
    return (
        "# API reference\n\n"
        "Generated from the docstrings of every public module (numpydoc style). `import l2h` gives the\n"
        "names of the top-level package; the other modules are imported by their full name.\n\n"
        f"| module | what it holds |\n|---|---|\n{rows}\n"
    )


#: The guide section that explains each command (checked by ``mkdocs build --strict``).
GUIDES: dict[str, str] = {
    "l2h build": "build.md",
    "l2h metrics": "metrics.md",
    "l2h cut": "metrics.md",
    "l2h agglomerative": "metrics.md#agglomerative-baseline",
    "l2h compare": "compare.md#l2h-compare-tree-reference-taxonomy",
    "l2h logits": "compare.md#l2h-logits-a-pretrained-classifiers-outputs-pip-install-l2htrain-timm-l2hmodels",
    "l2h report": "views.md#html-report-l2h-report",
    "l2h gallery": "views.md#gallery-l2h-gallery",
    "l2h plot": "views.md#pictures-l2h-plot-pip-install-l2hplot",
    "l2h show": "views.md#terminal-l2h-show",
    "l2h export": "views.md#itol",
    "l2h export itol": "views.md#itol",
    "l2h train": "train.md",
    "l2h train cohiclust": "train.md",
    "l2h train cc": "train.md",
    "l2h predict": "train.md",
    "l2h warmup": "build.md#the-first-run-compiles-the-kernels",
}

_FENCED_SHELL = re.compile(r"^```(?:bash|sh|console)\s*$(.*?)^```\s*$", re.M | re.S)


def guide_examples(paths: list[str]) -> dict[str, list[tuple[str, str]]]:
    """``{command path: [(page, command line), ...]}``: the ``l2h`` lines of the guides' shell blocks,
    each under the longest command path it starts with."""
    found: dict[str, list[tuple[str, str]]] = {path: [] for path in paths}
    by_length = sorted(paths, key=len, reverse=True)
    for page in sorted(DOCS.glob("*.md")):
        for block in _FENCED_SHELL.findall(page.read_text(encoding="utf-8")):
            for line in re.sub(r"\\\n\s*", "", block).splitlines():
                line = line.strip()
                for path in by_length:
                    if line == path or line.startswith(path + " "):
                        found[path].append((page.name, line))
                        break
    return found


def _title(link: str) -> str:
    """The heading a guide link points at: the section's for ``page.md#anchor``, else the page's title."""
    page, _, anchor = link.partition("#")
    headings = re.findall(r"^#+ (.+)$", (DOCS / page).read_text(encoding="utf-8"), flags=re.M)
    for heading in headings:
        plain = re.sub(r"[^\w\s-]", "", heading.replace("`", "")).strip().lower()
        if anchor and re.sub(r"[-\s]+", "-", plain) == anchor:
            return heading.replace("`", "")
    return headings[0].replace("`", "") if headings else page


def cli_commands() -> list[tuple[str, Any]]:
    """``(command path, click command)`` for every ``l2h`` command and sub-command, sorted."""
    import click
    from l2h_cli.main import cli

    found: list[tuple[str, Any]] = []

    def walk(prefix: str, group: click.Group, ctx: click.Context) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            path = f"{prefix} {name}"
            found.append((path, command))
            if isinstance(command, click.Group):
                walk(path, command, click.Context(command, info_name=name, parent=ctx))

    walk("l2h", cli, click.Context(cli, info_name="l2h"))
    return found


def _help_text(path: str, command: Any) -> str:
    import click
    from l2h_cli.main import cli

    ctx = click.Context(cli, info_name="l2h", terminal_width=80, max_content_width=80)
    for part in path.split()[1:]:
        group = ctx.command
        sub = group.get_command(ctx, part)  # type: ignore[attr-defined]
        ctx = click.Context(sub, info_name=part, parent=ctx, terminal_width=80, max_content_width=80)
    return ctx.get_help()


def _cli_page(path: str, command: Any, examples: list[tuple[str, str]]) -> str:
    summary = (command.get_short_help_str(limit=200) or "").strip()
    page = f"# `{path}`\n\n{summary}\n\n"
    if path in GUIDES:
        page += f"Explained with examples in [{_title(GUIDES[path])}](../{GUIDES[path]}).\n\n"
    page += f"```text\n{_help_text(path, command)}\n```\n"
    if examples:
        page += "\n## Examples from the guides\n"
        for name in dict.fromkeys(name for name, _ in examples):
            lines = "\n".join(line for page_name, line in examples if page_name == name)
            page += f"\nFrom [{_title(name)}](../{name}):\n\n```bash\n{lines}\n```\n"
    return page


def _cli_index(commands: list[tuple[str, Any]]) -> str:
    rows = "\n".join(
        f"| [`{path}`]({path.replace(' ', '_')}.md) | {command.get_short_help_str(limit=200)} |"
        for path, command in commands
    )
    return (
        "# Commands\n\n"
        "Every command's `--help`, as the terminal prints it. The guides ([build](../build.md),\n"
        "[metrics](../metrics.md), [views](../views.md), ...) explain them with examples.\n\n"
        f"| command | what it does |\n|---|---|\n{rows}\n"
    )


def on_config(config: Any) -> Any:
    """Append the generated sections to the navigation."""
    nav = config["nav"]
    commands = [{path: f"cli/{path.replace(' ', '_')}.md"} for path, _ in cli_commands()]
    nav.append({"Commands": [{"Overview": "cli/index.md"}, *commands]})
    nav.append({"API reference": [{"Overview": "api/index.md"}, *({n: f"api/{n}.md"} for n in public_modules())]})
    return config


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages and the mounted repository files."""
    from mkdocs.structure.files import File

    names = public_modules()
    files.append(File.generated(config, "api/index.md", content=_api_index(names)))
    for name in names:
        files.append(File.generated(config, f"api/{name}.md", content=_api_page(name)))
    commands = cli_commands()
    files.append(File.generated(config, "cli/index.md", content=_cli_index(commands)))
    examples = guide_examples([path for path, _ in commands])
    for path, command in commands:
        page = _cli_page(path, command, examples[path])
        files.append(File.generated(config, f"cli/{path.replace(' ', '_')}.md", content=page))
    for folder, suffixes in MOUNTS.items():
        for source in sorted((ROOT / folder).iterdir()):
            if source.is_file() and source.suffix in suffixes:
                files.append(File.generated(config, f"{folder}/{source.name}", abs_src_path=str(source)))
    return files


def module_map() -> str:
    """A Markdown table of every module of ``l2h``, ``l2h_cli`` and ``cohiclust_extra``: the first
    line of its docstring."""
    import ast

    rows = []
    for folder, package in (("l2h", "l2h"), ("cli", "l2h_cli"), ("cohiclust_extra", "cohiclust_extra")):
        for path in sorted((ROOT / folder).rglob("*.py")):
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            summary = " ".join(doc.strip().split("\n\n")[0].split()).replace("|", "\\|")
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            dotted = ".".join((package, *parts)).removesuffix(".__init__")
            rows.append(f"| `{folder}/{path.relative_to(ROOT / folder).as_posix()}` | `{dotted}` | {summary} |")
    return "| file | module | what it holds |\n|---|---|---|\n" + "\n".join(rows) + "\n"


def layer_map() -> str:
    """The README's layer map (the code block between its ``layer-map`` markers): one home for it,
    checked against the imports by ``tests/test_import_graph.py``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("<!-- layer-map -->")[1].split("<!-- /layer-map -->")[0].strip() + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill in the module and layer maps; links that leave ``docs/`` for a mounted folder point at the
    mounted copy."""
    if "<!-- module-map -->" in markdown:
        markdown = markdown.replace("<!-- module-map -->", module_map())
    if "<!-- layer-map -->" in markdown:
        markdown = markdown.replace("<!-- layer-map -->", layer_map())
    page_dir = posixpath.dirname(page.file.src_uri)

    def rewrite(match: re.Match[str]) -> str:
        target = match.group(2)
        if "://" in target or target.startswith(("#", "mailto:")):
            return match.group(0)
        in_repo = posixpath.normpath(posixpath.join("docs", page_dir, target))
        if in_repo.split("/")[0] not in MOUNTS:
            return match.group(0)
        return match.group(1) + posixpath.relpath(in_repo, page_dir or ".") + match.group(3)

    return _LINK.sub(rewrite, markdown)
