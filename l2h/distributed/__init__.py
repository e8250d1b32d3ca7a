"""L2H on a Dask cluster: sharded inputs, identical trees, surviving lost workers.

Install with ``pip install "l2h[dask]"`` (``dask[distributed]``, ``zarr``).  The driver reads only
the shards' headers; every worker holds the per-point state of its shards (the same kernels as the
single-machine build) and, per merge, returns its per-cluster partial sums over the points of the
lowest-scored group ``G*`` in double-double.  The driver runs the single-machine decision code.

Public API
----------
open_shards(source, ndim=2, name="logits", key=None) -> list[Shard]
    Shards of one ``.npy``, a folder of ``.npy`` shards (file-name order), a Zarr array, a list of
    files, an array or a ``dask.array``; fsspec URLs welcome; headers only.
split_shards(shards, max_rows) -> list[Shard]
    Cut long shards into row ranges (to spread one file over several workers).
connect(scheduler=None, workers=None, timeout=10) -> (client, close)
    A ``distributed.Client`` on an existing scheduler, or on a local cluster of N worker processes.
build_distributed(source, client, ...) -> Hierarchy
    The L2H build on the cluster (``l2h.build_hierarchy(logits, client=...)`` calls it).
ClusterError
    Raised when the cluster cannot do the work (unreachable scheduler, no worker left).
"""

from __future__ import annotations

from typing import Any

from l2h.distributed.cluster import ClusterError, connect, require_distributed
from l2h.distributed.shards import INSTALL_HINT, Shard, open_shards, split_shards, total_rows

__all__ = [
    "INSTALL_HINT",
    "ClusterError",
    "Shard",
    "build_distributed",
    "connect",
    "open_shards",
    "require_distributed",
    "split_shards",
    "total_rows",
]


def __getattr__(name: str) -> Any:
    if name == "build_distributed":
        from l2h.distributed.engine import build_distributed

        return build_distributed
    raise AttributeError(f"module 'l2h.distributed' has no attribute {name!r}")
