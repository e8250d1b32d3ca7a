"""Reading input arrays and name lists: ``.npy``, ``.npz``, CSV/TSV/text and ``.pt`` files.

Every reader checks the file first (:func:`check_input_file`: it exists, is a regular file, is
readable), never unpickles anything, and reports a bad file with one :class:`~l2h.InputError` line
that names it.  Arrays pass :func:`l2h._validation.check_array`'s dtype policy.  A memory-mapped
array is read in blocks by :func:`row_blocks`, whose pages do not stay resident.
"""

from __future__ import annotations

import errno
import itertools
import mmap
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from l2h import _system
from l2h._validation import InputError, check_array
from l2h.text import short_repr, text_lines, typed_url

__all__ = ["ARRAY_SUFFIXES", "InputError", "check_input_file", "load_array", "read_names", "row_blocks"]

ARRAY_SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".txt", ".pt", ".pth")


def check_input_file(path: str | os.PathLike[str], name: str = "input") -> os.stat_result:
    """Check that ``path`` is an existing, readable regular file before anything reads it.

    A FIFO, device or socket is refused up front (reading one could block forever), as is a
    directory; a symlink loop and a dangling symlink are told apart from a missing file.

    Parameters
    ----------
    path : str or os.PathLike
        The file to check (symlinks are followed).
    name : str, default "input"
        What the file is (e.g. ``"logits"``); the error messages start with it.

    Returns
    -------
    os.stat_result
        The file's status (its size is used by the streaming readers).

    Raises
    ------
    InputError
        One line naming ``name`` and ``path``: missing, dangling symlink, symlink loop, a directory,
        a FIFO/device/socket, or not readable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp, "labels.txt")
    ...     _ = path.write_text("0\\n1\\n")
    ...     check_input_file(path, "labels").st_size
    4
    >>> check_input_file("/no/such/file.npy", "logits")
    Traceback (most recent call last):
        ...
    l2h._validation.InputError: logits file not found: /no/such/file.npy
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(f"{name} file {path} is a dangling symlink (its target does not exist)") from None
        url = typed_url(path)
        if url is not None:
            raise InputError(
                f"{name} file not found: {url} (a URL: read it on a Dask cluster with --scheduler or --workers)"
            ) from None
        raise InputError(f"{name} file not found: {path}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{name} file {path} is a symlink loop") from None
        if exc.errno == errno.ENOTDIR:
            raise InputError(f"{name} file not found: {path} (a parent is not a folder)") from None
        raise InputError(f"{name} file {path} cannot be read: {exc.strerror or exc}") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise InputError(f"{name} path is a directory, not a file: {path}")
    if not stat.S_ISREG(mode):
        kind = (
            "a FIFO (named pipe)"
            if stat.S_ISFIFO(mode)
            else "a character device"
            if stat.S_ISCHR(mode)
            else "a block device"
            if stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise InputError(f"{name} file {path} is {kind}; l2h reads only regular files")
    if not os.access(path, os.R_OK):
        raise InputError(f"{name} file is not readable: {path}")
    return st


def load_array(path: str | os.PathLike[str], key: str | None = None, *, name: str = "array") -> np.ndarray:
    """Load a numeric array from ``.npy`` (memory-mapped), ``.npz``, ``.csv``/``.tsv``/``.txt`` or ``.pt``.

    ``.npy`` files are opened with ``mmap_mode="r"`` and ``allow_pickle=False``; ``.pt`` files need
    torch and are read with ``weights_only=True``; ``.npz`` members are checked against the available
    memory before they are inflated.  Text files: see docs/formats.md (BOM dropped, a
    header only when its line has no number, with an :class:`~l2h.L2HWarning`; files over 1 GB are
    streamed into a temporary memory map).

    Parameters
    ----------
    path : str or path-like
        A regular file (FIFOs and devices are refused before reading).
    key : str, optional
        Array inside an ``.npz`` or a ``.pt`` dict; required when it holds several.
    name : str
        What the file holds, for the messages (``"logits"``, ``"labels"``, ...).

    Returns
    -------
    ndarray
        Integers or floats (:func:`l2h._validation.check_array`'s policy), possibly a read-only memory map.

    Raises
    ------
    InputError
        One line naming ``name`` and the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "logits.csv"
    >>> _ = path.write_text("1.5,2\\n3,4\\n", encoding="utf-8-sig")  # with a byte-order mark
    >>> load_array(path, name="logits").tolist()
    [[1.5, 2.0], [3.0, 4.0]]
    """
    path = Path(path)
    check_input_file(path, name)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _load_npy(path, name)
    if suffix == ".npz":
        return _load_npz(path, key, name)
    if suffix in (".csv", ".tsv", ".txt"):
        return _load_text(path, name)
    if suffix in (".pt", ".pth"):
        return _load_torch(path, key, name)
    raise InputError(
        f"{name} file {path}: unknown suffix {suffix or '(none)'!r}; expected one of {', '.join(ARRAY_SUFFIXES)}"
    )


def _load_npy(path: Path, name: str) -> np.ndarray:
    with open(path, "rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            raise InputError(f"{name} file {path} is not a valid .npy file (no NumPy header)")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise InputError(f"{name} file {path} holds pickled objects, which are never loaded") from None
        raise InputError(f"{name} file {path} is not a valid .npy file: {exc}") from None
    except OSError as exc:
        raise InputError(f"{name} file {path} cannot be read: {exc}") from None
    return _check_dtype(arr, path, name)


def _load_npz(path: Path, key: str | None, name: str) -> np.ndarray:
    import zipfile

    if not zipfile.is_zipfile(path):  # else np.load takes it for a pickle and says so
        raise InputError(f"{name} file {path} is not a valid .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if key is None:
                if len(keys) != 1:
                    raise InputError(
                        f"{name} file {path} holds {len(keys)} arrays ({', '.join(keys)}); choose one with --key"
                    )
                key = keys[0]
            if key not in keys:
                raise InputError(f"{name} file {path} has no array {key!r}; it holds {', '.join(keys)}")
            _check_npz_member_size(archive.zip, key, path, name)
            arr = archive[key]
    except InputError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise InputError(f"{name} file {path} holds pickled objects, which are never loaded") from None
        raise InputError(f"{name} file {path} is not a valid .npz file: {exc}") from None
    except Exception as exc:  # zipfile errors and friends
        raise InputError(f"{name} file {path} is not a valid .npz file: {exc}") from None
    return _check_dtype(arr, path, name)


#: Share of the available memory one inflated ``.npz`` member may take.
MEMORY_SHARE = 0.8


def _check_npz_member_size(archive: Any, key: str, path: Path, name: str) -> None:
    """Refuse to inflate a member larger than the memory available (a zip bomb), before reading it.

    Both sizes count: the zip directory's uncompressed size and the size the member's ``.npy``
    header declares (NumPy allocates the latter before reading).
    """
    member = key if key in archive.namelist() else f"{key}.npy"
    info = archive.getinfo(member)
    declared = int(info.file_size)
    with archive.open(member) as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    count = 1
    for n in shape:
        count *= int(n)
    need = max(declared, count * dtype.itemsize)
    available = _system.available_memory()
    if available is not None and need > MEMORY_SHARE * available:
        raise InputError(
            f"{name} file {path}: array {key!r} inflates to {need / 2**30:.1f} GiB but only "
            f"{available / 2**30:.1f} GiB of memory is available; save it uncompressed as .npy (memory-mapped)"
        )


#: Text files larger than this are parsed in chunks into a temporary memory-mapped ``.npy`` (bytes).
STREAM_BYTES = 1 << 30
#: Lines per chunk when streaming.
STREAM_CHUNK_LINES = 1 << 16


def _load_text(path: Path, name: str) -> np.ndarray:
    """CSV/TSV/white-space text of numbers with NumPy's C reader (:func:`numpy.loadtxt`).

    A UTF-8 byte-order mark is dropped.  The first content line (blank lines and ``#`` comments are
    skipped) is a header only when none of its cells is a number: it is skipped with one
    :class:`~l2h.L2HWarning` line.  A line mixing numbers and non-numbers is an error naming the
    line and column, as is a row of another width.  Files larger than :data:`STREAM_BYTES` are parsed
    :data:`STREAM_CHUNK_LINES` lines at a time into a temporary memory-mapped ``.npy`` (unlinked at
    once; the mapping keeps it alive), so memory stays bounded by one chunk.
    """
    size = path.stat().st_size
    try:
        handle = open(path, encoding="utf-8-sig", newline=None)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"{name} file {path} cannot be read: {exc.strerror or exc}") from None
    with handle:
        try:
            first, first_lineno = _first_content_line(handle)
            if first is None:
                return np.empty((0, 0))
            delimiter = "\t" if path.suffix.lower() == ".tsv" else ("," if "," in first else None)
            data_start = first_lineno
            header = _is_header(first, delimiter, path, name, first_lineno)
            if header:
                lines: Iterator[str] = iter(handle)
                data_start = first_lineno + 1
            else:
                lines = itertools.chain([first], handle)
            if size > STREAM_BYTES:
                arr = _load_text_streamed(lines, delimiter, path, name, data_start)
            else:
                try:
                    arr = _loadtxt(lines, delimiter)
                except ValueError:
                    _raise_precise_error(path, name, delimiter, data_start)
                    raise
            if header and arr.size:  # a header-only file gets its "no rows" error alone
                from l2h._validation import warn

                shown = first.strip()
                shown = shown if len(shown) <= 60 else shown[:57] + "..."
                warn(f"{name} file {path}: line {first_lineno} has no number, skipped as a header: {shown!r}")
            return arr
        except UnicodeDecodeError as exc:
            raise InputError(f"{name} file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except OSError as exc:
            raise InputError(f"{name} file {path} cannot be read: {exc.strerror or exc}") from None


def _loadtxt(lines: Iterable[str], delimiter: str | None) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "input contained no data": an empty body is fine
        arr = np.loadtxt(lines, dtype=np.float64, delimiter=delimiter, comments="#", ndmin=2, encoding=None)
    return arr if arr.size else np.empty((0, 0))


def _first_content_line(handle: TextIO) -> tuple[str | None, int]:
    """The first line that is neither blank nor a ``#`` comment, and its 1-based number."""
    lineno = 0
    for line in handle:
        lineno += 1
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return line, lineno
    return None, lineno


def _cells(line: str, delimiter: str | None) -> Iterator[str]:
    """The cells of ``line`` one by one (a 50 MB line is never split into a list)."""
    line = line.split("#", 1)[0] if "#" in line else line
    if delimiter is None:
        for m in re.finditer(r"\S+", line):
            yield m.group()
        return
    start = 0
    while True:
        end = line.find(delimiter, start)
        if end < 0:
            yield line[start:].strip()
            return
        yield line[start:end].strip()
        start = end + len(delimiter)


def _is_header(line: str, delimiter: str | None, path: Path, name: str, lineno: int) -> bool:
    """True when no cell of ``line`` is a number; an error when only some are.

    A line whose first cell is a number is data (its other cells are checked by the reader), so a
    long data line is never scanned in Python.
    """
    cells = _cells(line, delimiter)
    first = next(cells)
    if _is_float(first):
        return False
    for cell in cells:
        if _is_float(cell):
            raise InputError(f"{name} file {path}, line {lineno}, column 1: non-numeric cell {short_repr(first)}")
    return True


def _raise_precise_error(path: Path, name: str, delimiter: str | None, start: int) -> None:
    """Re-read the data lines (from line ``start``) one by one and raise the first problem found."""
    width = None
    with open(path, encoding="utf-8-sig", newline=None) as handle:
        for lineno, line in enumerate(handle, start=1):
            stripped = line.strip()
            if lineno < start or not stripped or stripped.startswith("#"):
                continue
            count = 0
            for column, cell in enumerate(_cells(line, delimiter), start=1):
                count = column
                if not _is_float(cell):
                    raise InputError(
                        f"{name} file {path}, line {lineno}, column {column}: non-numeric cell {short_repr(cell)}"
                    )
            if count == 0:
                continue
            if width is None:
                width = count
            elif count != width:
                raise InputError(f"{name} file {path}, line {lineno}: expected {width} columns, found {count}")


def _load_text_streamed(
    lines: Iterator[str], delimiter: str | None, path: Path, name: str, data_start: int
) -> np.ndarray:
    """Parse ``lines`` chunk by chunk into a temporary ``.npy`` and return it memory-mapped."""
    import tempfile

    header_bytes = 128  # room for any 2-D float64 shape; patched at the end
    fd, tmp_name = tempfile.mkstemp(prefix="l2h-csv-", suffix=".npy")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(b"\0" * header_bytes)
            n_rows = 0
            width = None
            while True:
                chunk = list(itertools.islice(lines, STREAM_CHUNK_LINES))
                if not chunk:
                    break
                try:
                    block = _loadtxt(chunk, delimiter)
                except ValueError:
                    _raise_precise_error(path, name, delimiter, data_start)
                    raise
                if block.size == 0:
                    continue
                if width is None:
                    width = block.shape[1]
                elif block.shape[1] != width:
                    _raise_precise_error(path, name, delimiter, data_start)
                    raise InputError(f"{name} file {path}: rows of {width} and {block.shape[1]} columns")
                out.write(np.ascontiguousarray(block, dtype="<f8").tobytes())
                n_rows += block.shape[0]
            if width is None:
                return np.empty((0, 0))
            out.seek(0)
            out.write(_npy_header((n_rows, width), header_bytes))
        arr = np.load(tmp, mmap_mode="r", allow_pickle=False)
    except OSError as exc:
        raise InputError(
            f"{name} file {path}: cannot write the temporary array in {tmp.parent} ({exc.strerror or exc}); "
            "set TMPDIR to a folder with room, or convert the file to .npy"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)  # the memory map keeps the data alive
    return arr


def _npy_header(shape: tuple[int, int], size: int) -> bytes:
    """A version 1.0 ``.npy`` header for little-endian float64 of ``shape``, padded to ``size`` bytes."""
    text = repr({"descr": "<f8", "fortran_order": False, "shape": shape})
    body = text.encode("latin1")
    pad = size - 10 - len(body) - 1
    if pad < 0:
        raise ValueError(f"shape {shape} does not fit a {size}-byte header")
    return b"\x93NUMPY\x01\x00" + (size - 10).to_bytes(2, "little") + body + b" " * pad + b"\n"


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _load_torch(path: Path, key: str | None, name: str) -> np.ndarray:
    try:
        import torch
    except ImportError:
        raise InputError(
            f"{name} file {path}: reading .pt files needs PyTorch; install it with: pip install 'l2h[train]'"
        ) from None
    import pickle
    import warnings

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr: one line only
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise InputError(
            f"{name} file {path} holds pickled Python objects, which are never loaded "
            "(weights_only=True); save a tensor or a dict of tensors"
        ) from None
    except Exception as exc:
        raise InputError(f"{name} file {path} cannot be loaded as a tensor file: {exc}".splitlines()[0]) from None
    if isinstance(obj, dict):
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if not tensors:
            raise InputError(f"{name} file {path} holds a dict with no tensors")
        if key is None:
            if len(tensors) != 1:
                raise InputError(
                    f"{name} file {path} holds {len(tensors)} tensors ({', '.join(map(str, tensors))}); "
                    "choose one with --key"
                )
            key = next(iter(tensors))
        if key not in tensors:
            raise InputError(f"{name} file {path} has no tensor {key!r}; it holds {', '.join(map(str, tensors))}")
        obj = tensors[key]
    if not isinstance(obj, torch.Tensor):
        raise InputError(f"{name} file {path} holds a {type(obj).__name__}, not a tensor")
    obj = obj.detach().cpu()
    if obj.dtype == torch.bfloat16:
        obj = obj.float()
    return _check_dtype(obj.numpy(), path, name)


def _check_dtype(arr: np.ndarray, path: Path, name: str) -> np.ndarray:
    """Numbers only (:func:`l2h._validation.check_array`'s policy: bool, complex, strings refused)."""
    try:
        return check_array(arr, f"{name} file {path}", kind="real")
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc)) from None


def read_names(path: str | os.PathLike[str], *, name: str = "names") -> list[str]:
    """Read one name per line (a line ends at ``\\n`` only; blank trailing lines ignored; spaces and tabs
    around a name stripped).

    Parameters
    ----------
    path : str or path-like
        UTF-8 text (a byte-order mark is dropped).
    name : str
        What the file holds, for the messages.

    Returns
    -------
    list of str

    Raises
    ------
    InputError
        Not a readable regular UTF-8 file, or an empty line before the last name.
    """
    path = Path(path)
    check_input_file(path, name)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of the first name
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name} file {path} cannot be read as UTF-8 text: {exc}") from None
    lines = [line.strip(" \t") for line in text_lines(text)]  # a line ends at "\n" only
    while lines and not lines[-1]:
        lines.pop()
    for i, line in enumerate(lines, start=1):
        if not line:
            raise InputError(f"{name} file {path}, line {i}: empty name")
    return lines


def row_blocks(array: np.ndarray, rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """The rows of ``array`` as ``(start, block)`` pairs of at most ``rows`` rows.

    A read-only memory map (``np.load(..., mmap_mode="r")``) drops each block's pages from this
    process once the next block is asked for (the page cache keeps them), so the resident memory
    stays about one block whatever the file's size.

    Parameters
    ----------
    array : ndarray or numpy.memmap, shape (N, ...)
        The rows to read.
    rows : int
        Most rows per block (at least 1).

    Yields
    ------
    start : int
        Index of the block's first row.
    block : ndarray, shape (<= rows, ...)
        ``array[start : start + rows]`` in memory; a view of ``array`` when it is in memory, so
        read it, do not write to it.

    Examples
    --------
    >>> [(start, block.tolist()) for start, block in row_blocks(np.arange(5), 2)]
    [(0, [0, 1]), (2, [2, 3]), (4, [4])]
    """
    rows = max(1, int(rows))
    drop = _read_only_map(array)
    for start in range(0, array.shape[0], rows):
        yield start, np.asarray(array[start : start + rows])
        if drop is not None:
            _dont_need(drop)


def _read_only_map(array: np.ndarray) -> mmap.mmap | None:
    """The ``mmap`` under a read-only :class:`numpy.memmap` (None for anything else)."""
    if isinstance(array, np.memmap) and array.mode == "r":
        base = array.base
        while base is not None and not isinstance(base, mmap.mmap):
            base = getattr(base, "base", None)
        return base
    return None


def _dont_need(mm: mmap.mmap) -> None:
    # read-only file pages: dropping them from this process loses nothing (the page cache keeps them)
    if hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            mm.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):
            pass
