"""Compile l2h's Numba kernels ahead of time (``l2h warmup``).

Numba compiles a kernel for each argument type the first time it runs, then caches the machine
code (see :mod:`l2h._numba` for where).  :func:`compile_kernels` runs small builds that reach every
kernel with float32 and with float64 logits: enough points for the parallel merge visits, an empty
cluster for the soft-membership passes (batched, and over enough points for the parallel pass),
confident rows for the exact recomputations, every aggregation and strategy, an out-of-core copy and
a window of empty clusters' columns; then every metric once (the metrics' kernels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from l2h._numba import compiled_functions, mark_kernels_compiled
from l2h.build.aggregations import AGGREGATIONS
from l2h.build.api import build_local
from l2h.build.small import forced
from l2h.build.strategies import STRATEGIES
from l2h.hierarchy import Hierarchy

__all__ = ["FLAVOURS", "compile_kernels", "warmup_logits"]

FLAVOURS = ("float32", "float64")


def warmup_logits(dtype: str = "float32", n_points: int = 6000, n_clusters: int = 8) -> np.ndarray:
    """Seeded logits that reach every kernel: > 4096 points, one empty cluster, confident rows.

    Parameters
    ----------
    dtype : str, default "float32"
        NumPy dtype of the logits (one kernel flavour).
    n_points : int, default 6000
        Number of rows.
    n_clusters : int, default 8
        Number of columns; the last one is never an argmax (an empty cluster).

    Returns
    -------
    ndarray, shape (n_points, n_clusters)
        C-contiguous logits of ``dtype``, the same at every call.

    Examples
    --------
    >>> warmup_logits("float64").shape
    (6000, 8)
    """
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2.0, size=(n_points, n_clusters))
    logits[: n_points // 4] *= 20.0  # confident rows: 1 - p underflows, exact recomputation runs
    # never an argmax (5 below the row's maximum): an empty cluster, merged by soft membership
    logits[:, -1] = logits[:, :-1].max(axis=1) - 5.0
    return np.ascontiguousarray(logits, dtype=dtype)


def compile_kernels(flavours: Sequence[str] = FLAVOURS) -> dict[str, list[str]]:
    """Run every kernel once per dtype in ``flavours`` so that Numba compiles and caches it.

    Each later build with logits of those dtypes loads the cached kernels instead of compiling them.

    Parameters
    ----------
    flavours : sequence of str, default ("float32", "float64")
        The logits dtypes to compile for.

    Returns
    -------
    dict
        For each flavour, then ``"metrics"``: the names of the kernels Numba compiled for it, sorted
        (empty when every one came from the cache).
    """
    with forced("numba"):  # these builds are small: without this they would not compile anything
        return _compile(flavours)


def _compile(flavours: Sequence[str]) -> dict[str, list[str]]:
    import warnings

    from l2h._validation import L2HWarning

    done: dict[str, list[str]] = {}
    for flavour in flavours:
        logits = warmup_logits(flavour)
        with compiled_functions() as compiled, warnings.catch_warnings():
            warnings.simplefilter("ignore", L2HWarning)  # the empty cluster is on purpose
            for aggregation in AGGREGATIONS:
                for strategy in STRATEGIES:
                    # all-pairs relates every pair of groups per merge: a few hundred points suffice
                    tree = build_local(
                        logits if strategy == "lowest-score" else logits[:600],
                        aggregation=aggregation,
                        strategy=strategy,
                    )
            # soft passes over >= 65 536 points run on every thread (kernels.visit_soft), and so does
            # the first pass over >= 131 072 entries (kernels.scan_rows): 66 000 x 3, one empty cluster
            wide = np.ascontiguousarray(warmup_logits(flavour, n_points=66_000, n_clusters=3))
            build_local(wide)
            _compile_out_of_core(logits[:600])
            tree.assign(logits, k=3)
        mark_kernels_compiled(flavour)
        done[flavour] = _names(compiled)
    with compiled_functions() as compiled:
        _compile_metrics_kernels(tree, logits)
    done["metrics"] = _names(compiled)
    return done


def _compile_out_of_core(logits: np.ndarray) -> None:
    """The soft merges' column kernels of the two large-input paths, on a few hundred rows with an
    empty cluster: a build from an out-of-core copy (rows read in file order,
    ``kernels.extract_columns_rows``) and one whose empty clusters' columns exceed the in-memory
    window (``kernels.upcoming_empty_columns``; above 256 MB at scale, here a window of one byte)."""
    import tempfile

    from l2h.build import points

    with tempfile.TemporaryDirectory(prefix="l2h-warmup-") as folder:
        build_local(logits, scratch_dir=folder)
    with points.column_window(1):
        build_local(logits, scratch_dir=None)


def compile_small(flavour: str) -> None:
    """Compile (or load) the kernels that a small build of ``flavour`` logits runs: the first pass
    and the batched merges, as for the digits example (``l2h build`` does this under a clock before a
    first build, so that no progress bar sits frozen while Numba compiles).

    Parameters
    ----------
    flavour : {"float32", "float64"}
        The logits dtype.
    """
    logits = np.random.default_rng(0).normal(scale=3.0, size=(400, 6)).astype(flavour)
    logits[np.arange(400), np.arange(400) % 6] += 10.0  # every cluster has points: no soft merges
    with forced("numba"):  # a small build: without this it would compile nothing
        build_local(logits)


def _names(functions: list) -> list[str]:
    return sorted({function.__name__ for function in functions})


def _compile_metrics_kernels(tree: Hierarchy, logits: np.ndarray) -> None:
    """Score ``tree`` once with every metric (the metrics' kernels do not depend on the logits' dtype)."""
    import io

    from l2h.metrics import contingency_table, evaluate, write_class_distances

    labels = np.arange(logits.shape[0]) % 5
    evaluate(tree, labels, logits=logits, levels=(3, 2))
    table = contingency_table(tree.assign(logits), labels, n_leaves=tree.n_leaves)
    write_class_distances(io.BytesIO(), tree, table)
