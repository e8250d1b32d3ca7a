"""The tree model: one frozen, array-backed encoding of a binary hierarchy over K leaves.

Node numbering follows :func:`scipy.cluster.hierarchy.linkage`: leaves are ``0..K-1`` and merge
``t`` (0-based) creates node ``K + t``; the root is node ``2K - 2``.  Node objects only appear at
export time (:mod:`l2h.io`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from l2h._validation import check_finite_rows, check_leaf_names, check_logits_array


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

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_merges(
        cls,
        merges: object,
        *,
        heights: object = None,
        scores: object = None,
        relatedness: object = None,
        leaf_names: Sequence[str] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> Hierarchy:
        """Build from a ``(K-1, 2)`` array of node ids (scipy numbering).

        ``heights`` defaults to ``t + 1`` for merge ``t`` (ultrametric, drawn by scipy's dendrogram);
        given heights must be non-decreasing.
        """
        merges = np.asarray(merges)
        if merges.ndim != 2 or merges.shape[1] != 2:
            raise ValueError(f"merges must have shape (K-1, 2); got {merges.shape}")
        if merges.size and not np.all(np.equal(np.mod(merges, 1), 0)):
            raise ValueError("merges must hold integer node ids")
        merges = merges.astype(np.int64)
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
        counts = np.ones(2 * k - 1, dtype=np.int64)
        used = np.zeros(2 * k - 1, dtype=bool)
        for t, (a, b) in enumerate(merges):
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
            counts[k + t] = counts[a] + counts[b]
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
    def from_linkage(cls, linkage: object, leaf_names: Sequence[str] | None = None) -> Hierarchy:
        """Build from a scipy linkage matrix (heights are kept; scores are unknown)."""
        z = np.asarray(linkage, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != 4:
            raise ValueError(f"linkage must have shape (K-1, 4); got {z.shape}")
        return cls.from_merges(z[:, :2], heights=z[:, 2], leaf_names=leaf_names)

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
        depth = np.zeros(self.n_nodes, dtype=np.int64)
        k = self.n_leaves
        for t in range(k - 2, -1, -1):  # parents before children
            node = k + t
            depth[self.merges[t]] = depth[node] + 1
        return depth

    @cached_property
    def leaf_counts(self) -> np.ndarray:
        """Number of leaves under every node (int64, shape (2K-1,))."""
        return np.concatenate([np.ones(self.n_leaves, np.int64), self.linkage[:, 3].astype(np.int64)])

    def leaves_under(self, node: int) -> np.ndarray:
        """Leaf ids under ``node`` in left-to-right order (int64 array)."""
        return self._leaf_order_under[int(node)]

    @cached_property
    def _leaf_order_under(self) -> list[np.ndarray]:
        k = self.n_leaves
        out: list[np.ndarray] = [np.array([i], dtype=np.int64) for i in range(k)]
        for a, b in self.merges:
            out.append(np.concatenate([out[a], out[b]]))
        return out

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
        under = self._leaf_order_under
        for t, (a, b) in enumerate(self.merges):
            left, right = under[a], under[b]
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
        """Node ids of the ``k`` groups left after ``K - k`` merges, sorted by their smallest leaf."""
        n = self.n_leaves
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an integer; got {type(k).__name__}")
        if not 1 <= k <= n:
            raise ValueError(f"k must be between 1 and the number of leaves ({n}); got {k}")
        n_done = n - k
        alive = np.ones(n + n_done, dtype=bool)
        alive[self.merges[:n_done].ravel()] = False
        nodes = np.flatnonzero(alive)
        first_leaf = np.array([self.leaves_under(v).min() for v in nodes])
        return nodes[np.argsort(first_leaf, kind="stable")]

    def cut(self, k: int) -> np.ndarray:
        """Flat clustering of the leaves into ``k`` groups.

        Returns an int64 array of shape (K,) mapping every leaf to its group ``0..k-1``; groups are
        numbered in the order of their smallest leaf id (so ``cut(K)`` is the identity).
        """
        labels = np.empty(self.n_leaves, dtype=np.int64)
        for g, node in enumerate(self.cut_nodes(k)):
            labels[self.leaves_under(node)] = g
        return labels

    def assign(self, logits: object, k: int | None = None, chunk_rows: int = 65536) -> np.ndarray:
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
        for start in range(0, arr.shape[0], chunk_rows):
            block = np.asarray(arr[start : start + chunk_rows])
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
        from l2h.interop import to_ete3

        return to_ete3(self)

    def to_newick(self, *, branch_lengths: bool = True, internal_labels: bool = True) -> str:
        """Newick text; see :func:`l2h.io.to_newick`."""
        from l2h.io import to_newick

        return to_newick(self, branch_lengths=branch_lengths, internal_labels=internal_labels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; see :func:`l2h.io.to_json_dict`."""
        from l2h.io import to_json_dict

        return to_json_dict(self)

    def to_json(self, indent: int | None = 1) -> str:
        """Versioned JSON text that :meth:`from_json` reads back exactly."""
        import json

        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Hierarchy:
        """Read the JSON written by :meth:`to_json`."""
        from l2h.io import from_json_text

        return from_json_text(text)

    @classmethod
    def from_newick(cls, text: str, leaf_names: Sequence[str] | None = None) -> Hierarchy:
        """Read a binary Newick tree; see :func:`l2h.io.from_newick`."""
        from l2h.io import from_newick

        return from_newick(text, leaf_names=leaf_names)

    def with_leaf_names(self, leaf_names: Sequence[str]) -> Hierarchy:
        """A copy with other leaf names (same order as the leaf ids)."""
        return Hierarchy(
            linkage=self.linkage,
            leaf_names=check_leaf_names(leaf_names, self.n_leaves),
            scores=self.scores,
            relatedness=self.relatedness,
            info=self.info,
        )

    def __repr__(self) -> str:
        return f"Hierarchy(n_leaves={self.n_leaves}, info={dict(self.info)!r})"
