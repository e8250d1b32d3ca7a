"""The single-machine build from start to end: option checks, input conversion, the first pass, the
decisions and the output tree.  :func:`l2h.build_hierarchy` calls :func:`build_local` (and
:mod:`l2h.distributed` for a Dask client); the Dask driver calls :func:`check_options` and
:func:`decide`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from l2h._numba import import_kernels
from l2h._validation import check_leaf_names, check_logits_array, warn
from l2h.build import small
from l2h.build.aggregations import AGGREGATIONS
from l2h.build.inputs import (
    INPUTS,
    clip_chunk,
    clip_log_zeros,
    default_chunk_rows,
    float64_chunks,
    kernel_dtype,
    log_chunk,
    warn_if_probabilities,
)
from l2h.build.points import Points
from l2h.build.strategies import STRATEGIES, Build
from l2h.hierarchy import Hierarchy

if TYPE_CHECKING:
    from l2h.build.scratch import ScratchCopy

__all__ = ["build_local", "check_options", "decide", "kernels"]

ProgressFn = Callable[[str, int, int], None]


def kernels() -> ModuleType:
    """The build's Numba kernels (:mod:`l2h.build._kernels`), imported on first use."""
    return import_kernels("l2h.build._kernels")


def check_options(aggregation: str, strategy: str, input: str, chunk_rows: int | None) -> None:
    """``ValueError`` naming the first unknown ``aggregation``, ``strategy`` or ``input``, or a
    ``chunk_rows`` below 1 (the checks of every build, single-machine and Dask).

    Parameters
    ----------
    aggregation, strategy, input : str
        The options of :func:`l2h.build_hierarchy`.
    chunk_rows : int or None
        Rows per chunk of the first pass.
    """
    for name, value, valid in (
        ("aggregation", aggregation, AGGREGATIONS),
        ("strategy", strategy, STRATEGIES),
        ("input", input, INPUTS),
    ):
        if value not in valid:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, valid))}; got {value!r}")
    if chunk_rows is not None and int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be a positive integer; got {chunk_rows}")


def build_local(
    logits: object,
    *,
    aggregation: str = "cluster-mean",
    strategy: str = "lowest-score",
    leaf_names: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    chunk_rows: int | None = None,
    input: str = "logits",
    scratch_dir: str | os.PathLike[str] | None = "auto",
) -> Hierarchy:
    """:func:`l2h.build_hierarchy` on this machine (its parameters but ``client``; see there).

    Parameters
    ----------
    logits, aggregation, strategy, leaf_names, progress, chunk_rows, input, scratch_dir
        As in :func:`l2h.build_hierarchy`.
    """
    check_options(aggregation, strategy, input, chunk_rows)
    arr = check_logits_array(logits)
    n, n_clusters = arr.shape
    names = check_leaf_names(leaf_names, n_clusters)
    chunk_rows = default_chunk_rows(n_clusters, arr.dtype.itemsize) if chunk_rows is None else int(chunk_rows)

    copy = _scratch_copy(scratch_dir, arr, input)
    # small inputs: the kernels' source interpreted, no compilation (same tree; l2h.build.small)
    kern = small.kernels() if small.use_small(arr.shape, out_of_core=copy is not None) else kernels()
    with copy if copy is not None else contextlib.nullcontext():
        if copy is None:
            work, _keep, n_clipped = INPUTS[input](arr, chunk_rows)
        else:  # the first pass converts the rows (if need be) as it copies them
            work, _keep, n_clipped = arr, None, 0
        try:
            points = Points(kern, work, chunk_rows, progress, aggregation, scratch=copy)
        except ValueError:
            if input != "log-probs":
                raise
            # log 0 = -inf in log-probabilities: clip those entries (one conversion pass) and rescan
            if copy is None:
                work, _keep, n_clipped = clip_log_zeros(arr, chunk_rows)
            else:
                copy.dtype, copy.convert = np.dtype(np.float64), float64_chunks(clip_chunk)
            points = Points(kern, work, chunk_rows, progress, aggregation, scratch=copy)
        if copy is not None:
            n_clipped = copy.n_clipped
        warn_if_probabilities(input, points.looks_like_probs)
        return decide(points, n, strategy, names, progress, {"input": input, "clipped_zeros": n_clipped})


def _scratch_copy(scratch_dir: str | os.PathLike[str] | None, arr: np.ndarray, input: str) -> ScratchCopy | None:
    """The out-of-core copy ``build_hierarchy(scratch_dir=...)`` asks for (None: read the input in place)."""
    from l2h.build import scratch

    folder = scratch.resolve_scratch_dir(scratch_dir, arr.shape, arr.dtype, input)
    if folder is None:
        return None
    convert = float64_chunks(log_chunk) if input == "probs" else None
    return scratch.ScratchCopy(folder, kernel_dtype(arr.dtype, input), convert)


def decide(
    build: Build,
    n: int,
    strategy: str,
    names: Sequence[str],
    progress: ProgressFn | None,
    extra_info: dict[str, Any],
) -> Hierarchy:
    """Steps 1-5 (the decisions) over a build whose first pass is done, and the output tree; shared
    with the Dask driver, whose ``rp`` answers from the workers (:mod:`l2h.distributed.engine`).

    Parameters
    ----------
    build : Build
        A build whose first pass is done (:mod:`l2h.build.strategies`).
    n : int
        Number of points.
    strategy : str
        A key of :data:`~l2h.build.strategies.STRATEGIES`.
    names : sequence of str
        The leaf names.
    progress : callable or None
        ``progress(phase, done, total)``.
    extra_info : dict
        ``input`` and ``clipped_zeros`` for the tree's ``info``.
    """
    groups = build.groups
    empty = groups.empty
    if empty.size:
        shown = ", ".join(str(c) for c in empty[:20]) + (", ..." if empty.size > 20 else "")
        plural = "cluster" if empty.size == 1 else "clusters"
        warn(
            f"{empty.size} empty {plural} (no point has them as argmax): {shown}; "
            "they score 0 and are merged by soft membership"
        )
    merges, scores, rels = STRATEGIES[strategy](build, progress)
    info = {
        "method": "l2h",
        "aggregation": groups.aggregation,
        "strategy": strategy,
        **extra_info,
        "n_points": int(n),
        "n_clusters": int(groups.n_clusters),
        "empty_clusters": [int(c) for c in empty],
        "cluster_sizes": [int(c) for c in groups.counts],
    }
    return Hierarchy.from_merges(merges, scores=scores, relatedness=rels, leaf_names=names, info=info)
