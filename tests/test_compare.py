"""Tree-to-taxonomy scores against brute force over pairs and triples, and RF against ete3."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

import l2h.compare as cmp
from l2h import InputError, L2HWarning
from l2h.hierarchy import Hierarchy
from l2h.taxonomy import Taxonomy, parse_newick_taxonomy
from tests._trees import random_merges


def random_taxonomy(rng: np.random.Generator, names: list[str], binary_root: bool = False) -> Taxonomy:
    """A random tree of any arity over ``names`` (unary nodes included, contracted on reading)."""
    nodes = list(names)
    rng.shuffle(nodes)
    while len(nodes) > (2 if binary_root else 1):
        top = min(4, len(nodes) - (1 if binary_root else 0))
        m = int(rng.integers(2, top + 1)) if top >= 2 else 2
        pick = sorted(rng.choice(len(nodes), size=m, replace=False).tolist(), reverse=True)
        group = [nodes.pop(i) for i in pick]
        text = "(" + ",".join(group) + ")"
        if rng.random() < 0.2:
            text = f"({text})"
        nodes.append(text)
    text = ("(" + ",".join(nodes) + ")" if binary_root else nodes[0]) + ";"
    return parse_newick_taxonomy(text)


def ancestors(parent: np.ndarray, leaf: int) -> list[int]:
    out = [leaf]
    while parent[out[-1]] >= 0:
        out.append(int(parent[out[-1]]))
    return out  # leaf first, root last


def brute_lca_depth(parent: np.ndarray, a: int, b: int) -> int:
    pa, pb = ancestors(parent, a), ancestors(parent, b)
    common = set(pa) & set(pb)
    lca = next(v for v in pa if v in common)
    return len(ancestors(parent, lca)) - 1


def brute_scores(tree: Hierarchy, ref: Taxonomy) -> dict:
    """Every score from its definition, with ancestor lists, all pairs and all triples."""
    n = tree.n_leaves
    ref = ref.restrict(list(tree.leaf_names))
    lp, rp = tree.parent, ref.parent
    lca_l = {(a, b): brute_lca_depth(lp, a, b) for a in range(n) for b in range(n)}
    lca_r = {(a, b): brute_lca_depth(rp, a, b) for a in range(n) for b in range(n)}
    depth_l = [len(ancestors(lp, a)) - 1 for a in range(n)]
    depth_r = [len(ancestors(rp, a)) - 1 for a in range(n)]
    pairs = list(itertools.combinations(range(n), 2))
    dl = [depth_l[a] + depth_l[b] - 2 * lca_l[a, b] for a, b in pairs]
    dr = [depth_r[a] + depth_r[b] - 2 * lca_r[a, b] for a, b in pairs]
    resolved = agree = 0
    for i, j, k in itertools.combinations(range(n), 3):
        trio = [(i, j), (i, k), (j, k)]
        r = [lca_r[p] for p in trio]
        best = max(r)
        if sorted(r)[1] < best:  # one pair strictly deepest
            resolved += 1
            pair = trio[r.index(best)]
            lv = [lca_l[p] for p in trio]
            others = [lv[t] for t in range(3) if trio[t] != pair]
            agree += all(lca_l[pair] > o for o in others)

    def clusters(parent: np.ndarray, root_ok: bool) -> set[frozenset[int]]:
        out: dict[int, set[int]] = {}
        for leaf in range(n):
            for v in ancestors(parent, leaf)[1:]:
                out.setdefault(v, set()).add(leaf)
        return {frozenset(s) for s in out.values() if len(s) < n}

    cl, cr = clusters(lp, False), clusters(rp, False)
    levels = {}
    for d in range(1, max(depth_r) + 1):
        groups = []
        for leaf in range(n):
            anc = ancestors(rp, leaf)[::-1]  # root first
            groups.append(anc[d] if len(anc) > d else leaf)
        k = len(set(groups))
        if 1 < k < n:
            cut = tree.cut(k)
            table = np.zeros((k, n + ref.n_nodes), dtype=np.int64)
            for leaf in range(n):
                table[cut[leaf], groups[leaf]] += 1
            rows, cols = linear_sum_assignment(-table)
            levels[d] = {
                "n_groups": k,
                "nmi": normalized_mutual_info_score(groups, cut),
                "ari": adjusted_rand_score(groups, cut),
                "acc": table[rows, cols].sum() / n,
            }
    return {
        "n_classes": n,
        "cophenetic_pearson": pearsonr(dl, dr)[0] if len(set(dr)) > 1 and len(set(dl)) > 1 else math.nan,
        "cophenetic_spearman": spearmanr(dl, dr)[0] if len(set(dr)) > 1 and len(set(dl)) > 1 else math.nan,
        "triplet_agreement": agree / resolved if resolved else math.nan,
        "rf_learned_only": len(cl - cr) / len(cl) if cl else math.nan,
        "rf_reference_only": len(cr - cl) / len(cr) if cr else math.nan,
        "levels": levels,
    }


def assert_close(got: dict, want: dict) -> None:
    for key, value in want.items():
        if key == "levels":
            assert sorted(got["levels"]) == sorted(value)
            for d, scores in value.items():
                for metric, v in scores.items():
                    assert got["levels"][d][metric] == pytest.approx(v, abs=1e-9), (d, metric)
        elif isinstance(value, float) and math.isnan(value):
            assert math.isnan(got[key]), key
        else:
            assert got[key] == pytest.approx(value, abs=1e-9), key


@pytest.mark.parametrize("seed", range(8))
def test_scores_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 16))
    names = [f"c{i}" for i in range(n)]
    tree = Hierarchy.from_merges(random_merges(n, rng), leaf_names=names)
    ref = random_taxonomy(rng, names + ["extra1", "extra2"] * (seed % 2))
    with pytest.warns(L2HWarning) if seed % 2 else _no_warning():
        got = cmp.compare(tree, ref, seed=seed)
    assert set(got) == set(cmp.RESULT_KEYS)
    assert got["triplet_stderr"] == 0.0
    assert_close(got, brute_scores(tree, ref))


class _no_warning:
    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("error", L2HWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def test_identical_and_star_trees() -> None:
    names = [f"c{i}" for i in range(8)]
    rng = np.random.default_rng(1)
    tree = Hierarchy.from_merges(random_merges(8, rng), leaf_names=names)
    same = Taxonomy.from_hierarchy(tree)
    got = cmp.compare(tree, same)
    assert got["cophenetic_pearson"] == pytest.approx(1.0)
    assert got["triplet_agreement"] == 1.0 and got["rf_learned_only"] == 0.0 and got["rf_reference_only"] == 0.0
    assert all(level["nmi"] == pytest.approx(1.0) for level in got["levels"].values())
    star = parse_newick_taxonomy("(" + ",".join(names) + ");")
    got = cmp.compare(tree, star)
    assert math.isnan(got["cophenetic_pearson"]) and math.isnan(got["triplet_agreement"])
    assert got["rf_learned_only"] == 1.0 and math.isnan(got["rf_reference_only"]) and got["levels"] == {}
    assert cmp.result_to_json(got)["cophenetic_pearson"] is None


def test_lca_depths_match_hierarchy() -> None:
    rng = np.random.default_rng(5)
    tree = Hierarchy.from_merges(random_merges(30, rng))
    got = cmp.lca_depths(Taxonomy.from_hierarchy(tree))
    assert np.array_equal(got, tree.depth[tree.lca_matrix])


@pytest.mark.parametrize("seed", range(4))
def test_rf_matches_ete3(seed: int) -> None:
    ete3 = pytest.importorskip("ete3")
    rng = np.random.default_rng(10 + seed)
    n = 25
    names = [f"c{i}" for i in range(n)]
    tree = Hierarchy.from_merges(random_merges(n, rng), leaf_names=names)
    ref = random_taxonomy(rng, names, binary_root=True)  # ete3's rooted RF refuses a root of 3+ children
    got = cmp.compare(tree, ref)
    rf, _, _, parts1, parts2, _, _ = ete3.Tree(tree.to_newick(), format=1).robinson_foulds(
        ete3.Tree(ref.to_newick(), format=1)
    )
    n_learned = n - 2  # a binary tree's clusters without the root
    n_ref = ref.n_nodes - ref.n_leaves - 1
    assert len(parts1) == n_learned + n + 1 and len(parts2) == n_ref + n + 1  # ete3 adds leaves and the root
    assert got["rf_learned_only"] * n_learned + got["rf_reference_only"] * n_ref == pytest.approx(rf)
    assert got["rf_learned_only"] == pytest.approx(len(parts1 - parts2) / n_learned)
    assert got["rf_reference_only"] == pytest.approx(len(parts2 - parts1) / n_ref)


def test_sampled_triplets_agree_with_exact(monkeypatch) -> None:
    rng = np.random.default_rng(7)
    n = 320
    names = [f"c{i}" for i in range(n)]
    tree = Hierarchy.from_merges(random_merges(n, rng), leaf_names=names)
    ref = random_taxonomy(rng, names)
    monkeypatch.setattr(cmp, "N_TRIPLET_SAMPLES", 200_000)
    sampled = cmp.compare(tree, ref, seed=3)
    assert sampled["triplet_stderr"] > 0
    again = cmp.compare(tree, ref, seed=3)
    assert again["triplet_agreement"] == sampled["triplet_agreement"]  # seeded
    monkeypatch.setattr(cmp, "EXACT_TRIPLETS_MAX", 400)
    exact = cmp.compare(tree, ref)
    assert exact["triplet_stderr"] == 0.0
    assert abs(sampled["triplet_agreement"] - exact["triplet_agreement"]) < 5 * sampled["triplet_stderr"]


def test_random_baseline() -> None:
    rng = np.random.default_rng(2)
    names = [f"c{i}" for i in range(12)]
    tree = Hierarchy.from_merges(random_merges(12, rng), leaf_names=names)
    ref = random_taxonomy(rng, names)
    got = cmp.compare(tree, ref, random_trees=5, seed=4)
    base = got["random_baseline"]
    assert base["n_trees"] == 5 and set(base) == set(cmp.RESULT_KEYS) | {"n_trees"}
    runs = []
    rng = np.random.default_rng(4)
    for r in range(5):
        runs.append(cmp.tree_scores(cmp.random_hierarchy(names, rng), ref.restrict(names), seed=5 + r))
    assert base["triplet_agreement"] == pytest.approx(np.mean([x["triplet_agreement"] for x in runs]))
    assert cmp.compare(tree, ref, random_trees=5, seed=4)["random_baseline"] == base


def test_random_hierarchy_is_uniform_over_first_merges() -> None:
    rng = np.random.default_rng(0)
    counts = np.zeros((4, 4))
    for _ in range(3000):
        a, b = cmp.random_hierarchy(["a", "b", "c", "d"], rng).merges[0]
        counts[min(a, b), max(a, b)] += 1
    pairs = counts[np.triu_indices(4, 1)]
    assert pairs.min() > 400 and pairs.max() < 600  # 6 pairs, 500 each on average


def test_restrict_hierarchy_keeps_merge_order() -> None:
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5], [6, 7]], leaf_names=list("abcde"))  # ((c,d),(e,(a,b)))
    sub = cmp.restrict_hierarchy(tree, [4, 0, 2])
    assert sub.leaf_names == ("e", "a", "c")
    assert sub.merges.tolist() == [[0, 1], [2, 3]]  # (e, a), then c with them
    assert sub.heights.tolist() == [3.0, 4.0]


def test_unknown_leaves_are_an_error() -> None:
    tree = Hierarchy.from_merges([[0, 1], [2, 3]], leaf_names=["a", "b", "zz"])
    ref = parse_newick_taxonomy("((a,b),c);")
    with pytest.raises(InputError, match="1 of the tree's 3 leaves are not in the reference \\('zz'\\)"):
        cmp.compare(tree, ref)


def test_majority_mode_expands_the_reference() -> None:
    ref = parse_newick_taxonomy("((cat,dog)mammal,(trout,carp)fish);")
    # 6 leaves: two cats, a dog, a trout, an empty leaf, a carp
    classes = ["cat", "cat", "dog", "trout", None, "carp"]
    leaf_names = [str(j) for j in range(6)]
    expanded, kept = cmp.reference_for_leaves(ref, classes, leaf_names)
    assert kept.tolist() == [0, 1, 2, 3, 5]
    assert expanded.leaf_names == ("0", "1", "2", "3", "5")
    got = {frozenset(expanded.leaf_names[i] for i in expanded.layout[0][s:e]) for s, e in _ranges(expanded)}
    assert got == {
        frozenset({"0", "1", "2", "3", "5"}),
        frozenset({"0", "1", "2"}),
        frozenset({"0", "1"}),
        frozenset({"3", "5"}),
    }
    with pytest.raises(InputError, match="not leaves of the reference"):
        cmp.reference_for_leaves(ref, ["cat", "lion"], ["0", "1"])
    with pytest.warns(L2HWarning, match="1 of the reference's 4 classes"):
        cmp.reference_for_leaves(ref, ["cat", "dog", "trout"], ["0", "1", "2"])
    assign = np.array([0, 0, 1, 1, 1, 3])
    labels = np.array([2, 2, 0, 1, 1, 0])
    assert cmp.majority_classes(assign, labels, 4, 3).tolist() == [2, 1, -1, 0]


def _ranges(tax: Taxonomy) -> list[tuple[int, int]]:
    _, start, end = tax.layout
    return [(int(start[v]), int(end[v])) for v in range(tax.n_leaves, tax.n_nodes)]


@pytest.mark.parametrize("seed", range(3))
def test_all_cuts_in_one_pass_match_hierarchy_cut(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tree = Hierarchy.from_merges(random_merges(30, rng))
    cuts = cmp._cuts(tree, list(range(30, 0, -1)))
    for k, groups in cuts.items():
        want = tree.cut(k)
        # the same partition: a one-to-one map between the group numbers
        pairs = set(zip(groups.tolist(), want.tolist(), strict=True))
        assert len(pairs) == len(set(want.tolist())) == len(set(groups.tolist())) == k


@pytest.mark.parametrize("seed", range(6))
def test_flat_scores_match_metrics(seed: int) -> None:
    from l2h.metrics import accuracy, ari, contingency_table, nmi

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 120))
    a = rng.integers(0, int(rng.integers(1, 30)), n)
    b = rng.integers(0, int(rng.integers(1, 30)), n)
    if seed == 0:
        b = a.copy()  # full agreement
    table = contingency_table(a, b)
    got = cmp._flat_scores(a, b)
    assert got["nmi"] == pytest.approx(nmi(table), abs=1e-12)
    assert got["ari"] == pytest.approx(ari(table), abs=1e-12)
    assert got["acc"] == pytest.approx(accuracy(table), abs=1e-12)
