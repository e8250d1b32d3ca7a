"""Tree formats as plain merges, any depth, and bad JSON trees."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest

from l2h import Hierarchy, InputError, read_tree, treeio, write_tree
from tests._cli import error_line, run
from tests._trees import random_merges


def caterpillar(k: int) -> np.ndarray:
    """Merges of the deepest tree over k leaves: ((((0,1),2),3),...), depth k - 1."""
    merges = np.empty((k - 1, 2), dtype=np.int64)
    merges[0] = [0, 1]
    merges[1:, 0] = k + np.arange(k - 2)
    merges[1:, 1] = np.arange(2, k)
    return merges


def test_tree_modules_do_not_import_each_other_in_a_cycle():
    import ast
    import pathlib

    import l2h

    root = pathlib.Path(l2h.__file__).parent

    def imports(module: str) -> set[str]:
        tree = ast.parse((root / f"{module}.py").read_text())
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("l2h"):
                found.add(node.module)
                found.update(f"l2h.{a.name}" for a in node.names if node.module == "l2h")
        return found

    assert not {"l2h.hierarchy", "l2h.io", "l2h.interop"} & imports("treeio")
    assert not {"l2h.io", "l2h.interop"} & imports("hierarchy")
    assert "l2h.io" not in imports("interop")


def test_parse_newick_returns_plain_merges():
    data = treeio.parse_newick("((a:1,b:1)n3:1,c:2)n4;")
    assert data.merges.tolist() == [[0, 1], [3, 2]]
    assert data.heights.tolist() == [1.0, 2.0]
    assert data.leaf_names == ["a", "b", "c"]
    assert treeio.format_newick(data.merges, data.heights, data.leaf_names) == "((a:1,b:1)n3:1,c:2)n4;"


def test_newick_round_trip_keeps_heights():
    """Heights come back from the branch lengths (they were t + 1 whatever the lengths said)."""
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], heights=[0.5, 1.25, 3.0], leaf_names=list("abcd"))
    back = Hierarchy.from_newick(tree.to_newick())
    np.testing.assert_array_equal(back.linkage, tree.linkage)


@pytest.mark.parametrize("seed", range(3))
def test_merge_order_from_lengths_and_from_topology(seed):
    rng = np.random.default_rng(seed)
    tree = Hierarchy.from_merges(random_merges(12, rng), heights=np.sort(rng.random(11)) + 1)
    for kwargs in ({"internal_labels": False}, {"internal_labels": False, "branch_lengths": False}):
        back = Hierarchy.from_newick(tree.to_newick(**kwargs))
        assert back.same_topology(tree)
    no_labels = Hierarchy.from_newick(tree.to_newick(internal_labels=False))
    np.testing.assert_allclose(no_labels.heights, tree.heights)


@pytest.mark.slow
def test_100000_deep_caterpillar_round_trips_in_newick_and_json(tmp_path):
    k = 100_001
    tree = Hierarchy.from_merges(caterpillar(k))
    assert tree.depth.max() == k - 1
    assert tree.leaves_under(tree.root).tolist() == list(range(k))
    assert tree.cut(3).tolist()[:4] == [0, 0, 0, 0] and tree.cut(3)[-2:].tolist() == [1, 2]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # nothing may recurse over the nodes
    try:
        text = tree.to_newick()
        assert text.startswith("(" * (k - 1) + "0:1,1:1)n100001:1,2:2)")
        back = Hierarchy.from_newick(text)
        np.testing.assert_array_equal(back.linkage, tree.linkage)
        for suffix in (".nwk", ".json"):
            path = tmp_path / f"deep{suffix}"
            write_tree(tree, path)
            again = read_tree(path)
            np.testing.assert_array_equal(again.linkage, tree.linkage)
    finally:
        sys.setrecursionlimit(limit)


def test_deep_newick_without_labels_or_lengths_keeps_the_order():
    """The topological-order path of the reader, past the recursion limit."""
    tree = Hierarchy.from_merges(caterpillar(3001))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        bare = Hierarchy.from_newick(tree.to_newick(internal_labels=False, branch_lengths=False))
    finally:
        sys.setrecursionlimit(limit)
    np.testing.assert_array_equal(bare.linkage, tree.linkage)


@pytest.mark.slow
def test_cli_cut_reads_a_100000_deep_newick(tmp_path):
    k = 100_001
    path = tmp_path / "deep.nwk"
    write_tree(Hierarchy.from_merges(caterpillar(k)), path)
    np.save(tmp_path / "a.npy", np.array([0, 5, k - 1, k - 2]))
    result = run("cut", path, "--k", 3, "--assignments", tmp_path / "a.npy", "--out", tmp_path / "g.npy", "--json")
    assert result.exit_code == 0, result.output[-2000:]
    groups = json.loads(result.output[result.output.index("{") :])["groups"]
    assert [len(g["leaves"]) for g in groups] == [k - 2, 1, 1]
    assert np.load(tmp_path / "g.npy").tolist() == [0, 0, 2, 1]


def _metrics_tree_args(path):
    import click
    from l2h_cli.main import cli

    command = cli.get_command(click.Context(cli), "metrics")
    params = {p.name: p for p in command.params}
    positional = getattr(params.get("tree_path"), "param_type_name", "") == "argument"
    return [path] if positional else ["--tree", path]


def test_cli_metrics_reads_a_3000_deep_newick(tmp_path):
    """Past Python's recursion limit (~1000); metrics needs K x K distances, so K stays moderate."""
    k = 3001
    tree = Hierarchy.from_merges(caterpillar(k))
    path = tmp_path / "deep.nwk"
    write_tree(tree, path)
    leaves = np.arange(k)
    np.save(tmp_path / "a.npy", leaves)
    np.save(tmp_path / "y.npy", leaves % 2)
    args = _metrics_tree_args(path)
    result = run("metrics", *args, "--assignments", tmp_path / "a.npy", "--labels", tmp_path / "y.npy", "--json")
    assert result.exit_code == 0, result.output[-2000:]
    scores = json.loads(result.output[result.output.index("{") :])
    assert scores["n_leaves"] == k and scores["n_points"] == k


@pytest.mark.parametrize(
    "merges, message",
    [
        ([[0, 1], [3, 1e30]], "merge 1 has the node id 1e+30; expected an integer in 0..4"),
        ([[0, 1], [3, 10**30]], "merge 1 has the node id 1000000000000000000000000000000; expected"),
        ([[0, 1.5], [3, 2]], "merge 0 has the node id 1.5"),
        ([[0, "1"], [3, 2]], "merge 0 has the node id '1'"),
        ([[0, True], [3, 2]], "merge 0 has the node id True"),
        ([[0, -1], [3, 2]], "merge 0 has the node id -1"),
        ([[0, 1, 2], [3, 2]], "merge 0 must be a pair [node_a, node_b]"),
        ({"a": 1}, '"merges" must be a list'),
        ([[0, 1], [3, 3]], "merge 1 joins node 3 with itself"),
        ([[0, 1], [0, 2]], "merge 1 reuses node 0"),
    ],
)
def test_absurd_json_merge_ids_are_one_line_errors(tmp_path, merges, message):
    doc = {"format": "l2h-hierarchy", "version": 1, "merges": merges}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=f"^tree file {re.escape(str(path))}: .*{re.escape(message)}") as info:
        read_tree(path)
    assert "\n" not in str(info.value)
    result = run("cut", path, "--k", 2)
    assert result.exit_code == 1 and message in error_line(result)


def test_json_bad_heights_and_names(tmp_path):
    path = tmp_path / "t.json"
    base = {"format": "l2h-hierarchy", "version": 1, "merges": [[0, 1], [3, 2]]}
    for extra, message in (
        ({"heights": [1, "x"]}, r'"heights"\[1\] must be a number or null'),
        ({"heights": [1]}, '"heights" must be a list of 2 numbers'),
        ({"leaf_names": [1, 2, 3]}, '"leaf_names" must be a list of strings'),
        ({"n_leaves": 7}, "says n_leaves=7 but has 3 leaves"),
    ):
        path.write_text(json.dumps({**base, **extra}))
        with pytest.raises(InputError, match=message):
            read_tree(path)


def test_linkage_with_absurd_ids_is_one_line(tmp_path):
    path = tmp_path / "z.npy"
    np.save(path, np.array([[0, 1, 1, 2], [3, 1e30, 2, 3]], dtype=np.float64))
    message = r"^tree file .*z.npy: linkage node ids must be integers within int64; found 1e\+30$"
    with pytest.raises(InputError, match=message):
        read_tree(path)


def test_linkage_is_read_only_and_repr_is_one_short_line():
    info = {"method": "l2h", "aggregation": "cluster-mean", "cluster_sizes": list(range(5000))}
    tree = Hierarchy.from_merges(caterpillar(5000), info=info)
    assert not tree.linkage.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        tree.linkage[0, 2] = 7.0
    with pytest.raises(AttributeError):
        tree.linkage = np.zeros((4999, 4))  # type: ignore[misc]
    assert repr(tree) == "Hierarchy(n_leaves=5000, method='l2h', aggregation='cluster-mean')"
    source = np.array([[0, 1, 1.0, 2.0]])
    Hierarchy(source, ("a", "b"), np.array([np.nan]), np.array([np.nan]))
    assert source.flags.writeable  # the caller's array is copied, not frozen
