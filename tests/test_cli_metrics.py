"""``l2h metrics``, ``l2h cut`` and ``l2h agglomerative`` through click's runner, bad input included."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from l2h import Hierarchy, _system, read_tree, write_tree
from l2h.metrics import RESULT_KEYS, class_distance_matrix, contingency_table, evaluate, scores_to_json
from tests._cli import error_line, run
from tests._trees import random_merges

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
K, N, C = 8, 400, 5


@pytest.fixture()
def case(tmp_path):
    """A tree over K leaves, logits whose argmax is known, labels, assignments."""
    rng = np.random.default_rng(0)
    tree = Hierarchy.from_merges(random_merges(K, rng))
    labels = rng.integers(0, C, N)
    leaf = np.where(rng.random(N) < 0.7, labels, rng.integers(0, K, N))
    logits = rng.normal(size=(N, K)).astype(np.float32)
    logits[np.arange(N), leaf] += 10
    paths = {
        "tree": tmp_path / "tree.nwk",
        "json_tree": tmp_path / "tree.json",
        "logits": tmp_path / "logits.npy",
        "labels": tmp_path / "labels.npy",
        "assignments": tmp_path / "assignments.npy",
    }
    write_tree(tree, paths["tree"])
    write_tree(tree, paths["json_tree"])
    np.save(paths["logits"], logits)
    np.save(paths["labels"], labels)
    np.save(paths["assignments"], leaf)
    return tree, leaf, labels, paths, tmp_path


def test_metrics_json_has_exactly_the_keys_and_matches_library(case):
    tree, leaf, labels, p, _ = case
    result = run("metrics", p["tree"], "--logits", p["logits"], "--labels", p["labels"], "--k", "4,2", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert tuple(scores) == RESULT_KEYS
    assert list(scores["levels"]) == ["4", "2"]
    assert all(set(v) == {"nmi", "ari", "acc", "lp"} for v in scores["levels"].values())
    assert scores == scores_to_json(evaluate(tree, labels, assignments=leaf, levels=[4, 2]))  # floats round-trip


def test_metrics_assignments_json_tree_and_text_labels_agree(case):
    _, leaf, labels, p, tmp = case
    names = tmp / "labels.txt"
    names.write_text("".join(f"class {x}\n" for x in labels))
    a = run("metrics", p["tree"], "--logits", p["logits"], "--labels", p["labels"], "--json")
    b = run("metrics", p["json_tree"], "--assignments", p["assignments"], "--labels", names, "--json")
    ints = tmp / "labels_int.txt"
    ints.write_text("\n".join(map(str, labels)) + "\n")
    c = run("metrics", p["tree"], "--assignments", p["assignments"], "--labels", ints, "--json")
    assert a.exit_code == b.exit_code == c.exit_code == 0, (a.output, b.output, c.output)
    assert json.loads(a.stdout) == json.loads(b.stdout) == json.loads(c.stdout)


def test_metrics_table_output(case):
    _, _, _, p, _ = case
    result = run("metrics", p["tree"], "--logits", p["logits"], "--labels", p["labels"], "--k", "3")
    assert result.exit_code == 0, result.output
    for word in ("NMI", "ARI", "ACC", "LP", "DP", "LHD", "mean path", "Levels", "vs labels"):
        assert word in result.stdout


def test_metrics_groups_and_the_deprecated_per_point_coarse_labels(case):
    tree, leaf, labels, p, tmp = case
    coarse_map = np.array([0, 0, 1, 1, 1])
    per_point, per_class = tmp / "coarse_points.npy", tmp / "coarse_map.txt"
    np.save(per_point, coarse_map[labels])
    per_class.write_text("\n".join(map(str, coarse_map)))
    tabbed = tmp / "groups.tsv"
    tabbed.write_text("".join(f"{c}\tgroup {g}\n" for c, g in enumerate(coarse_map)))
    expected = evaluate(tree, labels, assignments=leaf, levels=[2], coarse_labels=coarse_map[labels])
    base = ["metrics", p["tree"], "--assignments", p["assignments"], "--labels", p["labels"], "--k", "2"]
    for flag, coarse in (("--groups", per_class), ("--groups", tabbed), ("--coarse-labels", per_point)):
        result = run(*base, flag, coarse, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["levels"] == scores_to_json(expected)["levels"]
        deprecated = flag == "--coarse-labels"
        assert (
            result.stderr == "note: --coarse-labels is deprecated; use --groups (a class -> group map) instead\n"
        ) == (deprecated), result.stderr
    table = run(*base, "--groups", per_class)
    assert "vs groups" in table.stdout


def test_metrics_class_distances_csv(case):
    tree, leaf, labels, p, tmp = case
    names = tmp / "names.txt"
    names.write_text("".join(f"class {i}\n" for i in range(C + 1)))  # one class absent from the data
    out = tmp / "distances.csv"
    result = run(
        "metrics",
        p["tree"],
        "--assignments",
        p["assignments"],
        "--labels",
        p["labels"],
        "--class-names",
        names,
        "--class-distances",
        out,
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["class"] + [f"class {i}" for i in range(C + 1)]
    assert [r[0] for r in rows[1:]] == [f"class {i}" for i in range(C + 1)]
    expected = class_distance_matrix(tree, contingency_table(leaf, labels, n_leaves=K))
    got = np.array([[float(v) for v in r[1 : C + 1]] for r in rows[1 : C + 1]])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert rows[C + 1][1:] == [""] * (C + 1)  # the absent class: no pairs, empty cells


def test_metrics_on_digits_end_to_end(tmp_path):
    tree = tmp_path / "digits.nwk"
    assert run("build", EXAMPLES / "digits_logits.npy", "--out", tree, "-q").exit_code == 0
    result = run(
        "metrics",
        tree,
        "--logits",
        EXAMPLES / "digits_logits.npy",
        "--labels",
        EXAMPLES / "digits_labels.npy",
        "--k",
        "10",
        "--json",
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["n_points"] == 1797 and scores["n_leaves"] == 20
    assert 0.5 < scores["nmi"] < 1 and 0.5 < scores["dp"] <= 1


# ---------------------------------------------------------------------------------------------- bad input
def test_labels_of_the_wrong_length(case):
    _, _, labels, p, tmp = case
    short = tmp / "short.npy"
    np.save(short, labels[:10])
    result = run("metrics", p["tree"], "--logits", p["logits"], "--labels", short)
    assert result.exit_code == 1
    assert f"labels file {short} has 10 labels but logits {p['logits']} give {N} points" in error_line(result)


def test_non_integer_labels_in_npy(case):
    _, _, _, p, tmp = case
    bad = tmp / "float_labels.npy"
    np.save(bad, np.linspace(0, 1, N))
    result = run("metrics", p["tree"], "--logits", p["logits"], "--labels", bad)
    assert result.exit_code == 1
    assert f"labels file {bad}: labels must be integers; found the non-integer value" in error_line(result)
    two_d = tmp / "labels_2d.npy"
    np.save(two_d, np.zeros((N, 2), dtype=int))
    result = run("metrics", p["tree"], "--logits", p["logits"], "--labels", two_d)
    assert result.exit_code == 1 and "must hold a 1-D array" in error_line(result)


def test_tree_leaves_do_not_match_logits(case):
    _, _, _, p, tmp = case
    other = tmp / "other.nwk"
    write_tree(Hierarchy.from_merges(random_merges(K + 3, np.random.default_rng(1))), other)
    result = run("metrics", other, "--logits", p["logits"], "--labels", p["labels"])
    assert result.exit_code == 1
    assert f"tree {other} has {K + 3} leaves but logits {p['logits']} have {K} columns" in error_line(result)
    result = run("cut", other, "--k", 2, "--logits", p["logits"])
    assert result.exit_code == 1 and f"has {K + 3} leaves but logits" in error_line(result)


def test_newick_that_does_not_parse(case):
    _, _, _, p, tmp = case
    broken = tmp / "broken.nwk"
    broken.write_text("((0,1),(2,3);\n")
    result = run("metrics", broken, "--logits", p["logits"], "--labels", p["labels"])
    assert result.exit_code == 1
    assert error_line(result).startswith(f"Error: tree file {broken}: Newick")


@pytest.mark.parametrize("levels", ["0", f"{K + 1}", f"3,{K + 5}"])
def test_levels_outside_range(case, levels):
    _, _, _, p, _ = case
    result = run("metrics", p["tree"], "--logits", p["logits"], "--labels", p["labels"], "--k", levels)
    assert result.exit_code == 1
    assert f"k must be between 1 and the number of leaves ({K}); got " in error_line(result)


def test_levels_not_integers_is_a_usage_error(case):
    _, _, _, p, _ = case
    result = run("metrics", p["tree"], "--logits", p["logits"], "--labels", p["labels"], "--k", "a,3")
    assert result.exit_code == 1 and "expected comma-separated integers like 20,10; got 'a'" in result.output


@pytest.mark.parametrize("which", [(), ("logits", "assignments")])
def test_exactly_one_point_source(case, which):
    _, _, _, p, _ = case
    args = [x for w in which for x in (f"--{w}", p[w])]
    result = run("metrics", p["tree"], "--labels", p["labels"], *args)
    assert result.exit_code == 1 and "give exactly one of --logits and --assignments" in result.output


def test_assignments_out_of_range(case):
    _, leaf, _, p, tmp = case
    bad = tmp / "bad_assignments.npy"
    np.save(bad, np.where(np.arange(N) == 5, K + 2, leaf))
    result = run("metrics", p["tree"], "--assignments", bad, "--labels", p["labels"])
    assert result.exit_code == 1
    assert f"assignments file {bad}: assignments must be leaf ids in 0..{K - 1}" in error_line(result)


def test_coarse_labels_of_the_wrong_length(case):
    _, _, _, p, tmp = case
    coarse = tmp / "coarse.npy"
    np.save(coarse, np.zeros(7, dtype=int))
    result = run(
        "metrics",
        p["tree"],
        "--logits",
        p["logits"],
        "--labels",
        p["labels"],
        "--k",
        "2",
        "--coarse-labels",
        coarse,
    )
    assert result.exit_code == 1
    assert f"has 7 entries; expected {N} (one per point) or {C} (one per class id)" in result.stderr.splitlines()[-1]


def test_too_few_class_names_and_bad_csv_suffix(case):
    _, _, _, p, tmp = case
    names = tmp / "names.txt"
    names.write_text("a\nb\n")
    result = run("metrics", p["tree"], "--logits", p["logits"], "--labels", p["labels"], "--class-names", names)
    assert result.exit_code == 1 and f"has 2 names but the labels go up to {C - 1}" in error_line(result)
    result = run(
        "metrics",
        p["tree"],
        "--logits",
        p["logits"],
        "--labels",
        p["labels"],
        "--class-distances",
        tmp / "d.txt",
    )
    assert result.exit_code == 1 and "expected a .csv file" in result.output


def test_class_names_may_list_more_classes_but_not_fewer(case):
    # a names file for the whole dataset is normal when the test set lacks classes; a label without a name is not
    _, _, labels, p, tmp = case
    assert labels.max() == C - 1
    base = ["metrics", p["tree"], "--assignments", p["assignments"], "--labels", p["labels"], "--json"]
    plain = run(*base)
    assert plain.exit_code == 0, plain.output
    names = tmp / "names.txt"
    for count in (C, C + 3):  # exactly the largest id + 1, and more
        names.write_text("".join(f"class {i}\n" for i in range(count)))
        named = run(*base, "--class-names", names)
        assert named.exit_code == 0, named.output
        assert json.loads(named.stdout) == json.loads(plain.stdout)
    names.write_text("".join(f"class {i}\n" for i in range(C - 1)))  # one short: class C-1 has no name
    short = run(*base, "--class-names", names)
    assert short.exit_code == 1
    assert error_line(short) == f"Error: --class-names file {names} has {C - 1} names but the labels go up to {C - 1}"
    assert short.stdout == ""


def test_missing_files(case):
    _, _, _, p, tmp = case
    result = run("metrics", tmp / "nope.nwk", "--logits", p["logits"], "--labels", p["labels"])
    assert result.exit_code == 1 and "tree file not found" in error_line(result)
    result = run("metrics", p["tree"], "--logits", p["logits"], "--labels", tmp / "nope.npy")
    assert result.exit_code == 1 and "labels file not found" in error_line(result)


# ---------------------------------------------------------------------------------------------- cut
def test_cut_lists_groups_and_writes_point_groups(case):
    tree, leaf, _, p, tmp = case
    out = tmp / "groups.npy"
    result = run("cut", p["tree"], "--k", 3, "--assignments", p["assignments"], "--out", out, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [g["group"] for g in doc["groups"]] == [0, 1, 2]
    groups = tree.cut(3)
    for g in doc["groups"]:
        assert sorted(int(x) for x in g["leaves"]) == np.flatnonzero(groups == g["group"]).tolist()
        assert g["n_points"] == int(np.sum(groups[leaf] == g["group"]))
    assert np.array_equal(np.load(out), groups[leaf])
    table = run("cut", p["tree"], "--k", 3, "--logits", p["logits"])
    assert table.exit_code == 0 and "3 groups of 8 leaves" in table.stdout


def test_cut_bad_input(case):
    _, _, _, p, tmp = case
    result = run("cut", p["tree"], "--k", K + 1)
    assert result.exit_code == 1 and f"k must be between 1 and the number of leaves ({K}); got {K + 1}" in error_line(
        result
    )
    result = run("cut", p["tree"], "--k", 2, "--out", tmp / "g.npy")
    assert result.exit_code == 1 and "give --logits or --assignments" in result.output
    result = run("cut", p["tree"], "--k", 2, "--logits", p["logits"], "--assignments", p["assignments"])
    assert result.exit_code == 1 and "at most one of" in result.output


def test_unknown_tree_suffix_offers_no_format_option(case):
    # Regression: the message ended "or --format", an option metrics and cut do not have.
    _, _, _, p, tmp = case
    tree = tmp / "tree.txt"
    tree.write_text(p["tree"].read_text())
    expected = f"Error: cannot tell the tree format of {tree} from its suffix; use .nwk/.newick, .json or .npy"
    scored = run("metrics", tree, "--assignments", p["assignments"], "--labels", p["labels"])
    cut = run("cut", tree, "--k", 2)
    assert scored.exit_code == cut.exit_code == 1
    assert error_line(scored) == error_line(cut) == expected


# ---------------------------------------------------------------------------------------------- agglomerative
def test_agglomerative_writes_tree_and_assignments_scored_by_metrics(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    emb = rng.normal(size=(4, 3))[labels] * 5 + rng.normal(size=(200, 3))
    np.save(tmp_path / "emb.npy", emb)
    np.save(tmp_path / "labels.npy", labels)
    for suffix in (".nwk", ".json", ".npy"):
        out, assign = tmp_path / f"ward{suffix}", tmp_path / f"ward_assign{suffix}.npy"
        result = run(
            "agglomerative", tmp_path / "emb.npy", "--clusters", 6, "--out", out, "--assignments-out", assign, "--json"
        )
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["n_clusters"] == 6 and summary["n_points"] == 200
        assert read_tree(out).n_leaves == 6
        assert np.load(assign).shape == (200,)
        scored = run("metrics", out, "--assignments", assign, "--labels", tmp_path / "labels.npy", "--json")
        assert scored.exit_code == 0, scored.output
        assert json.loads(scored.stdout)["nmi"] > 0.9


def test_agglomerative_bad_input(tmp_path):
    np.save(tmp_path / "emb.npy", np.zeros((10, 2)))
    np.save(tmp_path / "flat.npy", np.zeros(10))
    base = ["--out", tmp_path / "t.nwk", "--assignments-out", tmp_path / "a.npy"]
    result = run("agglomerative", tmp_path / "emb.npy", "--clusters", 11, *base)
    expected = "Error: Invalid value for --clusters: must be between 2 and the number of points (10); got 11"
    assert result.exit_code == 1 and error_line(result) == expected
    assert not (tmp_path / "t.nwk").exists()
    result = run("agglomerative", tmp_path / "flat.npy", "--clusters", 2, *base)
    assert result.exit_code == 1 and "embeddings must be 2-D (n_points, n_dims); got shape (10,)" in error_line(result)
    result = run(
        "agglomerative",
        tmp_path / "emb.npy",
        "--clusters",
        2,
        "--out",
        tmp_path / "t.txt",
        "--assignments-out",
        tmp_path / "a.npy",
    )
    assert result.exit_code == 1 and error_line(result).endswith("use .nwk/.newick, .json or .npy, or --format")
    result = run(
        "agglomerative",
        tmp_path / "emb.npy",
        "--clusters",
        2,
        "--out",
        tmp_path / "t.nwk",
        "--assignments-out",
        tmp_path / "a.txt",
    )
    assert result.exit_code == 1 and "expected a .npy file" in result.output
    assert not (tmp_path / "t.nwk").exists()


# ---------------------------------------------------------------------------------------------- edge semantics
def _no_nan_constants(token: str):
    raise AssertionError(f"JSON output holds the non-standard token {token}")


def test_json_is_strict_and_dp_is_null_without_same_label_pairs(tmp_path):
    tree = Hierarchy.from_merges([[0, 1], [3, 2]])
    write_tree(tree, tmp_path / "t.nwk")
    np.save(tmp_path / "a.npy", np.array([0, 1, 2]))
    np.save(tmp_path / "y.npy", np.array([4, 5, 6]))  # no two points share a label
    args = (
        "metrics",
        tmp_path / "t.nwk",
        "--assignments",
        tmp_path / "a.npy",
        "--labels",
        tmp_path / "y.npy",
        "--k",
        "2",
    )
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout, parse_constant=_no_nan_constants)  # the whole stdout is one document
    assert tuple(scores) == RESULT_KEYS and scores["dp"] is None
    assert scores["lhd"] == 0.0 and scores["mean_path_length"] == 0.0
    table = run(*args)
    assert table.exit_code == 0 and "n/a" in table.stdout


def test_integral_float_labels_and_minus_one_labels(case):
    tree, leaf, labels, p, tmp = case
    as_float = tmp / "float_labels.npy"
    np.save(as_float, labels.astype(np.float32))
    a = run("metrics", p["tree"], "--assignments", p["assignments"], "--labels", p["labels"], "--json")
    b = run("metrics", p["tree"], "--assignments", p["assignments"], "--labels", as_float, "--json")
    assert a.exit_code == b.exit_code == 0 and json.loads(a.stdout) == json.loads(b.stdout)
    minus = tmp / "minus.txt"  # -1 (e.g. "unlabelled") is scored as one more class
    minus.write_text("".join(f"{x - 1}\n" for x in labels))
    c = run("metrics", p["tree"], "--assignments", p["assignments"], "--labels", minus, "--json")
    assert c.exit_code == 0 and json.loads(c.stdout) == json.loads(a.stdout)
    assert json.loads(c.stdout) == evaluate(tree, labels - 1, assignments=leaf)


def test_newick_with_named_leaves_needs_leaf_names(tmp_path):
    """`l2h build --names` writes names into the Newick: read back alone, leaf j is not column j."""
    rng = np.random.default_rng(3)
    n, k = 300, 6
    leaf = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), leaf] += 5
    np.save(tmp_path / "logits.npy", logits)
    np.save(tmp_path / "labels.npy", leaf % 3)
    names = tmp_path / "names.txt"
    names.write_text("".join(f"cls_{c}\n" for c in "abcdef"))
    for suffix in (".nwk", ".json"):
        result = run("build", tmp_path / "logits.npy", "--out", tmp_path / f"t{suffix}", "--leaf-names", names, "-q")
        assert result.exit_code == 0, result.output
    base = ("--logits", tmp_path / "logits.npy", "--labels", tmp_path / "labels.npy", "--json")
    refused = run("metrics", tmp_path / "t.nwk", *base)
    assert refused.exit_code == 1
    assert "names its leaves ('cls_" in error_line(refused) and "pass --leaf-names" in error_line(refused)
    named = run("metrics", tmp_path / "t.nwk", "--leaf-names", names, *base)
    from_json = run("metrics", tmp_path / "t.json", *base)
    assert named.exit_code == from_json.exit_code == 0, (named.output, from_json.output)
    assert json.loads(named.stdout) == json.loads(from_json.stdout)
    cut = run("cut", tmp_path / "t.nwk", "--k", 2, "--logits", tmp_path / "logits.npy")
    assert cut.exit_code == 1 and "pass --leaf-names" in error_line(cut)
    assert run("cut", tmp_path / "t.nwk", "--k", 2).exit_code == 0  # no points: names are fine


def test_class_names_index_class_ids(case):
    tree, leaf, labels, p, tmp = case
    sparse = tmp / "sparse.npy"
    np.save(sparse, labels * 2)  # ids 0, 2, 4, 6, 8: the odd ids are classes without points
    names = tmp / "names.txt"
    names.write_text("".join(f"c{i}\n" for i in range(2 * C)))
    out = tmp / "d.csv"
    result = run(
        "metrics",
        p["tree"],
        "--assignments",
        p["assignments"],
        "--labels",
        sparse,
        "--class-names",
        names,
        "--class-distances",
        out,
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.open()))
    assert rows[0][1:] == [f"c{i}" for i in range(2 * C)]
    expected = class_distance_matrix(tree, contingency_table(leaf, labels, n_leaves=K))
    got = np.array([[float(rows[1 + 2 * i][1 + 2 * j]) for j in range(C)] for i in range(C)])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert rows[2][1:] == [""] * (2 * C)  # c1: no points
    negative = tmp / "negative.npy"
    np.save(negative, labels - 1)
    result = run("metrics", p["tree"], "--assignments", p["assignments"], "--labels", negative, "--class-names", names)
    assert result.exit_code == 1 and "--class-names names class ids 0..C-1, but the labels include -1" in error_line(
        result
    )


def test_per_class_coarse_map_needs_class_ids(case):
    _, _, labels, p, tmp = case
    negative = tmp / "negative.npy"
    np.save(negative, labels - 1)
    coarse = tmp / "coarse.txt"
    coarse.write_text("0\n0\n1\n1\n1\n")
    result = run(
        "metrics",
        p["tree"],
        "--assignments",
        p["assignments"],
        "--labels",
        negative,
        "--k",
        "2",
        "--coarse-labels",
        coarse,
    )
    assert result.exit_code == 1
    assert f"has 5 entries; expected {N} (one per point)" in result.stderr.splitlines()[-1]


def test_string_npy_labels_point_to_the_text_format(case):
    _, _, labels, p, tmp = case
    strings = tmp / "strings.npy"
    np.save(strings, np.array([f"class {x}" for x in labels]))
    result = run("metrics", p["tree"], "--assignments", p["assignments"], "--labels", strings)
    assert result.exit_code == 1
    assert f"labels file {strings} holds strings (dtype <U7); a .npy of labels must hold integer" in error_line(result)


def test_missing_point_files_and_output_folder(case):
    _, _, _, p, tmp = case
    result = run("metrics", p["tree"], "--assignments", tmp / "nope.npy", "--labels", p["labels"])
    assert result.exit_code == 1 and error_line(result) == f"Error: assignments file not found: {tmp / 'nope.npy'}"
    result = run("metrics", p["tree"], "--logits", tmp / "nope.npy", "--labels", p["labels"])
    assert result.exit_code == 1 and error_line(result) == f"Error: logits file not found: {tmp / 'nope.npy'}"
    result = run(
        "metrics",
        p["tree"],
        "--logits",
        p["logits"],
        "--labels",
        p["labels"],
        "--k",
        "2",
        "--groups",
        tmp / "nope.txt",
    )
    assert result.exit_code == 1 and "groups file not found" in error_line(result)
    result = run(
        "metrics",
        p["tree"],
        "--logits",
        p["logits"],
        "--labels",
        p["labels"],
        "--class-distances",
        tmp / "no_such_dir" / "d.csv",
    )
    assert result.exit_code == 1 and "--class-distances folder does not exist" in error_line(result)


def test_agglomerative_refuses_sizes_that_do_not_fit(tmp_path, monkeypatch):
    import l2h.agglomerative as agg

    np.save(tmp_path / "emb.npy", np.zeros((3000, 2), dtype=np.float32))
    monkeypatch.setattr(_system, "available_memory", lambda: 2**20)  # 1 MiB: not even scipy's 72 MB of distances
    monkeypatch.setattr(agg, "_import_fastcluster", lambda: None)
    out, assign = tmp_path / "t.nwk", tmp_path / "a.npy"
    result = run("agglomerative", tmp_path / "emb.npy", "--clusters", 5, "--out", out, "--assignments-out", assign)
    assert result.exit_code == 1
    line = error_line(result)
    assert "Ward with scipy on 3,000 points needs about 0.1 GiB" in line and "pip install 'l2h[metrics]'" in line
    assert not out.exists() and not assign.exists()


def test_digits_example_script_reproduces_the_documented_table(tmp_path):
    """examples/digits_end_to_end.sh runs end to end and prints the table that docs/metrics.md shows."""
    import os
    import shutil
    import subprocess
    import sys

    pytest.importorskip("sklearn")
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("needs bash")
    env = dict(
        os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", PYTHON=sys.executable
    )
    done = subprocess.run(
        [bash, str(EXAMPLES / "digits_end_to_end.sh"), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert len(table) == 4, done.stdout[-2000:]
    page = (EXAMPLES.parent / "docs" / "metrics.md").read_text(encoding="utf-8")
    for line in table:
        assert line in page, line
