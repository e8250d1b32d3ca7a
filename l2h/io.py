"""Compatibility facade: the file functions under their historical names.

The code lives in three modules (this one re-exports them so that existing imports keep working):

* :mod:`l2h.arrays`: reading input arrays and name lists (``load_array``, ``read_names``);
* :mod:`l2h.treeio`: tree formats (Newick, JSON, linkage) as plain merges; :class:`l2h.Hierarchy`
  builds from them (``read_tree``, ``Hierarchy.to_newick``, ...);
* atomic writing (``write_atomic``, ``save_npy_atomic``, ``check_output_path``) and ``write_tree``,
  until they move to :mod:`l2h.files`.

New code imports from those modules.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from l2h._validation import InputError
from l2h.arrays import ARRAY_SUFFIXES, check_input_file, load_array, read_names
from l2h.hierarchy import Hierarchy, read_tree
from l2h.treeio import JSON_FORMAT, JSON_VERSION, TREE_FORMATS, tree_format_for

__all__ = [
    "ARRAY_SUFFIXES",
    "JSON_FORMAT",
    "JSON_VERSION",
    "TREE_FORMATS",
    "InputError",
    "check_input_file",
    "check_output_path",
    "from_json_text",
    "from_newick",
    "load_array",
    "read_names",
    "read_tree",
    "save_npy_atomic",
    "to_json_dict",
    "to_newick",
    "tree_format_for",
    "write_atomic",
    "write_tree",
]


def to_newick(tree: Hierarchy, *, branch_lengths: bool = True, internal_labels: bool = True) -> str:
    """Newick text of ``tree``; same as :meth:`Hierarchy.to_newick`."""
    return tree.to_newick(branch_lengths=branch_lengths, internal_labels=internal_labels)


def from_newick(text: str, leaf_names: Sequence[str] | None = None) -> Hierarchy:
    """A :class:`Hierarchy` from Newick text; same as :meth:`Hierarchy.from_newick`."""
    return Hierarchy.from_newick(text, leaf_names=leaf_names)


def to_json_dict(tree: Hierarchy) -> dict[str, Any]:
    """The versioned JSON document of ``tree``; same as :meth:`Hierarchy.to_dict`."""
    return tree.to_dict()


def from_json_text(text: str) -> Hierarchy:
    """A :class:`Hierarchy` from l2h JSON text; same as :meth:`Hierarchy.from_json`."""
    return Hierarchy.from_json(text)


# ---------------------------------------------------------------------------------------------- writing
def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"output folder does not exist: {folder}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, _output_mode(path))  # mkstemp makes the file private (0600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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


def check_output_path(path: str | os.PathLike[str], *, name: str = "output") -> None:
    """Fail early (before any work) when ``path`` cannot receive a file: a missing or read-only
    folder, or a directory in its place."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"{name} {path} is a directory; expected a file path")
    if not folder.is_dir():
        raise InputError(f"{name} folder does not exist: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{name} folder is not writable: {folder}")


def save_npy_atomic(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """``np.save`` through :func:`write_atomic`."""
    import io as _io

    buffer = _io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    write_atomic(path, buffer.getvalue())


def write_tree(hierarchy: Hierarchy, path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """Write ``hierarchy`` atomically as Newick, JSON or a linkage ``.npy``; returns the format used."""
    kind = tree_format_for(path, fmt)
    if kind == "newick":
        write_atomic(path, hierarchy.to_newick() + "\n")
    elif kind == "json":
        write_atomic(path, hierarchy.to_json() + "\n")
    else:
        save_npy_atomic(path, hierarchy.to_scipy())
    return kind
