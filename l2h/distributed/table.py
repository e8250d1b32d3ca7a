"""The leaf x class count table of sharded points and labels, summed over a Dask cluster.

Every score of :mod:`l2h.metrics` is a function of the sparse leaf x class table (at most N
non-zeros) and the tree, so scoring sharded data needs one reduction: every worker reads its row
range of the points (logits or leaf ids) and of the labels, counts its (leaf, label) pairs, and the
driver adds the counts.  The driver reads only the shards' headers; the points never travel.

Points and labels may be sharded differently (a folder of ``.npy`` row blocks, one ``.npy``, a Zarr
array, see :func:`l2h.distributed.open_shards`): the rows are cut at the union of both inputs'
shard boundaries, so every task reads matching rows of the two.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from l2h._validation import InputError
from l2h.distributed.shards import Shard, open_shards, total_rows

__all__ = [
    "POINT_KINDS",
    "LabelCounts",
    "count_labels",
    "count_piece",
    "merge_counts",
    "plan_pieces",
    "split_pieces",
]

POINT_KINDS = ("logits", "assignments")
_CHUNK_ROWS = 65536


@dataclass(frozen=True)
class LabelCounts:
    """Counts of the (leaf, label) pairs of all the points, as sparse triples sorted by leaf, then label.

    Attributes
    ----------
    leaves, labels, counts : ndarray of int64, shape (nnz,)
        ``counts[i]`` points sit in leaf ``leaves[i]`` and carry the label value ``labels[i]``.
    n_points : int
        Number of points (the sum of ``counts``).
    """

    leaves: np.ndarray
    labels: np.ndarray
    counts: np.ndarray
    n_points: int


@dataclass(frozen=True)
class _Piece:
    """Matching rows of the points and the labels.

    ``points`` and ``labels`` are shards narrowed to the piece's rows, except dask blocks (computed
    whole): of those the piece takes ``rows`` rows from ``point_skip`` / ``label_skip``.
    """

    points: Shard
    labels: Shard
    rows: int
    point_skip: int = 0
    label_skip: int = 0


def plan_pieces(
    points: object,
    labels: object,
    *,
    kind: str = "logits",
    n_leaves: int,
    key: str | None = None,
    timeout: float | None = None,
) -> list[_Piece]:
    """Open both inputs' shards (headers only) and cut them into pieces of matching rows.

    Parameters
    ----------
    points : str, Path, list, ndarray or dask.array
        The logits (2-D, ``n_leaves`` columns) or the leaf ids (1-D) of the points, sharded as
        :func:`~l2h.distributed.open_shards` reads them.
    labels : str, Path, list, ndarray or dask.array
        One integer label per point (1-D), sharded independently of ``points``.
    kind : {"logits", "assignments"}
        What ``points`` holds.
    n_leaves : int
        Number of leaves K of the tree.
    key : str, optional
        Array name inside a Zarr group of logits.
    timeout : float, optional
        Seconds a remote read may wait (see :func:`~l2h.distributed.open_shards`).

    Returns
    -------
    list of pieces, in row order

    Raises
    ------
    InputError
        One line: a bad or missing shard, logits without ``n_leaves`` columns, labels that are not
        integers, or points and labels with different total row counts.
    """
    if kind not in POINT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(POINT_KINDS)}; got {kind!r}")
    point_shards = open_shards(points, ndim=2 if kind == "logits" else 1, name=kind, key=key, timeout=timeout)
    label_shards = open_shards(labels, ndim=1, name="labels", timeout=timeout)
    if kind == "logits" and point_shards[0].cols != n_leaves:
        raise InputError(
            f"the tree has {n_leaves} leaves but the logits shards have {point_shards[0].cols} columns (clusters)"
        )
    for name, shards in ((kind, point_shards), ("labels", label_shards)):
        if kind == "assignments" or name == "labels":
            if np.dtype(shards[0].dtype).kind not in "iuf":
                raise InputError(f"{name} shards must hold integers; got dtype {np.dtype(shards[0].dtype)}")
    n_points, n_labels = total_rows(point_shards), total_rows(label_shards)
    if n_points != n_labels:
        raise InputError(
            f"labels have {n_labels} rows in {len(label_shards)} shard(s) but the {kind} have {n_points} rows "
            f"in {len(point_shards)} shard(s)"
        )
    if n_points == 0:
        raise InputError("there are no points to score (N = 0)")
    return _align(point_shards, label_shards)


def _align(point_shards: Sequence[Shard], label_shards: Sequence[Shard]) -> list[_Piece]:
    """Pieces at the union of both inputs' shard boundaries."""
    points = [s for s in point_shards if s.rows]
    labels = [s for s in label_shards if s.rows]
    pieces: list[_Piece] = []
    i = j = 0
    row = 0
    while i < len(points) and j < len(labels):
        p, q = points[i], labels[j]
        stop = min(p.offset + p.rows, q.offset + q.rows)
        step = stop - row
        pieces.append(_piece(p, q, row, step))
        row += step
        if row == p.offset + p.rows:
            i += 1
        if row == q.offset + q.rows:
            j += 1
    return pieces


def split_pieces(pieces: Sequence[_Piece], max_rows: int) -> list[_Piece]:
    """Cut pieces longer than ``max_rows`` (not those of dask blocks, which are computed whole).

    Parameters
    ----------
    pieces : sequence of _Piece
        Aligned (points, labels) row ranges, one task each.
    max_rows : int
        Largest number of rows a piece may keep.

    Returns
    -------
    list of _Piece
        The pieces in row order, the long ones cut into consecutive ranges of at most ``max_rows``
        rows (those backed by dask blocks are kept whole).
    """
    out: list[_Piece] = []
    for piece in pieces:
        if piece.rows <= max_rows or "delayed" in (piece.points.kind, piece.labels.kind):
            out.append(piece)
            continue
        row = piece.points.offset
        for lo in range(0, piece.rows, max_rows):
            out.append(_piece(piece.points, piece.labels, row + lo, min(max_rows, piece.rows - lo)))
    return out


def _piece(points: Shard, labels: Shard, row: int, rows: int) -> _Piece:
    narrowed = []
    skips = []
    for shard in (points, labels):
        start = row - shard.offset  # first row of the piece inside the shard
        if shard.kind == "delayed":
            narrowed.append(shard)
            skips.append(start)
            continue
        data = np.asarray(shard.data)[start : start + rows] if shard.kind == "array" else None
        narrowed.append(replace(shard, start=shard.start + start, rows=rows, offset=row, data=data))
        skips.append(0)
    return _Piece(narrowed[0], narrowed[1], rows, skips[0], skips[1])


def _rows(shard: Shard, skip: int, rows: int) -> np.ndarray:
    """The piece's rows of a shard (a memory map for a local ``.npy``)."""
    if shard.kind == "delayed":  # a dask block is computed whole
        return shard.read()[skip : skip + rows]
    return shard.read()


def count_piece(piece: _Piece, kind: str, n_leaves: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (leaf, label, count) triples of one piece; runs on a worker.

    Parameters
    ----------
    piece : _Piece
        The aligned rows of points and labels to count.
    kind : {"logits", "assignments"}
        What the points hold: logits rows (the leaf is the row's argmax) or leaf ids.
    n_leaves : int
        Number of leaves of the tree (assignments must lie in ``0..n_leaves - 1``).

    Returns
    -------
    leaves, labels, counts : ndarray of int64, shape (nnz,)
        ``counts[i]`` rows of the piece sit in leaf ``leaves[i]`` with label ``labels[i]``.

    Raises
    ------
    InputError
        Naming the shard: NaN or ±inf in a logits row, a leaf id out of range, or non-integer values.
    """
    labels = _integers(_rows(piece.labels, piece.label_skip, piece.rows), piece.labels, piece.label_skip, "labels")
    points = _rows(piece.points, piece.point_skip, piece.rows)
    if kind == "logits":
        leaves = np.empty(piece.rows, dtype=np.int64)
        for lo in range(0, piece.rows, _CHUNK_ROWS):
            block = np.asarray(points[lo : lo + _CHUNK_ROWS])
            finite = np.isfinite(block).all(axis=1)
            if not finite.all():
                bad = piece.points.offset + piece.point_skip + lo + int(np.argmin(finite))
                raise InputError(
                    f"logits shard {piece.points.source} has NaN or ±inf in row {bad} (0-based, whole input)"
                )
            leaves[lo : lo + block.shape[0]] = block.argmax(axis=1)
    else:
        leaves = _integers(points, piece.points, piece.point_skip, "assignments")
        if leaves.size and (leaves.min() < 0 or leaves.max() >= n_leaves):
            bad = int(leaves.min()) if leaves.min() < 0 else int(leaves.max())
            raise InputError(
                f"assignments shard {piece.points.source} must hold leaf ids in 0..{n_leaves - 1} "
                f"(the tree has {n_leaves} leaves); found {bad}"
            )
    return _triples(leaves, labels)


def _integers(values: np.ndarray, shard: Shard, start: int, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64)
    rounded = np.rint(arr)
    bad = ~(np.isfinite(arr) & (rounded == arr))
    if bad.any():
        where = int(np.argmax(bad))
        raise InputError(
            f"{name} shard {shard.source} must hold integers; found {arr[where].item()!r} in row "
            f"{shard.offset + start + where} (0-based, whole input)"
        )
    return rounded.astype(np.int64)


def _triples(leaves: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (leaf, label) pairs, sorted, with their counts."""
    if leaves.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    order = np.lexsort((labels, leaves))
    leaves, labels = leaves[order], labels[order]
    starts = np.flatnonzero(np.r_[True, (leaves[1:] != leaves[:-1]) | (labels[1:] != labels[:-1])])
    counts = np.diff(np.r_[starts, leaves.size])
    return leaves[starts], labels[starts], counts.astype(np.int64)


def merge_counts(parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> LabelCounts:
    """Add the triples of every piece (the order of the pieces does not matter).

    Parameters
    ----------
    parts : sequence of (leaves, labels, counts) tuples of int ndarrays
        The triples of each piece, as :func:`count_piece` returns them.

    Returns
    -------
    LabelCounts
        The summed counts, sorted by leaf then label, and the total number of points.

    Examples
    --------
    >>> import numpy as np
    >>> a = (np.array([0, 1]), np.array([2, 2]), np.array([3, 1]))
    >>> b = (np.array([0]), np.array([2]), np.array([5]))
    >>> merged = merge_counts([a, b])
    >>> merged.counts.tolist(), merged.n_points
    ([8, 1], 9)
    """
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return LabelCounts(empty, empty, empty, 0)
    leaves = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    counts = np.concatenate([p[2] for p in parts])
    order = np.lexsort((labels, leaves))
    leaves, labels, counts = leaves[order], labels[order], counts[order]
    if leaves.size == 0:
        return LabelCounts(leaves, labels, counts, 0)
    starts = np.flatnonzero(np.r_[True, (leaves[1:] != leaves[:-1]) | (labels[1:] != labels[:-1])])
    summed = np.add.reduceat(counts, starts)
    return LabelCounts(leaves[starts], labels[starts], summed.astype(np.int64), int(summed.sum()))


def count_labels(
    points: object,
    labels: object,
    client: object,
    *,
    kind: str = "logits",
    n_leaves: int,
    key: str | None = None,
    pieces: Sequence[_Piece] | None = None,
    timeout: float | None = None,
    worker_wait: float | None = None,
) -> LabelCounts:
    """Count the (leaf, label) pairs of sharded points and labels on a Dask cluster.

    Parameters
    ----------
    points, labels, kind, n_leaves, key
        As :func:`plan_pieces`.
    client : distributed.Client
        The cluster (see :func:`l2h.distributed.connect`).
    pieces : list, optional
        :func:`plan_pieces`'s result for these inputs, when the caller has it already.
    timeout : float, optional
        Seconds each question to the scheduler may take (default 10 s); the counting itself is
        waited for as long as the scheduler answers within this (see
        :class:`~l2h.distributed.cluster.SchedulerWaits`).
    worker_wait : float, optional
        Seconds to wait for a first worker (default 10 s).

    Returns
    -------
    LabelCounts
        Exactly the counts of the concatenated points and labels on one machine.

    Raises
    ------
    ClusterError
        No worker within ``worker_wait``; the scheduler went silent (no answer within ``timeout``)
        or was lost.

    Examples
    --------
    >>> import numpy as np
    >>> from l2h.distributed.table import merge_counts, count_piece, plan_pieces
    >>> pieces = plan_pieces(np.array([0, 1, 1]), np.array([5, 5, 5]), kind="assignments", n_leaves=2)
    >>> merge_counts([count_piece(p, "assignments", 2) for p in pieces]).counts.tolist()
    [1, 2]
    """
    if pieces is None:
        pieces = plan_pieces(points, labels, kind=kind, n_leaves=n_leaves, key=key)
    from l2h.distributed.cluster import CONNECT_TIMEOUT_S, ClusterError, SchedulerWaits

    waits = SchedulerWaits(client, timeout)
    wait = CONNECT_TIMEOUT_S if worker_wait is None else float(worker_wait)
    deadline = time.monotonic() + wait
    while not (workers := len(waits.workers())):  # without a worker the counting would never start
        if time.monotonic() > deadline:
            raise ClusterError(f"the Dask cluster at {waits.address} has no worker (waited {wait:g} s)")
        time.sleep(0.2)
    # about four pieces per worker, so that one big file spreads over the cluster
    pieces = split_pieces(pieces, max(_CHUNK_ROWS, math.ceil(sum(p.rows for p in pieces) / (4 * workers))))
    futures = client.map(count_piece, pieces, kind=kind, n_leaves=n_leaves, pure=False)  # type: ignore[attr-defined]
    parts = waits.wait("counting the (leaf, label) pairs", lambda: client.gather(futures))  # type: ignore[attr-defined]
    return merge_counts(parts)
