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
import sys
import time
import tracemalloc

import numpy as np

from l2h import Hierarchy
from l2h.metrics import accuracy, ari, class_distance_matrix, contingency_table, evaluate, leaf_purity, nmi


def levels_for(k: int) -> tuple[int, ...]:
    """Three cuts: K/2, K/10, K/50 groups (500, 100, 20 for K = 1000)."""
    return tuple(sorted({max(1, k // 2), max(1, k // 10), max(1, k // 50)}, reverse=True))


def random_tree(k: int, rng: np.random.Generator) -> np.ndarray:
    """Merges of a uniformly random binary tree over k leaves (scipy numbering)."""
    alive = list(range(k))
    merges = np.empty((k - 1, 2), dtype=np.int64)
    for t in range(k - 1):
        i, j = sorted(rng.choice(len(alive), size=2, replace=False))
        merges[t] = alive[i], alive[j]
        alive[j] = alive[-1]
        alive.pop()
        alive[i] = k + t
    return merges


def make_inputs(n: int, k: int, c: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    home = rng.permutation(max(k, c))[:c] % k  # each class's preferred leaf
    leaf = np.where(rng.random(n) < 0.6, home[labels], rng.integers(0, k, n))
    return random_tree(k, rng), leaf, labels


# ---------------------------------------------------------------------------------------------- l2h
def run_l2h(merges: np.ndarray, leaf: np.ndarray, labels: np.ndarray) -> dict:
    tree = Hierarchy.from_merges(merges)
    scores = evaluate(tree, labels, assignments=leaf, levels=levels_for(tree.n_leaves))
    table = contingency_table(leaf, labels, n_leaves=tree.n_leaves)
    scores["class_distances"] = class_distance_matrix(tree, table)
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
            assert np.isclose(value, b["levels"][level][key], rtol=1e-9), (level, key)
    np.testing.assert_allclose(a["class_distances"], b["class_distances"], rtol=1e-9)


def timed(fn, *args, repeats: int) -> tuple[list[float], dict]:
    times = []
    result: dict = {}
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - start)
    return times, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_281_167, help="points")
    parser.add_argument("--k", type=int, default=1000, help="leaves")
    parser.add_argument("--classes", type=int, default=1000, help="classes")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of l2h (median reported)")
    parser.add_argument("--reference-repeats", type=int, default=1, help="timed runs of the reference (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)

    merges, leaf, labels = make_inputs(args.n, args.k, args.classes, args.seed)
    run_l2h(merges, leaf[:1000], labels[:1000])  # warm-up: imports (scipy.optimize) outside the timings

    times, ours = timed(run_l2h, merges, leaf, labels, repeats=args.repeats)
    tracemalloc.start()
    run_l2h(merges, leaf, labels)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    report = {
        "n_points": args.n,
        "n_leaves": args.k,
        "n_classes": args.classes,
        "repeats": args.repeats,
        "l2h_median_s": statistics.median(times),
        "l2h_min_s": min(times),
        "l2h_peak_alloc_mib": peak / 2**20,
        "inputs_mib": (leaf.nbytes + labels.nbytes) / 2**20,
    }
    if args.reference_repeats > 0:
        ref_times, reference = timed(run_reference, merges, leaf, labels, repeats=args.reference_repeats)
        check_same(ours, reference)
        report["reference_median_s"] = statistics.median(ref_times)
        report["speedup"] = report["reference_median_s"] / report["l2h_median_s"]
        report["agree"] = True
    report["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"inputs: N = {args.n:,} points, K = {args.k} leaves, C = {args.classes} classes "
        f"({report['inputs_mib']:.0f} MiB of int64 assignments + labels)"
    )
    print(
        f"l2h.metrics  (evaluate with levels {levels_for(args.k)} + class distances): "
        f"median {report['l2h_median_s']:.3f} s over {args.repeats} runs (min {report['l2h_min_s']:.3f} s), "
        f"peak allocation {report['l2h_peak_alloc_mib']:.0f} MiB"
    )
    if "reference_median_s" in report:
        print(
            f"plain NumPy reference (leaf pairs x classes): median {report['reference_median_s']:.2f} s "
            f"over {args.reference_repeats} run(s); same numbers to 1e-9; l2h is {report['speedup']:.0f}x faster"
        )
    print(f"process peak RSS: {report['max_rss_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
