"""The Dask build on a real cluster: a ``dask scheduler`` and two ``dask worker`` processes on
127.0.0.1 (subprocesses, always stopped), identical trees, a worker killed with SIGKILL mid-build,
no worker left, an unreachable scheduler, a path the workers cannot read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from l2h._validation import L2HWarning
from l2h.merge import build_hierarchy
from tests._cli import error_line, run
from tests.test_distributed import assert_identical, save_shards
from tests.test_merge import random_logits

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow  # a real cluster: about 20-40 s for the whole module on 2 cores


def _logits() -> np.ndarray:
    logits = random_logits(21, 1200, 40)
    logits[:, 7] -= 40.0  # one empty cluster: the soft-membership path goes over the wire too
    return logits


class LocalDask:
    """A scheduler and N worker processes (no nanny: SIGKILL really kills a worker)."""

    def __init__(self, folder, n_workers: int = 2):
        self.folder = folder
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
        self.env = env
        sched_file = folder / "scheduler.json"
        self._spawn(["scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(sched_file),
                     "--no-dashboard"])  # fmt: skip
        deadline = time.monotonic() + 60
        while not sched_file.exists() or not sched_file.read_text().strip():
            if time.monotonic() > deadline:
                raise RuntimeError("the dask scheduler did not start")
            time.sleep(0.2)
        time.sleep(0.2)
        self.address = json.loads(sched_file.read_text())["address"]
        for _ in range(n_workers):
            self.add_worker()
        self.wait_for(n_workers)

    def _spawn(self, args: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def add_worker(self) -> subprocess.Popen:
        proc = self._spawn(["worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                            "--host", "127.0.0.1"])  # fmt: skip
        self.workers.append(proc)
        return proc

    def wait_for(self, n: int) -> None:
        with distributed.Client(self.address, timeout=30) as client:
            client.wait_for_workers(n, timeout=120)

    def kill_worker(self, i: int = 0) -> None:
        proc = self.workers[i]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def close(self) -> None:
        for proc in reversed(self.procs):  # test processes: no graceful shutdown needed
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # compile (or load) the kernels here first, so the workers find them in the shared cache
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", L2HWarning)
        build_hierarchy(_logits()[:50])
    local = LocalDask(tmp_path_factory.mktemp("dask"))
    try:
        yield local
    finally:
        local.close()


def test_workers_cannot_read_the_path(cluster, tmp_path):
    fsspec = pytest.importorskip("fsspec")
    import io

    buf = io.BytesIO()
    np.save(buf, _logits())
    with fsspec.open("memory://l2h-dask-test/only-here.npy", "wb") as fh:  # in this process only
        fh.write(buf.getvalue())
    from l2h.distributed import build_distributed, connect

    client, close = connect(scheduler=cluster.address)
    try:
        with pytest.raises(ValueError, match="cannot read shard memory://l2h-dask-test/only-here.npy") as info:
            build_distributed("memory://l2h-dask-test/only-here.npy", client)
        assert "\n" not in str(info.value)
    finally:
        close()


def test_cli_identical_trees_then_kill_a_worker_then_none_left(cluster, tmp_path, monkeypatch):
    """Runs last on the module's cluster: it kills both workers."""
    from l2h.distributed import ClusterError, connect
    from l2h.distributed import engine as engine_mod

    logits = _logits()
    folder = save_shards(tmp_path / "shards", logits, [1, 1, 300, 701])  # one-row and empty shards
    np.save(tmp_path / "all.npy", logits)
    for suffix in ("nwk", "json"):
        ref = run("build", tmp_path / "all.npy", "--out", tmp_path / f"ref.{suffix}", "-q")
        assert ref.exit_code == 0, ref.output
        res = run("build", folder, "--out", tmp_path / f"dask.{suffix}", "--scheduler", cluster.address, "-q")
        assert res.exit_code == 0, res.output
        assert (tmp_path / f"dask.{suffix}").read_bytes() == (tmp_path / f"ref.{suffix}").read_bytes()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", L2HWarning)
        ref_tree = build_hierarchy(logits, aggregation="sum")
        client, close = connect(scheduler=cluster.address)
        try:
            killed = []

            def progress(phase, done, total):
                if phase == "merge" and done >= 10 and not killed:
                    killed.append(done)
                    cluster.kill_worker(0)

            stats: dict = {}
            tree = engine_mod.build_distributed(
                folder, client, aggregation="sum", progress=progress, stats=stats, max_shard_rows=200
            )
            assert killed and stats["lost_hosts"], stats
            assert_identical(tree, ref_tree)

            # the last worker dies mid-build: one line, ClusterError
            killed.clear()

            def kill_last(phase, done, total):
                if phase == "merge" and done >= 5 and not killed:
                    killed.append(done)
                    cluster.kill_worker(1)

            with pytest.raises(ClusterError, match="no Dask worker left") as info:
                engine_mod.build_distributed(folder, client, progress=kill_last, worker_wait=1.0)
            assert "\n" not in str(info.value)
        finally:
            close()

    # the CLI on a scheduler with no worker: one line, exit 1, no output file
    monkeypatch.setattr(engine_mod, "WORKER_WAIT_S", 1.0)
    res = run("build", folder, "--out", tmp_path / "none.nwk", "--scheduler", cluster.address)
    assert res.exit_code == 1
    assert "no worker" in error_line(res)
    assert not (tmp_path / "none.nwk").exists()


def test_unreachable_scheduler_is_one_quick_line(tmp_path, monkeypatch):
    from l2h.distributed import cluster as cluster_mod

    monkeypatch.setattr(cluster_mod, "CONNECT_TIMEOUT_S", 2.0)
    np.save(tmp_path / "l.npy", _logits()[:20])
    started = time.monotonic()
    res = run("build", tmp_path / "l.npy", "--out", tmp_path / "t.nwk", "--scheduler", "tcp://127.0.0.1:9")
    assert res.exit_code == 1
    line = error_line(res)
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in line
    assert time.monotonic() - started < 30
    assert not (tmp_path / "t.nwk").exists()


def test_bad_shards_fail_before_any_cluster(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    np.save(folder / "a.npy", np.zeros((3, 4), np.float32))
    np.save(folder / "b.npy", np.zeros((3, 5), np.float32))
    res = run("build", folder, "--out", tmp_path / "t.nwk", "--scheduler", "tcp://127.0.0.1:9")
    assert res.exit_code == 1
    assert "has 5 columns" in error_line(res)
    res = run("build", folder, "--out", tmp_path / "t.nwk", "--scheduler", "tcp://x:1", "--workers", "2")
    assert res.exit_code == 1 and "not both" in error_line(res)
    assert not (tmp_path / "t.nwk").exists()


def test_cli_local_cluster_workers(tmp_path):
    logits = _logits()[:400]
    np.save(tmp_path / "l.npy", logits.astype(np.float32))
    ref = run("build", tmp_path / "l.npy", "--out", tmp_path / "ref.nwk", "-q")
    res = run("build", tmp_path / "l.npy", "--out", tmp_path / "dask.nwk", "--workers", "2", "--json")
    assert ref.exit_code == 0 and res.exit_code == 0, res.output
    assert (tmp_path / "dask.nwk").read_bytes() == (tmp_path / "ref.nwk").read_bytes()
    summary = json.loads(res.output[res.output.index("{") :])
    assert summary["scheduler"] == "local cluster of 2 workers"
