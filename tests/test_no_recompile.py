"""After ``l2h warmup`` nothing compiles again (issue 19): in a fresh process with a fresh kernel cache,
``l2h warmup``, then every path of ``benchmarks/compile_paths.py`` (CLI and API; .npy, .npz, CSV and
.pt; writable, read-only, memory-mapped, F-order and strided arrays; float16 to float64; every
aggregation and strategy; out of core; metrics, compare, agglomerative; Dask workers), counting
Numba's compile events.

The warmup compiles every kernel, minutes on 2 cores, so the end-to-end test runs only with
``L2H_TEST_WARMUP=1``; ``.ci/run`` runs it in a step of its own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PATHS = REPO / "benchmarks" / "compile_paths.py"


def _env(cache: Path) -> dict[str, str]:
    # L2H_KERNELS=numba: the matrix's inputs are small, and the interpreted path compiles nothing
    return dict(os.environ, NUMBA_CACHE_DIR=str(cache), L2H_KERNELS="numba", PYTHONWARNINGS="ignore")


def test_the_counter_sees_a_compile_and_not_a_second_run():
    """The path matrix's counter (Numba's ``numba:compile`` events) counts real compiles only."""
    import numba

    sys.path.insert(0, str(PATHS.parent))
    try:
        import compile_paths
    finally:
        sys.path.remove(str(PATHS.parent))
    twice = numba.njit(cache=False)(lambda x: 2 * x)
    first = compile_paths.count_compiles(lambda: twice(1))
    again = compile_paths.count_compiles(lambda: twice(2))
    assert first["compiled"] == ["test_the_counter_sees_a_compile_and_not_a_second_run.<locals>.<lambda>"]
    assert again["compiled"] == []


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("L2H_TEST_WARMUP") != "1",
    reason="compiles every kernel (minutes): run with L2H_TEST_WARMUP=1 (.ci/run does)",
)
def test_nothing_compiles_after_warmup(tmp_path):
    env = _env(tmp_path / "cache")
    warm = subprocess.run(
        [sys.executable, "-m", "l2h_cli.main", "warmup", "--json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    assert warm.returncode == 0, warm.stderr[-3000:]
    summary = json.loads(warm.stdout)
    assert summary["already_cached"] == [] and all(summary["compiled"][f] for f in ("float32", "float64"))
    done = subprocess.run(
        [sys.executable, str(PATHS), "--json"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    expected = {"cli build .npy float32", "cli build .csv", "cli metrics", "api F-order", "api memmap r"}
    expected |= {
        "api mean all-pairs",
        "api large soft pass",
        "cli build --scratch float32",
        "api column window float64",
    }
    expected |= {"cli build .pt"} if importlib.util.find_spec("torch") else set()
    expected |= {"dask workers (in process)"} if importlib.util.find_spec("distributed") else set()
    assert expected <= set(results), sorted(results)
    recompiled = {name: result["compiled"] for name, result in results.items() if result["compiled"]}
    assert not recompiled, f"compiled again after l2h warmup: {recompiled}"
