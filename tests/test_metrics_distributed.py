"""``l2h metrics --scheduler/--workers``: the leaf x class table summed over shards on a real Dask
cluster gives exactly the single-machine scores; bad setups are one line with exit code 1."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from l2h import Hierarchy, write_tree
from l2h.io import InputError
from tests._cli import error_line, run
from tests._trees import random_merges

distributed = pytest.importorskip("distributed")

K = 9


def _case(seed: int = 0, n: int = 700):
    rng = np.random.default_rng(seed)
    tree = Hierarchy.from_merges(random_merges(K, rng))
    labels = rng.integers(0, 6, n)
    leaf = np.where(rng.random(n) < 0.6, labels % K, rng.integers(0, K, n))
    logits = rng.normal(size=(n, K)).astype(np.float32)
    logits[np.arange(n), leaf] += 8.0
    return tree, leaf, labels, logits


def _shards(folder, array, cuts):
    folder.mkdir()
    for i, (lo, hi) in enumerate(zip(cuts, cuts[1:], strict=False)):
        np.save(folder / f"part-{i:03d}.npy", array[lo:hi])
    return folder


# ---------------------------------------------------------------------------------------------- without a cluster
@pytest.mark.parametrize("kind", ["logits", "assignments"])
def test_pieces_cover_the_rows_of_both_inputs_exactly(tmp_path, kind):
    from l2h.distributed.table import count_piece, merge_counts, plan_pieces, split_pieces
    from l2h.metrics import contingency_table

    tree, leaf, labels, logits = _case(1)
    points = _shards(tmp_path / "p", logits if kind == "logits" else leaf, [0, 1, 1, 250, 251, 700])  # 1-row, empty
    np.save(tmp_path / "labels.npy", labels)
    pieces = plan_pieces(points, tmp_path / "labels.npy", kind=kind, n_leaves=K)
    assert [p.rows for p in pieces] == [1, 249, 1, 449]
    for chunks in (pieces, split_pieces(pieces, 100)):
        counts = merge_counts([count_piece(p, kind, K) for p in reversed(chunks)])
        table = np.zeros((K, 6), dtype=np.int64)
        table[counts.leaves, counts.labels] = counts.counts
        assert np.array_equal(table, contingency_table(leaf, labels, n_leaves=K)) and counts.n_points == 700


def test_label_values_are_encoded_as_encode_labels_does():
    from l2h.metrics import encode_label_values, encode_labels

    rng = np.random.default_rng(2)
    for labels in (rng.integers(0, 50, 300), rng.integers(-3, 4, 300), np.array([7, 10**6, 7]), np.array([3, 3])):
        codes, classes = encode_labels(labels)
        values = np.unique(labels)
        value_codes, value_classes = encode_label_values(values[::-1], labels.size)
        assert np.array_equal(value_classes, classes)
        assert np.array_equal(value_codes[::-1][np.searchsorted(values, labels)], codes)


@pytest.mark.parametrize(
    "setup, message",
    [
        ("short_labels", "labels have 699 rows in 1 shard(s) but the logits have 700 rows in 2 shard(s)"),
        ("float_labels", "labels shard"),
        ("columns", "the tree has 9 leaves but the logits shards have 8 columns"),
    ],
)
def test_bad_shards_are_one_line_before_any_cluster(tmp_path, monkeypatch, setup, message):
    from l2h.distributed import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1.0)
    tree, leaf, labels, logits = _case(3)
    write_tree(tree, tmp_path / "tree.json")
    if setup == "columns":
        logits = logits[:, :8]
    _shards(tmp_path / "p", logits, [0, 300, 700])
    np.save(
        tmp_path / "labels.npy", labels[:699] if setup == "short_labels" else labels + 0.5 * (setup == "float_labels")
    )
    # an unreachable scheduler: the shards are checked before it is contacted
    result = run("metrics", tmp_path / "tree.json", "--logits", tmp_path / "p", "--labels",
                 tmp_path / "labels.npy", "--scheduler", "tcp://127.0.0.1:9")  # fmt: skip
    if setup == "float_labels":  # dtype float is fine in the header; the values are checked by the workers
        assert result.exit_code == 1 and "cannot reach the Dask scheduler" in error_line(result)
        from l2h.distributed.table import count_piece, plan_pieces

        piece = plan_pieces(tmp_path / "p", tmp_path / "labels.npy", kind="logits", n_leaves=K)[0]
        with pytest.raises(
            InputError,
            match=rf"labels shard .* must hold integers; found {labels[0] + 0.5} in row 0 \(0-based, whole input\)",
        ) as info:
            count_piece(piece, "logits", K)
        assert "\n" not in str(info.value)
        return
    assert result.exit_code == 1
    assert message in error_line(result)


def test_unreachable_scheduler_is_one_line(tmp_path, monkeypatch):
    from l2h.distributed import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2.0)
    tree, leaf, labels, _ = _case(4)
    write_tree(tree, tmp_path / "tree.json")
    np.save(tmp_path / "leaf.npy", leaf)
    np.save(tmp_path / "labels.npy", labels)
    started = time.monotonic()
    result = run("metrics", tmp_path / "tree.json", "--assignments", tmp_path / "leaf.npy", "--labels",
                 tmp_path / "labels.npy", "--scheduler", "tcp://127.0.0.1:9", "--class-distances",
                 tmp_path / "d.csv")  # fmt: skip
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in error_line(result)
    assert time.monotonic() - started < 30 and not (tmp_path / "d.csv").exists()


def test_a_folder_without_a_cluster_is_one_line(tmp_path):
    tree, leaf, labels, logits = _case(5)
    write_tree(tree, tmp_path / "tree.json")
    _shards(tmp_path / "p", logits, [0, 700])
    np.save(tmp_path / "labels.npy", labels)
    result = run("metrics", tmp_path / "tree.json", "--logits", tmp_path / "p", "--labels",
                 tmp_path / "labels.npy")  # fmt: skip
    assert result.exit_code == 1 and "is a folder (of shards?): add --scheduler" in error_line(result)


# ---------------------------------------------------------------------------------------------- a real cluster
@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1", silence_logs=50
    ) as local:
        yield local.scheduler_address


@pytest.mark.slow
def test_cluster_gives_exactly_the_single_machine_scores(cluster, tmp_path):
    tree, leaf, labels, logits = _case(6, n=3000)
    write_tree(tree, tmp_path / "tree.json")
    np.save(tmp_path / "logits.npy", logits)
    np.save(tmp_path / "labels.npy", labels)
    _shards(tmp_path / "lg", logits, [0, 1000, 1000, 1001, 3000])
    _shards(tmp_path / "lb", labels, [0, 1500, 3000])
    common = ["--k", "5,2", "--json"]
    single = run("metrics", tmp_path / "tree.json", "--logits", tmp_path / "logits.npy", "--labels",
                 tmp_path / "labels.npy", "--class-distances", tmp_path / "one.csv", *common)  # fmt: skip
    sharded = run("metrics", tmp_path / "tree.json", "--logits", tmp_path / "lg", "--labels", tmp_path / "lb",
                  "--class-distances", tmp_path / "many.csv", "--scheduler", cluster, *common)  # fmt: skip
    assert single.exit_code == 0 and sharded.exit_code == 0, sharded.output
    assert json.loads(sharded.stdout) == json.loads(single.stdout)
    assert (tmp_path / "many.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    # leaf ids instead of logits, labels as one file, a class -> coarse class map for the levels
    np.save(tmp_path / "leaf.npy", leaf)
    (tmp_path / "groups.txt").write_text("".join(f"group {c // 2}\n" for c in range(6)))
    coarse = ["--groups", tmp_path / "groups.txt", *common]
    single = run("metrics", tmp_path / "tree.json", "--assignments", tmp_path / "leaf.npy", "--labels",
                 tmp_path / "labels.npy", *coarse)  # fmt: skip
    sharded = run("metrics", tmp_path / "tree.json", "--assignments", tmp_path / "leaf.npy", "--labels",
                  tmp_path / "lb", "--scheduler", cluster, *coarse)  # fmt: skip
    assert single.exit_code == 0 and sharded.exit_code == 0, sharded.output
    assert json.loads(sharded.stdout) == json.loads(single.stdout)


@pytest.mark.slow
def test_bad_leaf_ids_on_a_worker_are_one_line(cluster, tmp_path):
    tree, leaf, labels, _ = _case(7)
    write_tree(tree, tmp_path / "tree.json")
    leaf[650] = K  # out of range, in the second shard
    _shards(tmp_path / "lf", leaf, [0, 600, 700])
    np.save(tmp_path / "labels.npy", labels)
    result = run("metrics", tmp_path / "tree.json", "--assignments", tmp_path / "lf", "--labels",
                 tmp_path / "labels.npy", "--scheduler", cluster, "--class-distances", tmp_path / "d.csv")  # fmt: skip
    assert result.exit_code == 1
    assert "part-001.npy must hold leaf ids in 0..8 (the tree has 9 leaves); found 9" in error_line(result)
    assert not (tmp_path / "d.csv").exists()
