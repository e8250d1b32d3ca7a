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


@numba.njit(cache=True, inline="always")
def _two_sum(hi, lo, value):
    s = hi + value
    bp = s - hi
    err = (hi - (s - bp)) + (value - bp)
    return s, lo + err


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
        top_pos = np.empty(t_len, dtype=np.int32)
        start = b * n // n_sub
        stop = (b + 1) * n // n_sub
        for i in range(start, stop):
            x = row0 + i
            for t in range(t_len):
                top_val[t] = -np.inf
                top_pos[t] = 0
            probe = 0.0
            for j in range(k):
                v = np.float64(block[i, j])
                probe += v - v  # NaN as soon as one value is NaN or ±inf
                if v > top_val[t_len - 1]:
                    t = t_len - 1
                    while t > 0 and top_val[t - 1] < v:
                        top_val[t] = top_val[t - 1]
                        top_pos[t] = top_pos[t - 1]
                        t -= 1
                    top_val[t] = v
                    top_pos[t] = j
            if probe != 0.0:
                bad[x] = 1
                continue
            a = top_pos[0]
            m = top_val[0]
            hi = 0.0
            lo = 0.0
            for j in range(k):
                if j != a:
                    hi, lo = _two_sum(hi, lo, math.exp(np.float64(block[i, j]) - m))
            amax[x] = a
            rowmax[x] = m
            rest_hi[x] = hi
            rest_lo[x] = lo
            for t in range(t_len):
                top_idx[x, t] = top_pos[t]


@numba.njit(cache=True)
def cluster_sums(amax, rest_hi, rest_lo, n_clusters):
    """Per-cluster point counts and sums of ``conf(x) = 1 / (1 + Σ_{j≠a} e_j)``, in point order."""
    counts = np.zeros(n_clusters, dtype=np.int64)
    conf_sum = np.zeros(n_clusters)
    for x in range(amax.shape[0]):
        a = amax[x]
        counts[a] += 1
        conf_sum[a] += 1.0 / (1.0 + (rest_hi[x] + rest_lo[x]))
    return counts, conf_sum


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


@numba.njit(cache=True, parallel=True)
def visit_group(logits, pts, u, grp, members, pos, node_head, node_size, complement,
                rowmax, rest_hi, top_idx, ptr, known, out_hi, out_lo, rp_parts):
    """Step 3 for a group ``u`` with non-empty ``D_u``: ``rp_parts[b, c]`` += conf(x; u) of the
    points ``pts`` (= D_u) of chunk b whose masked argmax a(x; u) is c.

    Per-point state, updated in place: ``known[x]`` is the group whose clusters are already removed
    from ``out_hi + out_lo = Σ_{j ∉ known[x]} e_j``; ``ptr[x]`` is the first entry of ``top_idx[x]``
    that may still lie outside the point's group.  ``members`` lists u's clusters so that every earlier
    group v ⊂ u is the contiguous run starting at ``pos[node_head[v]]``; ``complement`` lists the
    clusters outside u; ``grp[c]`` is the current group of cluster c.
    """
    n = pts.shape[0]
    k = logits.shape[1]
    t_len = top_idx.shape[1]
    size_u = members.shape[0]
    n_chunks = rp_parts.shape[0]
    for b in numba.prange(n_chunks):
        rp = rp_parts[b]
        scratch_val = np.empty(t_len)
        for ii in range(b * n // n_chunks, (b + 1) * n // n_chunks):
            x = pts[ii]
            m = rowmax[x]
            v = known[x]
            if v != u:
                hi = out_hi[x]
                lo = out_lo[x]
                if size_u - node_size[v] <= complement.shape[0]:
                    s0 = pos[node_head[v]]
                    s1 = s0 + node_size[v]
                    for q in range(size_u):
                        if s0 <= q < s1:
                            continue
                        hi, lo = _two_sum(hi, lo, -math.exp(np.float64(logits[x, members[q]]) - m))
                else:  # fewer terms outside u than newly inside: sum them afresh
                    hi = 0.0
                    lo = 0.0
                    for q in range(complement.shape[0]):
                        hi, lo = _two_sum(hi, lo, math.exp(np.float64(logits[x, complement[q]]) - m))
                out_hi[x] = hi
                out_lo[x] = lo
                known[x] = u
            p = ptr[x]
            while p < t_len and grp[top_idx[x, p]] == u:
                p += 1
            outside = out_hi[x] + out_lo[x]
            if p < t_len and outside >= _ABS_FLOOR and outside >= _REL_FLOOR * rest_hi[x]:
                ptr[x] = p
                j = top_idx[x, p]
                rp[j] += math.exp(np.float64(logits[x, j]) - m) / outside
                continue
            # Exact path: rescan the row (and refill the top list when it ran out).
            if p == t_len:
                for t in range(t_len):
                    scratch_val[t] = -np.inf
                for j in range(k):
                    if grp[j] == u:
                        continue
                    val = np.float64(logits[x, j])
                    if val > scratch_val[t_len - 1]:
                        t = t_len - 1
                        while t > 0 and scratch_val[t - 1] < val:
                            scratch_val[t] = scratch_val[t - 1]
                            top_idx[x, t] = top_idx[x, t - 1]
                            t -= 1
                        scratch_val[t] = val
                        top_idx[x, t] = j
                p = 0
                # fewer than t_len clusters outside u: pad with the best so the list stays valid
                for t in range(t_len):
                    if scratch_val[t] == -np.inf:
                        top_idx[x, t] = top_idx[x, 0]
            ptr[x] = p
            j = top_idx[x, p]
            best = np.float64(logits[x, j])
            total = 0.0
            for i in range(k):
                if grp[i] != u:
                    total += math.exp(np.float64(logits[x, i]) - best)
            rp[j] += 1.0 / total


@numba.njit(cache=True, parallel=True)
def visit_soft(logits, members, amax, rowmax, rest_hi, rest_lo, rp_parts):
    """Step 3 for a group G (``members``) with empty ``D_G``: every point x, weighted by
    ``w(x) = Σ_{c∈G} p_c(x)``, adds ``w(x) conf(x; G)`` to ``rp_parts[b, a(x; G)]``.

    As no point has its argmax in G, ``a(x; G) = a(x)`` and ``Σ_{j∉G} e_j = 1 + rest - Σ_{c∈G} e_c``
    with no cancellation (the result is at least 1).
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
            rp[amax[x]] += (in_g / total) / outside
