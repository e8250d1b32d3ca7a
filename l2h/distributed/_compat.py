"""The seams of :mod:`l2h.merge` that the Dask build uses, in one place.

:mod:`l2h.merge` keeps the per-point state (``_BuildState``, built by the first pass and updated
by the visits), the per-merge reduction (``rp_sparse`` on a shard, ``load_rp`` on the driver) and
the decisions (``_build_from_run`` over a state whose ``rp`` answers from elsewhere) separately
callable; this module is the only one that knows their names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from l2h import merge as _merge
from l2h._validation import warn


# ---------------------------------------------------------------------------------------------- workers
def shard_state(kernels: Any, arr: np.ndarray, chunk_rows: int, input: str) -> tuple[Any, int, bool, Any]:
    """A single-machine build state over one shard's rows: ``(state, clipped zeros, looks like
    probabilities, keep-alive)``.  Raises ``ValueError`` on NaN/inf rows (like the single build)."""
    work, keep, n_clipped = _merge.INPUTS[input](arr, chunk_rows)
    try:
        state = _merge._BuildState(kernels, work, chunk_rows, None)
    except ValueError:
        if input != "log-probs":
            raise
        work, keep, n_clipped = _merge._clip_log_zeros(arr, chunk_rows)
        state = _merge._BuildState(kernels, work, chunk_rows, None)
    return state, int(n_clipped), bool(getattr(state, "looks_like_probs", False)), keep


def first_pass_sums(state: Any, n_clusters: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cluster point counts and double-double confidence sums of a shard."""
    return state.counts.copy(), state.node_conf[0, :n_clusters].copy(), state.node_conf[1, :n_clusters].copy()


def shard_rp(state: Any, node: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shard's ``rp`` partial sums for ``node``, sparse: ``(clusters, hi, lo)``, clusters ascending."""
    return state.rp_sparse(node)


def shard_save(state: Any, node: int) -> tuple[np.ndarray, ...]:
    """The per-point state that a visit of ``node`` changes, for the node's points (bucket positions
    first), so that :func:`shard_restore` can undo a visit that was made ahead and never used."""
    pts = state.kern.gather_positions(state.members(node), state.offsets)
    return (pts, *(arr[pts] for arr in _visited_arrays(state)))


def shard_restore(state: Any, saved: tuple[np.ndarray, ...]) -> None:
    """Put back the state saved by :func:`shard_save`."""
    pts = saved[0]
    for arr, old in zip(_visited_arrays(state), saved[1:], strict=True):
        arr[pts] = old


def _visited_arrays(state: Any) -> tuple[np.ndarray, ...]:
    """The per-point arrays (bucket order) that ``kernels.visit_group`` writes besides its outputs."""
    return (state.out_hi, state.out_lo, state.known, state.ptr, state.top_idx, state.base)


# ---------------------------------------------------------------------------------------------- driver
class _Driver(_merge._BuildState):
    """The group bookkeeping and decisions of a build state without points: ``rp`` asks the shards."""

    _fuse_soft = False  # its rp comes from the shards, never from a local pass
    _fuse_hard = False

    def __init__(self, kernels, n_clusters, counts, conf_hi, conf_lo, fetch, on_merge):
        self.kern = kernels
        self.n_clusters = n_clusters
        self.n = int(counts.sum())
        self._init_groups(counts, conf_hi, conf_lo)
        self._fetch = fetch
        self._on_merge = on_merge

    def rp(self, node: int) -> int:
        soft = bool(self.node_count[node] == 0)
        hi = np.zeros(self.n_clusters)
        lo = np.zeros(self.n_clusters)
        parts = self._fetch(node, soft)
        for idx in sorted(parts):  # shard order: the same sums whatever host holds a shard
            nz, p_hi, p_lo = parts[idx][1:4]
            hi[nz], lo[nz] = _merge._dd_add(hi[nz], lo[nz], p_hi, p_lo)
        return self.load_rp(hi, lo)

    def merge(self, a: int, b: int, new: int) -> None:
        super().merge(a, b, new)
        self._on_merge(a, b, new)


def driver_state(
    kernels: Any,
    n_clusters: int,
    counts: np.ndarray,
    conf_hi: np.ndarray,
    conf_lo: np.ndarray,
    fetch: Callable[[int, bool], dict[int, tuple]],
    on_merge: Callable[[int, int, int], None],
) -> Any:
    """The driver's build state, from the whole input's first-pass sums; ``rp`` calls
    ``fetch(node, soft)`` for the shards' sparse partial sums and adds them in shard order."""
    return _Driver(kernels, n_clusters, counts, conf_hi, conf_lo, fetch, on_merge)


def lowest_groups(
    state: Any, node: int, max_groups: int, max_points: int, max_soft: int, rows_per_worker: int
) -> list[int]:
    """Groups other than ``node``, lowest score first (the likely G* of the next merges; ties in
    list order), at most ``max_groups`` of them: groups with points holding at most ``max_points``
    points together, and groups without (soft membership: one pass over every row per member
    cluster) costing at most ``max_soft`` exponentials per worker together."""
    n_nodes = state.node_score.size
    leaves = state.seg.size // 2
    scores = state.seg[leaves : leaves + n_nodes]  # alive nodes' scores, +inf elsewhere
    look = min(n_nodes, 4 * max_groups + 1)
    low = np.argpartition(scores, look - 1)[:look] if look < n_nodes else np.arange(n_nodes)
    low = low[np.lexsort((low, scores[low]))]
    out: list[int] = []
    points = soft = 0
    for g in low.tolist():
        if not np.isfinite(scores[g]) or len(out) == max_groups:
            break
        count = int(state.node_count[g])
        if g == node:
            continue
        if count > 0 and points + count <= max_points:
            points += count
        elif count == 0 and soft + rows_per_worker * int(state.size[g]) <= max_soft:
            soft += rows_per_worker * int(state.size[g])
        else:
            continue
        out.append(g)
    return out


def decide(
    state: Any,
    n: int,
    aggregation: str,
    strategy: str,
    names: Sequence[str],
    progress: Any,
    input: str,
    n_clipped: int,
    looks_like_probs: bool,
) -> Any:
    """The single-machine decisions and output (warnings, merges, info) over the driver state."""
    if input == "logits" and looks_like_probs:
        warn(
            "every row of the logits lies in [0, 1] and sums to 1: they look like probabilities; "
            "if so, pass --input probs (input='probs')"
        )
    return _merge._build_from_run(
        state, n, aggregation, strategy, names, progress, {"input": input, "clipped_zeros": n_clipped}
    )
