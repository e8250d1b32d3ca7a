"""Out-of-core builds (:mod:`l2h.build.scratch`, ``build_hierarchy(scratch_dir=...)``, ``l2h build --scratch``):
the tree is the same bit for bit with and without the scratch copy, and the copy never outlives the build."""

from __future__ import annotations

import errno
import json
import os
import warnings

import numpy as np
import pytest

import l2h.build.scratch as scratch_mod
from l2h import L2HWarning, _system, build_hierarchy, read_tree
from l2h.build.api import kernels
from l2h.build.points import Points
from l2h.build.scratch import ScratchCopy
from tests._cli import error_line, run


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch):
    """Copy chunks of a few rows (chunk_rows sets the unit), so that every test crosses many boundaries."""
    monkeypatch.setattr(scratch_mod, "MIN_CHUNK_BYTES", 1)
    monkeypatch.setattr(scratch_mod, "MAX_CHUNK_BYTES", 1)


def _logits(n, k, seed=0, dtype=np.float32, empty=()):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, 8))
    labels = rng.integers(0, k, n)
    x = (centres[labels] + 0.6 * rng.normal(size=(n, 8))) @ centres.T * rng.uniform(1, 6, size=(n, 1))
    x[::17] = np.round(x[::17])  # ties inside rows
    x[5::31] = x[3]  # repeated rows: tied confidences
    for c in empty:
        others = np.delete(np.arange(k), empty)
        x[:, c] = np.minimum(x[:, c] - 1.0, x[:, others].max(axis=1) - 0.5)
    return x.astype(dtype)


def _same(a, b):
    np.testing.assert_array_equal(a.linkage, b.linkage)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.relatedness, b.relatedness)
    assert a.info == b.info


def _saved(tmp_path, x, name="x.npy"):
    np.save(tmp_path / name, x)
    return np.load(tmp_path / name, mmap_mode="r")


def _pair(source, tmp_path, **kw):
    folder = tmp_path / "scratch"
    folder.mkdir(exist_ok=True)
    phases = set()
    with_copy = build_hierarchy(source, scratch_dir=folder, progress=lambda p, d, t: phases.add(p), **kw)
    assert "scratch" in phases
    assert os.listdir(folder) == []
    return build_hierarchy(source, scratch_dir=None, **kw), with_copy


@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 1000])
def test_same_tree_across_chunk_boundaries(tmp_path, chunk_rows):
    x = _logits(601, 9, seed=chunk_rows)
    _same(*_pair(_saved(tmp_path, x), tmp_path, chunk_rows=chunk_rows))


@pytest.mark.parametrize("aggregation", ["cluster-mean", "sum", "mean"])
def test_same_tree_in_memory_source_float64(tmp_path, aggregation):
    x = _logits(900, 12, seed=3, dtype=np.float64)
    _same(*_pair(x, tmp_path, chunk_rows=50, aggregation=aggregation))
    _same(*_pair(_saved(tmp_path, x), tmp_path, chunk_rows=50, aggregation=aggregation))


def test_same_tree_with_empty_clusters(tmp_path):
    x = _logits(700, 15, seed=4, empty=(0, 3, 4, 11, 14))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", L2HWarning)
        plain, copied = _pair(_saved(tmp_path, x), tmp_path, chunk_rows=33)
    assert plain.info["empty_clusters"] == [0, 3, 4, 11, 14]
    _same(plain, copied)


def test_same_tree_many_clusters_few_points(tmp_path):
    x = _logits(40, 30, seed=5)  # most clusters hold 0-2 points
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", L2HWarning)
        _same(*_pair(_saved(tmp_path, x), tmp_path, chunk_rows=3))
        _same(*_pair(_saved(tmp_path, x), tmp_path, chunk_rows=3, strategy="all-pairs"))


def test_same_tree_converted_inputs(tmp_path):
    x = _logits(500, 8, seed=6)
    _same(*_pair(_saved(tmp_path, x.astype(np.float16)), tmp_path, chunk_rows=40))  # cast to float32 per chunk
    _same(*_pair(np.asfortranarray(x), tmp_path, chunk_rows=40))
    _same(*_pair(_saved(tmp_path, x)[::2], tmp_path, chunk_rows=40))  # a strided view of a map


def test_same_tree_probs_and_log_probs(tmp_path):
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.ones(6) * 0.4, size=450)
    probs[::11, 1] = 0.0
    probs /= probs.sum(axis=1, keepdims=True)
    plain, copied = _pair(_saved(tmp_path, probs), tmp_path, chunk_rows=20, input="probs")
    assert copied.info["clipped_zeros"] == int(np.count_nonzero(probs == 0)) > 0
    _same(plain, copied)
    with np.errstate(divide="ignore"):
        logs = np.log(probs).astype(np.float32)  # -inf entries: the first pass fails, then clips and rescans
    plain, copied = _pair(_saved(tmp_path, logs, "l.npy"), tmp_path, chunk_rows=20, input="log-probs")
    assert copied.info["clipped_zeros"] == int(np.count_nonzero(probs == 0))
    _same(plain, copied)


def test_state_is_the_in_memory_state_in_copy_order(tmp_path):
    """The seam itself: the copy holds row order[q] of the input at position row_index[q], and every
    bucket-order array is the in-memory build's."""
    x = _logits(300, 7, seed=8)
    kern = kernels()
    plain = Points(kern, x, 16, None)
    with ScratchCopy(tmp_path) as copy:
        state = Points(kern, x, 16, None, scratch=copy)
        np.testing.assert_array_equal(np.asarray(state.logits)[state.order], x[plain.order])
        np.testing.assert_array_equal(state.offsets, plain.offsets)
        for name in ("b_rowmax", "top_idx", "known", "out_hi", "out_lo"):
            np.testing.assert_array_equal(getattr(state, name), getattr(plain, name))
        np.testing.assert_array_equal(state.groups.counts, plain.groups.counts)
        np.testing.assert_array_equal(state.rowmax[state.order], plain.rowmax[plain.order])
        # a cluster's points are one run of the copy per chunk (chunks of 16 rows here), in visit order
        pts = kern.gather_positions(np.array([2, 5]), state.offsets)
        runs = copy.runs(state.order[pts])
        np.testing.assert_array_equal(np.concatenate([np.arange(a, b) for a, b in runs]), state.order[pts])
        assert runs.shape[0] <= 2 * 19 and np.all(runs[:, 1] > runs[:, 0])
        assert np.array_equal(copy.runs(np.array([3, 4, 5, 9, 2, 3])), [[3, 6], [9, 10], [2, 4]])
        del state


def test_nonfinite_rows_named_as_without_copy(tmp_path):
    x = _logits(200, 5, seed=9)
    x[[37, 150]] = np.nan
    with pytest.raises(ValueError) as plain:
        build_hierarchy(x, chunk_rows=16, scratch_dir=None)
    with pytest.raises(ValueError) as copied:
        build_hierarchy(x, chunk_rows=16, scratch_dir=tmp_path)
    assert str(plain.value) == str(copied.value)
    assert "37" in str(copied.value)
    assert os.listdir(tmp_path) == []


def _open_in(folder) -> list[str]:
    """Files of ``folder`` this process still holds open or mapped (an unnamed copy shows as deleted)."""
    folder = os.path.realpath(folder)
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(folder + "/"):
            held.append(target)
    with open("/proc/self/maps") as fh:
        held += [line for line in fh if folder + "/" in line]
    return held


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_copy_freed_on_success_failure_and_interrupt(tmp_path):
    x = _saved(tmp_path, _logits(400, 6, seed=10))
    folder = tmp_path / "s"
    folder.mkdir()
    build_hierarchy(x, chunk_rows=32, scratch_dir=folder)
    assert os.listdir(folder) == [] and _open_in(folder) == []

    def during_copy(phase, done, total):
        if phase == "scratch" and done > 100:
            raise KeyboardInterrupt

    def during_merges(phase, done, total):
        if phase == "merge":
            raise KeyboardInterrupt

    for interrupt in (during_copy, during_merges):
        with pytest.raises(KeyboardInterrupt):
            build_hierarchy(x, chunk_rows=32, scratch_dir=folder, progress=interrupt)
        assert os.listdir(folder) == [] and _open_in(folder) == []


def test_full_disk_is_one_clear_error_before_writing(tmp_path, monkeypatch):
    x = _logits(100, 4)
    monkeypatch.setattr(scratch_mod, "free_bytes", lambda folder: 1000)
    with pytest.raises(OSError) as info:
        build_hierarchy(x, scratch_dir=tmp_path)
    assert info.value.errno == errno.ENOSPC
    assert f"scratch folder {tmp_path} has 0.0 MB free but the scratch copy of the logits needs 0.0 MB" in str(
        info.value
    )
    np.save(tmp_path / "x.npy", x)
    result = run("build", tmp_path / "x.npy", "--out", tmp_path / "t.nwk", "--scratch", tmp_path)
    assert result.exit_code == 1
    assert error_line(result).startswith(f"Error: scratch folder {tmp_path} has 0.0 MB free")
    assert sorted(os.listdir(tmp_path)) == ["x.npy"]


def test_write_failure_mid_copy(tmp_path, monkeypatch):
    def no_space(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(scratch_mod.os, "pwrite", no_space)
    with pytest.raises(OSError, match="no space left while writing the scratch copy"):
        build_hierarchy(_logits(100, 4), scratch_dir=tmp_path)
    assert os.listdir(tmp_path) == []


def test_auto_uses_a_copy_only_when_the_logits_exceed_memory(tmp_path, monkeypatch):
    x = _saved(tmp_path, _logits(300, 6, seed=11))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(scratch_mod.tempfile, "tempdir", None)
    phases = []
    build_hierarchy(x, progress=lambda p, d, t: phases.append(p))
    assert "scratch" not in phases
    monkeypatch.setattr(_system, "available_memory", lambda: 1000)
    monkeypatch.setattr(scratch_mod, "filesystem_type", lambda folder: "ext4")
    phases.clear()
    _same(build_hierarchy(x, progress=lambda p, d, t: phases.append(p)), build_hierarchy(x, scratch_dir="none"))
    assert "scratch" in phases
    monkeypatch.setattr(scratch_mod, "free_bytes", lambda folder: 10)
    with pytest.warns(L2HWarning, match=r"larger than the available memory .* no folder has room"):
        build_hierarchy(x)
    monkeypatch.setattr(scratch_mod, "free_bytes", lambda folder: 1 << 40)
    monkeypatch.setattr(scratch_mod, "filesystem_type", lambda folder: "tmpfs")
    folder, why = scratch_mod.auto_scratch_dir(x.shape, x.dtype, "logits")
    assert folder is None and "tmpfs, in memory" in why


def test_available_memory_is_positive():
    assert (_system.available_memory() or 0) > 0


def test_cli_scratch_option(tmp_path, monkeypatch):
    x = _logits(500, 9, seed=12)
    np.save(tmp_path / "x.npy", x)
    folder = tmp_path / "s"
    folder.mkdir()
    trees = {}
    for value in ("none", "auto", folder):
        out = tmp_path / f"t_{len(trees)}.json"
        result = run("build", tmp_path / "x.npy", "--out", out, "--scratch", value, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["n_points"] == 500
        trees[str(value)] = read_tree(out)
    _same(trees["none"], trees[str(folder)])
    _same(trees["none"], trees["auto"])
    assert os.listdir(folder) == []
    # auto, logits larger than memory, no room in $TMPDIR: the --out folder takes the copy
    monkeypatch.setattr(_system, "available_memory", lambda: 1000)
    monkeypatch.setattr(scratch_mod, "filesystem_type", lambda f: "tmpfs" if str(f) != str(folder) else "ext4")
    result = run("build", tmp_path / "x.npy", "--out", folder / "t.json", "--scratch", "auto", "--quiet")
    assert result.exit_code == 0, result.output
    _same(trees["none"], read_tree(folder / "t.json"))
    result = run("build", tmp_path / "x.npy", "--out", tmp_path / "u.json", "--scratch", tmp_path / "missing")
    assert result.exit_code == 1
    assert "scratch folder" in error_line(result) and "not an existing folder" in error_line(result)
