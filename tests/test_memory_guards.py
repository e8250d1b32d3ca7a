"""Issue 23 (5): one available-memory function, memory-cgroup aware, behind every memory guard.

The ``.npz`` bomb check used to read the host's MemAvailable: inside a memory cgroup far smaller
than the host, a small ``.npz`` that inflates past the cgroup's limit was OOM-killed instead of
refused.  The test runs ``l2h build`` in a real memory cgroup (root only).
"""

from __future__ import annotations

import ast
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from l2h import _system
from tests._system_fixtures import memory_cgroup, run_in_cgroup

LIMIT = 512 << 20
ROOT = Path(__file__).resolve().parents[1]


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
    # One home: no other module of l2h defines an available-memory function of its own, and none binds
    # the home's name at import (``from l2h._system import available_memory``): every guard calls
    # ``_system.available_memory()`` at run time, so patching the home reaches them all.
    for path in sorted((ROOT / "l2h").rglob("*.py")):
        if path.name == "_system.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and "available_memory" in n.name]
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported = [a.name for n in imports for a in n.names if a.name == "available_memory"]
        assert not defined and not imported, f"{path.relative_to(ROOT)}: {defined + imported}"
    import l2h.agglomerative as agg

    monkeypatch.setattr(_system, "available_memory", lambda: 12345)
    monkeypatch.setattr(agg, "_import_fastcluster", lambda: None)
    with pytest.raises(MemoryError, match="only 0.0 GiB"):  # the backend choice sees the patched home
        agg._choose_backend(3000, 2, "auto")
