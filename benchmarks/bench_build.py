"""Benchmark ``l2h.build_hierarchy`` on memory-mapped synthetic logits.

For each size NxK it makes (once, seeded, in chunks) float32 logits with a hidden hierarchy under
``benchmarks/_data/`` (gitignored), then times, each in a fresh subprocess (peak RSS is the child's
``VmHWM``, which counts the memory-mapped file pages it touched):

* ``l2h``    : ``build_hierarchy(np.load(path, mmap_mode="r"))`` (numba cache warm; the first call of
               the process, which loads the cached kernels, is reported separately),
* ``numpy``  : a plain vectorised NumPy implementation of the same procedure (skipped above
               ``--numpy-max`` elements, it is O(visits x K)),
* ``cli``    : ``l2h build path --out tree.nwk --quiet`` end to end (interpreter start, imports,
               cached kernels, build, write), the number the targets in docs/performance.md are stated for,
* ``floor``  : the honest one-pass floor: ``np.load(path, mmap_mode="c").argmax(1)`` reads the file
               once and copies nothing (a copy-on-write map is writable, so NumPy reduces it in place);
               every ratio is against it,
* ``argmax-copy`` : ``np.load(path, mmap_mode="r").argmax(1)``, an extra labelled column only: on a
               read-only map NumPy 2.x copies the whole array first (about 2x the file in RSS).

It checks that ``l2h`` and ``numpy`` give the same merges when both ran, and prints a table with the
median of ``--repeats`` runs per row (all kinds of a row measured side by side, one after the other,
with the file in the page cache) and the split of the library call between the first pass and the
merges.  ``--empty-frac 0.1`` makes a variant in which 10% of the clusters are empty (their logits
pushed below each row's best).

    python benchmarks/bench_build.py --sizes 100000x1000 1281167x1000 --repeats 3
    python benchmarks/bench_build.py --sizes 100000x21841 --empty-frac 0 0.1 --no-numpy
    python benchmarks/bench_build.py --threads 1 2 --no-numpy --no-cli --no-copy   # the cores table
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "_data"
TIE_RTOL = 8 * 2.0**-52  # the tie rule documented in l2h.merge (8 ulps relative)


# ---------------------------------------------------------------------------------------------- data
def hidden_tree_means(k: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster means from a random binary tree: each node adds a random offset shrinking with depth,
    so siblings have correlated means (and correlated logits)."""
    means = np.zeros((k, dim))
    stack = [(np.arange(k), np.zeros(dim), 1.0)]
    while stack:
        ids, centre, scale = stack.pop()
        if ids.size == 1:
            means[ids[0]] = centre
            continue
        cut = int(rng.integers(1, ids.size))
        perm = rng.permutation(ids)
        for part in (perm[:cut], perm[cut:]):
            stack.append((part, centre + rng.normal(scale=scale, size=dim), scale * 0.8))
    return means


def make_logits(n: int, k: int, seed: int = 0, chunk: int = 65536, empty_frac: float = 0.0) -> Path:
    """Write ``benchmarks/_data/logits_{n}x{k}_s{seed}[_e{frac}].npy`` (float32) once, in chunks.

    With ``empty_frac > 0`` that share of the clusters (chosen at random) is made empty: their logits
    are lowered to at most 1 below the row's best other logit, so they keep some probability mass."""
    DATA.mkdir(exist_ok=True)
    suffix = f"_e{empty_frac:g}" if empty_frac > 0 else ""
    path = DATA / f"logits_{n}x{k}_s{seed}{suffix}.npy"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    empty = np.sort(np.random.default_rng([seed, 1]).permutation(k)[: int(round(empty_frac * k))])
    others = np.setdiff1d(np.arange(k), empty)
    dim = 64
    means = hidden_tree_means(k, dim, rng)
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    tmp = path.with_suffix(".tmp.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, k))
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        labels = rng.integers(0, k, m)
        feats = means[labels] + rng.normal(scale=0.08, size=(m, dim))
        temperature = rng.uniform(8.0, 40.0, size=(m, 1))  # from unsure to very confident points
        block = feats @ means.T * temperature
        if empty.size:
            best_other = block[:, others].max(axis=1, keepdims=True)
            block[:, empty] = np.minimum(block[:, empty] - 2.0, best_other - 1.0)
        out[start : start + m] = block.astype(np.float32)
    out.flush()
    del out
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------- plain numpy twin
def numpy_l2h(logits: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Plain vectorised NumPy L2H (cluster-mean, lowest-score), non-empty clusters assumed.

    First pass in row chunks; at each step gathers the rows of D_{G*}, masks G*, and reduces."""
    n, k = logits.shape
    amax = np.empty(n, dtype=np.int64)
    conf = np.empty(n)
    for s in range(0, n, chunk):
        b = np.asarray(logits[s : s + chunk], dtype=np.float64)
        amax[s : s + chunk] = b.argmax(1)
        conf[s : s + chunk] = 1.0 / np.exp(b - b.max(1, keepdims=True)).sum(1)
    counts = np.bincount(amax, minlength=k)
    if np.any(counts == 0):
        raise RuntimeError("numpy twin: empty clusters not supported")
    cluster_score = np.bincount(amax, weights=conf, minlength=k) / counts
    order = np.argsort(amax, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(counts)])
    groups: dict[int, list[int]] = {c: [c] for c in range(k)}
    score = {c: cluster_score[c] for c in range(k)}
    group_of = np.arange(k)
    merges = []
    for t in range(k - 1):
        nodes = np.array(sorted(groups))
        s = np.array([score[g] for g in nodes])
        g_star = int(nodes[np.flatnonzero(s <= s.min() + TIE_RTOL * abs(s.min()))[0]])
        members = groups[g_star]
        pts = np.sort(np.concatenate([order[offsets[c] : offsets[c + 1]] for c in members]))
        rp = np.zeros(k)
        for s0 in range(0, pts.size, chunk):
            rows = np.asarray(logits[pts[s0 : s0 + chunk]], dtype=np.float64)
            rows[:, members] = -np.inf
            top = rows.argmax(1)
            total = np.exp(rows - rows[np.arange(rows.shape[0]), top][:, None]).sum(1)
            rp += np.bincount(top, weights=1.0 / total, minlength=k)
        sizes = np.array([len(groups[g]) for g in nodes])
        rel = np.bincount(np.searchsorted(nodes, group_of), weights=rp, minlength=nodes.size) / sizes
        rel[nodes == g_star] = -np.inf
        g_dag = int(nodes[np.flatnonzero(rel >= rel.max() - TIE_RTOL * abs(rel.max()))[0]])
        new = k + t
        groups[new] = groups.pop(g_star) + groups.pop(g_dag)
        score[new] = score.pop(g_star) + score.pop(g_dag)
        group_of[groups[new]] = new
        merges.append((g_star, g_dag))
    return np.array(merges)


# ---------------------------------------------------------------------------------------------- workers
def worker(kind: str, path: str, repeats: int, out: str | None) -> None:
    times = []
    first = None
    result = None
    if kind == "cli":
        with tempfile.TemporaryDirectory() as tmp:
            out_tree = os.path.join(tmp, "tree.nwk")
            cmd = [sys.executable, "-m", "l2h_cli.main", "build", path, "--out", out_tree, "--quiet"]
            for _ in range(repeats):
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True)
                times.append(time.perf_counter() - t0)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # the largest child's peak
        print(json.dumps({"times": times, "first": None, "peak_rss": peak}))
        return
    scans = []
    cpus = []
    for r in range(repeats + (1 if kind == "l2h" else 0)):
        scan_end = []
        c0 = time.process_time()
        t0 = time.perf_counter()
        if kind == "floor":
            result = np.load(path, mmap_mode="c").argmax(1)
        elif kind == "argmax-copy":
            result = np.load(path, mmap_mode="r").argmax(1)
        elif kind == "numpy":
            result = numpy_l2h(np.load(path, mmap_mode="r"))
        else:
            from l2h.merge import build_hierarchy

            def progress(phase, done, total, scan_end=scan_end):
                if phase == "scan" and done == total:
                    scan_end.append(time.perf_counter())

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = build_hierarchy(np.load(path, mmap_mode="r"), progress=progress).merges
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0  # CPU seconds of every thread: robust to other load
        if kind == "l2h" and r == 0:
            first = dt  # includes loading the cached kernels
        else:
            times.append(dt)
            cpus.append(cpu)
            if scan_end:
                scans.append(scan_end[0] - t0)
    if out and kind not in ("floor", "argmax-copy"):
        np.save(out, result)
    print(json.dumps({"times": times, "cpu": cpus, "first": first, "scan": scans, "peak_rss": peak_rss()}))


def peak_rss() -> int:
    """This process's peak resident set in bytes (file pages of the memory map included).

    ``VmHWM`` is reset by exec; ``ru_maxrss`` is not on Linux (a child would inherit the parent's peak).
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_worker(kind: str, path: Path, repeats: int, out: Path | None = None, threads: int | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, str(path), "--repeats", str(repeats)]
    if out is not None:
        cmd += ["--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if threads is not None:
        env["NUMBA_NUM_THREADS"] = str(threads)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compile_time() -> float:
    """Seconds to compile the kernels from scratch (fresh cache dir) and run a tiny build."""
    code = (
        "import time, numpy as np; t=time.perf_counter(); from l2h.merge import build_hierarchy; "
        "build_hierarchy(np.random.default_rng(0).normal(size=(500, 20)).astype(np.float32)); "
        "print(time.perf_counter()-t)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["100000x1000"], help="NxK sizes")
    ap.add_argument("--empty-frac", nargs="+", type=float, default=[0.0], help="share(s) of empty clusters")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--numpy-max", type=float, default=2e8, help="skip the NumPy twin above N*K elements")
    ap.add_argument("--no-numpy", action="store_true", help="never run the NumPy twin")
    ap.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI runs")
    ap.add_argument("--no-copy", action="store_true", help="skip the copying argmax column")
    ap.add_argument("--no-compile", action="store_true", help="skip timing a cold kernel compile")
    ap.add_argument("--delete", action="store_true", help="delete the generated files afterwards")
    ap.add_argument("--markdown", action="store_true", help="also print the rows as docs/performance.md's table")
    ap.add_argument(
        "--threads", nargs="+", type=int, help="also time the library with these NUMBA_NUM_THREADS (cores table)"
    )
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.repeats, args.out)
        return

    if not args.no_compile:
        print(f"numba kernels, cold compile + tiny build: {compile_time():.1f} s", flush=True)
    rows = []
    for size in args.sizes:
        n, k = (int(v) for v in size.lower().split("x"))
        for frac in args.empty_frac:
            label = size + (f" e{frac:g}" if frac > 0 else "")
            t0 = time.perf_counter()
            path = make_logits(n, k, args.seed, empty_frac=frac)
            gen = time.perf_counter() - t0
            print(f"{label}: data {path.name} ({path.stat().st_size / 2**30:.2f} GiB, made in {gen:.0f} s)", flush=True)
            res = {"floor": run_worker("floor", path, args.repeats)}  # also warms the page cache
            res["l2h"] = run_worker("l2h", path, args.repeats, DATA / "_merges_l2h.npy")
            for t in args.threads or ():
                res[f"l2h@{t}"] = run_worker("l2h", path, args.repeats, threads=t)
            if not args.no_cli:
                res["cli"] = run_worker("cli", path, args.repeats)
            if not args.no_copy:
                res["argmax-copy"] = run_worker("argmax-copy", path, args.repeats)
            same = "-"
            if n * k <= args.numpy_max and not args.no_numpy and frac == 0:
                try:
                    res["numpy"] = run_worker("numpy", path, max(1, min(args.repeats, 2)), DATA / "_merges_numpy.npy")
                except subprocess.CalledProcessError:
                    same = "twin n/a"  # the NumPy twin does not handle empty clusters
                else:
                    agree = np.array_equal(np.load(DATA / "_merges_l2h.npy"), np.load(DATA / "_merges_numpy.npy"))
                    same = "yes" if agree else "NO"
            file_size = path.stat().st_size
            med = {kind: statistics.median(r["times"]) for kind, r in res.items()}
            rows.append((label, file_size, med, res, same))
            print(json.dumps({"size": label, "median": med}), flush=True)
            if args.delete:
                path.unlink()
    print()
    print(
        f"{'size':>16} {'file GiB':>8} {'impl':>11} {'median s':>9} {'first s':>8} {'scan s':>7} "
        f"{'peak RSS GiB':>12} {'RSS/file':>8} {'vs floor':>8} {'numpy/l2h':>9} {'same merges':>11}"
    )
    for label, file_size, med, res, same in rows:
        for kind in ("cli", "l2h", "numpy", "floor", "argmax-copy"):
            if kind not in res:
                continue
            r = res[kind]
            first = f"{r['first']:.2f}" if r.get("first") else "-"
            scan = f"{statistics.median(r['scan']):.2f}" if r.get("scan") else "-"
            speed = f"{med['numpy'] / med['l2h']:.1f}x" if kind == "l2h" and "numpy" in med else "-"
            print(
                f"{label:>16} {file_size / 2**30:>8.2f} {kind:>11} {med[kind]:>9.2f} {first:>8} {scan:>7} "
                f"{r['peak_rss'] / 2**30:>12.2f} {r['peak_rss'] / file_size:>8.2f} "
                f"{med[kind] / med['floor']:>7.2f}x {speed:>9} {same if kind == 'l2h' else '':>11}"
            )
    if args.threads:
        print_cores(rows, args.threads)
    if args.markdown:
        print_markdown(rows)


def print_cores(rows: list, threads: list[int]) -> None:
    """Per size and thread count: the library's first pass and merges (medians) and their speed-up
    over the first thread count; with two counts, Amdahl's ``T(t) = S + P / t`` fitted per phase
    (S: the part that stays serial) and extrapolated to 16 and 64 threads (memory bandwidth and
    the page cache ignored: an upper bound on the speed-up)."""
    print()
    print(f"{'size':>16} {'threads':>7} {'library s':>9} {'scan s':>7} {'merges s':>8} {'speed-up':>22}")
    for label, _file_size, _med, res, _same in rows:
        split = {}
        for t in threads:
            r = res[f"l2h@{t}"]
            total = statistics.median(r["times"])
            scan = statistics.median(r["scan"]) if r.get("scan") else float("nan")
            split[t] = (total, scan, total - scan)
        base = split[threads[0]]
        for t in threads:
            total, scan, merges = split[t]
            ups = f"{base[0] / total:.2f}x ({base[1] / scan:.2f}x, {base[2] / merges:.2f}x)"
            print(f"{label:>16} {t:>7} {total:>9.2f} {scan:>7.2f} {merges:>8.2f} {ups:>22}")
        if len(threads) == 2:
            t1, t2 = threads
            for name, i in (("scan", 1), ("merges", 2)):
                a, b = split[t1][i], split[t2][i]
                if not b < a:
                    print(f"{'':>16} {name}: no speed-up measured (load average {os.getloadavg()[0]:.1f}): no fit")
                    continue
                par = (a - b) / (1 / t1 - 1 / t2)
                ser = max(0.0, a - par / t1)
                model = ", ".join(f"{w} threads {ser + par / w:.2f} s" for w in (16, 64))
                print(f"{'':>16} {name}: serial {ser:.2f} s + parallel {par:.2f} s / threads -> {model}")


def print_markdown(rows: list) -> None:
    """docs/performance.md's table: per size the CLI end to end, the library call split into first pass and
    merges, CPU seconds, the honest floor, the ratios to it and the peak RSS."""
    print()
    print(
        "| N × K (file) | `l2h build` CLI | library: scan + merges | library CPU s | honest floor "
        "| CLI / floor | library / floor | peak RSS |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, file_size, med, res, _same in rows:
        lib = res["l2h"]
        scan = statistics.median(lib["scan"]) if lib.get("scan") else float("nan")
        cpu = statistics.median(lib["cpu"]) if lib.get("cpu") else float("nan")
        cli = f"{med['cli']:.2f} s" if "cli" in med else "not run"
        cli_ratio = f"{med['cli'] / med['floor']:.1f}×" if "cli" in med else "-"
        print(
            f"| {label} ({file_size / 2**30:.2f} GiB) | {cli} | {med['l2h']:.2f} s = {scan:.2f} + "
            f"{med['l2h'] - scan:.2f} | {cpu:.2f} | {med['floor']:.3f} s | {cli_ratio} | "
            f"{med['l2h'] / med['floor']:.1f}× | {lib['peak_rss'] / 2**30:.2f} GiB |"
        )


if __name__ == "__main__":
    main()
