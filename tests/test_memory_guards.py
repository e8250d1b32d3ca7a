"""Issue 23 (5): one available-memory function, memory-cgroup aware, behind every memory guard.

The ``.npz`` bomb check used to read the host's MemAvailable: inside a memory cgroup far smaller
than the host, a small ``.npz`` that inflates past the cgroup's limit was OOM-killed instead of
refused.  The test runs ``l2h build`` in a real memory cgroup (root only).
"""

from __future__ import annotations

import sys
import zipfile

import numpy as np

from l2h import _system
from tests._system_fixtures import memory_cgroup, run_in_cgroup

LIMIT = 512 << 20


def _zeros_npz(path, rows: int, cols: int) -> None:
    """An ``.npz`` holding float32 zeros (rows x cols), written in chunks (a few MB on disk)."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (rows, cols)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("logits.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_2_0(member, header)
            chunk = bytes(16 << 20)
            left = rows * cols * 4
            while left:
                member.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))


def test_npz_bomb_inside_a_memory_cgroup_is_refused(tmp_path):
    bomb = tmp_path / "bomb.npz"
    _zeros_npz(bomb, 1 << 16, 1 << 12)  # 1 GiB of float32, about 1 MB on disk
    assert bomb.stat().st_size < 8 << 20
    with memory_cgroup(LIMIT) as procs:
        script = "from l2h_cli.main import main; main()"
        args = [sys.executable, "-c", script, "build", str(bomb), "--out", str(tmp_path / "t.nwk")]
        done = run_in_cgroup(procs, args)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "bomb.npz: array 'logits' inflates to 1.0 GiB but only" in lines[0]
    assert not (tmp_path / "t.nwk").exists()


def test_available_memory_sees_the_cgroup_limit(tmp_path):
    probe = "from l2h._system import available_memory; print(available_memory())"
    with memory_cgroup(LIMIT) as procs:
        done = run_in_cgroup(procs, [sys.executable, "-c", probe])
    assert done.returncode == 0, done.stderr
    assert 0 < int(done.stdout) <= LIMIT


def test_every_guard_asks_the_one_function(monkeypatch):
    import l2h.agglomerative
    import l2h.arrays
    from l2h.build import points, scratch

    assert l2h.arrays.available_memory is _system.available_memory  # the .npz inflation check
    assert l2h.agglomerative.available_memory is _system.available_memory  # the backend choice
    monkeypatch.setattr(_system, "available_memory", lambda: 12345)
    assert scratch.available_memory() == 12345  # the out-of-core choice and chunk sizes
    assert points._available_memory() == 12345  # the in-memory column conversion of the build
