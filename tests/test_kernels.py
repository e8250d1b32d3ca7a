"""The numba building blocks of l2h._kernels against slow, obvious NumPy twins."""

from __future__ import annotations

import math
from fractions import Fraction

import numba
import numpy as np
import pytest

from l2h import merge

K = merge._kernels()


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
    monkeypatch.setattr(merge, "_PARALLEL_MIN_POINTS", threshold)
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
        m = K.reduce_targets(
            tgt,
            val,
            n,
            merge._n_parts(n),
            scratch["part_hi"],
            scratch["part_lo"],
            scratch["stamp"],
            scratch["part_list"],
            rp_hi,
            rp_lo,
            scratch["seen"],
            touched,
        )
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
        assert K.seg_first_min(tree, merge.TIE_RTOL) == merge._first_min(values)


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
        best, rel = K.choose_g_dagger(
            touched,
            touched.size,
            rp,
            np.zeros(k),
            grp,
            slot_node,
            size,
            parent,
            g_star,
            merge.TIE_RTOL,
            np.zeros(k),
            np.zeros(k),
            np.zeros(k + 1, dtype=np.int64),
            np.zeros(k, dtype=np.int64),
        )
        others = nodes[nodes != g_star]
        # correctly rounded means of the exact sums (what the double-double sums and division give)
        dense = np.array([float(sum(map(Fraction, rp[node_of == v])) / int(size[v])) for v in others])
        j = merge._first_max(dense)
        assert (best, rel) == (others[j], dense[j])
