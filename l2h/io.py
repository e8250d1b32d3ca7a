"""Reading inputs and reading/writing trees: arrays, Newick, JSON, scipy linkage.

All writers go through :func:`write_atomic`, so a failed run never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from l2h._validation import InputError, check_array
from l2h.hierarchy import Hierarchy

JSON_FORMAT = "l2h-hierarchy"
JSON_VERSION = 1
ARRAY_SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".txt", ".pt", ".pth")
TREE_FORMATS = {".nwk": "newick", ".newick": "newick", ".tree": "newick", ".json": "json", ".npy": "linkage"}


# ---------------------------------------------------------------------------------------------- arrays
def load_array(path: str | os.PathLike[str], key: str | None = None, *, name: str = "array") -> np.ndarray:
    """Load a numeric array from ``.npy`` (memory-mapped), ``.npz``, ``.csv``/``.tsv``/``.txt`` or ``.pt``.

    ``.npy`` files are opened with ``mmap_mode="r"`` and ``allow_pickle=False``; ``.pt`` files need
    torch and are read with ``weights_only=True``.  Errors are :class:`InputError` with one line that
    names the file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{name} file not found: {path}")
    if path.is_dir():
        raise InputError(f"{name} path is a directory, not a file: {path}")
    if not os.access(path, os.R_OK):
        raise InputError(f"{name} file is not readable: {path}")
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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{name} file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name} file {path} cannot be read as UTF-8 text: {exc}") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    for i, line in enumerate(lines, start=1):
        if not line:
            raise InputError(f"{name} file {path}, line {i}: empty name")
    return lines


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


def tree_format_for(
    path: str | os.PathLike[str], fmt: str | None = None, *, format_hint: str | None = "pass fmt"
) -> str:
    """``"newick"``, ``"json"`` or ``"linkage"`` from an explicit format or the file suffix.

    ``format_hint`` says how the caller's user can give the format instead (``"--format"`` for a
    command with that option); the unknown-suffix error ends with ``", or <format_hint>"``, or
    offers no alternative when it is None.
    """
    if fmt:
        fmt = fmt.lower()
        if fmt in ("nwk", "newick"):
            return "newick"
        if fmt in ("json", "linkage"):
            return fmt
        if fmt == "npy":
            return "linkage"
        raise InputError(f"unknown tree format {fmt!r}; expected newick, json or linkage")
    suffix = Path(path).suffix.lower()
    if suffix not in TREE_FORMATS:
        alternative = f", or {format_hint}" if format_hint else ""
        raise InputError(
            f"cannot tell the tree format of {path} from its suffix; use .nwk/.newick, .json or .npy{alternative}"
        )
    return TREE_FORMATS[suffix]


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


def read_tree(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    leaf_names: Sequence[str] | None = None,
    *,
    format_hint: str | None = "pass fmt",
) -> Hierarchy:
    """Read a tree written by :func:`write_tree` (or any binary Newick over the same leaves).

    ``format_hint`` is passed to :func:`tree_format_for` for the unknown-suffix error.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"tree file not found: {path}")
    kind = tree_format_for(path, fmt, format_hint=format_hint)
    try:
        if kind == "linkage":
            return Hierarchy.from_linkage(np.load(path, allow_pickle=False), leaf_names=leaf_names)
        # Bytes, not read_text: universal newlines would turn a quoted name's "\r" into "\n".
        text = path.read_bytes().decode("utf-8")
        if kind == "json":
            tree = from_json_text(text)
            return tree.with_leaf_names(leaf_names) if leaf_names is not None else tree
        return from_newick(text, leaf_names=leaf_names)
    except InputError as exc:
        raise InputError(f"tree file {path}: {exc}") from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"tree file {path}: {exc}") from None


# ---------------------------------------------------------------------------------------------- JSON
def to_json_dict(tree: Hierarchy) -> dict[str, Any]:
    """The versioned JSON document of a hierarchy.

    Keys: ``format`` (``"l2h-hierarchy"``), ``version`` (1), ``n_leaves``, ``leaf_names``,
    ``merges`` (list of ``[node_a, node_b]``, scipy numbering), ``heights``, ``scores`` and
    ``relatedness`` (``null`` where unknown), ``info`` (provenance).
    """

    def nullable(values: np.ndarray) -> list[float | None]:
        return [None if not np.isfinite(v) else float(v) for v in values]

    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "n_leaves": tree.n_leaves,
        "leaf_names": list(tree.leaf_names),
        "merges": tree.merges.tolist(),
        "heights": [float(h) for h in tree.heights],
        "scores": nullable(tree.scores),
        "relatedness": nullable(tree.relatedness),
        "info": _jsonable(dict(tree.info)),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def from_json_text(text: str) -> Hierarchy:
    """Parse the document written by :func:`to_json_dict`."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise InputError(f'not an l2h hierarchy JSON (missing "format": "{JSON_FORMAT}")')
    version = doc.get("version")
    if version != JSON_VERSION:
        raise InputError(f"unsupported l2h hierarchy JSON version {version!r}; this l2h reads {JSON_VERSION}")
    try:
        merges = np.asarray(doc["merges"], dtype=np.int64).reshape(-1, 2)

        def floats(key: str) -> np.ndarray | None:
            values = doc.get(key)
            if values is None:
                return None
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

        tree = Hierarchy.from_merges(
            merges,
            heights=floats("heights"),
            scores=floats("scores"),
            relatedness=floats("relatedness"),
            leaf_names=doc.get("leaf_names"),
            info=doc.get("info") or {},
        )
    except KeyError as exc:
        raise InputError(f"hierarchy JSON lacks the key {exc.args[0]!r}") from None
    if "n_leaves" in doc and doc["n_leaves"] != tree.n_leaves:
        raise InputError(f"hierarchy JSON says n_leaves={doc['n_leaves']} but has {tree.n_leaves} leaves")
    return tree


# ---------------------------------------------------------------------------------------------- Newick
# Characters a name may hold and still be written bare: no white space, no Newick punctuation
# ``( ) [ ] ' : ; ,`` and no ``"`` (ete3 and other readers take it as the start of a quoted name).
_UNQUOTED_OK = re.compile(r"[^\s()\[\]'\":;,]+")


def _quote(name: str) -> str:
    """``name`` as a Newick label: bare when safe, else in single quotes with ``'`` doubled."""
    if _UNQUOTED_OK.fullmatch(name):  # fullmatch: `$` would accept a trailing newline
        return name
    return "'" + name.replace("'", "''") + "'"


def _format_length(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def to_newick(tree: Hierarchy, *, branch_lengths: bool = True, internal_labels: bool = True) -> str:
    """Newick text of ``tree`` (ends with ``;``).

    Leaves are labelled with ``tree.leaf_names``; internal nodes with ``n<node id>`` (scipy
    numbering; non-numeric so that iTOL does not read them as support values).  Branch lengths are
    height differences, so the tree is ultrametric and :func:`from_newick` recovers the merge order.
    Names with Newick's special characters are single-quoted.
    """
    k = tree.n_leaves
    heights = np.concatenate([np.zeros(k), tree.linkage[:, 2]])
    merges = tree.merges
    parent = tree.parent
    text: list[str] = [""] * tree.n_nodes
    for node in range(tree.n_nodes):
        if node < k:
            label = _quote(tree.leaf_names[node])
        else:
            a, b = merges[node - k]
            label = f"({text[a]},{text[b]})" + (f"n{node}" if internal_labels else "")
            text[a] = text[b] = ""  # free memory as we go
        if branch_lengths and parent[node] >= 0:
            label += ":" + _format_length(heights[parent[node]] - heights[node])
        text[node] = label
    return text[tree.root] + ";"


class _NewickNode:
    __slots__ = ("name", "length", "children")

    def __init__(self) -> None:
        self.name: str = ""
        self.length: float | None = None
        self.children: list[_NewickNode] = []


def _parse_newick(text: str) -> _NewickNode:
    """Parse Newick into plain nodes: quoted labels, comments ``[...]``, branch lengths."""
    s = text.strip()
    i = 0
    n = len(s)

    def skip_space_and_comments() -> None:
        nonlocal i
        while i < n:
            if s[i].isspace():
                i += 1
            elif s[i] == "[":
                end = s.find("]", i)
                if end < 0:
                    raise InputError("Newick has an unclosed comment '['")
                i = end + 1
            else:
                break

    def read_label() -> str:
        nonlocal i
        skip_space_and_comments()
        if i < n and s[i] in "'\"":  # standard single quotes; double quotes as some tools write
            quote = s[i]
            out = []
            i += 1
            while True:
                if i >= n:
                    raise InputError("Newick has an unclosed quoted label")
                if s[i] == quote:
                    if i + 1 < n and s[i + 1] == quote:
                        out.append(quote)
                        i += 2
                        continue
                    i += 1
                    break
                out.append(s[i])
                i += 1
            return "".join(out)
        start = i
        while i < n and s[i] not in "(),:;[" and not s[i].isspace():
            i += 1
        return s[start:i]

    def read_length(node: _NewickNode) -> None:
        nonlocal i
        skip_space_and_comments()
        if i < n and s[i] == ":":
            i += 1
            skip_space_and_comments()
            start = i
            while i < n and s[i] not in "(),;[" and not s[i].isspace():
                i += 1
            try:
                node.length = float(s[start:i])
            except ValueError:
                raise InputError(f"Newick has a bad branch length {s[start:i]!r} at character {start}") from None

    def read_subtree() -> _NewickNode:
        nonlocal i
        node = _NewickNode()
        skip_space_and_comments()
        if i < n and s[i] == "(":
            i += 1
            while True:
                node.children.append(read_subtree())
                skip_space_and_comments()
                if i >= n:
                    raise InputError("Newick ended inside a clade (missing ')')")
                if s[i] == ",":
                    i += 1
                    continue
                if s[i] == ")":
                    i += 1
                    break
                raise InputError(f"Newick has an unexpected character {s[i]!r} at position {i}")
        node.name = read_label()
        read_length(node)
        return node

    if not s:
        raise InputError("Newick text is empty")
    root = read_subtree()
    skip_space_and_comments()
    if i >= n or s[i] != ";":
        where = f"unexpected {s[i]!r} at position {i}" if i < n else "missing the final ';'"
        raise InputError(f"Newick does not parse: {where}")
    i += 1
    skip_space_and_comments()
    if i != n:
        raise InputError(f"Newick has text after the final ';' at position {i}")
    return root


def from_newick(text: str, leaf_names: Sequence[str] | None = None) -> Hierarchy:
    """Read a rooted binary Newick tree into a :class:`Hierarchy`.

    Leaf ids: when ``leaf_names`` is given, leaves are matched to it by name (every name must appear
    once); otherwise, if every leaf label is an integer and they are exactly ``0..K-1``, those are
    the ids; otherwise leaves are numbered in the order they appear.  Merge order: from internal
    labels ``n<node id>`` when all are present and consistent (as :func:`to_newick` writes them),
    else from the heights implied by the branch lengths, else bottom-up by subtree height.
    A unary node (one child) is collapsed; a node with more than two children is an error.
    """
    root = _parse_newick(text)
    while len(root.children) == 1:  # a unary root: collapse
        root = root.children[0]
    leaves: list[_NewickNode] = []
    internals: list[_NewickNode] = []  # post-order
    depth_of: dict[int, float] = {}

    def collapse(node: _NewickNode) -> _NewickNode:
        while len(node.children) == 1:
            child = node.children[0]
            if child.length is not None or node.length is not None:
                child.length = (child.length or 0.0) + (node.length or 0.0)
            node = child
        return node

    stack: list[tuple[_NewickNode, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if not node.children:
            leaves.append(node)
            continue
        if expanded:
            internals.append(node)
            continue
        node.children = [collapse(c) for c in node.children]
        if len(node.children) > 2:
            raise InputError(
                f"Newick node {node.name or '(unnamed)'} has {len(node.children)} children; "
                "only binary trees are supported"
            )
        stack.append((node, True))
        for child in reversed(node.children):
            stack.append((child, False))
    k = len(leaves)
    if k < 2:
        raise InputError("Newick tree has fewer than 2 leaves")
    labels = [leaf.name for leaf in leaves]
    if any(not label for label in labels):
        raise InputError("Newick tree has an unnamed leaf")
    if len(set(labels)) != k:
        dup = next(label for label in labels if labels.count(label) > 1)
        raise InputError(f"Newick tree has the leaf {dup!r} more than once")
    leaf_id: dict[int, int] = {}
    if leaf_names is not None:
        leaf_names = list(leaf_names)
        position = {name: i for i, name in enumerate(leaf_names)}
        if len(leaf_names) != k or set(labels) != set(position):
            missing = sorted(set(leaf_names) - set(labels))[:3]
            extra = sorted(set(labels) - set(leaf_names))[:3]
            raise InputError(
                f"Newick leaves do not match the {len(leaf_names)} expected names "
                f"(tree has {k}; missing {missing}, unexpected {extra})"
            )
        for leaf in leaves:
            leaf_id[id(leaf)] = position[leaf.name]
        names = leaf_names
    elif all(re.fullmatch(r"0|[1-9][0-9]*", label) for label in labels) and sorted(int(x) for x in labels) == list(
        range(k)
    ):  # only canonical ids: "00", "-0" or "٠" are names, and renaming them "0" would lose them
        for leaf in leaves:
            leaf_id[id(leaf)] = int(leaf.name)
        names = [str(i) for i in range(k)]
    else:
        for i, leaf in enumerate(leaves):
            leaf_id[id(leaf)] = i
        names = labels

    order = _merge_order(internals, k, root, depth_of)
    node_id: dict[int, int] = dict(leaf_id)
    merges = np.empty((k - 1, 2), dtype=np.int64)
    heights = np.empty(k - 1)
    for t, (node, height) in enumerate(order):
        node_id[id(node)] = k + t
        merges[t] = [node_id[id(c)] for c in node.children]
        heights[t] = height
    if not np.all(np.diff(heights) >= 0):
        heights = np.arange(1, k, dtype=np.float64)
    return Hierarchy.from_merges(merges, heights=heights, leaf_names=names, info={"source": "newick"})


def _merge_order(
    internals: list[_NewickNode], k: int, root: _NewickNode, depth_of: dict[int, float]
) -> list[tuple[_NewickNode, float]]:
    """Order internal nodes children-first, recovering the original merge order when possible."""
    # 1. Internal labels n<id> written by to_newick.
    ids = []
    for node in internals:
        m = re.fullmatch(r"n(\d+)", node.name)
        ids.append(int(m.group(1)) if m else -1)
    if sorted(ids) == list(range(k, 2 * k - 1)):
        pos = {id(node): nid for node, nid in zip(internals, ids, strict=True)}
        children_first = all(pos.get(id(c), -1) < pos[id(node)] for node in internals for c in node.children)
        if children_first:
            ranked = sorted(internals, key=lambda nd: pos[id(nd)])
            return [(nd, float(pos[id(nd)] - k + 1)) for nd in ranked]
    # 2. Heights from branch lengths (root at its maximal distance to a leaf).
    height: dict[int, float] = {}
    if all(c.length is not None for nd in internals for c in nd.children):
        for node in internals:  # post-order: children first
            height[id(node)] = max(
                (height.get(id(c), 0.0) + float(c.length))
                for c in node.children  # type: ignore[arg-type]
            )
        rank = sorted(range(len(internals)), key=lambda i: (height[id(internals[i])], i))
        ordered = [internals[i] for i in rank]
        position = {id(nd): j for j, nd in enumerate(ordered)}
        if all(position.get(id(c), -1) < position[id(nd)] for nd in ordered for c in nd.children):
            return [(nd, height[id(nd)]) for nd in ordered]
    # 3. Topological height (edges to the deepest leaf), post-order as tie-break.
    topo: dict[int, int] = {}
    for node in internals:
        topo[id(node)] = 1 + max(topo.get(id(c), 0) for c in node.children)
    rank = sorted(range(len(internals)), key=lambda i: (topo[id(internals[i])], i))
    return [(internals[i], float(j + 1)) for j, i in enumerate(rank)]
