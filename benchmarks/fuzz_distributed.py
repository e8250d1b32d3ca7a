"""Bit-identity fuzz of the Dask build: every case of ``fuzz_trees.py`` built sharded, against the
single-machine build of the same array.

Each case (float32/float64; logits, probabilities, log-probabilities; empty clusters, repeated rows,
ties, confident rows; every aggregation; both strategies) is cut into random row shards over 1-3
in-process hosts (the engine and its packed replies, without Dask's transport), some losing a host
at a random merge; ``--dask N`` also builds the first N cases on a local Dask cluster of 2 worker
processes.  Merges, scores and relatedness must be equal bit for bit (errors: the same message)::

    L2H_KERNELS=numba python benchmarks/fuzz_distributed.py --cases 178 --dask 24
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _arrays(build, *args, **kwargs) -> dict[str, np.ndarray] | str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tree = build(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            return str(exc)
    return {"merges": tree.merges, "scores": tree.scores, "rels": tree.relatedness}


def _same(a: dict[str, np.ndarray] | str, b: dict[str, np.ndarray] | str) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return all(a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes() for k in a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=178, help="number of fuzz_trees cases")
    parser.add_argument("--dask", type=int, default=0, help="also build the first N cases on a local Dask cluster")
    args = parser.parse_args(argv)

    from fuzz_trees import case

    import l2h
    from l2h.distributed.engine import InProcessCluster, build_distributed

    started = time.perf_counter()
    client = close = None
    if args.dask:
        from l2h.distributed import connect

        client, close = connect(workers=2)
    bad = runs = 0
    try:
        for i in range(args.cases):
            meta, x = case(i)
            opts = meta["options"]
            rng = np.random.default_rng([i, 22])
            ref = _arrays(l2h.build_hierarchy, x, **opts)
            hosts = int(rng.integers(1, 4))
            fail = {int(rng.integers(max(1, x.shape[1] - 1))): int(rng.integers(hosts))} if hosts > 1 else {}
            fail = fail if rng.random() < 0.3 else {}
            rows = 1 + int(rng.integers(max(1, x.shape[0])))
            cluster = InProcessCluster(hosts, fail=dict(fail))
            how = f"{hosts} hosts, shards of {rows} rows, lost {fail or 'none'}"
            builds = [(how, (cluster,), {"max_shard_rows": rows})]
            if client is not None and i < args.dask:
                builds.append(("Dask, 2 workers", (client,), {}))
            for how, where, extra in builds:
                runs += 1
                if not _same(_arrays(build_distributed, x, *where, **opts, **extra), ref):
                    bad += 1
                    print(f"case {i} differs ({how}): {meta['desc']}", flush=True)
    finally:
        if close is not None:
            close()
    print(f"{runs - bad}/{runs} sharded builds bit-identical to the single-machine build "
          f"({args.cases} cases, {time.perf_counter() - started:.1f} s)")  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
