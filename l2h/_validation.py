"""Boundary checks shared by the public API (kernels never validate).

Every array that enters the library goes through :func:`check_array`, with one dtype policy:

============  =========================================  ===========================================
``kind``      used for                                   accepted dtypes (returned as)
============  =========================================  ===========================================
``"real"``    logits, embeddings                         any integer or floating dtype (unchanged:
                                                         memory maps stay memory maps)
``"integer"`` labels, assignments, leaf ids              integers, or integer-valued finite floats
                                                         (int64)
``"count"``   contingency tables                         as ``"integer"``, and non-negative (int64)
============  =========================================  ===========================================

``bool`` is refused everywhere (a boolean matrix is never logits, and ``True`` is not a class id:
convert with ``.astype(int)`` when that is really meant); complex, object, string, bytes, datetime
and structured dtypes are refused too.  Every message starts with the argument's name.  NaN/±inf
rows get one message, :func:`nonfinite_message`, which counts the bad rows and names the first.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "InputError",
    "L2HWarning",
    "check_array",
    "check_finite_rows",
    "check_leaf_names",
    "check_logits_array",
    "nonfinite_message",
]

ArrayKind = Literal["real", "integer", "count"]
_KINDS = ("real", "integer", "count")


class L2HWarning(UserWarning):
    """Recoverable oddity in the input (empty clusters, unknown scores, a skipped header, ...)."""


class InputError(ValueError):
    """A user-supplied file cannot be used; the message is one line and names the file."""


def nonfinite_message(name: str, n_bad: int, first_bad: int, unit: str = "row") -> str:
    """The one-line error for NaN/±inf values, shared by every check (streaming ones included).

    Parameters
    ----------
    name : str
        The argument's name (``"logits"``, ``"embeddings"``, ...).
    n_bad : int
        Number of rows (or entries of a 1-D array) holding a NaN or ±inf.
    first_bad : int
        0-based index of the first of them.
    unit : {"row", "entry"}
        What one index counts.

    Examples
    --------
    >>> nonfinite_message("logits", 2, 17)
    'logits contain NaN or ±inf in 2 rows; first bad row is 17 (0-based)'
    """
    plural = {"row": "rows", "entry": "entries"}.get(unit, unit + "s")
    units = unit if n_bad == 1 else plural
    return f"{name} contain NaN or ±inf in {n_bad} {units}; first bad {unit} is {first_bad} (0-based)"


def _as_ndarray(array: object, name: str, ndim: int | None = None) -> np.ndarray:
    """``array`` as an ndarray without copying ndarrays (memory maps included)."""
    if isinstance(array, np.ndarray):
        return array
    if hasattr(array, "detach") and hasattr(array, "cpu") and hasattr(array, "numpy"):  # a torch tensor
        tensor = array.detach().cpu()
        if str(getattr(tensor, "dtype", "")) == "torch.bfloat16":
            tensor = tensor.float()
        return np.asarray(tensor.numpy())
    array_like = isinstance(array, (list, tuple, int, float, np.generic)) or hasattr(array, "__array__")
    if not array_like or isinstance(array, bool):
        what = f"a {ndim}-D numpy array" if ndim else "an array of numbers"
        raise TypeError(f"{name} must be {what}; got {type(array).__name__}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NumPy's ragged-list deprecation warning
            return np.asarray(array)
    except (ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{name} must be a rectangular array of numbers; cannot convert it ({first})") from None


def _dtype_error(name: str, dtype: np.dtype, what: str) -> TypeError:
    hint = ""
    if dtype == np.bool_:
        hint = " (bool is never taken as numbers: use .astype(int))"
    elif dtype.kind in "US":
        hint = " (strings)"
    return TypeError(f"{name} must hold {what}; got dtype {dtype}{hint}")


def check_array(
    array: ArrayLike | object,
    name: str,
    *,
    kind: ArrayKind = "real",
    ndim: int | None = None,
    axes: Sequence[str] | None = None,
    finite: bool = False,
    chunk_rows: int = 65536,
) -> np.ndarray:
    """Validate an array entering the library: type, dimensionality, dtype, finiteness.

    The one entry point for logits, embeddings, labels, assignments and tables (the dtype policy is
    in the module docstring).  Size rules that depend on the meaning (K >= 2 clusters, ...) stay
    with the caller.

    Parameters
    ----------
    array : array_like
        NumPy array (returned without a copy for ``kind="real"``), memory map, list, or torch tensor.
    name : str
        The argument's name; every message starts with it.
    kind : {"real", "integer", "count"}
        ``"real"``: integer or floating numbers, returned unchanged.  ``"integer"``: integer ids,
        integer-valued floats accepted, returned as int64.  ``"count"``: non-negative integers,
        returned as int64.
    ndim : int, optional
        Required number of dimensions.
    axes : sequence of str, optional
        Names of the axes for the shape message, e.g. ``("n_points", "n_clusters")``.
    finite : bool
        Also refuse NaN/±inf for ``kind="real"`` (streamed in chunks of ``chunk_rows`` rows, so a
        memory map is never loaded whole).  Integer kinds always refuse them.
    chunk_rows : int
        Rows per chunk of the finiteness scan.

    Returns
    -------
    ndarray
        The validated array.

    Raises
    ------
    TypeError
        Not an array of numbers, or a refused dtype (bool, complex, object, strings, ...).
    ValueError
        Wrong dimensionality, NaN/±inf (:func:`nonfinite_message`), non-integer or negative values
        where integers or counts are required.

    Examples
    --------
    >>> check_array([[0.5, 1.0], [2.0, 3.0]], "logits", ndim=2).dtype
    dtype('float64')
    >>> check_array([1.0, 2.0, 0.0], "labels", kind="integer")
    array([1, 2, 0])
    >>> check_array([True, False], "labels", kind="integer")
    Traceback (most recent call last):
    ...
    TypeError: labels must hold integers; got dtype bool (bool is never taken as numbers: use .astype(int))
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}; got {kind!r}")
    arr = _as_ndarray(array, name, ndim)
    if ndim is not None and arr.ndim != ndim:
        if axes:
            expected = f"{ndim}-D ({', '.join(axes)})"
        else:
            expected = f"{ndim}-D"
        raise ValueError(f"{name} must be {expected}; got shape {arr.shape}")
    dtype = arr.dtype
    is_int = dtype.kind in "iu"
    is_float = dtype.kind == "f"
    if kind == "real":
        if not (is_int or is_float):
            raise _dtype_error(name, dtype, "real numbers")
        if finite and is_float:
            check_finite_rows(arr, name, chunk_rows)
        return arr
    what = "integers" if kind == "integer" else "non-negative integer counts"
    if not (is_int or is_float):
        raise _dtype_error(name, dtype, what)
    if is_float:
        check_finite_rows(arr, name, chunk_rows)
        rounded = np.rint(arr)
        if not np.array_equal(rounded, arr):
            where = np.argwhere(rounded != arr)[0]
            index = int(where[0]) if where.size == 1 else tuple(int(i) for i in where)
            value = arr[tuple(where)].item()
            raise ValueError(f"{name} must be integers; found the non-integer value {value!r} at index {index}")
        if rounded.size and (rounded.max() > np.iinfo(np.int64).max or rounded.min() < np.iinfo(np.int64).min):
            raise ValueError(f"{name} must be integers within int64; found {float(np.abs(rounded).max())!r}")
        out = rounded.astype(np.int64)
    else:
        if dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{name} must be integers within int64; found {int(arr.max())}")
        out = arr.astype(np.int64, copy=False)
    if kind == "count" and out.size and out.min() < 0:
        where = np.argwhere(out < 0)[0]
        index = int(where[0]) if where.size == 1 else tuple(int(i) for i in where)
        raise ValueError(f"{name} must hold non-negative counts; found {int(out[tuple(where)])} at index {index}")
    return out


def check_logits_array(logits: ArrayLike | object, name: str = "logits", allow_empty: bool = False) -> np.ndarray:
    """Check a logits matrix: :func:`check_array` (real numbers, 2-D) plus N >= 1 and K >= 2.

    Returns the array itself (never a copy, so memory maps stay memory maps).  Finiteness is checked
    by the callers that stream over the data anyway.  ``allow_empty`` accepts N = 0 (assigning no
    points is fine; building a tree from none is not).
    """
    arr = check_array(logits, name, kind="real", ndim=2, axes=("n_points", "n_clusters"))
    n, k = arr.shape
    if n == 0 and not allow_empty:
        raise ValueError(f"{name} has no rows (N = 0); need at least one point")
    if k < 2:
        raise ValueError(f"{name} must have at least 2 columns (clusters); got K = {k}")
    return arr


def check_finite_rows(array: np.ndarray, name: str = "logits", chunk_rows: int = 65536) -> None:
    """Raise ``ValueError`` (:func:`nonfinite_message`) when ``array`` holds NaN/±inf; streams in chunks.

    Rows of a 2-D (or higher) array, entries of a 1-D one.
    """
    if array.dtype.kind != "f" or array.size == 0:
        return
    unit = "entry" if array.ndim <= 1 else "row"
    flat = array.reshape(-1) if array.ndim == 0 else array
    n_bad = 0
    first = -1
    for start in range(0, flat.shape[0], chunk_rows):
        block = np.asarray(flat[start : start + chunk_rows])
        finite = np.isfinite(block)
        bad = ~finite.reshape(finite.shape[0], -1).all(axis=1) if block.ndim > 1 else ~finite
        count = int(bad.sum())
        if count:
            if first < 0:
                first = start + int(np.argmax(bad))
            n_bad += count
    if n_bad:
        raise ValueError(nonfinite_message(name, n_bad, first, unit))


def check_leaf_names(names: Iterable[object] | None, n_leaves: int) -> tuple[str, ...]:
    """Validate leaf names: ``n_leaves`` distinct non-empty strings (default ``"0".."K-1"``)."""
    if names is None:
        return tuple(str(i) for i in range(n_leaves))
    if isinstance(names, (str, bytes)):
        raise TypeError(f"leaf names must be a sequence of {n_leaves} strings; got one {type(names).__name__}")
    names = tuple(str(s) for s in names)
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
