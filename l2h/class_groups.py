"""The class -> group file (e.g. CIFAR-100's 20 superclasses): one reader for views and taxonomies.

Two layouts; blank lines and lines starting with ``#`` are ignored:

* two columns, ``class<TAB>group`` on every line; ``class`` is a class name or, when the class
  names are known, an integer class id;
* one column: the group of class id ``i`` on line ``i + 1`` (one line per class).

:func:`l2h.itol.read_class_groups` (the views' ``--groups``) and :func:`l2h.read_taxonomy` (a
``groups`` taxonomy) both read it with :func:`parse_groups`.

Examples
--------
>>> rows = parse_groups("cat\\tanimal\\n2\\tvehicle\\n", "groups.tsv", ["cat", "lynx", "car"])
>>> rows.names, rows.groups, rows.ids
(('cat', 'car'), ('animal', 'vehicle'), (0, 2))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from l2h._validation import InputError
from l2h.text import text_lines

__all__ = ["ClassGroups", "content_lines", "parse_groups"]


@dataclass(frozen=True)
class ClassGroups:
    """The rows of a groups file, in file order.

    Attributes
    ----------
    names : tuple of str
        The class of every row: its class name when the class names are known (a class id is
        turned into its name), else as written (``"0"``, ``"1"``, ... for a one-column file).
    groups : tuple of str
        The group of every row.
    ids : tuple of int, or None
        The class id of every row; None when read without class names.
    """

    names: tuple[str, ...]
    groups: tuple[str, ...]
    ids: tuple[int, ...] | None


def content_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of every line that is not blank and does not start with ``#``.

    Parameters
    ----------
    text : str
        The file's content.

    Returns
    -------
    list of (int, str)
        1-based line numbers and the lines, without their line ends.

    Examples
    --------
    >>> content_lines("# header\\ncat\\n\\ndog\\n")
    [(2, 'cat'), (4, 'dog')]
    """
    rows = list(enumerate(text_lines(text), start=1))  # a line ends at "\n" only
    return [(n, line) for n, line in rows if line.strip(" \t") and not line.lstrip(" \t").startswith("#")]


def parse_groups(text: str, source: str, class_names: Sequence[str] | None = None) -> ClassGroups:
    """Read the text of a groups file (see the module docstring).

    Parameters
    ----------
    text : str
        The file's content.
    source : str
        What the text is (e.g. ``"groups file g.tsv"``): every error message starts with it.
    class_names : sequence of str, optional
        The name of every class id.  With it, every class must be one of them (or an id below
        their number) and a one-column file has exactly one line per class.

    Returns
    -------
    ClassGroups

    Raises
    ------
    InputError
        An empty file, a malformed line, an unknown class, a class listed twice, or a one-column
        file whose line count is not the number of classes; one line naming ``source``.
    """
    rows = content_lines(text)
    if not rows:
        raise InputError(f"{source} is empty: it holds no classes")
    tabbed = ["\t" in line for _, line in rows]
    if all(tabbed):
        return _two_columns(rows, source, class_names)
    if any(tabbed):
        lineno = rows[tabbed.index(False)][0]
        raise InputError(f"{source}, line {lineno}: expected 'class<TAB>group' like the other lines")
    if class_names is not None and len(rows) != len(class_names):
        raise InputError(
            f"{source} has {len(rows)} lines but there are {len(class_names)} classes "
            "(one group per class id, or 'class<TAB>group' lines)"
        )
    groups = tuple(line.strip(" \t") for _, line in rows)
    if class_names is None:
        return ClassGroups(names=tuple(str(i) for i in range(len(rows))), groups=groups, ids=None)
    return ClassGroups(names=tuple(class_names), groups=groups, ids=tuple(range(len(rows))))


def _two_columns(rows: list[tuple[int, str]], source: str, class_names: Sequence[str] | None) -> ClassGroups:
    by_name = None if class_names is None else {name: c for c, name in enumerate(class_names)}
    names: list[str] = []
    groups: list[str] = []
    ids: list[int] = []
    seen: set[str | int] = set()
    for lineno, line in rows:
        cells = [cell.strip(" ") for cell in line.split("\t")]
        if len(cells) != 2 or not cells[0] or not cells[1]:
            raise InputError(f"{source}, line {lineno}: expected 'class<TAB>group'; got {line.strip()!r}")
        name = cells[0]
        key: str | int = name
        if by_name is not None and class_names is not None:
            c = by_name.get(name)
            if c is None and name.isdecimal() and int(name) < len(class_names):
                c = int(name)
            if c is None:
                raise InputError(f"{source}, line {lineno}: unknown class {name!r} (not in the class names)")
            key, name = c, class_names[c]
            ids.append(c)
        if key in seen:
            raise InputError(f"{source}, line {lineno}: class {name!r} is listed twice")
        seen.add(key)
        names.append(name)
        groups.append(cells[1])
    return ClassGroups(names=tuple(names), groups=tuple(groups), ids=None if class_names is None else tuple(ids))
