"""Tree file formats: Newick, the l2h JSON document and scipy linkage ``.npy``.

Readers return plain merges (:class:`TreeData`: a ``(K-1, 2)`` array of node ids in scipy
numbering, plus heights, names and scores where the format has them) and :class:`l2h.Hierarchy`
builds from them (:meth:`l2h.Hierarchy.from_tree_data`); writers take the same plain arrays.  So this
module imports nothing of the tree model, and :mod:`l2h.hierarchy` and :mod:`l2h.interop` import it.

Every reader and writer is iterative: a caterpillar tree 100 000 levels deep reads and writes like a
balanced one (no recursion, no quadratic string building).

Examples
--------
>>> data = parse_newick("((a:1,b:1)n3:1,c:2)n4;")
>>> data.merges.tolist(), data.heights.tolist(), data.leaf_names
([[0, 1], [3, 2]], [1.0, 2.0], ['a', 'b', 'c'])
>>> format_newick(data.merges, data.heights, data.leaf_names)
'((a:1,b:1)n3:1,c:2)n4;'
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from l2h import newick
from l2h._validation import InputError, check_array
from l2h.text import short_repr

__all__ = [
    "JSON_FORMAT",
    "JSON_VERSION",
    "TREE_FORMATS",
    "TreeData",
    "format_json",
    "format_newick",
    "json_document",
    "merges_from_postorder",
    "parse_json",
    "parse_linkage",
    "parse_newick",
    "read_tree_data",
    "tree_format_for",
]

JSON_FORMAT = "l2h-hierarchy"
JSON_VERSION = 1
TREE_FORMATS = {".nwk": "newick", ".newick": "newick", ".tree": "newick", ".json": "json", ".npy": "linkage"}


@dataclass(frozen=True)
class TreeData:
    """Plain merges of a binary tree over K leaves, as a tree file holds them.

    Attributes
    ----------
    merges : ndarray of int64, shape (K-1, 2)
        Node ids in scipy numbering (leaves ``0..K-1``, merge ``t`` creates node ``K + t``).
    heights : ndarray of float64, shape (K-1,), or None
        Height of every merge (None when the file has none).
    leaf_names : list of str, or None
        Name of every leaf id.
    scores, relatedness : ndarray of float64, shape (K-1,), or None
        L2H scores (NaN where unknown); None when the format has none.
    info : dict
        Provenance.
    """

    merges: np.ndarray
    heights: np.ndarray | None = None
    leaf_names: list[str] | None = None
    scores: np.ndarray | None = None
    relatedness: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- formats
def tree_format_for(
    path: str | os.PathLike[str], fmt: str | None = None, *, format_hint: str | None = "pass fmt"
) -> str:
    """``"newick"``, ``"json"`` or ``"linkage"`` from an explicit format or the file suffix.

    ``format_hint`` says how the caller's user can give the format instead (``"--format"`` for a
    command with that option); the unknown-suffix error ends with ``", or <format_hint>"``, or
    offers no alternative when it is None.

    Parameters
    ----------
    path : str or os.PathLike
        The tree file (only its suffix is used when ``fmt`` is not given).
    fmt : str, optional
        An explicit format: ``"newick"``/``"nwk"``, ``"json"``, ``"linkage"``/``"npy"``
        (case-insensitive).
    format_hint : str or None, default "pass fmt"
        How the user can name the format, for the unknown-suffix message.

    Returns
    -------
    str
        ``"newick"``, ``"json"`` or ``"linkage"``.

    Raises
    ------
    InputError
        If ``fmt`` is unknown, or the suffix is not one of .nwk/.newick, .json, .npy.

    Examples
    --------
    >>> tree_format_for("tree.nwk")
    'newick'
    >>> tree_format_for("tree.txt", "JSON")
    'json'
    """
    if fmt:
        fmt = fmt.lower()
        if fmt in ("nwk", "newick"):
            return "newick"
        if fmt in ("json", "linkage"):
            return fmt
        if fmt == "npy":
            return "linkage"
        raise InputError(f"unknown tree format {fmt!r}; expected newick, json or linkage")
    suffix = Path(path).suffix.lower()
    if suffix not in TREE_FORMATS:
        alternative = f", or {format_hint}" if format_hint else ""
        raise InputError(
            f"cannot tell the tree format of {path} from its suffix; use .nwk/.newick, .json or .npy{alternative}"
        )
    return TREE_FORMATS[suffix]


def read_tree_data(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    leaf_names: Sequence[str] | None = None,
    format_hint: str | None = "pass fmt",
) -> TreeData:
    """Read a tree file (Newick, JSON or linkage ``.npy``) into plain merges.

    Parameters
    ----------
    path : str or os.PathLike
        The tree file.
    fmt : str, optional
        Its format (see :func:`tree_format_for`); by default from the suffix.
    leaf_names : sequence of str, optional
        A Newick tree's leaves are matched to them by name; the other formats' names are replaced
        by them.
    format_hint : str or None, default "pass fmt"
        How the user can name the format, for the unknown-suffix message.

    Returns
    -------
    TreeData
        The merges, heights, leaf names and info of the tree.

    Raises
    ------
    InputError
        One line naming the file: missing or unreadable, unknown format, or invalid content.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp, "tree.nwk")
    ...     _ = path.write_text("((a,b),c);")
    ...     read_tree_data(path).leaf_names
    ['a', 'b', 'c']
    """
    from l2h.arrays import check_input_file

    path = Path(path)
    check_input_file(path, "tree")
    kind = tree_format_for(path, fmt, format_hint=format_hint)
    try:
        if kind == "linkage":
            data = parse_linkage(np.load(path, allow_pickle=False))
            return data if leaf_names is None else replace(data, leaf_names=list(leaf_names))
        # Bytes, not read_text: universal newlines would turn a quoted name's "\r" into "\n".
        text = path.read_bytes().decode("utf-8")
        if text.startswith("\ufeff"):
            text = text[1:]
        if kind == "json":
            data = parse_json(text)
            return data if leaf_names is None else replace(data, leaf_names=list(leaf_names))
        return parse_newick(text, leaf_names=leaf_names)
    except (ValueError, TypeError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"tree file {path}: {first}") from None


# ---------------------------------------------------------------------------------------------- linkage
def parse_linkage(linkage: ArrayLike) -> TreeData:
    """Plain merges and heights of a scipy linkage matrix.

    Parameters
    ----------
    linkage : array_like, shape (K-1, 4)
        ``[child_a, child_b, height, count]`` rows; the counts are recomputed by the tree model.

    Returns
    -------
    TreeData
    """
    z = check_array(linkage, "linkage", kind="real", ndim=2, axes=("K-1", "4"))
    if z.shape[1] != 4:
        raise ValueError(f"linkage must have shape (K-1, 4); got {z.shape}")
    z = np.asarray(z, dtype=np.float64)
    merges = check_array(z[:, :2], "linkage node ids", kind="integer", ndim=2)
    heights = z[:, 2].copy()
    if not np.isfinite(heights).all():
        raise ValueError("linkage heights (column 2) must be finite")
    return TreeData(merges=merges, heights=heights)


# ---------------------------------------------------------------------------------------------- JSON
def _jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays turned into Python ones (iterative, any nesting)."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        item, holder, key = stack.pop()
        if isinstance(item, np.ndarray):
            item = item.tolist()
        if isinstance(item, Mapping):
            mapping: dict[str, Any] = {}
            holder[key] = mapping
            for name, v in item.items():
                mapping[str(name)] = None
                stack.append((v, mapping, str(name)))
        elif isinstance(item, (list, tuple)):
            items: list[Any] = [None] * len(item)
            holder[key] = items
            stack.extend((v, items, i) for i, v in enumerate(item))
        elif isinstance(item, np.generic):
            holder[key] = item.item()
        else:
            holder[key] = item
    return root[0]


def json_document(
    merges: ArrayLike,
    heights: ArrayLike,
    leaf_names: Sequence[str],
    *,
    scores: ArrayLike | None = None,
    relatedness: ArrayLike | None = None,
    info: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The versioned JSON document of a tree.

    Parameters
    ----------
    merges : array_like of int, shape (K-1, 2)
    heights : array_like of float, shape (K-1,)
    leaf_names : sequence of str, length K
    scores, relatedness : array_like of float, shape (K-1,), optional
        NaN (or None) where unknown.
    info : mapping, optional
        Provenance (NumPy values are turned into Python ones).

    Returns
    -------
    dict
        Keys: ``format`` (``"l2h-hierarchy"``), ``version`` (1), ``n_leaves``, ``leaf_names``,
        ``merges`` (list of ``[node_a, node_b]``, scipy numbering), ``heights``, ``scores`` and
        ``relatedness`` (``null`` where unknown), ``info`` (provenance).
    """
    m = np.asarray(merges, dtype=np.int64).reshape(-1, 2)
    n_merges = m.shape[0]

    def nullable(values: ArrayLike | None) -> list[float | None]:
        if values is None:
            return [None] * n_merges
        return [None if not math.isfinite(v) else float(v) for v in np.asarray(values, dtype=np.float64).tolist()]

    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "n_leaves": n_merges + 1,
        "leaf_names": [str(s) for s in leaf_names],
        "merges": m.tolist(),
        "heights": [float(h) for h in np.asarray(heights, dtype=np.float64).tolist()],
        "scores": nullable(scores),
        "relatedness": nullable(relatedness),
        "info": _jsonable(dict(info or {})),
    }


def format_json(document: Mapping[str, Any], indent: int | None = 1) -> str:
    """JSON text of :func:`json_document`'s result (NaN never appears: unknowns are ``null``).

    Parameters
    ----------
    document : Mapping
        The JSON-serialisable document.
    indent : int or None, default 1
        Indentation, as for :func:`json.dumps` (None: one line).

    Returns
    -------
    str
        The JSON text.

    Examples
    --------
    >>> format_json({"heights": [1.0, None]}, indent=None)
    '{"heights": [1.0, null]}'
    """
    return json.dumps(document, indent=indent)


def _json_node_ids(values: Any) -> np.ndarray:
    """``merges`` of a JSON document: pairs of non-negative integers (ints or integral floats)."""
    if not isinstance(values, list):
        kind = type(values).__name__
        raise InputError(f'hierarchy JSON "merges" must be a list of [node_a, node_b] pairs; got {kind}')
    limit = 2 * len(values)  # node ids are below 2K - 1 = 2 (K-1) + 1
    out = np.empty((len(values), 2), dtype=np.int64)
    for t, pair in enumerate(values):
        if not isinstance(pair, list) or len(pair) != 2:
            raise InputError(f"hierarchy JSON merge {t} must be a pair [node_a, node_b]; got {short_repr(pair)}")
        for j, node in enumerate(pair):
            ok = (isinstance(node, int) and not isinstance(node, bool)) or (
                isinstance(node, float) and math.isfinite(node) and node == int(node)
            )
            if not ok or not 0 <= node <= limit:
                raise InputError(
                    f"hierarchy JSON merge {t} has the node id {short_repr(node)}; "
                    f"expected an integer in 0..{limit} (K = {len(values) + 1} leaves)"
                )
            out[t, j] = int(node)
    return out


def _json_floats(doc: Mapping[str, Any], key: str, n: int) -> np.ndarray | None:
    values = doc.get(key)
    if values is None:
        return None
    if not isinstance(values, list) or len(values) != n:
        length = len(values) if isinstance(values, list) else type(values).__name__
        raise InputError(f'hierarchy JSON "{key}" must be a list of {n} numbers (one per merge); got {length}')
    out = np.empty(n, dtype=np.float64)
    for i, v in enumerate(values):
        if v is None:
            out[i] = np.nan
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[i] = float(v)
        else:
            raise InputError(f'hierarchy JSON "{key}"[{i}] must be a number or null; got {short_repr(v)}')
    return out


def parse_json(text: str) -> TreeData:
    """Parse the document written by :func:`json_document` into plain merges.

    Parameters
    ----------
    text : str
        The JSON text.

    Returns
    -------
    TreeData

    Raises
    ------
    InputError
        Not JSON, not an l2h hierarchy, an unknown version, or a malformed field: merge ids that are
        not integers in ``0..2K-2`` (``1e30``, ``1.5``, ``true``, ...), heights that are not numbers.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise InputError("not an l2h hierarchy JSON (nested too deeply)") from None
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise InputError(f'not an l2h hierarchy JSON (missing "format": "{JSON_FORMAT}")')
    version = doc.get("version")
    if version != JSON_VERSION:
        raise InputError(f"unsupported l2h hierarchy JSON version {short_repr(version)}; this l2h reads {JSON_VERSION}")
    if "merges" not in doc:
        raise InputError("hierarchy JSON lacks the key 'merges'")
    merges = _json_node_ids(doc["merges"])
    n = merges.shape[0]
    names = doc.get("leaf_names")
    if names is not None and (not isinstance(names, list) or not all(isinstance(s, str) for s in names)):
        raise InputError('hierarchy JSON "leaf_names" must be a list of strings')
    n_leaves = doc.get("n_leaves")
    if n_leaves is not None and n_leaves != n + 1:
        raise InputError(f"hierarchy JSON says n_leaves={short_repr(n_leaves)} but has {n + 1} leaves")
    info = doc.get("info") or {}
    if not isinstance(info, dict):
        raise InputError('hierarchy JSON "info" must be an object')
    return TreeData(
        merges=merges,
        heights=_json_floats(doc, "heights", n),
        leaf_names=names,
        scores=_json_floats(doc, "scores", n),
        relatedness=_json_floats(doc, "relatedness", n),
        info=info,
    )


# ---------------------------------------------------------------------------------------------- merge order
def merges_from_postorder(
    k: int,
    children: np.ndarray,
    *,
    lengths: np.ndarray | None = None,
    node_ids: np.ndarray | None = None,
    stored_heights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Merge order of a rooted binary tree given as its internal nodes in post-order.

    Shared by the Newick reader and :func:`l2h.interop.from_ete3`.

    Parameters
    ----------
    k : int
        Number of leaves.
    children : ndarray of int64, shape (K-1, 2)
        Children of the ``j``-th internal node in post-order: a leaf id ``0..K-1``, or ``K + j'``
        for the ``j'``-th internal node (``j' < j``).
    lengths : ndarray of float64, shape (K-1, 2), optional
        Branch length above each child (NaN where unknown).
    node_ids : ndarray of int64, shape (K-1,), optional
        Proposed scipy node id of each internal node (``n<id>`` labels; -1 where none).
    stored_heights : ndarray of float64, shape (K-1,), optional
        Known heights of the internal nodes (NaN where unknown).

    Returns
    -------
    merges : ndarray of int64, shape (K-1, 2)
    heights : ndarray of float64, shape (K-1,)
        Non-decreasing.

    Notes
    -----
    The order is, first valid of: the proposed node ids (when they are exactly ``K..2K-2`` and
    children come first); increasing height from the branch lengths (the largest sum down to a
    leaf), ties in post-order; increasing topological height (edges down to the deepest leaf).
    """
    n_int = k - 1
    children = np.asarray(children, dtype=np.int64).reshape(n_int, 2)
    internal_child = children >= k
    parent_index = np.broadcast_to(np.arange(n_int)[:, None], (n_int, 2))

    def children_first(position: np.ndarray) -> bool:
        kids = position[children[internal_child] - k]
        return bool(np.all(kids < position[parent_index[internal_child]]))

    def heights_from_lengths() -> np.ndarray | None:
        if lengths is None:
            return None
        lens = np.asarray(lengths, dtype=np.float64).reshape(n_int, 2)
        if not np.isfinite(lens).all():
            return None
        h = [0.0] * n_int
        for j, ((a, b), (la, lb)) in enumerate(zip(children.tolist(), lens.tolist(), strict=True)):
            # post-order: children first
            h[j] = max((h[a - k] if a >= k else 0.0) + la, (h[b - k] if b >= k else 0.0) + lb)
        return np.array(h, dtype=np.float64)

    def finish(order: np.ndarray, heights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        position = np.empty(n_int, dtype=np.int64)
        position[order] = np.arange(n_int)
        new_id = np.concatenate([np.arange(k, dtype=np.int64), k + position])
        merges = new_id[children[order]]
        if heights is None or not (np.isfinite(heights).all() and np.all(np.diff(heights) >= 0)):
            heights = np.arange(1, k, dtype=np.float64)
        return merges, np.asarray(heights, dtype=np.float64)

    # 1. Proposed node ids (n<id> labels or node_id features written by l2h).
    if node_ids is not None:
        ids = np.asarray(node_ids, dtype=np.int64)
        if np.array_equal(np.sort(ids), np.arange(k, 2 * k - 1)):
            position = ids - k
            if children_first(position):
                order = np.argsort(position)
                heights = None
                if stored_heights is not None:
                    heights = np.asarray(stored_heights, dtype=np.float64)[order]
                if heights is None or not np.isfinite(heights).all():
                    from_lengths = heights_from_lengths()
                    heights = None if from_lengths is None else from_lengths[order]
                return finish(order, heights)
    # 2. Heights from branch lengths, ties in post-order.
    h = heights_from_lengths()
    if h is not None:
        order = np.lexsort((np.arange(n_int), h))
        position = np.empty(n_int, dtype=np.int64)
        position[order] = np.arange(n_int)
        if children_first(position):
            return finish(order, h[order])
    # 3. Topological height.
    topo = [0] * n_int
    for j, (a, b) in enumerate(children.tolist()):
        topo[j] = 1 + max(topo[a - k] if a >= k else 0, topo[b - k] if b >= k else 0)
    order = np.lexsort((np.arange(n_int), np.array(topo, dtype=np.int64)))
    return finish(order, None)


# ---------------------------------------------------------------------------------------------- Newick
def format_newick(
    merges: ArrayLike,
    heights: ArrayLike,
    leaf_names: Sequence[str],
    *,
    branch_lengths: bool = True,
    internal_labels: bool = True,
) -> str:
    """Newick text of a tree given as plain merges (ends with ``;``).

    Leaves are labelled with ``leaf_names``; internal nodes with ``n<node id>`` (scipy numbering;
    non-numeric so that iTOL does not read them as support values).  Branch lengths are height
    differences, so the tree is ultrametric and :func:`parse_newick` recovers the merge order.
    Names with Newick's special characters are single-quoted.  Iterative: any depth.

    Parameters
    ----------
    merges : array_like of int, shape (K-1, 2)
    heights : array_like of float, shape (K-1,)
    leaf_names : sequence of str, length K
    branch_lengths : bool
        Write ``:length`` after every non-root node.
    internal_labels : bool
        Write ``n<node id>`` after every internal node.

    Returns
    -------
    str
    """
    m = np.asarray(merges, dtype=np.int64).reshape(-1, 2)
    k = m.shape[0] + 1
    h = np.concatenate([np.zeros(k), np.asarray(heights, dtype=np.float64)]).tolist()
    children: list[list[int]] = [[] for _ in range(k)]
    children += m.tolist()
    labels = [newick.quote(str(s)) for s in leaf_names]
    if internal_labels:
        labels += [f"n{node}" for node in range(k, 2 * k - 1)]
    else:
        labels += [""] * (k - 1)
    if branch_lengths:
        parent = [-1] * (2 * k - 1)
        for t, (a, b) in enumerate(children[k:]):
            parent[a] = parent[b] = k + t
        for node in range(2 * k - 2):
            labels[node] += ":" + newick.format_length(h[parent[node]] - h[node])
    return newick.format_nodes(2 * k - 2, children, labels)


_NODE_LABEL = re.compile(r"n(\d{1,18})")


def parse_newick(text: str, leaf_names: Sequence[str] | None = None) -> TreeData:
    """Read a rooted binary Newick tree into plain merges (iterative: any depth).

    Leaf ids: when ``leaf_names`` is given, leaves are matched to it by name (every name must appear
    once); otherwise, if every leaf label is an integer and they are exactly ``0..K-1``, those are
    the ids; otherwise leaves are numbered in the order they appear.  Merge order: from internal
    labels ``n<node id>`` when all are present and consistent (as :func:`format_newick` writes them),
    else from the heights implied by the branch lengths, else bottom-up by subtree height.
    A unary node (one child) is collapsed; a node with more than two children is an error.

    Parameters
    ----------
    text : str
        Newick text, as :func:`l2h.newick.parse` reads it (comments ``[...]``, quoted labels and a
        byte-order mark are accepted).
    leaf_names : sequence of str, optional
        The expected leaf names, in leaf-id order.

    Returns
    -------
    TreeData

    Raises
    ------
    InputError
        One line saying what is wrong and where.
    """
    tree = newick.parse(text)
    return _tree_data_from_nodes(0, tree.names, tree.lengths, tree.children, leaf_names)


def _tree_data_from_nodes(
    root: int,
    names: list[str],
    lengths: list[float],
    kids: list[list[int]],
    leaf_names: Sequence[str] | None,
) -> TreeData:
    """Collapse unary nodes, number leaves and internal nodes, and order the merges."""
    while len(kids[root]) == 1:  # a unary root: collapse
        root = kids[root][0]

    def collapse(node: int) -> int:
        while len(kids[node]) == 1:
            child = kids[node][0]
            if not (math.isnan(lengths[child]) and math.isnan(lengths[node])):
                lengths[child] = (0.0 if math.isnan(lengths[child]) else lengths[child]) + (
                    0.0 if math.isnan(lengths[node]) else lengths[node]
                )
            node = child
        return node

    leaves: list[int] = []
    internals: list[int] = []  # post-order
    stack: list[int] = [root]  # ~node: node whose children are done
    while stack:
        node = stack.pop()
        if node < 0:
            internals.append(~node)
            continue
        children = kids[node]
        if not children:
            leaves.append(node)
            continue
        if len(kids[children[0]]) == 1 or (len(children) > 1 and len(kids[children[1]]) == 1):
            children = kids[node] = [collapse(c) for c in children]
        if len(children) > 2:
            raise InputError(
                f"Newick node {names[node] or '(unnamed)'} has {len(children)} children; "
                "only binary trees are supported"
            )
        stack.append(~node)
        stack.extend(reversed(children))
    k = len(leaves)
    if k < 2:
        raise InputError("Newick tree has fewer than 2 leaves")
    labels = [names[leaf] for leaf in leaves]
    if any(not label for label in labels):
        raise InputError("Newick tree has an unnamed leaf")
    if len(set(labels)) != k:
        seen: set[str] = set()
        dup = next(label for label in labels if label in seen or seen.add(label))  # type: ignore[func-returns-value]
        raise InputError(f"Newick tree has the leaf {dup!r} more than once")
    ref: dict[int, int] = {}
    if leaf_names is not None:
        expected = [str(x) for x in leaf_names]
        position = {name: i for i, name in enumerate(expected)}
        if len(expected) != k or set(labels) != set(position):
            missing = sorted(set(expected) - set(labels))[:3]
            extra = sorted(set(labels) - set(expected))[:3]
            raise InputError(
                f"Newick leaves do not match the {len(expected)} expected names "
                f"(tree has {k}; missing {missing}, unexpected {extra})"
            )
        for leaf in leaves:
            ref[leaf] = position[names[leaf]]
        out_names = expected
    elif all(re.fullmatch(r"0|[1-9][0-9]*", label) for label in labels) and sorted(int(x) for x in labels) == list(
        range(k)
    ):  # only canonical ids: "00", "-0" or "٠" are names, and renaming them "0" would lose them
        for leaf in leaves:
            ref[leaf] = int(names[leaf])
        out_names = [str(i) for i in range(k)]
    else:
        for i, leaf in enumerate(leaves):
            ref[leaf] = i
        out_names = labels
    for j, node in enumerate(internals):
        ref[node] = k + j
    child_refs = np.array([[ref[c] for c in kids[node]] for node in internals], dtype=np.int64).reshape(-1, 2)
    child_lengths = np.array([[lengths[c] for c in kids[node]] for node in internals], dtype=np.float64)
    node_ids = np.full(k - 1, -1, dtype=np.int64)
    for j, node in enumerate(internals):
        label = names[node]
        if label[:1] == "n":
            m = _NODE_LABEL.fullmatch(label)
            if m:
                node_ids[j] = int(m.group(1))
    merges, heights = merges_from_postorder(k, child_refs, lengths=child_lengths.reshape(-1, 2), node_ids=node_ids)
    return TreeData(merges=merges, heights=heights, leaf_names=out_names, info={"source": "newick"})


# ---------------------------------------------------------------------------------------------- ete3
ETE3_INSTALL_HINT = 'ete3 interop needs ete3; install it with: pip install "l2h[ete]"'


def _ete3_tree_class() -> Any:
    try:
        from ete3 import Tree
    except ImportError:  # also when ete3 is there but six (or legacy-cgi on Python >= 3.13) is not
        raise ImportError(ETE3_INSTALL_HINT) from None
    return Tree


def ete3_from_merges(merges: ArrayLike, heights: ArrayLike, leaf_names: Sequence[str]) -> Any:
    """An :class:`ete3.Tree` of plain merges (see :func:`l2h.interop.to_ete3`); iterative.

    Parameters
    ----------
    merges : ArrayLike of int, shape (K - 1, 2)
        Row ``t`` joins two node ids into node ``K + t`` (leaves are ``0..K-1``).
    heights : ArrayLike of float, shape (K - 1,)
        Height of each merge; a child's ``dist`` is the height difference.
    leaf_names : sequence of str, length K
        Names of the leaves.

    Returns
    -------
    ete3.Tree
        The root node; every node carries ``node_id`` and ``height`` features, internal nodes are
        named ``n<id>``.

    Raises
    ------
    ImportError
        If ete3 is not installed.
    """
    tree_class = _ete3_tree_class()
    m = np.asarray(merges, dtype=np.int64).reshape(-1, 2)
    k = m.shape[0] + 1
    h = np.concatenate([np.zeros(k), np.asarray(heights, dtype=np.float64)]).tolist()
    root_id = 2 * k - 2
    root = tree_class(name=f"n{root_id}", dist=0.0)
    root.add_features(node_id=root_id, height=float(h[root_id]))
    nodes: dict[int, Any] = {root_id: root}
    pairs = m.tolist()
    for t in range(k - 2, -1, -1):  # parents before children
        parent = nodes.pop(k + t)
        for child in pairs[t]:
            name = str(leaf_names[child]) if child < k else f"n{child}"
            node = parent.add_child(name=name, dist=float(h[k + t] - h[child]))
            node.add_features(node_id=child, height=float(h[child]))
            nodes[child] = node
    return root


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return None


def tree_data_from_ete3(ete_tree: Any) -> TreeData:
    """Plain merges of a rooted binary :class:`ete3.Tree` (see :func:`l2h.interop.from_ete3`).

    Leaf ids come from the ``node_id`` features when they number the leaves ``0..K-1``, else
    from leaf names that do, else from the traversal order.

    Parameters
    ----------
    ete_tree : ete3.Tree
        The root of a rooted binary tree.

    Returns
    -------
    TreeData
        The merges, heights (from ``height`` features or branch lengths) and leaf names.

    Raises
    ------
    ValueError
        When the tree has fewer than 2 leaves, a node with other than 2 children, or duplicate or
        empty leaf names (the latter from :class:`~l2h.Hierarchy`).
    """
    nodes = list(ete_tree.traverse("postorder"))  # ete3's traversal is iterative
    leaves = [n for n in nodes if n.is_leaf()]
    internals = [n for n in nodes if not n.is_leaf()]
    k = len(leaves)
    if k < 2:
        raise ValueError(f"a hierarchy needs at least 2 leaves; the ete3 tree has {k}")
    for node in internals:
        if len(node.children) != 2:
            raise ValueError(
                f"the ete3 tree is not binary: node {node.name or '(unnamed)'!r} has {len(node.children)} children"
            )
    names = [str(leaf.name) for leaf in leaves]
    feature_ids = [_int_or_none(getattr(leaf, "node_id", None)) for leaf in leaves]
    if None not in feature_ids and sorted(feature_ids) == list(range(k)):  # type: ignore[type-var]
        leaf_ids = [int(i) for i in feature_ids]  # type: ignore[arg-type]
    elif all(re.fullmatch(r"\d+", n) for n in names) and sorted(int(n) for n in names) == list(range(k)):
        leaf_ids = [int(n) for n in names]
    else:
        leaf_ids = list(range(k))
    leaf_names = [""] * k
    for leaf_id, name in zip(leaf_ids, names, strict=True):
        leaf_names[leaf_id] = name
    ref = {id(leaf): i for leaf, i in zip(leaves, leaf_ids, strict=True)}
    for j, node in enumerate(internals):
        ref[id(node)] = k + j
    children = np.array([[ref[id(c)] for c in node.children] for node in internals], dtype=np.int64)
    lengths = np.array([[float(c.dist) for c in node.children] for node in internals], dtype=np.float64)
    if (lengths < 0).any():
        lengths[:] = np.nan  # negative distances: use the topology only
    node_ids = np.full(k - 1, -1, dtype=np.int64)
    stored = np.full(k - 1, np.nan)
    for j, node in enumerate(internals):
        nid = _int_or_none(getattr(node, "node_id", None))
        if nid is None:
            m = re.fullmatch(r"n(\d{1,18})", str(node.name))
            nid = int(m.group(1)) if m else -1
        node_ids[j] = nid
        height = getattr(node, "height", None)
        if isinstance(height, (int, float)) and not isinstance(height, bool):
            stored[j] = float(height)
    merges, heights = merges_from_postorder(
        k, children.reshape(-1, 2), lengths=lengths.reshape(-1, 2), node_ids=node_ids, stored_heights=stored
    )
    return TreeData(merges=merges, heights=heights, leaf_names=leaf_names, info={"source": "ete3"})
