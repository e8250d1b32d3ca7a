"""Agglomerative baseline: Ward linkage on embeddings, cut into K clusters, as an l2h hierarchy.

The baseline answers "what tree would plain agglomerative clustering of the same features give?".
It clusters the N points with Ward's method, stops after ``N - K`` merges (K clusters, the leaves)
and keeps the last ``K - 1`` merges as a :class:`~l2h.Hierarchy` over those K clusters, plus every
point's cluster.  Both go through the same exports and :func:`l2h.metrics.evaluate` as an L2H tree.

Memory: scipy's :func:`~scipy.cluster.hierarchy.linkage` materialises all ``N (N - 1) / 2`` pairwise
distances (and copies them), about ``8 N^2`` bytes.  fastcluster's ``linkage_vector`` (the optional
``metrics`` extra) works on the vectors in ``O(N D)`` memory (time stays ``O(N^2 D)``), so it is used
whenever it is installed; scipy is the fallback only for sizes that fit, and sizes that fit neither
are refused before any work.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from l2h import _system
from l2h._validation import check_array, check_finite_rows
from l2h.hierarchy import Hierarchy

__all__ = ["agglomerative_hierarchy", "hierarchy_from_linkage", "linkage_memory_bytes"]

METHODS = ("ward", "single")
BACKENDS = ("auto", "fastcluster", "scipy")
INSTALL_HINT = "install fastcluster for a memory-lean Ward: pip install 'l2h[metrics]'"
# Share of the available memory one linkage may plan to use.
_MEMORY_SHARE = 0.8


def linkage_memory_bytes(n_points: int, n_dims: int, backend: str) -> int:
    """Planned peak memory of one linkage run, in bytes (an estimate, on the safe side).

    ``"scipy"``: the condensed distance matrix and the copy its linkage works on, ``8 N (N - 1)``
    bytes, plus the float64 input.  ``"fastcluster"`` (``linkage_vector``): a float64 copy of the
    input and ``O(N)`` bookkeeping, about ``8 N D + 100 N`` bytes, doubled for safety.

    Parameters
    ----------
    n_points : int
        Number of points ``N`` to cluster.
    n_dims : int
        Number of features ``D`` per point.
    backend : {"scipy", "fastcluster"}
        The linkage implementation that will run.

    Returns
    -------
    int
        The planned peak memory in bytes.

    Raises
    ------
    ValueError
        If ``backend`` is not one of the two above.

    Examples
    --------
    >>> linkage_memory_bytes(1000, 16, "scipy")
    8184000
    >>> linkage_memory_bytes(1000, 16, "fastcluster")
    456000
    """
    n, d = int(n_points), int(n_dims)
    data = 8 * n * d
    if backend == "scipy":
        return 8 * n * (n - 1) + data + 64 * n
    if backend == "fastcluster":
        return 2 * (data + 100 * n)
    raise ValueError(f"backend must be one of {', '.join(BACKENDS[1:])}; got {backend!r}")


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB"


def _import_fastcluster() -> Any:
    try:
        import fastcluster
    except ImportError:
        return None
    return fastcluster


def _choose_backend(n: int, d: int, backend: str) -> str:
    """The backend to run, or ``ValueError``/``MemoryError`` with a one-line reason."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    available = _system.available_memory()
    budget = None if available is None else _MEMORY_SHARE * available
    have_fastcluster = _import_fastcluster() is not None
    if backend == "fastcluster" and not have_fastcluster:
        raise ImportError(f"fastcluster is not installed; {INSTALL_HINT}")
    if backend == "auto":
        backend = "fastcluster" if have_fastcluster else "scipy"
    need = linkage_memory_bytes(n, d, backend)
    if available is not None and budget is not None and need > budget:
        if backend == "scipy":
            hint = INSTALL_HINT if not have_fastcluster else "use backend 'fastcluster' (memory-lean)"
            raise MemoryError(
                f"Ward with scipy on {n:,} points needs about {_gib(need)} (all pairwise distances) but only "
                f"{_gib(available)} is available; {hint}"
            )
        raise MemoryError(
            f"Ward on {n:,} x {d} embeddings needs about {_gib(need)} but only {_gib(available)} is available; "
            "reduce the number of points or dimensions"
        )
    return backend


def _check_embeddings(embeddings: ArrayLike) -> np.ndarray:
    x = check_array(embeddings, "embeddings", kind="real", ndim=2, axes=("n_points", "n_dims"))
    if x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"embeddings need at least 2 points and 1 dimension; got shape {x.shape}")
    return x


def agglomerative_hierarchy(
    embeddings: ArrayLike, k: int, *, method: str = "ward", backend: str = "auto"
) -> tuple[Hierarchy, np.ndarray]:
    """Ward (or single) linkage of N points, cut into ``k`` clusters, as a hierarchy over them.

    Parameters
    ----------
    embeddings : array_like, shape (N, D)
        Feature vectors (Euclidean geometry); converted to float64.
    k : int
        Number of clusters (leaves of the returned tree), ``2 <= k <= N``.
    method : {"ward", "single"}
        Linkage criterion.
    backend : {"auto", "fastcluster", "scipy"}
        ``"auto"`` uses fastcluster's ``linkage_vector`` (``O(N D)`` memory) when installed, else
        scipy (``O(N^2)`` memory).  Sizes whose planned memory exceeds 80% of the available memory
        are refused with :class:`MemoryError` before any work.

    Returns
    -------
    tree : Hierarchy
        K leaves; leaf ``j`` is the cluster whose first point (lowest index) comes ``j``-th.  Merge
        heights are the linkage distances; ``tree.info`` records ``method``, ``backend``,
        ``n_points`` and ``cluster_sizes``.
    assignments : ndarray of int64, shape (N,)
        Cluster (leaf) of every point.

    References
    ----------
    Ward, "Hierarchical grouping to optimize an objective function", JASA 58, 1963.
    Müllner, "fastcluster: Fast hierarchical, agglomerative clustering routines for R and Python",
    J. Stat. Softw. 53(9), 2013.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [0.1], [5.0], [5.2], [9.0]])
    >>> tree, leaf = agglomerative_hierarchy(x, 3, backend="scipy")
    >>> leaf.tolist(), tree.merges.tolist()
    ([0, 0, 1, 1, 2], [[2, 1], [0, 3]])
    """
    x = _check_embeddings(embeddings)
    n, d = x.shape
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer; got {type(k).__name__}")
    if not 2 <= k <= n:
        raise ValueError(f"k must be between 2 and the number of points ({n}); got {k}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    chosen = _choose_backend(n, d, backend)
    x = np.ascontiguousarray(x, dtype=np.float64)
    check_finite_rows(x, "embeddings")
    if chosen == "fastcluster":
        linkage = _import_fastcluster().linkage_vector(x, method=method)
    else:
        from scipy.cluster.hierarchy import linkage as scipy_linkage

        linkage = scipy_linkage(x, method=method)
    tree, assignments = hierarchy_from_linkage(linkage, k)
    info = dict(tree.info, method=method, backend=chosen)
    return Hierarchy(tree.linkage, tree.leaf_names, tree.scores, tree.relatedness, info), assignments


def hierarchy_from_linkage(linkage: ArrayLike, k: int) -> tuple[Hierarchy, np.ndarray]:
    """Cut a point-level linkage after ``N - k`` merges; return the tree over the ``k`` clusters.

    Parameters
    ----------
    linkage : array_like, shape (N-1, 4)
        scipy-style linkage over N points (merge ``t`` creates node ``N + t``).
    k : int
        Number of clusters, ``2 <= k <= N``.

    Returns
    -------
    tree : Hierarchy
        Leaves are the clusters, numbered by their lowest point index; merges are the last
        ``k - 1`` rows of ``linkage``; heights are theirs (made non-decreasing, as rounding in
        non-monotone criteria could break that).
    assignments : ndarray of int64, shape (N,)
        Cluster of every point.
    """
    z = np.asarray(linkage, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != 4:
        raise ValueError(f"linkage must have shape (N-1, 4); got {z.shape}")
    n = z.shape[0] + 1
    if not 2 <= k <= n:
        raise ValueError(f"k must be between 2 and the number of points ({n}); got {k}")
    merges = z[:, :2].astype(np.int64)
    n_low = n - k
    # Parent pointers of the forest after the first n - k merges; roots point to themselves.
    parent = np.arange(2 * n - 1, dtype=np.int64)
    created = n + np.arange(n_low, dtype=np.int64)
    parent[merges[:n_low, 0]] = created
    parent[merges[:n_low, 1]] = created
    root = parent[:n].copy()
    while True:  # pointer jumping: O(N log depth)
        hop = parent[root]
        if np.array_equal(hop, root):
            break
        root = hop
    roots, first_point = np.unique(root, return_index=True)
    order = np.argsort(first_point, kind="stable")
    node_to_id = np.full(2 * n - 1, -1, dtype=np.int64)
    node_to_id[roots[order]] = np.arange(k)
    node_to_id[n + n_low :] = k + np.arange(k - 1)
    upper = node_to_id[merges[n_low:]]
    if (upper < 0).any():
        raise ValueError("linkage is not a valid merge sequence (an upper merge joins a non-cluster node)")
    assignments = node_to_id[root]
    heights = np.maximum.accumulate(z[n_low:, 2])
    sizes = np.bincount(assignments, minlength=k)
    tree = Hierarchy.from_merges(
        upper,
        heights=heights,
        info={"source": "agglomerative", "n_points": n, "cluster_sizes": sizes.tolist()},
    )
    return tree, assignments
