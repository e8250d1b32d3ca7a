"""The numba building blocks of l2h.build._kernels against slow, obvious NumPy twins."""

from __future__ import annotations

import math
from fractions import Fraction

import numba
import numpy as np
import pytest

from l2h import merge
from l2h.build import exact, points
from l2h.build.api import kernels
from tests._bundles import groups_bundle

K = kernels()


@numba.njit
def _scalar_exps(xs, out):
    for i in range(xs.shape[0]):
        out[i] = K._exp(xs[i])


@numba.njit
def _row_exps(xs, shift, out):
    poly = np.empty(xs.shape[0])
    bits = np.empty(xs.shape[0], dtype=np.int64)
    K._row_exp(xs, shift, poly, bits)
    scale = bits.view(np.float64)
    for i in range(xs.shape[0]):
        out[i] = poly[i] * scale[i]


@numba.njit
def _top(row, pen, t_len):
    lane_max = np.empty(K._TOP_LANES)
    lane_bad = np.empty(K._TOP_LANES)
    top_val = np.empty(t_len)
    top_pos = np.empty(t_len, dtype=np.int64)
    best, finite = K._lane_max(row, pen, lane_max, lane_bad)
    K._select_top(row, pen, lane_max, top_val, top_pos)
    return best, finite, top_pos


def _exp_inputs(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            -rng.exponential(3.0, 4000),
            -rng.uniform(0, 760, 4000),
            [0.0, -0.0, -1e-300, -699.99, -700.0, -700.01, -745.2],
            -np.arange(0, 50, 0.5 * np.log(2)),  # rounding ties of x·log2(e)
        ]
    )


@pytest.mark.parametrize("seed", range(3))
def test_exp_scalar_and_vectorised_are_bit_identical_and_accurate(seed):
    xs = _exp_inputs(seed)
    scalar = np.empty_like(xs)
    row = np.empty_like(xs)
    _scalar_exps(xs, scalar)
    _row_exps(xs, 0.0, row)
    # bit-identical: the stored double-double sums are later cancelled term by term
    assert np.array_equal(scalar.view(np.int64), row.view(np.int64))
    expected = np.where(xs >= -700.0, np.exp(xs), 0.0)
    np.testing.assert_allclose(scalar, expected, rtol=4e-16, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_exp_with_a_shift_matches_numpy(dtype):
    row = np.random.default_rng(1).normal(scale=20, size=1003).astype(dtype)
    out = np.empty(row.size)
    _row_exps(row, float(row.max()), out)
    expected = np.exp(row.astype(np.float64) - float(row.max()))
    expected[row.astype(np.float64) - float(row.max()) < -700] = 0.0
    np.testing.assert_allclose(out, expected, rtol=4e-16, atol=0)


def _slow_top(row: np.ndarray, pen: np.ndarray, t_len: int) -> list[int]:
    values = row.astype(np.float64) + pen
    ranked = sorted((j for j in range(row.size) if np.isfinite(values[j])), key=lambda j: (-values[j], j))
    return ranked[:t_len]


@pytest.mark.parametrize("k", [1, 2, 5, 8, 63, 64, 65, 130, 1000])
@pytest.mark.parametrize("seed", range(4))
def test_select_top_matches_sorting(k, seed):
    rng = np.random.default_rng(seed * 1000 + k)
    kinds = [
        rng.normal(size=k),
        rng.integers(0, 3, size=k).astype(np.float64),  # many exact ties
        np.sort(rng.normal(size=k)),  # ascending: every entry beats the previous ones
        np.full(k, 2.5),
    ]
    for row in kinds:
        for masked_share in (0.0, 0.5, 0.97):
            pen = np.where(rng.random(k) < masked_share, -np.inf, 0.0)
            if np.all(np.isinf(pen)):
                pen[rng.integers(k)] = 0.0
            for t_len in (1, 3, 8):
                best, finite, top_pos = _top(row, pen, t_len)
                expected = _slow_top(row, pen, t_len)
                assert finite == bool(np.all(pen == 0))  # masked entries count as non-finite
                assert best == max(row[j] for j in expected)
                assert list(top_pos[: len(expected)]) == expected
                assert np.all(top_pos[len(expected) :] == -1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_lane_max_flags_non_finite_rows(bad):
    row = np.random.default_rng(0).normal(size=200)
    row[137] = bad
    _, finite, _ = _top(row, np.zeros(200), 4)
    assert not finite


@pytest.mark.filterwarnings("ignore::l2h._validation.L2HWarning")
@pytest.mark.parametrize("threshold", [1, 10**9])
def test_parallel_and_serial_visits_match_the_reference(threshold, monkeypatch):
    # large enough that groups exceed the parallel threshold; hierarchical, part very confident
    from tests._reference import reference_l2h
    from tests.test_merge import random_logits

    logits = random_logits(21, 9000, 24)
    logits[::4] *= 40.0
    monkeypatch.setattr(points, "_PARALLEL_MIN_POINTS", threshold)
    tree = merge.build_hierarchy(logits)
    merges, scores, rels = reference_l2h(logits)
    np.testing.assert_array_equal(tree.merges, merges)
    np.testing.assert_allclose(tree.scores, scores, rtol=1e-12)
    np.testing.assert_allclose(tree.relatedness, rels, rtol=1e-12)


# ---------------------------------------------------------------------------------------------- merge-step kernels
def _fsum_by_target(tgt, val, k):
    return np.array([math.fsum(val[tgt == c]) for c in range(k)])


@pytest.mark.parametrize("n", [0, 1, 7, 2048 * 5 + 3])
def test_reduce_targets_matches_exact_sums(n):
    rng = np.random.default_rng(n)
    k = 37
    tgt = rng.integers(0, k, n).astype(np.int32)
    tgt[tgt == 5] = 6  # an untouched cluster
    val = rng.uniform(0, 1, n) * 10.0 ** rng.integers(-20, 3, n)
    scratch = dict(
        part_hi=np.zeros(k),
        part_lo=np.zeros(k),
        stamp=np.zeros(k + 1, dtype=np.int64),
        part_list=np.zeros(max(n, 1), dtype=np.int64),
        seen=np.zeros(k + 1, dtype=np.int64),
    )
    for _ in range(2):  # the scratch is reusable: a second call gives the same sums
        rp_hi, rp_lo, touched = np.zeros(k), np.zeros(k), np.zeros(k, dtype=np.int64)
        m = K.reduce_targets((tgt, val, *scratch.values()), n, exact.n_parts(n), (rp_hi, rp_lo, touched))
        assert list(touched[:m]) == sorted(set(tgt.tolist()))
        np.testing.assert_array_equal(rp_hi + rp_lo, _fsum_by_target(tgt, val, k))
        assert not scratch["part_hi"].any() and not scratch["part_lo"].any()


def test_segment_tree_first_min_is_first_min():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        values = rng.choice([0.0, 0.5, 0.5 + 1e-16, 0.5 + 1e-14, 1.0, np.inf], size=n)
        values[rng.integers(n)] = rng.choice([0.0, 0.5, 1.0])  # at least one finite
        leaves = 1 << max(1, (n - 1).bit_length())
        tree = np.full(2 * leaves, np.inf)
        for i, v in enumerate(values):
            K.seg_set(tree, i, v)
        assert K.seg_first_min(tree, exact.TIE_RTOL) == exact.first_min(values)


def test_choose_g_dagger_matches_a_dense_pass():
    rng = np.random.default_rng(4)
    for trial in range(50):
        k = int(rng.integers(3, 30))
        # random groups over k clusters: slots = cluster ids of each group's first member
        node_of = rng.integers(0, max(2, k // 2), k)
        _, slot_of_node = np.unique(node_of, return_index=True)
        grp = slot_of_node[np.searchsorted(np.unique(node_of), node_of)]
        nodes = np.unique(node_of)
        if nodes.size < 2:
            continue
        slot_node = np.full(k, -1, dtype=np.int64)
        slot_node[slot_of_node] = nodes
        size = np.bincount(node_of, minlength=nodes.max() + 1)
        g_star = int(rng.choice(nodes))
        rp = np.where(rng.random(k) < 0.5, rng.choice([0.25, 0.5, 1.0 / 3.0], size=k), 0.0)
        rp[node_of == g_star] = 0.0
        if trial % 5 == 0:
            rp[:] = 0.0
        touched = np.flatnonzero(rp != 0.0).astype(np.int64)
        parent = np.arange(nodes.max() + 2, dtype=np.int64)
        for v in range(nodes.max() + 1):
            if v not in nodes:
                parent[v] = v + 1
        pick = (np.zeros(k), np.zeros(k), np.zeros(k + 1, dtype=np.int64), np.zeros(k, dtype=np.int64))
        best, rel = K.choose_g_dagger(
            (rp, np.zeros(k), touched),
            touched.size,
            groups_bundle(grp, slot_node, size, parent),
            g_star,
            exact.TIE_RTOL,
            pick,
        )
        others = nodes[nodes != g_star]
        # correctly rounded means of the exact sums (what the double-double sums and division give)
        dense = np.array([float(sum(map(Fraction, rp[node_of == v])) / int(size[v])) for v in others])
        j = exact.first_max(dense)
        assert (best, rel) == (others[j], dense[j])


# ---------------------------------------------------------------------------------------------- soft membership
def test_extract_columns_transposes_into_bucket_order():
    rng = np.random.default_rng(8)
    for n, k in [(1, 3), (300, 7), (1000, 600)]:
        logits = rng.normal(size=(n, k)).astype(np.float32)
        order = rng.permutation(n).astype(np.int64)
        columns = np.sort(rng.permutation(k)[: max(1, k // 2)]).astype(np.int64)
        out = np.full((columns.size, n), np.nan, dtype=np.float32)
        K.extract_columns(logits, order, 0, n, columns, out)
        np.testing.assert_array_equal(out, logits[order][:, columns].T)
        inv = np.empty(n, dtype=np.int64)
        inv[order] = np.arange(n)
        out2 = np.full((columns.size, n), np.nan, dtype=np.float32)
        for start in range(0, n, 97):  # row chunks, in file order
            K.extract_columns_rows(logits[start : start + 97], start, inv, columns, out2)
        np.testing.assert_array_equal(out2, out)


def _soft_case(seed: int, n: int, k: int, n_members: int, spread: float):
    """Bucket-ordered inputs of visit_soft (the points' clusters ascending), a group of empty
    clusters, and G's logits ``spread`` below the row maxima on average (some beyond -700)."""
    rng = np.random.default_rng(seed)
    n_empty = max(n_members, k // 2)
    empty = np.sort(rng.permutation(k)[:n_empty])
    nonempty = np.setdiff1d(np.arange(k), empty)
    b_amax = np.sort(rng.choice(nonempty, n)).astype(np.int64)
    counts = np.bincount(b_amax, minlength=k)
    offsets = np.zeros(k + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)
    col_of = np.full(k, -1, dtype=np.int64)
    col_of[empty] = np.arange(empty.size)
    rowmax = rng.normal(size=n) * 3.0
    cols = rowmax[None, :] - rng.uniform(0, 2 * spread, size=(empty.size, n))
    rest_hi = rng.uniform(0, 5, n) * 10.0 ** rng.integers(-12, 2, n)
    rest_lo = rest_hi * rng.uniform(-1e-17, 1e-17, n)
    members = rng.choice(empty, n_members, replace=False).astype(np.int64)
    first = np.arange(n) == offsets[b_amax]
    return cols, col_of, members, offsets, b_amax, first, rowmax, rest_hi, rest_lo, k


def _slow_soft(cols, col_of, members, offsets, b_amax, first, rowmax, rest_hi, rest_lo, k):
    """The soft-membership rp with libm exponentials and exact (Fraction) per-cluster sums."""
    in_g = np.zeros(b_amax.size)
    for c in members:  # member order, as the kernel sums them
        in_g = in_g + np.array([math.exp(v) for v in cols[col_of[c]].astype(np.float64) - rowmax])
    total = 1.0 + (rest_hi + rest_lo)
    outside = 1.0 + ((rest_hi - in_g) + rest_lo)
    terms = in_g / (total * outside)
    return np.array([float(sum(map(Fraction, terms[b_amax == c]), Fraction(0))) for c in range(k)])


@pytest.mark.parametrize("seed", range(4))
def test_soft_pass_matches_libm_and_exact_sums(seed):
    # G's logits 0-700 below the maxima (vectorised exponentials, ~1 ulp) and beyond: 700-745 below
    # (libm's subnormals, exactly) and below -745 (0)
    spread = [5.0, 400.0, 372.0, 30.0][seed]
    args = _soft_case(seed, 3000, 90, 1 + seed % 3, spread)
    if seed == 2:  # all in the subnormal band
        cols, rowmax = args[0], args[6]
        cols[:] = rowmax[None, :] - np.random.default_rng(0).uniform(700.0, 746.0, cols.shape)
    k = args[-1]
    expected = _slow_soft(*args)
    results = []
    for n_blocks in [0, 1, 7, 64]:  # 0: the one-thread kernel
        rp_hi, rp_lo = np.zeros(k), np.zeros(k)
        cols, col_of, members, offsets, b_amax, first, rowmax, rest_hi, rest_lo, _ = args
        soft = (cols, col_of, first, rowmax, rest_hi, rest_lo)
        if n_blocks == 0:
            K.soft_block(soft, members, b_amax, 0, b_amax.size, rp_hi, rp_lo)
        else:
            K.visit_soft(soft, members, offsets, b_amax, rp_hi, rp_lo, n_blocks)
        results.append((rp_hi.copy(), rp_lo.copy()))
        got = rp_hi + rp_lo
        if seed == 2:
            np.testing.assert_array_equal(got, expected)  # libm's own values: exact
            assert np.any((got > 0) & (got < 1e-300))
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0)  # exp within ~1 ulp of libm
        assert np.all(got[np.bincount(args[4], minlength=k) == 0] == 0.0)
    for hi, lo in results[1:]:  # every block count and the serial kernel: the same bits
        np.testing.assert_array_equal(hi, results[0][0])
        np.testing.assert_array_equal(lo, results[0][1])


def test_choose_g_dagger_near_ties_and_large_groups():
    # many groups of several touched clusters whose means differ by a few ulps: the plain-float
    # pre-filter must keep every group that reaches the tie band, the decision is the exact one
    rng = np.random.default_rng(11)
    for _ in range(40):
        k = int(rng.integers(50, 400))
        node_of = rng.integers(0, int(rng.integers(2, 40)), k)
        nodes, slot_of_node = np.unique(node_of, return_index=True)
        if nodes.size < 2:
            continue
        grp = slot_of_node[np.searchsorted(nodes, node_of)]
        slot_node = np.full(k, -1, dtype=np.int64)
        slot_node[slot_of_node] = nodes
        size = np.bincount(node_of, minlength=nodes.max() + 1)
        g_star = int(rng.choice(nodes))
        base = rng.uniform(0.1, 1.0) * 10.0 ** rng.integers(-300, 5)
        ulps = rng.integers(-12, 13, k).astype(np.float64)
        rp = base * (1.0 + ulps * 2.0**-52) * rng.choice([1.0, 1.0, 0.5, 0.0], k)
        rp[node_of == g_star] = 0.0
        touched = np.flatnonzero(rp != 0.0).astype(np.int64)
        parent = np.arange(nodes.max() + 2, dtype=np.int64)
        alive = np.zeros(nodes.max() + 1, dtype=bool)
        alive[nodes] = True
        parent[: nodes.max() + 1][~alive] = np.flatnonzero(~alive) + 1
        acc_hi, acc_lo = np.zeros(k), np.zeros(k)
        pick = (acc_hi, acc_lo, np.zeros(k + 1, dtype=np.int64), np.zeros(k, dtype=np.int64))
        groups = groups_bundle(grp, slot_node, size, parent)
        best, rel = K.choose_g_dagger((rp, np.zeros(k), touched), touched.size, groups, g_star, exact.TIE_RTOL, pick)
        assert not acc_hi.any() and not acc_lo.any()  # scratch left zero
        others = nodes[nodes != g_star]
        dense = np.array([float(sum(map(Fraction, rp[node_of == v]), Fraction(0)) / int(size[v])) for v in others])
        if dense.max() == 0.0:
            assert (best, rel) == (others[0], 0.0)
        else:
            j = exact.first_max(dense)
            assert (best, rel) == (others[j], dense[j])


def test_release_rp_zeroes_the_touched_clusters():
    rp_hi, rp_lo = np.arange(10.0), -np.arange(10.0)
    touched = np.array([1, 4, 7, 0, 0], dtype=np.int64)
    K.release_rp((rp_hi, rp_lo, touched), 3)
    assert rp_hi.tolist() == [0, 0, 2, 3, 0, 5, 6, 0, 8, 9] and rp_lo.tolist() == [-v for v in rp_hi.tolist()]
