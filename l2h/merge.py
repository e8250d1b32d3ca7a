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
   one pass over the points, reading only the group's columns.

Memory: O(N) per-point state (about 115 bytes per point with T = 4 stored top entries) plus O(K)
per group; the logits are only read.

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

import tempfile
from collections.abc import Callable, Sequence
from types import ModuleType

import numpy as np

from l2h._numba import ensure_cache_dir
from l2h._validation import check_leaf_names, check_logits_array, nonfinite_message, warn
from l2h.hierarchy import Hierarchy

AGGREGATIONS = ("cluster-mean", "sum", "mean")
STRATEGIES = ("lowest-score", "all-pairs")
TIE_RTOL = 8 * 2.0**-52  # relative; see the module docstring and docs/algorithm.md

ProgressFn = Callable[[str, int, int], None]

_TOP = 4  # stored top entries per point (4 beat 2 and 8 on CPU time at 100k and 1.28M x 1000)
_IN_MEMORY_CONVERSION_BYTES = 1 << 30  # larger non-float32/64 inputs are converted into a temp file
# Below this many points a merge runs on one thread: a parallel region per small merge costs more
# than it saves, and stalls badly when another process holds a core.  At ImageNet scale (1.28 M x
# 1000) the merges above it carry 93% of the visit work.
_PARALLEL_MIN_POINTS = 4096


# ---------------------------------------------------------------------------------------------- setup
def _kernels() -> ModuleType:
    ensure_cache_dir()  # never inside the installed package: see l2h._numba
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


def _n_chunks(n: int) -> int:
    # A function of n only (not of the thread count), so sums are reproducible across machines.
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
    values is that value, whatever n.
    """
    n = np.asarray(n, dtype=np.float64)
    q = hi / n
    p, err = _two_prod(q, n)
    return q + (((hi - p) - err) + lo) / n


def _dd_parts_sum(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``parts[b, 0] + parts[b, 1]`` over the chunks b, in double-double."""
    hi, lo = parts[0, 0].copy(), parts[0, 1].copy()
    for b in range(1, parts.shape[0]):
        hi, lo = _dd_add(hi, lo, parts[b, 0], parts[b, 1])
    return hi, lo


def _first_min(values: np.ndarray) -> int:
    m = values.min()
    return int(np.flatnonzero(values <= m + TIE_RTOL * abs(m))[0])


def _first_max(values: np.ndarray) -> int:
    m = values.max()
    return int(np.flatnonzero(values >= m - TIE_RTOL * abs(m))[0])


# ---------------------------------------------------------------------------------------------- state
class _Run:
    """Per-point state after the first pass plus the group bookkeeping of one build."""

    def __init__(self, k: ModuleType, logits: np.ndarray, chunk_rows: int, progress: ProgressFn | None):
        self.k = k
        self.logits = logits
        n, n_clusters = logits.shape
        self.n, self.n_clusters = n, n_clusters
        t_len = min(_TOP, n_clusters)
        self.amax = np.zeros(n, dtype=np.int64)
        self.rowmax = np.zeros(n)
        self.rest_hi = np.zeros(n)
        self.rest_lo = np.zeros(n)
        self.top_idx = np.zeros((n, t_len), dtype=np.int32)
        bad = np.zeros(n, dtype=np.uint8)
        for start in range(0, n, chunk_rows):
            block = logits[start : start + chunk_rows]
            n_sub = max(1, min(256, block.shape[0] // 64))
            k.scan_rows(block, start, self.amax, self.rowmax, self.rest_hi, self.rest_lo, self.top_idx, bad, n_sub)
            if progress is not None:
                progress("scan", min(start + chunk_rows, n), n)
        n_bad = int(np.count_nonzero(bad))
        if n_bad:
            raise ValueError(nonfinite_message("logits", n_bad, int(np.argmax(bad))))

        counts, conf_hi, conf_lo = k.cluster_sums(self.amax, self.rest_hi, self.rest_lo, n_clusters)
        self.order, self.offsets = k.bucket_points(self.amax, n_clusters)
        # The merge state is kept in bucket order (position q holds point order[q]): the points of a
        # cluster, visited together, then have contiguous state.  The row-order arrays above stay for
        # the soft-membership pass, which streams all rows in file order.
        self.b_rowmax = self.rowmax[self.order]
        self.top_idx = self.top_idx[self.order]
        self.ptr = np.zeros(n, dtype=np.int64)
        self.known = self.amax[self.order]
        self.out_hi = self.rest_hi[self.order]
        self.out_lo = self.rest_lo[self.order]
        self.base = self.out_hi.copy()  # magnitude the stored outside sum is accurate relative to
        self._init_groups(counts, conf_hi, conf_lo)

    def _init_groups(self, counts: np.ndarray, conf_hi: np.ndarray, conf_lo: np.ndarray) -> None:
        """The group bookkeeping from the per-cluster first-pass sums (also used by the Dask driver,
        which holds no points: :mod:`l2h.distributed.engine`)."""
        n_clusters = self.n_clusters
        self.counts = counts
        n_nodes = 2 * n_clusters - 1
        self.grp = np.arange(n_clusters, dtype=np.int64)
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
        self.pos = np.zeros(n_clusters, dtype=np.int64)

    def score(self, nodes: np.ndarray, aggregation: str) -> np.ndarray:
        if aggregation == "cluster-mean":
            return self.node_cmean[0, nodes] + self.node_cmean[1, nodes]
        hi, lo = self.node_conf[0, nodes], self.node_conf[1, nodes]
        if aggregation == "sum":
            return hi + lo
        count = self.node_count[nodes]
        return np.where(count > 0, _dd_div(hi, lo, np.maximum(count, 1)), 0.0)

    def relatedness(self, rp: tuple[np.ndarray, np.ndarray], nodes: np.ndarray) -> np.ndarray:
        """``rel(H) = mean_{c∈H} rp(c)`` for the groups ``nodes`` (sums in double-double)."""
        hi, lo = self.k.group_sums(self.grp, rp[0], rp[1], self.head.size)
        return _dd_div(hi[nodes], lo[nodes], self.size[nodes])

    def members(self, node: int) -> np.ndarray:
        return self.k.walk_members(self.nxt, self.head[node], self.size[node])

    def rp(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """``rp(c)`` for every cluster c (zero inside the group) as double-double ``(hi, lo)``: step 3."""
        members = self.members(node)
        if self.node_count[node] == 0:
            rp_parts = np.zeros((_n_chunks(self.n), 2, self.n_clusters))
            self.k.visit_soft(self.logits, members, self.amax, self.rowmax, self.rest_hi, self.rest_lo, rp_parts)
            return _dd_parts_sum(rp_parts)
        pts = self.k.gather_positions(members, self.offsets)
        self.pos[members] = np.arange(members.size)
        keep = np.ones(self.n_clusters)
        keep[members] = 0.0
        pen = np.zeros(self.n_clusters)
        pen[members] = -np.inf
        rp_parts = np.zeros((_n_chunks(pts.size), 2, self.n_clusters))
        visit = self.k.visit_group if pts.size >= _PARALLEL_MIN_POINTS else self.k.visit_group_serial
        visit(
            self.logits,
            self.order,
            pts,
            node,
            self.grp,
            members,
            self.pos,
            self.head,
            self.size,
            keep,
            pen,
            self.b_rowmax,
            self.base,
            self.top_idx,
            self.ptr,
            self.known,
            self.out_hi,
            self.out_lo,
            rp_parts,
        )
        return _dd_parts_sum(rp_parts)

    def merge(self, a: int, b: int, new: int) -> None:
        self.nxt[self.tail[a]] = self.head[b]
        self.head[new], self.tail[new] = self.head[a], self.tail[b]
        self.size[new] = self.size[a] + self.size[b]
        self.grp[self.members(new)] = new
        self.node_count[new] = self.node_count[a] + self.node_count[b]
        for arr in (self.node_conf, self.node_cmean):
            arr[0, new], arr[1, new] = _dd_add(arr[0, a], arr[1, a], arr[0, b], arr[1, b])


# ---------------------------------------------------------------------------------------------- strategies
def _lowest_score(run: _Run, aggregation: str, progress: ProgressFn | None):
    n_clusters = run.n_clusters
    n_nodes = 2 * n_clusters - 1
    alive = np.zeros(n_nodes, dtype=bool)
    alive[:n_clusters] = True
    merges = np.zeros((n_clusters - 1, 2), dtype=np.int64)
    scores = np.zeros(n_clusters - 1)
    rels = np.zeros(n_clusters - 1)
    every = max(1, (n_clusters - 1) // 200)
    for t in range(n_clusters - 1):
        nodes = np.flatnonzero(alive)  # node ids ascending = list order (new groups are appended)
        s = run.score(nodes, aggregation)
        i = _first_min(s)
        g_star = int(nodes[i])
        rel = run.relatedness(run.rp(g_star), nodes)
        others = np.delete(np.arange(nodes.size), i)
        j = int(others[_first_max(rel[others])])
        merges[t] = g_star, nodes[j]
        scores[t], rels[t] = s[i], rel[j]
        run.merge(g_star, int(nodes[j]), n_clusters + t)
        alive[[g_star, nodes[j]]] = False
        alive[n_clusters + t] = True
        if progress is not None and ((t + 1) % every == 0 or t == n_clusters - 2):
            progress("merge", t + 1, n_clusters - 1)
    return merges, scores, rels


def _all_pairs(run: _Run, aggregation: str, progress: ProgressFn | None):
    """Every ordered pair (G, H) by ``rel_G(H)``; groups live in slots, ``rp_G`` is cached per slot as
    ``sums[g, h] = Σ_{c∈H} rp_G(c)`` and only the merged group's row is recomputed."""
    n_clusters = run.n_clusters
    slot_node = np.arange(n_clusters, dtype=np.int64)  # node id held by each slot (-1: dead)
    node_slot = np.full(2 * n_clusters - 1, -1, dtype=np.int64)
    node_slot[:n_clusters] = np.arange(n_clusters)
    sums_hi = np.zeros((n_clusters, n_clusters))
    sums_lo = np.zeros((n_clusters, n_clusters))
    for c in range(n_clusters):
        sums_hi[c], sums_lo[c] = run.rp(c)
        if progress is not None:
            progress("relate", c + 1, n_clusters)
    merges = np.zeros((n_clusters - 1, 2), dtype=np.int64)
    scores = np.zeros(n_clusters - 1)
    rels = np.zeros(n_clusters - 1)
    every = max(1, (n_clusters - 1) // 200)
    for t in range(n_clusters - 1):
        live = np.flatnonzero(slot_node >= 0)
        live = live[np.argsort(slot_node[live], kind="stable")]  # list order
        gi, hj, best = _best_pair(sums_hi[np.ix_(live, live)], sums_lo[np.ix_(live, live)], run.size[slot_node[live]])
        g_slot, h_slot = int(live[gi]), int(live[hj])
        g, h = int(slot_node[g_slot]), int(slot_node[h_slot])
        new = n_clusters + t
        merges[t] = g, h
        scores[t] = run.score(np.array([g]), aggregation)[0]
        rels[t] = best
        run.merge(g, h, new)
        sums_hi[:, g_slot], sums_lo[:, g_slot] = _dd_add(
            sums_hi[:, g_slot], sums_lo[:, g_slot], sums_hi[:, h_slot], sums_lo[:, h_slot]
        )
        slot_node[h_slot] = -1
        slot_node[g_slot] = new
        node_slot[new] = g_slot
        if t < n_clusters - 2:
            hi, lo = run.k.group_sums(run.grp, *run.rp(new), run.head.size)
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


# ---------------------------------------------------------------------------------------------- API
def build_hierarchy(
    logits: object,
    *,
    aggregation: str = "cluster-mean",
    strategy: str = "lowest-score",
    leaf_names: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    chunk_rows: int | None = None,
    client: object | None = None,
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
        ``progress(phase, done, total)``, called per row chunk in phase ``"scan"`` and every few
        merges in phase ``"merge"`` (and ``"relate"`` for all-pairs).
    chunk_rows : int, optional
        Rows per chunk of the first pass (default: about 64 MB of logits).
    client : distributed.Client, optional
        Run on this Dask cluster (extra ``l2h[dask]``); ``logits`` may then also be a
        ``dask.array``, a path / fsspec URL of a ``.npy``, a folder of ``.npy`` shards or a Zarr
        array, or a list of ``.npy`` paths.  The tree is the same as the single-machine build's
        (see :func:`l2h.distributed.build_distributed`).

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
        aggregation or strategy, bad leaf names.
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
        from l2h.distributed.engine import build_distributed

        return build_distributed(
            logits, client, aggregation=aggregation, strategy=strategy, leaf_names=leaf_names, progress=progress
        )
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {', '.join(map(repr, AGGREGATIONS))}; got {aggregation!r}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(map(repr, STRATEGIES))}; got {strategy!r}")
    arr = check_logits_array(logits)
    n, n_clusters = arr.shape
    names = check_leaf_names(leaf_names, n_clusters)
    if chunk_rows is None:
        chunk_rows = max(256, (64 << 20) // (n_clusters * max(arr.dtype.itemsize, 4)))
    elif int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be a positive integer; got {chunk_rows}")
    chunk_rows = int(chunk_rows)

    kernels = _kernels()
    work, _keep = _kernel_array(arr, chunk_rows)
    run = _Run(kernels, work, chunk_rows, progress)
    return _build_from_run(run, n, aggregation, strategy, names, progress)


def _build_from_run(
    run: _Run, n: int, aggregation: str, strategy: str, names: Sequence[str], progress: ProgressFn | None
) -> Hierarchy:
    """Steps 1-5 (the decisions) over a run whose first pass is done; shared with the Dask driver,
    whose run answers ``rp`` from the workers (:mod:`l2h.distributed.engine`)."""
    n_clusters = run.n_clusters
    empty = np.flatnonzero(run.counts == 0)
    if empty.size:
        shown = ", ".join(str(c) for c in empty[:20]) + (", ..." if empty.size > 20 else "")
        plural = "cluster" if empty.size == 1 else "clusters"
        warn(
            f"{empty.size} empty {plural} (no point has them as argmax): {shown}; "
            "they score 0 and are merged by soft membership"
        )
    if strategy == "lowest-score":
        merges, scores, rels = _lowest_score(run, aggregation, progress)
    else:
        merges, scores, rels = _all_pairs(run, aggregation, progress)
    info = {
        "method": "l2h",
        "aggregation": aggregation,
        "strategy": strategy,
        "n_points": int(n),
        "n_clusters": int(n_clusters),
        "empty_clusters": [int(c) for c in empty],
        "cluster_sizes": [int(c) for c in run.counts],
    }
    return Hierarchy.from_merges(merges, scores=scores, relatedness=rels, leaf_names=names, info=info)
