"""l2h.merge.build_hierarchy against the pure-NumPy twin of SPEC §1 (tests/_reference.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.cluster import hierarchy as sch

from l2h import _system, merge
from l2h._validation import L2HWarning
from l2h.build import exact, inputs, points
from l2h.build.api import kernels
from l2h.build.groups import Groups
from l2h.build.points import Points
from l2h.merge import AGGREGATIONS, STRATEGIES, build_hierarchy
from tests._bundles import groups_bundle
from tests._reference import TIE_RTOL, reference_l2h

AGGREGATION_NAMES = list(AGGREGATIONS)
STRATEGY_NAMES = list(STRATEGIES)


def build_quiet(logits, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", L2HWarning)
        return build_hierarchy(logits, **kwargs)


def assert_same_as_reference(logits, aggregation="cluster-mean", strategy="lowest-score", **kwargs):
    tree = build_quiet(logits, aggregation=aggregation, strategy=strategy, **kwargs)
    merges, scores, rels = reference_l2h(np.asarray(logits), aggregation, strategy)
    np.testing.assert_array_equal(tree.merges, merges)
    np.testing.assert_allclose(tree.scores, scores, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(tree.relatedness, rels, rtol=1e-12, atol=1e-300)
    assert sch.is_valid_linkage(tree.to_scipy())
    return tree


def random_logits(seed: int, n: int, k: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # correlated columns (a hidden structure) plus noise, at a random temperature
    centres = rng.normal(size=(k, 4))
    feats = centres[rng.integers(0, k, n)] + rng.normal(scale=0.7, size=(n, 4))
    return (feats @ centres.T) * rng.uniform(0.3, 3.0) + rng.normal(scale=0.3, size=(n, k))


SHAPES = [(1, 2), (1, 7), (2, 2), (5, 3), (40, 5), (200, 12), (500, 2), (700, 33), (1500, 60), (3000, 20)]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n, k", SHAPES)
def test_matches_reference_random(seed, n, k):
    assert_same_as_reference(random_logits(seed, n, k))


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("seed", range(4))
def test_matches_reference_every_option(aggregation, strategy, seed):
    rng = np.random.default_rng(100 + seed)
    n, k = int(rng.integers(1, 600)), int(rng.integers(2, 25))
    assert_same_as_reference(random_logits(seed, n, k), aggregation, strategy)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_all_pairs_larger(strategy):
    assert_same_as_reference(random_logits(7, 2000, 40), strategy=strategy)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8])
def test_dtypes(dtype):
    logits = random_logits(3, 400, 15)
    if np.dtype(dtype).kind in "iu":
        logits = np.round(logits * 3 - logits.min() * 3)
    logits = logits.astype(dtype)
    assert_same_as_reference(logits)
    assert_same_as_reference(logits, strategy="all-pairs")


# ---------------------------------------------------------------------------------------------- ties
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_duplicated_columns(strategy):
    logits = random_logits(1, 300, 10)
    logits = np.concatenate([logits, logits[:, [2, 5, 5]]], axis=1)  # clusters 10-12 copy 2 and 5
    tree = assert_same_as_reference(logits, strategy=strategy)
    assert {10, 11, 12} <= set(tree.info["empty_clusters"])


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_identical_rows_and_all_equal(aggregation, strategy):
    row = np.random.default_rng(0).normal(size=9)
    assert_same_as_reference(np.tile(row, (50, 1)), aggregation, strategy)
    assert_same_as_reference(np.zeros((30, 6)), aggregation, strategy)
    assert_same_as_reference(np.ones((1, 4), dtype=np.float32), aggregation, strategy)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_integer_grid_ties(strategy):
    # few distinct integer values: many exact ties inside rows, repeated rows, symmetric clusters
    rng = np.random.default_rng(5)
    base = rng.integers(0, 3, size=(12, 8)).astype(np.float64)
    logits = base[rng.integers(0, 12, 400)]
    assert_same_as_reference(logits, strategy=strategy)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_symmetric_clusters_tie_to_list_order(strategy):
    # clusters 0/1 and 2/3 are mirror images: their scores tie in real arithmetic
    a = np.array([[5.0, 0.0, 2.0, 1.0], [0.0, 5.0, 1.0, 2.0], [1.0, 2.0, 5.0, 0.0], [2.0, 1.0, 0.0, 5.0]])
    tree = assert_same_as_reference(np.repeat(a, 3, axis=0), strategy=strategy)
    assert tree.merges[0, 0] == 0 or strategy == "all-pairs"


# ---------------------------------------------------------------------------------------------- precision
@pytest.mark.parametrize("gap", [60.0, 200.0, 800.0])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_very_confident_logits(gap, strategy):
    # row gaps >= 60: 1 - conf underflows and exp(L - max) is subnormal or 0 for most entries
    rng = np.random.default_rng(int(gap))
    n, k = 400, 25
    ranks = np.argsort(rng.random((n, k)), axis=1)
    logits = -gap * ranks + rng.uniform(0, 1, size=(n, k))
    assert_same_as_reference(logits, strategy=strategy)


def test_mixed_confidence():
    logits = random_logits(9, 1200, 30)
    logits[::3] *= 80.0  # a third of the points very confident
    assert_same_as_reference(logits)


def test_large_offsets():
    assert_same_as_reference(random_logits(4, 500, 12) + 1e6)


# ---------------------------------------------------------------------------------------------- empty clusters
@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_empty_clusters(aggregation, strategy):
    logits = random_logits(2, 500, 14)
    logits[:, [3, 7, 8]] -= 12.0  # never the argmax, still some probability mass
    with pytest.warns(L2HWarning, match=r"3 empty clusters \(no point has them as argmax\): 3, 7, 8"):
        tree = build_hierarchy(logits, aggregation=aggregation, strategy=strategy)
    assert tree.info["empty_clusters"] == [3, 7, 8]
    assert np.all(np.isfinite(tree.scores)) and np.all(np.isfinite(tree.relatedness))
    assert_same_as_reference(logits, aggregation, strategy)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_empty_clusters_with_no_mass(strategy):
    # soft membership underflows to 0: every relatedness is 0, ties go to list order
    logits = random_logits(3, 200, 8)
    logits[:, [1, 2, 6]] = -2000.0
    tree = assert_same_as_reference(logits, strategy=strategy)
    assert np.all(np.isfinite(tree.relatedness))


def test_single_point_and_two_clusters():
    for strategy in STRATEGIES:
        tree = assert_same_as_reference(np.array([[0.3, -1.0, 2.0, 0.0, 0.1]]), strategy=strategy)
        assert tree.info["empty_clusters"] == [0, 1, 3, 4]
        tree = assert_same_as_reference(np.array([[1.0, 2.0], [3.0, 0.0], [0.0, 0.5]]), strategy=strategy)
        np.testing.assert_array_equal(tree.merges, [[1, 0]])  # cluster 1 is the less confident
    assert_same_as_reference(np.array([[1.0, 2.0]]))


# ---------------------------------------------------------------------------------------------- invariants
def test_deterministic_and_chunking_and_memmap(tmp_path):
    logits = random_logits(11, 3000, 25).astype(np.float32)
    first = build_quiet(logits)
    assert np.array_equal(first.linkage, build_quiet(logits).linkage)
    assert np.array_equal(first.linkage, build_quiet(logits, chunk_rows=77).linkage)
    path = tmp_path / "logits.npy"
    np.save(path, logits)
    mapped = build_quiet(np.load(path, mmap_mode="r"))
    assert np.array_equal(first.linkage, mapped.linkage)
    np.testing.assert_array_equal(first.scores, mapped.scores)
    fortran = build_quiet(np.asfortranarray(logits))
    assert np.array_equal(first.linkage, fortran.linkage)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_large_n_parallel_kernels(strategy):
    # over 16384 points in D_{G*}: the parallel visit kernel, several rp chunks and scan sub-blocks
    logits = random_logits(13, 20000, 8)
    logits[::4] *= 30.0
    logits[:, 5] = logits.min(axis=1) - 3.0  # one empty cluster: soft membership over all points, chunked
    tree = assert_same_as_reference(logits.astype(np.float32), strategy=strategy)
    assert tree.info["empty_clusters"] == [5]
    assert max(tree.info["cluster_sizes"]) < 16384  # only merged groups reach the parallel kernel


def test_output_metadata_and_progress():
    logits = random_logits(12, 800, 10)
    calls = []
    tree = build_hierarchy(
        logits, leaf_names=[f"c{i}" for i in range(10)], progress=lambda *a: calls.append(a), chunk_rows=300
    )
    assert tree.leaf_names[0] == "c0"
    info = tree.info
    assert info["method"] == "l2h" and info["aggregation"] == "cluster-mean"
    assert info["strategy"] == "lowest-score" and info["n_points"] == 800 and info["n_clusters"] == 10
    assert sum(info["cluster_sizes"]) == 800 and info["empty_clusters"] == []
    assert ("scan", 800, 800) in calls and calls[-1] == ("merge", 9, 9)
    assert [c[1] for c in calls if c[0] == "scan"] == [300, 600, 800]


def test_tie_tolerance_matches_reference():
    assert merge.TIE_RTOL == TIE_RTOL


# ---------------------------------------------------------------------------------------------- float ties
def test_confident_near_ties_are_not_ties():
    # Clusters 0 and 1 have conf = 1 - 1.4e-11 and 1 - 1.4e-11·e^0.001: their scores differ by
    # ~4e-14 relative, a real difference that float64 resolves; a 1e-10 tolerance once called it a
    # tie and merged cluster 0 first.
    k = 4
    logits = np.zeros((4 * k, k))
    for c, gap in enumerate([25.0, 25.0 - 1e-3, 30.0, 32.0]):
        logits[4 * c : 4 * c + 4, c] = gap
        logits[4 * c : 4 * c + 4, (c + 1) % k] = np.arange(4) * 0.1
    for aggregation in AGGREGATIONS:
        tree = assert_same_as_reference(logits, aggregation)
        assert tree.merges[0, 0] == 1, aggregation


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_real_ties_with_different_multiplicities(aggregation):
    # every cluster holds n_c copies of the same row, rolled so that its maximum lands on c: all
    # cluster means (and mean scores) are equal in real arithmetic, whatever n_c, so G* is cluster 0
    rng = np.random.default_rng(8)
    for _ in range(20):
        k = int(rng.integers(3, 12))
        base = rng.normal(size=k) * rng.uniform(0.5, 8.0)
        base[0] = base.max() + rng.uniform(0.0, 3.0)
        rows = np.concatenate([np.tile(np.roll(base, c), (int(rng.integers(1, 40)), 1)) for c in range(k)])
        logits = rows[rng.permutation(rows.shape[0])]
        tree = assert_same_as_reference(logits, aggregation)
        if aggregation != "sum":
            assert tree.merges[0, 0] == 0


def test_float_tie_rule_is_exact_to_a_few_ulps():
    assert exact.first_min(np.array([1.0 + 2e-16, 1.0, 0.5 + 5e-16, 0.5])) == 2  # within 8 ulps
    assert exact.first_min(np.array([0.5 + 1e-14, 0.5])) == 1  # 45 ulps apart: a real difference
    assert exact.first_max(np.array([0.0, 0.0, 1e-300, 1e-300 * (1 + 1e-13)])) == 3
    assert exact.first_max(np.array([0.0, 0.0])) == 0  # relative tolerance at 0 is exact
    assert exact.first_min(np.array([3.0, 0.0, 1e-320])) == 1


def test_dd_division_is_correctly_rounded():
    rng = np.random.default_rng(0)
    from fractions import Fraction

    values = rng.uniform(0.0, 1.0, size=200)
    counts = rng.integers(1, 10**6, size=200).astype(np.float64)
    totals = values * counts
    lo = np.zeros(200)
    ours = exact.dd_div(totals, lo, counts)
    rational = [float(Fraction(t) / Fraction(int(n))) for t, n in zip(totals, counts, strict=True)]
    np.testing.assert_array_equal(ours, rational)
    # a mean of n identical values is that value
    c = 0.7310585786300049
    hi, lo = 0.0, 0.0
    for _ in range(7):
        hi, lo = exact.dd_add(np.array(hi), np.array(lo), np.array(c), np.array(0.0))
    assert exact.dd_div(hi, lo, 7) == c


def test_subnormal_soft_membership_weights():
    # cluster 3 is empty and sits 712 (for D_2) or 720 below every row's maximum: its soft weights
    # p_3(x) are subnormal float64 numbers, not zeros, so they still pick G† = 2 (not list order)
    k = 4
    logits = np.zeros((9, k))
    for c in range(3):
        logits[3 * c : 3 * c + 3, c] = 5.0
        logits[3 * c : 3 * c + 3, 3] = 5.0 - (712.0 if c == 2 else 720.0)
    with pytest.warns(L2HWarning, match="1 empty cluster"):
        tree = build_hierarchy(logits)
    assert tree.merges[0].tolist() == [3, 2]
    assert 0.0 < tree.relatedness[0] < 1e-308
    assert_same_as_reference(logits)
    assert_same_as_reference(logits, strategy="all-pairs")


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_rows_are_named(bad):
    logits = random_logits(0, 300, 5)
    logits[17, 2] = bad
    logits[250, 0] = bad
    with pytest.raises(ValueError, match=r"logits contain NaN or ±inf in 2 rows; first bad row is 17 \(0-based\)"):
        build_hierarchy(logits, chunk_rows=100)


@pytest.mark.parametrize(
    "logits, exc, message",
    [
        (np.zeros(10), ValueError, r"must be 2-D \(n_points, n_clusters\); got shape \(10,\)"),
        (np.zeros((10, 1)), ValueError, r"at least 2 columns .* got K = 1"),
        (np.zeros((0, 4)), ValueError, r"no rows \(N = 0\)"),
        (np.array([["a", "b"]]), TypeError, r"real numbers"),
        ("logits.npy", TypeError, r"2-D numpy array; got str"),
    ],
)
def test_bad_arrays(logits, exc, message):
    with pytest.raises(exc, match=message):
        build_hierarchy(logits)


def test_bad_options():
    logits = random_logits(0, 20, 3)
    with pytest.raises(ValueError, match=r"aggregation must be one of 'cluster-mean', 'sum', 'mean'; got 'avg'"):
        build_hierarchy(logits, aggregation="avg")
    with pytest.raises(ValueError, match=r"strategy must be one of 'lowest-score', 'all-pairs'; got 'greedy'"):
        build_hierarchy(logits, strategy="greedy")
    with pytest.raises(ValueError, match=r"leaf names: expected 3 names"):
        build_hierarchy(logits, leaf_names=["a", "b"])
    with pytest.raises(ValueError, match=r"chunk_rows must be a positive integer"):
        build_hierarchy(logits, chunk_rows=0)


# ---------------------------------------------------------------------------------------------- fuzz
def _fuzz_logits(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Inputs that once broke something or sit at an edge of the procedure (one per kind)."""
    n, k = int(rng.integers(1, 300)), int(rng.integers(2, 24))
    logits = random_logits(int(rng.integers(1 << 30)), n, k)
    if kind == "duplicated-columns":
        return np.concatenate([logits, logits[:, rng.integers(0, k, 3)]], axis=1)
    if kind == "identical-rows":
        return logits[rng.integers(0, min(n, 4), n)]
    if kind == "integer-grid":
        base = rng.integers(0, 3, size=(int(rng.integers(1, 15)), k)).astype(np.float64)
        return base[rng.integers(0, base.shape[0], n)]
    if kind.startswith("gap-"):  # every row's entries spaced by the gap: 1 - conf underflows
        ranks = np.argsort(rng.random((n, k)), axis=1)
        return -float(kind[4:]) * ranks + rng.uniform(0.0, 1.0, size=(n, k))
    if kind == "confident":  # conf = 1 - 1e-11: scores differ far below 1e-10 relative
        return 25.0 * (np.arange(k) == logits.argmax(1)[:, None]) + rng.uniform(0.0, 3.0, size=(n, k))
    if kind == "mixed-confidence":
        logits[::3] *= 80.0
        return logits
    if kind == "offset":
        return logits + 1e6
    if kind == "empty":
        logits[:, rng.integers(0, k, max(1, k // 3))] -= rng.choice([5.0, 12.0, 40.0])
        return logits
    if kind == "empty-no-mass":
        logits[:, rng.integers(0, k, max(1, k // 3))] = -2000.0
        return logits
    if kind == "tiny-n":
        return logits[: int(rng.integers(1, 4))]
    if kind == "k-over-top":  # groups larger than the 8 stored top entries swallow whole top lists
        return random_logits(int(rng.integers(1 << 30)), int(rng.integers(50, 300)), int(rng.integers(20, 45))) * 3
    if kind == "int8-grid":
        return rng.integers(-3, 4, size=(n, k)).astype(np.int8)
    if kind == "float16":
        return logits.astype(np.float16)
    if kind == "float32":
        return logits.astype(np.float32)
    return logits


FUZZ_KINDS = [
    "random",
    "duplicated-columns",
    "identical-rows",
    "integer-grid",
    "gap-60",
    "gap-800",
    "gap-710",
    "confident",
    "mixed-confidence",
    "offset",
    "empty",
    "empty-no-mass",
    "tiny-n",
    "k-over-top",
    "int8-grid",
    "float16",
    "float32",
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", FUZZ_KINDS)
def test_fuzz_against_reference(kind, seed, tmp_path):
    rng = np.random.default_rng([FUZZ_KINDS.index(kind), seed])
    logits = _fuzz_logits(kind, rng)
    aggregation = AGGREGATION_NAMES[seed % 3]
    strategy = STRATEGY_NAMES[int(rng.integers(2))] if logits.shape[1] <= 24 else "lowest-score"
    tree = assert_same_as_reference(logits, aggregation, strategy)
    # the same tree from a memory map, Fortran order and tiny row chunks
    path = tmp_path / "logits.npy"
    np.save(path, logits)
    for variant, chunk_rows in (
        (np.load(path, mmap_mode="r"), int(rng.integers(1, 50))),
        (np.asfortranarray(logits), None),
    ):
        other = build_quiet(variant, aggregation=aggregation, strategy=strategy, chunk_rows=chunk_rows)
        np.testing.assert_array_equal(other.linkage, tree.linkage)
        np.testing.assert_array_equal(other.scores, tree.scores)
        np.testing.assert_array_equal(other.relatedness, tree.relatedness)


# ---------------------------------------------------------------------------------------------- large K, many empty
def _many_empty(seed: int, n: int, k: int, n_empty: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = random_logits(seed, n, k) * 2.0
    empty = np.sort(rng.permutation(k)[:n_empty])
    others = np.setdiff1d(np.arange(k), empty)
    best_other = logits[:, others].max(axis=1, keepdims=True)
    logits[:, empty] = np.minimum(logits[:, empty] - rng.uniform(0, 8, size=n_empty), best_other - 0.5)
    return logits, empty


@pytest.mark.parametrize("seed", range(2))
def test_many_empty_clusters_at_large_k(seed, monkeypatch):
    # 2/3 of 450 clusters empty: most merges are soft-membership passes, many of them in a row
    from tests._reference import reference_l2h_large

    logits, empty = _many_empty(seed, 1200, 450, 300)
    if seed == 1:  # the transposed empty columns go to a temp file instead of memory
        monkeypatch.setattr(points, "_IN_MEMORY_COLUMNS_BYTES", 0)
        monkeypatch.setattr(_system, "available_memory", lambda: None)
    tree = build_quiet(logits.astype(np.float32))
    assert set(empty.tolist()) <= set(tree.info["empty_clusters"])
    np.testing.assert_array_equal(tree.merges, reference_l2h_large(logits.astype(np.float32)))
    assert np.all(np.isfinite(tree.relatedness)) and np.all(tree.scores[: empty.size] == 0.0)
    assert len(tree.info["empty_clusters"]) >= 300


@pytest.mark.parametrize("n, k, n_empty", [(2000, 1500, 1200), pytest.param(2500, 3000, 2500, marks=pytest.mark.slow)])
def test_mostly_empty_clusters_at_larger_k(n, k, n_empty):
    # 4/5 of the clusters empty: every empty singleton goes first, each by one soft pass over all
    # points (bucket-ordered transposed columns, vectorised exponentials)
    from tests._reference import reference_l2h_large

    logits, empty = _many_empty(7, n, k, n_empty)
    tree = build_quiet(logits.astype(np.float32))
    assert set(empty.tolist()) <= set(tree.info["empty_clusters"])
    np.testing.assert_array_equal(tree.merges, reference_l2h_large(logits.astype(np.float32)))


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_soft_phase_batches_and_column_window_change_nothing(aggregation, monkeypatch):
    # The soft merges run in batches inside one kernel (kernels.soft_merges) with G† chosen by the
    # one-cluster-per-group kernel, and their columns are transposed into a refilled window: each
    # way must give the merges, scores and relatedness of one merge at a time with the general G†
    # choice and every column transposed at once.
    logits, empty = _many_empty(3, 700, 160, 120)
    logits[::5, empty[::7]] -= 800.0  # some soft weights underflow: relatedness 0, list-order ties
    logits = logits.astype(np.float32)

    def build():
        tree = build_quiet(logits, aggregation=aggregation)
        return tree.merges, tree.scores, tree.relatedness

    fused = build()
    monkeypatch.setattr(points, "_COLUMN_WINDOW_BYTES", 1)  # one group's columns per refill
    windowed = build()
    monkeypatch.setattr(points, "_COLUMN_WINDOW_BYTES", 50 * 700 * 4)
    monkeypatch.setattr(Points, "batch_soft", False)
    monkeypatch.setattr(Points, "batch_hard", False)
    general_choice = Groups.choose_g_dagger

    def choose_general(self, g_star, m):
        self.soft_touched = False  # force the general kernel
        return general_choice(self, g_star, m)

    monkeypatch.setattr(Groups, "choose_g_dagger", choose_general)
    one_by_one = build()
    for a, b, c in zip(fused, windowed, one_by_one, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    if aggregation == "cluster-mean":
        from tests._reference import reference_l2h_large

        np.testing.assert_array_equal(fused[0], reference_l2h_large(logits))


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_hard_merge_batches_change_nothing(aggregation, monkeypatch):
    # Merges whose G* has points run in batches inside one kernel (kernels.hard_merges) up to
    # 4096 points, one at a time through Python beyond (the parallel visit): the same merges,
    # scores and relatedness as every merge one at a time.  Confident rows (exact recomputation of
    # the outside sums), repeated rows (ties) and groups on both sides of the 4096-point cut.
    logits = random_logits(11, 9000, 40) * 3.0
    logits[:1500] *= 25.0
    logits[6000:7000] = logits[5000:6000]
    logits = logits.astype(np.float32)

    def build():
        tree = build_quiet(logits, aggregation=aggregation)
        return tree.merges, tree.scores, tree.relatedness

    batched = build()
    monkeypatch.setattr(Points, "batch_hard", False)
    one_by_one = build()
    for a, b in zip(batched, one_by_one, strict=True):
        np.testing.assert_array_equal(a, b)


def test_g_dagger_singletons_kernels_agree_with_the_general_one():
    # random relatedness sums with many exact ties; every touched cluster alone in its group
    kern = kernels()
    rng = np.random.default_rng(0)
    for trial in range(200):
        k = int(rng.integers(2, 400))
        n_t = int(rng.integers(1, k + 1))
        touched = np.sort(rng.permutation(k)[:n_t]).astype(np.int64)
        rp_hi = np.zeros(k)
        rp_lo = np.zeros(k)
        values = rng.choice([0.0, 0.25, 0.5, 1.0 / 3.0, 1e-300, 2.0], size=n_t) if trial % 2 else rng.random(n_t)
        rp_hi[touched] = values
        rp_lo[touched] = values * rng.choice([0.0, 1e-17, -1e-17], size=n_t)
        grp = rng.permutation(k).astype(np.int64)  # cluster -> slot, one cluster per slot
        slot_node = rng.permutation(2 * k)[:k].astype(np.int64)
        size = rng.integers(1, 4, size=2 * k).astype(np.int64)
        parent = np.arange(2 * k + 1, dtype=np.int64)
        g_star = int(rng.integers(0, 2 * k))
        groups = groups_bundle(grp, slot_node, size, parent)
        pick = (np.zeros(k), np.zeros(k), np.zeros(k + 1, dtype=np.int64), np.zeros(k, dtype=np.int64))
        expected = kern.choose_g_dagger((rp_hi, rp_lo, touched), n_t, groups, g_star, merge.TIE_RTOL, pick)
        ne_node = slot_node[grp[touched]]
        hi, lo = rp_hi.copy(), rp_lo.copy()
        compact = kern._g_dagger_compact(
            hi[touched], lo[touched], ne_node, size[ne_node].copy(), np.empty(n_t), parent, g_star, merge.TIE_RTOL
        )
        assert compact[:2] == expected
        if compact[2] >= 0:
            assert ne_node[compact[2]] == expected[0]
        single = kern.choose_g_dagger_singletons((rp_hi, rp_lo, touched), n_t, groups, g_star, merge.TIE_RTOL)
        assert single == expected and not rp_hi.any() and not rp_lo.any()


def test_many_empty_clusters_small_against_the_spec_twin():
    logits, _ = _many_empty(5, 300, 30, 18)
    for aggregation in AGGREGATIONS:
        assert_same_as_reference(logits, aggregation)


def test_large_reference_twin_agrees_with_the_spec_twin():
    # the faster twin used above is itself checked against the direct transcription of SPEC §1
    from tests._reference import reference_l2h_large

    for seed in range(3):
        logits, _ = _many_empty(10 + seed, 200, 16, 6)
        np.testing.assert_array_equal(reference_l2h_large(logits), reference_l2h(logits)[0])
        plain = random_logits(seed, 300, 12)
        np.testing.assert_array_equal(reference_l2h_large(plain), reference_l2h(plain)[0])


# ---------------------------------------------------------------------------------------------- --input
def test_probs_input_gives_the_tree_of_their_logs():
    logits = random_logits(4, 600, 12)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    probs[::7, 3] = 0.0  # zeros are clipped to the smallest normal float64 and counted
    tree = build_quiet(probs, input="probs")
    with np.errstate(divide="ignore"):
        logs = np.log(probs)
    logs[logs == -np.inf] = np.log(np.finfo(np.float64).tiny)
    expected = build_quiet(logs)
    np.testing.assert_array_equal(tree.linkage, expected.linkage)
    assert tree.info["input"] == "probs" and tree.info["clipped_zeros"] == probs[::7].shape[0]
    assert_same_as_reference(logs)
    # log-probabilities: read as logits; log 0 = -inf clipped the same way
    lp = build_quiet(np.log(np.where(probs > 0, probs, 1.0)) + np.where(probs > 0, 0.0, -np.inf), input="log-probs")
    np.testing.assert_array_equal(lp.linkage, expected.linkage)
    assert lp.info["clipped_zeros"] == tree.info["clipped_zeros"]


def test_probs_input_from_a_memory_map_goes_through_a_temp_file(tmp_path, monkeypatch):
    probs = np.random.default_rng(0).dirichlet(np.ones(9), size=500).astype(np.float32)
    path = tmp_path / "p.npy"
    np.save(path, probs)
    monkeypatch.setattr(inputs, "_IN_MEMORY_CONVERSION_BYTES", 0)
    tree = build_quiet(np.load(path, mmap_mode="r"), input="probs", chunk_rows=64)
    expected = build_quiet(np.log(probs.astype(np.float64)))
    np.testing.assert_array_equal(tree.linkage, expected.linkage)


def test_probabilities_given_as_logits_warn_once_naming_the_flag():
    probs = np.random.default_rng(1).dirichlet(np.ones(6), size=300)
    with pytest.warns(L2HWarning, match=r"look like probabilities; if so, pass --input probs") as record:
        build_hierarchy(probs)
    assert len([w for w in record if "probabilities" in str(w.message)]) == 1
    assert "\n" not in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", L2HWarning)
        build_hierarchy(probs, input="probs")
        build_hierarchy(random_logits(0, 300, 6))
        almost = probs.copy()
        almost[5] *= 1.01  # one row summing to 1.01: not probabilities
        build_hierarchy(almost)


def test_bad_probabilities():
    probs = np.random.default_rng(1).dirichlet(np.ones(4), size=50)
    probs[17, 2] = -0.25
    with pytest.raises(ValueError, match=r"negative value \(-0.25\) in row 17 \(0-based\)"):
        build_hierarchy(probs, input="probs")
    with pytest.raises(ValueError, match=r"input must be one of 'logits', 'probs', 'log-probs'; got 'prob'"):
        build_hierarchy(probs, input="prob")


def test_option_lists_import_without_numba():
    import subprocess
    import sys

    code = (
        "import sys; from l2h.merge import AGGREGATIONS, STRATEGIES, INPUTS; "
        "assert 'numba' not in sys.modules; print(*AGGREGATIONS, *STRATEGIES, *INPUTS)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["cluster-mean", "sum", "mean", "lowest-score", "all-pairs", "logits", "probs", "log-probs"]
