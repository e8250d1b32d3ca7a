"""l2h.agglomerative: the Ward baseline against scipy's own cut, backends, memory refusal."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster import hierarchy as sch

import l2h.agglomerative as agg
from l2h import _system
from l2h.agglomerative import agglomerative_hierarchy, hierarchy_from_linkage, linkage_memory_bytes


def blobs(n: int = 300, d: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6, size=(8, d))
    return centres[rng.integers(0, 8, n)] + rng.normal(size=(n, d))


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = {(int(x), int(y)) for x, y in zip(a, b, strict=True)}
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("k", [2, 5, 20, 300])
def test_cut_matches_scipy_cut_tree(k):
    x = blobs()
    z = sch.linkage(x, "ward")
    tree, leaf = hierarchy_from_linkage(z, k)
    assert tree.n_leaves == k
    assert same_partition(leaf, sch.cut_tree(z, n_clusters=k).ravel())
    # Leaves numbered by their first point.
    first = [int(np.flatnonzero(leaf == j)[0]) for j in range(k)]
    assert first == sorted(first)
    assert tree.info["cluster_sizes"] == np.bincount(leaf, minlength=k).tolist()
    assert np.array_equal(tree.heights, z[-(k - 1) :, 2])


def test_upper_tree_has_the_linkage_clades():
    x = blobs(120)
    z = sch.linkage(x, "ward")
    k = 6
    tree, leaf = hierarchy_from_linkage(z, k)
    root, nodes = sch.to_tree(z, rd=True)
    n = len(x)
    for t in range(k - 1):
        points = set(nodes[n + (n - k) + t].pre_order())
        leaves = tree.leaves_under(k + t)
        assert points == set(np.flatnonzero(np.isin(leaf, leaves)).tolist())


@pytest.mark.parametrize("method", ["ward", "single"])
def test_fastcluster_and_scipy_agree(method):
    pytest.importorskip("fastcluster")
    x = blobs(250, seed=3)
    tree_f, leaf_f = agglomerative_hierarchy(x, 8, method=method, backend="fastcluster")
    tree_s, leaf_s = agglomerative_hierarchy(x, 8, method=method, backend="scipy")
    assert np.array_equal(leaf_f, leaf_s)
    assert tree_f.same_topology(tree_s)
    assert np.allclose(tree_f.heights, tree_s.heights)
    assert tree_f.info["backend"] == "fastcluster" and tree_s.info["backend"] == "scipy"
    assert tree_f.info["method"] == method


def test_auto_prefers_fastcluster_and_falls_back_to_scipy(monkeypatch):
    pytest.importorskip("fastcluster")
    x = blobs(50)
    assert agglomerative_hierarchy(x, 4)[0].info["backend"] == "fastcluster"
    monkeypatch.setattr(agg, "_import_fastcluster", lambda: None)
    assert agglomerative_hierarchy(x, 4)[0].info["backend"] == "scipy"
    with pytest.raises(ImportError, match=r"pip install 'l2h\[metrics\]'"):
        agglomerative_hierarchy(x, 4, backend="fastcluster")


def test_refuses_sizes_that_do_not_fit(monkeypatch):
    monkeypatch.setattr(_system, "available_memory", lambda: 2**30)  # 1 GiB
    monkeypatch.setattr(agg, "_import_fastcluster", lambda: None)
    # The estimate is checked before any work, so a cheap array of the right shape is enough.
    big = np.broadcast_to(np.zeros(2, np.float32), (100_000, 2))
    with pytest.raises(MemoryError, match=r"needs about 74\.5 GiB .*pip install 'l2h\[metrics\]'"):
        agglomerative_hierarchy(big, 10)
    monkeypatch.setattr(agg, "_import_fastcluster", lambda: object())
    huge = np.broadcast_to(np.zeros(512, np.float32), (1_000_000, 512))
    with pytest.raises(MemoryError, match="reduce the number of points or dimensions"):
        agglomerative_hierarchy(huge, 10)


def test_memory_estimates():
    assert linkage_memory_bytes(1000, 10, "scipy") > 8 * 1000 * 999
    assert linkage_memory_bytes(1_281_167, 512, "fastcluster") < 12 * 2**30
    with pytest.raises(ValueError, match="backend"):
        linkage_memory_bytes(10, 2, "nope")


@pytest.mark.parametrize(
    "x, k, kwargs, error, message",
    [
        (np.zeros(5), 2, {}, ValueError, r"embeddings must be 2-D \(n_points, n_dims\); got shape \(5,\)"),
        (np.zeros((5, 2)), 6, {}, ValueError, r"k must be between 2 and the number of points \(5\); got 6"),
        (np.zeros((5, 2)), 1, {}, ValueError, "got 1"),
        (np.zeros((5, 2)), 2.0, {}, TypeError, "k must be an integer"),
        (np.zeros((5, 2)), 2, {"method": "average"}, ValueError, "method must be one of ward, single"),
        (np.zeros((5, 2)), 2, {"backend": "gpu"}, ValueError, "backend must be one of"),
        (np.array([[0.0], [np.nan], [1.0]]), 2, {}, ValueError, "first bad row is 1"),
        (np.array([["a"], ["b"]]), 2, {}, TypeError, "embeddings must hold real numbers"),
    ],
)
def test_bad_input(x, k, kwargs, error, message):
    with pytest.raises(error, match=message):
        agglomerative_hierarchy(x, k, **kwargs)


def naive_ward(x: np.ndarray) -> list[tuple[frozenset, frozenset, float]]:
    """Greedy Ward from its definition: merge the pair with the least increase of within-cluster variance."""
    clusters = [frozenset([i]) for i in range(len(x))]
    merges = []
    while len(clusters) > 1:
        best = None
        for i in range(len(clusters)):
            for j in range(i + 1, len(clusters)):
                a, b = x[list(clusters[i])], x[list(clusters[j])]
                gap = np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2) * len(a) * len(b) / (len(a) + len(b))
                if best is None or gap < best[0]:
                    best = (gap, i, j)
        gap, i, j = best
        merges.append((clusters[i], clusters[j], float(np.sqrt(2 * gap))))  # scipy's Ward distance
        clusters = [c for t, c in enumerate(clusters) if t not in (i, j)] + [clusters[i] | clusters[j]]
    return merges


@pytest.mark.parametrize("backend", ["scipy", "fastcluster"])
@pytest.mark.parametrize("seed", range(3))
def test_ward_matches_a_naive_greedy_ward(backend, seed):
    if backend == "fastcluster":
        pytest.importorskip("fastcluster")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(24, 3))  # continuous values: no ties
    k = 6
    tree, leaf = agglomerative_hierarchy(x, k, backend=backend)
    merges = naive_ward(x)
    # The k clusters: the components after the first N - k greedy merges.
    components = {frozenset([i]) for i in range(len(x))}
    for a, b, _ in merges[: len(x) - k]:
        components = (components - {a, b}) | {a | b}
    assert {frozenset(np.flatnonzero(leaf == j).tolist()) for j in range(k)} == components
    # The tree over them: the last k - 1 merges, in order, with Ward's heights.
    for t, (a, b, height) in enumerate(merges[len(x) - k :]):
        points = set(np.flatnonzero(np.isin(leaf, tree.leaves_under(k + t))).tolist())
        assert points == set(a | b)
        assert tree.heights[t] == pytest.approx(height, rel=1e-9)
