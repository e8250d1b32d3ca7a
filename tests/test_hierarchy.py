"""The Hierarchy tree model: construction, validation, cutting, inference, distances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.cluster import hierarchy as sch

from l2h import Hierarchy
from tests._trees import random_merges


def slow_path_length(tree: Hierarchy, a: int, b: int) -> int:
    """Edges between two leaves by walking up parents."""
    ancestors_a = [a]
    while tree.parent[ancestors_a[-1]] >= 0:
        ancestors_a.append(int(tree.parent[ancestors_a[-1]]))
    node, steps = b, 0
    while node not in ancestors_a:
        node, steps = int(tree.parent[node]), steps + 1
    return steps + ancestors_a.index(node)


@pytest.mark.parametrize("seed", range(8))
def test_random_trees_are_valid_scipy_linkages(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 40))
    tree = Hierarchy.from_merges(random_merges(k, rng))
    z = tree.to_scipy()
    assert sch.is_valid_linkage(z)
    assert sch.is_monotonic(z)
    assert tree.n_leaves == k and tree.root == 2 * k - 2
    assert np.array_equal(tree.heights, np.arange(1, k))
    assert tree.leaf_counts[tree.root] == k
    assert sorted(tree.leaf_order.tolist()) == list(range(k))
    # scipy's own leaf order from the same linkage agrees with ours
    assert np.array_equal(sch.leaves_list(z), tree.leaf_order)


@pytest.mark.parametrize("seed", range(5))
def test_path_lengths_and_lca_match_a_walk(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 25))
    tree = Hierarchy.from_merges(random_merges(k, rng))
    d = tree.path_lengths()
    for a, b in itertools.combinations(range(k), 2):
        assert d[a, b] == d[b, a] == slow_path_length(tree, a, b)
    assert np.all(np.diag(d) == 0)
    lca = tree.lca_matrix
    for a, b in itertools.combinations(range(k), 2):
        node = lca[a, b]
        under = set(tree.leaves_under(node).tolist())
        assert a in under and b in under
        for child in tree.merges[node - k]:
            assert not ({a, b} <= set(tree.leaves_under(child).tolist()))


def test_cut_levels():
    # ((0,1),(2,(3,4))) with merges 0+1 -> 5, 3+4 -> 6, 2+6 -> 7, 5+7 -> 8
    tree = Hierarchy.from_merges([[0, 1], [3, 4], [2, 6], [5, 7]])
    assert tree.cut(5).tolist() == [0, 1, 2, 3, 4]
    assert tree.cut(4).tolist() == [0, 0, 1, 2, 3]
    assert tree.cut(3).tolist() == [0, 0, 1, 2, 2]
    assert tree.cut(2).tolist() == [0, 0, 1, 1, 1]
    assert tree.cut(1).tolist() == [0, 0, 0, 0, 0]
    assert tree.cut_nodes(2).tolist() == [5, 7]


@pytest.mark.parametrize("k_cut", [1, 2, 3, 7])
def test_cut_matches_scipy_maxclust_partition(k_cut):
    rng = np.random.default_rng(1)
    tree = Hierarchy.from_merges(random_merges(7, rng))
    ours = tree.cut(k_cut)
    theirs = sch.fcluster(tree.to_scipy(), t=tree.heights[7 - k_cut - 1] if k_cut < 7 else 0.5, criterion="distance")
    # same partition, possibly other ids
    pairs_ours = {(a, b) for a in range(7) for b in range(7) if ours[a] == ours[b]}
    pairs_theirs = {(a, b) for a in range(7) for b in range(7) if theirs[a] == theirs[b]}
    assert pairs_ours == pairs_theirs
    assert len(set(ours.tolist())) == k_cut


def test_assign_uses_argmax_and_level():
    tree = Hierarchy.from_merges([[0, 1], [3, 4], [2, 6], [5, 7]])
    logits = np.array([[5, 0, 0, 0, 0], [0, 0, 0, 0, 9], [0, 0, 1, 0, 0], [1, 1, 0, 0, 0]], dtype=np.float32)
    assert tree.assign(logits).tolist() == [0, 4, 2, 0]  # ties -> lowest index
    assert tree.assign(logits, k=2).tolist() == [0, 1, 1, 0]
    assert tree.assign(logits, k=3).tolist() == [0, 2, 1, 0]


def test_assign_rejects_wrong_width_and_nan():
    tree = Hierarchy.from_merges([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="3 columns but the hierarchy has 3 leaves|4 columns"):
        tree.assign(np.zeros((2, 4)))
    bad = np.zeros((5, 3))
    bad[2, 1] = np.nan
    bad[4, 0] = -np.inf
    with pytest.raises(ValueError, match=r"NaN or ±inf in 2 rows; first bad row is 2"):
        tree.assign(bad, chunk_rows=2)
    with pytest.raises(ValueError, match="k must be|k = 7|between"):
        tree.assign(np.zeros((2, 3)), k=7)


def test_assign_no_points_gives_an_empty_assignment():
    tree = Hierarchy.from_merges([[0, 1], [2, 3]])
    out = tree.assign(np.zeros((0, 3), dtype=np.float32), k=2)
    assert out.shape == (0,) and out.dtype == np.int64


@pytest.mark.parametrize(
    "merges, message",
    [
        ([[0, 0]], "itself"),
        ([[0, 3]], "does not exist yet"),
        ([[0, 1], [0, 2]], "reuses node 0"),
        (np.zeros((2, 3)), "shape"),
        (np.zeros((0, 2)), "at least 2 leaves"),
    ],
)
def test_from_merges_rejects_invalid(merges, message):
    with pytest.raises(ValueError, match=message):
        Hierarchy.from_merges(merges)


def test_heights_must_be_monotonic_and_leaf_names_checked():
    with pytest.raises(ValueError, match="non-decreasing"):
        Hierarchy.from_merges([[0, 1], [2, 3]], heights=[2.0, 1.0])
    with pytest.raises(ValueError, match="expected 3 names"):
        Hierarchy.from_merges([[0, 1], [2, 3]], leaf_names=["a", "b"])
    with pytest.raises(ValueError, match="duplicate name 'a'"):
        Hierarchy.from_merges([[0, 1], [2, 3]], leaf_names=["a", "b", "a"])


def test_cut_rejects_out_of_range():
    tree = Hierarchy.from_merges([[0, 1], [2, 3]])
    for bad in (0, 4, -1):
        with pytest.raises(ValueError, match="between 1 and the number of leaves"):
            tree.cut(bad)
    with pytest.raises(TypeError):
        tree.cut(1.5)  # type: ignore[arg-type]


def test_same_topology_ignores_merge_order_and_child_order():
    a = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    b = Hierarchy.from_merges([[3, 2], [1, 0], [5, 4]])
    c = Hierarchy.from_merges([[0, 2], [1, 3], [4, 5]])
    assert a.same_topology(b)
    assert not a.same_topology(c)


@pytest.mark.parametrize("seed", range(4))
def test_every_cut_of_a_built_tree_matches_scipy_and_nests(seed, tmp_path):
    import warnings

    from l2h import build_hierarchy

    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = build_hierarchy(rng.normal(size=(int(rng.integers(1, 400)), k)) * 3)
    z = tree.to_scipy()
    assert sch.is_valid_linkage(z) and sch.is_monotonic(z)
    previous = None
    for level in range(k, 0, -1):
        labels = tree.cut(level)
        theirs = sch.cut_tree(z, n_clusters=level).ravel()
        assert np.array_equal(labels[:, None] == labels[None, :], theirs[:, None] == theirs[None, :])
        firsts = [int(np.flatnonzero(labels == g).min()) for g in range(level)]
        assert firsts == sorted(firsts)  # groups numbered by their smallest leaf
        if previous is not None:  # one merge joins exactly two groups of the finer level
            assert all(len(set(labels[previous == g])) == 1 for g in range(level + 1))
        previous = labels
    # new points from a memory-mapped float16 file: leaf = argmax, group = cut(level)[leaf]
    points = (rng.normal(size=(257, k)) * 4).astype(np.float16)
    np.save(tmp_path / "new.npy", points)
    mapped = np.load(tmp_path / "new.npy", mmap_mode="r")
    leaf = tree.assign(mapped, chunk_rows=50)
    assert np.array_equal(leaf, points.astype(np.float64).argmax(axis=1))
    for level in (1, max(1, k // 2), k):
        assert np.array_equal(tree.assign(mapped, k=level), tree.cut(level)[leaf])
    with pytest.raises(ValueError, match="between 1 and the number of leaves"):
        tree.assign(mapped, k=k + 1)
