"""Numba kernels of the L2H merge procedure (see :mod:`l2h.merge` for the maths and the wrappers).

Pure functions over contiguous arrays: no validation, no globals, outputs allocated by the caller.
Logits arrive as float32 or float64 ``(N, K)`` arrays (often memory maps) and every value is widened
to float64 before use.  ``e_j(x) = exp(L_j(x) - max_i L_i(x))`` always uses the row maximum as the
shift, so the same ``e_j`` is recomputed bit for bit whenever a row is revisited; per-point sums of
``e_j`` are kept as double-double (``hi + lo``) so that subtracting terms later cancels exactly.

This module is imported only from inside :mod:`l2h.merge` functions, so ``import l2h`` stays fast.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# Below these bounds the incremental masked sum is not trusted and the row is rescanned exactly:
# double-double cancellation keeps ~30 digits, so 1e-12 of the point's non-argmax mass still leaves
# ~1e-18 relative accuracy; 1e-280 keeps every term away from subnormals.
_REL_FLOOR = 1e-12
_ABS_FLOOR = 1e-280


_LOG2E = 1.4426950408889634
_LN2_HI = 0.693147180369123816490
_LN2_LO = 1.90821492927058770002e-10
_LANES = 16


@numba.njit(cache=True, inline="always")
def _two_sum(hi, lo, value):
    s = hi + value
    bp = s - hi
    err = (hi - (s - bp)) + (value - bp)
    return s, lo + err


@numba.njit(cache=True, inline="always")
def _exp_parts(x):
    """``exp(x)`` for ``x <= 0`` as ``(p, k)`` with ``exp(x) = p * 2**k`` (about 1 ulp).

    Plain arithmetic (Cody-Waite reduction, degree-13 Taylor polynomial) so that LLVM vectorises
    row loops; libm's exp would stay scalar.  ``x`` is clamped to [-700, 0]: below, the value
    (<1e-304) is far under every precision floor used here, so it is flushed to 0 (the soft-membership
    weights, whose absolute size matters, use libm instead).  The same function gives the same bits
    whether a loop is vectorised or not (no fast-math, no contraction), which the exact cancellation
    relies on.
    """
    flush = x < -700.0
    x = min(max(x, -700.0), 0.0)
    kf = math.floor(x * _LOG2E + 0.5)
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return (0.0 if flush else p), np.int64(kf)


@numba.njit(cache=True, inline="always")
def _exp(x):
    p, k = _exp_parts(x)
    return math.ldexp(p, k)


@numba.njit(cache=True, inline="always")
def _row_exp(row, shift, poly, bits):
    """``poly[j] * scale[j] = exp(row[j] - shift)`` for the whole row (vectorised)."""
    for j in range(row.shape[0]):
        p, k = _exp_parts(np.float64(row[j]) - shift)
        poly[j] = p
        bits[j] = (k + 1023) << 52


@numba.njit(cache=True, inline="always")
def _masked_dd_sum(poly, scale, keep, lane_hi, lane_lo):
    """Σ_j keep[j] poly[j] scale[j] in double-double, over 16 independent lanes (vectorised)."""
    k = poly.shape[0]
    lane_hi[:] = 0.0
    lane_lo[:] = 0.0
    stop = k - k % _LANES
    for j0 in range(0, stop, _LANES):
        for q in range(_LANES):
            lane_hi[q], lane_lo[q] = _two_sum(lane_hi[q], lane_lo[q], keep[j0 + q] * (poly[j0 + q] * scale[j0 + q]))
    hi = 0.0
    lo = 0.0
    for q in range(_LANES):
        hi, lo = _two_sum(hi, lo, lane_hi[q])
        lo += lane_lo[q]
    for j in range(stop, k):
        hi, lo = _two_sum(hi, lo, keep[j] * (poly[j] * scale[j]))
    return _two_sum(hi, 0.0, lo)


@numba.njit(cache=True, inline="always")
def _masked_max(row, pen, lane):
    """max_j (row[j] + pen[j]) with pen in {0, -inf} (vectorised over 16 lanes)."""
    k = row.shape[0]
    lane[:] = -np.inf
    stop = k - k % _LANES
    for j0 in range(0, stop, _LANES):
        for q in range(_LANES):
            v = np.float64(row[j0 + q]) + pen[j0 + q]
            lane[q] = v if v > lane[q] else lane[q]
    best = -np.inf
    for q in range(_LANES):
        best = lane[q] if lane[q] > best else best
    for j in range(stop, k):
        v = np.float64(row[j]) + pen[j]
        best = v if v > best else best
    return best


@numba.njit(cache=True, inline="always")
def _all_finite(row, lane):
    """False when the row holds NaN or ±inf (``v - v`` is NaN exactly then; 16 lanes, vectorised)."""
    k = row.shape[0]
    lane[:] = 0.0
    stop = k - k % _LANES
    for j0 in range(0, stop, _LANES):
        for q in range(_LANES):
            v = np.float64(row[j0 + q])
            lane[q] += v - v
    total = 0.0
    for q in range(_LANES):
        total += lane[q]
    for j in range(stop, k):
        v = np.float64(row[j])
        total += v - v
    return total == 0.0


@numba.njit(cache=True, inline="always")
def _dd_add(rp, j, value):
    """``rp[0, j] + rp[1, j] += value`` in double-double (order-independent sums)."""
    rp[0, j], rp[1, j] = _two_sum(rp[0, j], rp[1, j], value)


@numba.njit(cache=True, inline="always")
def _insert_top(top_val, top_pos, v, j):
    t = top_val.shape[0] - 1
    while t > 0 and top_val[t - 1] < v:
        top_val[t] = top_val[t - 1]
        top_pos[t] = top_pos[t - 1]
        t -= 1
    top_val[t] = v
    top_pos[t] = j


@numba.njit(cache=True, parallel=True)
def scan_rows(block, row0, amax, rowmax, rest_hi, rest_lo, top_idx, bad, n_sub):
    """First pass over rows ``row0 .. row0 + len(block)``.

    Fills, per row x: ``amax`` (argmax, lowest index on ties), ``rowmax`` (max logit),
    ``rest_hi + rest_lo`` (Σ_{j ≠ a(x)} e_j as double-double), ``top_idx`` (the T largest entries in
    (value desc, index asc) order) and ``bad`` (1 when the row holds NaN or ±inf).
    """
    n, k = block.shape
    t_len = top_idx.shape[1]
    for b in numba.prange(n_sub):
        top_val = np.empty(t_len)
        top_pos = np.empty(t_len, dtype=np.int64)
        poly = np.empty(k)
        bits = np.empty(k, dtype=np.int64)
        scale = bits.view(np.float64)
        keep = np.ones(k)
        pen = np.zeros(k)
        lane = np.empty(_LANES)
        lane_lo = np.empty(_LANES)
        for i in range(b * n // n_sub, (b + 1) * n // n_sub):
            x = row0 + i
            row = block[i]
            m = _masked_max(row, pen, lane)
            if not _all_finite(row, lane):
                bad[x] = 1
                continue
            for t in range(t_len):
                top_val[t] = -np.inf
                top_pos[t] = 0
            for j in range(k):
                v = np.float64(row[j])
                if v > top_val[t_len - 1]:
                    _insert_top(top_val, top_pos, v, j)
            a = top_pos[0]
            _row_exp(row, m, poly, bits)
            keep[a] = 0.0
            hi, lo = _masked_dd_sum(poly, scale, keep, lane, lane_lo)
            keep[a] = 1.0
            amax[x] = a
            rowmax[x] = m
            rest_hi[x] = hi
            rest_lo[x] = lo
            for t in range(t_len):
                top_idx[x, t] = top_pos[t]


@numba.njit(cache=True)
def cluster_sums(amax, rest_hi, rest_lo, n_clusters):
    """Per-cluster point counts and double-double sums ``conf_hi + conf_lo`` of
    ``conf(x) = 1 / (1 + Σ_{j≠a} e_j)`` (so the sum does not depend on the point order)."""
    counts = np.zeros(n_clusters, dtype=np.int64)
    conf_hi = np.zeros(n_clusters)
    conf_lo = np.zeros(n_clusters)
    for x in range(amax.shape[0]):
        a = amax[x]
        counts[a] += 1
        conf_hi[a], conf_lo[a] = _two_sum(conf_hi[a], conf_lo[a], 1.0 / (1.0 + (rest_hi[x] + rest_lo[x])))
    return counts, conf_hi, conf_lo


@numba.njit(cache=True)
def group_sums(grp, hi, lo, n_nodes):
    """Double-double ``Σ_{c : grp[c] = v} (hi[c] + lo[c])`` for every node v."""
    out_hi = np.zeros(n_nodes)
    out_lo = np.zeros(n_nodes)
    for c in range(grp.shape[0]):
        v = grp[c]
        out_hi[v], out_lo[v] = _two_sum(out_hi[v], out_lo[v], hi[c])
        out_lo[v] += lo[c]
    return out_hi, out_lo


@numba.njit(cache=True)
def bucket_points(amax, n_clusters):
    """CSR order of the points by argmax: ``order[offsets[c]:offsets[c+1]]`` is ``D_c`` (ascending)."""
    offsets = np.zeros(n_clusters + 1, dtype=np.int64)
    for x in range(amax.shape[0]):
        offsets[amax[x] + 1] += 1
    for c in range(n_clusters):
        offsets[c + 1] += offsets[c]
    fill = offsets[:-1].copy()
    order = np.empty(amax.shape[0], dtype=np.int64)
    for x in range(amax.shape[0]):
        a = amax[x]
        order[fill[a]] = x
        fill[a] += 1
    return order, offsets


@numba.njit(cache=True)
def gather_points(members, order, offsets):
    """Indices of ``D_G`` for the clusters ``members`` of a group G."""
    total = 0
    for c in members:
        total += offsets[c + 1] - offsets[c]
    out = np.empty(total, dtype=np.int64)
    w = 0
    for c in members:
        for q in range(offsets[c], offsets[c + 1]):
            out[w] = order[q]
            w += 1
    return out


@numba.njit(cache=True)
def walk_members(nxt, head, size):
    """Clusters of a group, following the linked list ``nxt`` from ``head`` (``size`` of them)."""
    out = np.empty(size, dtype=np.int64)
    c = head
    for i in range(size):
        out[i] = c
        c = nxt[c]
    return out


@numba.njit(cache=True, inline="always")
def _visit_range(logits, pts, lo_i, hi_i, u, grp, members, pos, node_head, node_size, keep, pen,
                 rowmax, rest_hi, top_idx, ptr, known, out_hi, out_lo, rp):
    """Visit points ``pts[lo_i:hi_i]`` of D_u; see :func:`visit_group`."""
    k = logits.shape[1]
    t_len = top_idx.shape[1]
    size_u = members.shape[0]
    max_gather = max(8, k // 8)  # beyond this many new columns one vectorised row pass is cheaper
    poly = np.empty(k)
    bits = np.empty(k, dtype=np.int64)
    scale = bits.view(np.float64)
    lane = np.empty(_LANES)
    lane_lo = np.empty(_LANES)
    top_val = np.empty(t_len)
    top_pos = np.empty(t_len, dtype=np.int64)
    for ii in range(lo_i, hi_i):
        x = pts[ii]
        m = rowmax[x]
        v = known[x]
        row = logits[x]
        fresh = v == u
        if not fresh and size_u - node_size[v] <= max_gather:
            hi = out_hi[x]
            lo = out_lo[x]
            s0 = pos[node_head[v]]
            s1 = s0 + node_size[v]
            for q in range(size_u):
                if s0 <= q < s1:
                    continue
                hi, lo = _two_sum(hi, lo, -_exp(np.float64(row[members[q]]) - m))
            hi, lo = _two_sum(hi, 0.0, lo)
            out_hi[x] = hi
            out_lo[x] = lo
            known[x] = u
            fresh = True
        p = ptr[x]
        while p < t_len and grp[top_idx[x, p]] == u:
            p += 1
        ptr[x] = p
        outside = out_hi[x] + out_lo[x]
        if fresh and p < t_len and outside >= _ABS_FLOOR and outside >= _REL_FLOOR * rest_hi[x]:
            j = top_idx[x, p]
            _dd_add(rp, j, _exp(np.float64(row[j]) - m) / outside)
            continue
        # One vectorised pass over the row: exact masked sum, state reset, masked argmax.
        _row_exp(row, m, poly, bits)
        hi, lo = _masked_dd_sum(poly, scale, keep, lane, lane_lo)
        out_hi[x] = hi
        out_lo[x] = lo
        known[x] = u
        if p == t_len:  # the stored top entries all joined the group: refill from the row
            for t in range(t_len):
                top_val[t] = -np.inf
                top_pos[t] = -1
            for jj in range(k):
                val = np.float64(row[jj]) + pen[jj]
                if val > top_val[t_len - 1]:
                    _insert_top(top_val, top_pos, val, jj)
            for t in range(t_len):  # fewer clusters than t_len outside u: repeat the best
                top_idx[x, t] = top_pos[t] if top_pos[t] >= 0 else top_pos[0]
            p = 0
            ptr[x] = 0
        j = top_idx[x, p]
        best = np.float64(row[j])
        outside = hi + lo
        e_best = _exp(best - m)
        if outside >= _ABS_FLOOR and e_best >= _ABS_FLOOR:
            _dd_add(rp, j, e_best / outside)
        else:  # far below the row maximum: shift by the best outside value instead
            _row_exp(row, best, poly, bits)
            hi2, lo2 = _masked_dd_sum(poly, scale, keep, lane, lane_lo)
            _dd_add(rp, j, 1.0 / (hi2 + lo2))


@numba.njit(cache=True, parallel=True)
def visit_group(logits, pts, u, grp, members, pos, node_head, node_size, keep, pen,
                rowmax, rest_hi, top_idx, ptr, known, out_hi, out_lo, rp_parts):
    """Step 3 for a group ``u`` with non-empty ``D_u``: ``rp_parts[b, :, c]`` += conf(x; u) (as
    double-double ``hi, lo``) of the points ``pts`` (= D_u) of chunk b whose masked argmax a(x; u) is c.

    Per-point state, updated in place: ``known[x]`` is the group whose clusters are already removed
    from ``out_hi + out_lo = Σ_{j ∉ known[x]} e_j``; ``ptr[x]`` is the first entry of ``top_idx[x]``
    that may still lie outside the point's group.  ``members`` lists u's clusters so that every earlier
    group v ⊂ u is the contiguous run starting at ``pos[node_head[v]]``; ``grp[c]`` is the current
    group of cluster c; ``keep``/``pen`` are 1/0 and 0/-inf for clusters outside/inside u.
    """
    n = pts.shape[0]
    n_chunks = rp_parts.shape[0]
    for b in numba.prange(n_chunks):
        _visit_range(logits, pts, b * n // n_chunks, (b + 1) * n // n_chunks, u, grp, members, pos,
                     node_head, node_size, keep, pen, rowmax, rest_hi, top_idx, ptr, known, out_hi,
                     out_lo, rp_parts[b])


@numba.njit(cache=True)
def visit_group_serial(logits, pts, u, grp, members, pos, node_head, node_size, keep, pen,
                       rowmax, rest_hi, top_idx, ptr, known, out_hi, out_lo, rp_parts):
    """:func:`visit_group` on one thread (small groups: no parallel-region overhead)."""
    n = pts.shape[0]
    n_chunks = rp_parts.shape[0]
    for b in range(n_chunks):
        _visit_range(logits, pts, b * n // n_chunks, (b + 1) * n // n_chunks, u, grp, members, pos,
                     node_head, node_size, keep, pen, rowmax, rest_hi, top_idx, ptr, known, out_hi,
                     out_lo, rp_parts[b])


@numba.njit(cache=True, parallel=True)
def visit_soft(logits, members, amax, rowmax, rest_hi, rest_lo, rp_parts):
    """Step 3 for a group G (``members``) with empty ``D_G``: every point x, weighted by
    ``w(x) = Σ_{c∈G} p_c(x)``, adds ``w(x) conf(x; G)`` to ``rp_parts[b, :, a(x; G)]`` (double-double).

    As no point has its argmax in G, ``a(x; G) = a(x)`` and ``Σ_{j∉G} e_j = 1 + rest - Σ_{c∈G} e_c``
    with no cancellation (the result is at least 1).  The weights use libm's ``exp``, which keeps
    subnormal results (G's logits 708 to 745 below the row maximum), as plain float64 would.
    """
    n = amax.shape[0]
    n_chunks = rp_parts.shape[0]
    for b in numba.prange(n_chunks):
        rp = rp_parts[b]
        for x in range(b * n // n_chunks, (b + 1) * n // n_chunks):
            m = rowmax[x]
            in_g = 0.0
            for q in range(members.shape[0]):
                in_g += math.exp(np.float64(logits[x, members[q]]) - m)
            rest = rest_hi[x] + rest_lo[x]
            total = 1.0 + rest
            outside = 1.0 + ((rest_hi[x] - in_g) + rest_lo[x])
            _dd_add(rp, amax[x], (in_g / total) / outside)
