"""After ``l2h warmup`` nothing compiles again, whatever the path (issue 19).

In a fresh kernel cache: ``l2h warmup`` in one process, then, in another, the whole path matrix of
``benchmarks/compile_paths.py`` (CLI and API builds from every file format and array flavour, both
dtypes, metrics, compare, agglomerative, a Dask build), counting Numba's ``numba:compile`` events.
Slow (warmup compiles every kernel), but CI runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_nothing_compiles_after_warmup(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    subprocess.run([sys.executable, "-m", "l2h_cli.main", "warmup", "--quiet"], env=env, check=True, timeout=1800)
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "compile_paths.py"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    assert {"cli build .npy float32", "cli metrics", "api memmap r", "api F-order"} <= set(results)
    compiled = {name: result["compiled"] for name, result in results.items() if result["compiled"]}
    assert not compiled, f"compiled again after warmup: {compiled}"


def test_path_matrix_counts_compilations(tmp_path):
    """The counter itself: a new Numba function compiled in the path shows up."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import compile_paths
        import numba
        from numba.core import event

        @numba.njit
        def fresh(x):
            return x + 1

        with event.install_recorder("numba:compile") as recorder:
            fresh(1)
        assert [data for _, data in compile_paths._starts(recorder)]
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
