"""Griffe extension: the Sphinx roles of l2h's docstrings become links of the site.

The docstrings are numpydoc, read by Sphinx-minded tools and by ``help()``; they cross-reference with
Sphinx roles (``:func:`evaluate```, ``:class:`~l2h.Hierarchy```).  MkDocs does not know these roles, so
this extension rewrites each one before mkdocstrings renders the docstring: a target that the API
reference documents (a public object with a docstring, in a public module) becomes an autorefs link to
it, resolved the way Sphinx does (the enclosing class, then the module, then the package); any other
target (a private helper, another library's object) becomes plain code.  ``~`` shows only the last
part of the name, as in Sphinx.  A ``.. math::`` directive becomes a ``$$ ... $$`` display formula
(pymdownx.arithmatex; MathJax draws it in the browser).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_MATH = re.compile(r"^([ \t]*)\.\. math::[ \t]*(.*(?:\n\1[ \t]+\S.*)*)", re.M)
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
        for obj in _walk(pkg):
            if obj.docstring is not None:
                text = _ROLE.sub(lambda m, obj=obj: _rewrite(m, obj, pkg), obj.docstring.value)
                obj.docstring.value = _MATH.sub(_math, text)


def _walk(obj: Any) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


def _math(match: re.Match[str]) -> str:
    """``.. math:: formula`` (continued on indented lines) -> a display formula, ``$$ ... $$``."""
    indent, formula = match.groups()
    lines = [line.strip() for line in formula.splitlines()]
    return f"{indent}$$\n" + "".join(f"{indent}{line}\n" for line in lines) + f"{indent}$$"


def _rewrite(match: re.Match[str], obj: Any, pkg: Any) -> str:
    tilde, target, call = match.groups()
    text = (target.rsplit(".", 1)[-1] if tilde else target) + (call or "")
    candidates = [target] + [f"{scope}.{target}" for scope in _scopes(obj)]
    for candidate in candidates:
        found = _lookup(pkg, candidate)
        if found is not None and _documented(found):
            return f"[`{text}`][{found.path}]"
    return f"`{text}`"
