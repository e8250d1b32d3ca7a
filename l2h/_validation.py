"""Boundary checks shared by the public API (kernels never validate)."""

from __future__ import annotations

import warnings

import numpy as np


class L2HWarning(UserWarning):
    """Recoverable oddity in the input (empty clusters, unknown scores, ...)."""


def check_logits_array(logits: object, name: str = "logits", allow_empty: bool = False) -> np.ndarray:
    """Check the type, dimensionality, size and dtype of a logits matrix.

    Returns the array itself (never a copy, so memory maps stay memory maps).
    Finiteness is checked by the callers that stream over the data anyway.  ``allow_empty`` accepts
    N = 0 (assigning no points is fine; building a tree from none is not).
    """
    if hasattr(logits, "detach") and hasattr(logits, "cpu"):  # a torch tensor
        logits = logits.detach().cpu().numpy()
    if not isinstance(logits, np.ndarray):
        if isinstance(logits, (list, tuple)):
            logits = np.asarray(logits)
        else:
            raise TypeError(f"{name} must be a 2-D numpy array; got {type(logits).__name__}")
    if logits.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_points, n_clusters); got shape {logits.shape}")
    if logits.dtype == object or not np.issubdtype(logits.dtype, np.number) or np.iscomplexobj(logits):
        raise TypeError(f"{name} must hold real numbers; got dtype {logits.dtype}")
    n, k = logits.shape
    if n == 0 and not allow_empty:
        raise ValueError(f"{name} has no rows (N = 0); need at least one point")
    if k < 2:
        raise ValueError(f"{name} must have at least 2 columns (clusters); got K = {k}")
    return logits


def nonfinite_message(name: str, n_bad_rows: int, first_bad_row: int) -> str:
    """The one-line error for NaN/inf rows, shared by every streaming check."""
    rows = "row" if n_bad_rows == 1 else "rows"
    return f"{name} contain NaN or ±inf in {n_bad_rows} {rows}; first bad row is {first_bad_row} (0-based)"


def check_finite_rows(array: np.ndarray, name: str = "logits", chunk_rows: int = 65536) -> None:
    """Raise ``ValueError`` naming the first non-finite row; streams in chunks."""
    n_bad = 0
    first = -1
    for start in range(0, array.shape[0], chunk_rows):
        block = np.asarray(array[start : start + chunk_rows])
        bad = ~np.isfinite(block).all(axis=1)
        count = int(bad.sum())
        if count:
            if first < 0:
                first = start + int(np.argmax(bad))
            n_bad += count
    if n_bad:
        raise ValueError(nonfinite_message(name, n_bad, first))


def check_leaf_names(names: object, n_leaves: int) -> tuple[str, ...]:
    """Validate leaf names: ``n_leaves`` distinct non-empty strings."""
    if names is None:
        return tuple(str(i) for i in range(n_leaves))
    names = tuple(str(s) for s in names)  # type: ignore[union-attr]
    if len(names) != n_leaves:
        raise ValueError(f"leaf names: expected {n_leaves} names (one per cluster); got {len(names)}")
    seen: dict[str, int] = {}
    for i, s in enumerate(names):
        if not s.strip():
            raise ValueError(f"leaf names: name {i} is empty")
        if s in seen:
            raise ValueError(f"leaf names: duplicate name {s!r} at positions {seen[s]} and {i}")
        seen[s] = i
    return names


def warn(message: str) -> None:
    warnings.warn(message, L2HWarning, stacklevel=3)
