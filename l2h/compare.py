"""How close is a learned hierarchy to a reference taxonomy?

:func:`compare` scores a binary :class:`~l2h.Hierarchy` (L2H's, or any other) against a
:class:`~l2h.taxonomy.Taxonomy` of any arity over the same classes.  Every score is computed over
the classes present in both trees, after unary chains are contracted:

``n_classes``
    Number of classes (leaves) compared.
``cophenetic_pearson``, ``cophenetic_spearman``
    Correlation, over all class pairs, between the two trees' path lengths (edges between the two
    leaves).  NaN (``null`` in JSON) when one tree gives every pair the same length (a star).
``triplet_agreement``, ``triplet_stderr``
    Over the class triples that the reference resolves (one pair's lowest common ancestor strictly
    deeper than the other two pairs'), the share where the same pair has the strictly deepest LCA in
    the learned tree.  Exact (``triplet_stderr`` = 0) for at most :data:`EXACT_TRIPLETS_MAX` classes;
    above that, estimated from :data:`N_TRIPLET_SAMPLES` uniformly drawn triples (seeded), with its
    binomial standard error.
``rf_learned_only``, ``rf_reference_only``
    Normalised Robinson-Foulds: the share of the learned tree's clusters (leaf sets of internal nodes
    other than the root) absent from the reference, and the share of the reference's absent from the
    learned tree.
``levels``
    For each reference depth ``d`` whose partition of the leaves (every leaf under its depth-``d``
    ancestor, or alone when shallower) has more than one group and is not all singletons, the
    learned tree cut into as many groups, scored against it with NMI, ARI and ACC: ``{d: {"n_groups",
    "nmi", "ari", "acc"}}``.

Cost, for C classes: two C x C matrices of LCA depths (one slice assignment per internal node, in
depth-first leaf order) up to 2 048 classes, above that one row of them at a time (O(C log C)
memory, the same results), O(C^2) for the correlations, O(C^3 / 2) comparisons (vectorised) for
exact triplets or O(10^6) for sampled ones, O(C) for Robinson-Foulds (clusters are ranges of a
depth-first order), and for the levels every cut in one pass over the merges with NMI/ARI/ACC from
the non-zero cells only (a deep reference has hundreds of levels of hundreds of groups).

Examples
--------
>>> from l2h import Hierarchy
>>> from l2h.taxonomy import parse_newick_taxonomy
>>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "trout", "carp"])
>>> ref = parse_newick_taxonomy("((cat,dog)mammal,(trout,carp)fish);")
>>> scores = compare(tree, ref)
>>> scores["cophenetic_pearson"], scores["triplet_agreement"], scores["rf_learned_only"]
(1.0, 1.0, 0.0)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from l2h._validation import InputError, L2HWarning
from l2h.hierarchy import Hierarchy
from l2h.taxonomy import Taxonomy

__all__ = [
    "EXACT_TRIPLETS_MAX",
    "N_TRIPLET_SAMPLES",
    "RESULT_KEYS",
    "clusters_as_classes",
    "compare",
    "compare_clusters",
    "leaves_are_ids",
    "lca_depths",
    "majority_classes",
    "random_hierarchy",
    "reference_for_leaves",
    "restrict_hierarchy",
    "result_to_json",
    "tree_scores",
]

#: Keys of :func:`compare`'s result (and of ``l2h compare --json``), in order.
RESULT_KEYS = (
    "n_classes",
    "cophenetic_pearson",
    "cophenetic_spearman",
    "triplet_agreement",
    "triplet_stderr",
    "rf_learned_only",
    "rf_reference_only",
    "levels",
)
#: Keys of every entry of ``result["levels"]``.
LEVEL_KEYS = ("n_groups", "nmi", "ari", "acc")
#: Up to this many classes the triplet agreement is exact.
EXACT_TRIPLETS_MAX = 300
#: Triples drawn above :data:`EXACT_TRIPLETS_MAX` classes.
N_TRIPLET_SAMPLES = 1_000_000
# Up to this many classes the pair scores use the L x L LCA-depth matrices (about 32 L^2 bytes at
# their peak: 134 MB here); above, one row at a time in O(L log L) memory, with the same results.
_DENSE_CLASSES_MAX = 2048


# ---------------------------------------------------------------------------------------------- trees
def restrict_hierarchy(tree: Hierarchy, leaves: ArrayLike) -> Hierarchy:
    """The subtree of ``tree`` over ``leaves`` (leaf ids, in the new id order), merge order kept.

    A merge survives when both of its sides hold a kept leaf; heights are kept, so cutting the
    result into ``k`` groups undoes its last ``k - 1`` surviving merges.

    Parameters
    ----------
    tree : Hierarchy
        The tree to restrict.
    leaves : ArrayLike of int, shape (n,)
        Distinct leaf ids of ``tree`` to keep (``n >= 2``); kept leaf ``leaves[i]`` becomes leaf ``i``.

    Returns
    -------
    Hierarchy
        The restricted tree, with the kept leaves' names, heights, scores and relatedness.

    Raises
    ------
    ValueError
        If fewer than 2 leaves are kept, or ``leaves`` holds repeated or out-of-range ids.

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "trout", "carp"])
    >>> sub = restrict_hierarchy(tree, [0, 1, 2])
    >>> sub.leaf_names, sub.merges.tolist()
    (('cat', 'dog', 'trout'), [[0, 1], [3, 2]])
    """
    keep = np.asarray(leaves, dtype=np.int64).reshape(-1)
    k = tree.n_leaves
    if keep.size < 2:
        raise ValueError(f"a hierarchy needs at least 2 leaves; {keep.size} kept")
    if keep.min() < 0 or keep.max() >= k or np.unique(keep).size != keep.size:
        raise ValueError(f"leaves must be distinct leaf ids in 0..{k - 1}")
    new = [-1] * tree.n_nodes
    for i, leaf in enumerate(keep.tolist()):
        new[leaf] = i
    merges: list[tuple[int, int]] = []
    heights: list[float] = []
    scores: list[float] = []
    relatedness: list[float] = []
    n = keep.size
    for t, (a, b) in enumerate(tree.merges.tolist()):
        na, nb = new[a], new[b]
        if na >= 0 and nb >= 0:
            new[k + t] = n + len(merges)
            merges.append((na, nb))
            heights.append(float(tree.linkage[t, 2]))
            scores.append(float(tree.scores[t]))
            relatedness.append(float(tree.relatedness[t]))
        else:
            new[k + t] = na if na >= 0 else nb
    names = [tree.leaf_names[i] for i in keep.tolist()]
    return Hierarchy.from_merges(
        np.asarray(merges, dtype=np.int64).reshape(-1, 2),
        heights=heights,
        scores=scores,
        relatedness=relatedness,
        leaf_names=names,
        info=dict(tree.info),
    )


def random_hierarchy(leaf_names: Sequence[str], rng: np.random.Generator) -> Hierarchy:
    """A random binary tree: every step merges two of the remaining groups, chosen uniformly.

    Parameters
    ----------
    leaf_names : sequence of str
        Names of the leaves (their number is the tree's ``K``).
    rng : numpy.random.Generator
        Source of randomness (seed it for a reproducible tree).

    Returns
    -------
    Hierarchy
        A tree over ``leaf_names`` with default heights.

    Examples
    --------
    >>> random_hierarchy(["a", "b", "c", "d"], np.random.default_rng(0)).merges.tolist()
    [[2, 0], [3, 1], [5, 4]]
    """
    n = len(leaf_names)
    alive = list(range(n))
    picks = rng.random((max(n - 1, 0), 2))
    merges = np.empty((n - 1, 2), dtype=np.int64)
    for t in range(n - 1):
        m = len(alive)
        i = int(picks[t, 0] * m)
        j = int(picks[t, 1] * (m - 1))
        j += j >= i
        a, b = alive[i], alive[j]
        merges[t] = (a, b)
        # remove both by swapping with the tail, then append the new group
        for idx in sorted((i, j), reverse=True):
            alive[idx] = alive[-1]
            alive.pop()
        alive.append(n + t)
    return Hierarchy.from_merges(merges, leaf_names=list(leaf_names))


def lca_depths(tax: Taxonomy) -> np.ndarray:
    """Depth of the lowest common ancestor of every pair of leaves (int32, shape (L, L)).

    The diagonal holds each leaf's own depth.  Leaves under a node form a range of the depth-first
    order, so node ``v`` fills, for each child but the last, the block between that child's range and
    the later children's: one slice assignment per child, ``L (L - 1) / 2`` entries in all.

    Parameters
    ----------
    tax : Taxonomy
        A rooted tree over ``L`` leaves (the root has depth 0).

    Returns
    -------
    ndarray of int32, shape (L, L)
        ``out[i, j]`` is the depth of the LCA of leaves ``i`` and ``j`` (symmetric).

    Examples
    --------
    >>> from l2h.taxonomy import parse_newick_taxonomy
    >>> ref = parse_newick_taxonomy("((cat,dog)mammal,(trout,carp)fish);")
    >>> lca_depths(ref).tolist()
    [[2, 1, 0, 0], [1, 2, 0, 0], [0, 0, 2, 1], [0, 0, 1, 2]]
    """
    n = tax.n_leaves
    leaf_order, start, end = tax.layout
    depth = tax.depth
    kids_order, starts, counts = tax._children_csr
    kids, first, count = kids_order.tolist(), starts.tolist(), counts.tolist()
    start_l, end_l, depth_l = start.tolist(), end.tolist(), depth.tolist()
    m = np.zeros((n, n), dtype=np.int32)
    for v in range(n, tax.n_nodes):
        stop = end_l[v]
        d = depth_l[v]
        s = first[v]
        for c in kids[s : s + count[v] - 1]:
            m[start_l[c] : end_l[c], end_l[c] : stop] = d
    m += m.T
    m[np.arange(n), np.arange(n)] = depth[leaf_order]
    pos = start[:n]  # position of every leaf in the depth-first order
    return m[np.ix_(pos, pos)]


# ---------------------------------------------------------------------------------------------- scores
def _adjacent_lca_depths(tax: Taxonomy) -> np.ndarray:
    """``h[k]``: the depth of the LCA of the leaves at depth-first positions ``k`` and ``k + 1``
    (int32, shape (L - 1,)).  The LCA of the leaves at positions ``p < q`` is the shallowest of
    ``h[p:q]`` (their LCA is the first node whose range holds both; each boundary between two
    children of a node ``v`` has ``h = depth(v)``, the boundaries inside a child lie deeper)."""
    n = tax.n_leaves
    _, start, end = tax.layout
    depth = tax.depth
    child = np.flatnonzero(tax.parent >= 0)
    parent = tax.parent[child]
    inner = end[child] < end[parent]  # every child but its parent's last ends at a boundary
    h = np.zeros(max(n - 1, 0), dtype=np.int32)
    h[end[child[inner]] - 1] = depth[parent[inner]]
    return h


class _PairDepths:
    """The LCA depths of a tree's leaf pairs without the L x L matrix: O(L log L) memory.

    ``row(a)`` is leaf ``a``'s row of :func:`lca_depths` (a running minimum of the adjacent LCA
    depths in both directions from its depth-first position); ``pairs(i, j)`` answers single pairs
    ``i != j`` from a sparse table of range minima.  Both give the matrix's values exactly.
    """

    def __init__(self, tax: Taxonomy) -> None:
        self.n = tax.n_leaves
        self.h = _adjacent_lca_depths(tax)
        self.pos = tax.layout[1][: self.n]  # depth-first position of every leaf
        self.leaf_depth = tax.depth[: self.n].astype(np.int32)
        self._table: list[np.ndarray] | None = None

    def row(self, a: int) -> np.ndarray:
        """LCA depths of leaf ``a`` with every leaf, by depth-first position (int32, shape (L,))."""
        p = int(self.pos[a])
        out = np.empty(self.n, dtype=np.int32)
        out[p] = self.leaf_depth[a]
        out[p + 1 :] = np.minimum.accumulate(self.h[p:])
        out[:p] = np.minimum.accumulate(self.h[:p][::-1])[::-1]
        return out

    def pairs(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """LCA depths of the pairs ``(i[t], j[t])``, ``i[t] != j[t]``."""
        if self._table is None:  # table[k][x] = min(h[x : x + 2^k])
            table = [self.h]
            while (1 << len(table)) <= self.h.size:
                step = 1 << (len(table) - 1)
                table.append(np.minimum(table[-1][:-step], table[-1][step:]))
            self._table = table
        p, q = self.pos[i], self.pos[j]
        lo, hi = np.minimum(p, q), np.maximum(p, q)
        level = np.frexp((hi - lo).astype(np.float64))[1].astype(np.int64) - 1  # floor(log2), exact
        out = np.empty(lo.size, dtype=np.int32)
        for k in np.unique(level).tolist():
            at = level == k
            row = self._table[k]
            out[at] = np.minimum(row[lo[at]], row[hi[at] - (1 << k)])
        return out


def _pair_scores(ref: Taxonomy, learned: Taxonomy, seed: int, dense: bool | None = None) -> tuple[float, ...]:
    """``(pearson, spearman, triplet_agreement, triplet_stderr)`` of two trees over the same leaves.

    With at most :data:`_DENSE_CLASSES_MAX` leaves (or ``dense=True``) from the two L x L matrices
    of :func:`lca_depths`; above that one row at a time (the matrices of 100 000 classes would take
    2 x 37 GiB): the joint histogram of the pairs' path lengths is the same integers, the sampled
    triples read the same depths, so the scores are the same bits.
    """
    n = ref.n_leaves
    if dense is None:
        dense = n <= _DENSE_CLASSES_MAX
    if dense:
        ref_lca, lrn_lca = lca_depths(ref), lca_depths(learned)
        ref_depth = ref.depth[:n].astype(np.int32)
        lrn_depth = learned.depth[:n].astype(np.int32)
        ref_path = ref_depth[:, None] + ref_depth[None, :] - 2 * ref_lca
        lrn_path = lrn_depth[:, None] + lrn_depth[None, :] - 2 * lrn_lca
        pearson, spearman = _correlations(ref_path, lrn_path)
        del ref_path, lrn_path
        return (pearson, spearman, *_triplets(ref_lca, lrn_lca, seed))
    r, lrn = _PairDepths(ref), _PairDepths(learned)
    pearson, spearman = _correlations_by_rows(r, lrn)
    if n <= EXACT_TRIPLETS_MAX:  # all triples: small matrices
        return (pearson, spearman, *_triplets(lca_depths(ref), lca_depths(learned), seed))
    return (pearson, spearman, *_sampled_triplets(r.pairs, lrn.pairs, n, seed))


def _correlations_by_rows(ref: _PairDepths, learned: _PairDepths) -> tuple[float, float]:
    """:func:`_correlations` from the joint histogram of the unordered pairs' path lengths, counted
    one leaf at a time (each pair once: with the leaves after it in the reference's depth-first
    order)."""
    n = ref.n
    order = np.empty(n, dtype=np.int64)
    order[ref.pos] = np.arange(n)  # the leaf at each of the reference's positions
    lrn_pos_in_ref_order = learned.pos[order]
    ref_depth_in_order = ref.leaf_depth[order]
    lrn_depth_in_order = learned.leaf_depth[order]
    width = 2 * int(learned.leaf_depth.max()) + 1  # above every learned path length
    height = 2 * int(ref.leaf_depth.max()) + 1
    joint = np.zeros(height * width, dtype=np.int64)
    for p in range(n - 1):
        a = int(order[p])
        ref_lca = np.minimum.accumulate(ref.h[p:])  # with the leaves at positions p+1 ..
        x = ref_depth_in_order[p] + ref_depth_in_order[p + 1 :] - 2 * ref_lca
        lrn_lca = learned.row(a)[lrn_pos_in_ref_order[p + 1 :]]
        y = lrn_depth_in_order[p] + lrn_depth_in_order[p + 1 :] - 2 * lrn_lca
        joint += np.bincount(x.astype(np.int64) * width + y, minlength=joint.size)
    joint2 = joint.reshape(height, width)
    rows, cols = np.flatnonzero(joint2.any(axis=1)), np.flatnonzero(joint2.any(axis=0))
    return _correlations_from_joint(joint2[: rows.max() + 1, : cols.max() + 1].copy())


def _correlations(ref_path: np.ndarray, learned_path: np.ndarray) -> tuple[float, float]:
    """Pearson and Spearman correlation over the unordered pairs of two symmetric path-length matrices.

    Path lengths are small integers, so both come exactly from the joint histogram of the two lengths
    (one ``bincount`` over the matrices, no sort): Spearman is Pearson on average ranks, as scipy's.
    """
    n = ref_path.shape[0]
    width = int(learned_path.max()) + 1
    codes = ref_path.astype(np.int64).ravel() * width + learned_path.ravel()
    joint = np.bincount(codes, minlength=(int(ref_path.max()) + 1) * width).reshape(-1, width)
    joint[0, 0] -= n  # the diagonal
    joint //= 2  # every unordered pair was counted twice
    return _correlations_from_joint(joint)


def _correlations_from_joint(counts: np.ndarray) -> tuple[float, float]:
    """Pearson and Spearman from ``counts[x, y]``, the number of pairs with path lengths ``x``, ``y``."""
    joint = counts.astype(np.float64)
    count_x, count_y = joint.sum(axis=1), joint.sum(axis=0)
    values_x, values_y = np.arange(count_x.size, dtype=np.float64), np.arange(count_y.size, dtype=np.float64)

    def weighted(x: np.ndarray, y: np.ndarray) -> float:
        total = joint.sum()
        dx = x - (count_x @ x) / total
        dy = y - (count_y @ y) / total
        var_x, var_y = count_x @ (dx * dx), count_y @ (dy * dy)
        if var_x <= 0 or var_y <= 0:
            return math.nan
        return float(dx @ joint @ dy / math.sqrt(var_x * var_y))

    def average_ranks(counts: np.ndarray) -> np.ndarray:
        return np.cumsum(counts) - (counts - 1) / 2.0

    return weighted(values_x, values_y), weighted(average_ranks(count_x), average_ranks(count_y))


def _triplets(ref: np.ndarray, learned: np.ndarray, seed: int) -> tuple[float, float]:
    n = ref.shape[0]
    if n < 3:
        return math.nan, math.nan
    if n <= EXACT_TRIPLETS_MAX:
        # (i, j, k) with R[i,j] > R[i,k]: the triple {i, j, k} is resolved with (i, j) as its deepest pair;
        # each such triple is counted twice, from i and from j.
        resolved = 0
        agree = 0
        block = max(1, 2_000_000 // (n * n))
        for i0 in range(0, n, block):
            r = ref[i0 : i0 + block]
            lrn = learned[i0 : i0 + block]
            deeper = r[:, :, None] > r[:, None, :]
            resolved += int(np.count_nonzero(deeper))
            agree += int(np.count_nonzero(deeper & (lrn[:, :, None] > lrn[:, None, :])))
        # j = i counted every k != i in both trees (a leaf's own depth exceeds all its LCAs' depths)
        resolved -= n * (n - 1)
        agree -= n * (n - 1)
        if resolved == 0:
            return math.nan, math.nan
        return agree / resolved, 0.0
    flat_r, flat_l = ref.ravel(), learned.ravel()
    return _sampled_triplets(lambda i, j: flat_r[i * n + j], lambda i, j: flat_l[i * n + j], n, seed)


def _sampled_triplets(ref_lca: Any, learned_lca: Any, n: int, seed: int) -> tuple[float, float]:
    """Triplet agreement from :data:`N_TRIPLET_SAMPLES` uniform triples (seeded) and its standard
    error; ``ref_lca(i, j)`` and ``learned_lca(i, j)`` give the LCA depths of leaf pairs."""
    rng = np.random.default_rng(seed)
    size = N_TRIPLET_SAMPLES
    i = rng.integers(0, n, size)
    j = rng.integers(0, n - 1, size)
    j += j >= i
    k = rng.integers(0, n - 2, size)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    k += k >= lo
    k += k >= hi
    del lo, hi
    a, b, c = ref_lca(i, j), ref_lca(i, k), ref_lca(j, k)
    la, lb, lc = learned_lca(i, j), learned_lca(i, k), learned_lca(j, k)
    # In a tree the two shallower of a triple's three LCAs are the same node: a > b means (i, j) is the
    # deepest pair (and b == c), and so on; all three equal means the triple is unresolved.
    agree = ((a > b) & (la > lb)) | ((b > a) & (lb > la)) | ((c > a) & (lc > la))
    n_resolved = int(np.count_nonzero((a != b) | (a != c)))
    if n_resolved == 0:
        return math.nan, math.nan
    p = int(np.count_nonzero(agree)) / n_resolved
    return p, math.sqrt(p * (1.0 - p) / n_resolved)


def _rf(learned: Taxonomy, ref: Taxonomy) -> tuple[float, float]:
    n = learned.n_leaves
    l_order, l_start, l_end = learned.layout
    pos = np.empty(n, dtype=np.int64)
    pos[l_order] = np.arange(n)
    l_nodes = np.setdiff1d(np.arange(n, learned.n_nodes), [learned.root])
    learned_keys = l_start[l_nodes] * (n + 1) + l_end[l_nodes]
    r_order, r_start, r_end = ref.layout
    r_nodes = np.setdiff1d(np.arange(n, ref.n_nodes), [ref.root])
    common = 0
    if r_nodes.size and l_nodes.size:
        values = np.append(pos[r_order], 0)
        idx = np.empty(2 * r_nodes.size, dtype=np.int64)
        idx[0::2] = r_start[r_nodes]
        idx[1::2] = r_end[r_nodes]
        low = np.minimum.reduceat(values, idx)[0::2]
        high = np.maximum.reduceat(values, idx)[0::2]
        size = r_end[r_nodes] - r_start[r_nodes]
        contiguous = high - low + 1 == size
        keys = low * (n + 1) + high + 1
        common = int(np.count_nonzero(contiguous & np.isin(keys, learned_keys)))
    a, b = l_nodes.size, r_nodes.size
    return ((a - common) / a if a else math.nan), ((b - common) / b if b else math.nan)


def _cuts(tree: Hierarchy, ks: Sequence[int]) -> dict[int, np.ndarray]:
    """``{k: group of every leaf}`` for the tree cut into each ``k`` groups, in one pass over the merges.

    Same partitions as :meth:`Hierarchy.cut` (group numbers may differ): the groups after the first
    ``K - k`` merges.  A merge relabels the smaller side, so all cuts cost O(K log K) plus a copy each.
    """
    n = tree.n_leaves
    label = np.arange(n)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    wanted = {n - k: k for k in ks}
    out: dict[int, np.ndarray] = {}
    if 0 in wanted:
        out[wanted[0]] = label.copy()
    for t, (a, b) in enumerate(tree.merges.tolist()):
        big, small = members.pop(a), members.pop(b)
        if len(big) < len(small):
            big, small = small, big
        label[small] = label[big[0]]
        big.extend(small)
        members[n + t] = big
        if t + 1 in wanted:
            out[wanted[t + 1]] = label.copy()
    return out


def _flat_scores(learned: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """NMI, ARI and ACC of two partitions of the same leaves, from their non-zero cells only.

    The same definitions and edge cases as :func:`l2h.metrics.nmi`, :func:`~l2h.metrics.ari` and
    :func:`~l2h.metrics.accuracy` (sklearn's); a level table has one cell per class and up to C rows,
    so no k x k table is formed: the best matching splits over the connected components of the
    non-zero cells, and most components are a single row or column.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = learned.size
    k_cols = int(reference.max()) + 1
    keys, counts = np.unique(learned.astype(np.int64) * k_cols + reference, return_counts=True)
    rows, cols = keys // k_cols, keys % k_cols
    row_sums = np.bincount(learned)
    col_sums = np.bincount(reference)
    row_sums, col_sums = row_sums[row_sums > 0], col_sums[col_sums > 0]
    # NMI, arithmetic normalisation
    if row_sums.size == col_sums.size == 1:
        nmi = 1.0
    else:
        nij = counts.astype(np.float64)
        mi = float(
            np.sum(
                nij
                / n
                * (np.log(nij) + np.log(n) - np.log(np.bincount(learned)[rows]) - np.log(np.bincount(reference)[cols]))
            )
        )
        mi = max(mi, 0.0)

        def entropy(sizes: np.ndarray) -> float:
            p = sizes.astype(np.float64)
            return float(-np.sum(p / n * (np.log(p) - math.log(n))))

        nmi = 0.0 if mi == 0.0 else min(mi / (0.5 * (entropy(row_sums) + entropy(col_sums))), 1.0)
    # ARI from pair counts, in Python integers
    sum_squares = int(np.sum(counts * counts))
    together_rows = int(np.sum(row_sums * row_sums))
    together_cols = int(np.sum(col_sums * col_sums))
    tp = sum_squares - n
    fp = together_rows - sum_squares
    fn = together_cols - sum_squares
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        ari = 1.0
    else:
        ari = 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))
    # ACC: best one-to-one matching, component by component
    k_rows = int(learned.max()) + 1
    graph = coo_matrix((np.ones(rows.size), (rows, cols + k_rows)), shape=(k_rows + k_cols, k_rows + k_cols))
    _, label = connected_components(graph, directed=False)
    _, component = np.unique(label[rows], return_inverse=True)  # components that hold cells, 0..m-1
    component = component.reshape(-1)
    m = int(component.max()) + 1
    n_rows_in = np.bincount(component[np.unique(component * k_rows + rows, return_index=True)[1]], minlength=m)
    n_cols_in = np.bincount(component[np.unique(component * k_cols + cols, return_index=True)[1]], minlength=m)
    simple = (n_rows_in == 1) | (n_cols_in == 1)  # a star: the best matching takes its largest cell
    best = np.zeros(m, dtype=np.int64)
    np.maximum.at(best, component, counts)
    matched = int(best[simple].sum())
    for c in np.flatnonzero(~simple).tolist():
        part = component == c
        ur, ri = np.unique(rows[part], return_inverse=True)
        uc, ci = np.unique(cols[part], return_inverse=True)
        dense = np.zeros((ur.size, uc.size), dtype=np.int64)
        dense[ri, ci] = counts[part]
        i, j = linear_sum_assignment(dense, maximize=True)
        matched += int(dense[i, j].sum())
    return {"nmi": float(nmi), "ari": float(ari), "acc": matched / n}


def tree_scores(tree: Hierarchy, reference: Taxonomy, *, seed: int = 0) -> dict[str, Any]:
    """The scores of :func:`compare` for a tree and a reference over the same leaves, in the same order.

    ``reference.leaf_names`` must equal ``tree.leaf_names``; no leaf is dropped here.

    Parameters
    ----------
    tree : Hierarchy
        The learned tree.
    reference : Taxonomy
        The reference hierarchy over the same leaves, in the same order.
    seed : int, default 0
        Seed of the triplet sampling (used when there are too many triplets to count all).

    Returns
    -------
    dict
        ``n_classes``, ``cophenetic_pearson``, ``cophenetic_spearman``, ``triplet_agreement``,
        ``triplet_stderr``, ``rf_learned_only``, ``rf_reference_only`` and ``levels`` (depth ->
        ``n_groups``, ``nmi``, ``ari``, ``acc`` of the tree cut into that level's group count).

    Raises
    ------
    ValueError
        If the reference's leaves are not the tree's, in the same order.

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "trout", "carp"])
    >>> from l2h.taxonomy import parse_newick_taxonomy
    >>> ref = parse_newick_taxonomy("((cat,dog)mammal,(trout,carp)fish);")
    >>> scores = tree_scores(tree, ref)
    >>> scores["triplet_agreement"], scores["levels"][1]["ari"]
    (1.0, 1.0)
    """

    if tuple(reference.leaf_names) != tuple(tree.leaf_names):
        raise ValueError("tree_scores needs the reference's leaves in the tree's leaf order")
    n = tree.n_leaves
    learned = Taxonomy.from_hierarchy(tree)
    pearson, spearman, triplet, stderr = _pair_scores(reference, learned, seed)
    rf_learned, rf_reference = _rf(learned, reference)
    levels: dict[int, dict[str, float]] = {}
    partitions = reference.levels()
    sizes = {d: int(groups.max()) + 1 for d, groups in partitions.items()}
    cuts = _cuts(tree, sorted(set(sizes.values()), reverse=True))
    for d, groups in partitions.items():
        k = sizes[d]
        levels[d] = {"n_groups": k, **_flat_scores(cuts[k], groups)}
    return {
        "n_classes": n,
        "cophenetic_pearson": pearson,
        "cophenetic_spearman": spearman,
        "triplet_agreement": triplet,
        "triplet_stderr": stderr,
        "rf_learned_only": rf_learned,
        "rf_reference_only": rf_reference,
        "levels": levels,
    }


def _shown(names: Sequence[str], limit: int = 3) -> str:
    return ", ".join(repr(x) for x in names[:limit]) + (", ..." if len(names) > limit else "")


def leaves_are_ids(tree: Hierarchy) -> bool:
    """Whether the tree's leaves are unnamed: leaf ``j`` is called ``"j"`` (cluster ids ``0..K-1``).

    Such leaves say nothing about which class each cluster is: pairing them with a reference whose
    classes are numbered too would match cluster ``j`` with class ``j`` by accident.

    Parameters
    ----------
    tree : Hierarchy
        Any tree.

    Returns
    -------
    bool

    Examples
    --------
    >>> leaves_are_ids(Hierarchy.from_merges([[0, 1], [3, 2]]))
    True
    >>> leaves_are_ids(Hierarchy.from_merges([[0, 1], [3, 2]], leaf_names=["a", "b", "c"]))
    False
    """
    return tuple(tree.leaf_names) == tuple(str(j) for j in range(tree.n_leaves))


def compare(
    tree: Hierarchy,
    reference: Taxonomy,
    *,
    leaves_are_classes: bool = False,
    random_trees: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Score a learned hierarchy against a reference taxonomy (see the module docstring).

    The tree's leaves are matched to the reference's by name.  A tree whose leaves are unnamed
    cluster ids (:func:`leaves_are_ids`) is refused unless ``leaves_are_classes`` says that leaf
    ``j`` is the class the reference calls ``"j"``: matching numbers alone would pair clusters with
    classes by accident.  For a tree over clusters use :func:`compare_clusters`, or name the leaves
    first (:meth:`Hierarchy.with_leaf_names`).

    Parameters
    ----------
    tree : Hierarchy
        The learned tree; its leaf names are the classes (every one must be a reference leaf).
    reference : Taxonomy
        The reference; leaves the tree does not have are dropped (an :class:`~l2h.L2HWarning` says
        how many) and unary chains contracted again.
    leaves_are_classes : bool, default False
        Accept a tree whose leaves are the ids ``0..K-1`` (leaf ``j`` is class ``j``, as in a tree
        built from a classifier's logits).
    random_trees : int
        When positive, also score this many uniformly random binary trees on the same leaves and
        add their mean scores (and ``n_trees``) as ``result["random_baseline"]``.
    seed : int
        Seeds the triplet sample (above :data:`EXACT_TRIPLETS_MAX` classes) and the random trees.

    Returns
    -------
    dict
        The keys of :data:`RESULT_KEYS` (NaN where a score is undefined), plus ``random_baseline``
        when asked.

    Raises
    ------
    InputError
        If the tree's leaves are cluster ids and ``leaves_are_classes`` is False, or if a leaf is
        not in the reference.

    Examples
    --------
    >>> from l2h.taxonomy import parse_newick_taxonomy
    >>> ref = parse_newick_taxonomy("((0,1),(2,3));")
    >>> tree = Hierarchy.from_merges([[0, 2], [1, 3], [4, 5]])
    >>> compare(tree, ref, leaves_are_classes=True)["rf_learned_only"]
    1.0
    """
    if not leaves_are_classes and leaves_are_ids(tree) and not reference.info.get("expanded"):
        raise InputError(
            f"the tree's leaves are cluster ids 0..{tree.n_leaves - 1}, which would be matched to the "
            "reference's classes by number alone; give each cluster its majority class with "
            "compare_clusters(tree, reference, assignments, labels), name the leaves with "
            "tree.with_leaf_names(names), or pass leaves_are_classes=True if leaf j is class j"
        )
    names = list(tree.leaf_names)
    ref_names = set(reference.leaf_names)
    unknown = [name for name in names if name not in ref_names]
    if unknown:
        raise InputError(
            f"{len(unknown)} of the tree's {len(names)} leaves are not in the reference ({_shown(unknown)}); "
            "leaf names must be the reference's class names"
        )
    present = set(names)
    dropped = [name for name in reference.leaf_names if name not in present]
    if dropped:
        warnings.warn(
            L2HWarning(
                f"{len(dropped)} of the reference's {reference.n_leaves} leaves are not in the tree and are left "
                f"out ({_shown(dropped)})"
            ),
            stacklevel=2,
        )
    ref = reference.restrict(names) if dropped or tuple(reference.leaf_names) != tuple(names) else reference
    result = tree_scores(tree, ref, seed=seed)
    if random_trees > 0:
        rng = np.random.default_rng(seed)
        runs = [tree_scores(random_hierarchy(names, rng), ref, seed=seed + 1 + r) for r in range(random_trees)]
        result["random_baseline"] = average_scores(runs)
    return result


def compare_clusters(
    tree: Hierarchy,
    reference: Taxonomy,
    assignments: ArrayLike,
    labels: ArrayLike,
    *,
    class_names: Sequence[str] | None = None,
    random_trees: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Score a tree over clusters: every leaf stands for the majority class of its points.

    The reference is expanded so that each class holds the leaves whose majority it is
    (:func:`reference_for_leaves`), leaves without points are left out (an
    :class:`~l2h.L2HWarning` says how many), and :func:`compare` scores the rest.

    Parameters
    ----------
    tree : Hierarchy
        The tree over K clusters (its leaf names are kept as they are).
    reference : Taxonomy
        The reference over class names.
    assignments : ArrayLike of int, shape (n_points,)
        The leaf (cluster id ``0..K-1``) of every point.
    labels : ArrayLike, shape (n_points,)
        The class of every point: reference leaf names, or integer class ids.
    class_names : sequence of str, optional
        For integer labels: ``class_names[i]`` is the reference's name of class id ``i`` (without
        it the ids themselves, as text, are the names).
    random_trees, seed
        As in :func:`compare`.

    Returns
    -------
    dict
        :func:`compare`'s result over the leaves that hold points, plus ``purity``: the share of
        the points whose class is their leaf's majority class.

    Raises
    ------
    InputError
        If the arrays disagree in length, a class is not in the reference, ``class_names`` misses
        a class id, or fewer than 2 leaves hold points.

    Examples
    --------
    >>> from l2h.taxonomy import parse_newick_taxonomy
    >>> ref = parse_newick_taxonomy("((cat,dog)mammal,(trout,carp)fish);")
    >>> tree = Hierarchy.from_merges([[0, 2], [1, 3], [4, 5]])
    >>> labels = ["cat", "dog", "trout", "carp", "cat"]
    >>> result = compare_clusters(tree, ref, [0, 2, 1, 3, 0], labels)
    >>> result["rf_learned_only"], result["purity"]
    (0.0, 1.0)
    """
    restricted, expanded, purity = clusters_as_classes(tree, reference, assignments, labels, class_names=class_names)
    result = compare(restricted, expanded, leaves_are_classes=True, random_trees=random_trees, seed=seed)
    result["purity"] = purity
    return result


def clusters_as_classes(
    tree: Hierarchy,
    reference: Taxonomy,
    assignments: ArrayLike,
    labels: ArrayLike,
    *,
    class_names: Sequence[str] | None = None,
) -> tuple[Hierarchy, Taxonomy, float]:
    """The pair :func:`compare_clusters` scores: each leaf stands for its points' majority class.

    Parameters
    ----------
    tree, reference, assignments, labels, class_names
        As in :func:`compare_clusters`.

    Returns
    -------
    (Hierarchy, Taxonomy, float)
        The tree over its leaves that hold points (:func:`restrict_hierarchy`), the reference
        expanded over those leaves (:func:`reference_for_leaves`), and the purity: the share of the
        points whose class is their leaf's majority class.

    Raises
    ------
    InputError
        As :func:`compare_clusters`.

    Examples
    --------
    >>> from l2h.taxonomy import parse_newick_taxonomy
    >>> ref = parse_newick_taxonomy("((cat,dog)mammal,(trout,carp)fish);")
    >>> tree = Hierarchy.from_merges([[0, 2], [1, 3], [4, 5]])
    >>> sub, expanded, purity = clusters_as_classes(tree, ref, [0, 2, 1, 3], ["cat", "dog", "trout", "carp"])
    >>> sorted(expanded.leaf_names) == list(sub.leaf_names), purity
    (True, 1.0)
    """
    from l2h.metrics import check_assignments, encode_labels

    try:
        leaf = check_assignments(assignments, tree.n_leaves)
        codes, classes = encode_labels(labels)
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc)) from None
    if leaf.shape[0] != codes.shape[0]:
        raise InputError(f"{codes.shape[0]} labels but {leaf.shape[0]} assignments: give one of each per point")
    names = _class_names(classes, class_names)
    majority = majority_classes(leaf, codes, tree.n_leaves, len(names))
    empty = int(np.count_nonzero(majority < 0))
    if empty:
        warnings.warn(L2HWarning(f"{empty} leaves of the tree hold no points and are left out"), stacklevel=2)
    leaf_classes = [None if c < 0 else names[c] for c in majority.tolist()]
    expanded, kept = reference_for_leaves(reference, leaf_classes, list(tree.leaf_names))
    if kept.size < 2:
        raise InputError("fewer than 2 leaves of the tree hold points; nothing to compare")
    restricted = restrict_hierarchy(tree, kept) if kept.size < tree.n_leaves else tree
    purity = float(np.mean(majority[leaf] == codes)) if codes.size else math.nan
    return restricted, expanded, purity


def _class_names(classes: np.ndarray, class_names: Sequence[str] | None) -> list[str]:
    """The reference name of every class code: the labels themselves, or ``class_names[label]``."""
    if class_names is None:
        return [str(c) for c in classes.tolist()]
    if classes.dtype.kind in "US":
        raise InputError("class_names only applies to integer labels; these labels are names already")
    ids = classes.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= len(class_names)):
        raise InputError(f"class_names has {len(class_names)} names but the labels hold the id {int(ids.max())}")
    return [str(class_names[int(c)]) for c in ids.tolist()]


def average_scores(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The mean of several :func:`tree_scores` results (NaN entries ignored), with ``n_trees``.

    Parameters
    ----------
    runs : sequence of Mapping
        At least one :func:`tree_scores` result, all over the same reference levels.

    Returns
    -------
    dict
        The same keys, each score averaged, plus ``n_trees`` (the number of runs).

    Examples
    --------
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "trout", "carp"])
    >>> from l2h.taxonomy import parse_newick_taxonomy
    >>> ref = parse_newick_taxonomy("((cat,dog)mammal,(trout,carp)fish);")
    >>> mean = average_scores([tree_scores(tree, ref), tree_scores(tree, ref)])
    >>> mean["n_trees"], mean["triplet_agreement"]
    (2, 1.0)
    """
    out: dict[str, Any] = {}
    for key in RESULT_KEYS:
        if key == "levels":
            continue
        values = np.array([run[key] for run in runs], dtype=np.float64)
        out[key] = float(np.nanmean(values)) if np.any(np.isfinite(values)) else math.nan
    out["n_classes"] = int(runs[0]["n_classes"])
    levels: dict[int, dict[str, float]] = {}
    for d, first in runs[0]["levels"].items():
        levels[d] = {"n_groups": first["n_groups"]}
        for metric in LEVEL_KEYS[1:]:
            levels[d][metric] = float(np.mean([run["levels"][d][metric] for run in runs]))
    out["levels"] = levels
    out["n_trees"] = len(runs)
    return out


# ---------------------------------------------------------------------------------------------- majority mode
def majority_classes(assignments: ArrayLike, labels: ArrayLike, n_leaves: int, n_classes: int) -> np.ndarray:
    """The most frequent class of every leaf (lowest class id on ties), ``-1`` for leaves without points.

    Parameters
    ----------
    assignments : ArrayLike of int, shape (n_points,)
        Leaf id of every point, in ``0..n_leaves - 1``.
    labels : ArrayLike of int, shape (n_points,)
        Class id of every point, in ``0..n_classes - 1``.
    n_leaves : int
        Number of leaves.
    n_classes : int
        Number of classes.

    Returns
    -------
    ndarray of int, shape (n_leaves,)
        The majority class id of each leaf, or -1.

    Raises
    ------
    ValueError
        If the arrays differ in length or hold ids out of range (from
        :func:`l2h.metrics.contingency_table`).

    Examples
    --------
    >>> majority_classes([0, 0, 1, 2], [1, 1, 0, 2], n_leaves=4, n_classes=3).tolist()
    [1, 0, 2, -1]
    """
    from l2h.metrics import contingency_table

    table = contingency_table(assignments, labels, n_leaves=n_leaves, n_classes=n_classes)
    majority = table.argmax(axis=1)
    majority[table.sum(axis=1) == 0] = -1
    return majority


def reference_for_leaves(
    reference: Taxonomy, leaf_classes: Sequence[str | None], leaf_names: Sequence[str]
) -> tuple[Taxonomy, np.ndarray]:
    """Expand a taxonomy over classes into one over a tree's leaves.

    Every leaf ``j`` with a class (``leaf_classes[j]``, a reference leaf name; None for a leaf
    without points) becomes a child of that class's node; classes no leaf has are dropped (with an
    :class:`~l2h.L2HWarning`), and a class with a single leaf is contracted into it.

    Parameters
    ----------
    reference : Taxonomy
        The reference hierarchy over class names.
    leaf_classes : sequence of str or None, length K
        The class (a reference leaf name) of each tree leaf, or None.
    leaf_names : sequence of str, length K
        The tree's leaf names.

    Returns
    -------
    (Taxonomy, ndarray of int64)
        The expanded reference, whose leaves are named ``leaf_names[j]`` for the kept leaves, and
        the kept leaf ids (pass them to :func:`restrict_hierarchy`).

    Raises
    ------
    ValueError
        If ``leaf_classes`` and ``leaf_names`` differ in length.
    InputError
        If a class is not a leaf of the reference.

    Examples
    --------
    >>> from l2h.taxonomy import parse_newick_taxonomy
    >>> ref = parse_newick_taxonomy("((cat,dog)mammal,(trout,carp)fish);")
    >>> expanded, kept = reference_for_leaves(ref, ["cat", "dog", "trout", "carp"], ["l0", "l1", "l2", "l3"])
    >>> expanded.leaf_names, kept.tolist()
    (('l0', 'l1', 'l2', 'l3'), [0, 1, 2, 3])
    """
    if len(leaf_classes) != len(leaf_names):
        raise ValueError("leaf_classes and leaf_names must have the same length")
    node_of = {name: v for v, name in enumerate(reference.leaf_names)}
    unknown = sorted({c for c in leaf_classes if c is not None and c not in node_of})
    if unknown:
        raise InputError(
            f"{len(unknown)} classes of the labels are not leaves of the reference ({_shown(unknown)}); "
            "class names must be the reference's (or pass --class-names)"
        )
    kept = np.array([j for j, c in enumerate(leaf_classes) if c is not None], dtype=np.int64)
    seen = {c for c in leaf_classes if c is not None}
    dropped = [name for name in reference.leaf_names if name not in seen]
    if dropped:
        warnings.warn(
            L2HWarning(
                f"{len(dropped)} of the reference's {reference.n_leaves} classes are no leaf's majority class and "
                f"are left out ({_shown(dropped)})"
            ),
            stacklevel=2,
        )
    m = reference.n_nodes
    parent = np.concatenate([reference.parent, [node_of[str(leaf_classes[j])] for j in kept.tolist()]])
    names = list(reference.names) + [leaf_names[j] for j in kept.tolist()]
    expanded = Taxonomy.from_parents(
        parent,
        names,
        np.arange(m, m + kept.size),
        source=str(reference.info.get("source", "reference")),
        info={"expanded": True},
    )
    return expanded, kept


# ---------------------------------------------------------------------------------------------- output
def result_to_json(result: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready copy: NaN -> None, level keys -> strings.

    Parameters
    ----------
    result : Mapping
        A :func:`compare` / :func:`tree_scores` result (nested mappings of numbers).

    Returns
    -------
    dict
        The same nesting with string keys, Python floats and ints, and None for non-finite values.

    Examples
    --------
    >>> result_to_json({"cophenetic_pearson": float("nan"), "levels": {1: {"ari": np.float64(0.5)}}})
    {'cophenetic_pearson': None, 'levels': {'1': {'ari': 0.5}}}
    """

    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (float, np.floating)):
            return None if not math.isfinite(float(value)) else float(value)
        if isinstance(value, np.integer):
            return int(value)
        return value

    return clean(result)
