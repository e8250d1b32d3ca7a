"""Numba kernels of the L2H build (see :mod:`l2h.build` for the maths and the wrappers).

Pure functions over contiguous arrays: no validation, no globals, outputs allocated by the caller.
Logits arrive as float32 or float64 ``(N, K)`` arrays (often memory maps) and every value is widened
to float64 before use.  ``e_j(x) = exp(L_j(x) - max_i L_i(x))`` always uses the row maximum as the
shift, so the same ``e_j`` is recomputed bit for bit whenever a row is revisited; per-point sums of
``e_j`` are kept as double-double (``hi + lo``) so that subtracting terms later cancels exactly.

The merge kernels take their state as a few tuples of arrays (as pynndescent bundles its heaps),
each built in one place on the Python side:

* ``groups`` (:meth:`l2h.build.groups.Groups.kernel_state`): ``(nxt, head, tail, size, grp,
  slot_node, node_slot, parent, node_count, node_conf, node_cmean, node_score)``, the group lists,
  node statistics and scores;
* ``rp`` (:meth:`~l2h.build.groups.Groups.rp_state`): ``(rp_hi, rp_lo, touched)``, the current
  merge's sums;
* ``pick`` (:meth:`~l2h.build.groups.Groups.pick_scratch`): ``(acc_hi, acc_lo, slot_stamp,
  slots)``, the scratch of the G† choice;
* ``record`` (:meth:`~l2h.build.groups.Groups.record_state`): ``(seg, merges, scores, rels)``, the
  segment tree of scores and the merge records;
* ``points`` (:meth:`l2h.build.points.Points.kernel_state`): ``(rowmax, base, top_idx, ptr, known,
  out_hi, out_lo)``, the per-point state in bucket order;
* ``masks`` (:meth:`~l2h.build.points.Points.masks`): ``(pos, keep, pen)``, G*'s per-cluster masks;
* ``reduction`` (:meth:`~l2h.build.points.Points.reduction_state`): ``(tgt, val, part_hi, part_lo,
  stamp, part_list, seen)``, the visit's outputs and the reduction's scratch;
* ``soft`` (:meth:`~l2h.build.points.Points.soft_state`): ``(cols, col_of, first, rowmax, rest_hi,
  rest_lo)``, the soft-membership passes' inputs in bucket order.

Constants passed to another kernel are typed ``np.int64(0)``, not ``0``: Numba compiles a separate
version of the callee for each literal argument (``Literal[int](0)``), besides the one that calls
from Python use.

This module is imported only when a build runs (:func:`l2h.build.api.kernels`), so ``import l2h``
stays fast.  The aggregation codes and the reduction's part count come from :mod:`l2h.build.aggregations`
and :mod:`l2h.build.exact` (one definition for Python and the kernels).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from llvmlite.binding import llvm_version_info
from numba.core import cgutils, types
from numba.extending import intrinsic

from l2h.build.aggregations import CLUSTER_MEAN, SUM
from l2h.build.exact import n_parts

# Below these bounds the incremental masked sum is not trusted and the row is rescanned exactly:
# double-double cancellation keeps ~30 digits, so 1e-12 of the point's non-argmax mass still leaves
# ~1e-18 relative accuracy; 1e-280 keeps every term away from subnormals.
_REL_FLOOR = 1e-12
_ABS_FLOOR = 1e-280


_LOG2E = 1.4426950408889634
_LN2_HI = 0.693147180369123816490
_LN2_LO = 1.90821492927058770002e-10
_LANES = 16
_TOUCH_MIN = 32  # gathers of more columns than this first stream the row into the cache
_PREFETCH_AHEAD = 8  # points ahead whose row is prefetched in the visit loop
_PREFETCH_ROW_BYTES = 16384  # rows up to this size are prefetched whole (8 rows ahead stay in L1/L2)
_TOP_LANES = 64  # strided lanes whose maxima bound the top-T search
_MAGIC = 6755399441055744.0  # 1.5 * 2**52: x + _MAGIC rounds x to an integer in the low bits
_MAGIC_BITS = 0x4338000000000000  # the bit pattern of _MAGIC


# LLVM >= 15 has opaque pointers (llvmlite 0.42+); older ones name the intrinsic by pointee type.
_PREFETCH_INTRINSIC = "llvm.prefetch.p0" if llvm_version_info >= (15,) else "llvm.prefetch.p0i8"

_n_parts = numba.njit(cache=True)(n_parts)  # the Python rule, compiled


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Hint the CPU to fetch the cache line (and its page-table entry) of ``arr[idx]`` (1-D array)."""
    if not isinstance(arr, types.Array) or arr.ndim != 1 or not isinstance(idx, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _PREFETCH_INTRINSIC)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])  # read, keep, data
        return context.get_dummy_value()

    return types.void(arr, idx), codegen


@numba.njit(cache=True, inline="always")
def _dd_plus(hi, lo, value):
    """Double-double ``(hi + lo) + value`` (Knuth's two-sum of ``hi`` and ``value``; error into ``lo``)."""
    s = hi + value
    bp = s - hi
    err = (hi - (s - bp)) + (value - bp)
    return s, lo + err


@numba.njit(cache=True, fastmath={"contract"})
def _exp_poly(x):
    """``(p, t)`` with ``exp(x) = p * 2**k`` for ``x`` clamped to [-700, 0] and ``k`` held in the
    low mantissa bits of ``t = x·log2(e) + 1.5·2**52`` (round to nearest, no float-to-int conversion,
    so LLVM vectorises row loops with AVX2).  Cody-Waite reduction, degree-13 Taylor polynomial,
    about 1 ulp.  Only contraction into FMAs is allowed (no reassociation), and it is confined to this
    function: LLVM inlines it with its own instruction flags, so callers' sums stay strict IEEE.  The
    scalar and vectorised uses give the same bits (a test checks), which the exact cancellation of
    stored sums relies on."""
    x = min(max(x, -700.0), 0.0)
    t = x * _LOG2E + _MAGIC
    kf = t - _MAGIC
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
    return p, t


@numba.njit(cache=True, inline="always")
def _exp(x):
    """``exp(x)`` for ``x <= 0``, bit-identical to :func:`_row_exp`; values below ``exp(-700)`` are 0."""
    if x < -700.0:
        return 0.0
    p, t = _exp_poly(x)
    return math.ldexp(p, np.int64(t - _MAGIC))


@numba.njit(cache=True, inline="always")
def _row_exp(row, shift, poly, bits):
    """``poly[j] * scale[j] = exp(row[j] - shift)`` (``scale = bits.view(float64)``) for the
    first ``len(row)`` entries, in two vectorised loops; entries below ``exp(-700)`` give 0."""
    n = row.shape[0]
    tbuf = bits.view(np.float64)
    for j in range(n):
        x = np.float64(row[j]) - shift
        p, t = _exp_poly(x)
        poly[j] = p if x >= -700.0 else 0.0
        tbuf[j] = t
    for j in range(n):
        bits[j] = (bits[j] - _MAGIC_BITS + 1023) << 52


@numba.njit(cache=True)
def _masked_dd_sum(poly, scale, keep, tmp_hi, tmp_lo):
    """Σ_j keep[j] poly[j] scale[j] in double-double (:func:`_dd_sum` after zeroing the masked
    entries of ``poly``, which is scratch here; keep is 0 or 1, so the products are exact)."""
    for j in range(poly.shape[0]):
        poly[j] *= keep[j]
    return _dd_sum(poly, scale, poly.shape[0], tmp_hi, tmp_lo)


@numba.njit(cache=True, inline="always")
def _dd_sum(poly, scale, n, tmp_hi, tmp_lo):
    """Σ_{j<n} poly[j] scale[j] (non-negative terms) in double-double, by pairwise halving.

    Level one adds term j and term j + n/2 with Knuth's two-sum into ``tmp_hi``/``tmp_lo``; each
    further level adds the upper half of the double-doubles onto the lower half (an odd one out is
    folded into entry 0).  Every level is an elementwise loop over contiguous arrays, which LLVM
    vectorises (a sequential or lane-array accumulation stays scalar in Numba: 5-8x slower).  With
    non-negative terms each addition is accurate to about 2**-104 relative, so the result is the
    exact sum to about ``log2(n) * 2**-104``.  Scratch: ``tmp_hi``/``tmp_lo``, length >= (n + 1) // 2
    (shorter scratch falls back to the sequential sum, same accuracy).
    """
    if n < 2 * _LANES or tmp_hi.shape[0] < (n + 1) // 2 or tmp_lo.shape[0] < (n + 1) // 2:
        hi = 0.0
        lo = 0.0
        for j in range(n):
            hi, lo = _dd_plus(hi, lo, poly[j] * scale[j])
        return _dd_plus(hi, 0.0, lo)
    h = n // 2
    for j in range(h):
        a = poly[j] * scale[j]
        b = poly[j + h] * scale[j + h]
        s = a + b
        bp = s - a
        tmp_lo[j] = (a - (s - bp)) + (b - bp)
        tmp_hi[j] = s
    if n % 2 == 1:
        tmp_hi[0], tmp_lo[0] = _dd_plus(tmp_hi[0], tmp_lo[0], poly[n - 1] * scale[n - 1])
    while h > 1:
        half = h // 2
        for j in range(half):
            a_hi = tmp_hi[j]
            b_hi = tmp_hi[j + half]
            s = a_hi + b_hi
            bp = s - a_hi
            err = (a_hi - (s - bp)) + (b_hi - bp)
            tmp_lo[j] = err + (tmp_lo[j] + tmp_lo[j + half])
            tmp_hi[j] = s
        if h % 2 == 1:
            s = tmp_hi[0] + tmp_hi[h - 1]
            bp = s - tmp_hi[0]
            err = (tmp_hi[0] - (s - bp)) + (tmp_hi[h - 1] - bp)
            tmp_lo[0] = err + (tmp_lo[0] + tmp_lo[h - 1])
            tmp_hi[0] = s
        h = half
    return _dd_plus(tmp_hi[0], 0.0, tmp_lo[0])


@numba.njit(cache=True)
def _lane_max(row, pen, lane_max, lane_bad):
    """Maxima of ``row[j] + pen[j]`` over the strided lanes ``j ≡ q (mod 64)`` (vectorised), the row
    maximum, and whether the row is finite (``v - v`` is NaN exactly for NaN and ±inf)."""
    k = row.shape[0]
    lane_max[:] = -np.inf
    lane_bad[:] = 0.0
    stop = k - k % _TOP_LANES
    for j0 in range(0, stop, _TOP_LANES):
        for q in range(_TOP_LANES):
            v = np.float64(row[j0 + q]) + pen[j0 + q]
            lane_max[q] = v if v > lane_max[q] else lane_max[q]
            lane_bad[q] += v - v
    for j in range(stop, k):
        v = np.float64(row[j]) + pen[j]
        q = j - stop
        lane_max[q] = v if v > lane_max[q] else lane_max[q]
        lane_bad[q] += v - v
    best = -np.inf
    bad = 0.0
    for q in range(_TOP_LANES):
        best = lane_max[q] if lane_max[q] > best else best
        bad += lane_bad[q]
    return best, bad == 0.0


@numba.njit(cache=True)
def _masked_lane_max(row, pen, lane_max):
    """:func:`_lane_max` without the finiteness test (rows are known to be finite after the scan).

    Kept apart on purpose: refills run about twice per point, and the finiteness lanes cost ~20% of
    this pass (the merges at 1.28M x 1000 took 5-10% longer with the shared version)."""
    k = row.shape[0]
    lane_max[:] = -np.inf
    stop = k - k % _TOP_LANES
    for j0 in range(0, stop, _TOP_LANES):
        for q in range(_TOP_LANES):
            v = np.float64(row[j0 + q]) + pen[j0 + q]
            lane_max[q] = v if v > lane_max[q] else lane_max[q]
    for j in range(stop, k):
        v = np.float64(row[j]) + pen[j]
        q = j - stop
        lane_max[q] = v if v > lane_max[q] else lane_max[q]


@numba.njit(cache=True, inline="always")
def _insert_top(top_val, top_pos, v, j):
    """Insert ``(v, j)`` into the list kept in (value desc, index asc) order if it belongs there."""
    t = top_val.shape[0] - 1
    if not (v > top_val[t] or (v == top_val[t] and j < top_pos[t])):
        return
    while t > 0 and (top_val[t - 1] < v or (top_val[t - 1] == v and top_pos[t - 1] > j)):
        top_val[t] = top_val[t - 1]
        top_pos[t] = top_pos[t - 1]
        t -= 1
    top_val[t] = v
    top_pos[t] = j


@numba.njit(cache=True)
def _select_top(row, pen, lane_max, top_val, top_pos):
    """The ``T = len(top_val)`` largest finite ``row[j] + pen[j]`` (pen in {0, -inf}) in (value desc,
    index asc) order, after :func:`_lane_max` filled ``lane_max``; unfilled slots keep value -inf and
    position -1.

    Every lane maximum is an entry of the row, so the T-th largest lane maximum is a lower bound of
    the T-th largest entry: only lanes reaching it (usually about T of the 64) are searched.
    """
    k = row.shape[0]
    t_len = top_val.shape[0]
    # The T-th largest lane maximum is the bound.  A cheap lower bound of it first: the maxima of T
    # disjoint sets of lanes are T distinct lane maxima, so their minimum is at most the T-th largest.
    for t in range(t_len):
        top_val[t] = -np.inf
    t = 0
    for q in range(_TOP_LANES):  # lane q goes to set q mod T (counted, not divided: no idiv per lane)
        top_val[t] = lane_max[q] if lane_max[q] > top_val[t] else top_val[t]
        t += 1
        if t == t_len:
            t = 0
    rough = top_val[0]
    for t in range(t_len):
        rough = top_val[t] if top_val[t] < rough else rough
    for t in range(t_len):
        top_val[t] = -np.inf
        top_pos[t] = -1
    for q in range(_TOP_LANES):
        if lane_max[q] >= rough:
            _insert_top(top_val, top_pos, lane_max[q], q)
    bound = top_val[t_len - 1]
    for t in range(t_len):
        top_val[t] = -np.inf
        top_pos[t] = -1
    for q in range(_TOP_LANES):
        if lane_max[q] >= bound and lane_max[q] > -np.inf:
            for j in range(q, k, _TOP_LANES):
                v = np.float64(row[j]) + pen[j]
                if v >= bound and v > -np.inf:  # a fixed, well-predicted test before the insertion
                    _insert_top(top_val, top_pos, v, j)


@numba.njit(cache=True)
def scan_range(block, row0, lo_i, hi_i, amax, rowmax, rest_hi, rest_lo, top_idx, bad):
    """:func:`scan_rows` for the rows ``lo_i .. hi_i`` of ``block`` on one thread; returns how many of
    them look like probabilities.  Small blocks call it directly: the same values, and no parallel
    kernel to compile for a small build."""
    k = block.shape[1]
    t_len = top_idx.shape[1]
    top_val = np.empty(t_len)
    top_pos = np.empty(t_len, dtype=np.int64)
    poly = np.empty(k)
    bits = np.empty(k, dtype=np.int64)
    scale = bits.view(np.float64)
    pen = np.zeros(k)
    lane = np.empty(k // 2 + 1)
    lane_lo = np.empty(k // 2 + 1)
    lane_max = np.empty(_TOP_LANES)
    lane_bad = np.empty(_TOP_LANES)
    n_probs = 0
    for i in range(lo_i, hi_i):
        x = row0 + i
        row = block[i]
        m, finite = _lane_max(row, pen, lane_max, lane_bad)
        if not finite:
            bad[x] = 1
            continue
        if 0.0 <= m <= 1.0:
            low = m
            total = 0.0
            for j in range(k):
                v = np.float64(row[j])
                low = v if v < low else low
                total += v
            if low >= 0.0 and abs(total - 1.0) <= 1e-3:
                n_probs += 1
        _select_top(row, pen, lane_max, top_val, top_pos)
        a = top_pos[0]
        _row_exp(row, m, poly, bits)
        poly[a] = 0.0  # Σ over j ≠ a only, so that confident rows keep full relative precision
        hi, lo = _dd_sum(poly, scale, k, lane, lane_lo)
        amax[x] = a
        rowmax[x] = m
        rest_hi[x] = hi
        rest_lo[x] = lo
        for t in range(t_len):
            top_idx[x, t] = top_pos[t]
    return n_probs


@numba.njit(cache=True, parallel=True)
def scan_rows(block, row0, amax, rowmax, rest_hi, rest_lo, top_idx, bad, n_sub, prob_rows):
    """First pass over rows ``row0 .. row0 + len(block)``, its ``n_sub`` sub-blocks in parallel.

    Fills, per row x: ``amax`` (argmax, lowest index on ties), ``rowmax`` (max logit),
    ``rest_hi + rest_lo`` (Σ_{j ≠ a(x)} e_j as double-double), ``top_idx`` (the T largest entries in
    (value desc, index asc) order) and ``bad`` (1 when the row holds NaN or ±inf).  ``prob_rows[b]``
    (one counter per sub-block b of the ``n_sub``) counts the rows that look like probabilities:
    every value in [0, 1] and a sum within 1e-3 of 1 (tested only when the row maximum is in [0, 1],
    so ordinary logits cost nothing).
    """
    n = block.shape[0]
    for b in numba.prange(n_sub):
        lo_i = b * n // n_sub
        hi_i = (b + 1) * n // n_sub
        prob_rows[b] += scan_range(block, row0, lo_i, hi_i, amax, rowmax, rest_hi, rest_lo, top_idx, bad)


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
        conf_hi[a], conf_lo[a] = _dd_plus(conf_hi[a], conf_lo[a], 1.0 / (1.0 + (rest_hi[x] + rest_lo[x])))
    return counts, conf_hi, conf_lo


@numba.njit(cache=True)
def group_sums(grp, hi, lo, n_nodes):
    """Double-double ``Σ_{c : grp[c] = v} (hi[c] + lo[c])`` for every node v."""
    out_hi = np.zeros(n_nodes)
    out_lo = np.zeros(n_nodes)
    for c in range(grp.shape[0]):
        v = grp[c]
        out_hi[v], out_lo[v] = _dd_plus(out_hi[v], out_lo[v], hi[c])
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
def gather_positions(members, offsets):
    """Bucket positions of ``D_G`` (``order[pos]`` are its points) for the clusters ``members`` of G."""
    total = 0
    for c in members:
        total += offsets[c + 1] - offsets[c]
    out = np.empty(total, dtype=np.int64)
    w = 0
    for c in members:
        for q in range(offsets[c], offsets[c + 1]):
            out[w] = q
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
def _prefetch_point(logits, order, top_idx, ptr, q, line):
    """Fetch ahead of use the row of bucket position ``q`` (rows are scattered over the file): all
    of it, one cache line of ``line`` entries at a time, when rows are short (most visits stream the
    row, for a refill or a gather), else (``line`` 0) only the line of its stored best entry."""
    row_ahead = logits[order[q]]
    if line > 0:
        for j in range(0, logits.shape[1], line):
            _prefetch(row_ahead, j)
    else:
        t_len = top_idx.shape[1]
        _prefetch(row_ahead, top_idx[q, ptr[q] if ptr[q] < t_len else 0])


@numba.njit(cache=True, inline="always")
def _stream_row(row):
    """Read one entry per cache line of ``row`` (the caller stores the sum somewhere, so that the
    reads stay): the row is usually not in cache and a gather reads its columns in group order, not
    column order, so streaming it in first makes the gather hit the cache."""
    touch = 0.0
    for j in range(0, row.shape[0], 8):
        touch += np.float64(row[j])
    return touch


@numba.njit(cache=True, inline="always")
def _joined_sum(row, m, members, s0, s1, buf, poly, bits, scale, lane, lane_lo):
    """Double-double ``Σ e_j`` over the clusters that joined a point's group since its last visit:
    the members of u outside the contiguous run ``s0 .. s1`` of its last group (scratch: ``buf``,
    ``poly``, ``bits`` and its float64 view ``scale``, ``lane``, ``lane_lo``)."""
    g = 0
    for q in range(s0):
        buf[g] = row[members[q]]
        g += 1
    for q in range(s1, members.shape[0]):
        buf[g] = row[members[q]]
        g += 1
    _row_exp(buf[:g], m, poly, bits)
    return _dd_sum(poly, scale, g, lane, lane_lo)


@numba.njit(cache=True, inline="always")
def _exact_outside(row, m, x, keep, base, out_hi, out_lo, poly, bits, scale, lane, lane_lo):
    """Recompute the point's outside sum ``Σ_{j∉u} e_j`` exactly from the row (cancellation left the
    stored one below ``_REL_FLOOR * base[x]`` or ``_ABS_FLOOR``: the group holds nearly all the
    point's mass besides its argmax), store it as the new accurate base and return it."""
    _row_exp(row, m, poly, bits)
    hi, lo = _masked_dd_sum(poly, scale, keep, lane, lane_lo)
    out_hi[x] = hi
    out_lo[x] = lo
    base[x] = hi
    return hi + lo


@numba.njit(cache=True, inline="always")
def _point_value(row, m, j, outside, keep, poly, bits, scale, lane, lane_lo):
    """``conf(x; u) = e_j / Σ_{i∉u} e_i`` for the point's best outside entry ``j`` and its outside
    sum; far below the row maximum the sum is formed again, shifted by ``row[j]``."""
    best = np.float64(row[j])
    e_best = _exp(best - m)
    if outside >= _ABS_FLOOR and e_best >= _ABS_FLOOR:
        return e_best / outside
    _row_exp(row, best, poly, bits)
    hi2, lo2 = _masked_dd_sum(poly, scale, keep, lane, lane_lo)
    return 1.0 / (hi2 + lo2)


@numba.njit(cache=True)
def visit_range(logits, order, pts, lo_i, hi_i, u, members, groups, masks, points, out):
    """Visit the points at bucket positions ``pts[lo_i:hi_i]`` of D_u on one thread; see
    :func:`visit_group` (small groups call it directly: no parallel-region overhead)."""
    head, size, grp, node_slot = groups[1], groups[3], groups[4], groups[6]
    pos, keep, pen = masks
    rowmax, base, top_idx, ptr, known, out_hi, out_lo = points
    tgt, val = out
    u_slot = node_slot[u]
    k = logits.shape[1]
    t_len = top_idx.shape[1]
    # Scratch (tuples of it stay out of the per-point loop: each unpacking there costs reference counts)
    buf = np.empty(k)
    poly = np.empty(k)
    bits = np.empty(k, dtype=np.int64)
    scale = bits.view(np.float64)
    lane = np.empty(k // 2 + 1)
    lane_lo = np.empty(k // 2 + 1)
    top_val = np.empty(t_len)
    top_pos = np.empty(t_len, dtype=np.int64)
    lane_max = np.empty(_TOP_LANES)
    sink = np.empty(1)
    # entries per 64-byte cache line where whole rows are prefetched, else 0
    line = max(1, 64 // logits.itemsize) if k * logits.itemsize <= _PREFETCH_ROW_BYTES else 0
    for ii in range(lo_i, hi_i):
        if ii + _PREFETCH_AHEAD < hi_i:
            _prefetch_point(logits, order, top_idx, ptr, pts[ii + _PREFETCH_AHEAD], line)
        x = pts[ii]  # bucket position: the per-point state of a cluster's points is contiguous
        m = rowmax[x]
        v = known[x]
        row = logits[order[x]]
        p = ptr[x]  # the stored top entries that joined the group are skipped (no row access)
        while p < t_len and grp[top_idx[x, p]] == u_slot:
            p += 1
        refill = p == t_len
        if refill:
            # All stored top entries joined the group: the masked row's lane maxima (one streaming
            # pass, which also brings the row into the cache for the gather below).
            _masked_lane_max(row, pen, lane_max)
        if v != u:
            # Remove the clusters that joined the point's group since its last visit (each cluster
            # is removed once per point over the whole build).
            s0 = pos[head[v]]
            s1 = s0 + size[v]
            if not refill and members.shape[0] - (s1 - s0) > _TOUCH_MIN:
                sink[0] = _stream_row(row)
            g_hi, g_lo = _joined_sum(row, m, members, s0, s1, buf, poly, bits, scale, lane, lane_lo)
            hi, lo = _dd_plus(out_hi[x], out_lo[x], -g_hi)
            hi, lo = _dd_plus(hi, 0.0, lo - g_lo)
            out_hi[x] = hi
            out_lo[x] = lo
            known[x] = u
        if refill:
            _select_top(row, pen, lane_max, top_val, top_pos)
            for t in range(t_len):  # fewer clusters than t_len outside u: repeat the best
                top_idx[x, t] = top_pos[t] if top_pos[t] >= 0 else top_pos[0]
            p = 0
        ptr[x] = p
        j = top_idx[x, p]
        tgt[ii] = j
        outside = out_hi[x] + out_lo[x]
        if not (outside >= _ABS_FLOOR and outside >= _REL_FLOOR * base[x]):
            outside = _exact_outside(row, m, x, keep, base, out_hi, out_lo, poly, bits, scale, lane, lane_lo)
        val[ii] = _point_value(row, m, j, outside, keep, poly, bits, scale, lane, lane_lo)


@numba.njit(cache=True, parallel=True)
def visit_group(logits, order, pts, u, members, groups, masks, points, out, n_blocks):
    """Step 3, per point, for a group ``u`` with non-empty ``D_u``: for the ``ii``-th point of D_u
    (bucket position ``pts[ii]``), ``tgt[ii] = a(x; u)`` and ``val[ii] = conf(x; u)`` (``out = (tgt,
    val)``); the per-cluster sums ``rp(c)`` are then formed by :func:`reduce_targets`.  ``n_blocks``
    contiguous blocks of ``pts`` run in parallel (the block count does not change any value).

    ``pts`` are the bucket positions of D_u (its points are ``order[pts]``); every per-point array of
    ``points`` (the bundle of that name, see the module docstring) is indexed by bucket position, so
    a cluster's points have contiguous state.  Per-point state, updated in place: ``known[x]`` is the
    group whose clusters are already removed from ``out_hi + out_lo = Σ_{j ∉ known[x]} e_j``;
    ``ptr[x]`` is the first entry of ``top_idx[x]`` that may still lie outside the point's group;
    ``base[x]`` is the magnitude that the stored sum is accurate relative to (its value after the last
    exact computation): below ``_REL_FLOOR * base[x]`` the sum is recomputed from the row.
    ``members`` lists u's clusters so that every earlier group v ⊂ u is the contiguous run starting
    at ``pos[head[v]]``; ``grp[c]`` is the slot of the current group of cluster c (``groups``);
    ``masks = (pos, keep, pen)``: ``keep``/``pen`` are 1/0 and 0/-inf for clusters outside/inside u.
    """
    n = pts.shape[0]
    for b in numba.prange(n_blocks):
        visit_range(
            logits, order, pts, b * n // n_blocks, (b + 1) * n // n_blocks, u, members, groups, masks, points, out
        )


@numba.njit(cache=True)
def reduce_targets(reduction, n, n_parts, rp):
    """The per-merge reduction: ``rp(c) = Σ_{ii < n : tgt[ii] = c} val[ii]`` as double-double.

    The ``n`` visited points are cut into ``n_parts`` contiguous parts; each part is summed
    sequentially (:func:`_dd_plus`) and the parts are folded in order with a double-double addition,
    so the bits depend only on the visit order and ``n_parts`` (a function of ``n``, see
    ``l2h.build.exact.n_parts``), never on threads.  ``rp = (rp_hi, rp_lo, touched)``: writes
    ``rp_hi``/``rp_lo`` at the touched clusters (they must be zero there on entry), lists the touched
    clusters, ascending, in ``touched`` and returns how many.  ``reduction = (tgt, val, part_hi,
    part_lo, stamp, part_list, seen)``: the visit's outputs and the scratch, ``part_hi``/``part_lo``
    (per cluster, zero on entry and exit), ``part_list`` (length >= n), and the stamp arrays
    ``stamp``/``seen`` (int64, one per cluster plus a counter in the last entry; zeros before the
    first call).
    """
    tgt, val, part_hi, part_lo, stamp, part_list, seen = reduction
    rp_hi, rp_lo, touched = rp
    n_touched = np.int64(0)  # typed: a literal 0 would compile _sort_ids twice
    merge_id = seen[seen.shape[0] - 1] + 1
    seen[seen.shape[0] - 1] = merge_id
    counter = stamp[stamp.shape[0] - 1]
    for b in range(n_parts):
        counter += 1
        m = 0
        for ii in range(b * n // n_parts, (b + 1) * n // n_parts):
            j = tgt[ii]
            if stamp[j] != counter:
                stamp[j] = counter
                part_list[m] = j
                m += 1
            part_hi[j], part_lo[j] = _dd_plus(part_hi[j], part_lo[j], val[ii])
        for i in range(m):
            j = part_list[i]
            if seen[j] != merge_id:
                seen[j] = merge_id
                touched[n_touched] = j
                n_touched += 1
            # (rp_hi + rp_lo) += (part_hi + part_lo): Knuth's two-sum of the hi parts, lo parts added
            s = rp_hi[j] + part_hi[j]
            bp = s - rp_hi[j]
            err = (rp_hi[j] - (s - bp)) + (part_hi[j] - bp)
            rp_lo[j] = err + (rp_lo[j] + part_lo[j])
            rp_hi[j] = s
            part_hi[j] = 0.0
            part_lo[j] = 0.0
    stamp[stamp.shape[0] - 1] = counter
    _sort_ids(touched, n_touched, part_list)  # part_list is free again (n_touched <= n)
    return n_touched


@numba.njit(cache=True)
def _sort_ids(a, n, tmp):
    """Sort ``a[:n]`` ascending in place (``tmp``: scratch, length >= n): insertion sort of runs of
    16, then bottom-up merges.  A few plain loops instead of ``np.sort``, whose quicksort machinery
    took about 3 s of a first build's compilation, and as fast at a thousand keys; the keys sorted
    here are distinct cluster ids, so every sort gives the same order."""
    run = 16
    for lo in range(0, n, run):
        hi = min(lo + run, n)
        for i in range(lo + 1, hi):
            v = a[i]
            j = i - 1
            while j >= lo and a[j] > v:
                a[j + 1] = a[j]
                j -= 1
            a[j + 1] = v
    src, dst = a, tmp
    in_tmp = False
    width = run
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j = lo, mid
            for q in range(lo, hi):
                if j >= hi or (i < mid and src[i] <= src[j]):
                    dst[q] = src[i]
                    i += 1
                else:
                    dst[q] = src[j]
                    j += 1
        src, dst = dst, src
        in_tmp = not in_tmp
        width *= 2
    if in_tmp:
        for q in range(n):
            a[q] = tmp[q]


_SOFT_TILE = 512  # bucket positions whose soft-membership terms are formed together (vectorised)
_T_ROWS = 256  # rows per tile of the transposition
_T_COLS = 256  # columns per tile of the transposition


@numba.njit(cache=True)
def extract_columns(logits, order, q0, q1, columns, out):
    """``out[e, q] = logits[order[q], columns[e]]`` for bucket positions ``q0 <= q < q1``: the
    columns of the empty clusters, transposed into bucket order, so that a soft-membership pass
    streams each column contiguously in the order it sums the points.

    Tiled (256 rows by 256 columns): a tile's rows stay in the cache (and their pages in the TLB)
    while its columns are written, 1 KB of each output column at a time.  One thread: the copy is
    bound by memory, and a second thread slowed it down on two shared cores.
    """
    n_cols = columns.shape[0]
    for a in range(q0, q1, _T_ROWS):
        b = min(q1, a + _T_ROWS)
        for e0 in range(0, n_cols, _T_COLS):
            for e in range(e0, min(n_cols, e0 + _T_COLS)):
                c = columns[e]
                for q in range(a, b):
                    out[e, q] = logits[order[q], c]


@numba.njit(cache=True)
def extract_columns_rows(block, row0, inv, columns, out):
    """:func:`extract_columns` reading the rows in file order: ``out[e, inv[row0 + i]] = block[i,
    columns[e]]`` (``inv`` is the inverse of ``order``).  For rows read from disk (out of core), where
    a sequential read matters more than scattered writes to memory."""
    n = block.shape[0]
    n_cols = columns.shape[0]
    for a in range(0, n, _T_ROWS):
        b = min(n, a + _T_ROWS)
        for e0 in range(0, n_cols, _T_COLS):
            for i in range(a, b):
                q = inv[row0 + i]
                for e in range(e0, min(n_cols, e0 + _T_COLS)):
                    out[e, q] = block[i, columns[e]]


@numba.njit(cache=True)
def _soft_terms(cols, col_of, members, rowmax, rest_hi, rest_lo, q0, n, w, e_buf, poly, bits):
    """``w[j] = in_g / (total · outside)`` for the points at bucket positions ``q0 + j``, j < n:
    ``in_g = Σ_{c∈G} e_c`` (summed in member order), ``total = 1 + rest`` and ``outside = total - in_g``
    computed as ``1 + ((rest_hi - in_g) + rest_lo)``.

    ``e_c`` is :func:`_exp_poly` (vectorised) where the logit is at most 700 below the row maximum,
    and libm's ``exp`` below (a rare scalar fallback), which keeps the subnormal results of weights
    708 to 745 below the maximum, as plain float64 would.
    """
    tbuf = bits.view(np.float64)
    for t in range(members.shape[0]):
        col = cols[col_of[members[t]]]
        low = 0
        for j in range(n):
            x = np.float64(col[q0 + j]) - rowmax[q0 + j]
            p, tt = _exp_poly(x)
            poly[j] = p if x >= -700.0 else 0.0
            tbuf[j] = tt
            low += x < -700.0
        for j in range(n):
            bits[j] = (bits[j] - _MAGIC_BITS + 1023) << 52
        for j in range(n):
            e_buf[j] = poly[j] * tbuf[j]
        if low > 0:
            for j in range(n):
                x = np.float64(col[q0 + j]) - rowmax[q0 + j]
                if x < -700.0:
                    e_buf[j] = math.exp(x)
        if t == 0:
            for j in range(n):
                w[j] = e_buf[j]
        else:
            for j in range(n):
                w[j] = w[j] + e_buf[j]
    for j in range(n):
        in_g = w[j]
        r_hi = rest_hi[q0 + j]
        r_lo = rest_lo[q0 + j]
        total = 1.0 + (r_hi + r_lo)
        outside = 1.0 + ((r_hi - in_g) + r_lo)
        w[j] = in_g / (total * outside)  # one division (divisions dominate this loop)


@numba.njit(cache=True)
def soft_block(soft, members, idx, q_start, q_end, out_hi, out_lo):
    """``rp(c)`` of :func:`visit_soft` for the clusters whose points are the bucket positions
    ``q_start .. q_end`` (whole clusters; ``first[q]``: q is its cluster's first position; ``soft``:
    the bundle of that name, see the module docstring), stored at
    ``out_hi/out_lo[idx[q]]`` for the positions q of c: ``idx = b_amax`` stores by cluster, a rank
    per cluster (``kernels.soft_merges``) stores into a small dense array.  The segmented
    double-double sums are branch-free (a cluster holds one or two points at large K, where a branch
    per cluster mispredicts): the sum restarts at a cluster's first point and is stored at every
    point, the last store wins."""
    cols, col_of, first, rowmax, rest_hi, rest_lo = soft
    w = np.empty(_SOFT_TILE)
    e_buf = np.empty(_SOFT_TILE)
    poly = np.empty(_SOFT_TILE)
    bits = np.empty(_SOFT_TILE, dtype=np.int64)
    hi = 0.0
    lo = 0.0
    for q0 in range(q_start, q_end, _SOFT_TILE):
        n = min(_SOFT_TILE, q_end - q0)
        _soft_terms(cols, col_of, members, rowmax, rest_hi, rest_lo, q0, n, w, e_buf, poly, bits)
        for j in range(n):
            q = q0 + j
            restart = first[q]
            hi = 0.0 if restart else hi
            lo = 0.0 if restart else lo
            hi, lo = _dd_plus(hi, lo, w[j])
            out_hi[idx[q]] = hi
            out_lo[idx[q]] = lo


@numba.njit(cache=True, parallel=True)
def visit_soft(soft, members, offsets, b_amax, rp_hi, rp_lo, n_blocks):
    """Step 3 for a group G (``members``, all empty clusters) with empty ``D_G``: every point x,
    weighted by ``w(x) = Σ_{c∈G} p_c(x)``, adds ``w(x) conf(x; G)`` to ``rp(a(x))``.

    As no point has its argmax in G, ``a(x; G) = a(x)`` and ``Σ_{j∉G} e_j = 1 + rest - Σ_{c∈G} e_c``
    with no cancellation (the result is at least 1).  Everything is read in bucket order (position q
    holds point ``order[q]``, whose argmax is ``b_amax[q]``), from ``soft = (cols, col_of, first,
    rowmax, rest_hi, rest_lo)``: ``e_c`` from ``cols[col_of[c], q]`` (the transposed empty columns of
    :func:`extract_columns`), ``rowmax``, ``rest_hi``/``rest_lo`` (the first pass's ``Σ_{j≠a} e_j``),
    so a pass streams contiguous memory; ``first[q]``: position q is the first of its cluster
    (``q == offsets[b_amax[q]]``, precomputed).  Each ``rp(c)`` is summed in
    double-double over D_c in bucket order (ascending point index); the ``n_blocks`` blocks of
    positions (cut at cluster boundaries) run in parallel and do not change any value.  Writes
    ``rp_hi[c], rp_lo[c]`` for every cluster with points (the others must hold 0).
    """
    n = b_amax.shape[0]
    for b in numba.prange(n_blocks):
        q_start = 0 if b == 0 else offsets[b_amax[b * n // n_blocks]]
        q_end = n if b == n_blocks - 1 else offsets[b_amax[(b + 1) * n // n_blocks]]
        soft_block(soft, members, b_amax, q_start, q_end, rp_hi, rp_lo)


# ---------------------------------------------------------------------------------------------- decisions
@numba.njit(cache=True, inline="always")
def _two_prod_split(a):
    c = 134217729.0 * a  # 2**27 + 1
    hi = c - (c - a)
    return hi, a - hi


@numba.njit(cache=True)
def dd_div(hi, lo, n):
    """``(hi + lo) / n`` correctly rounded (scalar twin of ``l2h.build.exact.dd_div``, same operations)."""
    q = hi / n
    p = q * n
    a_hi, a_lo = _two_prod_split(q)
    b_hi, b_lo = _two_prod_split(n)
    err = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return q + (((hi - p) - err) + lo) / n


@numba.njit(cache=True)
def seg_set(tree, i, value):
    """Set leaf ``i`` of the min segment tree ``tree`` (length 2P, leaves at P..2P-1) to ``value``."""
    p = tree.shape[0] // 2
    j = p + i
    tree[j] = value
    j //= 2
    while j >= 1:
        a = tree[2 * j]
        b = tree[2 * j + 1]
        tree[j] = a if a <= b else b
        j //= 2


@numba.njit(cache=True)
def seg_first_min(tree, rtol):
    """Lowest leaf index whose value is within ``rtol`` (relative) of the minimum: ``_first_min``."""
    p = tree.shape[0] // 2
    m = tree[1]
    bound = m + rtol * abs(m)
    j = 1
    while j < p:
        j = 2 * j if tree[2 * j] <= bound else 2 * j + 1
    return j - p


@numba.njit(cache=True)
def first_alive(parent, i):
    """Smallest alive node ``>= i``; ``parent[v] = v`` for alive nodes (and the sentinel), ``v + 1``
    or a later node for dead ones (union-find with path halving)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(cache=True)
def first_other_alive(parent, g):
    """The first alive node in list order other than ``g``: G† when every relatedness is 0."""
    best = first_alive(parent, np.int64(0))
    if best == g:
        best = first_alive(parent, g + 1)
    return best


@numba.njit(cache=True)
def choose_g_dagger(rp, n_touched, groups, g_star, rtol, pick):
    """G† = argmax over groups H ≠ G* of ``rel(H) = mean_{c∈H} rp(c)``, first in list order (lowest
    node id) on ties within ``rtol`` (relative); returns ``(G†, rel(G†))``.

    Only the groups of the ``touched`` clusters (ascending) can have ``rel > 0``.  A plain float64
    pass first bounds every such group's relatedness (``rp >= 0``, so the plain sum of m terms is
    within ``(m + 1)`` units in the last place of the exact mean); only the groups that can reach the
    tie band of the maximum then get their double-double sums, formed in ascending cluster order (as
    a dense pass over every cluster would: zeros add nothing) and divided with :func:`dd_div`: the
    same values and decision as computing every group exactly.  When no group has ``rel > 0``, every
    relatedness is 0 and G† is the first alive group other than G* (:func:`first_other_alive`).
    ``rp = (rp_hi, rp_lo, touched)``, ``groups``: the bundles of those names (module docstring).
    ``pick = (acc_hi, acc_lo, slot_stamp, slots)``, scratch: ``acc_hi``/``acc_lo`` (per slot, zero on
    entry and exit), ``slot_stamp`` (int64 per slot plus a counter in the last entry), ``slots``
    (int64, length >= n_touched).
    """
    rp_hi, rp_lo, touched = rp
    size, grp, slot_node, parent = groups[3], groups[4], groups[5], groups[7]
    acc_hi, acc_lo, slot_stamp, slots = pick
    call = slot_stamp[slot_stamp.shape[0] - 1] + 1
    slot_stamp[slot_stamp.shape[0] - 1] = call
    n_slots = 0
    for i in range(n_touched):  # plain sums (acc_hi) and term counts (acc_lo) per slot
        c = touched[i]
        s = grp[c]
        if slot_stamp[s] != call:
            slot_stamp[s] = call
            slots[n_slots] = s
            n_slots += 1
        acc_hi[s] += rp_hi[c]
        acc_lo[s] += 1.0
    # Bounds: approx (1 ± err) encloses the exact mean (err doubled for safety).
    lower = 0.0
    for i in range(n_slots):
        s = slots[i]
        approx = acc_hi[s] / np.float64(size[slot_node[s]])
        err = 2.0 * (acc_lo[s] + 3.0) * 2.220446049250313e-16
        acc_hi[s] = approx
        acc_lo[s] = err
        low = approx * (1.0 - err)
        lower = low if low > lower else lower
    bar = lower * (1.0 - 2.0 * rtol)
    for i in range(n_slots):
        s = slots[i]
        if acc_hi[s] * (1.0 + acc_lo[s]) < bar or acc_hi[s] == 0.0:
            slot_stamp[s] = 0  # cannot reach the tie band of the maximum (or is 0)
        acc_hi[s] = 0.0
        acc_lo[s] = 0.0
    for i in range(n_touched):  # exact sums of the candidates
        c = touched[i]
        s = grp[c]
        if slot_stamp[s] == call:
            acc_hi[s], acc_lo[s] = _dd_plus(acc_hi[s], acc_lo[s], rp_hi[c])
            acc_lo[s] += rp_lo[c]
    m = 0.0
    for i in range(n_slots):
        s = slots[i]
        if slot_stamp[s] == call:
            v = slot_node[s]
            rel = dd_div(acc_hi[s], acc_lo[s], np.float64(size[v]))
            acc_hi[s] = rel  # the accumulator now holds the relatedness (cleared below)
            m = rel if rel > m else m
    best = -1
    best_rel = 0.0
    for i in range(n_slots):
        s = slots[i]
        if slot_stamp[s] != call:
            continue
        rel = acc_hi[s]
        acc_hi[s] = 0.0
        acc_lo[s] = 0.0
        if m > 0.0 and rel >= m - rtol * abs(m):
            v = slot_node[s]
            if best < 0 or v < best:
                best = v
                best_rel = rel
    if best < 0:  # every relatedness is 0: list order
        best = first_other_alive(parent, g_star)
    return best, best_rel


@numba.njit(cache=True)
def choose_g_dagger_singletons(rp, n_touched, groups, g_star, rtol):
    """:func:`choose_g_dagger` when every touched cluster is the only touched cluster of its group,
    which holds in the soft-membership phase: the touched clusters are then the non-empty ones, and
    no two groups with points have merged yet (a soft merge joins an empty group to another group).

    A group's relatedness is then its one cluster's ``rp`` divided by the group's size, so no
    per-slot accumulators are needed (their random accesses cost most of the general kernel at
    large K): one pass gathers each touched cluster's sums, group and group size into dense arrays
    (and zeroes ``rp_hi``/``rp_lo`` there, :func:`release_rp`'s job), then :func:`_g_dagger_compact`
    decides.  Same decision and value as :func:`choose_g_dagger`.
    """
    rp_hi, rp_lo, touched = rp
    size, grp, slot_node, parent = groups[3], groups[4], groups[5], groups[7]
    r_hi = np.empty(n_touched)
    r_lo = np.empty(n_touched)
    ne_node = np.empty(n_touched, dtype=np.int64)
    ne_size = np.empty(n_touched, dtype=np.int64)
    for i in range(n_touched):
        c = touched[i]
        r_hi[i] = rp_hi[c]
        r_lo[i] = rp_lo[c]
        rp_hi[c] = 0.0
        rp_lo[c] = 0.0
        v = slot_node[grp[c]]
        ne_node[i] = v
        ne_size[i] = size[v]
    best, best_rel, _ = _g_dagger_compact(r_hi, r_lo, ne_node, ne_size, np.empty(n_touched), parent, g_star, rtol)
    return best, best_rel


@numba.njit(cache=True)
def upcoming_empty_columns(g, groups, out):
    """The clusters of the alive groups without points from node ``g`` on, in ascending node order
    (the order in which the soft merges take them as G*), member by member, as many whole groups as
    fit in ``out``; returns how many were written."""
    nxt, head, size, parent, node_count = groups[0], groups[1], groups[3], groups[7], groups[8]
    n = 0
    v = g
    while True:
        v = first_alive(parent, v)
        if v >= size.shape[0] or size[v] == 0:  # past the last node made so far
            break
        if node_count[v] == 0:
            if n + size[v] > out.shape[0]:
                break
            c = head[v]
            for _ in range(size[v]):
                out[n] = c
                n += 1
                c = nxt[c]
        v += 1
    return n


@numba.njit(cache=True)
def release_rp(rp, m):
    """Zero ``rp_hi``/``rp_lo`` at the first ``m`` touched clusters of ``rp = (rp_hi, rp_lo, touched)``
    (the state :func:`reduce_targets` and :func:`visit_soft` expect on entry)."""
    rp_hi, rp_lo, touched = rp
    for i in range(m):
        c = touched[i]
        rp_hi[c] = 0.0
        rp_lo[c] = 0.0


@numba.njit(cache=True)
def seg_merge(tree, a, b, new, score):
    """Groups ``a`` and ``b`` leave the segment tree, ``new`` enters it with ``score``."""
    seg_set(tree, a, np.inf)
    seg_set(tree, b, np.inf)
    seg_set(tree, new, score)


@numba.njit(cache=True, inline="always")
def _dd_add2(a_hi, a_lo, b_hi, b_lo):
    """Double-double ``(a_hi + a_lo) + (b_hi + b_lo)`` (the same operations as ``l2h.build.exact.dd_add``)."""
    s = a_hi + b_hi
    bp = s - a_hi
    err = (a_hi - (s - bp)) + (b_hi - bp)
    return s, err + (a_lo + b_lo)


@numba.njit(cache=True)
def merge_groups(a, b, new, groups):
    """Record the merge of groups ``a`` then ``b`` into node ``new`` (member list: a's, then b's) and
    its statistics (point count; double-double sums of conf and of the cluster-wise means) in
    ``groups`` (the bundle of that name, see the module docstring; the node scores are left alone).

    Clusters hold the slot of their group (``grp``); the new group keeps the larger group's slot and
    only the smaller group's clusters are relabelled (O(K log K) over the whole build).
    """
    nxt, head, tail, size, grp, slot_node, node_slot, parent = groups[:8]
    node_count, node_conf, node_cmean = groups[8], groups[9], groups[10]
    node_count[new] = node_count[a] + node_count[b]
    node_conf[0, new], node_conf[1, new] = _dd_add2(node_conf[0, a], node_conf[1, a], node_conf[0, b], node_conf[1, b])
    node_cmean[0, new], node_cmean[1, new] = _dd_add2(
        node_cmean[0, a], node_cmean[1, a], node_cmean[0, b], node_cmean[1, b]
    )
    nxt[tail[a]] = head[b]
    head[new] = head[a]
    tail[new] = tail[b]
    size[new] = size[a] + size[b]
    if size[a] >= size[b]:
        keep, small = node_slot[a], b
    else:
        keep, small = node_slot[b], a
    c = head[small]
    for _ in range(size[small]):
        grp[c] = keep
        c = nxt[c]
    slot_node[keep] = new
    node_slot[new] = keep
    parent[a] = a + 1
    parent[b] = b + 1


@numba.njit(cache=True)
def node_score(agg, count, conf_hi, conf_lo, cmean_hi, cmean_lo):
    """A group's score from its statistics, as ``l2h.build.aggregations.AGGREGATIONS`` computes it
    (``agg``: its code in ``aggregations.CODES``; the same operations, so the same bits)."""
    if agg == CLUSTER_MEAN:
        return cmean_hi + cmean_lo
    if agg == SUM:
        return conf_hi + conf_lo
    if count > 0:
        return dd_div(conf_hi, conf_lo, np.float64(count))
    return 0.0


@numba.njit(cache=True)
def _g_dagger_compact(r_hi, r_lo, ne_node, ne_size, approx, parent, g_star, rtol):
    """The G† choice when each group holds at most one touched cluster, from dense arrays: the
    touched clusters' sums (``r_hi``/``r_lo``), groups (``ne_node``) and group sizes (``ne_size``),
    so every pass streams contiguous memory.  A plain float64 quotient first bounds each relatedness
    (one term and one division: within 2 ulps of the exact value, bounded with 8 as in
    :func:`choose_g_dagger`); only those that can reach the tie band of the maximum get
    :func:`dd_div`.  Same decision and value as :func:`choose_g_dagger`.  Returns ``(G†, rel(G†),
    the index of G†'s touched cluster or -1)``."""
    n = r_hi.shape[0]
    err = 8.0 * 2.220446049250313e-16
    lower = 0.0
    for i in range(n):
        q = r_hi[i] / np.float64(ne_size[i])
        approx[i] = q
        low = q * (1.0 - err)
        lower = low if low > lower else lower
    bar = lower * (1.0 - 2.0 * rtol)
    m = 0.0
    for i in range(n):
        if approx[i] != 0.0 and approx[i] * (1.0 + err) >= bar:
            rel = dd_div(r_hi[i], 0.0 + r_lo[i], np.float64(ne_size[i]))
            approx[i] = -rel  # marks a candidate (rel > 0 as approx > 0), value kept exactly
            m = rel if rel > m else m
    bound = m - rtol * abs(m)
    best = -1
    best_rel = 0.0
    best_i = -1
    for i in range(n):
        if approx[i] < 0.0:
            rel = -approx[i]
            v = ne_node[i]
            if m > 0.0 and rel >= bound and (best < 0 or v < best):
                best = v
                best_rel = rel
                best_i = i
    if best < 0:  # every relatedness is 0: list order
        best = first_other_alive(parent, g_star)
        for i in range(n):
            if ne_node[i] == best:
                best_i = i
    return best, best_rel, best_i


@numba.njit(cache=True)
def _record_merge(t, g, best, rel, agg, groups, record):
    """Merge ``t`` of G* = ``g`` with G† = ``best`` inside a batch: record it in ``record = (seg,
    merges, scores, rels)``, :func:`merge_groups`, the new group's score (:func:`node_score`) into the
    node scores of ``groups`` and the segment tree ``seg`` (what ``Groups.merge`` does from Python)."""
    seg, merges, scores, rels = record
    node_count, node_conf, node_cmean, node_score_ = groups[8], groups[9], groups[10], groups[11]
    new = groups[4].shape[0] + t  # K + t
    merges[t, 0] = g
    merges[t, 1] = best
    scores[t] = node_score_[g]
    rels[t] = rel
    merge_groups(g, best, new, groups)
    score = node_score(
        agg, node_count[new], node_conf[0, new], node_conf[1, new], node_cmean[0, new], node_cmean[1, new]
    )
    node_score_[new] = score
    seg_merge(seg, g, best, new, score)


@numba.njit(cache=True)
def soft_merges(t, t_end, limits, soft, b_rank, dense, groups, record):
    """Merges ``t, t + 1, ...`` (before ``t_end``) of the soft-membership phase in one call, each
    exactly the step of ``l2h.build.strategies._lowest_score`` (G* from the segment tree, its soft pass on one
    thread, G† by :func:`choose_g_dagger_singletons`, :func:`merge_groups`, the new score): the same
    merges, values and ties, without a round trip through Python per merge (about 40 µs, which at
    K = 50 000 with 42 000 empty clusters was seconds).  ``limits = (max_terms, rtol, agg)``: stops
    before a G* with points or one whose pass has ``max_terms`` exponentials or more (those go
    through the parallel kernel) or whose columns are not in ``cols`` (``col_of`` -1: the caller
    refills its window); returns the next merge index.  The caller guarantees that no two groups
    with points have merged yet, and gives per non-empty cluster (by rank; ``b_rank[q]`` is the rank
    of the cluster of bucket position q) in ``dense = (r_hi, r_lo, ne_node, ne_size, approx)`` its
    group (``ne_node``) and the group's size (``ne_size``), kept up to date here, and scratch of the
    same length.  ``soft``, ``groups``, ``record``: the bundles of those names (module docstring)."""
    max_terms, rtol, agg = limits
    col_of = soft[1]
    r_hi, r_lo, ne_node, ne_size, approx = dense
    nxt, head, size, parent, node_count = groups[0], groups[1], groups[3], groups[7], groups[8]
    k = groups[4].shape[0]
    seg = record[0]
    n = b_rank.shape[0]
    while t < t_end:
        g = seg_first_min(seg, rtol)
        if node_count[g] != 0 or n * size[g] >= max_terms:
            break
        members = walk_members(nxt, head[g], size[g])
        missing = False
        for c in members:
            missing |= col_of[c] < 0
        if missing:  # not in the window of transposed columns: the caller refills it
            break
        soft_block(soft, members, b_rank, np.int64(0), n, r_hi, r_lo)
        best, rel, best_i = _g_dagger_compact(r_hi, r_lo, ne_node, ne_size, approx, parent, g, rtol)
        if best_i >= 0:  # G† holds the non-empty cluster of rank best_i
            ne_node[best_i] = k + t
            ne_size[best_i] = size[g] + size[best]
        _record_merge(t, g, best, rel, agg, groups, record)
        t += 1
    return t


@numba.njit(cache=True)
def _mask_inside(members, masks):
    """Mark ``members`` (G*'s clusters) as inside G* in ``masks = (pos, keep, pen)``: their position
    in the member list, keep 0 and pen -inf (``Points.visit_points`` does the same from Python)."""
    pos, keep, pen = masks
    for i in range(members.shape[0]):
        c = members[i]
        pos[c] = i
        keep[c] = 0.0
        pen[c] = -np.inf


@numba.njit(cache=True)
def _mask_outside(members, masks):
    """Mark ``members`` as outside G* again in ``masks``: keep 1 and pen 0."""
    _pos, keep, pen = masks
    for c in members:
        keep[c] = 1.0
        pen[c] = 0.0


@numba.njit(cache=True)
def hard_merges(t, t_end, limits, logits, buckets, masks, points, reduction, rp, groups, pick, record):
    """Merges ``t, t + 1, ...`` (before ``t_end``) whose G* has points, fewer than ``max_points`` of
    them, in one call: each exactly the step of ``l2h.build.strategies._lowest_score`` for such a G* (the
    serial visit of its points, :func:`reduce_targets`, :func:`choose_g_dagger`, :func:`merge_groups`,
    the new score), without a round trip through Python per merge (about 100 µs: seconds at
    K = 21 841).  ``limits = (max_points, rtol, agg)``; ``buckets = (order, offsets)`` (the CSR
    order of :func:`bucket_points`); the other arguments are the bundles of their names (module
    docstring).  Stops before a G* without points or with ``max_points`` points or more; returns
    ``(next merge index, whether two groups with points merged)``."""
    max_points, rtol, agg = limits
    order, offsets = buckets
    tgt, val = reduction[0], reduction[1]
    nxt, head, size, node_count = groups[0], groups[1], groups[3], groups[8]
    seg = record[0]
    mixed = False
    while t < t_end:
        g = seg_first_min(seg, rtol)
        if node_count[g] == 0:
            break
        members = walk_members(nxt, head[g], size[g])
        pts = gather_positions(members, offsets)
        n = pts.shape[0]
        if n >= max_points:
            break
        _mask_inside(members, masks)
        visit_range(logits, order, pts, np.int64(0), n, g, members, groups, masks, points, (tgt[:n], val[:n]))
        _mask_outside(members, masks)
        m = reduce_targets(reduction, n, _n_parts(n), rp)
        best, rel = choose_g_dagger(rp, m, groups, g, rtol, pick)
        release_rp(rp, m)
        if node_count[best] > 0:
            mixed = True
        _record_merge(t, g, best, rel, agg, groups, record)
        t += 1
    return t, mixed
