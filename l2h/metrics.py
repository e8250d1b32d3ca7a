"""Scores of a hierarchy of clusters against ground-truth labels.

Every score here is a function of the *leaf x class count table* ``T`` (``T[l, c]`` = number of points
assigned to leaf ``l`` whose label is ``c``, see :func:`contingency_table`) and, for the hierarchical
ones, of the tree.  Nothing ever looks at pairs of points: the points are read once, into a sparse
table of at most N non-zeros, and the rest works on that table's non-zeros and the tree's merges.
No dense ``K x C`` (let alone ``K x K x C``) array is formed, so ImageNet-21k-sized inputs (N = 1.28M,
K = C = 21 841) score in seconds.

Flat scores (of the leaves, or of the groups of a cut)
    :func:`nmi`, :func:`ari`, :func:`accuracy` (Hungarian matching, clusters may outnumber classes),
    :func:`leaf_purity`.
Hierarchical scores
    :func:`dendrogram_purity` (Kobren et al. 2017, exact), :func:`least_hierarchical_distance`
    (LHD and the raw mean path length), :func:`class_distance_matrix` (or, streamed in row blocks,
    :func:`class_distance_blocks` and :func:`write_class_distances`).
Levels
    :func:`level_scores` cuts the tree into ``k`` groups and scores the groups.
All at once
    :func:`evaluate` from a :class:`~l2h.Hierarchy`, the points' leaves (or their logits) and labels.

Tables may be dense arrays or ``scipy.sparse`` matrices/arrays of counts.

Examples
--------
>>> import numpy as np
>>> from l2h import Hierarchy
>>> from l2h.metrics import evaluate
>>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])      # ((0,1),(2,3))
>>> leaves = np.array([0, 0, 1, 1, 2, 3, 3])
>>> labels = np.array([0, 0, 0, 0, 1, 1, 1])
>>> scores = evaluate(tree, labels, assignments=leaves)
>>> scores["dp"], scores["lhd"], scores["mean_path_length"]
(1.0, 0.5, 2.0)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import IO, Any, Protocol, Union

import numpy as np
from numpy.typing import ArrayLike

from l2h._validation import check_array
from l2h.hierarchy import Hierarchy, check_k

__all__ = [
    "accuracy",
    "ari",
    "check_assignments",
    "class_distance_blocks",
    "class_distance_matrix",
    "contingency_table",
    "dendrogram_purity",
    "encode_label_values",
    "encode_labels",
    "evaluate",
    "evaluate_table",
    "leaf_purity",
    "least_hierarchical_distance",
    "level_scores",
    "nmi",
    "node_class_counts",
    "scores_to_json",
    "write_class_distances",
]

#: Top-level keys of :func:`evaluate`'s result (and of ``l2h metrics --json``), in order.
RESULT_KEYS = ("n_points", "n_leaves", "nmi", "ari", "acc", "lp", "dp", "lhd", "mean_path_length", "levels")
#: Keys of every entry of ``result["levels"]``.
LEVEL_KEYS = ("nmi", "ari", "acc", "lp")

#: What the table arguments accept: a dense array_like of counts or a ``scipy.sparse`` matrix/array.
TableLike = Union[ArrayLike, "_SparseCounts"]


class _SparseCounts(Protocol):
    """Any ``scipy.sparse`` matrix or array (what :func:`_check_table` needs of it)."""

    def tocoo(self) -> Any: ...


# Non-negative integer labels index the table directly (class ids are kept, classes absent from the
# data become empty columns) when the ids are dense: max + 1 <= 2 * (distinct ids) + 1024.  Sparse ids
# (e.g. WordNet offsets, 17 and 10**6) or negative ones are re-encoded through np.unique, so the table
# never grows with the size of the ids.
_DIRECT_LABEL_SLACK = 1024
# Up to this many cells, ACC runs scipy's dense Hungarian solver; above, the sparse one (same optimum).
_DENSE_MATCHING_CELLS = 1 << 20
# Rows of the class distance matrix computed (and written) at a time.
_DISTANCE_BLOCK_ROWS = 256
# ... fewer for very deep or wide trees: the block's per-node scratch is (2K - 1) x rows int64.
_DISTANCE_BLOCK_CELLS = 1 << 24


def _kernels() -> ModuleType:
    from l2h._numba import import_kernels

    return import_kernels("l2h._metrics_kernels")


# ---------------------------------------------------------------------------------------------- inputs
def _as_integer_vector(values: ArrayLike, name: str) -> np.ndarray:
    """A 1-D int64 copy of integer-valued ``values``; ``ValueError`` naming ``name`` otherwise."""
    return check_array(values, name, kind="integer", ndim=1, axes=("one entry per point",))


def encode_labels(labels: ArrayLike, name: str = "labels") -> tuple[np.ndarray, np.ndarray]:
    """Class ids ``0..C-1`` for arbitrary labels.

    Parameters
    ----------
    labels : array_like, shape (N,)
        Integer (or integer-valued float) labels, or strings.
    name : str
        Name used in error messages.

    Returns
    -------
    codes : ndarray of int64, shape (N,)
        The class id of every point.
    classes : ndarray, shape (C,)
        The label value of every class id.  Dense non-negative integer labels are kept as their own
        ids (``classes = arange(max + 1)``, so a class absent from the data is an empty column; dense
        means ``max + 1 <= 2 * n_distinct + 1024``); other labels (strings, negative integers such
        as ``-1``, sparse ids) are numbered in sorted order.  Every distinct value is a class, ``-1``
        included (as in scikit-learn): drop unlabelled points before scoring.  The scores do not
        depend on the numbering.

    Examples
    --------
    >>> codes, classes = encode_labels(["cat", "dog", "cat"])
    >>> codes.tolist(), classes.tolist()
    ([0, 1, 0], ['cat', 'dog'])
    """
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one entry per point); got shape {arr.shape}")
    if arr.dtype.kind in "USO":
        classes, codes = np.unique(arr.astype(str), return_inverse=True)
        return codes.astype(np.int64).reshape(-1), classes
    codes = _as_integer_vector(arr, name)
    if codes.size and codes.min() >= 0:
        high = int(codes.max())
        # The first test bounds the bincount below by O(N); the second asks for dense ids.
        if high < 2 * codes.size + _DIRECT_LABEL_SLACK:
            n_distinct = int(np.count_nonzero(np.bincount(codes, minlength=high + 1)))
            if _ids_are_dense(high, n_distinct, codes.size):
                return codes, np.arange(high + 1, dtype=np.int64)
    classes, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), classes


def _ids_are_dense(high: int, n_distinct: int, n_points: int) -> bool:
    """Whether non-negative integer labels up to ``high`` are kept as class ids (see :func:`encode_labels`)."""
    return high < 2 * n_points + _DIRECT_LABEL_SLACK and high + 1 <= 2 * n_distinct + _DIRECT_LABEL_SLACK


def encode_label_values(values: ArrayLike, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`encode_labels` for labels known only by their distinct values (e.g. counted on shards).

    Parameters
    ----------
    values : array_like of int, shape (V,)
        The distinct label values (sorted or not).
    n_points : int
        Number of points carrying them.

    Returns
    -------
    codes : ndarray of int64, shape (V,)
        The class id of every value: what :func:`encode_labels` gives its points.
    classes : ndarray of int64, shape (C,)

    Examples
    --------
    >>> codes, classes = encode_label_values([3, 1], n_points=10)
    >>> codes.tolist(), len(classes)
    ([3, 1], 4)
    """
    distinct = _as_integer_vector(values, "label values")
    if distinct.size and distinct.min() >= 0:
        high = int(distinct.max())
        if _ids_are_dense(high, int(np.unique(distinct).size), int(n_points)):
            return distinct, np.arange(high + 1, dtype=np.int64)
    classes, inverse = np.unique(distinct, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), classes


@dataclass(frozen=True)
class _Table:
    """A leaf x class count table as its non-zeros, sorted by row then column (at most N of them)."""

    n_rows: int
    n_cols: int
    rows: np.ndarray
    cols: np.ndarray
    counts: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_rows, self.n_cols

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def row_sums(self) -> np.ndarray:
        return _sums(self.rows, self.counts, self.n_rows)

    def col_sums(self) -> np.ndarray:
        return _sums(self.cols, self.counts, self.n_cols)

    def to_dense(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=np.int64)
        out[self.rows, self.cols] = self.counts
        return out

    def tocoo(self) -> Any:
        return self.to_sparse().tocoo()

    def to_sparse(self) -> Any:
        import scipy.sparse

        return scipy.sparse.csr_array((self.counts, (self.rows, self.cols)), shape=self.shape)

    def regroup(self, group_of_row: np.ndarray, n_groups: int) -> _Table:
        """The table of groups of rows (row ``r`` goes to group ``group_of_row[r]``)."""
        return _from_entries(group_of_row[self.rows], self.cols, self.counts, n_groups, self.n_cols)


def _sums(index: np.ndarray, counts: np.ndarray, size: int) -> np.ndarray:
    # float64 weights are exact for counts below 2**53
    return np.bincount(index, weights=counts, minlength=size).astype(np.int64)


def _from_entries(rows: np.ndarray, cols: np.ndarray, counts: np.ndarray, n_rows: int, n_cols: int) -> _Table:
    """Sum duplicate (row, col) entries, drop zeros, sort row-major."""
    keep = counts != 0
    rows, cols, counts = rows[keep], cols[keep], counts[keep]
    key = rows * n_cols + cols
    if n_rows * n_cols <= max(4 * key.size, 1 << 20):
        dense = np.bincount(key, weights=counts, minlength=n_rows * n_cols)
        flat = np.flatnonzero(dense)
        summed = dense[flat].astype(np.int64)
    else:
        order = np.argsort(key, kind="stable")
        key = key[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else np.zeros(0, np.int64)
        flat = key[starts]
        summed = np.add.reduceat(counts[order], starts) if key.size else np.zeros(0, np.int64)
    return _Table(n_rows, n_cols, flat // n_cols, flat % n_cols, summed.astype(np.int64))


def _check_table(table: TableLike | _Table, name: str = "table") -> _Table:
    """Any table (dense array, ``scipy.sparse`` matrix or array) as its non-zeros; counts checked."""
    if isinstance(table, _Table):
        return table
    if _is_sparse(table):
        coo = table.tocoo()  # type: ignore[union-attr]
        if coo.ndim != 2:
            raise ValueError(f"{name} must be 2-D (clusters, classes); got shape {coo.shape}")
        rows, cols, values = np.asarray(coo.row), np.asarray(coo.col), np.asarray(coo.data)
        shape = coo.shape
        values = check_array(values, f"{name} (its non-zeros)", kind="count", ndim=1)
    else:
        dense = check_array(table, name, kind="count", ndim=2, axes=("clusters", "classes"))
        rows, cols = np.nonzero(dense)
        values = dense[rows, cols]
        shape = dense.shape
    return _from_entries(rows.astype(np.int64), cols.astype(np.int64), values.astype(np.int64), *map(int, shape))


def _is_sparse(value: object) -> bool:
    try:
        import scipy.sparse
    except ImportError:  # pragma: no cover - scipy is a dependency
        return False
    return bool(scipy.sparse.issparse(value))


def contingency_table(
    assignments: ArrayLike,
    labels: ArrayLike,
    *,
    n_leaves: int | None = None,
    n_classes: int | None = None,
    sparse: bool = False,
) -> Any:
    """Leaf x class count table.

    Parameters
    ----------
    assignments : array_like of int, shape (N,)
        Leaf (cluster) id of every point, in ``0..n_leaves-1``.
    labels : array_like of int, shape (N,)
        Class id of every point, in ``0..n_classes-1`` (see :func:`encode_labels` for other labels).
    n_leaves, n_classes : int, optional
        Table shape; default ``max + 1`` of each input.  Leaves or classes without points are zero
        rows or columns, which no score here is affected by.
    sparse : bool
        Return a ``scipy.sparse.csr_array`` (at most N non-zeros) instead of a dense array: use it
        when ``n_leaves * n_classes`` is large (ImageNet-21k: 21 841 x 21 841 would be 3.8 GB dense).
        Every function here accepts both.

    Returns
    -------
    ndarray of int64, shape (n_leaves, n_classes), or scipy.sparse.csr_array
        ``T[l, c] = #{i : assignments[i] = l and labels[i] = c}``; one pass over the points.

    Examples
    --------
    >>> contingency_table([0, 0, 1], [1, 1, 0]).tolist()
    [[0, 2], [1, 0]]
    """
    table = _points_table(assignments, labels, n_leaves, n_classes)
    return table.to_sparse() if sparse else table.to_dense()


def _points_table(assignments: ArrayLike, labels: ArrayLike, n_leaves: int | None, n_classes: int | None) -> _Table:
    leaf = _as_integer_vector(assignments, "assignments")
    cls = _as_integer_vector(labels, "labels")
    if leaf.shape != cls.shape:
        raise ValueError(f"labels has {cls.shape[0]} entries but assignments has {leaf.shape[0]}")
    k = _table_side(leaf, n_leaves, "assignments", "n_leaves")
    c = _table_side(cls, n_classes, "labels", "n_classes")
    return _from_entries(leaf, cls, np.ones(leaf.shape[0], dtype=np.int64), k, c)


def _table_side(ids: np.ndarray, size: int | None, name: str, size_name: str) -> int:
    low = int(ids.min()) if ids.size else 0
    high = int(ids.max()) if ids.size else -1
    if low < 0:
        raise ValueError(f"{name} must be non-negative ids; found {low}")
    if size is None:
        return max(high + 1, 1)
    if high >= size:
        raise ValueError(f"{name} must be in 0..{size - 1} ({size_name} = {size}); found {high}")
    return int(size)


def _check_tree_table(tree: Hierarchy, table: TableLike | _Table) -> _Table:
    if not isinstance(tree, Hierarchy):
        raise TypeError(f"tree must be an l2h.Hierarchy; got {type(tree).__name__}")
    t = _check_table(table)
    if t.n_rows != tree.n_leaves:
        raise ValueError(f"table has {t.n_rows} rows but the hierarchy has {tree.n_leaves} leaves")
    return t


def _pairs(counts: np.ndarray) -> np.ndarray:
    """``C(n, 2)`` elementwise, int64 (exact up to n ~ 4e9)."""
    return counts * (counts - 1) // 2


def _pair_total(counts: np.ndarray) -> int:
    """``sum C(n, 2)`` as a Python int (no overflow at any N)."""
    return sum(int(n) * (int(n) - 1) // 2 for n in counts[counts > 1].tolist())


# ---------------------------------------------------------------------------------------------- flat
def nmi(table: TableLike) -> float:
    r"""Normalised mutual information with arithmetic normalisation.

    .. math:: \mathrm{NMI} = \frac{I(U; V)}{(H(U) + H(V)) / 2}

    with ``U`` the clusters (rows) and ``V`` the classes (columns), natural logarithms.  Same value and
    edge cases as :func:`sklearn.metrics.normalized_mutual_info_score` (its default): 1.0 when both
    sides have a single non-empty group, 0.0 when the mutual information is 0; clipped to 1.0 where
    rounding would exceed it.

    Parameters
    ----------
    table : array_like or scipy.sparse matrix of int, shape (K, C)
        Contingency table (:func:`contingency_table`).

    Returns
    -------
    float in [0, 1]

    References
    ----------
    Strehl & Ghosh, "Cluster ensembles", JMLR 3, 2002; Vinh, Epps & Bailey, JMLR 11, 2010.

    Examples
    --------
    >>> nmi([[5, 0], [0, 5]])
    1.0
    """
    t = _check_table(table)
    rows = t.row_sums()
    cols = t.col_sums()
    n_rows, n_cols = int(np.count_nonzero(rows)), int(np.count_nonzero(cols))
    if n_rows == n_cols == 1 or n_rows == n_cols == 0:
        return 1.0
    n = float(rows.sum())
    nij = t.counts.astype(np.float64)
    mi = float(np.sum(nij / n * (np.log(nij) + np.log(n) - np.log(rows[t.rows]) - np.log(cols[t.cols]))))
    mi = max(mi, 0.0)
    if mi == 0.0:
        return 0.0
    normaliser = 0.5 * (_entropy(rows) + _entropy(cols))
    return float(min(mi / normaliser, 1.0))  # NMI <= 1; rounding may overshoot by an ulp


def _entropy(sizes: np.ndarray) -> float:
    p = sizes[sizes > 0].astype(np.float64)
    total = p.sum()
    return float(-np.sum(p / total * (np.log(p) - np.log(total))))


def ari(table: TableLike) -> float:
    r"""Adjusted Rand index (Hubert & Arabie 1985).

    From the pair confusion counts (pairs together in both, in one only, in neither):

    .. math:: \mathrm{ARI} = \frac{2 (tp \cdot tn - fn \cdot fp)}
              {(tp + fn)(fn + tn) + (tp + fp)(fp + tn)}

    computed with Python integers, so nothing overflows at any N.  1.0 when both partitions agree
    (as :func:`sklearn.metrics.adjusted_rand_score`).

    Parameters
    ----------
    table : array_like or scipy.sparse matrix of int, shape (K, C)

    Returns
    -------
    float in [-0.5, 1]

    Examples
    --------
    >>> ari([[2, 0], [0, 2]])
    1.0
    """
    t = _check_table(table)
    n = t.total
    # Squares of counts fit int64 for N < 3e9; the products below need Python integers.
    sum_squares = int(np.sum(t.counts * t.counts))
    together_rows = int(np.sum(t.row_sums() ** 2))
    together_cols = int(np.sum(t.col_sums() ** 2))
    tp = sum_squares - n
    fp = together_rows - sum_squares  # same cluster, different class (ordered pairs)
    fn = together_cols - sum_squares
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return float(2 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))


def accuracy(table: TableLike) -> float:
    """Clustering accuracy: the best one-to-one matching of clusters to classes.

    The matching maximises the matched counts (Hungarian algorithm: scipy's dense
    :func:`~scipy.optimize.linear_sum_assignment` on small tables, its sparse
    :func:`~scipy.sparse.csgraph.min_weight_full_bipartite_matching` on the non-zeros of large ones,
    both exact).  With more clusters than classes, the unmatched clusters count as errors, as in the
    usual deep-clustering ACC.

    Parameters
    ----------
    table : array_like or scipy.sparse matrix of int, shape (K, C)

    Returns
    -------
    float in [0, 1]
        ``sum of matched counts / N`` (0.0 when N = 0).

    Examples
    --------
    >>> accuracy([[3, 1], [0, 4], [2, 0]])   # 3 clusters, 2 classes: 3 + 4 of 10 matched
    0.7
    """
    t = _check_table(table)
    n = t.total
    if n == 0:
        return 0.0
    return _matched_total(t) / n


def _matched_total(t: _Table, dense_cells: int = _DENSE_MATCHING_CELLS) -> int:
    """The largest sum of table entries with no two in one row or column."""
    # Empty rows and columns cannot change the optimum; dropping them shrinks the problem.
    used_rows, rows = np.unique(t.rows, return_inverse=True)
    used_cols, cols = np.unique(t.cols, return_inverse=True)
    k, c = used_rows.size, used_cols.size
    if k * c <= dense_cells:
        from scipy.optimize import linear_sum_assignment

        dense = np.zeros((k, c), dtype=np.int64)
        dense[rows, cols] = t.counts
        r, s = linear_sum_assignment(dense, maximize=True)
        return int(dense[r, s].sum())
    import scipy.sparse
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    # Maximum-weight matching on the non-zeros as a full matching of the smaller side: every row may
    # also take a private dummy column.  All full matchings have the same number of edges, so costs
    # big - count (real) and big (dummy) rank them exactly as the matched total does.  Integer costs
    # below 2**53 are exact in float64.
    if k > c:
        rows, cols, k, c = cols, rows, c, k
    big = float(t.counts.max()) + 1.0
    graph = scipy.sparse.csr_array(
        (
            np.concatenate([big - t.counts, np.full(k, big)]),
            (np.concatenate([rows, np.arange(k)]), np.concatenate([cols, c + np.arange(k)])),
        ),
        shape=(k, c + k),
    )
    matched_rows, matched_cols = min_weight_full_bipartite_matching(graph)
    real = matched_cols < c
    lookup = scipy.sparse.csr_array((t.counts, (rows, cols)), shape=(k, c))
    return int(np.asarray(lookup[matched_rows[real], matched_cols[real]]).sum())


def leaf_purity(table: TableLike) -> float:
    r"""Leaf purity :math:`\mathrm{LP} = \sum_l \max_c T_{lc} / N` (0.0 when N = 0).

    Parameters
    ----------
    table : array_like or scipy.sparse matrix of int, shape (K, C)

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> leaf_purity([[3, 1], [0, 4]])
    0.875
    """
    t = _check_table(table)
    n = t.total
    if not n:
        return 0.0
    starts = np.flatnonzero(np.r_[True, t.rows[1:] != t.rows[:-1]])
    return float(int(np.maximum.reduceat(t.counts, starts).sum()) / n)


# ---------------------------------------------------------------------------------------------- hierarchical
def node_class_counts(tree: Hierarchy, table: TableLike) -> np.ndarray:
    """Class counts under every node of the tree (dense: ``(2K-1) x C`` int64, for small tables).

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    table : array_like or scipy.sparse matrix of int, shape (K, C)

    Returns
    -------
    ndarray of int64, shape (2K-1, C)
        Rows ``0..K-1`` are ``table``; row ``K + t`` is the sum of the rows of merge ``t``'s children.

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1]])
    >>> node_class_counts(tree, [[1, 0], [2, 3]]).tolist()
    [[1, 0], [2, 3], [3, 3]]
    """
    t = _check_tree_table(tree, table)
    k = tree.n_leaves
    counts = np.zeros((tree.n_nodes, t.n_cols), dtype=np.int64)
    counts[t.rows, t.cols] = t.counts
    for step, (a, b) in enumerate(tree.merges):
        np.add(counts[a], counts[b], out=counts[k + step])
    return counts


@dataclass(frozen=True)
class _Layout:
    """The tree as flat arrays: merges, leaf counts, left-to-right starts, depths, adjacent-leaf LCAs."""

    k: int
    merges: np.ndarray
    leaves: np.ndarray
    start: np.ndarray
    depth: np.ndarray
    gap_node: np.ndarray
    gap_depth: np.ndarray

    @classmethod
    def of(cls, tree: Hierarchy) -> _Layout:
        merges = np.ascontiguousarray(tree.merges, dtype=np.int64)
        leaves, start, depth, gap_node, gap_depth = _kernels().tree_layout(merges, tree.n_leaves)
        return cls(tree.n_leaves, merges, leaves, start, depth, gap_node, gap_depth)

    def kernel_state(self) -> tuple[np.ndarray, ...]:
        """The ``layout`` bundle of :func:`l2h._metrics_kernels.class_pair_sums`: ``(merges, leaves,
        start, depth, gap_node, gap_depth, rmq, leaf_at)``."""
        k = self.k
        rmq = _kernels().argmin_table(self.gap_depth)
        leaf_at = np.empty(k, dtype=np.int64)
        leaf_at[self.start[:k]] = np.arange(k)
        return (self.merges, self.leaves, self.start, self.depth, self.gap_node, self.gap_depth, rmq, leaf_at)

    def class_entries(self, t: _Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The ``entries`` bundle: ``t``'s non-zeros sorted by class, then by leaf position, as
        ``(entry_ptr, entry_pos, entry_count, entry_cumsum)`` (int64)."""
        pos = self.start[t.rows]
        order = np.lexsort((pos, t.cols))
        entry_pos = np.ascontiguousarray(pos[order])
        entry_count = np.ascontiguousarray(t.counts[order])
        entry_ptr = np.concatenate([[0], np.cumsum(np.bincount(t.cols, minlength=t.n_cols))]).astype(np.int64)
        entry_cumsum = np.concatenate([[0], np.cumsum(entry_count)]).astype(np.int64)
        return entry_ptr, entry_pos, entry_count, entry_cumsum

    def pair_weights(self, t: _Table) -> tuple[np.ndarray, np.ndarray]:
        """The ``weights`` bundle: ``(node_points, log_of)``, the points of ``t`` under every node and
        ``log_of[d] = ln d`` for every path length ``d`` the tree has (``log_of[0] = 0``)."""
        node_points = self.node_sums(t.row_sums())
        max_distance = 2 * int(self.depth.max())
        log_of = np.zeros(max_distance + 1)
        np.log(np.arange(1, max_distance + 1, dtype=np.float64), out=log_of[1:])
        return node_points, log_of

    def node_sums(self, leaf_values: np.ndarray) -> np.ndarray:
        """``leaf_values`` summed under every node (int64, shape (2K-1,))."""
        k = self.k
        # Node v covers leaf positions start[v]:start[v] + leaves[v]: a prefix-sum difference.
        by_position = np.zeros(k, dtype=np.int64)
        by_position[self.start[:k]] = leaf_values
        prefix = np.concatenate([[0], np.cumsum(by_position)])
        return prefix[self.start + self.leaves] - prefix[self.start]


@dataclass(frozen=True)
class _PairSums:
    dp_numerator: float  # sum over same-class pairs of the purity of their LCA
    same_class_pairs: int  # |P*|
    log_sum: float  # sum over same-class pairs in different leaves of ln d
    length_sum: int  # ... of d
    split_pairs: int  # |P~|


def _pair_sum_outputs(n_classes: int, n_entries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``out`` bundle of :func:`l2h._metrics_kernels.class_pair_sums`: ``(dp_sum, log_sum,
    len_sum, scratch)``, zeroed."""
    return (
        np.zeros(n_classes),
        np.zeros(n_classes),
        np.zeros(n_classes, dtype=np.int64),
        np.zeros(n_entries, dtype=np.int64),
    )


def _pair_sums(tree: Hierarchy, t: _Table, layout: _Layout | None = None) -> _PairSums:
    """The sums behind DP, LHD and the mean path length, in one pass over the class-sorted non-zeros."""
    layout = layout or _Layout.of(tree)
    out = _pair_sum_outputs(t.n_cols, t.counts.size)
    _kernels().class_pair_sums(layout.class_entries(t), layout.kernel_state(), layout.pair_weights(t), out)
    dp_sum, log_sum, len_sum, _ = out
    same_class = _pair_total(t.col_sums())
    return _PairSums(
        dp_numerator=math.fsum(dp_sum.tolist()),
        same_class_pairs=same_class,
        log_sum=math.fsum(log_sum.tolist()),
        length_sum=sum(len_sum.tolist()),
        split_pairs=same_class - _pair_total(t.counts),
    )


def dendrogram_purity(tree: Hierarchy, table: TableLike) -> float:
    r"""Dendrogram purity (Kobren et al. 2017, as TreeVAE computes it), exact.

    With :math:`P^* = \{(i, j) : i < j, y_i = y_j\}` and :math:`v(i, j)` the lowest common ancestor of
    the two points' leaves (their own leaf when they share one),

    .. math:: \mathrm{DP} = \frac{1}{|P^*|} \sum_{(i,j) \in P^*} \frac{n_{v, y_i}}{n_v}

    where :math:`n_v` counts the points under node ``v`` and :math:`n_{v,c}` those of class ``c``.
    The pairs of class ``c`` whose LCA is internal node ``v`` number :math:`L_c R_c` (counts of ``c``
    under its two children); those inside leaf ``l`` number :math:`\binom{T_{lc}}{2}`.  The nodes
    where both children hold class ``c`` are the LCAs of the consecutive leaves of ``c`` in
    left-to-right order, so the sum runs over the table's non-zeros: ``O(nnz log nnz + K log K)``
    after the table, never over pairs of points or over all ``K x C`` cells.

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    table : array_like or scipy.sparse matrix of int, shape (K, C)
        Leaf x class counts (:func:`contingency_table`).

    Returns
    -------
    float in (0, 1]
        NaN when no two points share a class (:math:`P^*` empty).

    References
    ----------
    Heller & Ghahramani, "Bayesian hierarchical clustering", ICML 2005.
    Kobren, Monath, Krishnamurthy & McCallum, "A hierarchical algorithm for extreme clustering", KDD 2017.

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [3, 2]])   # ((0,1),2)
    >>> dendrogram_purity(tree, [[1, 0], [0, 2], [1, 0]])
    0.75
    """
    t = _check_tree_table(tree, table)
    sums = _pair_sums(tree, t)
    return _dp_value(sums)


def _dp_value(sums: _PairSums) -> float:
    return sums.dp_numerator / sums.same_class_pairs if sums.same_class_pairs else float("nan")


def _lhd_values(sums: _PairSums, n_leaves: int) -> tuple[float, float]:
    if sums.split_pairs == 0:
        return 0.0, 0.0
    return sums.log_sum / sums.split_pairs / math.log(n_leaves), sums.length_sum / sums.split_pairs


def least_hierarchical_distance(tree: Hierarchy, table: TableLike) -> tuple[float, float]:
    r"""Least hierarchical distance (LHD) and the raw mean path length over the same pairs.

    With :math:`\tilde P = \{(i, j) : i < j, y_i = y_j, \hat y_i \ne \hat y_j\}` (same class, different
    leaves) and :math:`d(a, b)` the number of edges between leaves ``a`` and ``b``,

    .. math:: \mathrm{LHD} = \frac{1}{|\tilde P|} \sum_{(i,j) \in \tilde P}
              \frac{\ln d(\hat y_i, \hat y_j)}{\ln K}, \qquad
              \bar d = \frac{1}{|\tilde P|} \sum_{(i,j) \in \tilde P} d(\hat y_i, \hat y_j).

    Lower is better; both are 0 when :math:`\tilde P` is empty (every class inside one leaf).  Computed
    from the table's non-zeros: for every class, every pair of the leaves holding it, weighted by
    the product of their counts (``ln`` is not additive along paths, so the pairs of leaves cannot be
    summed away).  The cost is ``O(sum_c m_c^2)`` with ``m_c`` the number of leaves holding class
    ``c``: small when classes are concentrated in a few leaves, at most ``K`` times the non-zeros.

    The L2H paper does not state its exact normalisation of LHD, so these values are **not comparable
    with the paper's tables**; compare hierarchies with each other under this definition.

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    table : array_like or scipy.sparse matrix of int, shape (K, C)

    Returns
    -------
    lhd : float
        Mean of ``ln d / ln K`` over :math:`\tilde P`.
    mean_path_length : float
        Mean of ``d`` over :math:`\tilde P` (edges).

    References
    ----------
    Palumbo, Vandenhirtz, Ryser, Daunhawer & Vogt, "From Logits to Hierarchies: Hierarchical Clustering
    made Simple", ICML 2025.

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [3, 2]])   # ((0,1),2)
    >>> least_hierarchical_distance(tree, [[1, 0], [0, 2], [1, 0]])   # one split pair, 3 edges apart
    (1.0, 3.0)
    """
    t = _check_tree_table(tree, table)
    return _lhd_values(_pair_sums(tree, t), tree.n_leaves)


def class_distance_blocks(
    tree: Hierarchy, table: TableLike, block_rows: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    r"""The class distance matrix (:func:`class_distance_matrix`) in blocks of rows.

    Memory stays ``O((K + C) * block_rows)`` whatever ``C`` is, so a ``C x C`` matrix too large to
    hold (ImageNet-21k: 3.8 GB) can be written out block by block (:func:`write_class_distances`).

    With :math:`n_{u,A}` the points of class ``A`` under node ``u``, the depth of the LCA of two
    leaves counts the non-root nodes above both, so

    .. math:: \sum_{a \in A, b \in B} d(\hat y_a, \hat y_b) = n_B S_A + n_A S_B
              - 2 \sum_{u \ne \mathrm{root}} n_{u,A} n_{u,B}

    (:math:`S_A` = sum of the leaf depths of ``A``'s points).  For a block of classes ``A`` the last
    sum is, for every leaf ``y``, the running sum of :math:`n_{u,A}` down its root path, weighted by
    ``y``'s row of the table: ``O(K + nnz)`` per row, exact in int64.

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    table : array_like or scipy.sparse matrix of int, shape (K, C)
    block_rows : int, optional
        Rows per block; default 256 (fewer when ``2K - 1`` times it would pass 2**24).

    Yields
    ------
    first : int
        Index of the block's first row (class).
    block : ndarray of float64, shape (rows, C)
        Rows ``first .. first + rows - 1`` of the matrix.

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [3, 2]])
    >>> [(first, block.shape) for first, block in class_distance_blocks(tree, [[2, 0], [0, 1], [1, 1]], 1)]
    [(0, (1, 2)), (1, (1, 2))]
    """
    t = _check_tree_table(tree, table)
    if block_rows is None:
        block_rows = _default_block_rows(tree.n_leaves)
    if isinstance(block_rows, bool) or not isinstance(block_rows, (int, np.integer)) or block_rows < 1:
        raise ValueError(f"block_rows must be a positive integer; got {block_rows!r}")
    layout = _Layout.of(tree)
    return _distance_blocks(t, layout, int(block_rows))


def _default_block_rows(n_leaves: int) -> int:
    """256 rows, fewer when the per-node scratch would pass 128 MiB (K above about 33 000)."""
    return max(1, min(_DISTANCE_BLOCK_ROWS, _DISTANCE_BLOCK_CELLS // (2 * n_leaves - 1)))


def _distance_blocks(t: _Table, layout: _Layout, block_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    kernels = _kernels()
    n_classes = t.n_cols
    order = np.lexsort((t.rows, t.cols))
    entry_leaf = np.ascontiguousarray(t.rows[order])
    entry_count = np.ascontiguousarray(t.counts[order])
    entry_ptr = np.concatenate([[0], np.cumsum(np.bincount(t.cols, minlength=n_classes))]).astype(np.int64)
    sizes = t.col_sums()
    depth_sums = _sums(t.cols, t.counts * layout.depth[t.rows], n_classes)
    for first in range(0, n_classes, block_rows):
        width = min(block_rows, n_classes - first)
        node = np.empty((2 * layout.k - 1, width), dtype=np.int64)
        shared = np.empty((n_classes, width), dtype=np.int64)
        kernels.class_distance_block(first, entry_ptr, entry_leaf, entry_count, layout.merges, node, shared)
        del node
        rows = slice(first, first + width)
        totals = sizes[None, :] * depth_sums[rows, None]
        totals += sizes[rows, None] * depth_sums[None, :]
        totals -= 2 * shared.T
        del shared
        pairs = sizes[rows, None] * sizes[None, :]
        block_sizes = sizes[rows]
        pairs[np.arange(width), np.arange(first, first + width)] = block_sizes * (block_sizes - 1)  # ordered pairs
        out = np.full(totals.shape, np.nan)
        np.divide(totals, pairs, out=out, where=pairs > 0)
        yield first, out


def class_distance_matrix(tree: Hierarchy, table: TableLike) -> np.ndarray:
    r"""Mean tree distance between the points of every two classes (CoHiClust, Fig. 4).

    .. math:: d(A, B) = \operatorname{mean}_{a \in A,\, b \in B,\, a \ne b} d(\hat y_a, \hat y_b)

    the path length in edges between the points' leaves (0 when they share a leaf).  For ``A = B``
    the mean is over pairs of distinct points of ``A``.  Exact integer sums from the count table
    (see :func:`class_distance_blocks`, which yields the same matrix in blocks of rows for large C).

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    table : array_like or scipy.sparse matrix of int, shape (K, C)

    Returns
    -------
    ndarray of float64, shape (C, C)
        Symmetric.  NaN for a class with no points (row and column) and on the diagonal for a class
        with a single point.

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [3, 2]])   # ((0,1),2)
    >>> class_distance_matrix(tree, [[1, 0], [0, 1], [1, 0]]).tolist()
    [[3.0, 2.5], [2.5, nan]]
    """
    t = _check_tree_table(tree, table)
    out = np.empty((t.n_cols, t.n_cols))
    for first, block in _distance_blocks(t, _Layout.of(tree), _default_block_rows(tree.n_leaves)):
        out[first : first + block.shape[0]] = block
    return out


def write_class_distances(
    file: str | os.PathLike[str] | IO[bytes],
    tree: Hierarchy,
    table: TableLike,
    class_names: Iterable[str] | None = None,
    *,
    block_rows: int | None = None,
) -> None:
    """Write the class distance matrix as CSV, computed and written in blocks of rows.

    The first row is ``class,<name 0>,...,<name C-1>``; row ``A`` is ``<name A>`` followed by the
    distances with six decimals (exactly Python's ``f"{d:.6f}"``), an empty cell where undefined.

    Parameters
    ----------
    file : path or binary file object
        Where to write (a path is opened for writing; use a temporary path and rename it for an
        atomic output).
    tree : Hierarchy
        K leaves.
    table : array_like or scipy.sparse matrix of int, shape (K, C)
    class_names : iterable of str, optional
        C names; default the class ids ``0..C-1``.
    block_rows : int, optional
        Rows computed and formatted at a time (memory ``O((K + C) * block_rows)``); default as
        :func:`class_distance_blocks`.
    """
    t = _check_tree_table(tree, table)
    if block_rows is None:
        block_rows = _default_block_rows(tree.n_leaves)
    names = [str(i) for i in range(t.n_cols)] if class_names is None else [str(s) for s in class_names]
    if len(names) != t.n_cols:
        raise ValueError(f"class_names has {len(names)} names but the table has {t.n_cols} classes")
    if isinstance(file, (str, os.PathLike)):
        with open(file, "wb") as handle:
            _write_distances(handle, tree, t, names, block_rows)
    else:
        _write_distances(file, tree, t, names, block_rows)


def _write_distances(handle: IO[bytes], tree: Hierarchy, t: _Table, names: list[str], block_rows: int) -> None:
    import csv
    import io

    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(["class", *names])
    handle.write(header.getvalue().encode("utf-8"))
    layout = _Layout.of(tree)
    kernels = _kernels()
    cell_bytes = len(str(2 * int(layout.depth.max()))) + 8  # comma, whole part, point, six decimals
    for first, block in _distance_blocks(t, layout, block_rows):
        rows = block.shape[0]
        buf = np.empty(rows * (block.shape[1] * cell_bytes + 1), dtype=np.uint8)
        row_end = np.empty(rows, dtype=np.int64)
        kernels.format_fixed6(np.ascontiguousarray(block), buf, row_end)
        view = memoryview(buf)  # type: ignore[arg-type,unused-ignore]
        begin = 0
        for r in range(rows):
            handle.write(_csv_cell(names[first + r]).encode("utf-8"))
            handle.write(view[begin : int(row_end[r])])
            begin = int(row_end[r])


def _csv_cell(text: str) -> str:
    """``text`` as one CSV cell, quoted as the csv module's QUOTE_MINIMAL does within a row."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


# ---------------------------------------------------------------------------------------------- levels
def _check_levels(tree: Hierarchy, levels: Iterable[int]) -> list[int]:
    out: list[int] = []
    for level in levels:
        k = check_k(level, tree.n_leaves)  # each level is a number of groups k (the CLI's --k)
        if k not in out:
            out.append(k)
    return out


def _flat_scores(table: _Table) -> dict[str, float]:
    return {"nmi": nmi(table), "ari": ari(table), "acc": accuracy(table), "lp": leaf_purity(table)}


def _level_table(tree: Hierarchy, t: _Table, level: int) -> _Table:
    """The ``level`` groups' class counts (groups numbered by their top node; the scores ignore it)."""
    top = _kernels().cut_tops(np.ascontiguousarray(tree.merges, dtype=np.int64), tree.n_leaves - level)
    _, group = np.unique(top, return_inverse=True)
    return t.regroup(group.reshape(-1).astype(np.int64), level)


def level_scores(tree: Hierarchy, table: TableLike, levels: Iterable[int]) -> dict[int, dict[str, float]]:
    """Flat scores of the tree cut into ``k`` groups, for every ``k`` in ``levels``.

    The groups are :meth:`Hierarchy.cut` ``(k)`` (the state after ``K - k`` merges); their class
    counts are sums of leaf rows of ``table``, so the points are never read again.  Score against
    coarser labels (e.g. CIFAR-100's superclasses) by passing the leaf x coarse-class table.

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    table : array_like or scipy.sparse matrix of int, shape (K, C)
        Leaf x class counts for the labels to score against.
    levels : iterable of int
        Numbers of groups, each in ``1..K`` (duplicates are scored once).

    Returns
    -------
    dict
        ``{k: {"nmi": ..., "ari": ..., "acc": ..., "lp": ...}}`` in the order given; ``lp`` is the
        purity of the groups.

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> level_scores(tree, [[2, 0], [1, 0], [0, 3], [0, 1]], [2])[2]["acc"]
    1.0
    """
    t = _check_tree_table(tree, table)
    return {k: _flat_scores(_level_table(tree, t, k)) for k in _check_levels(tree, levels)}


# ---------------------------------------------------------------------------------------------- all
def evaluate(
    tree: Hierarchy,
    labels: ArrayLike,
    *,
    assignments: ArrayLike | None = None,
    logits: ArrayLike | None = None,
    levels: Iterable[int] = (),
    coarse_labels: ArrayLike | None = None,
) -> dict[str, Any]:
    """Every score of a hierarchy at once, from one pass over the points.

    Parameters
    ----------
    tree : Hierarchy
        The hierarchy over K clusters (leaves).
    labels : array_like, shape (N,)
        Ground-truth labels (integers or strings; see :func:`encode_labels`).
    assignments : array_like of int, shape (N,), optional
        Leaf of every point, ``0..K-1``.  Exactly one of ``assignments`` and ``logits`` is required.
    logits : array_like, shape (N, K), optional
        The flat model's logits; the leaf of a point is their argmax (:meth:`Hierarchy.assign`,
        memory maps are read in chunks).
    levels : iterable of int
        Also score the tree cut into each of these numbers of groups (``1..K``).
    coarse_labels : array_like, shape (N,), optional
        Score the levels against these (e.g. superclasses) instead of ``labels``.

    Returns
    -------
    dict
        Exactly the keys :data:`RESULT_KEYS`: ``n_points``, ``n_leaves``, ``nmi``, ``ari``, ``acc``,
        ``lp`` (of the leaves), ``dp``, ``lhd``, ``mean_path_length``, and ``levels``: a dict keyed by
        the number of groups ``k`` (int; :func:`scores_to_json` makes the keys strings, as JSON
        needs) of dicts with ``nmi``, ``ari``, ``acc``, ``lp``.  Values are Python ints and floats;
        ``dp`` is NaN when no two points share a label (:func:`scores_to_json` turns NaN into ``None``).

    Examples
    --------
    >>> import numpy as np
    >>> from l2h import Hierarchy
    >>> tree = Hierarchy.from_merges([[0, 1], [3, 2]])               # ((0,1),2)
    >>> logits = np.eye(3)[[0, 0, 1, 2, 2]] * 5.0                    # leaves 0, 0, 1, 2, 2
    >>> s = evaluate(tree, [7, 7, 9, 9, 9], logits=logits, levels=[2])
    >>> round(s["dp"], 4), s["levels"][2]["acc"]
    (0.8, 0.8)
    """
    if not isinstance(tree, Hierarchy):
        raise TypeError(f"tree must be an l2h.Hierarchy; got {type(tree).__name__}")
    leaf = _leaf_assignments(tree, assignments, logits)
    codes, classes = encode_labels(labels, "labels")
    if codes.shape[0] != leaf.shape[0]:
        source = "assignments" if assignments is not None else "logits rows"
        raise ValueError(f"labels has {codes.shape[0]} entries but there are {leaf.shape[0]} points ({source})")
    if leaf.shape[0] == 0:
        raise ValueError("there are no points to score (N = 0)")
    level_list = _check_levels(tree, levels)
    table = _points_table(leaf, codes, tree.n_leaves, len(classes))
    level_table = table
    if coarse_labels is not None:
        coarse_codes, coarse_classes = encode_labels(coarse_labels, "coarse labels")
        if coarse_codes.shape[0] != leaf.shape[0]:
            raise ValueError(f"coarse labels has {coarse_codes.shape[0]} entries but there are {leaf.shape[0]} points")
        level_table = _points_table(leaf, coarse_codes, tree.n_leaves, len(coarse_classes))
    return evaluate_table(tree, table, levels=level_list, level_table=level_table)


def evaluate_table(
    tree: Hierarchy,
    table: TableLike,
    *,
    levels: Iterable[int] = (),
    level_table: TableLike | None = None,
) -> dict[str, Any]:
    """:func:`evaluate` from a leaf x class count table instead of the points.

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    table : array_like or scipy.sparse matrix of int, shape (K, C)
        Leaf x class counts (e.g. summed over the shards of a dataset).
    levels : iterable of int
        Also score the tree cut into each of these numbers of groups (``1..K``).
    level_table : array_like or scipy.sparse matrix of int, shape (K, C'), optional
        Leaf x coarse-class counts to score the levels against (default ``table``).

    Returns
    -------
    dict
        As :func:`evaluate` (``n_points`` is the table's total).

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> evaluate_table(tree, [[2, 0], [2, 0], [0, 1], [0, 2]])["dp"]
    1.0
    """
    t = _check_tree_table(tree, table)
    level_list = _check_levels(tree, levels)
    lt = t if level_table is None else _check_tree_table(tree, level_table)
    if t.total == 0:
        raise ValueError("there are no points to score (N = 0)")
    sums = _pair_sums(tree, t)
    lhd, mean_path = _lhd_values(sums, tree.n_leaves)
    return {
        "n_points": t.total,
        "n_leaves": int(tree.n_leaves),
        **_flat_scores(t),
        "dp": _dp_value(sums),
        "lhd": float(lhd),
        "mean_path_length": float(mean_path),
        "levels": {k: _flat_scores(_level_table(tree, lt, k)) for k in level_list},
    }


def _leaf_assignments(tree: Hierarchy, assignments: ArrayLike | None, logits: ArrayLike | None) -> np.ndarray:
    if (assignments is None) == (logits is None):
        raise ValueError("give exactly one of assignments (leaf per point) and logits")
    if logits is not None:
        return tree.assign(logits)
    return check_assignments(assignments, tree.n_leaves)  # type: ignore[arg-type]


def check_assignments(assignments: ArrayLike, n_leaves: int, name: str = "assignments") -> np.ndarray:
    """Validate per-point leaf ids: 1-D, integer-valued, in ``0..n_leaves-1``.

    Parameters
    ----------
    assignments : array_like of int, shape (N,)
        Leaf id of every point.
    n_leaves : int
        Number of leaves K of the tree.
    name : str
        Name used in error messages.

    Returns
    -------
    ndarray of int64, shape (N,)

    Examples
    --------
    >>> check_assignments([0.0, 2.0], 3).tolist()
    [0, 2]
    """
    leaf = _as_integer_vector(assignments, name)
    if leaf.size and (leaf.min() < 0 or leaf.max() >= n_leaves):
        bad = int(leaf.min()) if leaf.min() < 0 else int(leaf.max())
        raise ValueError(f"{name} must be leaf ids in 0..{n_leaves - 1} (the tree has {n_leaves} leaves); found {bad}")
    return leaf


def scores_to_json(result: Mapping[str, Any]) -> dict[str, Any]:
    """``result`` made JSON-ready: NaN floats become ``None``, dict keys become strings.

    Parameters
    ----------
    result : mapping
        A result of :func:`evaluate`.

    Returns
    -------
    dict

    Examples
    --------
    >>> scores_to_json({"dp": float("nan"), "levels": {2: {"acc": 1.0}}})
    {'dp': None, 'levels': {'2': {'acc': 1.0}}}
    """

    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, float) and not np.isfinite(value):
            return None
        return value

    return clean(result)
