"""1 against 2 Numba threads for the single-machine build, per phase (first pass, merges).

Runs ``bench_build.py``'s library worker (a fresh process per run, the file in the page cache) with
``NUMBA_NUM_THREADS`` = 1 and 2, alternating the order, ``--repeats`` times each, and prints per run
the wall time, its split and the CPU seconds of all threads.  CPU / wall says how many cores a run
actually got: on a shared machine a 2-thread run that got one core (CPU ≈ wall) measures the load,
not the build, so the speed-ups are taken from the best run of each thread count, and the fit
``T(t) = S + P / t`` per phase (S: what stays serial) is extrapolated to 16 and 64 threads::

    python benchmarks/bench_cores.py --size 1281167x1000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="200000x1000", help="NxK of the synthetic float32 logits")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from bench_build import make_logits, run_worker

    n, k = (int(v) for v in args.size.lower().split("x"))
    path = make_logits(n, k)
    runs: dict[int, list[dict]] = {1: [], 2: []}
    for r in range(args.repeats):
        for t in (1, 2) if r % 2 == 0 else (2, 1):
            out = run_worker("l2h", path, 1, threads=t)
            wall, scan, cpu = out["times"][0], out["scan"][0], out["cpu"][0]
            runs[t].append({"wall": wall, "scan": scan, "merges": wall - scan, "cpu": cpu, "load": os.getloadavg()[0]})
    best = {t: min(rs, key=lambda x: x["wall"]) for t, rs in runs.items()}
    fit = {}
    for phase in ("scan", "merges"):
        a, b = best[1][phase], best[2][phase]
        par = max(0.0, 2 * (a - b))
        ser = a - par
        fit[phase] = {"serial_s": ser, "parallel_s": par, **{f"{w}_threads_s": ser + par / w for w in (16, 64)}}
    if args.json:
        print(json.dumps({"size": args.size, "runs": runs, "best": best, "fit": fit}, indent=1))
        return
    head = f"{'threads':>7} {'wall s':>7} {'scan s':>7} {'merges s':>8} {'CPU s':>6} {'cores':>5} {'load':>5}"
    print(f"{args.size}: {head}")
    for t, rs in runs.items():
        for x in rs:
            mark = " best" if x is best[t] else ""
            print(f"{'':>{len(args.size) + 1}} {t:>7} {x['wall']:7.2f} {x['scan']:7.2f} {x['merges']:8.2f} "
                  f"{x['cpu']:6.2f} {x['cpu'] / x['wall']:5.2f} {x['load']:5.2f}{mark}")  # fmt: skip
    if best[2]["cpu"] < 1.5 * best[2]["wall"]:
        print("no 2-thread run got two cores (CPU < 1.5 x wall): the machine is busy, no speed-up to fit")
        return
    for phase, f in fit.items():
        up = best[1][phase] / best[2][phase]
        print(f"{phase}: 1 -> 2 threads {up:.2f}x; serial {f['serial_s']:.2f} s + parallel {f['parallel_s']:.2f} s / "
              f"threads -> 16 threads {f['16_threads_s']:.2f} s, 64 threads {f['64_threads_s']:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
