"""The public L2H build: :func:`build_hierarchy` runs the single-machine build (:mod:`l2h.build`) or,
given a Dask client, the cluster build (:mod:`l2h.distributed`), which gives the same tree.

The procedure, its exactness and its costs are described in :mod:`l2h.build` and
``docs/algorithm.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from l2h.build import AGGREGATIONS, INPUTS, STRATEGIES, TIE_RTOL, build_local
from l2h.hierarchy import Hierarchy

__all__ = ["AGGREGATIONS", "INPUTS", "STRATEGIES", "TIE_RTOL", "ProgressFn", "build_hierarchy"]

#: ``progress(phase, done, total)``: what :func:`build_hierarchy` calls to report progress.
ProgressFn = Callable[[str, int, int], None]


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
        Out-of-core build (:mod:`l2h.build.scratch`): the first pass also writes a copy of the logits,
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
            logits,
            client,
            aggregation=aggregation,
            strategy=strategy,
            leaf_names=leaf_names,
            progress=progress,
            chunk_rows=chunk_rows,
        )
    return build_local(
        logits,
        aggregation=aggregation,
        strategy=strategy,
        leaf_names=leaf_names,
        progress=progress,
        chunk_rows=chunk_rows,
        input=input,
        scratch_dir=scratch_dir,
    )
