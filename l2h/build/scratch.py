"""Out-of-core builds: a bucket-ordered scratch copy of the logits, so that every read after the first
pass is sequential.

When the logits file is larger than the memory, the merges' row reads (the points of ``D_{G*}``, spread
over the whole file) become random reads, each one dragging a readahead window from the disk.  With a
scratch copy the first pass reads the file once, in big row chunks (up to 1 GiB, a sixteenth of the
available memory); after the scan of a chunk, which gives its rows' argmaxes, the chunk's rows are
appended to the scratch file sorted stably by argmax, and the original file's pages are dropped from
the page cache (the cache then holds the copy).  Three stages overlap: a thread reads chunk b + 1
while chunk b is scanned and another thread writes chunk b - 1, written back at once (``fdatasync``:
dirty pages piling up would stall the reads, and a memory cgroup's reclaim).

``D_c`` is then one contiguous run per chunk (a few dozen runs per cluster), which the merges read in
order, asking the kernel for exactly those runs one 64 MB piece ahead of use
(``posix_fadvise(WILLNEED)``), with the mapping's read-around switched off during the visits only
(passes that read the copy in row order, such as the empty clusters' columns, keep it and stream).

Why the trees are the same bit for bit: the build state is kept in the copy's row order (every
per-row array of the first pass is permuted with its chunk), and inside ``D_c`` ascending position in
the copy is ascending row index (chunks in row order, a stable sort inside each chunk).  So the
bucket order of the points, every visit, every sum and every decision are those of the in-memory
build; only the row numbers the kernels read through differ.

The copy is an unnamed file (``O_TMPFILE``, or created and unlinked at once): it disappears when the
build ends, whether it succeeds, fails or is interrupted (Ctrl-C, SIGTERM, even SIGKILL).  Its space is
reserved before the first write (``posix_fallocate``), so a full disk is one clear error up front.
"""

from __future__ import annotations

import errno
import mmap
import os
import tempfile
import threading
import typing
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from l2h import _system
from l2h._validation import L2HWarning
from l2h.build.inputs import kernel_dtype

__all__ = [
    "ScratchCopy",
    "auto_scratch_dir",
    "copy_bytes",
    "filesystem_type",
    "free_bytes",
    "resolve_scratch_dir",
]

ProgressFn = Callable[[str, int, int], None]
ScanFn = Callable[[np.ndarray, int], None]
ConvertFn = Callable[[np.ndarray, int], tuple[np.ndarray, int]]

MIN_CHUNK_BYTES = 64 << 20
MAX_CHUNK_BYTES = 1 << 30
_WRITE_BYTES = 32 << 20  # sorted rows are gathered and written this many bytes at a time
_WINDOW_BYTES = 64 << 20  # the merges ask for the next runs this far ahead of the visit
_MEMORY_FILESYSTEMS = {"tmpfs", "ramfs", "devtmpfs", "hugetlbfs"}


# ---------------------------------------------------------------------------------------------- memory, disk
def free_bytes(directory: str | os.PathLike[str]) -> int:
    """Bytes an unprivileged writer can still use in ``directory``'s filesystem.

    Parameters
    ----------
    directory : str or path-like
        An existing folder.
    """
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def filesystem_type(directory: str | os.PathLike[str]) -> str:
    """The type (``ext4``, ``tmpfs``...) of the filesystem holding ``directory`` ('' where unknown).

    Parameters
    ----------
    directory : str or path-like
        A folder (its real path is matched against ``/proc/self/mounts``).
    """
    path = os.path.realpath(directory)
    best, kind = "", ""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount = fields[1].replace("\\040", " ")
                if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
                    best, kind = mount, fields[2]
    except OSError:
        pass
    return kind


def copy_bytes(shape: tuple[int, int], dtype: np.dtype, input: str = "logits") -> int:
    """Size in bytes of the scratch copy (and of what the kernels read) for logits of this shape.

    Parameters
    ----------
    shape : (int, int)
        (N, K).
    dtype : dtype
        The input's dtype.
    input : {"logits", "probs", "log-probs"}
        What it holds.

    Examples
    --------
    >>> copy_bytes((1000, 10), np.float32), copy_bytes((1000, 10), np.float32, "probs")
    (40000, 80000)
    """
    return int(shape[0]) * int(shape[1]) * kernel_dtype(dtype, input).itemsize


def auto_scratch_dir(
    shape: tuple[int, int], dtype: np.dtype, input: str = "logits", candidates: Sequence[str | os.PathLike[str]] = ()
) -> tuple[Path | None, str]:
    """Where an automatic out-of-core build puts its copy: ``(folder, why)``.

    The folder is None when the logits fit in the available memory (no copy needed) or when no
    candidate folder (default: the system temp folder, ``$TMPDIR``) is a disk filesystem with room for
    the copy; ``why`` then says which (empty when the logits fit).

    Parameters
    ----------
    shape : (int, int)
        (N, K) of the logits.
    dtype : dtype
        Their dtype.
    input : {"logits", "probs", "log-probs"}
        What they hold (probabilities are copied as float64 logs).
    candidates : sequence of path-like
        Folders to try, in order (default: the system temp folder).

    Returns
    -------
    (Path or None, str)
        The folder and, when it is None although a copy was needed, the reason in one line.
    """
    need = copy_bytes(shape, dtype, input)
    avail = _system.available_memory() or 0  # 0: unknown, no copy
    if avail == 0 or need <= avail:
        return None, ""
    folders = [Path(c) for c in candidates] or [Path(tempfile.gettempdir())]
    tried = []
    for folder in folders:
        try:
            if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
                tried.append(f"{folder} (not a writable folder)")
                continue
            kind = filesystem_type(folder)
            if kind in _MEMORY_FILESYSTEMS:
                tried.append(f"{folder} ({kind}, in memory)")
                continue
            free = free_bytes(folder)
        except OSError as exc:
            tried.append(f"{folder} ({exc.strerror or exc})")
            continue
        if free >= need + _margin(need):
            return folder, ""
        tried.append(f"{folder} ({_gb(free)} free)")
    why = (
        f"the logits ({_gb(need)}) are larger than the available memory ({_gb(avail)}) but no folder has room for "
        f"a scratch copy: {'; '.join(tried)}; reading the file in place (slow random reads); "
        "free disk space or pass --scratch DIR (scratch_dir=)"
    )
    return None, why


def resolve_scratch_dir(
    scratch_dir: str | os.PathLike[str] | None,
    shape: tuple[int, ...],
    dtype: np.dtype,
    input: str = "logits",
    candidates: Sequence[str | os.PathLike[str]] = (),
) -> Path | None:
    """The folder of the out-of-core copy that ``scratch_dir`` asks for (None: read the input in place).

    Parameters
    ----------
    scratch_dir : str, path-like or None
        None, ``""`` or ``"none"``: no copy; ``"auto"``: :func:`auto_scratch_dir` (an
        :class:`~l2h.L2HWarning` says why when a copy is needed but no folder has room); else the folder.
    shape, dtype, input, candidates
        As in :func:`auto_scratch_dir` (an ``"auto"`` for an array that is not 2-D gives None).

    Returns
    -------
    Path or None

    Examples
    --------
    >>> resolve_scratch_dir("none", (10, 3), np.dtype("float32")) is None
    True
    >>> resolve_scratch_dir("/data/tmp", (10, 3), np.dtype("float32"))
    PosixPath('/data/tmp')
    """
    if scratch_dir is None or (isinstance(scratch_dir, str) and scratch_dir in ("none", "")):
        return None
    if not (isinstance(scratch_dir, str) and scratch_dir == "auto"):
        return Path(os.fspath(scratch_dir))
    if len(shape) != 2:
        return None  # the build names what is wrong with the array
    folder, why = auto_scratch_dir((int(shape[0]), int(shape[1])), dtype, input, candidates)
    if folder is None and why:
        warnings.warn(why, L2HWarning, stacklevel=2)
    return folder


def _margin(need: int) -> int:
    return min(1 << 30, max(16 << 20, need // 100))


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


# ---------------------------------------------------------------------------------------------- the copy
def _whole_file_map(arr: np.ndarray) -> tuple[str, int] | None:
    """``(path, byte offset)`` when ``arr`` is a C-contiguous memory map of a whole region of a file
    (what ``np.load(path, mmap_mode=...)`` returns), else None (slices and views are read as arrays)."""
    if not isinstance(arr, np.memmap) or not isinstance(arr.base, mmap.mmap) or not arr.flags.c_contiguous:
        return None
    name = getattr(arr, "filename", None)
    if not name:
        return None
    return str(name), int(getattr(arr, "offset", 0))


class ScratchCopy:
    """A bucket-ordered copy of the logits in an unnamed file of ``directory`` (see the module docstring).

    Use as a context manager: the file is closed (and so freed) on exit.  :meth:`fill` runs the first
    pass and returns the copy, memory-mapped, which the build reads from then on; :meth:`visit_windows`
    asks the kernel for the rows of a merge ahead of its visit.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        dtype: np.dtype | None = None,
        convert: ConvertFn | None = None,
        chunk_bytes: int | None = None,
    ):
        self.directory = Path(directory)
        self.dtype = dtype  # of the rows the kernels read (None: kernel_dtype of the source's)
        self.convert = convert
        if not self.directory.is_dir():
            raise ValueError(f"scratch folder {self.directory} is not an existing folder")
        self.chunk_bytes = chunk_bytes
        self._file: typing.IO[bytes] | None = None
        self.rows: np.ndarray | None = None
        self.n_clipped = 0
        self.bounds: np.ndarray = np.zeros(1, dtype=np.int64)  # first row of each chunk, then n
        self._advice = False

    def __enter__(self) -> ScratchCopy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the copy (the mapping handed out by :meth:`fill` keeps its pages until it is dropped)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    # ------------------------------------------------------------------------------------------ first pass
    def _open(self, nbytes: int) -> int:
        """A fresh unnamed file of ``nbytes`` reserved bytes in the folder; returns its descriptor."""
        self.close()
        where = self.directory
        try:
            free = free_bytes(where)
        except OSError as exc:
            raise _os_error(exc.errno, f"scratch folder {where}: {exc.strerror}") from None
        if free < nbytes + _margin(nbytes):
            raise _os_error(
                errno.ENOSPC,
                f"scratch folder {where} has {_gb(free)} free but the scratch copy of the logits needs "
                f"{_gb(nbytes)}; free space, pass another folder (--scratch DIR) or --scratch none",
            )
        try:
            self._file = tempfile.TemporaryFile(dir=where, prefix="l2h-scratch-")
        except OSError as exc:
            raise _os_error(
                exc.errno, f"scratch folder {where}: cannot create the scratch copy: {exc.strerror}"
            ) from None
        fd = self._file.fileno()
        try:
            os.posix_fallocate(fd, 0, max(1, nbytes))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                self.close()
                raise _os_error(
                    errno.ENOSPC,
                    f"scratch folder {where}: no space left for the scratch copy of the logits ({_gb(nbytes)})",
                ) from None
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                self.close()
                raise _os_error(exc.errno, f"scratch folder {where}: {exc.strerror}") from None
            os.ftruncate(fd, nbytes)
        return fd

    def fill(
        self,
        source: np.ndarray,
        scan: ScanFn,
        row_arrays: Sequence[np.ndarray],
        chunk_rows: int,
        progress: ProgressFn | None = None,
    ) -> np.ndarray:
        """The first pass: read ``source`` in chunks, ``scan(block, row0)`` each ``chunk_rows`` rows of
        it, then sort the chunk's rows stably by argmax (``row_arrays[0]``, filled by the scan), permute
        every array of ``row_arrays`` (per-row state) the same way and append the rows to the copy.

        :attr:`convert` ``(block, row0) -> (block, count)`` turns raw rows into the kernels' rows of
        :attr:`dtype` (counts add up in :attr:`n_clipped`); None: a plain cast.  Returns the copy,
        memory-mapped read-only, in the order the permuted arrays now describe."""
        n, k = source.shape
        dtype, convert = np.dtype(self.dtype or kernel_dtype(source.dtype)), self.convert
        row_bytes = k * dtype.itemsize
        nbytes = n * row_bytes
        fd = self._open(nbytes)
        budget = self.chunk_bytes or min(MAX_CHUNK_BYTES, max(MIN_CHUNK_BYTES, (_system.available_memory() or 0) // 16))
        big = max(chunk_rows, (budget // max(1, row_bytes * chunk_rows)) * chunk_rows)
        bounds = list(range(0, n, big)) + [n]
        self.bounds = np.asarray(bounds, dtype=np.int64)
        amax = row_arrays[0]
        self.n_clipped = 0
        piece = max(1, min(big, _WRITE_BYTES // row_bytes))
        wbuf = np.empty((piece, k), dtype=dtype)

        def write(block: np.ndarray, perm: np.ndarray, start: int) -> None:  # on the writer thread
            for w in range(0, perm.size, piece):
                take = perm[w : w + piece]
                out = wbuf[: take.size]
                np.take(block, take, axis=0, out=out, mode="clip")  # "raise" would buffer
                _pwrite_all(fd, out, (start + w) * row_bytes, self.directory)
            # Write back now (the pages stay cached, clean): dirty pages piling up would make the
            # reader's page allocations wait on writeback, and a memory cgroup reclaim stall on them.
            os.fdatasync(fd)

        # Three stages overlap: the reader thread reads chunk b + 1 while this thread scans chunk b and
        # the writer thread writes chunk b - 1 (sorted) into the copy.
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="l2h-scratch-write")
        writes: list[tuple[Future, int]] = []
        reader = _ChunkReader(source, bounds)

        def report(wait: bool) -> None:
            while writes and (wait or writes[0][0].done()):
                future, stop = writes.pop(0)
                future.result()
                if progress is not None:
                    progress("scratch", stop, n)

        try:
            for b, (start, stop, raw) in enumerate(reader):
                block = self._convert(raw, start, dtype, convert)
                for s in range(start, stop, chunk_rows):
                    scan(block[s - start : s - start + chunk_rows], s)
                    if progress is not None:
                        progress("scan", min(s + chunk_rows, stop), n)
                perm = np.argsort(amax[start:stop], kind="stable")
                for arr in row_arrays:
                    arr[start:stop] = arr[start:stop][perm]
                future = writer.submit(write, block, perm, start)
                writes.append((future, stop))
                reader.release(b, future)
                del block, raw
                report(wait=False)
            report(wait=True)
        finally:
            writer.shutdown(wait=True)  # an exception here: the writes already queued still finish
            reader.close()
        assert self._file is not None
        rows = np.memmap(self._file, dtype=dtype, mode="r", shape=(n, k))
        self._advice = hasattr(os, "posix_fadvise")
        self.rows = rows
        return rows

    def _convert(self, raw: np.ndarray, start: int, dtype: np.dtype, convert: ConvertFn | None) -> np.ndarray:
        if convert is None:
            return np.ascontiguousarray(raw, dtype=dtype)
        block, count = convert(raw, start)
        self.n_clipped += int(count)
        return np.ascontiguousarray(block, dtype=dtype)

    # ------------------------------------------------------------------------------------------ merges
    @staticmethod
    def runs(rows: np.ndarray) -> np.ndarray:
        """The maximal ranges ``[start, stop)`` of consecutive rows in ``rows`` (in their order)."""
        if rows.size == 0:
            return np.zeros((0, 2), dtype=np.int64)
        cut = np.flatnonzero(np.diff(rows) != 1) + 1
        starts = rows[np.r_[0, cut]]
        stops = rows[np.r_[cut - 1, rows.size - 1]] + 1
        return np.stack([starts, stops], axis=1)

    def visit_windows(self, rows: np.ndarray, visit: Callable[[int, int], None]) -> None:
        """Run ``visit(a, b)`` over consecutive pieces of a merge's points (``rows``: the row of the
        copy each one reads, in visit order), each piece's rows asked from the disk one piece ahead
        (``POSIX_FADV_WILLNEED`` on their runs: a cluster's points are one run per chunk)."""
        if not self._advice or self.rows is None or self._file is None:
            visit(0, rows.size)
            return
        row_bytes = self.rows.shape[1] * self.rows.dtype.itemsize
        step = max(1, _WINDOW_BYTES // row_bytes)
        fd = self._file.fileno()

        def ask(a: int) -> None:
            for lo, hi in self.runs(rows[a : a + step]):
                os.posix_fadvise(fd, int(lo) * row_bytes, int(hi - lo) * row_bytes, os.POSIX_FADV_WILLNEED)

        # No read-around while visiting: a fault on a page evicted since it was asked for would
        # otherwise read a whole readahead window (8 MB here) around it.  Other passes over the copy
        # (in row order) keep the default, which streams.
        mm = self.rows.base if isinstance(self.rows.base, mmap.mmap) else None
        _madvise(mm, "MADV_RANDOM")
        try:
            ask(0)
            for a in range(0, rows.size, step):
                if a + step < rows.size:
                    ask(a + step)
                visit(a, min(rows.size, a + step))
        finally:
            _madvise(mm, "MADV_NORMAL")


def _madvise(mm: mmap.mmap | None, advice: str) -> None:
    if mm is not None and hasattr(mm, "madvise") and hasattr(mmap, advice):
        try:
            mm.madvise(getattr(mmap, advice))
        except (OSError, ValueError):
            pass


def _os_error(code: int | None, message: str) -> OSError:
    """An ``OSError`` with ``errno`` set whose text is ``message`` alone (no ``[Errno N]`` prefix)."""
    exc = OSError(message)
    exc.errno = code
    return exc


def _pwrite_all(fd: int, block: np.ndarray, offset: int, where: Path) -> None:
    view = memoryview(block).cast("B")  # type: ignore[arg-type]
    done = 0
    while done < view.nbytes:
        try:
            done += os.pwrite(fd, view[done:], offset + done)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise _os_error(
                    exc.errno, f"scratch folder {where}: no space left while writing the scratch copy"
                ) from None
            raise _os_error(
                exc.errno, f"scratch folder {where}: writing the scratch copy failed: {exc.strerror}"
            ) from None


class _ChunkReader:
    """The source's row chunks ``bounds[b]:bounds[b + 1]`` in order.

    A whole-file memory map is read with ``pread`` into two reused buffers, the next chunk on a
    background thread while the current one is scanned, and each chunk's pages are dropped from the
    page cache once copied (``POSIX_FADV_DONTNEED``).  Any other array is sliced."""

    def __init__(self, source: np.ndarray, bounds: Sequence[int]):
        self.source = source
        self.bounds = list(bounds)
        self.row_bytes = source.shape[1] * source.dtype.itemsize
        where = _whole_file_map(source)
        self.fd: int | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._users: dict[int, Future] = {}
        if where is not None and hasattr(os, "preadv"):
            try:
                self.fd = os.open(where[0], os.O_RDONLY)
            except OSError:
                self.fd = None
        if self.fd is not None:
            assert where is not None
            self.offset = where[1]
            big = max(b - a for a, b in zip(self.bounds[:-1], self.bounds[1:], strict=False))
            n_buf = min(3, len(self.bounds) - 1)  # read b + 1 | scan b | write b - 1
            self.buffers = [np.empty((big, source.shape[1]), dtype=source.dtype) for _ in range(n_buf)]
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="l2h-scratch-read")

    def __iter__(self):
        n_chunks = len(self.bounds) - 1
        if self.fd is None:
            for b in range(n_chunks):
                yield self.bounds[b], self.bounds[b + 1], self.source[self.bounds[b] : self.bounds[b + 1]]
            return
        pending: Future | None = self._submit(0)
        for b in range(n_chunks):
            assert pending is not None
            block = pending.result()
            if b + 1 < n_chunks:
                user = self._users.pop(b + 1 - len(self.buffers), None)
                if user is not None:
                    user.result()  # the buffer's previous chunk is written: refill it
                pending = self._submit(b + 1)
            yield self.bounds[b], self.bounds[b + 1], block

    def _submit(self, b: int) -> Future:
        assert self._pool is not None
        started = threading.Event()
        future = self._pool.submit(self._read, b, started)
        started.wait()  # the reader holds the GIL until it is inside pread: let it get there first
        return future

    def _read(self, b: int, started: threading.Event) -> np.ndarray:
        assert self.fd is not None
        a, z = self.bounds[b], self.bounds[b + 1]
        out = self.buffers[b % len(self.buffers)][: z - a]
        view = memoryview(out).cast("B")  # type: ignore[arg-type]
        pos = self.offset + a * self.row_bytes
        done = 0
        started.set()
        while done < view.nbytes:
            got = os.preadv(self.fd, [view[done : done + (1 << 30)]], pos + done)
            if got <= 0:
                raise OSError(errno.EIO, f"logits file ended early at byte {pos + done}")
            done += got
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self.fd, pos, view.nbytes, os.POSIX_FADV_DONTNEED)
        return out

    def release(self, b: int, done: Future) -> None:
        """Chunk ``b``'s buffer may be refilled once ``done`` has finished."""
        self._users[b] = done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
