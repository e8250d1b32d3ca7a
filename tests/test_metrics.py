"""l2h.metrics: exact values, brute-force and independent cross-checks, invariants, bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from l2h import Hierarchy
from l2h.metrics import (
    RESULT_KEYS,
    accuracy,
    ari,
    class_distance_blocks,
    class_distance_matrix,
    contingency_table,
    dendrogram_purity,
    encode_labels,
    evaluate,
    evaluate_table,
    leaf_purity,
    least_hierarchical_distance,
    level_scores,
    nmi,
    node_class_counts,
    scores_to_json,
    write_class_distances,
)
from tests._trees import random_merges


def random_case(seed: int, n: int = 120, k: int = 7, c: int = 4, empty_leaves: int = 0):
    """A random tree over k leaves and n points with correlated leaves and labels."""
    rng = np.random.default_rng(seed)
    tree = Hierarchy.from_merges(random_merges(k, rng))
    labels = rng.integers(0, c, n)
    usable = np.arange(empty_leaves, k)  # leaves 0..empty_leaves-1 get no point
    leaf = np.where(rng.random(n) < 0.6, usable[labels % len(usable)], rng.choice(usable, n))
    return tree, leaf, labels


# ---------------------------------------------------------------------------------------------- brute force
def brute_force(tree: Hierarchy, leaf: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """DP, LHD and mean path length by enumerating every pair of points (the definitions, verbatim)."""
    lca = tree.lca_matrix
    paths = tree.path_lengths()
    under = [set(tree.leaves_under(v).tolist()) for v in range(tree.n_nodes)]
    purity_sum, n_star = 0.0, 0
    log_sum, len_sum, n_tilde = 0.0, 0.0, 0
    for i, j in itertools.combinations(range(len(leaf)), 2):
        if labels[i] != labels[j]:
            continue
        v = lca[leaf[i], leaf[j]]
        members = np.isin(leaf, list(under[v]))
        purity_sum += np.sum(members & (labels == labels[i])) / np.sum(members)
        n_star += 1
        if leaf[i] != leaf[j]:
            d = paths[leaf[i], leaf[j]]
            log_sum += math.log(d) / math.log(tree.n_leaves)
            len_sum += d
            n_tilde += 1
    return {
        "dp": purity_sum / n_star if n_star else float("nan"),
        "lhd": log_sum / n_tilde if n_tilde else 0.0,
        "mean_path_length": len_sum / n_tilde if n_tilde else 0.0,
    }


def brute_class_distances(tree: Hierarchy, leaf: np.ndarray, labels: np.ndarray, c: int) -> np.ndarray:
    paths = tree.path_lengths()
    out = np.full((c, c), np.nan)
    for a in range(c):
        for b in range(c):
            ia, ib = np.flatnonzero(labels == a), np.flatnonzero(labels == b)
            d = [paths[leaf[i], leaf[j]] for i in ia for j in ib if i != j]
            if d:
                out[a, b] = np.mean(d)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_hierarchical_metrics_match_brute_force(seed):
    tree, leaf, labels = random_case(seed, n=90, k=3 + seed, c=2 + seed % 3, empty_leaves=seed % 2)
    table = contingency_table(leaf, labels, n_leaves=tree.n_leaves)
    expected = brute_force(tree, leaf, labels)
    assert dendrogram_purity(tree, table) == pytest.approx(expected["dp"], rel=1e-12)
    lhd, mean_path = least_hierarchical_distance(tree, table)
    assert lhd == pytest.approx(expected["lhd"], rel=1e-12)
    assert mean_path == pytest.approx(expected["mean_path_length"], rel=1e-12)
    c = table.shape[1]
    np.testing.assert_allclose(
        class_distance_matrix(tree, table), brute_class_distances(tree, leaf, labels, c), rtol=1e-12
    )


@pytest.mark.parametrize("seed", range(4))
def test_dendrogram_purity_matches_higra_on_point_level_tree(seed):
    hg = pytest.importorskip("higra")
    tree, leaf, labels = random_case(seed, n=400, k=12, c=5)
    leaf[: tree.n_leaves] = np.arange(tree.n_leaves)  # higra needs every cluster node to have a point
    n = len(leaf)
    # Points 0..n-1 are leaves under their cluster node n + leaf; cluster node v sits at n + v.
    parent = np.empty(n + tree.n_nodes, dtype=np.int64)
    parent[:n] = n + leaf
    parent[n:] = n + tree.parent
    parent[-1] = n + tree.root
    expected = hg.dendrogram_purity(hg.Tree(parent), labels)
    assert dendrogram_purity(tree, contingency_table(leaf, labels)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_flat_scores_match_scikit_learn(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    n, k, c = 500, 3 + 4 * seed, 2 + 3 * seed
    labels = rng.integers(0, c, n)
    leaf = np.where(rng.random(n) < 0.5, labels % k, rng.integers(0, k, n))
    table = contingency_table(leaf, labels)
    assert nmi(table) == pytest.approx(metrics.normalized_mutual_info_score(labels, leaf), abs=1e-12)
    assert ari(table) == pytest.approx(metrics.adjusted_rand_score(labels, leaf), abs=1e-12)


@pytest.mark.parametrize(
    "a, b",
    [([0, 0, 0], [1, 1, 1]), ([0, 1, 2], [0, 1, 2]), ([0, 0, 1], [0, 0, 0]), ([0, 1, 2, 3], [0, 0, 0, 0]), ([5], [2])],
)
def test_flat_scores_edge_cases_match_scikit_learn(a, b):
    metrics = pytest.importorskip("sklearn.metrics")
    table = contingency_table(a, b)
    assert nmi(table) == pytest.approx(metrics.normalized_mutual_info_score(b, a))
    assert ari(table) == pytest.approx(metrics.adjusted_rand_score(b, a))


def test_ari_does_not_overflow_at_imagenet_scale():
    # N ~ 1.28M: tp * tn ~ 1e24 would overflow int64.
    table = np.diag(np.full(1000, 1281)).astype(np.int64)
    table[0, 1] = 167
    assert 0.99 < ari(table) < 1.0


def test_accuracy_rectangular_more_clusters_than_classes():
    # 4 clusters, 2 classes: only two clusters can be matched.
    table = np.array([[5, 0], [3, 1], [0, 4], [0, 2]])
    assert accuracy(table) == pytest.approx((5 + 4) / 15)
    assert accuracy(table.T) == pytest.approx((5 + 4) / 15)  # more classes than clusters
    assert leaf_purity(table) == pytest.approx((5 + 3 + 4 + 2) / 15)


def test_accuracy_matches_exhaustive_matching():
    rng = np.random.default_rng(3)
    table = rng.integers(0, 9, size=(5, 3))
    best = max(
        sum(table[r, c] for r, c in zip(rows, range(3), strict=False)) for rows in itertools.permutations(range(5), 3)
    )
    assert accuracy(table) == pytest.approx(best / table.sum())


# ---------------------------------------------------------------------------------------------- exact values
def test_docstring_example_values():
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    scores = evaluate(tree, [0, 0, 0, 0, 1, 1, 1], assignments=[0, 0, 1, 1, 2, 3, 3], levels=[2])
    assert scores["dp"] == 1.0
    assert scores["lhd"] == pytest.approx(0.5)
    assert scores["mean_path_length"] == 2.0
    assert scores["levels"][2] == {"nmi": 1.0, "ari": 1.0, "acc": 1.0, "lp": 1.0}


def test_perfect_hierarchy_scores_dp_one_and_lhd_zero():
    rng = np.random.default_rng(0)
    tree = Hierarchy.from_merges(random_merges(10, rng))
    labels = rng.integers(0, 10, 500)
    scores = evaluate(tree, labels, assignments=labels, levels=[10])
    assert scores["dp"] == 1.0
    assert scores["lhd"] == 0.0 and scores["mean_path_length"] == 0.0
    assert scores["nmi"] == scores["ari"] == scores["acc"] == scores["lp"] == 1.0


def test_hand_computed_dendrogram_purity():
    # ((0,1),2): class 0 at leaves 0 and 2 (one point each), class 1 twice at leaf 1.
    tree = Hierarchy.from_merges([[0, 1], [3, 2]])
    table = np.array([[1, 0], [0, 2], [1, 0]])
    # Class-0 pair: LCA = root, purity 2/4; class-1 pair: inside leaf 1, purity 1.
    assert dendrogram_purity(tree, table) == pytest.approx((0.5 + 1.0) / 2)
    lhd, mean_path = least_hierarchical_distance(tree, table)
    assert mean_path == 3.0  # leaf 0 -> node 3 -> root -> leaf 2
    assert lhd == pytest.approx(math.log(3) / math.log(3))


def test_dendrogram_purity_nan_without_pairs():
    tree = Hierarchy.from_merges([[0, 1]])
    assert math.isnan(dendrogram_purity(tree, np.array([[1, 0], [0, 1]])))
    assert scores_to_json(evaluate(tree, [0, 1], assignments=[0, 1]))["dp"] is None


def test_node_class_counts_sum_children():
    tree, leaf, labels = random_case(1)
    counts = node_class_counts(tree, contingency_table(leaf, labels, n_leaves=tree.n_leaves))
    assert np.array_equal(counts[tree.root], np.bincount(labels))
    for t, (a, b) in enumerate(tree.merges):
        assert np.array_equal(counts[tree.n_leaves + t], counts[a] + counts[b])


# ---------------------------------------------------------------------------------------------- invariants
def test_permuting_label_ids_changes_nothing():
    tree, leaf, labels = random_case(4, n=300, k=9, c=6)
    perm = np.random.default_rng(1).permutation(6)
    a = evaluate(tree, labels, assignments=leaf, levels=[2, 5])
    b = evaluate(tree, perm[labels], assignments=leaf, levels=[2, 5])
    c = evaluate(tree, np.array([f"class {x}" for x in labels]), assignments=leaf, levels=[2, 5])
    for other in (b, c):
        assert other.keys() == a.keys()
        for key in RESULT_KEYS[:-1]:
            assert other[key] == pytest.approx(a[key], rel=1e-12), key
        for k in a["levels"]:
            assert other["levels"][k] == pytest.approx(a["levels"][k], rel=1e-12)


def test_empty_leaves_and_missing_classes_are_harmless():
    tree, leaf, labels = random_case(2, n=200, k=8, c=4, empty_leaves=2)
    base = evaluate(tree, labels, assignments=leaf)
    # Classes 0..3 renamed to 0, 3, 7, 9: ids 1, 2, 4.. have no points (empty table columns).
    sparse = evaluate(tree, np.array([0, 3, 7, 9])[labels], assignments=leaf)
    for key in RESULT_KEYS[:-1]:
        assert sparse[key] == pytest.approx(base[key], rel=1e-12)
    table = contingency_table(leaf, np.array([0, 3, 7, 9])[labels], n_leaves=8)
    distances = class_distance_matrix(tree, table)
    assert np.isnan(distances[1]).all() and np.isnan(distances[:, 1]).all()
    assert np.isfinite(distances[np.ix_([0, 3, 7, 9], [0, 3, 7, 9])]).all()
    assert np.allclose(distances, distances.T, equal_nan=True)


def test_evaluate_with_logits_equals_assignments():
    tree, leaf, labels = random_case(5, k=6)
    logits = np.random.default_rng(0).normal(size=(len(leaf), 6))
    logits[np.arange(len(leaf)), leaf] += 20
    assert evaluate(tree, labels, logits=logits, levels=[3]) == evaluate(tree, labels, assignments=leaf, levels=[3])


def test_evaluate_returns_exactly_the_json_keys():
    tree, leaf, labels = random_case(6)
    scores = evaluate(tree, labels, assignments=leaf, levels=(3, 1, 7))
    assert tuple(scores) == RESULT_KEYS
    assert list(scores["levels"]) == [3, 1, 7]
    assert all(tuple(v) == ("nmi", "ari", "acc", "lp") for v in scores["levels"].values())
    assert scores["levels"][7] == pytest.approx({k: scores[k] for k in ("nmi", "ari", "acc", "lp")})
    assert scores["levels"][1]["nmi"] == 0.0 and scores["levels"][1]["ari"] == 0.0
    assert scores["n_points"] == len(leaf) and scores["n_leaves"] == 7


def test_level_scores_against_coarse_labels():
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    leaf = np.repeat(np.arange(4), 5)
    fine = leaf.copy()
    coarse = leaf // 2
    scores = evaluate(tree, fine, assignments=leaf, levels=[2], coarse_labels=coarse)
    assert scores["levels"][2] == {"nmi": 1.0, "ari": 1.0, "acc": 1.0, "lp": 1.0}
    table = contingency_table(leaf, fine)
    assert level_scores(tree, table, [2])[2]["acc"] == 0.5


def test_encode_labels():
    codes, classes = encode_labels(np.array([3.0, 1.0, 3.0]))
    assert codes.tolist() == [3, 1, 3] and classes.tolist() == [0, 1, 2, 3]
    codes, classes = encode_labels([-5, 7, -5])
    assert codes.tolist() == [0, 1, 0] and classes.tolist() == [-5, 7]
    codes, classes = encode_labels(["b", "a", "b"])
    assert codes.tolist() == [1, 0, 1] and classes.tolist() == ["a", "b"]


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"labels": [0, 1, 0], "assignments": [0, 1]}, ValueError, "labels has 3 entries but there are 2 points"),
        ({"labels": [0.5, 1], "assignments": [0, 1]}, ValueError, "labels must be integers; found the non-integer"),
        (
            {"labels": [np.nan, 1], "assignments": [0, 1]},
            ValueError,
            r"labels contain NaN or ±inf in 1 entry; first bad entry is 0 \(0-based\)",
        ),
        ({"labels": [0, 1], "assignments": [0, 4]}, ValueError, r"assignments must be leaf ids in 0..2 .*found 4"),
        ({"labels": [0, 1], "assignments": [-1, 0]}, ValueError, "found -1"),
        ({"labels": [0, 1]}, ValueError, "exactly one of assignments"),
        (
            {"labels": [0, 1], "assignments": [0, 1], "levels": [4]},
            ValueError,
            r"k must be between 1 and the number of leaves \(3\); got 4",
        ),
        (
            {"labels": [0, 1], "assignments": [0, 1], "levels": [0]},
            ValueError,
            r"k must be between 1 and the number of leaves \(3\); got 0",
        ),
        ({"labels": [0, 1], "assignments": [0, 1], "coarse_labels": [0]}, ValueError, "coarse labels has 1"),
        ({"labels": [[0, 1]], "assignments": [0, 1]}, ValueError, "labels must be 1-D"),
        ({"labels": [0, 1], "logits": np.zeros((2, 5))}, ValueError, "5 columns but the hierarchy has 3 leaves"),
    ],
)
def test_evaluate_bad_input(kwargs, error, message):
    tree = Hierarchy.from_merges([[0, 1], [3, 2]])
    labels = kwargs.pop("labels")
    with pytest.raises(error, match=message):
        evaluate(tree, labels, **kwargs)


def test_table_shape_must_match_tree():
    tree = Hierarchy.from_merges([[0, 1], [3, 2]])
    with pytest.raises(ValueError, match="table has 2 rows but the hierarchy has 3 leaves"):
        dendrogram_purity(tree, np.ones((2, 2), dtype=int))
    with pytest.raises(ValueError, match="non-negative"):
        nmi(-np.ones((2, 2)))


# ---------------------------------------------------------------------------------------------- edge cases
@pytest.mark.parametrize(
    "merges, leaf, labels",
    [
        ([[0, 1]], [0], [3]),  # N = 1, K = 2: no pairs at all
        ([[0, 1]], [1, 1], [17, 17]),  # N = 2, one shared leaf
        ([[0, 1]], [0, 1], [17, 17]),  # N = 2, K = 2, split pair
        ([[0, 1], [3, 2]], [2, 2, 2, 2], [1000, 3, 1000, 3]),  # everything in one leaf, sparse ids
        ([[0, 1], [2, 3], [4, 5]], [0, 3, 3, 1], [-1, -1, 5, -1]),  # -1 is a class like any other
        ([[0, 1], [2, 3], [5, 4]], [0, 3, 1, 3, 0], [7, 7, 7, 7, 7]),  # a single class, empty leaf 2
    ],
)
def test_tiny_and_odd_inputs_match_brute_force_and_scikit_learn(merges, leaf, labels):
    metrics = pytest.importorskip("sklearn.metrics")
    tree = Hierarchy.from_merges(merges)
    leaf, labels = np.array(leaf), np.array(labels)
    scores = evaluate(tree, labels, assignments=leaf, levels=range(1, tree.n_leaves + 1))
    expected = brute_force(tree, leaf, labels)
    if math.isnan(expected["dp"]):
        assert math.isnan(scores["dp"]) and scores_to_json(scores)["dp"] is None
    else:
        assert scores["dp"] == pytest.approx(expected["dp"], rel=1e-12)
    assert scores["lhd"] == pytest.approx(expected["lhd"], rel=1e-12, abs=0)
    assert scores["mean_path_length"] == pytest.approx(expected["mean_path_length"], rel=1e-12, abs=0)
    assert scores["nmi"] == pytest.approx(metrics.normalized_mutual_info_score(labels, leaf), abs=1e-12)
    assert scores["ari"] == pytest.approx(metrics.adjusted_rand_score(labels, leaf), abs=1e-12)
    for k, level in scores["levels"].items():
        groups = tree.cut(int(k))[leaf]
        assert level["nmi"] == pytest.approx(metrics.normalized_mutual_info_score(labels, groups), abs=1e-12)
        assert level["ari"] == pytest.approx(metrics.adjusted_rand_score(labels, groups), abs=1e-12)


def test_minus_one_is_an_ordinary_class():
    tree, leaf, labels = random_case(7, n=150, k=6, c=3)
    shifted = evaluate(tree, labels - 1, assignments=leaf)  # classes -1, 0, 1
    assert shifted == evaluate(tree, labels, assignments=leaf)


def test_sparse_label_ids_are_reencoded_not_tabulated():
    # WordNet-offset-like ids on many points: a table indexed by the raw ids would have ~1.4M columns.
    ids = np.array([1440764, 1443537])
    which = np.random.default_rng(0).integers(0, 2, 200_000)
    codes, classes = encode_labels(ids[which])
    assert np.array_equal(codes, which) and classes.tolist() == ids.tolist()
    codes, classes = encode_labels(np.array([0, 2000, 2000]))  # sparse as well
    assert classes.tolist() == [0, 2000]
    codes, classes = encode_labels(np.array([3, 17, 1000]))  # small ids stay ids (absent classes: empty columns)
    assert codes.tolist() == [3, 17, 1000] and len(classes) == 1001


def test_non_integer_label_message_shows_plain_value_and_index():
    # the message once showed NumPy's repr ("np.float64(2.5)") and no position
    with pytest.raises(ValueError) as info:
        encode_labels(np.array([0.0, 2.5, 1.0], dtype=np.float32))
    assert str(info.value) == "labels must be integers; found the non-integer value 2.5 at index 1"


# ---------------------------------------------------------------------------------------------- scale
def caterpillar(k: int) -> Hierarchy:
    """The deepest tree: leaf j + 1 joins the group of leaves 0..j (depth K - 1)."""
    return Hierarchy.from_merges([[0, 1]] + [[k + t - 1, t + 1] for t in range(1, k - 1)])


@pytest.mark.parametrize("seed", range(3))
def test_deep_tree_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    tree = caterpillar(9)
    leaf, labels = rng.integers(0, 9, 70), rng.integers(0, 3, 70)
    table = contingency_table(leaf, labels, n_leaves=9)
    expected = brute_force(tree, leaf, labels)
    assert dendrogram_purity(tree, table) == pytest.approx(expected["dp"], rel=1e-12)
    lhd, mean_path = least_hierarchical_distance(tree, table)
    assert (lhd, mean_path) == pytest.approx((expected["lhd"], expected["mean_path_length"]), rel=1e-12)
    np.testing.assert_allclose(
        class_distance_matrix(tree, table), brute_class_distances(tree, leaf, labels, 3), rtol=1e-12
    )


def test_sparse_and_dense_tables_give_the_same_scores():
    sparse = pytest.importorskip("scipy.sparse")
    tree, leaf, labels = random_case(8, n=400, k=11, c=6, empty_leaves=2)
    dense = contingency_table(leaf, labels, n_leaves=11)
    csr = contingency_table(leaf, labels, n_leaves=11, sparse=True)
    assert sparse.issparse(csr) and np.array_equal(csr.toarray(), dense)
    for table in (csr, sparse.coo_matrix(dense), dense.astype(np.float64)):
        assert nmi(table) == nmi(dense) and ari(table) == ari(dense)
        assert accuracy(table) == accuracy(dense) and leaf_purity(table) == leaf_purity(dense)
        assert dendrogram_purity(tree, table) == dendrogram_purity(tree, dense)
        assert least_hierarchical_distance(tree, table) == least_hierarchical_distance(tree, dense)
        assert level_scores(tree, table, [3, 7]) == level_scores(tree, dense, [3, 7])
        np.testing.assert_array_equal(class_distance_matrix(tree, table), class_distance_matrix(tree, dense))
    assert evaluate_table(tree, csr, levels=[4]) == evaluate(tree, labels, assignments=leaf, levels=[4])


@pytest.mark.parametrize("seed", range(4))
def test_sparse_matching_equals_dense_hungarian(seed):
    from scipy.optimize import linear_sum_assignment

    from l2h.metrics import _check_table, _matched_total

    rng = np.random.default_rng(seed)
    k, c = [(30, 20), (20, 30), (40, 40), (7, 50)][seed]
    table = rng.integers(0, 6, size=(k, c)) * (rng.random((k, c)) < 0.2)
    rows, cols = linear_sum_assignment(table, maximize=True)
    assert _matched_total(_check_table(table), dense_cells=0) == table[rows, cols].sum()


def test_level_groups_are_the_cut():
    from l2h.metrics import _kernels

    rng = np.random.default_rng(3)
    for tree in (Hierarchy.from_merges(random_merges(13, rng)), caterpillar(13)):
        for k in range(1, 14):
            tops = _kernels().cut_tops(tree.merges, 13 - k)
            cut = tree.cut(k)
            # same partition of the leaves
            assert len(set(zip(tops.tolist(), cut.tolist(), strict=True))) == len(set(cut.tolist())) == k


def test_tree_layout_matches_hierarchy():
    from l2h.metrics import _Layout

    rng = np.random.default_rng(4)
    for tree in (Hierarchy.from_merges(random_merges(17, rng)), caterpillar(17)):
        layout = _Layout.of(tree)
        assert np.array_equal(layout.depth, tree.depth)
        assert np.array_equal(layout.leaves, tree.leaf_counts)
        order = np.argsort(layout.start[: tree.n_leaves])
        assert np.array_equal(order, tree.leaf_order)
        lca = tree.lca_matrix
        for p in range(tree.n_leaves - 1):  # the node between two adjacent leaves is their LCA
            assert layout.gap_node[p] == lca[order[p], order[p + 1]]
            assert layout.gap_depth[p] == tree.depth[layout.gap_node[p]]


def test_range_argmin_table():
    from l2h.metrics import _kernels

    values = np.random.default_rng(5).integers(0, 9, 37)
    table = _kernels().argmin_table(values)
    for lo in range(37):
        for hi in range(lo, 37):
            got = _kernels()._range_argmin(values, table, lo, hi)
            assert values[got] == values[lo : hi + 1].min() and lo <= got <= hi


def test_csv_numbers_are_exactly_python_formatting():
    from l2h.metrics import _kernels

    rng = np.random.default_rng(6)
    values = np.concatenate(
        [
            rng.random(2000) * 40,
            rng.integers(0, 10**7, 500) / rng.integers(1, 10**4, 500),
            np.arange(1, 300) / 128,  # dyadic values: exact ties at the 7th decimal (0.0078125, ...)
            np.arange(0, 400) * 0.5e-6,
            [0.0, 1.0, 2.5, 1234567.0000005, 0.0000005, 0.0000015, 9.9999995],
        ]
    ).reshape(1, -1)
    buf = np.empty(values.size * 24 + 1, dtype=np.uint8)
    ends = np.empty(1, dtype=np.int64)
    _kernels().format_fixed6(values, buf, ends)
    text = buf[: ends[0]].tobytes().decode()
    assert text == "".join(f",{v:.6f}" for v in values[0]) + "\n"
    values[0, 3] = np.nan
    _kernels().format_fixed6(values[:, :5], buf, ends)
    assert buf[: ends[0]].tobytes().decode().split(",")[4] == ""


def test_write_class_distances_streams_blocks_of_rows(tmp_path):
    import csv

    tree, leaf, labels = random_case(9, n=300, k=8, c=7)
    table = contingency_table(leaf, labels, n_leaves=8, n_classes=9)  # classes 7, 8: no points
    names = ["plain", "with,comma", 'with "quotes"', "new\nline", "ünï", "", "x", "y", "z"]
    out = tmp_path / "d.csv"
    write_class_distances(out, tree, table, names, block_rows=2)
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    expected = class_distance_matrix(tree, table)
    assert rows[0] == ["class", *names]
    for name, row, values in zip(names, rows[1:], expected, strict=True):
        assert row == [name, *("" if np.isnan(v) else f"{v:.6f}" for v in values)]
    blocks = list(class_distance_blocks(tree, table, block_rows=4))
    assert [first for first, _ in blocks] == [0, 4, 8]
    np.testing.assert_array_equal(np.vstack([b for _, b in blocks]), expected)
    with pytest.raises(ValueError, match="class_names has 2 names but the table has 9 classes"):
        write_class_distances(out, tree, table, ["a", "b"])


def test_no_dense_leaf_by_class_arrays_at_large_k_and_c():
    # K = C = 3000: a dense K x C table is 72 MB, K x K x C would be 216 GB; the scores stay O(nnz + K).
    import tracemalloc

    rng = np.random.default_rng(10)
    k = c = 3000
    tree = Hierarchy.from_merges(random_merges(k, rng))
    labels = rng.integers(0, c, 60_000)
    leaf = np.where(rng.random(labels.size) < 0.6, labels, rng.integers(0, k, labels.size))
    evaluate(tree, labels[:500], assignments=leaf[:500], levels=[10])  # compile outside the measurement
    tracemalloc.start()
    scores = evaluate(tree, labels, assignments=leaf, levels=[1000, 10])
    table = contingency_table(leaf, labels, n_leaves=k, n_classes=c, sparse=True)
    for _ in class_distance_blocks(tree, table, block_rows=64):
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 24 * 2**20, peak / 2**20
    assert 0 < scores["dp"] < 1 and 0 < scores["acc"] < 1


def test_empty_table_and_block_rows_for_deep_trees():
    from l2h.metrics import _default_block_rows

    tree = caterpillar(6)
    table = np.zeros((6, 3), dtype=np.int64)
    assert math.isnan(dendrogram_purity(tree, table))
    assert least_hierarchical_distance(tree, table) == (0.0, 0.0)
    assert np.isnan(class_distance_matrix(tree, table)).all()
    assert _default_block_rows(1000) == 256 and _default_block_rows(100_000) == 83 and _default_block_rows(10**8) == 1
