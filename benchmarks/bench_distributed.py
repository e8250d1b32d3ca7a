"""Benchmark the Dask build (``l2h build --workers N`` / ``build_hierarchy(..., client=...)``).

On a local cluster of ``--workers`` worker processes (default 2, one task thread each) it measures,
on memory-mapped synthetic float32 logits (``benchmarks/bench_build.py``'s generator):

* the **per-merge overhead**: for every round trip the driver's wall time minus the slowest
  host's compute time (the single-machine work, done in parallel), median and p99, and amortised
  over the merges (the sum over round trips divided by K - 1: a round trip also fetches the next
  groups' ``rp`` ahead, see :mod:`l2h.distributed.engine`); the same with fetching ahead turned
  off (``AHEAD_GROUPS = 0``, one round trip per merge) in the same run; also with the hosts in the
  driver's process (no Dask; amortised, and it includes the hosts' work, which runs one host
  after the other there);
* the **end-to-end ratio**: the Dask build (shard loading and first pass included, cluster start-up
  excluded) over the single-process ``build_hierarchy`` of the same file, best of ``--repeats``;
* the **cost model inputs** from the single-process run: first-pass cost per logit, merge-phase
  cost per point visit, visits per point;

checks that both trees are identical, and prints a **model of wall time** at 14 M x 21 841 on 64
workers and 10^8 x 10^4 on 256 workers, naming the bottleneck.

    python benchmarks/bench_distributed.py                      # 200 000 x 1000 (default)
    python benchmarks/bench_distributed.py --imagenet           # 1 281 167 x 1000 (5.1 GB file)
    python benchmarks/bench_distributed.py --size 50000x300 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def _visits(tree, counts: np.ndarray) -> int:
    """Points visited over the build: sum over merges of |D_{G*}| (soft groups visit every point)."""
    k = counts.size
    node_count = np.zeros(2 * k - 1, dtype=np.int64)
    node_count[:k] = counts
    n = int(counts.sum())
    total = 0
    for t, (a, b) in enumerate(tree.merges):
        total += int(node_count[a]) if node_count[a] > 0 else n
        node_count[k + t] = node_count[a] + node_count[b]
    return total


def _timed_single(path: Path):
    from l2h.merge import build_hierarchy

    marks: dict[str, float] = {}

    def progress(phase: str, done: int, total: int) -> None:
        marks[phase] = time.perf_counter()

    started = time.perf_counter()
    tree = build_hierarchy(np.load(path, mmap_mode="r"), progress=progress)
    end = time.perf_counter()
    return tree, end - started, marks.get("scan", started) - started, end - marks.get("scan", started)


def _timed_dask(path: Path, client, ahead: bool = True):
    from l2h.distributed import build_distributed, engine

    saved = engine.AHEAD_GROUPS
    engine.AHEAD_GROUPS = saved if ahead else 0
    try:
        return _timed_dask_run(path, client, build_distributed)
    finally:
        engine.AHEAD_GROUPS = saved


def _timed_dask_run(path: Path, client, build_distributed):
    stats: dict = {}
    marks: dict[str, float] = {}

    def progress(phase: str, done: int, total: int) -> None:
        marks[phase] = time.perf_counter()

    started = time.perf_counter()
    tree = build_distributed(str(path), client, progress=progress, stats=stats)
    end = time.perf_counter()
    stats["wall"] = end - started
    stats["load"] = marks.get("scan", started) - started
    return tree, stats


def _pings(client, rounds: int = 300) -> tuple[float, float]:
    """Median round trip (s) of an empty actor call to one host, and to all hosts at once."""
    from l2h.distributed.engine import Host

    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    actors = [client.submit(Host, actor=True, workers=[w], pure=False).result() for w in workers]
    one, every = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        actors[0].ping().result()
        one.append(time.perf_counter() - t)
        t = time.perf_counter()
        for future in [a.ping() for a in actors]:
            future.result()
        every.append(time.perf_counter() - t)
    return float(np.median(one)), float(np.median(every))


def model(
    per_logit: float,
    per_visit: float,
    visits_per_point: float,
    k_measured: int,
    overhead: float,
    per_host: float,
    hosts: int,
    trips_per_merge: float = 1.0,
) -> list[dict]:
    """Wall-time model (seconds) of a build at scale, from the measured constants.

    * first pass: ``N K per_logit / W`` (every worker scans its rows; perfectly parallel);
    * visits: ``v N per_visit (K / K_measured) / W``: the visit cost is taken proportional to K
      (an upper bound: a visit reads a few stored entries, refills and the rare exact recomputation
      read the row);
    * driver: ``(K - 1) o(W)`` with ``o(W) = o + r (W - hosts) h``: the measured per-merge overhead
      ``o`` on ``hosts`` workers (amortised over the merges a round trip serves), plus, per round
      trip (``r`` of them per merge, as measured), the driver's measured cost ``h`` per extra host
      contacted (empty actor calls to one host vs. to all at once); with rows sharded at random
      every round trip contacts every worker;
    * network: every host returns the non-zero entries of its K-vector partial sums (at most
      ``min(K, points visited)``, 20 bytes each); the largest merges bring ``W K 20`` bytes.
    """
    rows = []
    for name, n, k, w in (("ImageNet-21k", 14_000_000, 21_841, 64), ("web-scale", 100_000_000, 10_000, 256)):
        scan = n * k * per_logit / w
        visit = visits_per_point * n * per_visit * (k / k_measured) / w
        o_w = overhead + trips_per_merge * max(0, w - hosts) * per_host
        driver = (k - 1) * o_w
        # network: on average a merge touches |D_G*| ~ v N / K points spread over all hosts
        nnz = min(k, max(1.0, visits_per_point * n / k / w))
        net = (k - 1) * w * nnz * 20 / 1.25e9  # 10 Gbit/s into the driver
        parts = {"first pass": scan, "visits": visit, "driver round trips": driver, "network": net}
        bottleneck = max(parts, key=parts.get)
        rows.append({"name": name, "N": n, "K": k, "workers": w, **parts, "total": sum(parts.values()),
                     "bottleneck": bottleneck})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="200000x1000", help="NxK of the synthetic logits")
    parser.add_argument("--imagenet", action="store_true", help="1 281 167 x 1000 (ImageNet's size)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n, k = (1_281_167, 1000) if args.imagenet else map(int, args.size.lower().split("x"))

    from bench_build import make_logits

    from l2h.distributed import connect

    warnings.simplefilter("ignore")
    path = make_logits(n, k)
    load_avg = os.getloadavg()[0]
    warm = path.parent / "bench_distributed_warmup.npy"  # compile / load the float32 kernels first
    np.save(warm, np.load(path, mmap_mode="r")[:2000])
    _timed_single(warm)
    single = [_timed_single(path) for _ in range(args.repeats)]
    tree, _, _, _ = single[0]
    best_single = min(s[1] for s in single)
    scan_s = min(s[2] for s in single)
    merge_s = min(s[3] for s in single)
    counts = np.asarray(tree.info["cluster_sizes"])
    visits = _visits(tree, counts)

    # the engine alone (hosts in this process, no Dask): its own per-merge cost
    from l2h.distributed.engine import InProcessCluster

    _, local = _timed_dask(path, InProcessCluster(args.workers))
    local_over = np.array(local["step_seconds"]) - np.array(local["work_seconds"])
    local_amortised = float(local_over.sum()) / max(1, k - 1)

    t0 = time.perf_counter()
    client, close = connect(workers=args.workers)
    startup = time.perf_counter() - t0
    try:
        _timed_dask(warm, client)  # the workers load their kernels once
        runs, plain = [], []
        for _ in range(args.repeats):  # side by side: with and without fetching ahead
            runs.append(_timed_dask(path, client))
            plain.append(_timed_dask(path, client, ahead=False))
        ping_1, ping_all = _pings(client)
    finally:
        close()
    for dtree, _ in runs + plain:
        assert np.array_equal(dtree.linkage, tree.linkage), "the Dask tree differs"
        assert (
            dtree.scores.tobytes() == tree.scores.tobytes()
            and dtree.relatedness.tobytes() == tree.relatedness.tobytes()
        )
    best = min(runs, key=lambda r: r[1]["wall"])[1]
    over = np.array(best["step_seconds"]) - np.array(best["work_seconds"])
    best_plain = min(plain, key=lambda r: r[1]["wall"])[1]
    over_plain = np.array(best_plain["step_seconds"]) - np.array(best_plain["work_seconds"])
    amortised = float(over.sum()) / max(1, k - 1)
    result = {
        "N": n,
        "K": k,
        "workers": args.workers,
        "load_average_1min": round(load_avg, 2),
        "single_process_s": round(best_single, 3),
        "single_scan_s": round(scan_s, 3),
        "single_merges_s": round(merge_s, 3),
        "dask_s": round(best["wall"], 3),
        "dask_load_and_first_pass_s": round(best["load"], 3),
        "cluster_startup_s": round(startup, 2),
        "ratio_dask_over_single": round(best["wall"] / best_single, 2),
        "dask_one_merge_per_round_trip_s": round(best_plain["wall"], 3),
        "round_trips": len(best["step_seconds"]),
        "rp_fetched_ahead_used": best["n_rp_ahead_used"],
        "rp_fetched_ahead_dropped": best["n_rp_ahead_dropped"],
        "overhead_per_merge_ms_amortised": round(1e3 * amortised, 3),
        "overhead_per_round_trip_ms_median": round(1e3 * float(np.median(over)), 3),
        "overhead_per_round_trip_ms_p99": round(1e3 * float(np.percentile(over, 99)), 3),
        "one_merge_per_round_trip_overhead_ms_median": round(1e3 * float(np.median(over_plain)), 3),
        "one_merge_per_round_trip_overhead_ms_amortised": round(1e3 * float(over_plain.sum()) / max(1, k - 1), 3),
        "driver_wait_per_merge_ms_median": round(1e3 * float(np.median(best["step_seconds"])), 3),
        # the driver's own time between round trips (decisions, bookkeeping), per merge
        "driver_decisions_ms_per_merge": round(
            1e3 * (best["wall"] - best["load"] - float(np.sum(best["step_seconds"]))) / max(1, k - 1), 3
        ),
        "overhead_in_process_ms_amortised": round(1e3 * local_amortised, 3),
        "shards": best["n_shards"],
        "visits_per_point": round(visits / n, 3),
        "ns_per_logit_first_pass": round(1e9 * scan_s / (n * k), 3),
        "ns_per_visit": round(1e9 * merge_s / visits, 1),
        "identical_trees": True,
        "empty_call_ms_one_host": round(1e3 * ping_1, 3),
        "empty_call_ms_all_hosts": round(1e3 * ping_all, 3),
    }
    per_host = max(0.0, (ping_all - ping_1) / max(1, args.workers - 1))
    result["driver_ms_per_extra_host"] = round(1e3 * per_host, 3)
    result["model"] = model(
        scan_s / (n * k), merge_s / visits, visits / n, k, amortised, per_host, args.workers,
        len(best["step_seconds"]) / max(1, k - 1),
    )  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for key, value in result.items():
        if key != "model":
            print(f"{key:34s} {value}")
    print("\nmodel of wall time (seconds):")
    print(f"{'input':14s} {'workers':>7s} {'first pass':>10s} {'visits':>8s} {'driver':>8s} {'network':>8s} "
          f"{'total':>8s}  bottleneck")  # fmt: skip
    for row in result["model"]:
        print(
            f"{row['name']:14s} {row['workers']:7d} {row['first pass']:10.1f} {row['visits']:8.1f} "
            f"{row['driver round trips']:8.1f} {row['network']:8.1f} {row['total']:8.1f}  {row['bottleneck']}"
        )


if __name__ == "__main__":
    main()
