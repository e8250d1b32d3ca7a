"""Sharded inputs: find the row blocks of a logits (or labels) input from file headers only.

An input is one ``.npy`` file, a folder of ``.npy`` shards (row blocks, in file-name order), a Zarr
array (``.zarr``), a list of those, an in-memory array or a ``dask.array``.  Paths may be fsspec URLs
(``s3://``, ``gs://``, ``file://`` ...): the driver reads only the headers (shape, dtype) and every
worker reads its own rows from the same address, so every worker must be able to read it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from l2h._system import within_deadline
from l2h._validation import InputError

__all__ = ["KINDS", "NETWORK_TIMEOUT_S", "Shard", "open_shards", "split_shards", "storage_options", "total_rows"]

KINDS = ("npy", "zarr", "array", "delayed")
#: Seconds a remote (fsspec) read may wait to connect, and then for each piece of data.
NETWORK_TIMEOUT_S = 10.0
_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<num>\d+)\.npy$")


@dataclass(frozen=True)
class Shard:
    """One block of consecutive rows of a sharded input.

    Attributes
    ----------
    source : str
        Path or fsspec URL of the file or Zarr array ("<memory>" or "<dask>" for in-memory inputs).
    kind : {"npy", "zarr", "array", "delayed"}
        How :meth:`read` gets the rows.
    rows : int
        Rows in this shard.
    cols : int or None
        Columns (None for a 1-D input such as labels).
    dtype : str
        NumPy dtype string (e.g. ``"<f4"``).
    start : int
        First row of the shard inside ``source``.
    offset : int
        First row of the shard in the whole (concatenated) input.
    timeout : float
        Seconds a remote read may wait to connect, then for each piece of data.
    """

    source: str
    kind: str
    rows: int
    cols: int | None
    dtype: str
    start: int = 0
    offset: int = 0
    data: object = field(default=None, repr=False, compare=False)
    timeout: float = field(default=NETWORK_TIMEOUT_S, repr=False, compare=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.rows,) if self.cols is None else (self.rows, self.cols)

    def read(self) -> np.ndarray:
        """The shard's rows as a NumPy array (a memory map for local ``.npy`` files).

        Runs on the worker that holds the shard; raises ``InputError`` (one line) when the source
        cannot be read or no longer matches the header seen by the driver.
        """
        try:
            arr = self._read()
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - a worker-side read failure becomes one line
            raise InputError(f"cannot read shard {self.source}: {_reason(exc)}") from None
        if arr.shape != self.shape or arr.dtype != np.dtype(self.dtype):
            raise InputError(
                f"shard {self.source} changed since it was opened: rows {self.start}..{self.start + self.rows} "
                f"have shape {arr.shape} {arr.dtype}, expected {self.shape} {np.dtype(self.dtype)}"
            )
        return arr

    def _read(self) -> np.ndarray:
        stop = self.start + self.rows
        if self.kind == "array":
            return np.asarray(self.data)
        if self.kind == "delayed":
            import dask

            (block,) = dask.compute(self.data, scheduler="sync")
            return np.asarray(block)
        if self.kind == "zarr":
            return np.asarray(_open_zarr(self.source, timeout=self.timeout)[self.start : stop])
        if _is_url(self.source):
            return _read_npy_rows(self.source, self.start, stop, self.timeout)
        local = self.source[len("file://") :] if self.source.startswith("file://") else self.source
        return np.load(local, mmap_mode="r", allow_pickle=False)[self.start : stop]


# ---------------------------------------------------------------------------------------------- discovery
def open_shards(
    source: object, *, ndim: int = 2, name: str = "logits", key: str | None = None, timeout: float | None = None
) -> list[Shard]:
    """Find the shards of a sharded input, reading only headers (never the data).

    Parameters
    ----------
    source : str, Path, list of them, ndarray or dask.array
        One ``.npy`` file; a folder of ``.npy`` shards (row blocks, concatenated in file-name order);
        a Zarr array (a ``.zarr`` folder or URL; ``key`` names an array inside a Zarr group); a list
        of files; an in-memory array or a ``dask.array`` (one shard per row block).  Paths may be
        fsspec URLs that every worker can read.
    ndim : {1, 2}
        2 for logits (all shards must have the same column count), 1 for labels / assignments.
    name : str
        What the input is, for the error messages.
    key : str, optional
        Array name inside a Zarr group.
    timeout : float, optional
        Seconds a remote read (``http(s)://``, ``s3://``) may wait to connect, then for each piece of
        data, here and on the workers (default ``NETWORK_TIMEOUT_S``, 10 s).

    Returns
    -------
    list of Shard
        In row order, with ``offset`` the first row of each shard in the concatenated input.
        Empty shards (0 rows) are kept.

    Raises
    ------
    InputError
        One line naming the shard: missing or unreadable path, a file that is not ``.npy``/Zarr,
        wrong dimensionality, a column count that differs from the first shard's, mixed dtypes,
        a gap in numbered shard names (``part-0001.npy``, ``part-0003.npy``), no rows at all.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> np.save(os.path.join(folder, "part-0.npy"), np.zeros((3, 4), np.float32))
    >>> np.save(os.path.join(folder, "part-1.npy"), np.zeros((2, 4), np.float32))
    >>> [(s.rows, s.offset) for s in open_shards(folder)]
    [(3, 0), (2, 3)]
    """
    if ndim not in (1, 2):
        raise ValueError(f"ndim must be 1 or 2; got {ndim}")
    wait = NETWORK_TIMEOUT_S if timeout is None else float(timeout)
    if not wait > 0:
        raise ValueError(f"timeout must be positive; got {timeout}")
    if _is_dask_array(source):
        shards = _dask_shards(source, ndim, name)
    elif isinstance(source, np.ndarray) or hasattr(source, "__array__") and not isinstance(source, (str, Path)):
        arr = np.asarray(source)
        _check_ndim(arr.shape, ndim, "<memory>", name)
        shards = [Shard("<memory>", "array", arr.shape[0], _cols(arr.shape), arr.dtype.str, data=arr)]
    elif isinstance(source, (list, tuple)):
        if not source:
            raise InputError(f"{name}: the list of shards is empty")
        shards = []
        for item in source:
            if not isinstance(item, (str, os.PathLike)):
                raise TypeError(f"{name}: shards must be paths or URLs; got {type(item).__name__}")
            shards.extend(_open_path(os.fspath(item), ndim, name, key, in_list=True, timeout=wait))
    elif isinstance(source, (str, os.PathLike)):
        shards = _open_path(os.fspath(source), ndim, name, key, in_list=False, timeout=wait)
    else:
        raise TypeError(
            f"{name} must be a path, a list of paths, an array or a dask.array; got {type(source).__name__}"
        )
    return [replace(shard, timeout=wait) for shard in _check_and_place(shards, name)]


def split_shards(shards: Sequence[Shard], max_rows: int) -> list[Shard]:
    """Cut shards longer than ``max_rows`` into consecutive row ranges (empty shards are dropped).

    Lets one big file spread over several workers; the concatenated rows are unchanged.  Shards of
    a dask array (kind ``"delayed"``) are kept whole.

    Parameters
    ----------
    shards : sequence of Shard
        The shards of one input, as :func:`open_shards` returns them.
    max_rows : int
        Largest number of rows a shard may keep (positive).

    Returns
    -------
    list of Shard
        Shards of at most ``max_rows`` rows each (except delayed ones), in row order.

    Raises
    ------
    ValueError
        If ``max_rows`` is smaller than 1.

    Examples
    --------
    >>> import numpy as np
    >>> shards = open_shards(np.zeros((10, 3)))
    >>> [shard.rows for shard in split_shards(shards, 4)]
    [3, 3, 4]
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be positive; got {max_rows}")
    out = []
    for shard in shards:
        if shard.rows == 0:
            continue
        if shard.rows <= max_rows or shard.kind == "delayed":
            out.append(shard)
            continue
        n_pieces = math.ceil(shard.rows / max_rows)
        for i in range(n_pieces):
            lo, hi = i * shard.rows // n_pieces, (i + 1) * shard.rows // n_pieces
            data = np.asarray(shard.data)[lo:hi] if shard.kind == "array" else None
            out.append(replace(shard, rows=hi - lo, start=shard.start + lo, offset=shard.offset + lo, data=data))
    return out


def total_rows(shards: Sequence[Shard]) -> int:
    """Total number of rows of ``shards`` (the length of the concatenated input).

    Parameters
    ----------
    shards : sequence of Shard
        The shards of one input.

    Returns
    -------
    int
        The sum of the shards' ``rows``.

    Examples
    --------
    >>> import numpy as np
    >>> total_rows(open_shards(np.zeros((10, 3))))
    10
    """
    return sum(s.rows for s in shards)


# ---------------------------------------------------------------------------------------------- helpers
def _reason(exc: BaseException, timeout: float | None = None) -> str:
    if isinstance(exc, TimeoutError) and timeout is not None:
        return f"no answer within {timeout:g} s (raise it with --timeout)"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _cols(shape: tuple[int, ...]) -> int | None:
    return int(shape[1]) if len(shape) == 2 else None


def _check_ndim(shape: tuple[int, ...], ndim: int, where: str, name: str) -> None:
    if len(shape) != ndim:
        want = "2-D (n_points, n_clusters)" if ndim == 2 else "1-D (n_points,)"
        raise InputError(f"{name} shard {where} must be {want}; got shape {tuple(shape)}")


def storage_options(url: str, timeout: float) -> dict[str, Any]:
    """fsspec options that bound a remote read of ``url``: connect and read timeouts of ``timeout`` s.

    HTTP(S) (aiohttp) and S3 (botocore) get both; other protocols keep their own defaults.

    Parameters
    ----------
    url : str
        The path or URL to read.
    timeout : float
        Seconds to wait for a connection, then for each piece of data.

    Returns
    -------
    dict
        Keyword arguments for ``fsspec.open`` / ``url_to_fs`` (empty for local paths).

    Examples
    --------
    >>> storage_options("s3://bucket/x.npy", 5.0)["config_kwargs"]
    {'connect_timeout': 5.0, 'read_timeout': 5.0}
    >>> storage_options("/local/x.npy", 5.0)
    {}
    """
    protocol = url.split("://", 1)[0].lower() if _is_url(url) else ""
    if protocol in ("http", "https"):
        try:
            import aiohttp
        except ImportError:  # fsspec says what HTTP needs
            return {}

        limits = aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout, sock_read=timeout)
        return {"client_kwargs": {"timeout": limits}}
    if protocol in ("s3", "s3a"):
        return {"config_kwargs": {"connect_timeout": timeout, "read_timeout": timeout}}
    return {}


def _fs(path: str, timeout: float = NETWORK_TIMEOUT_S):
    try:
        import fsspec
    except ImportError:
        if _is_url(path):
            raise InputError(f"reading {path} needs fsspec: {INSTALL_HINT}") from None
        return None, path
    fs, inner = fsspec.core.url_to_fs(path, **storage_options(path, timeout))
    return fs, inner


def _open_path(path: str, ndim: int, name: str, key: str | None, in_list: bool, timeout: float) -> list[Shard]:
    fs, inner = _fs(path, timeout)

    def probe() -> tuple[bool, bool]:
        if fs is None:
            return os.path.exists(inner), os.path.isdir(inner)
        return fs.exists(inner), fs.isdir(inner)

    try:  # the first contact with a remote server: all of it within one timeout
        exists, is_dir = within_deadline(probe, timeout) if _is_url(path) else probe()
    except Exception as exc:  # noqa: BLE001 - network or permission errors become one line
        raise InputError(f"cannot read {name} {path}: {_reason(exc, timeout)}") from None
    if not exists:
        if os.path.islink(path):
            raise InputError(f"{name} shard {path} is a broken link")
        what = "shard" if in_list else "input"
        raise InputError(f"{name} {what} not found: {path}")
    if _looks_like_zarr(fs, inner, path, is_dir):
        return [_zarr_shard(path, ndim, name, key, timeout)]
    if is_dir:
        if in_list:
            raise InputError(f"{name} shard {path} is a folder; list .npy files or give the folder alone")
        return _folder_shards(fs, inner, path, ndim, name, timeout)
    return [_npy_shard(fs, inner, path, ndim, name, timeout)]


def _looks_like_zarr(fs, inner: str, path: str, is_dir: bool) -> bool:
    if path.rstrip("/").endswith(".zarr"):
        return True
    if not is_dir:
        return False
    for meta in ("zarr.json", ".zarray", ".zgroup"):
        probe = inner.rstrip("/") + "/" + meta
        if fs.exists(probe) if fs is not None else os.path.exists(probe):
            return True
    return False


def _folder_shards(fs, inner: str, path: str, ndim: int, name: str, timeout: float) -> list[Shard]:
    try:
        if fs is not None:
            entries = [e if isinstance(e, str) else e["name"] for e in fs.ls(inner, detail=False)]
        else:
            entries = [os.path.join(inner, e) for e in os.listdir(inner)]
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot list {name} folder {path}: {_reason(exc, timeout)}") from None
    names = sorted(e.rstrip("/").rsplit("/", 1)[-1] for e in entries)
    npys = [n for n in names if n.endswith(".npy") and not n.startswith(".")]
    others = [n for n in names if not n.endswith(".npy") and not n.startswith(".")]
    if not npys:
        listed = f" (it holds {_some(others)})" if others else ""
        raise InputError(f"{name} folder {path} holds no .npy shards{listed}")
    if others:
        from l2h._validation import warn

        warn(f"{name} folder {path}: {_some(others)} {'is' if len(others) == 1 else 'are'} not .npy, ignored")
    _check_numbering(npys, path, name)
    base = path.rstrip("/")
    shards = []
    for file_name in npys:
        full = base + "/" + file_name
        f_fs, f_inner = _fs(full, timeout)
        if not (f_fs.exists(f_inner) if f_fs is not None else os.path.exists(f_inner)):
            raise InputError(f"{name} shard {full} is missing (a broken link?)")
        shards.append(_npy_shard(f_fs, f_inner, full, ndim, name, timeout))
    return shards


def _some(names: list[str], shown: int = 3) -> str:
    from l2h.text import printable

    listed = ", ".join(printable(n) for n in names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _check_numbering(npys: list[str], path: str, name: str) -> None:
    """Numbered shards (``part-0000.npy``, ``part-0001.npy``...) must not skip a number."""
    matches = [_NUMBERED.match(n) for n in npys]
    if len(npys) < 2 or not all(matches):
        return
    prefixes = {m.group("prefix") for m in matches}  # type: ignore[union-attr]
    widths = {len(m.group("num")) for m in matches}  # type: ignore[union-attr]
    if len(prefixes) != 1 or len(widths) != 1:
        return
    numbers = [int(m.group("num")) for m in matches]  # type: ignore[union-attr]
    for before, after, name_before, name_after in zip(numbers, numbers[1:], npys, npys[1:], strict=False):
        if after != before + 1:
            width = widths.pop()
            missing = f"{matches[0].group('prefix')}{before + 1:0{width}d}.npy"  # type: ignore[union-attr]
            raise InputError(
                f"{name} folder {path}: shard {missing} is missing (between {name_before} and {name_after})"
            )


def _npy_shard(fs, inner: str, path: str, ndim: int, name: str, timeout: float = NETWORK_TIMEOUT_S) -> Shard:
    try:
        if fs is not None:
            with fs.open(inner, "rb") as fh:
                shape, fortran, dtype, _ = _npy_header(fh)
        else:
            with open(inner, "rb") as fh:
                shape, fortran, dtype, _ = _npy_header(fh)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read {name} shard {path}: {_reason(exc, timeout)}") from None
    _check_ndim(shape, ndim, path, name)
    if fortran and _is_url(path) and len(shape) == 2 and shape[0] > 1:
        raise InputError(f"{name} shard {path} is stored in Fortran order; remote shards must be C order")
    return Shard(path, "npy", int(shape[0]), _cols(shape), dtype.str)


def _npy_header(fh) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    from numpy.lib import format as npy_format

    try:
        version = npy_format.read_magic(fh)
    except ValueError:
        raise InputError(f"{getattr(fh, 'name', 'file')} is not a .npy file") from None
    if version == (1, 0):
        shape, fortran, dtype = npy_format.read_array_header_1_0(fh)
    else:
        shape, fortran, dtype = npy_format.read_array_header_2_0(fh)
    if dtype.hasobject:
        raise InputError(f"{getattr(fh, 'name', 'file')} holds Python objects; a numeric array is needed")
    return tuple(shape), fortran, dtype, fh.tell()


def _read_npy_rows(url: str, start: int, stop: int, timeout: float = NETWORK_TIMEOUT_S) -> np.ndarray:
    """Rows ``start:stop`` of a C-order remote ``.npy`` (one ranged read)."""
    import fsspec

    with fsspec.open(url, "rb", **storage_options(url, timeout)) as fh:
        shape, fortran, dtype, data_start = _npy_header(fh)
        row_bytes = dtype.itemsize * (int(np.prod(shape[1:])) if len(shape) > 1 else 1)
        fh.seek(data_start + start * row_bytes)
        buf = fh.read((stop - start) * row_bytes)
    arr = np.frombuffer(buf, dtype=dtype).reshape((stop - start,) + tuple(shape[1:]))
    return arr


def _open_zarr(path: str, key: str | None = None, timeout: float = NETWORK_TIMEOUT_S) -> Any:
    try:
        import zarr
    except ImportError:
        raise InputError(f"reading Zarr input {path} needs zarr: {INSTALL_HINT}") from None
    options = storage_options(path, timeout)
    node: Any = zarr.open(path, mode="r", storage_options=options) if options else zarr.open(path, mode="r")
    if key is not None:
        node = node[key]
    return node


def _zarr_shard(path: str, ndim: int, name: str, key: str | None, timeout: float = NETWORK_TIMEOUT_S) -> Shard:
    try:
        node = _open_zarr(path, key, timeout)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot open {name} Zarr array {path}: {_reason(exc)}") from None
    if not hasattr(node, "shape") or not hasattr(node, "dtype"):
        arrays = sorted(k for k, _ in node.arrays()) if hasattr(node, "arrays") else []
        raise InputError(f"{name} {path} is a Zarr group; name its array with --key (one of: {', '.join(arrays)})")
    source = path if key is None else path.rstrip("/") + "/" + key
    _check_ndim(tuple(node.shape), ndim, source, name)
    return Shard(source, "zarr", int(node.shape[0]), _cols(tuple(node.shape)), np.dtype(node.dtype).str)


def _is_dask_array(obj: object) -> bool:
    return type(obj).__module__.startswith("dask.array") and hasattr(obj, "to_delayed")


def _dask_shards(arr, ndim: int, name: str) -> list[Shard]:
    _check_ndim(tuple(arr.shape), ndim, "<dask>", name)
    if any(math.isnan(c) for c in arr.shape):
        raise InputError(f"{name}: a dask.array with unknown chunk sizes; call compute_chunk_sizes() first")
    if ndim == 2 and len(arr.chunks[1]) > 1:
        arr = arr.rechunk({1: -1})
    blocks = arr.to_delayed().ravel()
    shards = []
    for block, rows in zip(blocks, arr.chunks[0], strict=True):
        shards.append(
            Shard("<dask>", "delayed", int(rows), _cols(tuple(arr.shape)), np.dtype(arr.dtype).str, data=block)
        )
    return shards


def _check_and_place(shards: list[Shard], name: str) -> list[Shard]:
    first = shards[0]
    for shard in shards[1:]:
        if shard.cols != first.cols:
            raise InputError(
                f"{name} shard {shard.source} has {shard.cols} columns; {first.source} has {first.cols} "
                "(every shard must have the same columns)"
            )
    for shard in shards:
        kind = np.dtype(shard.dtype).kind
        if kind not in "fiu" or np.dtype(shard.dtype).itemsize > 8:
            raise InputError(
                f"{name} shard {shard.source} has dtype {np.dtype(shard.dtype)}; a real numeric dtype is needed"
            )
    for shard in shards[1:]:
        if np.dtype(shard.dtype) != np.dtype(first.dtype):
            raise InputError(
                f"{name} shards have mixed dtypes: {first.source} is {np.dtype(first.dtype)}, "
                f"{shard.source} is {np.dtype(shard.dtype)} (convert them to one dtype)"
            )
    placed, offset = [], 0
    for shard in shards:
        placed.append(replace(shard, offset=offset))
        offset += shard.rows
    return placed


INSTALL_HINT = 'install the Dask extra: pip install "l2h[dask]"'
