"""Numba kernels of the hierarchical scores (see :mod:`l2h.metrics` for the maths and the wrappers).

Pure functions over contiguous arrays: no validation, no globals, outputs allocated by the caller
where they are large.  The tree arrives as its ``(K-1, 2)`` int64 merges (scipy numbering); the leaf x
class count table as its non-zero entries sorted by class, then by the leaf's position in the
left-to-right leaf order (``entry_ptr[c]:entry_ptr[c+1]`` are the entries of class ``c``).

:func:`class_pair_sums` takes its inputs as a few tuples of arrays (as :mod:`l2h.build._kernels`
does, issue 20), each built in one place in :mod:`l2h.metrics`:

* ``entries`` (``_Layout.class_entries``): ``(entry_ptr, entry_pos, entry_count, entry_cumsum)``,
  the table's non-zeros in class-then-position order with their running counts;
* ``layout`` (``_Layout.kernel_state``): ``(merges, leaves, start, depth, gap_node, gap_depth, rmq,
  leaf_at)``, the tree as flat arrays, the range-minimum table over ``gap_depth`` and the leaf at
  each position;
* ``weights`` (``_Layout.pair_weights``): ``(node_points, log_of)``, the points under each node and
  ``ln d`` for every possible path length ``d``;
* ``out`` (``_pair_sum_outputs``): ``(dp_sum, log_sum, len_sum, scratch)``, the per-class outputs
  and the per-entry scratch.

This module is imported only from inside :mod:`l2h.metrics` functions, so ``import l2h`` stays fast.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def tree_layout(merges: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Leaf counts, left-to-right start positions, depths, and the node between two adjacent leaves.

    Leaf order puts merge ``t``'s first child (``merges[t, 0]``) left of its second, as
    :attr:`l2h.Hierarchy.leaf_order` does.  Node ``v`` covers positions ``start[v]:start[v] +
    leaves[v]``.  ``gap_node[p]`` is the lowest common ancestor of the leaves at positions ``p`` and
    ``p + 1`` (the internal node whose two children meet there), ``gap_depth[p]`` its depth.
    """
    n_nodes = 2 * k - 1
    leaves = np.ones(n_nodes, np.int64)
    for t in range(k - 1):
        leaves[k + t] = leaves[merges[t, 0]] + leaves[merges[t, 1]]
    start = np.zeros(n_nodes, np.int64)
    depth = np.zeros(n_nodes, np.int64)
    gap_node = np.zeros(k - 1, np.int64)
    gap_depth = np.zeros(k - 1, np.int64)
    for t in range(k - 2, -1, -1):  # parents before children
        v = k + t
        a = merges[t, 0]
        b = merges[t, 1]
        start[a] = start[v]
        start[b] = start[v] + leaves[a]
        depth[a] = depth[v] + 1
        depth[b] = depth[v] + 1
        gap = start[v] + leaves[a] - 1
        gap_node[gap] = v
        gap_depth[gap] = depth[v]
    return leaves, start, depth, gap_node, gap_depth


@numba.njit(cache=True)
def argmin_table(values: np.ndarray) -> np.ndarray:
    """Sparse table for range-argmin queries: row ``j`` holds the argmin of ``values[i:i + 2**j]``."""
    n = values.shape[0]
    levels = 1
    while (1 << levels) <= n:
        levels += 1
    table = np.zeros((levels, max(n, 1)), np.int64)
    for i in range(n):
        table[0, i] = i
    for j in range(1, levels):
        half = 1 << (j - 1)
        for i in range(n - (1 << j) + 1):
            left = table[j - 1, i]
            right = table[j - 1, i + half]
            table[j, i] = left if values[left] <= values[right] else right
    return table


@numba.njit(cache=True, inline="always")
def _range_argmin(values: np.ndarray, table: np.ndarray, lo: int, hi: int) -> int:
    """Argmin of ``values[lo:hi + 1]`` (``lo <= hi``)."""
    span = hi - lo + 1
    j = 0
    while (2 << j) <= span:
        j += 1
    left = table[j, lo]
    right = table[j, hi - (1 << j) + 1]
    return left if values[left] <= values[right] else right


@numba.njit(cache=True, parallel=True)
def class_pair_sums(
    entries: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    layout: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    weights: tuple[np.ndarray, np.ndarray],
    out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Per class: the DP numerator, and the sums of ``ln d`` and ``d`` over its pairs of distinct leaves.

    For class ``c`` with entries at leaf positions ``p_1 < ... < p_m`` (counts ``w_i``):

    * DP: ``sum_i C(w_i, 2) w_i / n_leaf`` (pairs inside a leaf) plus, for every node ``v`` whose two
      children both hold ``c``, ``n_{a,c} n_{b,c} n_{v,c} / n_v``.  Those nodes are exactly the lowest
      common ancestors of consecutive entries ``(p_i, p_{i+1})`` (one per node), found as the
      shallowest gap between them; the counts under ``v`` and its children are prefix-sum differences.
    * LHD: ``sum_{i<j} w_i w_j ln d(i, j)`` and ``sum_{i<j} w_i w_j d(i, j)``, where the depth of the
      LCA of entries ``i < j`` is the running minimum of the consecutive-gap depths.  ``O(m^2)`` per class.

    ``entry_cumsum`` has ``entry_cumsum[i] = sum(entry_count[:i])``; ``scratch`` (one slot per entry)
    keeps the consecutive-gap depths.  Outputs ``dp_sum``, ``log_sum`` and ``len_sum`` are per class.
    The arguments are the ``entries``, ``layout``, ``weights`` and ``out`` bundles of the module
    docstring.
    """
    for c in numba.prange(entries[0].shape[0] - 1):
        _class_pair_sum(c, entries, layout, weights, out)


@numba.njit(cache=True)
def _class_pair_sum(
    c: int,
    entries: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    layout: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    weights: tuple[np.ndarray, np.ndarray],
    out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Class ``c``'s share of :func:`class_pair_sums`, a serial function of its own.

    The bundles are unpacked here, not in the parallel kernel: Numba 0.68's parfors write to copies of
    arrays unpacked from a tuple outside the ``prange`` loop (the outputs stay zero), while a serial
    callee writes through as usual (as :func:`l2h.build._kernels.visit_group` calls ``visit_range``).
    """
    entry_ptr, entry_pos, entry_count, entry_cumsum = entries
    merges, leaves, start, depth, gap_node, gap_depth, rmq, leaf_at = layout
    node_points, log_of = weights
    dp_sum, log_sum, len_sum, scratch = out
    k = leaf_at.shape[0]
    s = entry_ptr[c]
    e = entry_ptr[c + 1]
    dp = 0.0
    for i in range(s, e):
        w = entry_count[i]
        leaf = leaf_at[entry_pos[i]]
        dp += (w * (w - 1) / 2) * (w / node_points[leaf])
    positions = entry_pos[s:e]
    for i in range(s, e - 1):
        g = _range_argmin(gap_depth, rmq, entry_pos[i], entry_pos[i + 1] - 1)
        scratch[i] = gap_depth[g]
        v = gap_node[g]
        lo = start[v]
        mid = lo + leaves[merges[v - k, 0]]
        hi = lo + leaves[v]
        i_lo = s + np.searchsorted(positions, lo)
        i_mid = s + np.searchsorted(positions, mid)
        i_hi = s + np.searchsorted(positions, hi)
        n_a = float(entry_cumsum[i_mid] - entry_cumsum[i_lo])
        n_b = float(entry_cumsum[i_hi] - entry_cumsum[i_mid])
        dp += n_a * n_b * ((n_a + n_b) / node_points[v])
    total_log = 0.0
    total_len = 0
    for i in range(s, e - 1):
        depth_i = depth[leaf_at[entry_pos[i]]]
        w_i = entry_count[i]
        lca_depth = scratch[i]
        for j in range(i + 1, e):
            if scratch[j - 1] < lca_depth:
                lca_depth = scratch[j - 1]
            d = depth_i + depth[leaf_at[entry_pos[j]]] - 2 * lca_depth
            w = w_i * entry_count[j]
            total_log += w * log_of[d]
            total_len += w * d
    dp_sum[c] = dp
    log_sum[c] = total_log
    len_sum[c] = total_len


@numba.njit(cache=True, parallel=True)
def class_distance_block(
    first: int,
    entry_ptr: np.ndarray,
    entry_leaf: np.ndarray,
    entry_count: np.ndarray,
    merges: np.ndarray,
    node: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out[B, j] = sum_{x, y} T[x, first + j] T[y, B] depth(lca(x, y))`` for a block of classes.

    ``depth(lca(x, y))`` counts the non-root nodes above both leaves, so the inner sum over ``x`` is
    ``g_A(y) = sum of n_{u,A}`` over the non-root ancestors ``u`` of ``y`` (itself included): one
    bottom-up pass for the counts ``n_{u,A}`` of the block's classes, one top-down pass for ``g``,
    then one pass over the table's entries.  ``node`` is ``(2K-1, b)`` int64 scratch, ``out`` is
    ``(C, b)`` int64 and is overwritten; ``b = node.shape[1]``.
    """
    k = merges.shape[0] + 1
    width = node.shape[1]
    node[:] = 0
    for j in range(width):
        cls = first + j
        for i in range(entry_ptr[cls], entry_ptr[cls + 1]):
            node[entry_leaf[i], j] += entry_count[i]
    for t in range(k - 1):
        a = merges[t, 0]
        b = merges[t, 1]
        for j in range(width):
            node[k + t, j] = node[a, j] + node[b, j]
    for j in range(width):
        node[2 * k - 2, j] = 0
    for t in range(k - 2, -1, -1):
        v = k + t
        a = merges[t, 0]
        b = merges[t, 1]
        for j in range(width):
            node[a, j] += node[v, j]
            node[b, j] += node[v, j]
    n_classes = entry_ptr.shape[0] - 1
    for cls in numba.prange(n_classes):
        for j in range(width):
            out[cls, j] = 0
        for i in range(entry_ptr[cls], entry_ptr[cls + 1]):
            y = entry_leaf[i]
            w = entry_count[i]
            for j in range(width):
                out[cls, j] += w * node[y, j]


@numba.njit(cache=True, inline="always")
def _round_scaled(x: float) -> int:
    """``x * 1e6`` rounded to the nearest integer, ties to even, from the exact product (x >= 0)."""
    hi = x * 1e6
    split = 134217729.0 * x  # Dekker's two-product: hi + lo == x * 1e6 exactly
    x_hi = split - (split - x)
    x_lo = x - x_hi
    lo = ((x_hi * 1e6 - hi) + x_lo * 1e6) + 0.0  # 1e6 splits into itself and 0
    r = np.rint(hi)
    frac = hi - r
    if frac == 0.5 and lo > 0.0:
        r += 1.0
    elif frac == -0.5 and lo < 0.0:
        r -= 1.0
    return int(r)


@numba.njit(cache=True)
def format_fixed6(values: np.ndarray, buf: np.ndarray, row_end: np.ndarray) -> None:
    """CSV cells of a non-negative float block as Python's ``f"{v:.6f}"`` writes them.

    Every row becomes ``,v1,v2,...\\n`` (each cell preceded by a comma; NaN gives an empty cell) in
    ``buf`` (uint8, at least ``rows * (cols * 24 + 1)`` bytes); ``row_end[r]`` is where row ``r`` ends.
    """
    p = 0
    digits = np.empty(24, np.uint8)
    for r in range(values.shape[0]):
        for j in range(values.shape[1]):
            buf[p] = 44
            p += 1
            x = values[r, j]
            if x != x:
                continue
            q = _round_scaled(x)
            whole = q // 1000000
            frac = q % 1000000
            n = 0
            while True:
                digits[n] = 48 + whole % 10
                whole //= 10
                n += 1
                if whole == 0:
                    break
            for m in range(n - 1, -1, -1):
                buf[p] = digits[m]
                p += 1
            buf[p] = 46
            for m in range(6, 0, -1):
                buf[p + m] = 48 + frac % 10
                frac //= 10
            p += 7
        buf[p] = 10
        p += 1
        row_end[r] = p


@numba.njit(cache=True)
def cut_tops(merges: np.ndarray, n_done: int) -> np.ndarray:
    """The group (top node alive after the first ``n_done`` merges) of every leaf."""
    k = merges.shape[0] + 1
    top = np.arange(k + n_done)
    for t in range(n_done - 1, -1, -1):  # parents before children
        v = k + t
        top[merges[t, 0]] = top[v]
        top[merges[t, 1]] = top[v]
    return top[:k].copy()
