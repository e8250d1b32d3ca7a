"""Benchmark: every hierarchy metric at ImageNet scale, against a plain NumPy reference.

Synthetic inputs the size of ImageNet's training set: N = 1 281 167 points, K = 1 000 leaves,
C = 1 000 classes; a random binary tree over the leaves; each point sits in its class's leaf with
probability 0.6 and in a random leaf otherwise.  Timed (after the inputs are in memory):

* ``l2h``: :func:`l2h.metrics.evaluate` (NMI, ARI, ACC, LP, DP, LHD, mean path length and the
  scores of three levels) plus :func:`l2h.metrics.class_distance_matrix`, on a fresh
  :class:`~l2h.Hierarchy` every run (so no cached LCA matrix is reused).
* ``reference``: the same numbers computed the obvious way in plain NumPy from the same count table:
  node counts by masking leaves under every node, DP / LHD / class distances by summing over every
  pair of leaves and every class (the ``K x K x C`` terms, in class chunks), no tree recursion and no
  matrix products.  (The point-pair definitions would visit ~8e11 pairs: not feasible.)

Both must agree to 1e-9.  Reports the median of ``--repeats`` runs, the peak memory the l2h call
allocates (tracemalloc, a separate run) and the process's peak RSS.

Run from the repository root::

    python benchmarks/bench_metrics.py              # full size, ~1 minute with the reference
    python benchmarks/bench_metrics.py --n 100000 --k 200 --classes 100 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests._trees

from l2h import Hierarchy, write_tree  # noqa: E402
from l2h.metrics import (
    accuracy,
    ari,
    class_distance_blocks,
    class_distance_matrix,
    contingency_table,
    evaluate,
    leaf_purity,
    nmi,
)
from tests._trees import random_merges  # noqa: E402


def levels_for(k: int) -> tuple[int, ...]:
    """Three cuts: K/2, K/10, K/50 groups (500, 100, 20 for K = 1000)."""
    return tuple(sorted({max(1, k // 2), max(1, k // 10), max(1, k // 50)}, reverse=True))


def make_inputs(n: int, k: int, c: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    home = rng.permutation(max(k, c))[:c] % k  # each class's preferred leaf
    leaf = np.where(rng.random(n) < 0.6, home[labels], rng.integers(0, k, n))
    return random_merges(k, rng), leaf, labels


# ---------------------------------------------------------------------------------------------- l2h
def run_l2h(merges: np.ndarray, leaf: np.ndarray, labels: np.ndarray, distances: bool = True) -> dict:
    """Every score, and the class distance matrix (kept whole only when C <= 5000; else its row blocks
    are computed and dropped, as ``l2h metrics --class-distances`` streams them to the CSV)."""
    tree = Hierarchy.from_merges(merges)
    scores = evaluate(tree, labels, assignments=leaf, levels=levels_for(tree.n_leaves))
    if distances:
        table = contingency_table(leaf, labels, n_leaves=tree.n_leaves, sparse=True)
        if table.shape[1] <= 5000:
            scores["class_distances"] = class_distance_matrix(tree, table)
        else:
            for _ in class_distance_blocks(tree, table):
                pass
    return scores


# ---------------------------------------------------------------------------------------------- reference
def run_reference(merges: np.ndarray, leaf: np.ndarray, labels: np.ndarray, chunk: int = 8) -> dict:
    """Plain NumPy, the definitions summed over pairs of leaves (not points) and classes."""
    tree = Hierarchy.from_merges(merges)
    k = tree.n_leaves
    c = int(labels.max()) + 1
    table = np.zeros((k, c), dtype=np.int64)
    np.add.at(table, (leaf, labels), 1)
    t = table.astype(np.float64)
    # Counts under every node: mask of the leaves below it.
    below = np.zeros((tree.n_nodes, k), dtype=bool)
    for v in range(tree.n_nodes):
        below[v, tree.leaves_under(v)] = True
    node_counts = np.stack([t[m].sum(axis=0) for m in below])
    node_sizes = node_counts.sum(axis=1)
    purity = np.divide(node_counts, node_sizes[:, None], out=np.zeros_like(node_counts), where=node_sizes[:, None] > 0)
    lca = tree.lca_matrix
    dist = tree.path_lengths().astype(np.float64)
    log_dist = np.log(np.where(dist > 0, dist, 1.0))
    off = ~np.eye(k, dtype=bool)
    dp_sum = lhd_sum = len_sum = 0.0
    for start in range(0, c, chunk):
        cols = slice(start, min(start + chunk, c))
        tc = t[:, cols]  # (K, m)
        pairs = tc[:, None, :] * tc[None, :, :]  # (K, K, m): same-class point pairs between two leaves
        pairs[~off] = tc * (tc - 1)  # same leaf: ordered pairs of distinct points
        dp_sum += float(np.sum(pairs * purity[:, cols][lca]))
        lhd_sum += float(np.sum(pairs[off] * log_dist[off][:, None]))
        len_sum += float(np.sum(pairs[off] * dist[off][:, None]))
    sizes = t.sum(axis=0)
    n_star = float(np.sum(sizes * (sizes - 1)))  # ordered
    n_tilde = n_star - float(np.sum(t * (t - 1)))
    # Class distances: for class i, sum over leaf pairs (a, b) of T[a, i] d(a, b) T[b, j].
    class_totals = np.stack([(t[:, i][:, None] * dist).sum(axis=0) @ t for i in range(c)])
    n_pairs = np.outer(sizes, sizes)
    np.fill_diagonal(n_pairs, sizes * (sizes - 1))
    levels = {}
    for level in levels_for(k):
        groups = tree.cut(level)
        grouped = np.stack([table[groups == g].sum(axis=0) for g in range(level)])
        levels[str(level)] = {
            "nmi": nmi(grouped),
            "ari": ari(grouped),
            "acc": accuracy(grouped),
            "lp": leaf_purity(grouped),
        }
    return {
        "n_points": int(leaf.shape[0]),
        "n_leaves": k,
        "nmi": nmi(table),
        "ari": ari(table),
        "acc": accuracy(table),
        "lp": leaf_purity(table),
        "dp": dp_sum / n_star,
        "lhd": lhd_sum / n_tilde / np.log(k),
        "mean_path_length": len_sum / n_tilde,
        "levels": levels,
        "class_distances": np.divide(class_totals, n_pairs, out=np.full_like(class_totals, np.nan), where=n_pairs > 0),
    }


def check_same(a: dict, b: dict) -> None:
    for key in ("nmi", "ari", "acc", "lp", "dp", "lhd", "mean_path_length"):
        assert np.isclose(a[key], b[key], rtol=1e-9, atol=0), (key, a[key], b[key])
    for level in a["levels"]:
        for key, value in a["levels"][level].items():
            assert np.isclose(value, b["levels"][str(level)][key], rtol=1e-9), (level, key)
    np.testing.assert_allclose(a["class_distances"], b["class_distances"], rtol=1e-9)


def timed(fn, *args, repeats: int) -> tuple[list[float], list[float], dict]:
    """Wall and CPU seconds (all threads) of every run, and the last result."""
    walls, cpus = [], []
    result: dict = {}
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn(*args)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, result


def run_cli(merges: np.ndarray, leaf: np.ndarray, labels: np.ndarray, folder: Path, distances: str | None) -> dict:
    """``l2h metrics TREE --assignments --labels --json`` in a child process: wall time and its peak RSS."""
    tree_path, leaf_path, labels_path = folder / "tree.json", folder / "leaves.npy", folder / "labels.npy"
    write_tree(Hierarchy.from_merges(merges), tree_path)
    np.save(leaf_path, leaf)
    np.save(labels_path, labels)
    command = [sys.executable, "-c", "from l2h_cli.main import main; main()", "metrics"]
    command += [str(tree_path)] if _tree_is_positional() else ["--tree", str(tree_path)]
    command += ["--assignments", str(leaf_path), "--labels", str(labels_path), "--json"]
    if distances:
        command += ["--class-distances", distances]
    # A forked child inherits this process's peak RSS (Linux keeps it across exec): let GNU time, a
    # small process, start the command and report that command's own peak.
    rss_path = folder / "rss.txt"
    command = ["/usr/bin/time", "-o", str(rss_path), "-f", "%M", *command]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"l2h metrics failed: {done.stderr.decode()[-2000:]}")
    inputs = (leaf_path, labels_path, tree_path)
    return {
        "wall_s": wall,
        "inputs_mib": sum(path.stat().st_size for path in inputs) / 2**20,
        "peak_rss_mib": int(rss_path.read_text().split()[-1]) / 1024,
        "scores": json.loads(done.stdout),
    }


def _tree_is_positional() -> bool:
    import click
    from l2h_cli.metrics import metrics

    return any(isinstance(param, click.Argument) for param in metrics.params)


def bench_size(n: int, k: int, c: int, args: argparse.Namespace, reference: bool) -> dict:
    merges, leaf, labels = make_inputs(n, k, c, args.seed)
    walls, cpus, ours = timed(run_l2h, merges, leaf, labels, repeats=args.repeats)
    tracemalloc.start()
    run_l2h(merges, leaf, labels, distances=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    row = {
        "n": n,
        "k": k,
        "c": c,
        "l2h_median_s": statistics.median(walls),
        "l2h_cpu_median_s": statistics.median(cpus),
        "l2h_peak_alloc_mib": peak / 2**20,
        "reference_s": None,
    }
    if reference:
        ref_walls, _, theirs = timed(run_reference, merges, leaf, labels, repeats=args.reference_repeats)
        check_same(ours, theirs)
        row["reference_s"] = statistics.median(ref_walls)
    if args.cli:
        with tempfile.TemporaryDirectory(dir=args.scratch) as folder:
            cli = run_cli(merges, leaf, labels, Path(folder), None)
            row["cli_s"], row["cli_rss_mib"], row["cli_inputs_mib"] = (
                cli["wall_s"],
                cli["peak_rss_mib"],
                cli["inputs_mib"],
            )
            if args.csv:
                out = Path(folder) / "distances.csv"
                cli = run_cli(merges, leaf, labels, Path(folder), str(out))
                row.update(csv_s=cli["wall_s"], csv_rss_mib=cli["peak_rss_mib"], csv_mib=out.stat().st_size / 2**20)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="100000x200x100,1281167x1000x1000,1281167x5000x5000", help="comma-separated N x K x C"
    )
    parser.add_argument("--imagenet21k", action="store_true", help="add N = 1 281 167, K = C = 21 841")
    parser.add_argument("--reference-max-k", type=int, default=1000, help="run the reference up to this K")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of l2h (median reported)")
    parser.add_argument("--reference-repeats", type=int, default=1, help="timed runs of the reference")
    parser.add_argument("--cli", action="store_true", help="also time `l2h metrics` end to end (peak RSS of the child)")
    parser.add_argument("--csv", action="store_true", help="with --cli: also time --class-distances to a CSV")
    parser.add_argument("--scratch", default=None, help="folder for the CLI's input files (default: the temp dir)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    sizes = [tuple(int(x) for x in size.split("x")) for size in args.sizes.split(",") if size]
    if args.imagenet21k:
        sizes.append((1_281_167, 21_841, 21_841))

    merges, leaf, labels = make_inputs(2000, 50, 40, 0)
    run_l2h(merges, leaf, labels)  # warm-up: kernels and imports outside the timings
    rows = [bench_size(n, k, c, args, reference=k <= args.reference_max_k) for n, k, c in sizes]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"l2h.metrics: evaluate (levels K/2, K/10, K/50) + class distance matrix; median of {args.repeats} runs")
    print("| N | K = leaves | C = classes | l2h wall | l2h CPU (all threads) | peak alloc | plain reference | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        ref = row["reference_s"]
        print(
            f"| {row['n']:,} | {row['k']:,} | {row['c']:,} | {row['l2h_median_s']:.2f} s | "
            f"{row['l2h_cpu_median_s']:.2f} s | {row['l2h_peak_alloc_mib']:.0f} MiB | "
            + (f"{ref:.2f} s (same to 1e-9) | {ref / row['l2h_median_s']:.1f}x |" if ref else "not feasible | |")
        )
    if args.cli:
        print("\n`l2h metrics TREE --assignments --labels --json` in a child process (peak RSS of the child):")
        for row in rows:
            line = (
                f"  N = {row['n']:,}, K = {row['k']:,}, C = {row['c']:,}: {row['cli_s']:.2f} s, "
                f"peak RSS {row['cli_rss_mib']:.0f} MiB (inputs {row['cli_inputs_mib']:.0f} MiB)"
            )
            if "csv_s" in row:
                line += (
                    f"; with --class-distances: {row['csv_s']:.1f} s, {row['csv_mib']:.0f} MiB of CSV, "
                    f"peak RSS {row['csv_rss_mib']:.0f} MiB"
                )
            print(line)
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
