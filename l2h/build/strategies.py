"""How the merged pair is chosen, by name: the paper's lowest-score procedure and all-pairs.

A strategy runs the K − 1 merges over a *build*: an object with ``groups`` (a
:class:`~l2h.build.groups.Groups`, which decides), ``rp(node)`` (step 3 into ``groups``' ``rp`` sums,
returning the number of touched clusters), ``merge(a, b, new)`` and ``batch(t, t_end, merges, scores,
rels)`` (small merges in one kernel call; returns ``t`` when it ran none).  The single-machine
:class:`~l2h.build.points.Points` is one; the Dask driver (:mod:`l2h.distributed.engine`) is another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from l2h.build.exact import TIE_RTOL, dd_add, dd_div
from l2h.build.groups import Groups

__all__ = ["STRATEGIES", "Build"]

ProgressFn = Callable[[str, int, int], None]
Merges = tuple[np.ndarray, np.ndarray, np.ndarray]


class Build(Protocol):
    """What a strategy needs from a build (see the module docstring)."""

    groups: Groups

    def rp(self, node: int) -> int: ...

    def merge(self, a: int, b: int, new: int) -> None: ...

    def batch(self, t: int, t_end: int, merges: np.ndarray, scores: np.ndarray, rels: np.ndarray) -> int: ...


def _lowest_score(build: Build, progress: ProgressFn | None) -> Merges:
    """The paper's procedure: G* = lowest score, G† = its most related group (O(visits + log K) per merge)."""
    groups = build.groups
    n_clusters = groups.n_clusters
    merges = np.zeros((n_clusters - 1, 2), dtype=np.int64)
    scores = np.zeros(n_clusters - 1)
    rels = np.zeros(n_clusters - 1)
    every = max(1, (n_clusters - 1) // 200)
    t = 0
    while t < n_clusters - 1:
        # Small merges run in batches inside one kernel call (same steps, same results).
        t_end = min(n_clusters - 1, (t // every + 1) * every)
        t_next = build.batch(t, t_end, merges, scores, rels)
        if t_next == t:
            g_star = groups.choose_g_star()
            m = build.rp(g_star)
            g_dag, rel = groups.choose_g_dagger(g_star, m)
            groups.release_rp(m)
            merges[t] = g_star, g_dag
            scores[t], rels[t] = groups.node_score[g_star], rel
            build.merge(g_star, g_dag, n_clusters + t)
            t_next = t + 1
        if progress is not None and (t_next % every == 0 or t_next == n_clusters - 1):
            progress("merge", t_next, n_clusters - 1)
        t = t_next
    return merges, scores, rels


def _rp_dense(build: Build, node: int) -> tuple[np.ndarray, np.ndarray]:
    """``rp`` of ``node`` as dense (K,) arrays."""
    groups = build.groups
    m = build.rp(node)
    hi, lo = groups.rp_hi.copy(), groups.rp_lo.copy()
    groups.release_rp(m)
    return hi, lo


def _all_pairs(build: Build, progress: ProgressFn | None) -> Merges:
    """Every ordered pair (G, H) by ``rel_G(H)``; groups live in slots, ``rp_G`` is cached per slot as
    ``sums[g, h] = Σ_{c∈H} rp_G(c)`` and only the merged group's row is recomputed."""
    groups = build.groups
    n_clusters = groups.n_clusters
    slot_node = np.arange(n_clusters, dtype=np.int64)  # node id held by each slot (-1: dead)
    node_slot = np.full(2 * n_clusters - 1, -1, dtype=np.int64)
    node_slot[:n_clusters] = np.arange(n_clusters)
    sums_hi = np.zeros((n_clusters, n_clusters))
    sums_lo = np.zeros((n_clusters, n_clusters))
    for c in range(n_clusters):
        sums_hi[c], sums_lo[c] = _rp_dense(build, c)
        if progress is not None:
            progress("relate", c + 1, n_clusters)
    merges = np.zeros((n_clusters - 1, 2), dtype=np.int64)
    scores = np.zeros(n_clusters - 1)
    rels = np.zeros(n_clusters - 1)
    every = max(1, (n_clusters - 1) // 200)
    for t in range(n_clusters - 1):
        live = np.flatnonzero(slot_node >= 0)
        live = live[np.argsort(slot_node[live], kind="stable")]  # list order
        gi, hj, best = _best_pair(
            sums_hi[np.ix_(live, live)], sums_lo[np.ix_(live, live)], groups.size[slot_node[live]]
        )
        g_slot, h_slot = int(live[gi]), int(live[hj])
        g, h = int(slot_node[g_slot]), int(slot_node[h_slot])
        new = n_clusters + t
        merges[t] = g, h
        scores[t] = groups.node_score[g]
        rels[t] = best
        build.merge(g, h, new)
        sums_hi[:, g_slot], sums_lo[:, g_slot] = dd_add(
            sums_hi[:, g_slot], sums_lo[:, g_slot], sums_hi[:, h_slot], sums_lo[:, h_slot]
        )
        slot_node[h_slot] = -1
        slot_node[g_slot] = new
        node_slot[new] = g_slot
        if t < n_clusters - 2:
            hi, lo = groups.kern.group_sums(groups.node_of_cluster(), *_rp_dense(build, new), groups.head.size)
            sums_hi[g_slot] = 0.0
            sums_lo[g_slot] = 0.0
            alive_nodes = slot_node[slot_node >= 0]
            sums_hi[g_slot, node_slot[alive_nodes]] = hi[alive_nodes]
            sums_lo[g_slot, node_slot[alive_nodes]] = lo[alive_nodes]
        if progress is not None and ((t + 1) % every == 0 or t == n_clusters - 2):
            progress("merge", t + 1, n_clusters - 1)
    return merges, scores, rels


def _best_pair(hi: np.ndarray, lo: np.ndarray, size: np.ndarray) -> tuple[int, int, float]:
    """Row, column and value of the first (row-major) maximum of ``rel[g, h] = (hi + lo)[g, h] / size[h]``
    off the diagonal, ties within ``TIE_RTOL``.

    The correctly rounded division only runs on the entries whose plain quotient (within 2 ulps of
    it) lies near the maximum, so a step stays one cheap pass over the matrix.
    """
    approx = (hi + lo) / size[None, :]
    np.fill_diagonal(approx, -np.inf)
    m = approx.max()
    near = np.flatnonzero(approx >= m - 4 * TIE_RTOL * abs(m))  # row-major: list order of G, then H
    rows, cols = np.divmod(near, size.size)
    exact = dd_div(hi[rows, cols], lo[rows, cols], size[cols])
    best = int(np.flatnonzero(exact >= exact.max() - TIE_RTOL * abs(exact.max()))[0])
    return int(rows[best]), int(cols[best]), float(exact[best])


#: How the merged pair is chosen, by name (the valid ``strategy`` values; no numba needed to import).
STRATEGIES: dict[str, Callable[[Any, ProgressFn | None], Merges]] = {
    "lowest-score": _lowest_score,
    "all-pairs": _all_pairs,
}
