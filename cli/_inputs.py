"""Input files shared by the commands that read a tree and place points in it.

``metrics``, ``cut`` and the views (``show``, ``plot``, ``export itol``) read the tree the same way,
refuse the same ambiguous inputs and read labels the same way; this module keeps them in step without
the views importing another command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from l2h.hierarchy import Hierarchy

ARRAY_FILE_SUFFIXES = (".npy", ".npz", ".pt", ".pth")


def read_labels(path: Path, name: str = "labels") -> np.ndarray:
    """Labels from an array file (``.npy``, ``.npz``, ``.pt``) or a text file with one label per line.

    Text lines that all parse as integers give integer labels; otherwise the lines are class names.
    Array files must hold integers (integer-valued floats are accepted).
    """
    from l2h.io import InputError, load_array
    from l2h.metrics import encode_labels

    if path.suffix.lower() in ARRAY_FILE_SUFFIXES:
        if path.suffix.lower() == ".npy" and path.is_file():
            _refuse_string_npy(path, name)
        array = np.asarray(load_array(path, name=name))
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise InputError(f"{name} file {path} must hold a 1-D array (one label per point); got shape {array.shape}")
        try:
            encode_labels(array, name)  # rejects non-integer values with a precise message
        except (TypeError, ValueError) as exc:
            raise InputError(f"{name} file {path}: {exc}") from None
        return array
    from l2h.io import read_names

    lines = read_names(path, name=name)
    if not lines:
        raise InputError(f"{name} file {path} is empty")
    try:
        return np.array([int(line) for line in lines], dtype=np.int64)
    except ValueError:
        return np.array(lines)


def _refuse_string_npy(path: Path, name: str) -> None:
    """A ``.npy`` of strings gets a message that points to the text format (numbers are checked later)."""
    try:
        dtype = np.load(path, mmap_mode="r", allow_pickle=False).dtype
    except Exception:  # noqa: BLE001 - load_array reports unreadable files with its own message
        return
    if dtype.kind in "US":
        from l2h.io import InputError

        raise InputError(
            f"{name} file {path} holds strings (dtype {dtype}); a .npy of labels must hold integer "
            "class ids (put class names in a text file, one per line)"
        )


def check_leaf_ids(tree: Hierarchy, tree_path: Path, leaf_names_path: Path | None) -> None:
    """Refuse a Newick whose leaves are names, not cluster ids, when points refer to leaves by id.

    ``l2h build --names`` writes leaf names into the Newick; read back without them, its leaves are
    numbered in the order they appear, so leaf ``j`` would no longer be logits column ``j``.  The
    JSON and linkage formats keep the ids, and ``--leaf-names`` restores them.
    """
    from l2h.io import InputError, tree_format_for

    if leaf_names_path is not None or tree_format_for(tree_path) != "newick":
        return
    names = tree.leaf_names
    if tuple(names) == tuple(str(i) for i in range(len(names))):
        return
    shown = ", ".join(repr(n) for n in names[:3]) + (", ..." if len(names) > 3 else "")
    raise InputError(
        f"tree {tree_path} names its leaves ({shown}) instead of numbering them 0..{len(names) - 1}, so they "
        "cannot be matched to cluster ids; pass --leaf-names with the names in cluster-id order (the file "
        "given to `l2h build --names`), or use the JSON tree"
    )


def read_tree_file(tree_path: Path, leaf_names_path: Path | None = None) -> Hierarchy:
    """The tree at ``tree_path``, its Newick leaves matched to the ``--leaf-names`` file when given.

    The format comes from the suffix alone: these commands have no ``--format`` option, so the
    unknown-suffix error does not offer one.
    """
    from l2h.io import read_names, read_tree

    leaf_names = read_names(leaf_names_path, name="--leaf-names") if leaf_names_path else None
    return read_tree(tree_path, leaf_names=leaf_names, format_hint=None)
