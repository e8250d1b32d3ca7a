"""Issue 23 (6): ``--workers`` is capped at the usable cores unless forced, and a local cluster that
cannot start is one line: its worker processes' tracebacks never reach the user.

``--workers 64`` on 2 cores started 64 processes; under a process limit (here a real pids cgroup)
the start printed some 80-130 lines of child tracebacks before the error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from l2h._system import usable_cores
from tests._cli import error_line, run
from tests._system_fixtures import pids_cgroup, run_in_cgroup

pytest.importorskip("distributed")
ENTRY = [sys.executable, "-c", "from l2h_cli.main import main; main()"]


@pytest.fixture
def logits(tmp_path):
    path = tmp_path / "lg.npy"
    np.save(path, np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32))
    return path


@pytest.mark.parametrize("command", ["build", "metrics"])
def test_more_workers_than_cores_is_refused_unless_forced(logits, tmp_path, command):
    too_many = usable_cores() + 1
    if command == "build":
        args = ["build", logits, "--out", tmp_path / "t.nwk"]
    else:
        np.save(tmp_path / "lb.npy", np.arange(30) % 3)
        (tmp_path / "t.nwk").write_text("((0,1),(2,3));\n")
        args = ["metrics", tmp_path / "t.nwk", "--logits", logits, "--labels", tmp_path / "lb.npy"]
    result = run(*args, "--workers", too_many)
    assert result.exit_code == 1
    assert error_line(result) == (
        f"Error: --workers {too_many} is more than the {usable_cores()} cores this process may use; "
        "give --force-workers to start them anyway"
    )


def test_a_cluster_that_cannot_start_is_one_line(logits, tmp_path):
    with pids_cgroup(14) as procs:  # the workers cannot start their threads
        args = ["build", str(logits), "--out", str(tmp_path / "t.nwk"), "--workers", "2", "--force-workers"]
        started = time.monotonic()
        done = run_in_cgroup(procs, [*ENTRY, *args, "--timeout", "15"], timeout=120)
        took = time.monotonic() - started
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr[-3000:]
    assert len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("Error: could not start a local Dask cluster of 2 workers: ")
    assert took < 45.0  # within the start's deadline (15 s), exit not held by a worker process
    assert not (tmp_path / "t.nwk").exists()


def test_a_cluster_whose_workers_never_start_fails_within_the_timeout(logits, tmp_path):
    """A worker that never joins (here: a preload that sleeps) kept the start waiting forever."""
    pids = tmp_path / "pids.txt"
    env = {
        **os.environ,
        "DASK_DISTRIBUTED__WORKER__PRELOAD": json.dumps([str(Path(__file__).with_name("_hang_worker.py"))]),
        "L2H_HANG_PIDS": str(pids),
    }
    args = ["build", logits, "--out", tmp_path / "t.nwk", "--workers", "1", "--timeout", "8"]
    started = time.monotonic()
    done = subprocess.run([*ENTRY, *map(str, args)], capture_output=True, text=True, env=env, timeout=120)
    took = time.monotonic() - started
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr[-3000:]
    assert lines == [
        "Error: could not start a local Dask cluster of 1 workers: its workers did not start within 8 s "
        "(raise it with --timeout)"
    ]
    assert took < 8 + 25.0
    assert not (tmp_path / "t.nwk").exists()
    for pid in map(int, pids.read_text().split()):  # the worker process was killed, not left behind
        assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid), pid


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"
