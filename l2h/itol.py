r"""iTOL (Interactive Tree Of Life, https://itol.embl.de) bundles: a tree plus annotation files.

A bundle is a folder holding

``tree.nwk``
    The tree, leaves named by their iTOL IDs (see :func:`itol_ids`), internal nodes ``n<node id>``.
``itol_labels.txt`` (``LABELS``)
    Every leaf shown as its name (the cluster id), its most frequent class and that class's share in
    percent (``7: dog 93%``), as in the L2H paper's figures; without labels, only written when some
    leaf ID had to differ from the leaf's name (it then shows the original name).
``itol_colorstrip.txt`` (``DATASET_COLORSTRIP``)
    A strip coloured by the leaf's group (the group of its majority class, ``--groups``) or, without
    groups, by the majority class; with a legend.
``itol_simplebar.txt`` (``DATASET_SIMPLEBAR``)
    Points per leaf.
``itol_tree_colors.txt`` (``TREE_COLORS``)
    Every maximal clade whose leaves all share a group (or a majority class): a coloured range
    behind it and coloured branches.

All annotation files use ``SEPARATOR TAB``.  IDs never contain a tab, space, quote, comma, ``#`` or
``|``: leaf names made of ``A-Z a-z 0-9 _ . -`` are kept, others are sanitised (runs of other
characters become ``_``) and de-duplicated; internal node IDs are ``n<id>``, never numeric (iTOL
reads numeric internal labels as support values).  Label and legend texts have tabs and line breaks
replaced by spaces and other control characters shown as visible escapes (``\\x1b``).

Examples
--------
>>> import numpy as np
>>> from l2h import Hierarchy
>>> from l2h.annotate import leaf_stats
>>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
>>> stats = leaf_stats(tree, np.array([0, 0, 1, 2, 3, 3, 3]), np.array([0, 0, 0, 1, 1, 1, 0]),
...                    class_names=["cat", "car"])
>>> bundle = itol_bundle(tree, stats)
>>> sorted(bundle.files)
['itol_colorstrip.txt', 'itol_labels.txt', 'itol_simplebar.txt', 'itol_tree_colors.txt', 'tree.nwk']
>>> print(bundle.files["itol_labels.txt"].replace("\t", " | "), end="")
LABELS
SEPARATOR TAB
DATA
0 | 0: cat 100%
1 | 1: cat 100%
2 | 2: car 100%
3 | 3: car 66%
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from l2h._validation import InputError
from l2h.annotate import (  # clade_keys, uniform_clades: part of this module's API too
    LeafStats,
    clade_keys,
    group_colors,
    leaf_captions,
    one_line,
    uniform_clades,
)
from l2h.class_groups import parse_groups
from l2h.files import OutputSet
from l2h.hierarchy import Hierarchy

__all__ = [
    "BUNDLE_FILES",
    "ItolBundle",
    "clade_keys",
    "itol_bundle",
    "itol_ids",
    "read_class_groups",
    "uniform_clades",
    "write_itol_bundle",
]

SEP = "\t"
TREE_FILE = "tree.nwk"
LABELS_FILE = "itol_labels.txt"
COLORSTRIP_FILE = "itol_colorstrip.txt"
SIMPLEBAR_FILE = "itol_simplebar.txt"
TREE_COLORS_FILE = "itol_tree_colors.txt"
#: Every file a bundle may hold, in the order they are listed to the user.
BUNDLE_FILES = (TREE_FILE, LABELS_FILE, COLORSTRIP_FILE, SIMPLEBAR_FILE, TREE_COLORS_FILE)
BAR_COLOR = "#4a6fa5"

_SAFE_ID = re.compile(r"[A-Za-z0-9_.\-]+")  # used with fullmatch: `$` would let a final "\n" through
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class ItolBundle:
    """The texts of an iTOL bundle, before writing.

    Attributes
    ----------
    files : dict of str to str
        File name -> content, in :data:`BUNDLE_FILES` order.
    skipped : dict of str to str
        File name -> why it was not produced (e.g. no labels given).
    ids : tuple of str
        iTOL ID of every leaf.
    """

    files: dict[str, str]
    skipped: dict[str, str] = field(default_factory=dict)
    ids: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------- IDs and text
def itol_ids(tree: Hierarchy) -> tuple[str, ...]:
    """A safe, unique iTOL ID for every leaf (see the module docstring).

    Names that are already safe are kept unchanged, so cluster ids ``0..K-1`` stay as they are.

    Parameters
    ----------
    tree : Hierarchy
        The tree whose ``leaf_names`` are turned into IDs.

    Returns
    -------
    tuple of str, length K
        IDs made of ``A-Z a-z 0-9 _ . -``, distinct from each other and from the internal IDs
        ``n<node id>``.

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["big cat", "dog", "a|b", "n5"])
    >>> itol_ids(tree)
    ('big_cat', 'dog', 'a_b', 'n5_3')
    """
    reserved = {f"n{node}" for node in range(tree.n_leaves, tree.n_nodes)}
    wanted = []
    for i, name in enumerate(tree.leaf_names):
        base = name if _SAFE_ID.fullmatch(name) else _UNSAFE_RUN.sub("_", name).strip("_")
        wanted.append(base or f"leaf_{i}")
    keep = {w for w, name in zip(wanted, tree.leaf_names, strict=True) if w == name}
    taken = set(reserved)
    out = []
    for i, (base, name) in enumerate(zip(wanted, tree.leaf_names, strict=True)):
        candidate = base
        if candidate in taken or (candidate != name and candidate in keep):
            candidate = f"{base}_{i}"
            j = 2
            while candidate in taken or candidate in keep:
                candidate = f"{base}_{i}_{j}"
                j += 1
        taken.add(candidate)
        out.append(candidate)
    return tuple(out)


def _text(value: object) -> str:
    """A label or legend text with no tab or line break (they would break the TAB-separated line) and
    no raw control character (escape sequences become visible ``\\x1b`` text)."""
    return one_line(value).strip()


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- annotation files
def labels_text(ids: Sequence[str], labels: Sequence[str]) -> str:
    """``LABELS`` file: one display label per node ID.

    Parameters
    ----------
    ids : sequence of str
        iTOL node IDs (see :func:`itol_ids`).
    labels : sequence of str
        Display label of each ID, same length (tabs and line breaks become spaces).

    Returns
    -------
    str
        The file's text, TAB-separated, ending with a newline.

    Examples
    --------
    >>> print(labels_text(["0", "1"], ["cat 93%", "dog 60%"]).replace(chr(9), " | "), end="")
    LABELS
    SEPARATOR TAB
    DATA
    0 | cat 93%
    1 | dog 60%
    """
    return _lines("LABELS", "SEPARATOR TAB", "DATA", *(f"{i}{SEP}{_text(t)}" for i, t in zip(ids, labels, strict=True)))


def colorstrip_text(ids: Sequence[str], keys: Sequence[str | None], colors: dict[str, str], title: str) -> str:
    """``DATASET_COLORSTRIP`` file: a coloured box per leaf, with a legend.

    Leaves with key None are left out; the legend lists ``colors`` in order (no legend lines when
    ``colors`` is empty: iTOL wants at least one entry on each).

    Parameters
    ----------
    ids : sequence of str
        iTOL leaf IDs.
    keys : sequence of (str or None)
        The colour key (group or class name) of each leaf, same length.
    colors : dict of str to str
        Key -> ``#rrggbb`` colour; must hold every non-None key.
    title : str
        Dataset label and legend title.

    Returns
    -------
    str
        The file's text, TAB-separated, ending with a newline.

    Examples
    --------
    >>> text = colorstrip_text(["a", "b", "c"], ["x", None, "y"], {"x": "#0072b2", "y": "#e69f00"}, "groups")
    >>> print(text.replace(chr(9), " | "), end="")
    DATASET_COLORSTRIP
    SEPARATOR TAB
    DATASET_LABEL | groups
    COLOR | #0072b2
    LEGEND_TITLE | groups
    LEGEND_SHAPES | 1 | 1
    LEGEND_COLORS | #0072b2 | #e69f00
    LEGEND_LABELS | x | y
    DATA
    a | #0072b2 | x
    c | #e69f00 | y
    """
    legend = list(colors)
    header = [
        "DATASET_COLORSTRIP",
        "SEPARATOR TAB",
        f"DATASET_LABEL{SEP}{_text(title)}",
        f"COLOR{SEP}{colors[legend[0]] if legend else '#808080'}",
    ]
    if legend:
        header += [
            f"LEGEND_TITLE{SEP}{_text(title)}",
            SEP.join(["LEGEND_SHAPES", *(["1"] * len(legend))]),
            SEP.join(["LEGEND_COLORS", *(colors[k] for k in legend)]),
            SEP.join(["LEGEND_LABELS", *(_text(k) for k in legend)]),
        ]
    header.append("DATA")
    data = [f"{i}{SEP}{colors[k]}{SEP}{_text(k)}" for i, k in zip(ids, keys, strict=True) if k is not None]
    return _lines(*header, *data)


def simplebar_text(ids: Sequence[str], values: Sequence[int] | np.ndarray, title: str = "points per leaf") -> str:
    """``DATASET_SIMPLEBAR`` file: one bar per leaf.

    Parameters
    ----------
    ids : sequence of str
        iTOL leaf IDs.
    values : sequence of int or ndarray, same length
        Bar length of each leaf (points per leaf).
    title : str, default "points per leaf"
        Dataset label.

    Returns
    -------
    str
        The file's text, TAB-separated, ending with a newline.

    Examples
    --------
    >>> print(simplebar_text(["a", "b"], [3, 4]).replace(chr(9), " | "), end="")
    DATASET_SIMPLEBAR
    SEPARATOR TAB
    DATASET_LABEL | points per leaf
    COLOR | #4a6fa5
    DATA
    a | 3
    b | 4
    """
    header = [
        "DATASET_SIMPLEBAR",
        "SEPARATOR TAB",
        f"DATASET_LABEL{SEP}{_text(title)}",
        f"COLOR{SEP}{BAR_COLOR}",
        "DATA",
    ]
    return _lines(*header, *(f"{i}{SEP}{int(v)}" for i, v in zip(ids, values, strict=True)))


def tree_colors_text(tree: Hierarchy, keys: Sequence[str | None], colors: dict[str, str]) -> str:
    """``TREE_COLORS`` file: a coloured range and coloured branches for every uniform clade.

    Parameters
    ----------
    tree : Hierarchy
        The tree (internal node IDs are ``n<node id>``).
    keys : sequence of (str or None), length K
        The colour key of each leaf (see :func:`uniform_clades`).
    colors : dict of str to str
        Key -> ``#rrggbb`` colour; must hold every key of a uniform clade.

    Returns
    -------
    str
        The file's text, TAB-separated, ending with a newline.

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> text = tree_colors_text(tree, ["x", "x", "y", "y"], {"x": "#0072b2", "y": "#e69f00"})
    >>> print(text.replace(chr(9), " | "), end="")
    TREE_COLORS
    SEPARATOR TAB
    DATA
    n4 | range | #0072b2 | x
    n4 | clade | #0072b2 | normal | 2
    n5 | range | #e69f00 | y
    n5 | clade | #e69f00 | normal | 2
    """
    data = []
    for node, key in uniform_clades(tree, keys):
        data.append(f"n{node}{SEP}range{SEP}{colors[key]}{SEP}{_text(key)}")
        data.append(f"n{node}{SEP}clade{SEP}{colors[key]}{SEP}normal{SEP}2")
    return _lines("TREE_COLORS", "SEPARATOR TAB", "DATA", *data)


# ---------------------------------------------------------------------------------------------- bundle
def itol_bundle(tree: Hierarchy, stats: LeafStats | None = None) -> ItolBundle:
    """All the files that can be made from ``tree`` and ``stats``; the others are in ``skipped``.

    Parameters
    ----------
    tree : Hierarchy
    stats : LeafStats, optional
        Points per leaf (for the bars) and the leaf x class table (labels, strip, clade colours).

    Returns
    -------
    ItolBundle
    """
    stats = stats or LeafStats()
    ids = itol_ids(tree)
    files: dict[str, str] = {TREE_FILE: tree.with_leaf_names(ids).to_newick() + "\n"}
    skipped: dict[str, str] = {}
    renamed = any(i != name for i, name in zip(ids, tree.leaf_names, strict=True))
    if stats.has_labels:
        # the leaf's own name (its cluster id) first: iTOL shows the label instead of the ID
        captions = leaf_captions(stats)
        files[LABELS_FILE] = labels_text(ids, [f"{n}: {c}" for n, c in zip(tree.leaf_names, captions, strict=True)])
    elif renamed:
        files[LABELS_FILE] = labels_text(ids, tree.leaf_names)
    else:
        skipped[LABELS_FILE] = "no labels given (--labels)"
    if stats.has_labels:
        keys = stats.leaf_groups()
        colors = group_colors(tree, stats)
        title = "group" if stats.class_groups is not None else "majority class"
        files[COLORSTRIP_FILE] = colorstrip_text(ids, keys, colors, title)
    else:
        skipped[COLORSTRIP_FILE] = "no labels given (--labels)"
    if stats.sizes is not None:
        files[SIMPLEBAR_FILE] = simplebar_text(ids, stats.sizes)
    else:
        skipped[SIMPLEBAR_FILE] = "no points given (--logits or --assignments)"
    if stats.has_labels:
        files[TREE_COLORS_FILE] = tree_colors_text(tree, keys, colors)
    else:
        skipped[TREE_COLORS_FILE] = "no labels given (--labels)"
    ordered = {name: files[name] for name in BUNDLE_FILES if name in files}
    return ItolBundle(files=ordered, skipped=skipped, ids=ids)


def write_itol_bundle(bundle: ItolBundle, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the bundle into ``out_dir``, all files or none.

    The files go through one :class:`l2h.files.OutputSet` (the guard of every command's outputs):
    each is staged next to its destination, then all are renamed into place; if one rename fails the
    files already replaced are restored, and a folder created for the bundle is removed again.  Bundle
    files left from an earlier run that this bundle does not hold are removed in the same commit (so
    the folder never mixes two runs); other files in ``out_dir`` are left alone.

    Parameters
    ----------
    bundle : ItolBundle
        The bundle (see :func:`itol_bundle`).
    out_dir : str or os.PathLike
        The bundle folder; created if missing (its parent must exist).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    InputError
        When ``out_dir`` is not a folder, its parent is missing, or a file cannot be written.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [path.name for path in write_itol_bundle(itol_bundle(tree), pathlib.Path(tmp, "itol"))]
    ['tree.nwk']
    """
    out = Path(out_dir)
    paths = bundle_paths(out)
    with OutputSet(outputs={"iTOL bundle file": paths}, create_folders=[out]) as outputs:
        return stage_itol_bundle(outputs, bundle, out)


def bundle_paths(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Every file a bundle may write into ``out_dir``.

    Register them with an :class:`l2h.files.OutputSet` (with ``create_folders=[out_dir]``).

    Parameters
    ----------
    out_dir : str or os.PathLike
        The bundle folder (need not exist yet).

    Returns
    -------
    list of Path
        ``out_dir / name`` for every name of :data:`BUNDLE_FILES`.

    Raises
    ------
    InputError
        When ``out_dir`` cannot hold a bundle: it exists and is not a folder, or its parent is missing.

    Examples
    --------
    >>> [path.name for path in bundle_paths("itol")]
    ['tree.nwk', 'itol_labels.txt', 'itol_colorstrip.txt', 'itol_simplebar.txt', 'itol_tree_colors.txt']
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    parent = out.parent if str(out.parent) else Path(".")
    if not out.exists() and not parent.is_dir():
        why = "is not a folder" if parent.exists() else "does not exist"
        raise InputError(f"cannot create the bundle folder {out}: its parent {parent} {why}")
    return [out / name for name in BUNDLE_FILES]


def stage_itol_bundle(outputs: OutputSet, bundle: ItolBundle, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Stage ``bundle`` in ``outputs`` (which registered :func:`bundle_paths`).

    Its files are written, the other bundle files removed, at the set's commit.

    Parameters
    ----------
    outputs : OutputSet
        An open output set that registered ``bundle_paths(out_dir)``.
    bundle : ItolBundle
        The bundle to stage.
    out_dir : str or os.PathLike
        The bundle folder.

    Returns
    -------
    list of Path
        The files the bundle holds.
    """
    out = Path(out_dir)
    for name in BUNDLE_FILES:
        if name in bundle.files:
            outputs.write_text(out / name, bundle.files[name])
        else:
            outputs.remove(out / name)
    return [out / name for name in bundle.files]


# ---------------------------------------------------------------------------------------------- groups file
def read_class_groups(
    path: str | os.PathLike[str], class_names: Sequence[str], required: Sequence[int] | np.ndarray
) -> tuple[str | None, ...]:
    """Read a class -> group map (e.g. CIFAR-100's 20 superclasses).

    The layouts are :mod:`l2h.class_groups`'s; a class is named as shown (from ``--label-names`` or the
    text labels) or by its integer id.

    Parameters
    ----------
    path : path
    class_names : sequence of str
        Display name of every class id.
    required : sequence of int
        Class ids that must have a group (those with points).

    Returns
    -------
    tuple of (str or None)
        The group of every class id (None where the file gives none).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets start with a BOM
    except FileNotFoundError:
        raise InputError(f"groups file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"groups file {path} cannot be read as UTF-8 text: {exc}") from None
    rows = parse_groups(text, f"groups file {path}", class_names)
    groups: list[str | None] = [None] * len(class_names)
    for c, group in zip(rows.ids or (), rows.groups, strict=True):
        groups[c] = group
    for c in required:
        if groups[int(c)] is None:
            raise InputError(f"groups file {path} has no group for class {class_names[int(c)]!r} (id {int(c)})")
    return tuple(groups)
