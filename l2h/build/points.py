"""The per-point state of a build and the per-merge reduction over it (step 3).

:class:`Points` runs the first pass (``scan_rows``: per point its argmax, row maximum, double-double
``Σ_{j≠a(x)} exp(L_j - max)`` and few largest entries; NaN/±inf rows are detected), keeps that state in
bucket order (the points of a cluster contiguous), and answers ``rp`` for a group: the visit of the
points of ``D_{G*}`` (:meth:`Points.visit_points`) and their reduction into per-cluster double-double
sums (:meth:`Points.reduce_rp`), or a soft-membership pass when ``D_{G*}`` is empty
(:meth:`Points.soft_rp`).  The sums land in its :class:`~l2h.build.groups.Groups`, which it holds and
which makes the decisions.  Small merges run in batches inside one kernel call
(:meth:`Points.soft_merges`, :meth:`Points.hard_merges`): the same steps, decisions and values as one
merge at a time.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from l2h import _system
from l2h._validation import nonfinite_message
from l2h.build.exact import TIE_RTOL, n_parts
from l2h.build.groups import Groups
from l2h.build.inputs import read_only

if TYPE_CHECKING:
    from l2h.build.scratch import ScratchCopy

__all__ = ["Points", "column_window"]

ProgressFn = Callable[[str, int, int], None]

_TOP = 4  # stored top entries per point (4 beat 2 and 8 on CPU time at 100k and 1.28M x 1000)
_IN_MEMORY_COLUMNS_BYTES = (
    1 << 30
)  # transposed empty columns beyond this (and a quarter of the memory) go to a temp file
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
# First-pass chunks below this many logit entries run on one thread (kernels.scan_range, the same
# values): a small build then compiles no parallel kernel at all (the parallel first pass took ~5 s).
_PARALLEL_MIN_SCAN = 1 << 17  # l2h warmup's 66 000 x 3 build reaches the parallel kernel
# Soft-membership passes (one exponential per point and member of G) below this many exponentials
# run on one thread, for the same reason.
_PARALLEL_MIN_SOFT = 1 << 16


@contextlib.contextmanager
def column_window(n_bytes: int) -> Iterator[None]:
    """Within the block, builds transpose the empty clusters' columns into a window of ``n_bytes``
    (256 MB otherwise): a tiny one takes the refilled-window path on small inputs, as ``l2h warmup``
    and ``benchmarks/compile_paths.py`` need.

    Parameters
    ----------
    n_bytes : int
        The window's size in bytes.
    """
    global _COLUMN_WINDOW_BYTES
    saved = _COLUMN_WINDOW_BYTES
    _COLUMN_WINDOW_BYTES = n_bytes
    try:
        yield
    finally:
        _COLUMN_WINDOW_BYTES = saved


class Points:
    """The per-point state of one build (in bucket order) and its :class:`Groups`.

    Parameters
    ----------
    kern : module
        The build kernels (:mod:`l2h.build._kernels`).
    logits : ndarray, shape (N, K)
        C-contiguous float32/float64 logits (a memory map is read in row chunks).
    chunk_rows : int
        Rows per chunk of the first pass.
    progress : callable or None
        ``progress("scan", done, total)`` per chunk.
    aggregation : str
        The group score of step 1.
    scratch : ScratchCopy, optional
        Out of core: the first pass also writes the rows, sorted by argmax within big chunks, into
        this copy, which every later read uses (:mod:`l2h.build.scratch`).

    Raises
    ------
    ValueError
        NaN/±inf rows (the first is named).
    """

    #: soft merges in batches (kernels.soft_merges)
    batch_soft = True
    #: small merges of groups with points in batches (kernels.hard_merges)
    batch_hard = True

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
        self.n, self.n_clusters = logits.shape
        self.logits = read_only(logits)
        self.looks_like_probs = False
        counts, conf_hi, conf_lo = self._first_pass(progress)
        self._to_bucket_order()
        self.groups = Groups(kern, counts, conf_hi, conf_lo, aggregation)
        n_clusters = self.n_clusters
        self.col_of = np.full(n_clusters, -1, dtype=np.int64)
        self.col_of[self.groups.empty] = np.arange(self.groups.empty.size)
        # Per cluster: the masks of G* and the reduction's partial sums and stamps.
        self.keep = np.ones(n_clusters)
        self.pen = np.zeros(n_clusters)
        self.pos = np.zeros(n_clusters, dtype=np.int64)
        self.part_hi = np.zeros(n_clusters)
        self.part_lo = np.zeros(n_clusters)
        self.stamp = np.zeros(n_clusters + 1, dtype=np.int64)
        self.seen = np.zeros(n_clusters + 1, dtype=np.int64)

    def _first_pass(self, progress: ProgressFn | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``scan_rows`` over the row chunks; returns the per-cluster counts and confidence sums."""
        kern, n, n_clusters, chunk_rows = self.kern, self.n, self.n_clusters, self.chunk_rows
        t_len = min(_TOP, n_clusters)
        self.amax = np.zeros(n, dtype=np.int64)
        self.rowmax = np.zeros(n)
        self.rest_hi = np.zeros(n)
        self.rest_lo = np.zeros(n)
        self.top_idx = np.zeros((n, t_len), dtype=np.int32)
        bad = np.zeros(n, dtype=np.uint8)
        prob_rows = np.zeros(256, dtype=np.int64)

        def scan(block: np.ndarray, start: int) -> None:
            block = read_only(block)  # one compiled flavour per dtype (inputs.read_only)
            rows = (self.amax, self.rowmax, self.rest_hi, self.rest_lo, self.top_idx, bad)
            if block.size < _PARALLEL_MIN_SCAN:
                prob_rows[0] += kern.scan_range(block, start, 0, block.shape[0], *rows)
            else:
                kern.scan_rows(block, start, *rows, max(1, min(256, block.shape[0] // 64)), prob_rows)

        if self.scratch is None:
            for start in range(0, n, chunk_rows):
                scan(self.logits[start : start + chunk_rows], start)
                if progress is not None:
                    progress("scan", min(start + chunk_rows, n), n)
        else:
            # Out of core (l2h.build.scratch): the first pass also writes the rows, sorted by argmax
            # within big chunks, into a scratch copy, and permutes the row arrays the same way; from
            # here on "row x" means row x of the copy (self.logits), which every later reader uses.
            row_arrays = (self.amax, self.rowmax, self.rest_hi, self.rest_lo, self.top_idx)
            self.logits = read_only(self.scratch.fill(self.logits, scan, row_arrays, chunk_rows, progress))
        n_bad = int(np.count_nonzero(bad))
        if n_bad:
            raise ValueError(nonfinite_message("logits", n_bad, int(np.argmax(bad))))
        #: every row in [0, 1] and summing to 1 within 1e-3 (counted by the first pass)
        self.looks_like_probs = int(prob_rows.sum()) == n
        return kern.cluster_sums(self.amax, self.rest_hi, self.rest_lo, n_clusters)

    def _to_bucket_order(self) -> None:
        """The merge state in bucket order (position q holds point order[q]): the points of a
        cluster, visited together, then have contiguous state.  The row-order arrays stay for the
        soft-membership passes (which copy what they need into bucket order at the first one)."""
        n = self.n
        self.order, self.offsets = self.kern.bucket_points(self.amax, self.n_clusters)
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

    # ------------------------------------------------------------------------------------------ step 3
    def visit_points(self, node: int, members: np.ndarray) -> int:
        """Visit the points of ``D_node`` (non-empty): per point, ``tgt = a(x; G)`` and
        ``val = conf(x; G)`` in ``self.tgt[:n]``, ``self.val[:n]``, in the order of ``D_node``'s
        bucket positions (cluster by cluster in member order, ascending point index within a
        cluster).  Updates the per-point state of those points.  Returns n = |D_node|."""
        kern, groups = self.kern, self.groups
        pts = kern.gather_positions(members, self.offsets)
        self.pos[members] = np.arange(members.size)
        self.keep[members] = 0.0
        self.pen[members] = -np.inf
        group_state, masks, point_state = groups.kernel_state(), self.masks(), self.kernel_state()

        def visit_range(a: int, b: int) -> None:  # the points pts[a:b] (values do not depend on the cut)
            # the row read for bucket position q: order[q] (a row of the scratch copy with one)
            inputs = (self.logits, self.order, pts[a:b])
            state = (members, group_state, masks, point_state, (self.tgt[a:b], self.val[a:b]))
            if b - a >= _PARALLEL_MIN_POINTS:
                kern.visit_group(*inputs, node, *state, n_parts(b - a))
            else:
                kern.visit_range(*inputs, 0, b - a, node, *state)

        if self.scratch is None:
            visit_range(0, pts.size)
        else:  # piece by piece, each piece's rows asked from the disk one piece ahead
            self.scratch.visit_windows(self.order[pts], visit_range)
        self.keep[members] = 1.0
        self.pen[members] = 0.0
        return int(pts.size)

    def reduce_rp(self, n: int) -> int:
        """Sum ``val`` per ``tgt`` over the first ``n`` visited points into the groups' ``rp`` sums
        (double-double, ``n_parts(n)`` parts folded in order); returns the number of touched
        clusters, listed ascending in ``groups.touched``."""
        groups = self.groups
        groups.soft_touched = False
        return int(self.kern.reduce_targets(self.reduction_state(), n, n_parts(n), groups.rp_state()))

    def soft_rp(self, node: int, members: np.ndarray) -> int:
        """``rp`` of a group ``node`` (``members``) with empty ``D_G`` (soft membership) into the
        groups' ``rp`` sums at every non-empty cluster (listed in ``groups.touched``); returns their
        number."""
        groups = self.groups
        self._ensure_columns(node, members)
        soft = self.soft_state()
        if self.n * members.size >= _PARALLEL_MIN_SOFT:
            self.kern.visit_soft(soft, members, self.offsets, self._b_amax, groups.rp_hi, groups.rp_lo, n_parts(self.n))
        else:
            self.kern.soft_block(soft, members, self._b_amax, 0, self.n, groups.rp_hi, groups.rp_lo)
        m = groups.nonempty.size
        groups.touched[:m] = groups.nonempty
        groups.soft_touched = True
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
        empty = self.groups.empty
        self._b_amax = self.amax[self.order]
        self._b_rest_hi = self.rest_hi[self.order]
        self._b_rest_lo = self.rest_lo[self.order]
        # Per position: whether it is its cluster's first, and (for kernels.soft_merges) its cluster's
        # rank among the non-empty clusters.
        self._b_first = np.arange(self.n) == self.offsets[self._b_amax]
        self._b_rank = (np.cumsum(self.groups.counts > 0) - 1)[self._b_amax]
        dtype = self.logits.dtype
        column_bytes = max(1, self.n * dtype.itemsize)
        if self.scratch is None and empty.size * column_bytes > _COLUMN_WINDOW_BYTES:
            width = min(empty.size, max(members.size, _COLUMN_WINDOW_BYTES // column_bytes, 1))
            self._cols = np.empty((width, self.n), dtype=dtype)
            self._window = np.zeros(0, dtype=np.int64)  # the clusters whose columns it holds
            self.col_of[:] = -1
            self._refill_window(node, members)
            return
        shape = (empty.size, self.n)
        room = (_system.available_memory() or 0) // 4
        if empty.size * self.n * dtype.itemsize <= max(_IN_MEMORY_COLUMNS_BYTES, room):
            cols = np.empty(shape, dtype=dtype)
        else:
            self._cols_keep = tempfile.TemporaryFile()
            cols = np.memmap(self._cols_keep, dtype=dtype, mode="w+", shape=shape)
        if self.scratch is None:
            self.kern.extract_columns(self.logits, self.order, 0, self.n, empty, cols)
        else:  # rows on disk: read them in file order (sequentially), scatter into bucket order
            inv = np.empty(self.n, dtype=np.int64)
            inv[self.order] = np.arange(self.n)
            for start in range(0, self.n, self.chunk_rows):
                self.kern.extract_columns_rows(self.logits[start : start + self.chunk_rows], start, inv, empty, cols)
        self._cols = cols

    def _refill_window(self, node: int, members: np.ndarray) -> None:
        """Refill the window of transposed columns with group ``node``'s ``members`` and those of the
        next groups without points in node order (the order of the soft merges' G*), as many as fit."""
        groups = self.groups
        cols = self._cols
        assert cols is not None
        if members.size > cols.shape[0]:
            cols = self._cols = np.empty((members.size, self.n), dtype=cols.dtype)
        self.col_of[self._window] = -1
        window = np.empty(cols.shape[0], dtype=np.int64)
        n = self.kern.upcoming_empty_columns(node, groups.kernel_state(), window)
        self._window = window[:n]
        self.col_of[self._window] = np.arange(n)
        self.kern.extract_columns(self.logits, self.order, 0, self.n, self._window, cols)

    # ------------------------------------------------------------------------------------------ kernel bundles
    def kernel_state(self) -> tuple[np.ndarray, ...]:
        """The kernels' ``points`` bundle: ``(rowmax, base, top_idx, ptr, known, out_hi, out_lo)``,
        the per-point state in bucket order that a visit reads and updates."""
        return (self.b_rowmax, self.base, self.top_idx, self.ptr, self.known, self.out_hi, self.out_lo)

    def masks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The kernels' ``masks`` bundle: ``(pos, keep, pen)``, per cluster its position in G*'s
        member list and the 0/1 and -inf/0 masks of the clusters inside/outside G*."""
        return (self.pos, self.keep, self.pen)

    def reduction_state(self) -> tuple[np.ndarray, ...]:
        """The kernels' ``reduction`` bundle: ``(tgt, val, part_hi, part_lo, stamp, part_list, seen)``,
        the visit's outputs (per visited point) and the scratch of ``reduce_targets``."""
        return (self.tgt, self.val, self.part_hi, self.part_lo, self.stamp, self.part_list, self.seen)

    def soft_state(self) -> tuple[np.ndarray, ...]:
        """The kernels' ``soft`` bundle: ``(cols, col_of, first, rowmax, rest_hi, rest_lo)``, the
        transposed empty columns and the bucket-order arrays of the soft-membership passes (made at
        the first one)."""
        return (self._cols, self.col_of, self._b_first, self.b_rowmax, self._b_rest_hi, self._b_rest_lo)  # type: ignore[return-value]

    # ------------------------------------------------------------------------------------------ a build's seams
    def rp(self, node: int) -> int:
        """Step 3 for G = ``node``: ``rp(c)`` for every cluster c (double-double) in the groups'
        ``rp_hi``/``rp_lo``, non-zero only at the ``groups.touched[:m]`` clusters (ascending);
        returns m.  Call ``groups.release_rp(m)`` once the values have been used."""
        members = self.groups.members(node)
        if self.groups.node_count[node] == 0:
            return self.soft_rp(node, members)
        return self.reduce_rp(self.visit_points(node, members))

    def rp_sparse(self, node: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`rp` as ``(clusters int32, hi, lo)`` over the touched clusters with a non-zero sum
        (ascending): a Dask shard's partial sums."""
        groups = self.groups
        m = self.rp(node)
        idx = groups.touched[:m]
        keep = (groups.rp_hi[idx] != 0.0) | (groups.rp_lo[idx] != 0.0)
        nz = idx[keep]
        out = nz.astype(np.int32), groups.rp_hi[nz].copy(), groups.rp_lo[nz].copy()
        groups.release_rp(m)
        return out

    def merge(self, a: int, b: int, new: int) -> None:
        """Merge groups ``a`` (G*) and ``b`` into node ``new`` (:meth:`Groups.merge`)."""
        self.groups.merge(a, b, new)

    def batch(self, t: int, t_end: int, merges: np.ndarray, scores: np.ndarray, rels: np.ndarray) -> int:
        """Run merges ``t, t + 1, ...`` (before ``t_end``) in one kernel call when they are small
        (:meth:`soft_merges`, then :meth:`hard_merges`); returns the next merge index, ``t`` itself
        when the next merge is not small."""
        t_next = self.soft_merges(t, t_end, merges, scores, rels)
        if t_next == t:
            t_next = self.hard_merges(t, t_end, merges, scores, rels)
        return t_next

    def soft_merges(self, t: int, t_end: int, merges: np.ndarray, scores: np.ndarray, rels: np.ndarray) -> int:
        """Run merges ``t, t + 1, ...`` (before ``t_end``) of the soft-membership phase in one kernel
        call (``kernels.soft_merges``: the same steps as one at a time); returns the next merge
        index, ``t`` itself when the next merge is not a small soft merge."""
        groups = self.groups
        if not self.batch_soft or groups.mixed or groups.empty.size == 0 or groups.nonempty.size == 0:
            return t
        g_star = groups.choose_g_star()
        if groups.node_count[g_star] != 0:
            return t
        self._ensure_columns(g_star, groups.members(g_star))
        ne_node = groups.slot_node[groups.grp[groups.nonempty]]  # each non-empty cluster's group (one per group)
        dense = (np.empty(ne_node.size), np.empty(ne_node.size), ne_node, groups.size[ne_node], np.empty(ne_node.size))
        return int(
            self.kern.soft_merges(
                t,
                t_end,
                (_PARALLEL_MIN_SOFT, TIE_RTOL, groups.agg_code),
                self.soft_state(),
                self._b_rank,
                dense,
                groups.kernel_state(),
                groups.record_state(merges, scores, rels),
            )
        )

    def hard_merges(self, t: int, t_end: int, merges: np.ndarray, scores: np.ndarray, rels: np.ndarray) -> int:
        """Run merges ``t, t + 1, ...`` (before ``t_end``) whose G* has points, fewer than
        ``_PARALLEL_MIN_POINTS``, in one kernel call (``kernels.hard_merges``: the same steps as one
        at a time); returns the next merge index, ``t`` itself when there is none."""
        if not self.batch_hard or self.scratch is not None:
            return t  # out of core, the visits read the disk piece by piece (l2h.build.scratch)
        groups = self.groups
        t_next, mixed = self.kern.hard_merges(
            t,
            t_end,
            (_PARALLEL_MIN_POINTS, TIE_RTOL, groups.agg_code),
            self.logits,
            (self.order, self.offsets),
            self.masks(),
            self.kernel_state(),
            self.reduction_state(),
            groups.rp_state(),
            groups.kernel_state(),
            groups.pick_scratch(),
            groups.record_state(merges, scores, rels),
        )
        if mixed:
            groups.mixed = True
        return int(t_next)
