"""Reading input arrays and name lists: ``.npy``, ``.npz``, CSV/TSV/text and ``.pt`` files.

Every reader checks the file first (:func:`check_input_file`: it exists, is a regular file, is
readable), never unpickles anything, and reports a bad file with one :class:`~l2h.InputError` line
that names it.  Arrays pass :func:`l2h._validation.check_array`'s dtype policy.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np

from l2h._validation import InputError, check_array

__all__ = ["ARRAY_SUFFIXES", "InputError", "check_input_file", "load_array", "read_names"]

ARRAY_SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".txt", ".pt", ".pth")


def check_input_file(path: str | os.PathLike[str], name: str = "input") -> os.stat_result:
    """Check that ``path`` is an existing, readable regular file before anything reads it.

    A FIFO, device or socket is refused up front (reading one could block forever), as is a
    directory; a symlink loop and a dangling symlink are told apart from a missing file.

    Returns
    -------
    os.stat_result
        The file's status (its size is used by the streaming readers).

    Raises
    ------
    InputError
        One line naming ``name`` and ``path``.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(f"{name} file {path} is a dangling symlink (its target does not exist)") from None
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
    torch and are read with ``weights_only=True``.  Errors are :class:`InputError` with one line that
    names the file.
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


def _load_text(path: Path, name: str) -> np.ndarray:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name} file {path} cannot be read as text: {exc}") from None
    rows: list[list[float]] = []
    width = None
    header_allowed = True  # the first non-blank, non-comment line may be a header
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        cells = [c.strip() for c in (stripped.split(delimiter) if delimiter in stripped else stripped.split())]
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if header_allowed:
                header_allowed = False
                continue
            column = next(i for i, c in enumerate(cells, start=1) if not _is_float(c))
            raise InputError(
                f"{name} file {path}, line {lineno}, column {column}: non-numeric cell {cells[column - 1]!r}"
            ) from None
        header_allowed = False
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise InputError(f"{name} file {path}, line {lineno}: expected {width} columns, found {len(values)}")
        rows.append(values)
    if not rows:
        return np.empty((0, 0))
    return np.asarray(rows, dtype=np.float64)


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
    """Read one name per line (blank trailing lines ignored; surrounding whitespace stripped)."""
    path = Path(path)
    check_input_file(path, name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name} file {path} cannot be read as UTF-8 text: {exc}") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    for i, line in enumerate(lines, start=1):
        if not line:
            raise InputError(f"{name} file {path}, line {i}: empty name")
    return lines
