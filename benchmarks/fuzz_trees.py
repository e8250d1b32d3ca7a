"""Bit-identity checker for the build: a seeded fuzz of random builds, saved once, compared later.

Each case is a random input (float32 or float64; logits, probabilities or log-probabilities; empty
clusters, repeated rows, ties, confident rows; from a handful of points to a few thousand points
over a few hundred clusters, and groups of more than 4 096 points or soft passes of more than 65 536
terms so that the parallel kernels run) built with every aggregation and strategy.  ``--save`` stores
each tree's merges, scores and relatedness; ``--compare`` rebuilds and reports every case whose
arrays differ in a single bit.  Run it with ``L2H_KERNELS=numba`` so that the compiled kernels run
(the default ``auto`` interprets small builds instead)::

    L2H_KERNELS=numba python benchmarks/fuzz_trees.py --save /tmp/kernels_ref.npz
    L2H_KERNELS=numba python benchmarks/fuzz_trees.py --compare /tmp/kernels_ref.npz
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Iterator

import numpy as np

N_CASES = 178


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def case(i: int) -> tuple[dict, np.ndarray]:
    """The ``i``-th case: its options and its input array (the same at every call)."""
    from l2h.build.aggregations import AGGREGATIONS

    rng = np.random.default_rng(1000 + i)
    kind = i % 6
    if kind == 0:  # tiny
        n, k = int(rng.integers(1, 30)), int(rng.integers(2, 9))
    elif kind in (1, 2):  # small
        n, k = int(rng.integers(50, 600)), int(rng.integers(5, 60))
    elif kind == 3:  # medium
        n, k = int(rng.integers(1000, 3500)), int(rng.integers(20, 300))
    elif kind == 4:  # groups over 4 096 points (parallel visits), soft passes over 65 536 terms
        n, k = int(rng.integers(4500, 7000)), int(rng.integers(3, 24))
    else:  # many clusters, few points each
        n, k = int(rng.integers(200, 1500)), int(rng.integers(100, 400))
    wide = i % 24 == 22  # soft passes over more than 65 536 points (the parallel soft kernel)
    if wide:
        n, k = int(rng.integers(65_600, 70_000)), int(rng.integers(3, 8))
    x = rng.normal(scale=float(rng.choice([0.5, 2.0, 6.0])), size=(n, k))
    features = []
    if (wide or rng.random() < 0.35) and k > 2:  # empty clusters: never an argmax
        n_empty = int(rng.integers(1, max(2, k // 2)))
        cols = rng.choice(k, size=min(n_empty, k - 1), replace=False)
        keep = np.setdiff1d(np.arange(k), cols)
        x[:, cols] = x[:, keep].max(axis=1, keepdims=True) - rng.uniform(0.1, 8.0, size=(n, cols.size))
        features.append(f"empty{cols.size}")
    if rng.random() < 0.3 and n > 3:  # repeated rows
        src = rng.integers(0, n, size=n // 3)
        dst = rng.integers(0, n, size=n // 3)
        x[dst] = x[src]
        features.append("repeats")
    if rng.random() < 0.3:  # ties: few distinct values
        x = np.round(x)
        features.append("ties")
    if rng.random() < 0.3:  # confident rows: 1 - p underflows, exact recomputation
        rows = rng.random(n) < 0.4
        x[rows] *= 40.0
        features.append("confident")
    dtype = np.float32 if i % 2 == 0 else np.float64
    inp = ("logits", "logits", "probs", "log-probs")[int(rng.integers(0, 4))]
    if inp == "probs":
        x = _softmax(x)
    elif inp == "log-probs":
        x = np.log(np.maximum(_softmax(x), 1e-300))
    strategy = "all-pairs" if (k <= 60 and rng.random() < 0.25) else "lowest-score"
    aggregation = list(AGGREGATIONS)[int(rng.integers(0, len(AGGREGATIONS)))]
    options = {"aggregation": aggregation, "strategy": strategy, "input": inp}
    desc = f"{n}x{k} {np.dtype(dtype).name} {inp} {aggregation} {strategy} {'+'.join(features) or '-'}"
    return {"options": options, "desc": desc}, np.ascontiguousarray(x, dtype=dtype)


def run_all(cases: range) -> Iterator[tuple[int, str, dict[str, np.ndarray]]]:
    """Build every case; yields ``(i, description, arrays)`` (``error`` holds a failure's message)."""
    import l2h

    for i in cases:
        meta, x = case(i)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                tree = l2h.build_hierarchy(x, **meta["options"])
            except (ValueError, TypeError) as exc:
                yield i, meta["desc"], {"error": np.array(str(exc))}
                continue
        yield i, meta["desc"], {"merges": tree.merges, "scores": tree.scores, "rels": tree.relatedness}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", metavar="NPZ", help="build every case and store the trees here")
    group.add_argument("--compare", metavar="NPZ", help="build every case and compare with these trees")
    parser.add_argument("--cases", type=int, default=N_CASES, help="number of cases")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.save:
        out: dict[str, np.ndarray] = {}
        for i, desc, arrays in run_all(range(args.cases)):
            out[f"{i}/desc"] = np.array(desc)
            for name, arr in arrays.items():
                out[f"{i}/{name}"] = arr
        np.savez(args.save, **out)
        print(f"saved {args.cases} cases to {args.save} in {time.perf_counter() - start:.1f} s")
        return 0
    ref = np.load(args.compare, allow_pickle=False)
    bad = 0
    for i, desc, arrays in run_all(range(args.cases)):
        names = sorted(k.split("/", 1)[1] for k in ref.files if k.startswith(f"{i}/") and not k.endswith("/desc"))
        same = names == sorted(arrays) and all(
            arrays[name].dtype == ref[f"{i}/{name}"].dtype and arrays[name].tobytes() == ref[f"{i}/{name}"].tobytes()
            for name in names
        )
        if not same:
            bad += 1
            print(f"case {i} differs: {desc}")
    print(f"{args.cases - bad}/{args.cases} cases bit-identical ({time.perf_counter() - start:.1f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
