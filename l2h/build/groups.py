"""The group and decision state of a build: everything but the points.

:class:`Groups` holds the ordered group list (linked member lists over clusters), the per-node
statistics and scores, the min segment tree of the alive groups' scores, and the ``rp`` sums of the
current merge.  It makes every decision of steps 2, 4 and 5: :meth:`Groups.choose_g_star` and
:meth:`Groups.choose_g_dagger` are the only places where the tie rule is applied (kernels
``seg_first_min`` and ``choose_g_dagger``), then :meth:`Groups.merge`.  It is built from the
per-cluster first-pass sums alone, so the single-machine build (:mod:`l2h.build.points`, whose
visits fill ``rp``) and the Dask driver (whose ``rp`` comes from its shards, :meth:`Groups.load_rp`)
share it.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from l2h.build.aggregations import AGGREGATIONS, CODES
from l2h.build.exact import TIE_RTOL, dd_div

__all__ = ["Groups"]


class Groups:
    """Group lists, node statistics, scores and decisions of one build over ``K`` clusters.

    Parameters
    ----------
    kern : module
        The build kernels (:mod:`l2h.build._kernels`).
    counts : ndarray of int64, shape (K,)
        Points per cluster (``|D_c|``).
    conf_hi, conf_lo : ndarray of float64, shape (K,)
        Double-double sums of ``conf(x)`` over ``D_c``.
    aggregation : str
        The group score of step 1 (a key of :data:`l2h.build.aggregations.AGGREGATIONS`).
    """

    def __init__(
        self,
        kern: ModuleType,
        counts: np.ndarray,
        conf_hi: np.ndarray,
        conf_lo: np.ndarray,
        aggregation: str = "cluster-mean",
    ):
        self.kern = kern
        n_clusters = self.n_clusters = int(counts.size)
        self.counts = counts
        self.nonempty = np.flatnonzero(counts > 0)
        self.empty = np.flatnonzero(counts == 0)
        # The rp sums of the current merge (filled by a visit, a soft pass or load_rp), non-zero only
        # at the touched clusters.
        self.rp_hi = np.zeros(n_clusters)
        self.rp_lo = np.zeros(n_clusters)
        self.touched = np.zeros(n_clusters, dtype=np.int64)
        #: the touched clusters are the non-empty ones (a soft pass's)
        self.soft_touched = False
        self._released = False  # the last G† choice already zeroed the rp sums

        # Groups: linked member lists over clusters (G*'s clusters first after a merge); a cluster
        # holds the slot of its group (slot_node maps it to the node id), see merge_groups.
        n_nodes = 2 * n_clusters - 1
        self.grp = np.arange(n_clusters, dtype=np.int64)
        self.slot_node = np.arange(n_clusters, dtype=np.int64)
        self.node_slot = np.full(n_nodes, -1, dtype=np.int64)
        self.node_slot[:n_clusters] = np.arange(n_clusters)
        self.nxt = np.full(n_clusters, -1, dtype=np.int64)
        self.head = np.full(n_nodes, -1, dtype=np.int64)
        self.tail = np.full(n_nodes, -1, dtype=np.int64)
        self.size = np.zeros(n_nodes, dtype=np.int64)
        self.head[:n_clusters] = self.tail[:n_clusters] = np.arange(n_clusters)
        self.size[:n_clusters] = 1
        # Per node: point count and double-double (hi, lo) sums of conf and of cluster-wise means, so
        # that every score is (almost always) the correctly rounded value whatever the merge order.
        self.node_count = np.zeros(n_nodes, dtype=np.int64)
        self.node_conf = np.zeros((2, n_nodes))
        self.node_cmean = np.zeros((2, n_nodes))
        self.node_count[:n_clusters] = counts
        self.node_conf[0, :n_clusters] = conf_hi
        self.node_conf[1, :n_clusters] = conf_lo
        nonempty = counts > 0
        self.node_cmean[0, :n_clusters][nonempty] = dd_div(conf_hi[nonempty], conf_lo[nonempty], counts[nonempty])
        # Decisions: a union-find "next alive node" for list order, per-slot scratch of choose_g_dagger.
        self.parent = np.arange(n_nodes + 1, dtype=np.int64)
        self.acc_hi = np.zeros(n_clusters)
        self.acc_lo = np.zeros(n_clusters)
        self.slot_stamp = np.zeros(n_clusters + 1, dtype=np.int64)
        self.slots = np.zeros(n_clusters, dtype=np.int64)
        # Until two groups with points merge, every group holds at most one non-empty cluster: the
        # soft-membership phase (which comes first: empty groups score 0) then needs no per-group sums.
        self.mixed = False
        self._init_scores(aggregation)

    def _init_scores(self, aggregation: str) -> None:
        """The leaves' scores with ``aggregation`` and the min segment tree of the alive groups'
        scores (dead and future nodes: +inf)."""
        n_clusters = self.n_clusters
        n_nodes = 2 * n_clusters - 1
        self.aggregation = aggregation
        self.score_fn = AGGREGATIONS[aggregation]
        self.agg_code = CODES[aggregation]
        self.node_score = np.zeros(n_nodes)
        self.node_score[:n_clusters] = self.score(np.arange(n_clusters))
        leaves = 1 << max(1, int(n_nodes - 1).bit_length())
        self.seg = np.full(2 * leaves, np.inf)
        self.seg[leaves : leaves + n_clusters] = self.node_score[:n_clusters]
        level = leaves
        while level > 1:
            half = level // 2
            self.seg[half:level] = np.minimum(self.seg[level : 2 * level : 2], self.seg[level + 1 : 2 * level : 2])
            level = half

    # ------------------------------------------------------------------------------------------ queries
    def score(self, nodes: np.ndarray | int) -> np.ndarray:
        """``s(G)`` of the given nodes with this build's aggregation."""
        return self.score_fn(
            self.node_count[nodes],
            self.node_conf[0, nodes],
            self.node_conf[1, nodes],
            self.node_cmean[0, nodes],
            self.node_cmean[1, nodes],
        )

    def members(self, node: int) -> np.ndarray:
        """The clusters of group ``node`` in list order."""
        return self.kern.walk_members(self.nxt, self.head[node], self.size[node])

    def node_of_cluster(self) -> np.ndarray:
        """The current group (node id) of every cluster (O(K))."""
        return self.slot_node[self.grp]

    # ------------------------------------------------------------------------------------------ rp
    def load_rp(self, hi: np.ndarray, lo: np.ndarray) -> int:
        """Take dense ``rp`` sums (K,) computed elsewhere (the Dask driver adds its shards' sums) as
        the current merge's; returns the number of touched clusters."""
        nz = np.flatnonzero((hi != 0.0) | (lo != 0.0))
        self.soft_touched = False
        self.rp_hi[nz] = hi[nz]
        self.rp_lo[nz] = lo[nz]
        self.touched[: nz.size] = nz
        return int(nz.size)

    def release_rp(self, m: int) -> None:
        """Zero the ``rp`` sums of the current merge (``m`` touched clusters)."""
        if self._released:  # choose_g_dagger_singletons did it
            self._released = False
            return
        self.kern.release_rp(self.rp_state(), m)

    # ------------------------------------------------------------------------------------------ decisions
    def choose_g_star(self) -> int:
        """G*: the lowest-scored alive group, first in list order (lowest node id) on ties within
        ``TIE_RTOL`` (O(log K))."""
        return int(self.kern.seg_first_min(self.seg, TIE_RTOL))

    def choose_g_dagger(self, g_star: int, m: int) -> tuple[int, float]:
        """G† and ``rel(G†)`` from the current ``rp`` (``m`` touched clusters), ties to list order
        within ``TIE_RTOL`` (O(m))."""
        if self.soft_touched and not self.mixed:
            best, rel = self.kern.choose_g_dagger_singletons(self.rp_state(), m, self.kernel_state(), g_star, TIE_RTOL)
            self._released = True
            return int(best), float(rel)
        best, rel = self.kern.choose_g_dagger(
            self.rp_state(), m, self.kernel_state(), g_star, TIE_RTOL, self.pick_scratch()
        )
        return int(best), float(rel)

    def merge(self, a: int, b: int, new: int) -> None:
        """Merge groups ``a`` (G*) and ``b`` into node ``new``: member lists, node statistics, score."""
        kern = self.kern
        if self.node_count[a] > 0 and self.node_count[b] > 0:
            self.mixed = True
        kern.merge_groups(a, b, new, self.kernel_state())
        score = float(self.score(new))
        self.node_score[new] = score
        kern.seg_merge(self.seg, a, b, new, score)

    # ------------------------------------------------------------------------------------------ kernel bundles
    def kernel_state(self) -> tuple[np.ndarray, ...]:
        """The kernels' ``groups`` bundle: ``(nxt, head, tail, size, grp, slot_node, node_slot, parent,
        node_count, node_conf, node_cmean, node_score)``, the group lists, node statistics and scores
        (``merge_groups`` updates all but the scores; the batched merges all of them)."""
        return (
            self.nxt,
            self.head,
            self.tail,
            self.size,
            self.grp,
            self.slot_node,
            self.node_slot,
            self.parent,
            self.node_count,
            self.node_conf,
            self.node_cmean,
            self.node_score,
        )

    def rp_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The kernels' ``rp`` bundle: ``(rp_hi, rp_lo, touched)``, the current merge's sums."""
        return (self.rp_hi, self.rp_lo, self.touched)

    def pick_scratch(self) -> tuple[np.ndarray, ...]:
        """The kernels' ``pick`` bundle: ``(acc_hi, acc_lo, slot_stamp, slots)``, the scratch of
        ``choose_g_dagger``."""
        return (self.acc_hi, self.acc_lo, self.slot_stamp, self.slots)

    def record_state(self, merges: np.ndarray, scores: np.ndarray, rels: np.ndarray) -> tuple[np.ndarray, ...]:
        """The kernels' ``record`` bundle: ``(seg, merges, scores, rels)``, the segment tree of the
        alive groups' scores and the merge records that the batched merges write."""
        return (self.seg, merges, scores, rels)
