"""How much could float32 arithmetic with proven error bounds save, with every output bit kept?

A study for issue 22 (docs/algorithm.md, "Float32 with error bounds").  On a logits file it
builds the tree with ``l2h.build_hierarchy`` and measures the two quantities that bound any
"fast values, exact fallback" design that keeps the recorded scores and relatedness bit for bit:

* **points never in a G\\***: an exact score needs the exact ``conf(x)`` of every point of its
  clusters, i.e. the full float64 row sum of each such point, so a design that computes exact
  values lazily (only for the clusters of each ``G*``, when the merge visits them) can skip the
  float64 first-pass work only for the points of clusters that never belong to a ``G*`` (with any
  empty cluster, the soft-membership pass needs every point's exact sum: nothing is skipped);
* **G\\* decisions a bound certifies**: with scores known to a relative error ``beta``, the lowest
  group is certain when every other group's lower bound exceeds its upper bound by more than the
  tie band ``TIE_RTOL``; the share of merges where that fails is the fall-back rate (replayed on
  the tree's own merges, cluster-mean scores from a NumPy float64 softmax);
* the **arithmetic ratio** of NumPy's float32 and float64 ``exp`` on the same block (best of 15
  each; the most a
  float32 pass can gain on arithmetic; the file read is the same);
* the **bound** of docs/algorithm.md checked by brute force: the float32 row sum
  ``Σ_{j≠a} exp(L_j - max)`` and its bound ``B`` against the float64 ``math.fsum`` of float64
  exponentials, on the file's first rows and on adversarial rows (huge ranges, ties, terms in
  float64's subnormal range, float64 values beyond float32's range, terms at float32's underflow
  edge), with ``c = 4`` for NumPy's float32 ``exp`` (measured at most 3.54 u on 1.2·10^7 inputs).

    python benchmarks/study_certified.py --size 100000x1000
    python benchmarks/study_certified.py --file my_logits.npy --beta 3e-7 1e-5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

TIE_RTOL = 8 * 2.0**-52


def cluster_means(logits: np.ndarray, chunk: int = 32768) -> tuple[np.ndarray, np.ndarray]:
    """Point counts and mean ``conf`` per argmax cluster (float64 softmax, chunked)."""
    k = logits.shape[1]
    counts = np.zeros(k, dtype=np.int64)
    sums = np.zeros(k)
    for start in range(0, logits.shape[0], chunk):
        block = np.asarray(logits[start : start + chunk], dtype=np.float64)
        a = block.argmax(1)
        conf = 1.0 / np.exp(block - block.max(1, keepdims=True)).sum(1)
        counts += np.bincount(a, minlength=k)
        sums += np.bincount(a, weights=conf, minlength=k)
    return counts, np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)


def never_g_star_share(merges: np.ndarray, counts: np.ndarray) -> float:
    """Share of the points whose cluster never belongs to a G* with points (0 with empty clusters)."""
    k = counts.size
    if (counts == 0).any():
        return 0.0
    members: list[list[int]] = [[c] for c in range(k)] + [[] for _ in range(k - 1)]
    in_g_star = np.zeros(k, dtype=bool)
    for t, (a, b) in enumerate(merges):
        in_g_star[members[a]] = True
        members[k + t] = members[a] + members[b]
        members[a] = members[b] = []
    return float(counts[~in_g_star].sum() / counts.sum())


def certified_share(merges: np.ndarray, means: np.ndarray, beta: float) -> tuple[float, int]:
    """Share of the merges whose G* a relative score error ``beta`` leaves certain (cluster-mean
    scores), and how many merges were checked."""
    k = means.size
    score = np.full(2 * k - 1, np.inf)
    score[:k] = means
    ok = 0
    for t, (a, b) in enumerate(merges):
        alive = np.isfinite(score)
        lowest = score[a]
        others = score[alive]
        others = np.delete(others, np.flatnonzero(np.flatnonzero(alive) == a))
        if others.size == 0 or others.min() * (1 - beta) > lowest * (1 + beta) * (1 + TIE_RTOL):
            ok += 1
        score[k + t] = score[a] + score[b]
        score[a] = score[b] = np.inf
    return ok / max(1, len(merges)), len(merges)


U32 = 2.0**-24
C_EXP = 4.0  # relative error of NumPy's float32 exp, in units of U32 (measured <= 3.54)


def fast_row_sums(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float32 ``Ŝ = Σ_{j≠a} exp(x_j)``, ``x = L - max``, and its bound ``B`` (docs/algorithm.md)."""
    rows = np.asarray(rows, dtype=np.float64)
    k = rows.shape[1]
    a = rows.argmax(1)
    with np.errstate(over="ignore"):  # differences beyond float32's range become -inf: dropped
        x = (rows - rows[np.arange(rows.shape[0]), a][:, None]).astype(np.float32)
    x[np.arange(rows.shape[0]), a] = -np.inf  # the argmax term is left out
    keep = x >= -87.0
    e = np.where(keep, np.exp(np.where(keep, x, 0.0).astype(np.float32)), 0.0).astype(np.float64)
    s_hat = e.sum(1)
    weight = (e * (np.abs(np.where(keep, x, 0.0).astype(np.float64)) + C_EXP)).sum(1)
    bound = U32 * (1 + 2e-5) * weight + (k - 1) * 2.0**-53 * s_hat + k * 2.0**-125
    return s_hat, bound


def exact_row_sums(rows: np.ndarray) -> np.ndarray:
    """``Σ_{j≠a} exp(L_j - max)`` from float64 exponentials added exactly (``math.fsum``)."""
    import math

    rows = np.asarray(rows, dtype=np.float64)
    a = rows.argmax(1)
    x = rows - rows[np.arange(rows.shape[0]), a][:, None]
    e = np.exp(x)
    e[np.arange(rows.shape[0]), a] = 0.0
    return np.array([math.fsum(r) for r in e])


def adversarial_rows(rng: np.random.Generator, k: int = 64) -> np.ndarray:
    """Rows that stress the bound: see the module docstring."""
    rows = [
        rng.normal(size=(50, k)) * scale for scale in (0.01, 1.0, 10.0, 100.0, 1e4)
    ]  # from near ties to huge ranges
    rows.append(np.zeros((3, k)))  # every entry tied
    rows.append(np.repeat(rng.normal(size=(3, k // 2)), 2, axis=1))  # pairs of equal entries
    sub = rng.normal(size=(20, k))
    sub[:, 1:] = sub[:, :1] - rng.uniform(700, 745, size=(20, k - 1))  # float64-subnormal terms
    rows.append(sub)
    edge = np.zeros((20, k))
    edge[:, 1:] = -rng.uniform(86.0, 88.5, size=(20, k - 1))  # float32's underflow edge
    rows.append(edge)
    big = rng.normal(size=(20, k)) + 1e300  # beyond float32's range (differences in float64)
    big[:, ::3] = -1e300
    rows.append(big)
    huge = rng.normal(size=(20, k)) * 1e39  # beyond float32's range, huge differences
    rows.append(huge)
    return np.concatenate(rows)


def check_bound(logits: np.ndarray, rows: int = 2000) -> dict:
    """Largest ``|Ŝ - S| / B`` (must stay below 1) and the median ``B / Ŝ`` on the file's first
    rows and on adversarial rows."""
    out = {}
    for name, block in (
        ("file", np.asarray(logits[:rows])),
        ("adversarial", adversarial_rows(np.random.default_rng(0))),
    ):
        s_hat, bound = fast_row_sums(block)
        exact = exact_row_sums(block)
        ratio = np.abs(s_hat - exact) / bound
        out[f"bound_{name}_rows"] = int(block.shape[0])
        out[f"bound_{name}_max_error_over_bound"] = float(f"{ratio.max():.3g}")
        nz = s_hat > 0
        out[f"bound_{name}_median_relative_bound"] = float(f"{np.median(bound[nz] / s_hat[nz]):.3g}")
    return out


def exp_ratio(logits: np.ndarray, rows: int = 4096, repeats: int = 15) -> float:
    """Best time of NumPy's float64 exp over float32 exp on the same block (shifted rows),
    alternating (the best of many is the least disturbed by other load)."""
    block = np.asarray(logits[:rows], dtype=np.float64)
    x64 = block - block.max(1, keepdims=True)
    x32 = x64.astype(np.float32)
    t64, t32 = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        np.exp(x64)
        t64.append(time.perf_counter() - t)
        t = time.perf_counter()
        np.exp(x32)
        t32.append(time.perf_counter() - t)
    return float(min(t64) / min(t32))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="100000x1000", help="NxK of bench_build.py's synthetic logits")
    ap.add_argument("--file", help="a logits .npy file instead")
    ap.add_argument("--beta", nargs="+", type=float, default=[3e-7, 1e-5], help="relative score error bound(s)")
    args = ap.parse_args()
    from l2h import build_hierarchy

    if args.file:
        path = Path(args.file)
    else:
        from bench_build import make_logits

        n, k = map(int, args.size.lower().split("x"))
        path = make_logits(n, k)
    logits = np.load(path, mmap_mode="r")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = build_hierarchy(logits)
    counts, means = cluster_means(logits)
    merges = np.asarray(tree.merges, dtype=np.int64)
    out = {
        "file": str(path),
        "shape": list(logits.shape),
        "points_never_in_a_g_star": round(never_g_star_share(merges, counts), 4),
        "numpy_exp_float64_over_float32": round(exp_ratio(logits), 2),
        **check_bound(logits),
    }
    for beta in args.beta:
        share, n_merges = certified_share(merges, means, beta)
        out[f"g_star_certified_at_beta_{beta:g}"] = round(share, 4)
    out["merges"] = int(merges.shape[0])
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
