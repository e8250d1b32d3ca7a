"""The tree model: one frozen, array-backed encoding of a binary hierarchy over K leaves.

Node numbering follows :func:`scipy.cluster.hierarchy.linkage`: leaves are ``0..K-1`` and merge
``t`` (0-based) creates node ``K + t``; the root is node ``2K - 2``.  Node objects only appear at
export time (:mod:`l2h.treeio`, :mod:`l2h.interop`).  Every method is iterative or vectorised over
the merge order: a caterpillar tree 100 000 levels deep is as usable as a balanced one.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from l2h import treeio
from l2h._validation import InputError, check_array, check_finite_rows, check_leaf_names, check_logits_array
from l2h.arrays import row_blocks

__all__ = ["Hierarchy", "check_k", "read_tree"]


def check_k(k: object, n_leaves: int, name: str = "k") -> int:
    """``k`` as an int when a tree of ``n_leaves`` leaves can be cut into ``k`` groups (``1..n_leaves``).

    The one check behind every "number of groups" argument: :meth:`Hierarchy.cut`, the views' folds,
    the report's ``k``, the metrics' levels and the CLI's ``--k``, so they all say the same.

    Parameters
    ----------
    k : int
        The number of groups.
    n_leaves : int
        The tree's number of leaves ``K``.
    name : str, default "k"
        The argument's name, for the message.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``k`` is not an integer (bool included).
    ValueError
        If ``k`` is outside ``1..n_leaves``.

    Examples
    --------
    >>> check_k(3, 4)
    3
    >>> check_k(5, 4)
    Traceback (most recent call last):
    ...
    ValueError: k must be between 1 and the number of leaves (4); got 5
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {type(k).__name__}")
    if not 1 <= k <= n_leaves:
        raise ValueError(f"{name} must be between 1 and the number of leaves ({n_leaves}); got {k}")
    return int(k)


def _as_float_vector(values: object, length: int, name: str) -> np.ndarray:
    if values is None:
        return np.full(length, np.nan)
    out = np.array(values, dtype=np.float64).reshape(-1)
    if out.shape != (length,):
        raise ValueError(f"{name} must have length {length} (one per merge); got {out.shape[0]}")
    return out


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """A rooted binary tree over ``K`` leaves, stored as its ``K - 1`` merges.

    Build one with :func:`l2h.build_hierarchy` (from logits), :meth:`from_merges`,
    :meth:`from_linkage`, :func:`l2h.read_tree` (Newick or JSON).

    Attributes
    ----------
    linkage : ndarray of float64, shape (K-1, 4)
        scipy-compatible linkage: ``[child_a, child_b, height, n_leaves_under]``.  For L2H trees
        ``child_a`` is the lowest-scored group G* and ``child_b`` the most related group G†.
    leaf_names : tuple of str, length K
        Display names of the leaves (cluster ids ``"0".."K-1"`` by default).
    scores : ndarray of float64, shape (K-1,)
        Score ``s(G*)`` of the group selected at each merge (NaN when unknown, e.g. read from Newick).
    relatedness : ndarray of float64, shape (K-1,)
        Relatedness ``rel(G†)`` of the partner chosen at each merge (NaN when unknown).
    info : mapping
        Free-form provenance (aggregation, strategy, n_points, empty clusters, ...).
    """

    linkage: np.ndarray
    leaf_names: tuple[str, ...]
    scores: np.ndarray
    relatedness: np.ndarray
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The arrays are part of a frozen value: read-only (a caller's writeable array is copied,
        # never frozen under its feet).
        for name in ("linkage", "scores", "relatedness"):
            value = getattr(self, name)
            if not isinstance(value, np.ndarray) or value.flags.writeable:
                value = np.array(value, dtype=np.float64)
                value.flags.writeable = False
                object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_merges(
        cls,
        merges: ArrayLike,
        *,
        heights: ArrayLike | None = None,
        scores: ArrayLike | None = None,
        relatedness: ArrayLike | None = None,
        leaf_names: Sequence[str] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> Hierarchy:
        """Build from a ``(K-1, 2)`` array of node ids (scipy numbering).

        Parameters
        ----------
        merges : array_like of int, shape (K-1, 2)
            Merge ``t`` joins the two node ids in row ``t`` into node ``K + t``.
        heights : array_like of float, shape (K-1,), optional
            Non-decreasing merge heights; default ``t + 1`` for merge ``t`` (ultrametric, drawn
            by scipy's dendrogram).
        scores, relatedness : array_like of float, shape (K-1,), optional
            L2H scores of the merges (NaN where unknown; the default).
        leaf_names : sequence of str, optional
            K distinct non-empty names; default ``"0".."K-1"``.
        info : mapping, optional
            Provenance.

        Returns
        -------
        Hierarchy

        Examples
        --------
        >>> tree = Hierarchy.from_merges([[0, 1], [3, 2]], leaf_names=["a", "b", "c"])
        >>> tree
        Hierarchy(n_leaves=3)
        >>> tree.cut(2).tolist()
        [0, 0, 1]
        """
        merges = np.asarray(merges)
        if merges.ndim != 2 or merges.shape[1] != 2:
            raise ValueError(f"merges must have shape (K-1, 2); got {merges.shape}")
        if merges.dtype.kind == "f" and merges.size:
            too_big = np.abs(merges) > 2 * merges.shape[0] + 1
            if too_big.any():
                t = int(np.argwhere(too_big)[0][0])
                raise ValueError(f"merge {t} refers to node {merges[t].tolist()}, beyond the 2K-1 nodes of the tree")
        merges = check_array(merges, "merges", kind="integer", ndim=2)
        n_merges = merges.shape[0]
        k = n_merges + 1
        if k < 2:
            raise ValueError("a hierarchy needs at least 2 leaves (1 merge)")
        if heights is None:
            h = np.arange(1, n_merges + 1, dtype=np.float64)
        else:
            h = _as_float_vector(heights, n_merges, "heights")
            if not np.all(np.isfinite(h)) or np.any(np.diff(h) < 0):
                raise ValueError("heights must be finite and non-decreasing in merge order")
        counts = [1] * k
        used = [False] * (2 * k - 1)
        for t, (a, b) in enumerate(merges.tolist()):  # plain ints: fast at K = 10^5 and more
            if a == b:
                raise ValueError(f"merge {t} joins node {a} with itself")
            for node in (a, b):
                if node < 0 or node >= k + t:
                    raise ValueError(
                        f"merge {t} refers to node {node}, which does not exist yet (valid: 0..{k + t - 1})"
                    )
                if used[node]:
                    raise ValueError(f"merge {t} reuses node {node}, which was already merged")
                used[node] = True
            counts.append(counts[a] + counts[b])
        linkage = np.empty((n_merges, 4), dtype=np.float64)
        linkage[:, :2] = merges
        linkage[:, 2] = h
        linkage[:, 3] = counts[k:]
        return cls(
            linkage=linkage,
            leaf_names=check_leaf_names(leaf_names, k),
            scores=_as_float_vector(scores, n_merges, "scores"),
            relatedness=_as_float_vector(relatedness, n_merges, "relatedness"),
            info=dict(info or {}),
        )

    @classmethod
    def from_linkage(cls, linkage: ArrayLike, leaf_names: Sequence[str] | None = None) -> Hierarchy:
        """Build from a scipy linkage matrix (heights are kept; scores are unknown).

        Examples
        --------
        >>> Hierarchy.from_linkage([[0, 1, 0.5, 2], [2, 3, 1.5, 3]]).heights.tolist()
        [0.5, 1.5]
        """
        return cls.from_tree_data(treeio.parse_linkage(linkage), leaf_names=leaf_names)

    # ------------------------------------------------------------------ basic shape
    @property
    def n_leaves(self) -> int:
        """Number of leaves K."""
        return self.linkage.shape[0] + 1

    @property
    def n_nodes(self) -> int:
        """Number of nodes, ``2K - 1``."""
        return 2 * self.n_leaves - 1

    @property
    def root(self) -> int:
        """Node id of the root, ``2K - 2``."""
        return self.n_nodes - 1

    @cached_property
    def merges(self) -> np.ndarray:
        """Merged node ids, int64 array of shape (K-1, 2)."""
        return self.linkage[:, :2].astype(np.int64)

    @property
    def heights(self) -> np.ndarray:
        """Height of each merge, float64 array of shape (K-1,)."""
        return self.linkage[:, 2].copy()

    @cached_property
    def parent(self) -> np.ndarray:
        """Parent node id of every node (int64, shape (2K-1,)); ``-1`` for the root."""
        parent = np.full(self.n_nodes, -1, dtype=np.int64)
        k = self.n_leaves
        parent[self.merges[:, 0]] = k + np.arange(k - 1)
        parent[self.merges[:, 1]] = k + np.arange(k - 1)
        return parent

    @cached_property
    def depth(self) -> np.ndarray:
        """Number of edges from the root to every node (int64, shape (2K-1,))."""
        k = self.n_leaves
        depth = [0] * self.n_nodes
        pairs = self.merges.tolist()
        for t in range(k - 2, -1, -1):  # parents before children
            a, b = pairs[t]
            depth[a] = depth[b] = depth[k + t] + 1
        return np.array(depth, dtype=np.int64)

    @cached_property
    def leaf_counts(self) -> np.ndarray:
        """Number of leaves under every node (int64, shape (2K-1,))."""
        return np.concatenate([np.ones(self.n_leaves, np.int64), self.linkage[:, 3].astype(np.int64)])

    def leaves_under(self, node: int) -> np.ndarray:
        """Leaf ids under ``node`` in left-to-right order (int64 array; a read-only view)."""
        node = int(node)
        if not 0 <= node < self.n_nodes:
            raise ValueError(f"node must be in 0..{self.n_nodes - 1}; got {node}")
        start = self._leaf_start[node]
        return self._leaf_sequence[start : start + self.leaf_counts[node]]

    @cached_property
    def _leaf_sequence(self) -> np.ndarray:
        """All leaves left to right; every node's leaves are one contiguous slice of it."""
        order = self._leaf_start[: self.n_leaves]
        out = np.empty(self.n_leaves, dtype=np.int64)
        out[order] = np.arange(self.n_leaves)
        out.flags.writeable = False
        return out

    @cached_property
    def _leaf_start(self) -> np.ndarray:
        """Offset of every node's first leaf in :attr:`_leaf_sequence`, filled root to leaves."""
        k = self.n_leaves
        start = [0] * self.n_nodes
        counts = self.leaf_counts.tolist()
        pairs = self.merges.tolist()
        for t in range(k - 2, -1, -1):  # parents before children
            a, b = pairs[t]
            start[a] = start[k + t]
            start[b] = start[k + t] + counts[a]
        return np.array(start, dtype=np.int64)

    @property
    def leaf_order(self) -> np.ndarray:
        """Leaves in left-to-right drawing order (children in merge-column order)."""
        return self.leaves_under(self.root)

    # ------------------------------------------------------------------ distances
    @cached_property
    def lca_matrix(self) -> np.ndarray:
        """Lowest common ancestor of every pair of leaves (int64, shape (K, K); diagonal = leaf)."""
        k = self.n_leaves
        lca = np.empty((k, k), dtype=np.int64)
        lca[np.arange(k), np.arange(k)] = np.arange(k)
        for t, (a, b) in enumerate(self.merges):
            left, right = self.leaves_under(a), self.leaves_under(b)
            lca[np.ix_(left, right)] = k + t
            lca[np.ix_(right, left)] = k + t
        return lca

    def path_lengths(self) -> np.ndarray:
        """Number of edges between every pair of leaves (int64, shape (K, K)).

        ``d(a, b) = depth(a) + depth(b) - 2 depth(lca(a, b))``; zero on the diagonal.
        """
        depth = self.depth
        leaf_depth = depth[: self.n_leaves]
        return leaf_depth[:, None] + leaf_depth[None, :] - 2 * depth[self.lca_matrix]

    # ------------------------------------------------------------------ cutting and inference
    def cut_nodes(self, k: int) -> np.ndarray:
        """Node ids of the ``k`` groups left after ``K - k`` merges, sorted by their smallest leaf.

        Parameters
        ----------
        k : int
            Number of groups, ``1..K``.

        Returns
        -------
        ndarray of int64, shape (k,)
        """
        n = self.n_leaves
        n_done = n - check_k(k, n)
        alive = np.ones(n + n_done, dtype=bool)
        alive[self.merges[:n_done].ravel()] = False
        nodes = np.flatnonzero(alive)
        first_leaf = np.array([self.leaves_under(int(v)).min() for v in nodes], dtype=np.int64)
        return nodes[np.argsort(first_leaf, kind="stable")]

    def cut(self, k: int) -> np.ndarray:
        """Flat clustering of the leaves into ``k`` groups.

        Parameters
        ----------
        k : int
            Number of groups, ``1..K``: the state after ``K - k`` merges.

        Returns
        -------
        ndarray of int64, shape (K,)
            The group ``0..k-1`` of every leaf; groups are numbered in the order of their smallest
            leaf id (so ``cut(K)`` is the identity).

        Examples
        --------
        >>> Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]]).cut(2).tolist()
        [0, 0, 1, 1]
        """
        labels = np.empty(self.n_leaves, dtype=np.int64)
        for g, node in enumerate(self.cut_nodes(k)):
            labels[self.leaves_under(node)] = g
        return labels

    def assign(self, logits: ArrayLike, k: int | None = None, chunk_rows: int = 65536) -> np.ndarray:
        """Assign points to leaves (argmax of their logits) or to the level-``k`` groups.

        Parameters
        ----------
        logits : array_like, shape (N, K)
            Logits of new points from the same model (memory maps are read in chunks).
        k : int, optional
            When given, map each leaf to its group in :meth:`cut` ``(k)``.

        Returns
        -------
        ndarray of int64, shape (N,)
        """
        arr = check_logits_array(logits, allow_empty=True)
        if arr.shape[1] != self.n_leaves:
            raise ValueError(f"logits have {arr.shape[1]} columns but the hierarchy has {self.n_leaves} leaves")
        groups = None if k is None else self.cut(k)  # a bad k fails before the data is read
        leaf = np.empty(arr.shape[0], dtype=np.int64)
        step = max(1, min(chunk_rows, (32 << 20) // max(1, arr.shape[1] * arr.itemsize)))  # blocks of ~32 MB
        for start, block in row_blocks(arr, step):
            if not np.isfinite(block).all():
                check_finite_rows(arr, "logits", chunk_rows)  # names the first bad row and the count
            leaf[start : start + block.shape[0]] = block.argmax(axis=1)
        return leaf if groups is None else groups[leaf]

    # ------------------------------------------------------------------ comparison and export
    def clades(self) -> set[frozenset[str]]:
        """The set of clades (leaf-name sets of internal nodes): the tree's topology."""
        names = self.leaf_names
        return {frozenset(names[i] for i in self.leaves_under(self.n_leaves + t)) for t in range(self.n_leaves - 1)}

    def same_topology(self, other: Hierarchy) -> bool:
        """True when both trees have the same leaf names and the same clades (merge order ignored)."""
        return set(self.leaf_names) == set(other.leaf_names) and self.clades() == other.clades()

    def to_scipy(self) -> np.ndarray:
        """A copy of the scipy linkage matrix (valid and monotonic), for ``scipy.cluster.hierarchy``."""
        return self.linkage.copy()

    def to_ete3(self) -> Any:
        """An ``ete3.Tree`` (extra ``ete``); see :func:`l2h.interop.to_ete3`."""
        return treeio.ete3_from_merges(self.merges, self.linkage[:, 2], self.leaf_names)

    def to_newick(self, *, branch_lengths: bool = True, internal_labels: bool = True) -> str:
        """Newick text; see :func:`l2h.treeio.format_newick` (any depth).

        Examples
        --------
        >>> Hierarchy.from_merges([[0, 1], [3, 2]], leaf_names=["a", "b", "c"]).to_newick()
        '((a:1,b:1)n3:1,c:2)n4;'
        """
        return treeio.format_newick(
            self.merges,
            self.linkage[:, 2],
            self.leaf_names,
            branch_lengths=branch_lengths,
            internal_labels=internal_labels,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; see :func:`l2h.treeio.json_document`."""
        return treeio.json_document(
            self.merges,
            self.linkage[:, 2],
            self.leaf_names,
            scores=self.scores,
            relatedness=self.relatedness,
            info=self.info,
        )

    def to_json(self, indent: int | None = 1) -> str:
        """Versioned JSON text that :meth:`from_json` reads back exactly."""
        return treeio.format_json(self.to_dict(), indent=indent)

    @classmethod
    def from_tree_data(cls, data: treeio.TreeData, leaf_names: Sequence[str] | None = None) -> Hierarchy:
        """Build from the plain merges a tree reader returns (:class:`l2h.treeio.TreeData`).

        ``leaf_names`` replaces the names the file holds.
        """
        return cls.from_merges(
            data.merges,
            heights=data.heights,
            scores=data.scores,
            relatedness=data.relatedness,
            leaf_names=leaf_names if leaf_names is not None else data.leaf_names,
            info=data.info,
        )

    @classmethod
    def from_json(cls, text: str) -> Hierarchy:
        """Read the JSON written by :meth:`to_json`."""
        return cls.from_tree_data(treeio.parse_json(text))

    @classmethod
    def from_newick(cls, text: str, leaf_names: Sequence[str] | None = None) -> Hierarchy:
        """Read a binary Newick tree; see :func:`l2h.treeio.parse_newick` (any depth)."""
        return cls.from_tree_data(treeio.parse_newick(text, leaf_names=leaf_names))

    def node_name(self, node: int) -> str:
        """How every view names a node: a leaf by its name, an internal node as ``n<id>``.

        Parameters
        ----------
        node : int
            A node id (``0..K-1`` leaves, ``K..2K-2`` internal nodes, scipy numbering).

        Returns
        -------
        str

        Examples
        --------
        >>> tree = Hierarchy.from_merges([[0, 1], [3, 2]], leaf_names=["a", "b", "c"])
        >>> tree.node_name(2), tree.node_name(4)
        ('c', 'n4')
        """
        return self.leaf_names[node] if node < self.n_leaves else f"n{node}"

    def with_leaf_names(self, leaf_names: Sequence[str]) -> Hierarchy:
        """A copy with other leaf names.

        Parameters
        ----------
        leaf_names : sequence of str
            K distinct non-empty names, in leaf-id order.

        Returns
        -------
        Hierarchy
        """
        return Hierarchy(
            linkage=self.linkage,
            leaf_names=check_leaf_names(leaf_names, self.n_leaves),
            scores=self.scores,
            relatedness=self.relatedness,
            info=self.info,
        )

    # ------------------------------------------------------------------ views (notebooks)
    # The views (l2h.annotate, l2h.render, l2h.plot, l2h.report) are built on Hierarchy and import it;
    # these notebook conveniences reach them by name when called, as pandas' ``DataFrame.plot`` reaches
    # its plotting backend.  So the tree model imports no view: no import circle, and a process that
    # only builds or reads trees never loads them.
    def _leaf_stats(
        self,
        logits: ArrayLike | None,
        labels: ArrayLike | None,
        assignments: ArrayLike | None,
        class_names: Sequence[str] | None,
        class_groups: Sequence[str | None] | None,
    ) -> Any:
        if logits is not None and assignments is not None:
            raise ValueError("give the points' logits or their assignments, not both")
        leaf = self.assign(logits) if logits is not None else assignments
        leaf_stats = _view("l2h.annotate", "leaf_stats")
        return leaf_stats(self, leaf, labels, class_names=class_names, class_groups=class_groups)

    def report(
        self,
        logits: ArrayLike | None = None,
        labels: ArrayLike | None = None,
        *,
        assignments: ArrayLike | None = None,
        class_names: Sequence[str] | None = None,
        class_groups: Sequence[str | None] | None = None,
        title: str | None = None,
    ) -> Any:
        """The interactive report (as ``l2h report`` writes it), shown inline by a notebook.

        Parameters
        ----------
        logits : array_like, shape (N, K), optional
            The points' logits: each point goes to its ``argmax`` leaf.
        labels : array_like of int, shape (N,), optional
            Class id of every point (needs ``logits`` or ``assignments``).
        assignments : array_like of int, shape (N,), optional
            Leaf of every point, instead of ``logits``.
        class_names : sequence of str, optional
            Name of every class id.
        class_groups : sequence of str, optional
            Group of every class id (e.g. a superclass): colours and group composition.
        title : str, optional
            Page title.

        Returns
        -------
        l2h.report.notebook.ReportPage
            ``.html`` is the self-contained page, ``.save(path)`` writes it; in a notebook it is
            shown in a sandboxed frame (offline: no network request).

        Examples
        --------
        >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
        >>> page = tree.report(assignments=[0, 1, 2, 3, 3], labels=[0, 0, 1, 1, 1])
        >>> page.html.startswith("<!DOCTYPE html>"), page._repr_html_().startswith("<iframe")
        (True, True)
        """
        stats = self._leaf_stats(logits, labels, assignments, class_names, class_groups)
        page = _view("l2h.report", "build_report")(self, stats, title=title)
        return _view("l2h.report.notebook", "ReportPage")(page)

    def _repr_html_(self) -> str:
        # A notebook cell shows the interactive report of the tree alone (see :meth:`report`).
        return str(self.report()._repr_html_())

    def plot(
        self,
        logits: ArrayLike | None = None,
        labels: ArrayLike | None = None,
        *,
        assignments: ArrayLike | None = None,
        class_names: Sequence[str] | None = None,
        class_groups: Sequence[str | None] | None = None,
        k: int | None = 100,
        **kwargs: Any,
    ) -> Any:
        """A dendrogram picture (:func:`l2h.plot.plot_dendrogram`; extra ``plot``).

        Parameters
        ----------
        logits, labels, assignments, class_names, class_groups
            As in :meth:`report`: tip labels with majority class and purity, colours by group.
        k : int or None, default 100
            Trees with more leaves are folded to their ``k`` groups (:meth:`cut`); None draws all.
        **kwargs
            Passed to :func:`l2h.plot.plot_dendrogram` (``layout``, ``ax``, ``title``, ``width``, ...).

        Returns
        -------
        matplotlib.figure.Figure
        """
        stats = self._leaf_stats(logits, labels, assignments, class_names, class_groups)
        return _view("l2h.plot", "plot_dendrogram")(self, stats, k=k, **kwargs)

    def show(
        self,
        logits: ArrayLike | None = None,
        labels: ArrayLike | None = None,
        *,
        assignments: ArrayLike | None = None,
        class_names: Sequence[str] | None = None,
        class_groups: Sequence[str | None] | None = None,
        max_depth: int | None = None,
        ascii: bool = False,
        file: Any = None,
    ) -> None:
        """Print the tree as indented text (as ``l2h show``), large trees folded to about 60 rows.

        Parameters
        ----------
        logits, labels, assignments, class_names, class_groups
            As in :meth:`report`.
        max_depth : int, optional
            Fold rows below this depth (default: what fits in about 60 rows).
        ascii : bool, default False
            Plain ASCII guides.
        file : text stream, optional
            Where to print (default ``sys.stdout``).

        Examples
        --------
        >>> Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=list("abcd")).show(ascii=True)
        Hierarchy: 4 leaves
        n6 (4 leaves)
        |-- n4 (2 leaves)
        |   |-- a
        |   `-- b
        `-- n5 (2 leaves)
            |-- c
            `-- d
        """
        from rich.console import Console

        stats = self._leaf_stats(logits, labels, assignments, class_names, class_groups)
        depth = _view("l2h.render", "default_max_depth")(self) if max_depth is None else max_depth
        console = Console(file=file, highlight=False, soft_wrap=True)
        console.print(_view("l2h.render", "render_tree")(self, stats, max_depth=depth, ascii=ascii))

    def __repr__(self) -> str:
        """One short line at any K: the size and the short scalar provenance (method, aggregation, ...)."""
        parts = [f"n_leaves={self.n_leaves}"]
        for key in ("method", "aggregation", "strategy", "source"):
            value = self.info.get(key)
            if isinstance(value, str) and len(value) <= 24 and value.isprintable():
                parts.append(f"{key}={value!r}")
        return f"Hierarchy({', '.join(parts)})"


def _view(module: str, name: str) -> Any:
    """The function ``name`` of the view ``module``, imported at the call (the views import this module)."""
    return getattr(importlib.import_module(module), name)


def read_tree(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    leaf_names: Sequence[str] | None = None,
    *,
    format_hint: str | None = "pass fmt",
) -> Hierarchy:
    """Read a tree file: Newick (``.nwk``), l2h JSON (``.json``) or a scipy linkage (``.npy``).

    Parameters
    ----------
    path : str or path-like
        The tree file (a regular file; FIFOs and devices are refused).
    fmt : {"newick", "json", "linkage"}, optional
        The format; default from the suffix (:func:`l2h.treeio.tree_format_for`).
    leaf_names : sequence of str, optional
        K names: a Newick tree's leaves are matched to them by name; the other formats' leaves are
        renamed.
    format_hint : str or None
        How the caller's user gives the format, for the unknown-suffix error.

    Returns
    -------
    Hierarchy

    Raises
    ------
    InputError
        One line naming the file.
    """
    data = treeio.read_tree_data(path, fmt, leaf_names=leaf_names, format_hint=format_hint)
    try:
        return Hierarchy.from_tree_data(data)
    except (ValueError, TypeError) as exc:
        raise InputError(f"tree file {path}: {exc}") from None
