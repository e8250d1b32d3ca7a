"""Scores of a hierarchy of clusters against ground-truth labels.

Every score here is a function of the *leaf x class count table* ``T`` (``T[l, c]`` = number of points
assigned to leaf ``l`` whose label is ``c``, see :func:`contingency_table`) and, for the hierarchical
ones, of the tree.  Nothing ever looks at pairs of points: the points are read once, by one
``bincount``, and the rest costs ``O(K C)`` (dendrogram purity) or a few ``K x K x C`` matrix products
(LHD, class distances), so ImageNet-sized inputs (N = 1.28M, K = C = 1000) score in well under a second
after loading.

Flat scores (of the leaves, or of the groups of a cut)
    :func:`nmi`, :func:`ari`, :func:`accuracy` (Hungarian matching, clusters may outnumber classes),
    :func:`leaf_purity`.
Hierarchical scores
    :func:`dendrogram_purity` (Kobren et al. 2017, exact), :func:`least_hierarchical_distance`
    (LHD and the raw mean path length), :func:`class_distance_matrix`.
Levels
    :func:`level_scores` cuts the tree into ``k`` groups and scores the groups.
All at once
    :func:`evaluate` from a :class:`~l2h.Hierarchy`, the points' leaves (or their logits) and labels.

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

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from l2h._validation import check_array
from l2h.hierarchy import Hierarchy

__all__ = [
    "accuracy",
    "ari",
    "check_assignments",
    "class_distance_matrix",
    "contingency_table",
    "dendrogram_purity",
    "encode_labels",
    "evaluate",
    "leaf_purity",
    "least_hierarchical_distance",
    "level_scores",
    "nmi",
    "node_class_counts",
    "scores_to_json",
]

#: Top-level keys of :func:`evaluate`'s result (and of ``l2h metrics --json``), in order.
RESULT_KEYS = ("n_points", "n_leaves", "nmi", "ari", "acc", "lp", "dp", "lhd", "mean_path_length", "levels")
#: Keys of every entry of ``result["levels"]``.
LEVEL_KEYS = ("nmi", "ari", "acc", "lp")

# Non-negative integer labels index the table directly (class ids are kept, classes absent from the
# data become empty columns) when the ids are dense: max + 1 <= 2 * (distinct ids) + 1024.  Sparse ids
# (e.g. WordNet offsets, 17 and 10**6) or negative ones are re-encoded through np.unique, so the table
# never grows with the size of the ids.
_DIRECT_LABEL_SLACK = 1024


# ---------------------------------------------------------------------------------------------- inputs
def _as_integer_vector(values: object, name: str) -> np.ndarray:
    """A 1-D int64 copy of integer-valued ``values``; ``ValueError`` naming ``name`` otherwise."""
    return check_array(values, name, kind="integer", ndim=1, axes=("one entry per point",))


def encode_labels(labels: object, name: str = "labels") -> tuple[np.ndarray, np.ndarray]:
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
            if high + 1 <= 2 * n_distinct + _DIRECT_LABEL_SLACK:
                return codes, np.arange(high + 1, dtype=np.int64)
    classes, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), classes


def contingency_table(
    assignments: object, labels: object, *, n_leaves: int | None = None, n_classes: int | None = None
) -> np.ndarray:
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

    Returns
    -------
    ndarray of int64, shape (n_leaves, n_classes)
        ``T[l, c] = #{i : assignments[i] = l and labels[i] = c}``; one pass over the points.
    """
    leaf = _as_integer_vector(assignments, "assignments")
    cls = _as_integer_vector(labels, "labels")
    if leaf.shape != cls.shape:
        raise ValueError(f"labels has {cls.shape[0]} entries but assignments has {leaf.shape[0]}")
    k = _table_side(leaf, n_leaves, "assignments", "n_leaves")
    c = _table_side(cls, n_classes, "labels", "n_classes")
    flat = leaf * c
    flat += cls
    return np.bincount(flat, minlength=k * c).reshape(k, c)


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


def _check_table(table: object) -> np.ndarray:
    return check_array(table, "table", kind="count", ndim=2, axes=("clusters", "classes"))


def _check_tree_table(tree: Hierarchy, table: object) -> np.ndarray:
    t = _check_table(table)
    if t.shape[0] != tree.n_leaves:
        raise ValueError(f"table has {t.shape[0]} rows but the hierarchy has {tree.n_leaves} leaves")
    return t


def _pairs(counts: np.ndarray) -> np.ndarray:
    """``C(n, 2)`` elementwise, int64 (exact up to n ~ 4e9)."""
    return counts * (counts - 1) // 2


# ---------------------------------------------------------------------------------------------- flat
def nmi(table: object) -> float:
    r"""Normalised mutual information with arithmetic normalisation.

    .. math:: \mathrm{NMI} = \frac{I(U; V)}{(H(U) + H(V)) / 2}

    with ``U`` the clusters (rows) and ``V`` the classes (columns), natural logarithms.  Same value and
    edge cases as :func:`sklearn.metrics.normalized_mutual_info_score` (its default): 1.0 when both
    sides have a single non-empty group, 0.0 when the mutual information is 0; clipped to 1.0 where
    rounding would exceed it.

    Parameters
    ----------
    table : array_like of int, shape (K, C)
        Contingency table (:func:`contingency_table`).

    Returns
    -------
    float in [0, 1]

    References
    ----------
    Strehl & Ghosh, "Cluster ensembles", JMLR 3, 2002; Vinh, Epps & Bailey, JMLR 11, 2010.
    """
    t = _check_table(table)
    rows = t.sum(axis=1)
    cols = t.sum(axis=0)
    n_rows, n_cols = int(np.count_nonzero(rows)), int(np.count_nonzero(cols))
    if n_rows == n_cols == 1 or n_rows == n_cols == 0:
        return 1.0
    n = float(rows.sum())
    nz_r, nz_c = np.nonzero(t)
    nij = t[nz_r, nz_c].astype(np.float64)
    mi = float(np.sum(nij / n * (np.log(nij) + np.log(n) - np.log(rows[nz_r]) - np.log(cols[nz_c]))))
    mi = max(mi, 0.0)
    if mi == 0.0:
        return 0.0
    normaliser = 0.5 * (_entropy(rows) + _entropy(cols))
    return float(min(mi / normaliser, 1.0))  # NMI <= 1; rounding may overshoot by an ulp


def _entropy(sizes: np.ndarray) -> float:
    p = sizes[sizes > 0].astype(np.float64)
    total = p.sum()
    return float(-np.sum(p / total * (np.log(p) - np.log(total))))


def ari(table: object) -> float:
    r"""Adjusted Rand index (Hubert & Arabie 1985).

    From the pair confusion counts (pairs together in both, in one only, in neither):

    .. math:: \mathrm{ARI} = \frac{2 (tp \cdot tn - fn \cdot fp)}
              {(tp + fn)(fn + tn) + (tp + fp)(fp + tn)}

    computed with Python integers, so nothing overflows at any N.  1.0 when both partitions agree
    (as :func:`sklearn.metrics.adjusted_rand_score`).

    Parameters
    ----------
    table : array_like of int, shape (K, C)

    Returns
    -------
    float in [-0.5, 1]
    """
    t = _check_table(table)
    n = int(t.sum())
    # Squares of counts fit int64 for N < 3e9; the products below need Python integers.
    sum_squares = int(np.sum(t * t))
    together_rows = int(np.sum(t.sum(axis=1) ** 2))
    together_cols = int(np.sum(t.sum(axis=0) ** 2))
    tp = sum_squares - n
    fp = together_rows - sum_squares  # same cluster, different class (ordered pairs)
    fn = together_cols - sum_squares
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return float(2 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))


def accuracy(table: object) -> float:
    """Clustering accuracy: the best one-to-one matching of clusters to classes.

    The matching maximises the matched counts (Hungarian algorithm,
    :func:`scipy.optimize.linear_sum_assignment` on the rectangular table).  With more clusters than
    classes, the unmatched clusters count as errors, as in the usual deep-clustering ACC.

    Parameters
    ----------
    table : array_like of int, shape (K, C)

    Returns
    -------
    float in [0, 1]
        ``sum of matched counts / N`` (0.0 when N = 0).
    """
    from scipy.optimize import linear_sum_assignment

    t = _check_table(table)
    n = int(t.sum())
    if n == 0:
        return 0.0
    # Empty rows and columns cannot change the optimum; dropping them shrinks the problem.
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    rows, cols = linear_sum_assignment(t, maximize=True)
    return float(t[rows, cols].sum() / n)


def leaf_purity(table: object) -> float:
    r"""Leaf purity :math:`\mathrm{LP} = \sum_l \max_c T_{lc} / N` (0.0 when N = 0).

    Parameters
    ----------
    table : array_like of int, shape (K, C)
    """
    t = _check_table(table)
    n = int(t.sum())
    return float(t.max(axis=1).sum() / n) if n else 0.0


# ---------------------------------------------------------------------------------------------- hierarchical
def node_class_counts(tree: Hierarchy, table: object) -> np.ndarray:
    """Class counts under every node of the tree.

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    table : array_like of int, shape (K, C)

    Returns
    -------
    ndarray of int64, shape (2K-1, C)
        Rows ``0..K-1`` are ``table``; row ``K + t`` is the sum of the rows of merge ``t``'s children.
    """
    t = _check_tree_table(tree, table)
    k = tree.n_leaves
    counts = np.empty((tree.n_nodes, t.shape[1]), dtype=np.int64)
    counts[:k] = t
    for step, (a, b) in enumerate(tree.merges):
        np.add(counts[a], counts[b], out=counts[k + step])
    return counts


def dendrogram_purity(tree: Hierarchy, table: object) -> float:
    r"""Dendrogram purity (Kobren et al. 2017, as TreeVAE computes it), exact.

    With :math:`P^* = \{(i, j) : i < j, y_i = y_j\}` and :math:`v(i, j)` the lowest common ancestor of
    the two points' leaves (their own leaf when they share one),

    .. math:: \mathrm{DP} = \frac{1}{|P^*|} \sum_{(i,j) \in P^*} \frac{n_{v, y_i}}{n_v}

    where :math:`n_v` counts the points under node ``v`` and :math:`n_{v,c}` those of class ``c``.
    The pairs of class ``c`` whose LCA is internal node ``v`` number :math:`L_c R_c` (counts of ``c``
    under its two children); those inside leaf ``l`` number :math:`\binom{T_{lc}}{2}`.  So the sum is
    over nodes and classes, ``O(K C)`` time after the count table, never over pairs of points.

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    table : array_like of int, shape (K, C)
        Leaf x class counts (:func:`contingency_table`).

    Returns
    -------
    float in (0, 1]
        NaN when no two points share a class (:math:`P^*` empty).

    References
    ----------
    Heller & Ghahramani, "Bayesian hierarchical clustering", ICML 2005.
    Kobren, Monath, Krishnamurthy & McCallum, "A hierarchical algorithm for extreme clustering", KDD 2017.
    """
    t = _check_tree_table(tree, table)
    total_pairs = int(_pairs(t.sum(axis=0)).sum())
    if total_pairs == 0:
        return float("nan")
    k = tree.n_leaves
    counts = node_class_counts(tree, t)
    leaf_sizes = t.sum(axis=1)
    # Same-leaf pairs: C(T_lc, 2) pairs, each scoring the leaf's purity for c.
    inside = _pairs(t).astype(np.float64) * _safe_ratio(t, leaf_sizes)
    # Pairs split at internal node k + s: L_c * R_c, each scoring that node's purity for c.
    merges = tree.merges
    split = (counts[merges[:, 0]] * counts[merges[:, 1]]).astype(np.float64)
    across = split * _safe_ratio(counts[k:], counts[k:].sum(axis=1))
    return float((inside.sum() + across.sum()) / total_pairs)


def _safe_ratio(counts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``counts / sizes[:, None]`` with 0 where a size is 0 (such rows carry no pairs)."""
    out = np.zeros(counts.shape, dtype=np.float64)
    np.divide(counts, sizes[:, None], out=out, where=sizes[:, None] > 0)
    return out


def least_hierarchical_distance(tree: Hierarchy, table: object) -> tuple[float, float]:
    r"""Least hierarchical distance (LHD) and the raw mean path length over the same pairs.

    With :math:`\tilde P = \{(i, j) : i < j, y_i = y_j, \hat y_i \ne \hat y_j\}` (same class, different
    leaves) and :math:`d(a, b)` the number of edges between leaves ``a`` and ``b``,

    .. math:: \mathrm{LHD} = \frac{1}{|\tilde P|} \sum_{(i,j) \in \tilde P}
              \frac{\ln d(\hat y_i, \hat y_j)}{\ln K}, \qquad
              \bar d = \frac{1}{|\tilde P|} \sum_{(i,j) \in \tilde P} d(\hat y_i, \hat y_j).

    Lower is better; both are 0 when :math:`\tilde P` is empty (every class inside one leaf).  Computed
    as :math:`\tfrac12 \sum_c T_{\cdot c}^\top W T_{\cdot c}` with the dense ``K x K`` matrix
    :math:`W = \ln d` (a ``K x K x C`` matrix product, no tensor of that size is formed).

    The L2H paper does not state its exact normalisation of LHD, so these values are **not comparable
    with the paper's tables**; compare hierarchies with each other under this definition.

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    table : array_like of int, shape (K, C)

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
    """
    t = _check_tree_table(tree, table)
    n_pairs = int(_pairs(t.sum(axis=0)).sum() - _pairs(t).sum())
    if n_pairs == 0:
        return 0.0, 0.0
    distance = tree.path_lengths().astype(np.float64)
    counts = t.astype(np.float64)
    log_distance = np.zeros_like(distance)
    np.log(distance, out=log_distance, where=distance > 0)
    # Both sums count ordered pairs of distinct leaves: halve them.
    sum_log = 0.5 * float(np.sum(counts * (log_distance @ counts)))
    sum_len = 0.5 * float(np.sum(counts * (distance @ counts)))
    return sum_log / n_pairs / np.log(tree.n_leaves), sum_len / n_pairs


def class_distance_matrix(tree: Hierarchy, table: object) -> np.ndarray:
    r"""Mean tree distance between the points of every two classes (CoHiClust, Fig. 4).

    .. math:: d(A, B) = \operatorname{mean}_{a \in A,\, b \in B,\, a \ne b} d(\hat y_a, \hat y_b)

    the path length in edges between the points' leaves (0 when they share a leaf).  For ``A = B``
    the mean is over pairs of distinct points of ``A``.  In matrix form,
    :math:`D_{cls} = T^\top D T` divided by the pair counts, from the count table.

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    table : array_like of int, shape (K, C)

    Returns
    -------
    ndarray of float64, shape (C, C)
        Symmetric.  NaN for a class with no points (row and column) and on the diagonal for a class
        with a single point.
    """
    t = _check_tree_table(tree, table)
    counts = t.astype(np.float64)
    distance = tree.path_lengths().astype(np.float64)
    totals = counts.T @ (distance @ counts)
    totals = 0.5 * (totals + totals.T)  # exact integers in float64; symmetrise away BLAS rounding order
    sizes = t.sum(axis=0).astype(np.float64)
    n_pairs = np.outer(sizes, sizes)
    n_pairs[np.diag_indices_from(n_pairs)] = sizes * (sizes - 1)  # ordered pairs of distinct points
    out = np.full_like(totals, np.nan)
    np.divide(totals, n_pairs, out=out, where=n_pairs > 0)
    return out


# ---------------------------------------------------------------------------------------------- levels
def _check_levels(tree: Hierarchy, levels: Iterable[int]) -> list[int]:
    out: list[int] = []
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
            raise TypeError(f"levels must be integers; got {level!r}")
        if not 1 <= level <= tree.n_leaves:
            raise ValueError(f"level {level} is outside 1..{tree.n_leaves} (the number of leaves)")
        if int(level) not in out:
            out.append(int(level))
    return out


def _flat_scores(table: np.ndarray) -> dict[str, float]:
    return {"nmi": nmi(table), "ari": ari(table), "acc": accuracy(table), "lp": leaf_purity(table)}


def level_scores(tree: Hierarchy, table: object, levels: Iterable[int]) -> dict[int, dict[str, float]]:
    """Flat scores of the tree cut into ``k`` groups, for every ``k`` in ``levels``.

    The groups are :meth:`Hierarchy.cut` ``(k)`` (the state after ``K - k`` merges); their class
    counts are sums of leaf rows of ``table``, so the points are never read again.  Score against
    coarser labels (e.g. CIFAR-100's superclasses) by passing the leaf x coarse-class table.

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    table : array_like of int, shape (K, C)
        Leaf x class counts for the labels to score against.
    levels : iterable of int
        Numbers of groups, each in ``1..K`` (duplicates are scored once).

    Returns
    -------
    dict
        ``{k: {"nmi": ..., "ari": ..., "acc": ..., "lp": ...}}`` in the order given; ``lp`` is the
        purity of the groups.
    """
    t = _check_tree_table(tree, table)
    out: dict[int, dict[str, float]] = {}
    for k in _check_levels(tree, levels):
        grouped = np.zeros((k, t.shape[1]), dtype=np.int64)
        np.add.at(grouped, tree.cut(k), t)
        out[k] = _flat_scores(grouped)
    return out


# ---------------------------------------------------------------------------------------------- all
def evaluate(
    tree: Hierarchy,
    labels: object,
    *,
    assignments: object = None,
    logits: object = None,
    levels: Iterable[int] = (),
    coarse_labels: object = None,
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
        ``str(k)`` (as in the JSON output) of dicts with ``nmi``, ``ari``, ``acc``, ``lp``.  Values are
        Python ints and floats; ``dp`` is NaN when no two points share a label
        (:func:`scores_to_json` turns NaN into ``None``).

    Examples
    --------
    >>> import numpy as np
    >>> from l2h import Hierarchy
    >>> tree = Hierarchy.from_merges([[0, 1], [3, 2]])               # ((0,1),2)
    >>> logits = np.eye(3)[[0, 0, 1, 2, 2]] * 5.0                    # leaves 0, 0, 1, 2, 2
    >>> s = evaluate(tree, [7, 7, 9, 9, 9], logits=logits, levels=[2])
    >>> round(s["dp"], 4), s["levels"]["2"]["acc"]
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
    table = contingency_table(leaf, codes, n_leaves=tree.n_leaves, n_classes=len(classes))
    level_list = _check_levels(tree, levels)
    if coarse_labels is not None:
        coarse_codes, coarse_classes = encode_labels(coarse_labels, "coarse labels")
        if coarse_codes.shape[0] != leaf.shape[0]:
            raise ValueError(f"coarse labels has {coarse_codes.shape[0]} entries but there are {leaf.shape[0]} points")
        level_table = contingency_table(leaf, coarse_codes, n_leaves=tree.n_leaves, n_classes=len(coarse_classes))
    else:
        level_table = table
    lhd, mean_path = least_hierarchical_distance(tree, table)
    flat = _flat_scores(table)
    result: dict[str, Any] = {
        "n_points": int(leaf.shape[0]),
        "n_leaves": int(tree.n_leaves),
        **flat,
        "dp": dendrogram_purity(tree, table),
        "lhd": float(lhd),
        "mean_path_length": float(mean_path),
        "levels": {str(k): v for k, v in level_scores(tree, level_table, level_list).items()},
    }
    return result


def _leaf_assignments(tree: Hierarchy, assignments: object, logits: object) -> np.ndarray:
    if (assignments is None) == (logits is None):
        raise ValueError("give exactly one of assignments (leaf per point) and logits")
    if logits is not None:
        return tree.assign(logits)
    return check_assignments(assignments, tree.n_leaves)


def check_assignments(assignments: object, n_leaves: int, name: str = "assignments") -> np.ndarray:
    """Validate per-point leaf ids: 1-D, integer-valued, in ``0..n_leaves-1``.

    Returns
    -------
    ndarray of int64, shape (N,)
    """
    leaf = _as_integer_vector(assignments, name)
    if leaf.size and (leaf.min() < 0 or leaf.max() >= n_leaves):
        bad = int(leaf.min()) if leaf.min() < 0 else int(leaf.max())
        raise ValueError(f"{name} must be leaf ids in 0..{n_leaves - 1} (the tree has {n_leaves} leaves); found {bad}")
    return leaf


def scores_to_json(result: Mapping[str, Any]) -> dict[str, Any]:
    """``result`` with NaN floats replaced by ``None`` (JSON has no NaN)."""

    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, float) and not np.isfinite(value):
            return None
        return value

    return clean(result)
