"""Every path into l2h's Numba kernels, run once, counting the kernels Numba compiles on the way.

``python benchmarks/compile_paths.py [--json] [--only NAME]`` runs, in this one process, the path matrix of issue 19:
``l2h build`` on .npy (float32 and float64), .npz, CSV and .pt (when torch is installed) inputs,
``l2h metrics``, ``l2h compare``, ``l2h agglomerative``, and ``l2h.build_hierarchy`` on writable,
read-only, memory-mapped (read-only and copy-on-write), F-order and strided arrays, float16 and int8
logits, probabilities and log-probabilities, every aggregation and strategy, out of core (a scratch
copy; the window of empty clusters' columns), and a Dask build (in process, when the ``dask`` extra
is installed).  For each path it prints the seconds taken and the
number of compilations (Numba's ``numba:compile`` events: a kernel loaded from the cache is no
event).  After ``l2h warmup`` every count must be 0 (``tests/test_no_recompile.py``).

Run it with ``L2H_KERNELS=numba``: most of these inputs are small, and without it they take the
interpreted path (``l2h.build.small``), which compiles nothing and so proves nothing.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DIGITS = REPO / "examples" / "digits_logits.npy"


def _logits(n: int = 5000, k: int = 12, dtype: type = np.float32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=(n, k))
    x[: n // 4] *= 20.0  # confident rows
    x[:, -1] -= 100.0  # an empty cluster
    return x.astype(dtype)


def _cli(*args: object) -> Callable[[], None]:
    def run() -> None:
        from click.testing import CliRunner
        from l2h_cli.main import cli

        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
        if result.exit_code != 0:
            raise RuntimeError(f"l2h {' '.join(map(str, args))}: exit {result.exit_code}: {result.output}")

    return run


def _api(make: Callable[[], np.ndarray], **options: object) -> Callable[[], None]:
    def run() -> None:
        import l2h

        l2h.build_hierarchy(make(), **options)

    return run


def paths(folder: Path) -> dict[str, Callable[[], None]]:
    """The path matrix, with its input files written into ``folder``."""
    x32, x64 = _logits(), _logits(dtype=np.float64, seed=1)
    e32 = x32.copy()  # a cluster that is never an argmax: soft merges, the empty clusters' columns
    e32[:, -1] = e32[:, :-1].max(axis=1) - 5.0
    e64 = e32.astype(np.float64)
    np.save(folder / "e32.npy", e32)
    np.save(folder / "x32.npy", x32)
    np.save(folder / "x64.npy", x64)
    np.savez(folder / "x.npz", logits=x32)
    np.savetxt(folder / "x.csv", x32[:800], delimiter=",")
    labels = np.arange(x32.shape[0]) % 5
    np.save(folder / "labels.npy", labels)
    emb = np.random.default_rng(2).normal(size=(400, 6)).astype(np.float32)
    np.save(folder / "emb.npy", emb)
    (folder / "scratch").mkdir(exist_ok=True)
    tree = folder / "t.nwk"  # a caterpillar over the 12 clusters (no kernel runs to make it)
    k = x32.shape[1]
    merges = [[0, 1]] + [[k + t, t + 2] for t in range(k - 2)]
    from l2h import Hierarchy

    tree.write_text(Hierarchy.from_merges(merges).to_newick())
    out: dict[str, Callable[[], None]] = {
        "cli build .npy float32": _cli("build", folder / "x32.npy", "--out", tree, "--quiet"),
        "cli build .npy float64": _cli("build", folder / "x64.npy", "--out", folder / "t64.nwk", "--quiet"),
        "cli build .npz": _cli("build", folder / "x.npz", "--out", folder / "tz.nwk", "--quiet"),
        "cli build .csv": _cli("build", folder / "x.csv", "--out", folder / "tc.nwk", "--quiet"),
        "cli build digits": _cli("build", DIGITS, "--out", folder / "d.nwk", "--quiet"),
        "cli metrics": _cli(
            "metrics", tree, "--labels", folder / "labels.npy", "--logits", folder / "x32.npy", "--json"
        ),
        "cli compare": _cli("compare", tree, "--reference", tree, "--leaves-are-classes", "--json"),
        "cli agglomerative": _cli(
            "agglomerative", folder / "emb.npy", "--k", 5, "--out", folder / "a.nwk", "--assignments", folder / "a.npy"
        ),
        "api writable float32": _api(lambda: x32.copy()),
        "api writable float64": _api(lambda: x64.copy()),
        "api read-only": _api(lambda: _read_only(x32)),
        "api memmap r": _api(lambda: np.load(folder / "x32.npy", mmap_mode="r")),
        "api memmap c": _api(lambda: np.load(folder / "x64.npy", mmap_mode="c")),
        "api F-order": _api(lambda: np.asfortranarray(x32)),
        "api strided": _api(lambda: x64[::2]),
        "api float16": _api(lambda: x32.astype(np.float16)),
        "api int8": _api(lambda: np.clip(x32, -100, 100).astype(np.int8)),
        "api probs": _api(lambda: _softmax(x32), input="probs"),
        "api log-probs": _api(lambda: np.log(_softmax(x64)), input="log-probs"),
        "api sum": _api(lambda: x32, aggregation="sum"),
        "api mean all-pairs": _api(lambda: x64[:600], aggregation="mean", strategy="all-pairs"),
        "api large soft pass": _api(lambda: _logits(70_000, 3, seed=3)),
        "cli build --scratch float32": _cli(
            "build", folder / "e32.npy", "--out", folder / "ts.nwk", "--scratch", folder / "scratch", "--quiet"
        ),
        "api scratch_dir float64": _api(lambda: e64, scratch_dir=folder / "scratch"),
        "api column window float32": _window(lambda: e32),
        "api column window float64": _window(lambda: e64),
    }
    try:
        import torch

        torch.save(torch.from_numpy(x32), folder / "x.pt")
        out["cli build .pt"] = _cli("build", folder / "x.pt", "--out", folder / "tp.nwk", "--quiet")
    except ImportError:
        pass
    try:
        import distributed  # noqa: F401

        out["dask workers (in process)"] = _dask(x32)
    except ImportError:
        pass
    return out


def _dask(x: np.ndarray) -> Callable[[], None]:
    def run() -> None:
        from l2h.distributed.engine import InProcessCluster, build_distributed

        build_distributed(x, InProcessCluster(n_hosts=2), max_shard_rows=2000)

    return run


def _window(make: Callable[[], np.ndarray]) -> Callable[[], None]:
    """A build whose empty clusters' columns do not fit the in-memory window (above 256 MB of them at
    scale: K = 21 841 with thousands of empty clusters), here by shrinking the window."""

    def run() -> None:
        import l2h
        from l2h.build import points

        with points.column_window(1):
            l2h.build_hierarchy(make())

    return run


def _read_only(x: np.ndarray) -> np.ndarray:
    y = x.copy()
    y.flags.writeable = False
    return y


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def count_compiles(run: Callable[[], None]) -> dict[str, object]:
    """Run ``run()`` once: its wall seconds and the sorted names of the Numba functions it compiled."""
    from l2h.kernel_cache import compiled_functions

    started = time.perf_counter()
    with warnings.catch_warnings(), compiled_functions() as functions:
        warnings.simplefilter("ignore")
        run()
    compiled = sorted({function.__qualname__ for function in functions})
    return {"seconds": round(time.perf_counter() - started, 3), "compiled": compiled}


def main() -> int:
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in paths(Path(tmp)).items():
            if only is None or name == only:
                results[name] = count_compiles(run)
    if "--json" in sys.argv:
        print(json.dumps(results))
    else:
        for name, result in results.items():
            what = ", ".join(result["compiled"]) or "nothing"
            print(f"{name:28s} {result['seconds']:8.2f} s  compiled: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
