"""The L2H merge procedure: from an (N, K) logits matrix to a binary tree over its K clusters.

Palumbo et al., "From Logits to Hierarchies: Hierarchical Clustering made Simple", ICML 2025
(Algorithm 1); the exact procedure and the choices the paper leaves open are in ``docs/algorithm.md``.

How it runs (the numeric kernels live in :mod:`l2h._kernels`):

1. One streaming pass over row chunks (memory maps are read, never copied) computes per point its
   argmax ``a(x)``, row maximum, ``Σ_{j≠a(x)} exp(L_j - max)`` (double-double) and its few largest
   entries, and detects NaN/±inf rows.  Per-cluster counts and confidence sums follow, so every
   group score is a sum of per-cluster constants: scores never revisit the points.
2. Each merge visits only the points of ``D_{G*}``.  A visited point's masked argmax comes from its
   stored top entries (refilled from the masked row when its group has swallowed all of them), and
   ``Σ_{j∉G*} exp(L_j - max)`` from its stored double-double sum minus the clusters that joined its
   group since its last visit (each cluster is subtracted once per point over the whole build);
   where that sum has lost too many digits to cancellation (confident points, ``1 - p``
   underflowing) it is recomputed exactly from the row.  The per-point state is kept in bucket
   order, so the points of a group have contiguous state.
3. Groups with empty ``D_{G*}`` (only possible when some cluster is empty) use soft membership:
   one pass over the points, reading only the group's columns (transposed into bucket order, a
   window of them at a time, see ``_COLUMN_WINDOW_BYTES``).  They score 0, so they all come first,
   and until two groups with points merge each group holds at most one non-empty cluster, which
   makes the G† choice a pass over dense per-cluster arrays.

Small merges (soft ones over fewer than 65 536 exponentials, and ones whose G* has fewer than 4096
points) run in batches inside one kernel call (``kernels.soft_merges``, ``kernels.hard_merges``):
the same steps, decisions and values as one merge at a time, without a round trip through Python
per merge (at K = 50 000 that round trip alone was seconds).

Memory: O(N) per-point state (about 115 bytes per point with T = 4 stored top entries) plus O(K)
per group; the logits are only read.  Logits larger than the memory: the first pass also writes a
copy of the rows sorted by argmax within big chunks, and the build reads that copy from then on, in
its row order (:mod:`l2h.scratch`, ``scratch_dir``; same tree, bit for bit).

Float ties: every aggregated value (score, relatedness) is a sum accumulated in double-double and
divided with a correctly rounded division, so it is the correctly rounded float64 value of its
(float64) terms whatever the summation order: values tied in real arithmetic (symmetric clusters,
repeated rows, a cluster mean of identical confidences) come out equal.  Two values that agree to
``TIE_RTOL`` (8 ulps, about 1.8e-15, relative) count as tied and the tie goes to list order; any
larger difference decides, exactly as a plain float64 computation with exact comparisons would.
Confident logits make genuinely different scores agree to 1e-11 or closer (``conf = 1 - 1e-11``),
so a coarser tolerance would merge the wrong groups.  Argmaxes over logits compare exactly (lowest
index on ties).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from l2h._numba import ensure_cache_dir, load_numba_registries
from l2h._validation import check_leaf_names, check_logits_array, nonfinite_message, warn
from l2h.hierarchy import Hierarchy

if TYPE_CHECKING:
    from l2h.scratch import ScratchCopy

TIE_RTOL = 8 * 2.0**-52  # relative; see the module docstring and docs/algorithm.md

ProgressFn = Callable[[str, int, int], None]

_TOP = 4  # stored top entries per point (4 beat 2 and 8 on CPU time at 100k and 1.28M x 1000)
_IN_MEMORY_CONVERSION_BYTES = 1 << 30  # larger non-float32/64 inputs are converted into a temp file
# In-memory logits: the empty clusters' columns are transposed into a window of this many bytes,
# refilled as the soft merges use them up (in G* order), instead of all at once: fresh memory costs a
# page fault per page, which on a VM cost more than the transposition itself (4-5 s for the 1.7 GB
# of K = 50 000, N = 10 000), while each refill reads every row again (a TLB miss per page of each
# row).  256 MB balanced the two at 10 000 x 50 000 and 100 000 x 21 841 (64 MB: 17 refills, 2.4 s).
_COLUMN_WINDOW_BYTES = 256 << 20
# Below this many points a merge runs on one thread: a parallel region per small merge costs more
# than it saves, and stalls badly when another process holds a core.  At ImageNet scale (1.28 M x
# 1000) the merges above it carry 93% of the visit work.
_PARALLEL_MIN_POINTS = 4096
# Soft-membership passes (one exponential per point and member of G) below this many exponentials
# run on one thread, for the same reason.
_PARALLEL_MIN_SOFT = 1 << 16


# ---------------------------------------------------------------------------------------------- setup
def _kernels() -> ModuleType:
    ensure_cache_dir()  # never inside the installed package: see l2h._numba
    load_numba_registries()
    from l2h import _kernels

    return _kernels


def _kernel_array(arr: np.ndarray, chunk_rows: int) -> tuple[np.ndarray, object]:
    """A C-contiguous float32/float64 version of ``arr`` without copying when it already is one.

    Other dtypes are converted chunk by chunk (float16 and small ints exactly to float32, the rest
    to float64), in memory up to 1 GiB and into an anonymous temp file beyond.  Returns the array and
    an object to keep alive while it is used.
    """
    if arr.dtype in (np.float32, np.float64) and arr.flags.c_contiguous:
        return np.asarray(arr), None
    small = arr.dtype.itemsize <= 2 and arr.dtype.kind in "fiu"
    target = np.dtype(np.float32) if small or arr.dtype == np.float32 else np.dtype(np.float64)
    keep = None
    if arr.shape[0] * arr.shape[1] * target.itemsize <= _IN_MEMORY_CONVERSION_BYTES:
        out = np.empty(arr.shape, dtype=target)
    else:
        keep = tempfile.TemporaryFile()
        out = np.memmap(keep, dtype=target, mode="w+", shape=arr.shape)
    for start in range(0, arr.shape[0], chunk_rows):
        out[start : start + chunk_rows] = arr[start : start + chunk_rows]
    return np.asarray(out), (keep, out)


# ---------------------------------------------------------------------------------------------- inputs
# What the input file holds, by name: each returns (a float32/float64 C-contiguous logits array that
# the kernels read, an object to keep alive while it is used, the number of zero probabilities clipped).
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))  # log of the smallest normal float64, about -708.4


def _input_logits(arr: np.ndarray, chunk_rows: int) -> tuple[np.ndarray, object, int]:
    """Logits as they are (read in place when float32/float64 and C-contiguous)."""
    work, keep = _kernel_array(arr, chunk_rows)
    return work, keep, 0


def _input_log_probs(arr: np.ndarray, chunk_rows: int) -> tuple[np.ndarray, object, int]:
    """Log-probabilities are logits (``softmax(log p) = p``); read in place like logits.  A ``-inf``
    (``log 0``) makes the first pass fail and :func:`_clip_log_zeros` converts the file once."""
    return _input_logits(arr, chunk_rows)


def _input_probs(arr: np.ndarray, chunk_rows: int) -> tuple[np.ndarray, object, int]:
    """Probabilities: ``log p`` in float64, computed chunk by chunk into a new array (in memory up to
    1 GiB, in an anonymous temp file beyond, so a memory map is never copied whole into memory).
    Zeros are clipped to the smallest normal float64 (``log = -708.4``) and counted; a negative
    value is an error."""
    return _convert_chunks(arr, chunk_rows, _log_chunk, "probabilities")


def _log_chunk(x: np.ndarray, start: int) -> tuple[np.ndarray, int]:
    negative = x < 0
    if negative.any():
        row = start + int(np.argmax(negative.any(axis=1)))
        value = float(x[negative][0])
        raise ValueError(
            f"logits given as --input probs (input='probs') hold a negative value ({value:g}) in row {row} "
            "(0-based); probabilities must be >= 0"
        )
    zeros = x == 0
    n_zero = int(np.count_nonzero(zeros))
    with np.errstate(divide="ignore"):
        out = np.log(x)
    if n_zero:
        out[zeros] = _LOG_TINY
    return out, n_zero


def _clip_log_zeros(arr: np.ndarray, chunk_rows: int) -> tuple[np.ndarray, object, int]:
    """Log-probabilities with ``-inf`` (``log 0``) entries clipped to -708.4 and counted."""
    return _convert_chunks(arr, chunk_rows, _clip_chunk, "log-probabilities")


def _clip_chunk(x: np.ndarray, start: int) -> tuple[np.ndarray, int]:
    """``-inf`` entries of a float64 block set to -708.4 in place; returns it and their number."""
    zeros = x == -np.inf
    x[zeros] = _LOG_TINY
    return x, int(np.count_nonzero(zeros))


def _float64_chunks(convert: Callable[[np.ndarray, int], tuple[np.ndarray, int]]):
    """``convert`` on a float64 copy of each block (what :func:`_convert_chunks` hands it), for the
    out-of-core first pass, which converts the rows as it copies them."""
    return lambda block, start: convert(np.array(block, dtype=np.float64), start)


def _convert_chunks(
    arr: np.ndarray, chunk_rows: int, convert: Callable[[np.ndarray, int], tuple[np.ndarray, int]], what: str
) -> tuple[np.ndarray, object, int]:
    keep = None
    if arr.shape[0] * arr.shape[1] * 8 <= _IN_MEMORY_CONVERSION_BYTES:
        out = np.empty(arr.shape)
    else:
        keep = tempfile.TemporaryFile()
        out = np.memmap(keep, dtype=np.float64, mode="w+", shape=arr.shape)
    n_clipped = 0
    for start in range(0, arr.shape[0], chunk_rows):
        block, count = convert(np.array(arr[start : start + chunk_rows], dtype=np.float64), start)
        out[start : start + chunk_rows] = block
        n_clipped += count
    return np.asarray(out), (keep, out), n_clipped


#: What the values of the input are, by name (the valid ``input`` values).
INPUTS: dict[str, Callable[[np.ndarray, int], tuple[np.ndarray, object, int]]] = {
    "logits": _input_logits,
    "probs": _input_probs,
    "log-probs": _input_log_probs,
}


def _available_memory() -> int:
    """``MemAvailable`` from /proc/meminfo in bytes (0 where unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _n_parts(n: int) -> int:
    """Parts of the per-merge reduction over ``n`` visited points (and parallel blocks of a visit).

    A function of n only (not of the thread count), so sums are reproducible across machines."""
    return max(1, min(64, n // 2048))


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knuth's error-free ``a + b = s + err`` (elementwise; NumPy never contracts to FMA)."""
    s = a + b
    bp = s - a
    return s, (a - (s - bp)) + (b - bp)


def _dd_add(a_hi: np.ndarray, a_lo: np.ndarray, b_hi: np.ndarray, b_lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Double-double ``(a_hi + a_lo) + (b_hi + b_lo)``."""
    s, err = _two_sum(a_hi, b_hi)
    return s, err + (a_lo + b_lo)


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dekker's error-free ``a * b = p + err`` (elementwise, no FMA needed; |a|, |b| < 1e300)."""
    p = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = 134217729.0 * a  # 2**27 + 1
    hi = c - (c - a)
    return hi, a - hi


def _dd_div(hi: np.ndarray, lo: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``(hi + lo) / n`` correctly rounded (up to the rare double-double boundary case), n > 0.

    The remainder ``hi + lo - q n`` is exact (``hi - p`` by Sterbenz), so a mean of n identical
    values is that value, whatever n.  ``l2h._kernels.dd_div`` is its scalar twin (same operations).
    """
    n = np.asarray(n, dtype=np.float64)
    q = hi / n
    p, err = _two_prod(q, n)
    return q + (((hi - p) - err) + lo) / n


def _first_min(values: np.ndarray) -> int:
    """The tie rule of G*: first index within ``TIE_RTOL`` of the minimum (``seg_first_min``'s spec)."""
    m = values.min()
    return int(np.flatnonzero(values <= m + TIE_RTOL * abs(m))[0])


def _first_max(values: np.ndarray) -> int:
    """The tie rule of G†: first index within ``TIE_RTOL`` of the maximum (``choose_g_dagger``'s spec)."""
    m = values.max()
    return int(np.flatnonzero(values >= m - TIE_RTOL * abs(m))[0])


# ---------------------------------------------------------------------------------------------- aggregations
# A group's score from its per-node statistics: point count, double-double sum of conf over D_G, and
# double-double sum of the cluster-wise mean confidences.  Vectorised over nodes (also on 0-d arrays).
def _score_cluster_mean(count, conf_hi, conf_lo, cmean_hi, cmean_lo):
    """``Σ_{c∈G} mean_{x∈D_c} conf(x)`` (the paper's default; an empty cluster adds 0)."""
    return cmean_hi + cmean_lo


def _score_sum(count, conf_hi, conf_lo, cmean_hi, cmean_lo):
    """``Σ_{x∈D_G} conf(x)``."""
    return conf_hi + conf_lo


def _score_mean(count, conf_hi, conf_lo, cmean_hi, cmean_lo):
    """``mean_{x∈D_G} conf(x)``, 0 when D_G is empty."""
    return np.where(count > 0, _dd_div(conf_hi, conf_lo, np.maximum(count, 1)), 0.0)


#: Group scores of step 1, by name (the valid ``aggregation`` values; no numba needed to import).
AGGREGATIONS: dict[str, Callable[..., np.ndarray]] = {
    "cluster-mean": _score_cluster_mean,
    "sum": _score_sum,
    "mean": _score_mean,
}


# ---------------------------------------------------------------------------------------------- state
class _BuildState:
    """Everything one build keeps: the per-point state of the first pass and of the visits (in bucket
    order), the group lists, and the decision structures.

    The seams (also used by ``l2h.distributed``):

    * per-point state: built by :meth:`__init__` (the first pass, ``scan_rows``) and updated only by
      :meth:`visit_points`;
    * the per-merge reduction: :meth:`rp` = :meth:`visit_points` (per visited point, its masked
      argmax and masked confidence) + :meth:`reduce_rp` (per-cluster double-double sums, kernel
      ``reduce_targets``); empty ``D_{G*}`` goes through :meth:`soft_rp`;
    * the decisions: :meth:`choose_g_star` and :meth:`choose_g_dagger` (the only places where the
      tie rule is applied, kernels ``seg_first_min`` and ``choose_g_dagger``), then :meth:`merge`.
    """

    #: soft merges in batches (kernels.soft_merges); False for a state that holds no points (Dask's driver)
    _fuse_soft = True
    #: small merges of groups with points in batches (kernels.hard_merges); False for Dask's driver too
    _fuse_hard = True

    def __init__(
        self,
        kern: ModuleType,
        logits: np.ndarray,
        chunk_rows: int,
        progress: ProgressFn | None,
        aggregation: str = "cluster-mean",
        scratch: ScratchCopy | None = None,
    ):
        self.kern = kern
        self.logits = logits
        self.scratch = scratch
        self.chunk_rows = chunk_rows
        n, n_clusters = logits.shape
        self.n, self.n_clusters = n, n_clusters
        t_len = min(_TOP, n_clusters)
        self.amax = np.zeros(n, dtype=np.int64)
        self.rowmax = np.zeros(n)
        self.rest_hi = np.zeros(n)
        self.rest_lo = np.zeros(n)
        self.top_idx = np.zeros((n, t_len), dtype=np.int32)
        bad = np.zeros(n, dtype=np.uint8)
        prob_rows = np.zeros(256, dtype=np.int64)

        def scan(block: np.ndarray, start: int) -> None:
            n_sub = max(1, min(256, block.shape[0] // 64))
            kern.scan_rows(
                block, start, self.amax, self.rowmax, self.rest_hi, self.rest_lo, self.top_idx, bad, n_sub, prob_rows
            )

        if scratch is None:
            for start in range(0, n, chunk_rows):
                scan(logits[start : start + chunk_rows], start)
                if progress is not None:
                    progress("scan", min(start + chunk_rows, n), n)
        else:
            # Out of core (l2h.scratch): the first pass also writes the rows, sorted by argmax within big
            # chunks, into a scratch copy, and permutes the row arrays the same way; from here on
            # "row x" means row x of the copy (self.logits), which every later reader uses.
            row_arrays = (self.amax, self.rowmax, self.rest_hi, self.rest_lo, self.top_idx)
            self.logits = scratch.fill(logits, scan, row_arrays, chunk_rows, progress)
        n_bad = int(np.count_nonzero(bad))
        if n_bad:
            raise ValueError(nonfinite_message("logits", n_bad, int(np.argmax(bad))))
        #: every row in [0, 1] and summing to 1 within 1e-3 (counted by the first pass)
        self.looks_like_probs = int(prob_rows.sum()) == n

        counts, conf_hi, conf_lo = kern.cluster_sums(self.amax, self.rest_hi, self.rest_lo, n_clusters)
        self.order, self.offsets = kern.bucket_points(self.amax, n_clusters)
        # The merge state is kept in bucket order (position q holds point order[q]): the points of a
        # cluster, visited together, then have contiguous state.  The row-order arrays above stay for
        # the soft-membership passes (which copy what they need into bucket order at the first one).
        self.b_rowmax = self.rowmax[self.order]
        self.top_idx = self.top_idx[self.order]
        self.ptr = np.zeros(n, dtype=np.int64)
        self.known = self.amax[self.order]
        self.out_hi = self.rest_hi[self.order]
        self.out_lo = self.rest_lo[self.order]
        self.base = self.out_hi.copy()  # magnitude the stored outside sum is accurate relative to
        self._cols: np.ndarray | None = None  # transposed empty columns, made at the first soft pass
        self._cols_keep: object = None
        # Step-3 scratch, allocated once: per visited point its target cluster and value.
        self.tgt = np.zeros(n, dtype=np.int32)
        self.val = np.zeros(n)
        self.part_list = np.zeros(n, dtype=np.int64)
        self._init_groups(counts, conf_hi, conf_lo)
        self._init_scores(aggregation)

    def _init_groups(self, counts: np.ndarray, conf_hi: np.ndarray, conf_lo: np.ndarray) -> None:
        """Everything but the points: the group lists and node statistics from the per-cluster
        first-pass sums, the decision structures and the per-cluster step-3 scratch (also used by the
        Dask driver, which holds no points: :mod:`l2h.distributed.engine`)."""
        n_clusters = self.n_clusters
        self.counts = counts
        self.nonempty = np.flatnonzero(counts > 0)
        self.empty = np.flatnonzero(counts == 0)
        self.col_of = np.full(n_clusters, -1, dtype=np.int64)
        self.col_of[self.empty] = np.arange(self.empty.size)
        # Per cluster: the masks of G*, the reduction's partial and final sums and stamps.
        self.keep = np.ones(n_clusters)
        self.pen = np.zeros(n_clusters)
        self.pos = np.zeros(n_clusters, dtype=np.int64)
        self.part_hi = np.zeros(n_clusters)
        self.part_lo = np.zeros(n_clusters)
        self.rp_hi = np.zeros(n_clusters)
        self.rp_lo = np.zeros(n_clusters)
        self.stamp = np.zeros(n_clusters + 1, dtype=np.int64)
        self.seen = np.zeros(n_clusters + 1, dtype=np.int64)
        self.touched = np.zeros(n_clusters, dtype=np.int64)

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
        self.node_count[:n_clusters] = self.counts
        self.node_conf[0, :n_clusters] = conf_hi
        self.node_conf[1, :n_clusters] = conf_lo
        nonempty = self.counts > 0
        self.node_cmean[0, :n_clusters][nonempty] = _dd_div(conf_hi[nonempty], conf_lo[nonempty], self.counts[nonempty])
        # Decisions: a union-find "next alive node" for list order, per-slot scratch of choose_g_dagger.
        self.parent = np.arange(n_nodes + 1, dtype=np.int64)
        self.acc_hi = np.zeros(n_clusters)
        self.acc_lo = np.zeros(n_clusters)
        self.slot_stamp = np.zeros(n_clusters + 1, dtype=np.int64)
        self.slots = np.zeros(n_clusters, dtype=np.int64)
        # Until two groups with points merge, every group holds at most one non-empty cluster: the
        # soft-membership phase (which comes first: empty groups score 0) then needs no per-group sums.
        self._mixed = False
        self._soft_touched = False  # the touched clusters are the non-empty ones (a soft pass's)
        self._released = False  # the last G† choice already zeroed the rp sums
        self._init_scores("cluster-mean")

    def _init_scores(self, aggregation: str) -> None:
        """The leaves' scores with ``aggregation`` and the min segment tree of the alive groups'
        scores (dead and future nodes: +inf); call before the first merge."""
        n_clusters = self.n_clusters
        n_nodes = 2 * n_clusters - 1
        self.score_fn = AGGREGATIONS[aggregation]
        self.agg_code = list(AGGREGATIONS).index(aggregation)  # kernels.node_score's code
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

    # ------------------------------------------------------------------------------------------ scores
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
        return self.kern.walk_members(self.nxt, self.head[node], self.size[node])

    def node_of_cluster(self) -> np.ndarray:
        """The current group (node id) of every cluster (O(K))."""
        return self.slot_node[self.grp]

    # ------------------------------------------------------------------------------------------ step 3
    def visit_points(self, node: int, members: np.ndarray) -> int:
        """Visit the points of ``D_node`` (non-empty): per point, ``tgt = a(x; G)`` and
        ``val = conf(x; G)`` in ``self.tgt[:n]``, ``self.val[:n]``, in the order of ``D_node``'s
        bucket positions (cluster by cluster in member order, ascending point index within a
        cluster).  Updates the per-point state of those points.  Returns n = |D_node|."""
        kern = self.kern
        pts = kern.gather_positions(members, self.offsets)
        self.pos[members] = np.arange(members.size)
        self.keep[members] = 0.0
        self.pen[members] = -np.inf

        def visit_range(a: int, b: int) -> None:  # the points pts[a:b] (values do not depend on the cut)
            if b - a >= _PARALLEL_MIN_POINTS:
                visit, n_blocks = kern.visit_group, _n_parts(b - a)
            else:
                visit, n_blocks = kern.visit_group_serial, 1
            visit(
                self.logits,
                self.order,  # the row read for bucket position q: order[q] (a row of the scratch copy with one)
                pts[a:b],
                node,
                self.node_slot[node],
                self.grp,
                members,
                self.pos,
                self.head,
                self.size,
                self.keep,
                self.pen,
                self.b_rowmax,
                self.base,
                self.top_idx,
                self.ptr,
                self.known,
                self.out_hi,
                self.out_lo,
                self.tgt[a:b],
                self.val[a:b],
                n_blocks,
            )

        if self.scratch is None:
            visit_range(0, pts.size)
        else:  # piece by piece, each piece's rows asked from the disk one piece ahead
            self.scratch.visit_windows(self.order[pts], visit_range)
        self.keep[members] = 1.0
        self.pen[members] = 0.0
        return int(pts.size)

    def reduce_rp(self, n: int) -> int:
        """Sum ``val`` per ``tgt`` over the first ``n`` visited points into ``rp_hi``/``rp_lo``
        (double-double, ``_n_parts(n)`` parts folded in order); returns the number of touched
        clusters, listed ascending in ``self.touched``."""
        self._soft_touched = False
        return int(
            self.kern.reduce_targets(
                self.tgt,
                self.val,
                n,
                _n_parts(n),
                self.part_hi,
                self.part_lo,
                self.stamp,
                self.part_list,
                self.rp_hi,
                self.rp_lo,
                self.seen,
                self.touched,
            )
        )

    def soft_rp(self, node: int, members: np.ndarray) -> int:
        """``rp`` of a group ``node`` (``members``) with empty ``D_G`` (soft membership) into
        ``rp_hi``/``rp_lo`` at every non-empty cluster (listed in ``self.touched``); returns their number."""
        self._ensure_columns(node, members)
        if self.n * members.size >= _PARALLEL_MIN_SOFT:
            soft, n_blocks = self.kern.visit_soft, _n_parts(self.n)
        else:
            soft, n_blocks = self.kern.visit_soft_serial, 1
        soft(
            self._cols,
            self.col_of,
            members,
            self.offsets,
            self._b_amax,
            self._b_first,
            self.b_rowmax,
            self._b_rest_hi,
            self._b_rest_lo,
            self.rp_hi,
            self.rp_lo,
            n_blocks,
        )
        m = self.nonempty.size
        self.touched[:m] = self.nonempty
        self._soft_touched = True
        return m

    def _ensure_columns(self, node: int, members: np.ndarray) -> None:
        """Make sure the columns of group ``node``'s ``members`` (empty clusters) are transposed."""
        if self._cols is None:
            self._make_empty_columns(node, members)
        elif (self.col_of[members] < 0).any():
            self._refill_window(node, members)

    def _make_empty_columns(self, node: int, members: np.ndarray) -> None:
        """The empty clusters' columns transposed into bucket order, so that every soft pass streams
        contiguous columns (and the first pass's ``Σ_{j≠a} e_j`` in bucket order).

        In-memory logits: a window of ``_COLUMN_WINDOW_BYTES`` (all the columns when they fit),
        refilled by :meth:`_refill_window`.  Out of core (scratch copy on disk): all at once in one
        sequential pass over the rows (a refill would be a pass over the disk), in memory up to 1 GiB
        or a quarter of the available memory, in an anonymous temp file beyond."""
        self._b_amax = self.amax[self.order]
        self._b_rest_hi = self.rest_hi[self.order]
        self._b_rest_lo = self.rest_lo[self.order]
        # Per position: whether it is its cluster's first, and (for kernels.soft_merges) its cluster's
        # rank among the non-empty clusters.
        self._b_first = np.arange(self.n) == self.offsets[self._b_amax]
        self._b_rank = (np.cumsum(self.counts > 0) - 1)[self._b_amax]
        dtype = self.logits.dtype
        column_bytes = max(1, self.n * dtype.itemsize)
        if self.scratch is None and self.empty.size * column_bytes > _COLUMN_WINDOW_BYTES:
            width = min(self.empty.size, max(members.size, _COLUMN_WINDOW_BYTES // column_bytes, 1))
            self._cols = np.empty((width, self.n), dtype=dtype)
            self._window = np.zeros(0, dtype=np.int64)  # the clusters whose columns it holds
            self.col_of[:] = -1
            self._refill_window(node, members)
            return
        shape = (self.empty.size, self.n)
        if self.empty.size * self.n * dtype.itemsize <= max(_IN_MEMORY_CONVERSION_BYTES, _available_memory() // 4):
            cols = np.empty(shape, dtype=dtype)
        else:
            self._cols_keep = tempfile.TemporaryFile()
            cols = np.memmap(self._cols_keep, dtype=dtype, mode="w+", shape=shape)
        if self.scratch is None:
            self.kern.extract_columns(self.logits, self.order, 0, self.n, self.empty, cols)
        else:  # rows on disk: read them in file order (sequentially), scatter into bucket order
            inv = np.empty(self.n, dtype=np.int64)
            inv[self.order] = np.arange(self.n)
            for start in range(0, self.n, self.chunk_rows):
                self.kern.extract_columns_rows(
                    self.logits[start : start + self.chunk_rows], start, inv, self.empty, cols
                )
        self._cols = cols

    def _refill_window(self, node: int, members: np.ndarray) -> None:
        """Refill the window of transposed columns with group ``node``'s ``members`` and those of the
        next groups without points in node order (the order of the soft merges' G*), as many as fit."""
        cols = self._cols
        assert cols is not None
        if members.size > cols.shape[0]:
            cols = self._cols = np.empty((members.size, self.n), dtype=cols.dtype)
        self.col_of[self._window] = -1
        window = np.empty(cols.shape[0], dtype=np.int64)
        n = self.kern.upcoming_empty_columns(node, self.parent, self.node_count, self.nxt, self.head, self.size, window)
        self._window = window[:n]
        self.col_of[self._window] = np.arange(n)
        self.kern.extract_columns(self.logits, self.order, 0, self.n, self._window, cols)

    def rp(self, node: int) -> int:
        """Step 3 for G = ``node``: ``rp(c)`` for every cluster c (double-double) in ``rp_hi``/``rp_lo``,
        non-zero only at the ``self.touched[:m]`` clusters (ascending); returns m.  Call
        :meth:`release_rp` once the values have been used."""
        members = self.members(node)
        if self.node_count[node] == 0:
            return self.soft_rp(node, members)
        return self.reduce_rp(self.visit_points(node, members))

    def load_rp(self, hi: np.ndarray, lo: np.ndarray) -> int:
        """Take dense ``rp`` sums (K,) computed elsewhere (the Dask driver adds its shards' sums) as
        the result of :meth:`rp`; returns the number of touched clusters."""
        nz = np.flatnonzero((hi != 0.0) | (lo != 0.0))
        self._soft_touched = False
        self.rp_hi[nz] = hi[nz]
        self.rp_lo[nz] = lo[nz]
        self.touched[: nz.size] = nz
        return int(nz.size)

    def rp_sparse(self, node: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`rp` as ``(clusters int32, hi, lo)`` over the touched clusters with a non-zero sum
        (ascending): a Dask shard's partial sums."""
        m = self.rp(node)
        idx = self.touched[:m]
        keep = (self.rp_hi[idx] != 0.0) | (self.rp_lo[idx] != 0.0)
        nz = idx[keep]
        out = nz.astype(np.int32), self.rp_hi[nz].copy(), self.rp_lo[nz].copy()
        self.release_rp(m)
        return out

    def release_rp(self, m: int) -> None:
        """Zero the ``rp`` sums left by :meth:`rp` (``m`` touched clusters)."""
        if self._released:  # choose_g_dagger_singletons did it
            self._released = False
            return
        self.kern.release_rp(self.touched, m, self.rp_hi, self.rp_lo)

    def rp_dense(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`rp` as dense (K,) arrays (all-pairs)."""
        m = self.rp(node)
        hi, lo = self.rp_hi.copy(), self.rp_lo.copy()
        self.release_rp(m)
        return hi, lo

    # ------------------------------------------------------------------------------------------ decisions
    def choose_g_star(self) -> int:
        """G*: the lowest-scored alive group, first in list order (lowest node id) on ties within
        ``TIE_RTOL`` (O(log K))."""
        return int(self.kern.seg_first_min(self.seg, TIE_RTOL))

    def choose_g_dagger(self, g_star: int, m: int) -> tuple[int, float]:
        """G† and ``rel(G†)`` from the ``rp`` left by :meth:`rp` (``m`` touched clusters), ties to
        list order within ``TIE_RTOL`` (O(m))."""
        if self._soft_touched and not self._mixed:
            state = (self.grp, self.slot_node, self.size, self.parent)
            best, rel = self.kern.choose_g_dagger_singletons(
                self.touched, m, self.rp_hi, self.rp_lo, *state, g_star, TIE_RTOL
            )
            self._released = True
            return int(best), float(rel)
        best, rel = self.kern.choose_g_dagger(
            self.touched,
            m,
            self.rp_hi,
            self.rp_lo,
            self.grp,
            self.slot_node,
            self.size,
            self.parent,
            g_star,
            TIE_RTOL,
            self.acc_hi,
            self.acc_lo,
            self.slot_stamp,
            self.slots,
        )
        return int(best), float(rel)

    def merge(self, a: int, b: int, new: int) -> None:
        """Merge groups ``a`` (G*) and ``b`` into node ``new``: member lists, node statistics, score."""
        kern = self.kern
        if self.node_count[a] > 0 and self.node_count[b] > 0:
            self._mixed = True
        kern.merge_groups(
            a,
            b,
            new,
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
        )
        score = float(self.score(new))
        self.node_score[new] = score
        kern.seg_merge(self.seg, a, b, new, score)

    def _batch_state(self, merges: np.ndarray, scores: np.ndarray, rels: np.ndarray) -> tuple[np.ndarray, ...]:
        """The group lists, node statistics and merge records that the batched-merge kernels
        (``soft_merges``, ``hard_merges``) update, in their argument order."""
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
            merges,
            scores,
            rels,
        )

    def soft_merges(self, t: int, t_end: int, merges: np.ndarray, scores: np.ndarray, rels: np.ndarray) -> int:
        """Run merges ``t, t + 1, ...`` (before ``t_end``) of the soft-membership phase in one kernel
        call (``kernels.soft_merges``: the same steps as :func:`_lowest_score`'s); returns the next
        merge index, ``t`` itself when the next merge is not a small soft merge."""
        if not self._fuse_soft or self._mixed or self.empty.size == 0 or self.nonempty.size == 0:
            return t
        g_star = self.choose_g_star()
        if self.node_count[g_star] != 0:
            return t
        self._ensure_columns(g_star, self.members(g_star))
        ne_node = self.slot_node[self.grp[self.nonempty]]  # each non-empty cluster's group (one per group)
        return int(
            self.kern.soft_merges(
                t,
                t_end,
                _PARALLEL_MIN_SOFT,
                TIE_RTOL,
                self.agg_code,
                self.seg,
                self._cols,
                self.col_of,
                self._b_first,
                self._b_rank,
                self.b_rowmax,
                self._b_rest_hi,
                self._b_rest_lo,
                np.empty(ne_node.size),
                np.empty(ne_node.size),
                *self._batch_state(merges, scores, rels),
                ne_node,
                self.size[ne_node],
                np.empty(ne_node.size),
            )
        )

    def hard_merges(self, t: int, t_end: int, merges: np.ndarray, scores: np.ndarray, rels: np.ndarray) -> int:
        """Run merges ``t, t + 1, ...`` (before ``t_end``) whose G* has points, fewer than
        ``_PARALLEL_MIN_POINTS``, in one kernel call (``kernels.hard_merges``: the same steps as
        :func:`_lowest_score`'s); returns the next merge index, ``t`` itself when there is none."""
        if not self._fuse_hard or self.scratch is not None:
            return t  # out of core, the visits read the disk piece by piece (l2h.scratch)
        mixed = np.zeros(1, dtype=np.int64)
        t_next = int(
            self.kern.hard_merges(
                t,
                t_end,
                _PARALLEL_MIN_POINTS,
                TIE_RTOL,
                self.agg_code,
                self.seg,
                self.logits,
                self.order,
                self.offsets,
                self.pos,
                self.keep,
                self.pen,
                self.b_rowmax,
                self.base,
                self.top_idx,
                self.ptr,
                self.known,
                self.out_hi,
                self.out_lo,
                self.tgt,
                self.val,
                self.part_hi,
                self.part_lo,
                self.stamp,
                self.part_list,
                self.rp_hi,
                self.rp_lo,
                self.seen,
                self.touched,
                self.acc_hi,
                self.acc_lo,
                self.slot_stamp,
                self.slots,
                *self._batch_state(merges, scores, rels),
                mixed,
            )
        )
        if mixed[0]:
            self._mixed = True
        return t_next


# ---------------------------------------------------------------------------------------------- strategies
def _lowest_score(state: _BuildState, progress: ProgressFn | None):
    """The paper's procedure: G* = lowest score, G† = its most related group (O(visits + log K) per merge)."""
    n_clusters = state.n_clusters
    merges = np.zeros((n_clusters - 1, 2), dtype=np.int64)
    scores = np.zeros(n_clusters - 1)
    rels = np.zeros(n_clusters - 1)
    every = max(1, (n_clusters - 1) // 200)
    t = 0
    while t < n_clusters - 1:
        # Small merges run in batches inside one kernel call (same steps, same results).
        t_end = min(n_clusters - 1, (t // every + 1) * every)
        t_next = state.soft_merges(t, t_end, merges, scores, rels)
        if t_next == t:
            t_next = state.hard_merges(t, t_end, merges, scores, rels)
        if t_next == t:
            g_star = state.choose_g_star()
            m = state.rp(g_star)
            g_dag, rel = state.choose_g_dagger(g_star, m)
            state.release_rp(m)
            merges[t] = g_star, g_dag
            scores[t], rels[t] = state.node_score[g_star], rel
            state.merge(g_star, g_dag, n_clusters + t)
            t_next = t + 1
        if progress is not None and (t_next % every == 0 or t_next == n_clusters - 1):
            progress("merge", t_next, n_clusters - 1)
        t = t_next
    return merges, scores, rels


def _all_pairs(state: _BuildState, progress: ProgressFn | None):
    """Every ordered pair (G, H) by ``rel_G(H)``; groups live in slots, ``rp_G`` is cached per slot as
    ``sums[g, h] = Σ_{c∈H} rp_G(c)`` and only the merged group's row is recomputed."""
    n_clusters = state.n_clusters
    slot_node = np.arange(n_clusters, dtype=np.int64)  # node id held by each slot (-1: dead)
    node_slot = np.full(2 * n_clusters - 1, -1, dtype=np.int64)
    node_slot[:n_clusters] = np.arange(n_clusters)
    sums_hi = np.zeros((n_clusters, n_clusters))
    sums_lo = np.zeros((n_clusters, n_clusters))
    for c in range(n_clusters):
        sums_hi[c], sums_lo[c] = state.rp_dense(c)
        if progress is not None:
            progress("relate", c + 1, n_clusters)
    merges = np.zeros((n_clusters - 1, 2), dtype=np.int64)
    scores = np.zeros(n_clusters - 1)
    rels = np.zeros(n_clusters - 1)
    every = max(1, (n_clusters - 1) // 200)
    for t in range(n_clusters - 1):
        live = np.flatnonzero(slot_node >= 0)
        live = live[np.argsort(slot_node[live], kind="stable")]  # list order
        gi, hj, best = _best_pair(sums_hi[np.ix_(live, live)], sums_lo[np.ix_(live, live)], state.size[slot_node[live]])
        g_slot, h_slot = int(live[gi]), int(live[hj])
        g, h = int(slot_node[g_slot]), int(slot_node[h_slot])
        new = n_clusters + t
        merges[t] = g, h
        scores[t] = state.node_score[g]
        rels[t] = best
        state.merge(g, h, new)
        sums_hi[:, g_slot], sums_lo[:, g_slot] = _dd_add(
            sums_hi[:, g_slot], sums_lo[:, g_slot], sums_hi[:, h_slot], sums_lo[:, h_slot]
        )
        slot_node[h_slot] = -1
        slot_node[g_slot] = new
        node_slot[new] = g_slot
        if t < n_clusters - 2:
            hi, lo = state.kern.group_sums(state.node_of_cluster(), *state.rp_dense(new), state.head.size)
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
    exact = _dd_div(hi[rows, cols], lo[rows, cols], size[cols])
    best = int(np.flatnonzero(exact >= exact.max() - TIE_RTOL * abs(exact.max()))[0])
    return int(rows[best]), int(cols[best]), float(exact[best])


#: How the merged pair is chosen, by name (the valid ``strategy`` values; no numba needed to import).
STRATEGIES: dict[str, Callable[[_BuildState, ProgressFn | None], tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
    "lowest-score": _lowest_score,
    "all-pairs": _all_pairs,
}


# ---------------------------------------------------------------------------------------------- API
def build_hierarchy(
    logits: object,
    *,
    aggregation: str = "cluster-mean",
    strategy: str = "lowest-score",
    leaf_names: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    chunk_rows: int | None = None,
    input: str = "logits",
    client: object | None = None,
    scratch_dir: str | os.PathLike[str] | None = "auto",
) -> Hierarchy:
    """Build the L2H hierarchy over the K clusters of a flat model from its logits.

    Implements Algorithm 1 of Palumbo et al., "From Logits to Hierarchies: Hierarchical Clustering
    made Simple" (ICML 2025).  With ``p = softmax(L)``, ``a(x) = argmax p(x)``, ``conf(x) = max p(x)``
    and ``D_c = {x : a(x) = c}``, groups start as the K singletons and each of the K − 1 steps

    1. scores every group: ``s(G) = Σ_{c∈G} mean_{x∈D_c} conf(x)`` (``"cluster-mean"``),
       ``Σ_{x∈D_G} conf(x)`` (``"sum"``) or ``mean_{x∈D_G} conf(x)`` (``"mean"``, 0 when D_G is empty);
    2. takes the lowest-scored group ``G*`` (first in list order on ties);
    3. computes ``rp(c) = Σ_{x∈D_{G*}, a(x;G*)=c} conf(x;G*)`` with the softmax masked to the
       clusters outside ``G*``;
    4. takes the group ``G†`` with the highest ``rel(H) = mean_{c∈H} rp(c)``;
    5. merges them into ``G* + G†``, appended at the end of the list.

    ``strategy="all-pairs"`` (the paper's Table 9) merges instead the ordered pair (G, H) with the
    highest ``rel_G(H)``.  Empty clusters score 0 and a group whose ``D_G`` is empty weights every
    point by its soft membership ``Σ_{c∈G} p_c(x)`` in step 3 (one :class:`L2HWarning` names them).

    Parameters
    ----------
    logits : ndarray, shape (N, K)
        Logits of N points over K ≥ 2 clusters; any real dtype (computed on in float64).  Memory
        maps (``np.load(path, mmap_mode="r")``) are streamed in row chunks and never copied when
        float32/float64 and C-contiguous.
    aggregation : {"cluster-mean", "sum", "mean"}
        Group score of step 1.
    strategy : {"lowest-score", "all-pairs"}
        How the merged pair is chosen.
    leaf_names : sequence of str, optional
        K distinct names for the leaves (default ``"0".."K-1"``).
    progress : callable, optional
        ``progress(phase, done, total)``, called per row chunk in phase ``"scan"`` (and per chunk
        copied in phase ``"scratch"`` when out of core, ``done`` and ``total`` in rows) and every few
        merges in phase ``"merge"`` (and ``"relate"`` for all-pairs).
    chunk_rows : int, optional
        Rows per chunk of the first pass (default: about 64 MB of logits).
    input : {"logits", "probs", "log-probs"}
        What the array holds.  ``"probs"``: probabilities, turned into ``log p`` (float64, chunk by
        chunk, into a temp file beyond 1 GiB), zeros clipped to the smallest normal float64 (log
        -708.4) and counted in ``info["clipped_zeros"]``; ``"log-probs"``: read as logits, with
        ``-inf`` entries clipped the same way.  When ``"logits"`` look like probabilities (every row
        in [0, 1], summing to 1 within 1e-3) an :class:`L2HWarning` says so.
    client : distributed.Client, optional
        Run on this Dask cluster (extra ``l2h[dask]``); ``logits`` may then also be a
        ``dask.array``, a path / fsspec URL of a ``.npy``, a folder of ``.npy`` shards or a Zarr
        array, or a list of ``.npy`` paths.  The tree is the same as the single-machine build's
        (see :func:`l2h.distributed.build_distributed`).
    scratch_dir : str or path-like or None
        Out-of-core build (:mod:`l2h.scratch`): the first pass also writes a copy of the logits,
        sorted by argmax within big row chunks, into an unnamed file in this folder, so that the
        merges read it sequentially instead of reading scattered rows of the file; the copy needs
        as much free disk as the logits (float64 for ``input="probs"``, which then converts into it
        in the same pass) and is freed when the build ends, however it ends.  ``"auto"`` (default):
        in the system temp folder (``$TMPDIR``), only when the logits are larger than the available
        memory (``MemAvailable``, capped by a memory cgroup's limit), with an :class:`L2HWarning`
        when that folder lacks the room; ``None`` or ``"none"``: never.  The tree is the same, bit
        for bit, with or without the copy.

    Returns
    -------
    Hierarchy
        ``linkage[t] = (G*, G†)`` in scipy node numbering (leaves 0..K−1, merge t creates K + t),
        ``scores[t] = s(G*)``, ``relatedness[t] = rel(G†)``; ``info`` records the method, options,
        N, K, the empty clusters and the cluster sizes.

    Raises
    ------
    ValueError
        Bad shape (not 2-D, N = 0, K < 2), NaN/±inf values (the first bad row is named), an unknown
        aggregation, strategy or input, negative probabilities, bad leaf names.
    TypeError
        Non-numeric input.

    Examples
    --------
    >>> import numpy as np
    >>> from l2h.merge import build_hierarchy
    >>> rng = np.random.default_rng(0)
    >>> tree = build_hierarchy(rng.normal(size=(500, 6)))
    >>> tree.n_leaves, tree.linkage.shape
    (6, (5, 4))
    """
    if client is not None:  # the Dask build (l2h[dask]): same decisions, points held by the workers
        if input != "logits":
            raise ValueError(f"input={input!r} is not supported with a Dask client; give logits")
        from l2h.distributed.engine import build_distributed

        return build_distributed(
            logits, client, aggregation=aggregation, strategy=strategy, leaf_names=leaf_names, progress=progress
        )
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {', '.join(map(repr, AGGREGATIONS))}; got {aggregation!r}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(map(repr, STRATEGIES))}; got {strategy!r}")
    if input not in INPUTS:
        raise ValueError(f"input must be one of {', '.join(map(repr, INPUTS))}; got {input!r}")
    arr = check_logits_array(logits)
    n, n_clusters = arr.shape
    names = check_leaf_names(leaf_names, n_clusters)
    if chunk_rows is None:
        chunk_rows = max(256, (64 << 20) // (n_clusters * max(arr.dtype.itemsize, 4)))
    elif int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be a positive integer; got {chunk_rows}")
    chunk_rows = int(chunk_rows)

    kernels = _kernels()
    copy = _scratch_copy(scratch_dir, arr, input)
    with copy if copy is not None else contextlib.nullcontext():
        if copy is None:
            work, _keep, n_clipped = INPUTS[input](arr, chunk_rows)
        else:  # the first pass converts the rows (if need be) as it copies them
            work, _keep, n_clipped = arr, None, 0
        try:
            state = _BuildState(kernels, work, chunk_rows, progress, aggregation, scratch=copy)
        except ValueError:
            if input != "log-probs":
                raise
            # log 0 = -inf in log-probabilities: clip those entries (one conversion pass) and rescan
            if copy is None:
                work, _keep, n_clipped = _clip_log_zeros(arr, chunk_rows)
            else:
                copy.dtype, copy.convert = np.dtype(np.float64), _float64_chunks(_clip_chunk)
            state = _BuildState(kernels, work, chunk_rows, progress, aggregation, scratch=copy)
        if copy is not None:
            n_clipped = copy.n_clipped
        if input == "logits" and state.looks_like_probs:
            warn(
                "every row of the logits lies in [0, 1] and sums to 1: they look like probabilities; "
                "if so, pass --input probs (input='probs')"
            )
        return _build_from_run(
            state, n, aggregation, strategy, names, progress, {"input": input, "clipped_zeros": n_clipped}
        )


def _scratch_copy(scratch_dir: str | os.PathLike[str] | None, arr: np.ndarray, input: str) -> ScratchCopy | None:
    """The out-of-core copy ``build_hierarchy(scratch_dir=...)`` asks for (None: read the input in place)."""
    from l2h import scratch

    folder = scratch.resolve_scratch_dir(scratch_dir, arr.shape, arr.dtype, input)
    if folder is None:
        return None
    convert = _float64_chunks(_log_chunk) if input == "probs" else None
    return scratch.ScratchCopy(folder, scratch.kernel_dtype(arr.dtype, input), convert)


def _build_from_run(
    state: _BuildState,
    n: int,
    aggregation: str,
    strategy: str,
    names: Sequence[str],
    progress: ProgressFn | None,
    extra_info: dict | None = None,
) -> Hierarchy:
    """Steps 1-5 (the decisions) over a state whose first pass is done; shared with the Dask driver,
    whose state answers ``rp`` from the workers (:mod:`l2h.distributed.engine`)."""
    state._init_scores(aggregation)
    empty = np.flatnonzero(state.counts == 0)
    if empty.size:
        shown = ", ".join(str(c) for c in empty[:20]) + (", ..." if empty.size > 20 else "")
        plural = "cluster" if empty.size == 1 else "clusters"
        warn(
            f"{empty.size} empty {plural} (no point has them as argmax): {shown}; "
            "they score 0 and are merged by soft membership"
        )
    merges, scores, rels = STRATEGIES[strategy](state, progress)
    info = {
        "method": "l2h",
        "aggregation": aggregation,
        "strategy": strategy,
        **(extra_info or {"input": "logits", "clipped_zeros": 0}),
        "n_points": int(n),
        "n_clusters": int(state.n_clusters),
        "empty_clusters": [int(c) for c in empty],
        "cluster_sizes": [int(c) for c in state.counts],
    }
    return Hierarchy.from_merges(merges, scores=scores, relatedness=rels, leaf_names=names, info=info)
