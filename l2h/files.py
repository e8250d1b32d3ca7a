"""Writing output files safely: atomic single files and all-or-nothing sets of files.

:class:`OutputSet` is the guard every command puts around its outputs.  On entry it checks, before
any computation, that each output can be written and that no output is one of the command's inputs
or another output (same path, a symlink to it, or a hard link of it).  Inside the ``with`` block the
command stages its files (temporary files in the outputs' own folders); on a normal exit they are
all renamed into place, and on an exception they are all removed, so an existing file is either
left untouched or replaced by a complete new one, and a set of outputs is written whole or not at all.

:func:`write_atomic` and :func:`save_npy_atomic` write one file the same way (temporary file, then an
atomic rename).

Temporary files and backups carry the writer's process id (``.NAME.PID-XXXX.tmpSUFFIX``,
``.NAME.PID-XXXX.bak``): a run killed with SIGKILL cannot clean up, so the next run that writes the
same output removes the ones whose process is gone (:func:`sweep_stale_siblings`).
"""

from __future__ import annotations

import errno
import io
import os
import re
import secrets
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from l2h._validation import InputError

PathLike = str | os.PathLike[str]
# One output label (e.g. "--out") names a file or, for a folder of outputs, every file it may write.
PathSpec = PathLike | Iterable[PathLike] | None

__all__ = ["OutputSet", "check_output_path", "npy_bytes", "save_npy_atomic", "sweep_stale_siblings", "write_atomic"]


def _folder_of(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


# ---------------------------------------------------------------------------------------------- single files
def write_atomic(path: PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename.

    Errors (a missing or read-only folder, a full disk) are :class:`~l2h.InputError` naming ``path``,
    never the temporary file, and leave no temporary file behind.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (replaced if it exists).
    data : str or bytes
        The content; text is encoded as UTF-8.

    Raises
    ------
    InputError
        When the folder is missing or not writable, ``path`` is a directory, or the disk is full.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_atomic(folder / "a.txt", "hello\\n")
    >>> (folder / "a.txt").read_text()
    'hello\\n'
    """
    path = Path(path)
    if not _folder_of(path).is_dir():
        raise InputError(f"output folder does not exist: {_folder_of(path)}")
    with OutputSet(outputs={"output": path}) as outputs:
        outputs.write_bytes(path, data.encode("utf-8") if isinstance(data, str) else data)


def save_npy_atomic(path: PathLike, array: ArrayLike) -> None:
    """``np.save`` (no pickles) through :func:`write_atomic`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npy`` file to write.
    array : ArrayLike
        The array to save (object arrays are not allowed).

    Raises
    ------
    InputError
        When the folder is missing or not writable, or the disk is full (naming ``path``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_npy_atomic(pathlib.Path(tmp, "a.npy"), [1, 2, 3])
    ...     np.load(pathlib.Path(tmp, "a.npy")).tolist()
    [1, 2, 3]
    """
    write_atomic(path, npy_bytes(array))


def npy_bytes(array: ArrayLike) -> bytes:
    """The bytes ``np.save`` writes for ``array`` (no pickles).

    Parameters
    ----------
    array : ArrayLike
        The array (object arrays are not allowed).

    Returns
    -------
    bytes

    Examples
    --------
    >>> npy_bytes([1, 2])[:6]
    b'\\x93NUMPY'
    """
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _output_mode(path: Path) -> int:
    """The mode a plain ``open(path, "w")`` would leave: an existing file's own, else ``0o666 & ~umask``."""
    try:
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode):
            return stat.S_IMODE(st.st_mode)
    except OSError:
        pass
    # The umask can only be read by setting it; 0o077 meanwhile keeps another thread's new files private.
    mask = os.umask(0o077)
    os.umask(mask)
    return 0o666 & ~mask


def check_output_path(path: PathLike, *, name: str = "output") -> None:
    """Fail early (before any work) when ``path`` cannot receive a file.

    Refused: a missing or read-only folder, a directory, FIFO or other non-regular file in its
    place, or a symlink loop.

    Parameters
    ----------
    path : str or os.PathLike
        The output file.
    name : str, default "output"
        What the output is (e.g. ``"--out"``); the error message names it.

    Raises
    ------
    InputError
        One line naming ``name`` and ``path``.

    Examples
    --------
    >>> check_output_path("/no/such/folder/tree.nwk", name="--out")
    Traceback (most recent call last):
        ...
    l2h._validation.InputError: --out folder does not exist: /no/such/folder
    """
    _Target.check(name, Path(path))


# ---------------------------------------------------------------------------------------------- the guard
def describe_file_type(mode: int) -> str:
    """What a non-regular file is, for messages: "a directory", "a FIFO (named pipe)", "a device"...

    Parameters
    ----------
    mode : int
        The file's ``st_mode`` (from :func:`os.stat`).

    Returns
    -------
    str
        "a directory", "a FIFO (named pipe)", "a socket", "a device" or "not a regular file".

    Examples
    --------
    >>> import stat
    >>> describe_file_type(stat.S_IFIFO)
    'a FIFO (named pipe)'
    """
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


class _Target:
    """One output path, checked: where it really goes and what is there now."""

    __slots__ = ("label", "path", "dest", "stat", "created_folder")

    def __init__(self, label: str, path: Path, dest: Path, st: os.stat_result | None) -> None:
        self.label = label
        self.path = path  # as the user gave it (messages)
        self.dest = dest  # symlinks resolved: where the file is written
        self.stat = st  # the existing file's stat, or None
        self.created_folder = False

    @classmethod
    def check(cls, label: str, path: Path, *, may_create_folder: bool = False) -> _Target:
        try:
            st: os.stat_result | None = os.stat(path)  # follows symlinks
        except FileNotFoundError:
            st = None
        except NotADirectoryError:
            raise InputError(f"{label} {path}: a part of the path is not a folder") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InputError(f"{label} {path}: symlink loop") from None
            raise InputError(f"{label} {path} cannot be checked: {_why(exc)}") from None
        if st is not None and not stat.S_ISREG(st.st_mode):
            what = describe_file_type(st.st_mode)
            hint = "; expected a file path" if what == "a directory" else "; expected a regular file"
            raise InputError(f"{label} {path} is {what}{hint}")
        dest = Path(os.path.realpath(path))
        folder = dest.parent
        if not folder.is_dir():
            if may_create_folder and folder.parent.is_dir() and not os.path.lexists(folder):
                _check_writable(label, folder.parent)
                return cls(label, path, dest, st)
            shown = _folder_of(path)
            why = "is not a folder" if os.path.lexists(shown) else "does not exist"
            raise InputError(f"{label} folder {why}: {shown}")
        _check_writable(label, folder, _folder_of(path))
        return cls(label, path, dest, st)


def _check_writable(label: str, folder: Path, shown: Path | None = None) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only_fs(folder) else "no permission"
        raise InputError(f"{label} folder is not writable ({reason}): {shown or folder}")


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def _flatten(spec: PathSpec) -> list[Path]:
    if spec is None:
        return []
    if isinstance(spec, (str, os.PathLike)):
        return [Path(spec)]
    return [Path(p) for p in spec if p is not None]


class _Staged:
    __slots__ = ("target", "tmp", "remove", "backup", "committed")

    def __init__(self, target: _Target, tmp: Path | None, remove: bool = False) -> None:
        self.target = target
        self.tmp = tmp  # None for a removal
        self.remove = remove
        self.backup: Path | None = None
        self.committed = False


class OutputSet:
    """All of a command's outputs, checked before the work and written all together or not at all.

    Parameters
    ----------
    inputs : mapping of str to path, list of paths or None
        The command's input files by option name (``{"--logits": path}``); None values are ignored,
        and so are paths that do not exist (their readers report them).  An input that reads many
        files (an image folder, a list of image paths) registers each of them, see
        :func:`l2h.report.image_inputs`.
    outputs : mapping of str to path, list of paths or None
        The files the command may write, by option name.  A folder of outputs registers each file
        it may write (a list).  None values are ignored.
    create_folders : iterable of paths
        Output folders that may be missing: each is created (its parent must exist) when the first
        file is staged into it, and removed again if the set is abandoned.

    Notes
    -----
    On entry, every output's folder must exist and be writable, no output may be a directory, FIFO
    or other non-regular file, and no output may be (by path, through symlinks, or as a hard link:
    same ``st_dev`` and ``st_ino``) an input or another output; otherwise :class:`~l2h.InputError`
    with one line naming both options.  Symlinked outputs are written through: the link's target is
    replaced and the link kept.

    ``write_text``, ``write_bytes``, ``save_npy`` and ``write_with`` stage a file in a temporary file
    next to its destination.  When the ``with`` block ends normally, every staged file is renamed into
    place (an existing file is kept as a backup until all renames succeeded, and put back if one
    fails); when it raises, staged files are deleted and nothing is touched.  Write errors (a full
    disk) are :class:`~l2h.InputError` naming the output, not the temporary file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with OutputSet(outputs={"--out": folder / "a.txt", "--log": folder / "b.txt"}) as out:
    ...     out.write_text(folder / "a.txt", "first\\n")
    ...     out.write_text(folder / "b.txt", "second\\n")
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt', 'b.txt']
    """

    def __init__(
        self,
        inputs: Mapping[str, PathSpec] | None = None,
        outputs: Mapping[str, PathSpec] | None = None,
        *,
        create_folders: Iterable[PathLike] = (),
    ) -> None:
        self._inputs = {label: _flatten(spec) for label, spec in (inputs or {}).items()}
        self._outputs = {label: _flatten(spec) for label, spec in (outputs or {}).items()}
        self._may_create = {Path(os.path.realpath(p)) for p in create_folders}
        self._targets: dict[Path, _Target] = {}  # keyed by the path as registered (absolute)
        self._staged: dict[Path, _Staged] = {}  # keyed by destination
        self._created: list[Path] = []
        self._open = False
        self._started = time.time()
        self.check()

    # ------------------------------------------------------------------ checks
    def check(self) -> None:
        """Run the up-front checks (done by the constructor); raise :class:`~l2h.InputError`."""
        targets: list[_Target] = []
        for label, paths in self._outputs.items():
            for path in paths:
                may_create = Path(os.path.realpath(_folder_of(path))) in self._may_create
                targets.append(_Target.check(label, path, may_create_folder=may_create))
        by_dest: dict[Path, _Target] = {}
        by_inode: dict[tuple[int, int], _Target] = {}
        for target in targets:
            other = by_dest.get(target.dest)
            if other is None and target.stat is not None:
                other = by_inode.get((target.stat.st_dev, target.stat.st_ino))
            if other is not None:
                if other.label == target.label and other.path == target.path:
                    continue  # registered twice: one file
                how = _how(target.path, other.path)
                raise InputError(
                    f"{target.label} {target.path} is the same file as {other.label} {other.path}{how}; "
                    "give each output its own path"
                )
            by_dest[target.dest] = target
            if target.stat is not None:
                by_inode[(target.stat.st_dev, target.stat.st_ino)] = target
        for in_label, in_paths in self._inputs.items():
            for in_path in in_paths:
                try:
                    st = os.stat(in_path)
                except OSError:
                    continue  # missing or unreadable inputs are their reader's to report
                hit = by_dest.get(Path(os.path.realpath(in_path))) or by_inode.get((st.st_dev, st.st_ino))
                if hit is not None:
                    what = f"the {in_label} file" if len(in_paths) == 1 else f"one of the {in_label} files"
                    how = _how(hit.path, in_path)
                    raise InputError(f"{hit.label} {hit.path} is {what}{how}; choose another output path")
        self._targets = {Path(os.path.abspath(t.path)): t for t in targets}

    # ------------------------------------------------------------------ staging
    def _target(self, path: PathLike) -> _Target:
        key = Path(os.path.abspath(path))
        target = self._targets.get(key)
        if target is None:
            raise ValueError(f"{path} was not registered as an output of this OutputSet")
        if not self._open:
            raise RuntimeError("OutputSet: write inside the `with` block")
        return target

    def _ensure_folder(self, target: _Target) -> None:
        folder = target.dest.parent
        if folder.is_dir():
            return
        try:
            folder.mkdir()
        except OSError as exc:
            raise InputError(f"cannot create the {target.label} folder {folder}: {_why(exc)}") from None
        self._created.append(folder)

    def _new_tmp(self, target: _Target) -> Path:
        self._ensure_folder(target)
        name = target.dest.name
        try:
            fd, tmp = tempfile.mkstemp(
                prefix=f".{name}.{os.getpid()}-", suffix=f".tmp{target.dest.suffix}", dir=target.dest.parent
            )
        except OSError as exc:
            raise InputError(f"cannot write {target.label} {target.path}: {_why(exc)}") from None
        os.close(fd)
        self._replace_staged(target, _Staged(target, Path(tmp)))
        return Path(tmp)

    def _replace_staged(self, target: _Target, staged: _Staged) -> None:
        old = self._staged.pop(target.dest, None)
        if old is not None and old.tmp is not None:
            _unlink_quietly(old.tmp)
        self._staged[target.dest] = staged

    def write_bytes(self, path: PathLike, data: bytes) -> None:
        """Stage ``data`` as the new content of the output ``path``."""
        target = self._target(path)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"write_bytes needs bytes; got {type(data).__name__}")
        tmp = self._new_tmp(target)
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            self._drop(target)
            raise InputError(f"cannot write {target.label} {target.path}: {_why(exc)}") from None

    def write_text(self, path: PathLike, text: str) -> None:
        """Stage ``text`` (UTF-8) as the new content of the output ``path``."""
        if not isinstance(text, str):
            raise TypeError(f"write_text needs a str; got {type(text).__name__}")
        self.write_bytes(path, text.encode("utf-8"))

    def save_npy(self, path: PathLike, array: ArrayLike) -> None:
        """Stage ``np.save(array)`` (no pickles) as the output ``path``."""
        self.write_bytes(path, npy_bytes(array))

    def write_with(self, path: PathLike, writer: Callable[[Path], Any]) -> None:
        """Stage the output ``path`` by calling ``writer(tmp_path)``.

        The temporary path ends with the output's own suffix (``.png``, ``.npy``), so writers that
        choose the format from it (``fig.savefig``, ``np.save``) do the right thing.
        """
        target = self._target(path)
        tmp = self._new_tmp(target)
        try:
            writer(tmp)
        except OSError as exc:
            self._drop(target)
            raise InputError(f"cannot write {target.label} {target.path}: {_why(exc)}") from None
        except BaseException:
            self._drop(target)
            raise
        if not tmp.is_file():
            self._drop(target)
            raise RuntimeError(f"the writer of {target.path} did not write its temporary file")

    def remove(self, path: PathLike) -> None:
        """Delete the output ``path`` (if it exists) at commit, with the same all-or-nothing rule."""
        target = self._target(path)
        self._replace_staged(target, _Staged(target, None, remove=True))

    def _drop(self, target: _Target) -> None:
        staged = self._staged.pop(target.dest, None)
        if staged is not None and staged.tmp is not None:
            _unlink_quietly(staged.tmp)

    # ------------------------------------------------------------------ commit / abort
    def __enter__(self) -> OutputSet:
        self._open = True
        swept: set[Path] = set()
        for target in self._targets.values():
            if target.dest not in swept:
                swept.add(target.dest)
                sweep_stale_siblings(target.dest, self._started)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._open = False
        if exc_type is not None:
            self.abort()
            return
        self.commit()

    def abort(self) -> None:
        """Remove every staged file (and folders this set created); touch nothing else."""
        for staged in self._staged.values():
            if staged.tmp is not None:
                _unlink_quietly(staged.tmp)
        self._staged.clear()
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                pass
        self._created.clear()

    def commit(self) -> None:
        """Rename every staged file into place, or restore every output if one rename fails."""
        order = list(self._staged.values())
        try:
            for staged in order:
                self._commit_one(staged)
        except OSError as exc:
            failed = next((s for s in order if not s.committed), order[-1])
            self._roll_back(order)
            self.abort()
            raise InputError(
                f"cannot write {failed.target.label} {failed.target.path}: {_why(exc)}; no output was changed"
            ) from None
        except BaseException:
            self._roll_back(order)
            self.abort()
            raise
        for staged in order:
            if staged.backup is not None:
                _unlink_quietly(staged.backup)
        self._staged.clear()
        self._created.clear()

    def _commit_one(self, staged: _Staged) -> None:
        dest = staged.target.dest
        if os.path.lexists(dest):
            backup = dest.parent / f".{dest.name}.{os.getpid()}-{secrets.token_hex(6)}.bak"
            try:
                os.link(dest, backup)  # the old file stays in place until the atomic rename below
                staged.backup = backup
            except OSError:
                os.rename(dest, backup)  # no hard links here: move it aside (restored on failure)
                staged.backup = backup
                if staged.remove:
                    staged.committed = True
                    return
        if staged.remove:
            if staged.backup is not None:
                os.unlink(dest)
            staged.committed = True
            return
        assert staged.tmp is not None
        os.chmod(staged.tmp, _output_mode(dest))  # mkstemp makes the file private (0600)
        os.replace(staged.tmp, dest)
        staged.committed = True

    def _roll_back(self, order: list[_Staged]) -> None:
        for staged in reversed(order):
            dest = staged.target.dest
            try:
                if staged.backup is not None:
                    os.replace(staged.backup, dest)
                    # rename() between two links of one file does nothing (the file whose own rename
                    # failed is still in place): drop the backup link then
                    _unlink_quietly(staged.backup)
                    staged.backup = None
                elif staged.committed and not staged.remove:
                    os.unlink(dest)  # a new file that did not exist before
            except OSError:
                pass


def _how(path: Path, other: Path) -> str:
    """How two names reach one file, for messages."""
    if os.path.abspath(path) == os.path.abspath(other):
        return ""
    if os.path.realpath(path) == os.path.realpath(other):
        return " (through a symlink)"
    return " (a hard link)"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or unknown: keep its files
    return True


def sweep_stale_siblings(dest: PathLike, before: float) -> list[Path]:
    """Remove what an earlier, killed run left next to the output ``dest``; return what was removed.

    Temporary files are named ``.NAME.PID-XXXX.tmpSUFFIX`` and backups ``.NAME.PID-XXXX.bak``: one
    is stale when its process ``PID`` is gone and it is older than ``before`` (this run's start).
    A stale backup whose output is missing holds the only copy of the old output (a run killed
    between moving it aside and renaming the new file in): it is put back, not deleted.

    Parameters
    ----------
    dest : str or os.PathLike
        The output about to be written.
    before : float
        Start of this run (``time.time()``): newer files are left alone.

    Returns
    -------
    list of Path
        The files removed (or put back).

    Examples
    --------
    >>> import pathlib, tempfile, time
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / ".t.nwk.999999999-ab12.tmp.nwk").write_text("half")
    >>> [p.name for p in sweep_stale_siblings(folder / "t.nwk", time.time() + 1)]
    ['.t.nwk.999999999-ab12.tmp.nwk']
    """
    dest = Path(dest)
    folder = _folder_of(dest)
    pattern = re.compile(rf"^\.{re.escape(dest.name)}\.(\d+)-[^/]*\.(?:tmp{re.escape(dest.suffix)}|bak)$")
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = pattern.match(name)
        if match is None:
            continue
        path = folder / name
        pid = int(match.group(1))
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if pid == os.getpid() or st.st_mtime >= before or _process_alive(pid) or not stat.S_ISREG(st.st_mode):
            continue
        try:
            if name.endswith(".bak") and not os.path.lexists(dest):
                os.rename(path, dest)  # the old output, moved aside by the killed run: restore it
            else:
                os.unlink(path)
            removed.append(path)
        except OSError:
            pass
    return removed


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
