"""What the build reads: the input's values (logits, probabilities, log-probabilities) turned into a
C-contiguous float32/float64 logits array for the kernels, and the option checks every build shares.

Each converter of :data:`INPUTS` returns ``(logits the kernels read, an object to keep alive while
they are read, the number of zero probabilities clipped)``.  Memory maps are read in place when
already float32/float64 and C-contiguous, and converted chunk by chunk otherwise (in memory up to
1 GiB, into an anonymous temp file beyond, so a memory map is never copied whole into memory).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

import numpy as np

from l2h._validation import warn

__all__ = [
    "INPUTS",
    "clip_log_zeros",
    "default_chunk_rows",
    "kernel_array",
    "kernel_dtype",
    "read_only",
    "warn_if_probabilities",
]

ConvertFn = Callable[[np.ndarray, int], tuple[np.ndarray, int]]

_IN_MEMORY_CONVERSION_BYTES = 1 << 30  # larger non-float32/64 inputs are converted into a temp file
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))  # log of the smallest normal float64, about -708.4


def kernel_dtype(dtype: object, input: str = "logits") -> np.dtype:
    """The dtype the kernels read for an input of ``dtype``: the one kernel flavour rule.

    float32 and float64 logits are read as they are; float16 and integers of at most 2 bytes become
    float32 (exactly), everything else float64; probabilities become float64 logs.

    Parameters
    ----------
    dtype : dtype
        The input's dtype.
    input : {"logits", "probs", "log-probs"}
        What it holds.

    Examples
    --------
    >>> kernel_dtype(np.float16).name, kernel_dtype(np.int64).name, kernel_dtype(np.float32, "probs").name
    ('float32', 'float64', 'float64')
    """
    dt = np.dtype(dtype)  # type: ignore[call-overload]
    if input not in ("logits", "log-probs"):
        return np.dtype(np.float64)
    if dt in (np.float32, np.float64):
        return dt
    small = dt.itemsize <= 2 and dt.kind in "fiu"
    return np.dtype(np.float32) if small else np.dtype(np.float64)


def read_only(arr: np.ndarray) -> np.ndarray:
    """``arr`` itself when it is read-only, else a read-only view of it.

    The kernels see every logits array read-only, whether it came from a writable array, a
    read-only memory map (``l2h build``) or a converted copy: Numba compiles a kernel once per
    argument type, and read-only is a type of its own, so one flavour per dtype keeps one compiled
    set (``l2h warmup`` then covers every later build).

    Parameters
    ----------
    arr : ndarray
        Any array.

    Examples
    --------
    >>> a = np.zeros(3)
    >>> read_only(a).flags.writeable, a.flags.writeable
    (False, True)
    """
    if not arr.flags.writeable:
        return arr
    view = arr.view()
    view.flags.writeable = False
    return view


def kernel_array(arr: np.ndarray, chunk_rows: int) -> tuple[np.ndarray, object]:
    """A C-contiguous float32/float64 version of ``arr`` without copying when it already is one.

    Other dtypes (and F-order or strided arrays) are converted chunk by chunk (:func:`kernel_dtype`),
    in memory up to 1 GiB and into an anonymous temp file beyond.  Returns the array, read-only
    (:func:`read_only`), and an object to keep alive while it is used.

    Parameters
    ----------
    arr : ndarray, shape (N, K)
        Logits of any real dtype (a memory map is converted in chunks).
    chunk_rows : int
        Rows converted at a time.
    """
    if arr.dtype in (np.float32, np.float64) and arr.flags.c_contiguous:
        return read_only(np.asarray(arr)), None
    target = kernel_dtype(arr.dtype)
    keep = None
    if arr.shape[0] * arr.shape[1] * target.itemsize <= _IN_MEMORY_CONVERSION_BYTES:
        out = np.empty(arr.shape, dtype=target)
    else:
        keep = tempfile.TemporaryFile()
        out = np.memmap(keep, dtype=target, mode="w+", shape=arr.shape)
    for start in range(0, arr.shape[0], chunk_rows):
        out[start : start + chunk_rows] = arr[start : start + chunk_rows]
    return read_only(np.asarray(out)), (keep, out)


def _input_logits(arr: np.ndarray, chunk_rows: int) -> tuple[np.ndarray, object, int]:
    """Logits as they are (read in place when float32/float64 and C-contiguous)."""
    work, keep = kernel_array(arr, chunk_rows)
    return work, keep, 0


def _input_log_probs(arr: np.ndarray, chunk_rows: int) -> tuple[np.ndarray, object, int]:
    """Log-probabilities are logits (``softmax(log p) = p``); read in place like logits.  A ``-inf``
    (``log 0``) makes the first pass fail and :func:`clip_log_zeros` converts the file once."""
    return _input_logits(arr, chunk_rows)


def _input_probs(arr: np.ndarray, chunk_rows: int) -> tuple[np.ndarray, object, int]:
    """Probabilities: ``log p`` in float64, computed chunk by chunk into a new array.  Zeros are
    clipped to the smallest normal float64 (``log = -708.4``) and counted; a negative value is an
    error."""
    return _convert_chunks(arr, chunk_rows, log_chunk)


def log_chunk(x: np.ndarray, start: int) -> tuple[np.ndarray, int]:
    """``log`` of a float64 block of probabilities whose first row is row ``start``: (logs, zeros clipped).

    Parameters
    ----------
    x : ndarray
        float64 probabilities.
    start : int
        Row of ``x[0]`` in the input (for the error message).
    """
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


def clip_log_zeros(arr: np.ndarray, chunk_rows: int) -> tuple[np.ndarray, object, int]:
    """Log-probabilities with ``-inf`` (``log 0``) entries clipped to -708.4 and counted.

    Parameters
    ----------
    arr : ndarray, shape (N, K)
        Log-probabilities.
    chunk_rows : int
        Rows converted at a time.
    """
    return _convert_chunks(arr, chunk_rows, clip_chunk)


def clip_chunk(x: np.ndarray, start: int) -> tuple[np.ndarray, int]:
    """``-inf`` entries of a float64 block set to -708.4 in place; returns it and their number.

    Parameters
    ----------
    x : ndarray
        float64 log-probabilities (changed in place).
    start : int
        Row of ``x[0]`` in the input (unused; the converters' common signature).
    """
    zeros = x == -np.inf
    x[zeros] = _LOG_TINY
    return x, int(np.count_nonzero(zeros))


def float64_chunks(convert: ConvertFn) -> ConvertFn:
    """``convert`` on a float64 copy of each block (what :func:`_convert_chunks` hands it), for the
    out-of-core first pass, which converts the rows as it copies them.

    Parameters
    ----------
    convert : callable
        ``convert(block, start) -> (block, count)`` on float64 blocks.
    """
    return lambda block, start: convert(np.array(block, dtype=np.float64), start)


def _convert_chunks(arr: np.ndarray, chunk_rows: int, convert: ConvertFn) -> tuple[np.ndarray, object, int]:
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
    return read_only(np.asarray(out)), (keep, out), n_clipped


#: What the values of the input are, by name (the valid ``input`` values).
INPUTS: dict[str, Callable[[np.ndarray, int], tuple[np.ndarray, object, int]]] = {
    "logits": _input_logits,
    "probs": _input_probs,
    "log-probs": _input_log_probs,
}


def default_chunk_rows(n_clusters: int, itemsize: int) -> int:
    """Rows per chunk of the first pass: about 64 MB of logits (at least 256 rows).

    Parameters
    ----------
    n_clusters : int
        K.
    itemsize : int
        Bytes per logit.
    """
    return max(256, (64 << 20) // (n_clusters * max(itemsize, 4)))


def warn_if_probabilities(input: str, looks_like_probs: bool) -> None:
    """The :class:`~l2h.L2HWarning` of logits that look like probabilities (every row in [0, 1],
    summing to 1 within 1e-3).

    Parameters
    ----------
    input : str
        The ``input`` option.
    looks_like_probs : bool
        What the first pass found.
    """
    if input == "logits" and looks_like_probs:
        warn(
            "every row of the logits lies in [0, 1] and sums to 1: they look like probabilities; "
            "if so, pass --input probs (input='probs')"
        )
