"""Griffe extension: the Sphinx roles of l2h's docstrings become links of the site.

The docstrings are numpydoc, read by Sphinx-minded tools and by ``help()``; they cross-reference with
Sphinx roles (``:func:`evaluate```, ``:class:`~l2h.Hierarchy```).  MkDocs does not know these roles, so
this extension rewrites each one before mkdocstrings renders the docstring: a target that the API
reference documents (a public object with a docstring, in a public module) becomes an autorefs link to
it, resolved the way Sphinx does (the enclosing class, then the module, then the package); any other
target (a private helper, another library's object) becomes plain code.  ``~`` shows only the last
part of the name, as in Sphinx.  A ``.. math::`` directive becomes a ``$$ ... $$`` display formula
(pymdownx.arithmatex; MathJax draws it in the browser).  A module docstring's own section of
definitions (the package's "Public API") becomes a list.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

_MATH = re.compile(r"^([ \t]*)\.\. math::[ \t]*(.*(?:\n\1[ \t]+\S.*)*)", re.M)
_STANDARD = "|".join(
    ("Parameters", "Returns", "Yields", "Receives", "Raises", "Warns", "Warnings", "Other Parameters")
    + ("Attributes", "Methods", "See Also", "Notes", "References", "Examples")
)
_HEAD = r"^[A-Z][A-Za-z ]+\n-{3,}\n"
_DEFINITIONS = re.compile(rf"^(?!(?:{_STANDARD})\n)([A-Z][A-Za-z ]+)\n-{{3,}}\n(.*?)(?={_HEAD}|\Z)", re.M | re.S)
_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|data|exc|obj|const):`(~?)\.?([\w.]+)(\(\))?`")


def _lookup(package: Any, path: str) -> Any | None:
    parts = path.split(".")
    if parts[0] != package.name:
        return None
    obj = package
    for part in parts[1:]:
        try:
            obj = obj.members[part]
            if obj.is_alias:
                obj = obj.final_target
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
    return obj


def _documented(obj: Any) -> bool:
    """Whether the API reference renders ``obj`` (and so gives it an anchor)."""
    node = obj
    while node is not None:
        if node.name.startswith("_") and node.name != "__init__":
            return False
        if not node.is_module and not (node.is_public and node.docstring):
            return False
        node = node.parent
    return True


def _scopes(obj: Any) -> list[str]:
    scopes = []
    node = obj
    while node is not None:
        if node.is_class or node.is_module:
            scopes.append(node.path)
        node = node.parent
    return scopes


class SphinxRoles(griffe.Extension):
    """Rewrite the Sphinx roles of every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        lazy = _lazy_names(pkg)
        for obj in _walk(pkg):
            if obj.docstring is not None:
                text = _ROLE.sub(lambda m, obj=obj: _rewrite(m, obj, pkg, lazy), obj.docstring.value)
                text = _MATH.sub(_math, text)
                if obj.is_module:
                    text = _DEFINITIONS.sub(_definitions, text)
                obj.docstring.value = text


def _lazy_names(pkg: Any) -> dict[str, str]:
    """``{"l2h.build_hierarchy": "l2h.merge.build_hierarchy", ...}``: what each module's ``__getattr__``
    imports on first use (``from MODULE import NAME``), which static analysis does not see."""
    import ast

    found = {}
    for obj in _walk(pkg):
        getattr_ = obj.members.get("__getattr__") if obj.is_module else None
        if getattr_ is None or getattr_.is_alias or not getattr_.source:
            continue
        for node in ast.walk(ast.parse(textwrap.dedent(getattr_.source))):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    found[f"{obj.path}.{alias.asname or alias.name}"] = f"{node.module}.{alias.name}"
    return found


def _walk(obj: Any) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


def _definitions(match: re.Match[str]) -> str:
    """A module docstring's own section of numpydoc definitions (``name`` then indented text, as the
    package's "Public API") -> a bold title and a list, instead of an admonition of run-on lines."""
    title, body = match.groups()
    items = re.findall(r"^(\S.*)\n((?:[ \t]+\S.*\n?)+)", body, flags=re.M)
    if not items:
        return match.group(0)
    lines = [f"- `{term.strip()}`: {' '.join(text.split())}" for term, text in items]
    return f"**{title}**\n\n" + "\n".join(lines) + "\n\n"


def _math(match: re.Match[str]) -> str:
    """``.. math:: formula`` (continued on indented lines) -> a display formula, ``$$ ... $$``."""
    indent, formula = match.groups()
    lines = [line.strip() for line in formula.splitlines()]
    return f"{indent}$$\n" + "".join(f"{indent}{line}\n" for line in lines) + f"{indent}$$"


def _rewrite(match: re.Match[str], obj: Any, pkg: Any, lazy: dict[str, str]) -> str:
    tilde, target, call = match.groups()
    text = (target.rsplit(".", 1)[-1] if tilde else target) + (call or "")
    candidates = [target] + [f"{scope}.{target}" for scope in _scopes(obj)]
    for candidate in candidates:
        found = _lookup(pkg, lazy.get(candidate, candidate))
        if found is not None and _documented(found):
            return f"[`{text}`][{found.path}]"
    return f"`{text}`"
