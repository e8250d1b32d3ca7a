"""The seams of :mod:`l2h.merge` that the Dask build uses, in one place.

:mod:`l2h.merge` keeps the per-point state, the per-merge reduction and the decisions separately
callable; this module is the only one that knows their names.  It supports the build state as
``_BuildState`` (per-merge ``rp`` left sparse in ``rp_hi``/``rp_lo`` at ``touched``; decisions in
kernels) and, for older trees, as ``_Run`` (dense ``rp``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from l2h import merge as _merge
from l2h._validation import warn

NEW_API = hasattr(_merge, "_BuildState")


# ---------------------------------------------------------------------------------------------- workers
def shard_state(kernels: Any, arr: np.ndarray, chunk_rows: int, input: str) -> tuple[Any, int, bool, Any]:
    """A single-machine build state over one shard's rows: ``(state, clipped zeros, looks like
    probabilities, keep-alive)``.  Raises ``ValueError`` on NaN/inf rows (like the single build)."""
    if not NEW_API:
        if input != "logits":
            raise ValueError(f"input={input!r} needs a newer l2h.merge on the workers")
        work, keep = _merge._kernel_array(arr, chunk_rows)
        return _merge._Run(kernels, work, chunk_rows, None), 0, False, keep
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
    if not NEW_API:
        hi, lo = state.rp(node)
        nz = np.flatnonzero((hi != 0.0) | (lo != 0.0))
        return nz.astype(np.int32), hi[nz], lo[nz]
    m = state.rp(node)
    idx = state.touched[:m].astype(np.int32)
    hi, lo = state.rp_hi[idx].copy(), state.rp_lo[idx].copy()
    state.release_rp(m)
    return idx, hi, lo


# ---------------------------------------------------------------------------------------------- driver
def driver_state(
    kernels: Any,
    n_clusters: int,
    counts: np.ndarray,
    conf_hi: np.ndarray,
    conf_lo: np.ndarray,
    aggregation: str,
    fetch: Callable[[int, bool], dict[int, tuple]],
    on_merge: Callable[[int, int, int], None],
) -> Any:
    """The driver's build state: group bookkeeping and decisions from the first-pass sums, no
    points; ``rp`` calls ``fetch(node, soft)`` for the shards' sparse partial sums."""
    cls = _NewDriver if NEW_API else _OldDriver
    return cls(kernels, n_clusters, counts, conf_hi, conf_lo, aggregation, fetch, on_merge)


def _fold(parts: dict[int, tuple], n_clusters: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add the shards' sparse partial sums in shard order (double-double): dense hi, lo and the
    ascending union of the clusters they touched."""
    hi = np.zeros(n_clusters)
    lo = np.zeros(n_clusters)
    touched = np.zeros(n_clusters, dtype=bool)
    for idx in sorted(parts):
        nz, p_hi, p_lo = parts[idx][1:4]
        hi[nz], lo[nz] = _merge._dd_add(hi[nz], lo[nz], p_hi, p_lo)
        touched[nz] = True
    return hi, lo, np.flatnonzero(touched)


if NEW_API:

    class _NewDriver(_merge._BuildState):  # type: ignore[name-defined, misc]
        def __init__(self, kernels, n_clusters, counts, conf_hi, conf_lo, aggregation, fetch, on_merge):
            # the bookkeeping of a build over no rows, then the whole input's first-pass sums
            super().__init__(kernels, np.zeros((0, n_clusters)), 256, None, aggregation)
            if hasattr(self, "_init_groups"):
                self._init_groups(counts, conf_hi, conf_lo)
            else:
                self._set_first_pass(counts, conf_hi, conf_lo)
            self._fetch = fetch
            self._on_merge = on_merge

        def _set_first_pass(self, counts, conf_hi, conf_lo) -> None:
            k = self.n_clusters
            self.counts = counts
            self.nonempty = np.flatnonzero(counts > 0)
            self.empty = np.flatnonzero(counts == 0)
            self.node_count[:k] = counts
            self.node_conf[0, :k] = conf_hi
            self.node_conf[1, :k] = conf_lo
            self.node_cmean[:, :k] = 0.0
            ne = counts > 0
            self.node_cmean[0, :k][ne] = _merge._dd_div(conf_hi[ne], conf_lo[ne], counts[ne])
            self.node_score[:k] = self.score(np.arange(k))
            leaves = self.seg.size // 2
            self.seg[:] = np.inf
            self.seg[leaves : leaves + k] = self.node_score[:k]
            level = leaves
            while level > 1:
                half = level // 2
                self.seg[half:level] = np.minimum(self.seg[level : 2 * level : 2], self.seg[level + 1 : 2 * level : 2])
                level = half

        def rp(self, node: int) -> int:
            soft = bool(self.node_count[node] == 0)
            hi, lo, touched = _fold(self._fetch(node, soft), self.n_clusters)
            if soft:  # the single build lists every non-empty cluster, zero or not
                touched = self.nonempty
            m = touched.size
            self.touched[:m] = touched
            self.rp_hi[touched] = hi[touched]
            self.rp_lo[touched] = lo[touched]
            return m

        def merge(self, a: int, b: int, new: int) -> None:
            super().merge(a, b, new)
            self._on_merge(a, b, new)

else:

    class _OldDriver(_merge._Run):  # type: ignore[no-redef]
        def __init__(self, kernels, n_clusters, counts, conf_hi, conf_lo, aggregation, fetch, on_merge):
            self.k = kernels
            self.n_clusters = n_clusters
            self._init_groups(counts, conf_hi, conf_lo)
            self._fetch = fetch
            self._on_merge = on_merge

        def rp(self, node: int) -> tuple[np.ndarray, np.ndarray]:
            soft = bool(self.node_count[node] == 0)
            hi, lo, _ = _fold(self._fetch(node, soft), self.n_clusters)
            return hi, lo

        def merge(self, a: int, b: int, new: int) -> None:
            super().merge(a, b, new)
            self._on_merge(a, b, new)


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
    """The single-machine decisions and output (warnings, merges, info) over a driver state."""
    if not NEW_API:
        return _merge._build_from_run(state, n, aggregation, strategy, names, progress)
    from l2h.hierarchy import Hierarchy

    if input == "logits" and looks_like_probs:
        warn(
            "every row of the logits lies in [0, 1] and sums to 1: they look like probabilities; "
            "if so, pass --input probs (input='probs')"
        )
    empty = state.empty
    if empty.size:
        shown = ", ".join(str(c) for c in empty[:20]) + (", ..." if empty.size > 20 else "")
        plural = "cluster" if empty.size == 1 else "clusters"
        warn(
            f"{empty.size} empty {plural} (no point has them as argmax): {shown}; "
            "they score 0 and are merged by soft membership"
        )
    merges, scores, rels = _merge.STRATEGIES[strategy](state, progress)
    info = {
        "method": "l2h",
        "aggregation": aggregation,
        "strategy": strategy,
        "input": input,
        "clipped_zeros": n_clipped,
        "n_points": int(n),
        "n_clusters": int(state.n_clusters),
        "empty_clusters": [int(c) for c in empty],
        "cluster_sizes": [int(c) for c in state.counts],
    }
    return Hierarchy.from_merges(merges, scores=scores, relatedness=rels, leaf_names=names, info=info)
