"""l2h.distributed: shard discovery (headers only) and the sharded build's identity with the
single-machine build, on in-process hosts (the Dask transport is tested in test_distributed_dask.py)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from l2h._validation import L2HWarning
from l2h.distributed import open_shards, split_shards
from l2h.distributed.engine import InProcessCluster, build_distributed
from l2h.io import InputError
from l2h.merge import AGGREGATIONS as _AGGREGATIONS
from l2h.merge import STRATEGIES as _STRATEGIES
from l2h.merge import build_hierarchy
from tests.test_merge import FUZZ_KINDS, _fuzz_logits, random_logits

AGGREGATIONS = list(_AGGREGATIONS)  # a tuple or a dict of names, depending on l2h.merge's version
STRATEGIES = list(_STRATEGIES)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", L2HWarning)
        return fn(*args, **kwargs)


def assert_identical(tree, ref):
    """Byte-identical outputs: Newick, JSON, linkage, scores, relatedness, info."""
    np.testing.assert_array_equal(tree.linkage, ref.linkage)
    assert tree.scores.tobytes() == ref.scores.tobytes()
    assert tree.relatedness.tobytes() == ref.relatedness.tobytes()
    assert tree.info == ref.info
    assert tree.to_newick() == ref.to_newick()
    assert tree.to_json() == ref.to_json()


def save_shards(folder, logits, cuts, prefix="part-"):
    """Row blocks of ``logits`` at the row indices ``cuts`` as numbered .npy files; returns the folder."""
    os.makedirs(folder, exist_ok=True)
    bounds = [0, *cuts, logits.shape[0]]
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        np.save(os.path.join(folder, f"{prefix}{i:03d}.npy"), logits[lo:hi])
    return str(folder)


# ---------------------------------------------------------------------------------------------- discovery
def test_folder_of_shards_in_file_name_order(tmp_path):
    logits = random_logits(0, 30, 4).astype(np.float32)
    folder = save_shards(tmp_path / "s", logits, [7, 7, 8, 20])  # includes an empty and a one-row shard
    shards = open_shards(folder)
    assert [s.rows for s in shards] == [7, 0, 1, 12, 10]
    assert [s.offset for s in shards] == [0, 7, 7, 8, 20]
    assert {s.cols for s in shards} == {4} and {s.dtype for s in shards} == {"<f4"}
    np.testing.assert_array_equal(np.concatenate([s.read() for s in shards]), logits)
    pieces = split_shards(shards, 4)
    assert all(0 < p.rows <= 4 for p in pieces) and sum(p.rows for p in pieces) == 30
    np.testing.assert_array_equal(np.concatenate([p.read() for p in pieces]), logits)


def test_driver_reads_headers_only(tmp_path, monkeypatch):
    logits = random_logits(1, 20, 3)
    folder = save_shards(tmp_path / "s", logits, [5])
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("the driver loaded a shard"))
    assert [s.rows for s in open_shards(folder)] == [5, 15]


def test_one_file_zarr_list_and_urls(tmp_path):
    logits = random_logits(2, 25, 5)
    np.save(tmp_path / "one.npy", logits)
    (shard,) = open_shards(tmp_path / "one.npy")
    assert (shard.rows, shard.cols, shard.kind) == (25, 5, "npy")
    url = f"file://{tmp_path / 'one.npy'}"
    np.testing.assert_array_equal(np.concatenate([s.read() for s in split_shards(open_shards(url), 7)]), logits)
    listed = open_shards([tmp_path / "one.npy", str(tmp_path / "one.npy")])
    assert [s.offset for s in listed] == [0, 25]
    zarr = pytest.importorskip("zarr")
    z = zarr.open_array(str(tmp_path / "l.zarr"), mode="w", shape=logits.shape, chunks=(10, 5), dtype="f8")
    z[:] = logits
    (zs,) = open_shards(str(tmp_path / "l.zarr"))
    assert (zs.kind, zs.rows, zs.cols) == ("zarr", 25, 5)
    np.testing.assert_array_equal(np.concatenate([s.read() for s in split_shards([zs], 6)]), logits)


def test_memory_url_rows_are_read_by_ranges():
    fsspec = pytest.importorskip("fsspec")
    logits = random_logits(3, 40, 6)
    import io

    buf = io.BytesIO()
    np.save(buf, logits)
    with fsspec.open("memory://l2h-test/logits.npy", "wb") as fh:
        fh.write(buf.getvalue())
    pieces = split_shards(open_shards("memory://l2h-test/logits.npy"), 9)
    np.testing.assert_array_equal(np.concatenate([p.read() for p in pieces]), logits)


@pytest.mark.parametrize(
    "setup, message",
    [
        ("columns", "has 5 columns; "),
        ("dtypes", "mixed dtypes: "),
        ("gap", "shard part-002.npy is missing (between part-001.npy and part-003.npy)"),
        ("missing", "logits shard not found: "),
        ("not-npy", "is not a .npy file"),
        ("empty-folder", "holds no .npy shards"),
        ("one-d", "must be 2-D (n_points, n_clusters); got shape (4,)"),
        ("nothing", "logits input not found: "),
    ],
)
def test_bad_shards_are_one_line_errors(tmp_path, setup, message):
    folder = tmp_path / "s"
    folder.mkdir()
    np.save(folder / "part-000.npy", np.zeros((3, 4), np.float32))
    np.save(folder / "part-001.npy", np.zeros((3, 4), np.float32))
    source: object = str(folder)
    if setup == "columns":
        np.save(folder / "part-002.npy", np.zeros((3, 5), np.float32))
    elif setup == "dtypes":
        np.save(folder / "part-002.npy", np.zeros((3, 4), np.float64))
    elif setup == "gap":
        np.save(folder / "part-003.npy", np.zeros((3, 4), np.float32))
    elif setup == "missing":
        source = [folder / "part-000.npy", folder / "part-009.npy"]
    elif setup == "not-npy":
        (folder / "part-002.npy").write_text("hello")
    elif setup == "empty-folder":
        source = tmp_path / "empty"
        source.mkdir()
    elif setup == "one-d":
        np.save(folder / "part-002.npy", np.zeros(4, np.float32))
    elif setup == "nothing":
        source = tmp_path / "nope"
    with pytest.raises(InputError) as info:
        open_shards(source)
    text = str(info.value)
    assert message in text and "\n" not in text


# ---------------------------------------------------------------------------------------------- identity
SPLITS = [
    ("one-shard", 1, None),
    ("two-hosts", 2, None),
    ("unequal", 3, "unequal"),
    ("small-shards", 2, 7),
    ("ragged", 4, "ragged"),
]


def _shards(tmp_path, logits, how):
    n = logits.shape[0]
    if how == "unequal":
        cuts = sorted({1, n // 5, n // 2} & set(range(n + 1)))
    elif how == "ragged":  # empty shards, a one-row shard, the rest by cluster (shards without clusters)
        order = np.argsort(logits.argmax(1), kind="stable")
        logits = logits[order]
        cuts = [0, min(1, n), min(1, n), n // 3, n // 3, (2 * n) // 3]
    else:
        return logits, logits
    return logits, save_shards(tmp_path / "shards", logits, cuts)


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("split", SPLITS, ids=[s[0] for s in SPLITS])
def test_identical_to_single_machine(tmp_path, aggregation, strategy, split):
    name, hosts, how = split
    logits = random_logits(11, 90, 9)
    logits[:, 4] -= 30.0  # an empty cluster (soft membership) too
    logits, source = _shards(tmp_path, logits, how)
    ref = quiet(build_hierarchy, logits, aggregation=aggregation, strategy=strategy)
    rows = how if isinstance(how, int) else None
    tree = quiet(
        build_distributed, source, InProcessCluster(hosts), aggregation=aggregation, strategy=strategy,
        max_shard_rows=rows,
    )  # fmt: skip
    assert_identical(tree, ref)


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("kind", FUZZ_KINDS)
def test_fuzz_identical_with_lost_hosts(kind, seed):
    """Every edge case of the single-machine fuzz, cut in random shards over 3 hosts, losing one
    host at a random merge (its shards are reloaded and their state replayed)."""
    rng = np.random.default_rng([FUZZ_KINDS.index(kind), seed, 12])
    logits = _fuzz_logits(kind, rng)
    aggregation = list(AGGREGATIONS)[seed % 3]
    strategy = list(STRATEGIES)[int(rng.integers(2))] if logits.shape[1] <= 24 else "lowest-score"
    ref = quiet(build_hierarchy, logits, aggregation=aggregation, strategy=strategy)
    fail = {int(rng.integers(logits.shape[1] - 1)): int(rng.integers(3))}
    cluster = InProcessCluster(3, fail=fail)
    stats: dict = {}
    rows = 1 + int(rng.integers(logits.shape[0]))
    tree = quiet(
        build_distributed, logits, cluster, aggregation=aggregation, strategy=strategy, max_shard_rows=rows,
        stats=stats,
    )  # fmt: skip
    assert_identical(tree, ref)


def test_ties_and_symmetric_clusters():
    base = np.array([[3.0, 1.0, 1.0, 0.0], [1.0, 3.0, 0.0, 1.0], [1.0, 0.0, 3.0, 1.0], [0.0, 1.0, 1.0, 3.0]])
    logits = np.repeat(base, [5, 5, 5, 5], axis=0)[np.random.default_rng(0).permutation(20)]
    for strategy in STRATEGIES:
        ref = build_hierarchy(logits, strategy=strategy)
        for rows in (1, 3, 7):
            tree = build_distributed(logits, InProcessCluster(3), strategy=strategy, max_shard_rows=rows)
            assert_identical(tree, ref)


def test_every_host_lost_is_one_line():
    from l2h.distributed import ClusterError

    logits = random_logits(5, 60, 6)
    with pytest.raises(ClusterError, match="no Dask worker left") as info:
        build_distributed(logits, InProcessCluster(1, fail={2: 0}))
    assert "\n" not in str(info.value)


def test_nonfinite_row_is_named_in_the_whole_input(tmp_path):
    logits = random_logits(6, 50, 4)
    logits[[33, 41]] = np.nan
    folder = save_shards(tmp_path / "s", logits, [10, 30])
    with pytest.raises(ValueError) as ref:
        build_hierarchy(logits)
    with pytest.raises(ValueError) as info:
        build_distributed(folder, InProcessCluster(2))
    assert str(info.value) == str(ref.value)


def test_dask_array_input():
    da = pytest.importorskip("dask.array")
    logits = random_logits(7, 80, 7)
    arr = da.from_array(logits, chunks=(13, 3))
    shards = open_shards(arr)
    assert [s.rows for s in shards] == list(arr.chunks[0])
    assert_identical(build_distributed(arr, InProcessCluster(2)), build_hierarchy(logits))


def test_build_hierarchy_client_keyword_and_shard_list(tmp_path):
    from l2h import build_hierarchy as public_build

    logits = random_logits(8, 120, 6)
    folder = save_shards(tmp_path / "s", logits, [40, 41])
    ref = build_hierarchy(logits, aggregation="mean")
    assert_identical(public_build(folder, client=InProcessCluster(2), aggregation="mean"), ref)
    assert_identical(public_build(open_shards(folder), client=InProcessCluster(3), aggregation="mean"), ref)


def test_cli_keeps_fsspec_urls_typed_as_input():
    from pathlib import Path

    from l2h_cli._build_dask import raw_source

    assert raw_source(Path("s3://bucket/logits.zarr")) == "s3://bucket/logits.zarr"
    assert raw_source(Path("memory://x/y.npy")) == "memory://x/y.npy"
    assert raw_source(Path("file:///tmp/a.npy")) == "file:///tmp/a.npy"
    assert raw_source(Path("shards/part")) == "shards/part"


# ---------------------------------------------------------------------------------------------- fetching ahead
def test_visit_fetched_ahead_then_merged_as_g_dagger_is_undone():
    """A shard that visited a group ahead of its turn, then applies a merge where that group is G†,
    holds exactly the per-point state of a shard that never visited it."""
    from l2h.distributed.engine import _ShardState

    logits = random_logits(5, 400, 12)
    (shard,) = open_shards(logits)
    options = {"chunk_rows": None, "input": "logits"}
    visited, untouched = _ShardState(shard, options), _ShardState(shard, options)
    counts = visited.run.groups.counts.copy()
    for state in (visited, untouched):
        state.start(counts)
    b, a = (int(c) for c in np.argsort(-counts)[:2])  # two clusters with points
    first = visited.rp(a)
    assert first[0].size > 0 and untouched.rp(a)[0].size > 0  # the same earlier history on both
    visited.rp(b, speculative=True)
    arrays = ("out_hi", "out_lo", "known", "ptr", "top_idx", "base")
    assert any(not np.array_equal(getattr(visited.run, n), getattr(untouched.run, n)) for n in arrays)
    merges = [(a, b, logits.shape[1])]
    for state in (visited, untouched):
        state.advance(merges, 1)
    for name in arrays:
        assert getattr(visited.run, name).tobytes() == getattr(untouched.run, name).tobytes(), name
    assert visited.pending == {}


@pytest.mark.parametrize(
    "fail, aggregation",
    [({}, "cluster-mean"), ({5: 0, 30: 2}, "cluster-mean"), ({1: 1, 2: 0}, "sum"), ({9: 2}, "mean")],
)
def test_fetch_ahead_identical_with_lost_hosts(fail, aggregation):
    """Groups fetched ahead save round trips, some are dropped (merged as G† first), hosts are lost
    while fetched-ahead visits are pending: the tree is the single-machine one."""
    logits = random_logits(7, 900, 48)
    ref = quiet(build_hierarchy, logits, aggregation=aggregation)
    stats: dict = {}
    cluster = InProcessCluster(3, fail=dict(fail))
    tree = quiet(
        build_distributed, logits, cluster, aggregation=aggregation, max_shard_rows=200, stats=stats
    )  # fmt: skip
    assert_identical(tree, ref)
    assert stats["n_rp"] == logits.shape[1] - 1
    assert stats["n_rp_ahead_used"] > 0 and stats["n_rp_ahead_dropped"] > 0
    assert len(stats["step_seconds"]) == stats["n_rp"] - stats["n_rp_ahead_used"]
    assert len(stats["lost_hosts"]) == len(fail)


@pytest.mark.parametrize("fail", [{}, {3: 1}])
def test_fetch_ahead_soft_membership_groups(fail):
    """Groups without points (soft membership) are fetched ahead too: fewer round trips than
    merges in the soft phase, same tree."""
    logits = random_logits(8, 600, 40)
    logits[:, :10] -= 40.0  # 10 empty clusters (and a few more by chance)
    ref = quiet(build_hierarchy, logits)
    stats: dict = {}
    tree = quiet(build_distributed, logits, InProcessCluster(2, fail=dict(fail)), max_shard_rows=150, stats=stats)
    assert_identical(tree, ref)
    n_empty = len(ref.info["empty_clusters"])
    assert n_empty >= 10
    assert len(stats["step_seconds"]) < n_empty  # at least n_empty soft merges among the 39
