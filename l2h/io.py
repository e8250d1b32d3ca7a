"""Reading and writing l2h's files: the public I/O functions in one module.

* input arrays and name lists: :func:`load_array`, :func:`read_names`, :func:`check_input_file`
  (defined in :mod:`l2h.arrays`);
* trees: :func:`read_tree`, :func:`write_tree` (the format its suffix names, written atomically),
  :func:`to_newick` / :func:`from_newick`, :func:`to_json_dict` / :func:`from_json_text`,
  :func:`tree_format_for` (the formats themselves are :mod:`l2h.treeio`'s);
* atomic writes: :func:`write_atomic`, :func:`save_npy_atomic`, :func:`check_output_path`
  (defined in :mod:`l2h.files`);
* :class:`InputError`, the one-line error every reader raises.

Modules inside l2h import these from where they are defined; this module is for users.

Examples
--------
>>> tree = from_newick("((a,b),c);")
>>> to_newick(tree, branch_lengths=False)
'((a,b)n3,c)n4;'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from l2h._validation import InputError
from l2h.arrays import ARRAY_SUFFIXES, check_input_file, load_array, read_names
from l2h.files import check_output_path, npy_bytes, save_npy_atomic, write_atomic
from l2h.hierarchy import Hierarchy, read_tree
from l2h.treeio import JSON_FORMAT, JSON_VERSION, TREE_FORMATS, tree_format_for

__all__ = [
    "ARRAY_SUFFIXES",
    "JSON_FORMAT",
    "JSON_VERSION",
    "TREE_FORMATS",
    "InputError",
    "check_input_file",
    "check_output_path",
    "from_json_text",
    "from_newick",
    "load_array",
    "read_names",
    "read_tree",
    "save_npy_atomic",
    "to_json_dict",
    "to_newick",
    "tree_bytes",
    "tree_format_for",
    "write_atomic",
    "write_tree",
]


def to_newick(tree: Hierarchy, *, branch_lengths: bool = True, internal_labels: bool = True) -> str:
    """Newick text of ``tree``; same as :meth:`Hierarchy.to_newick`.

    Parameters
    ----------
    tree : Hierarchy
        The tree to write.
    branch_lengths : bool, default True
        Write ``:length`` after each node (height differences).
    internal_labels : bool, default True
        Name the internal nodes (``n<id>``).

    Returns
    -------
    str
        One line of Newick ending with ``;``.

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [3, 2]], leaf_names=["a", "b", "c"])
    >>> to_newick(tree)
    '((a:1,b:1)n3:1,c:2)n4;'
    >>> to_newick(tree, branch_lengths=False, internal_labels=False)
    '((a,b),c);'
    """
    return tree.to_newick(branch_lengths=branch_lengths, internal_labels=internal_labels)


def from_newick(text: str, leaf_names: Sequence[str] | None = None) -> Hierarchy:
    """A :class:`Hierarchy` from Newick text; same as :meth:`Hierarchy.from_newick`.

    Parameters
    ----------
    text : str
        Newick text of a rooted binary tree.
    leaf_names : sequence of str, optional
        Leaf order: leaf ``j`` is the leaf named ``leaf_names[j]``; by default the file's order.

    Returns
    -------
    Hierarchy
        The tree.

    Raises
    ------
    ValueError
        If the text is not a valid binary Newick tree or does not match ``leaf_names``.

    Examples
    --------
    >>> from_newick("((a,b),c);").n_leaves
    3
    """
    return Hierarchy.from_newick(text, leaf_names=leaf_names)


def to_json_dict(tree: Hierarchy) -> dict[str, Any]:
    """The versioned JSON document of ``tree``; same as :meth:`Hierarchy.to_dict`.

    Parameters
    ----------
    tree : Hierarchy
        The tree to describe.

    Returns
    -------
    dict
        A JSON-serialisable mapping (``format``, ``version``, ``merges``, ``heights``,
        ``leaf_names``, ...).

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [3, 2]], leaf_names=["a", "b", "c"])
    >>> to_json_dict(tree)["leaf_names"]
    ['a', 'b', 'c']
    """
    return tree.to_dict()


def from_json_text(text: str) -> Hierarchy:
    """A :class:`Hierarchy` from l2h JSON text; same as :meth:`Hierarchy.from_json`.

    Parameters
    ----------
    text : str
        The JSON document written by :meth:`Hierarchy.to_json` (or :func:`to_json_dict`).

    Returns
    -------
    Hierarchy
        The tree.

    Raises
    ------
    ValueError
        If the text is not JSON or not a valid l2h tree document.

    Examples
    --------
    >>> import json
    >>> tree = Hierarchy.from_merges([[0, 1], [3, 2]], leaf_names=["a", "b", "c"])
    >>> from_json_text(json.dumps(to_json_dict(tree))).same_topology(tree)
    True
    """
    return Hierarchy.from_json(text)


def write_tree(hierarchy: Hierarchy, path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """Write ``hierarchy`` atomically as Newick, JSON or a linkage ``.npy``.

    Parameters
    ----------
    hierarchy : Hierarchy
    path : str or path-like
        Destination; written through a temporary file and a rename (:func:`l2h.files.write_atomic`).
    fmt : {"newick", "json", "linkage"}, optional
        Default from the suffix (``.nwk``/``.newick``/``.tree``, ``.json``, ``.npy``).

    Returns
    -------
    str
        The format written.
    """
    kind = tree_format_for(path, fmt)
    write_atomic(path, tree_bytes(hierarchy, kind))
    return kind


def tree_bytes(hierarchy: Hierarchy, fmt: str) -> bytes:
    """The bytes of ``hierarchy`` as a tree file: what :func:`write_tree` writes.

    Parameters
    ----------
    hierarchy : Hierarchy
    fmt : {"newick", "json", "linkage"}
        The format (:func:`l2h.treeio.tree_format_for` names it from a path).

    Returns
    -------
    bytes
        One line of Newick or JSON (UTF-8, with a final newline), or a scipy linkage ``.npy``.

    Examples
    --------
    >>> tree_bytes(Hierarchy.from_merges([[0, 1]], leaf_names=["a", "b"]), "newick")
    b'(a:1,b:1)n2;\\n'
    """
    if fmt == "newick":
        return (hierarchy.to_newick() + "\n").encode("utf-8")
    if fmt == "json":
        return (hierarchy.to_json() + "\n").encode("utf-8")
    if fmt == "linkage":
        return npy_bytes(hierarchy.to_scipy())
    raise ValueError(f"fmt must be one of newick, json, linkage; got {fmt!r}")
