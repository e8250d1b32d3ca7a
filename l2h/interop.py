"""Conversions to and from other tree libraries: ete3 (the ``ete`` extra).

scipy needs no conversion: :meth:`l2h.Hierarchy.to_scipy` is a valid, monotonic linkage matrix for
:mod:`scipy.cluster.hierarchy` (``dendrogram``, ``fcluster``, ...), and
:meth:`l2h.Hierarchy.from_linkage` reads one back.

Examples
--------
>>> from l2h import Hierarchy
>>> from l2h.interop import from_ete3, to_ete3
>>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "car", "bus"])
>>> ete = to_ete3(tree)                       # doctest: +SKIP
>>> ete.get_leaf_names()                      # doctest: +SKIP
['cat', 'dog', 'car', 'bus']
>>> from_ete3(ete).same_topology(tree)        # doctest: +SKIP
True
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from l2h.hierarchy import Hierarchy

__all__ = ["from_ete3", "to_ete3"]

INSTALL_HINT = 'ete3 interop needs ete3; install it with: pip install "l2h[ete]"'


def _ete3_tree_class() -> Any:
    try:
        from ete3 import Tree
    except ImportError:  # also when ete3 is there but six (or legacy-cgi on Python >= 3.13) is not
        raise ImportError(INSTALL_HINT) from None
    return Tree


def to_ete3(tree: Hierarchy) -> Any:
    """The tree as an :class:`ete3.Tree`.

    Leaves are named by ``tree.leaf_names``, internal nodes ``n<node id>`` (as in the Newick export);
    ``dist`` is the height difference to the parent (0 at the root), children come in merge-column
    order.  Every node also carries the features ``node_id`` (scipy numbering) and ``height``, which
    :func:`from_ete3` uses to restore the exact merges.

    Parameters
    ----------
    tree : Hierarchy

    Returns
    -------
    ete3.Tree
        The root node.

    Raises
    ------
    ImportError
        When ete3 cannot be imported; the message gives the install command.
    """
    Tree = _ete3_tree_class()
    k = tree.n_leaves
    heights = np.concatenate([np.zeros(k), tree.linkage[:, 2]])
    root = Tree(name=f"n{tree.root}", dist=0.0)
    root.add_features(node_id=tree.root, height=float(heights[tree.root]))
    nodes: dict[int, Any] = {tree.root: root}
    for t in range(k - 2, -1, -1):  # parents before children
        parent = nodes.pop(k + t)
        for child in tree.merges[t]:
            child = int(child)
            name = tree.leaf_names[child] if child < k else f"n{child}"
            node = parent.add_child(name=name, dist=float(heights[k + t] - heights[child]))
            node.add_features(node_id=child, height=float(heights[child]))
            nodes[child] = node
    return root


def from_ete3(ete_tree: Any) -> Hierarchy:
    """A :class:`~l2h.Hierarchy` from a rooted binary :class:`ete3.Tree`.

    Leaf ids: the ``node_id`` features written by :func:`to_ete3` when every leaf has one; else the
    leaf names when they are exactly ``0..K-1``; else left-to-right order.  Merge order: the
    ``node_id`` features (or ``n<id>`` names) when they form a valid numbering; else increasing
    height (the largest sum of ``dist`` down to a leaf), children first.

    Raises
    ------
    ValueError
        When the tree has fewer than 2 leaves, a node with other than 2 children, or duplicate or
        empty leaf names.
    """
    nodes = list(ete_tree.traverse("postorder"))
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
    leaf_ids = _numbering(leaves, range(k)) or _numbering_from_names(names, k) or list(range(k))
    leaf_names = [""] * k
    for leaf_id, name in zip(leaf_ids, names, strict=True):
        leaf_names[leaf_id] = name

    node_id = {id(leaf): i for leaf, i in zip(leaves, leaf_ids, strict=True)}
    order = _merge_order(internals, k)
    merges = np.empty((k - 1, 2), dtype=np.int64)
    heights = np.empty(k - 1)
    for t, (node, height) in enumerate(order):
        node_id[id(node)] = k + t
        merges[t] = [node_id[id(c)] for c in node.children]
        heights[t] = height
    if not (np.all(np.isfinite(heights)) and np.all(np.diff(heights) >= 0)):
        heights = np.arange(1, k, dtype=np.float64)
    return Hierarchy.from_merges(merges, heights=heights, leaf_names=leaf_names, info={"source": "ete3"})


def _numbering(nodes: list[Any], expected: range) -> list[int] | None:
    """The ``node_id`` features of ``nodes`` when they are exactly ``expected`` (in any order)."""
    ids = [getattr(node, "node_id", None) for node in nodes]
    if any(not isinstance(i, (int, np.integer)) for i in ids) or sorted(int(i) for i in ids) != list(expected):
        return None
    return [int(i) for i in ids]


def _numbering_from_names(names: list[str], k: int) -> list[int] | None:
    if all(re.fullmatch(r"\d+", n) for n in names) and sorted(int(n) for n in names) == list(range(k)):
        return [int(n) for n in names]
    return None


def _merge_order(internals: list[Any], k: int) -> list[tuple[Any, float]]:
    """Internal nodes children first, with their heights."""
    expected = range(k, 2 * k - 1)
    ids = _numbering(internals, expected)
    if ids is None:
        named = [re.fullmatch(r"n(\d+)", str(n.name)) for n in internals]
        if all(named):
            ids = [int(m.group(1)) for m in named]  # type: ignore[union-attr]
            if sorted(ids) != list(expected):
                ids = None
    if ids is not None:
        rank = {id(node): i for node, i in zip(internals, ids, strict=True)}
        if all(rank.get(id(c), -1) < rank[id(n)] for n in internals for c in n.children):
            ordered = sorted(internals, key=lambda n: rank[id(n)])
            stored = [getattr(n, "height", None) for n in ordered]
            if all(isinstance(h, (int, float)) for h in stored):
                return list(zip(ordered, [float(h) for h in stored], strict=True))
            return [(n, float(h)) for n, h in zip(ordered, _heights(ordered), strict=True)]
    heights = _heights(internals)  # internals are in post-order: children first
    rank = sorted(range(len(internals)), key=lambda i: (heights[i], i))
    return [(internals[i], heights[i]) for i in rank]


def _heights(internals: list[Any]) -> list[float]:
    """Largest ``dist`` sum from each node down to a leaf (children must come before parents);
    edge counts instead when some ``dist`` is negative or not finite."""
    dists = [float(c.dist) for n in internals for c in n.children]
    use_dist = all(np.isfinite(d) and d >= 0 for d in dists)
    height: dict[int, float] = {}
    for node in internals:
        height[id(node)] = max(height.get(id(c), 0.0) + (float(c.dist) if use_dist else 1.0) for c in node.children)
    return [height[id(n)] for n in internals]
