"""Options and input files shared by the commands: one flag, one meaning, one loader.

Every command that reads a tree takes it as the positional ``TREE``; the points' leaves come from
``--logits`` or ``--assignments``, ground truth from ``--labels``, class names from ``--class-names``
(line i names class id i), a class -> group map from ``--groups`` and leaf names from ``--leaf-names``
(line j names cluster j).  The options are declared here once and the commands import them, so no
command imports another command's module.  Old spellings (``--tree``, ``--names``, ``--label-names``,
``--coarse-labels``) stay as hidden aliases that print one deprecation line on stderr.
"""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from l2h.images import DEFAULT_MAX_PIXELS
from l2h.io import TREE_FORMATS, InputError, load_array, read_names, read_tree, tree_format_for
from l2h.itol import read_class_groups
from l2h.metrics import check_assignments, encode_labels
from l2h.render import LeafStats, leaf_stats

if TYPE_CHECKING:
    from l2h.hierarchy import Hierarchy

FILE = click.Path(path_type=Path, dir_okay=False)
# The --format choices: the tree formats l2h.io dispatches on (its suffix -> format table), each once.
TREE_FORMAT_CHOICES = tuple(dict.fromkeys(TREE_FORMATS.values()))
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

# Concept -> the one flag that spells it (tests/test_cli_vocabulary.py checks every command against it).
VOCABULARY = {
    "tree": "TREE",
    "logits": "--logits",
    "assignments": "--assignments",
    "labels": "--labels",
    "class names": "--class-names",
    "groups": "--groups",
    "leaf names": "--leaf-names",
    "key": "--key",
    "out": "--out",
    "json": "--json",
    "quiet": "--quiet",
    "device": "--device",
    "batch size": "--batch-size",
    "images": "--images",
}
# Old spelling -> new one.
DEPRECATED = {
    "--tree": "TREE",
    "--names": "--leaf-names",
    "--label-names": "--class-names",
    "--coarse-labels": "--groups",
    "--levels": "--k",
    "--level": "--k",
    "--max-leaves": "--k",
}
#: Resolution of every .png picture the CLI draws (plot, gallery).
DPI = 150


def examples(*lines: str) -> str:
    """A command's epilog: one or two example command lines, printed as written after the options."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def deprecation_note(old: str, new: str, extra: str = "") -> None:
    """The one stderr line a deprecated spelling prints."""
    click.echo(f"note: {old} is deprecated; use {new} instead{extra}", err=True)


def _given(dest: str) -> bool:
    """Whether the user gave the parameter ``dest`` (not just its default)."""
    source = click.get_current_context().get_parameter_source(dest)
    return source not in (None, click.core.ParameterSource.DEFAULT)


def _merge_alias(func: Callable[..., Any], alias_dest: str, dest: str, old: str, new: str) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value = kwargs.pop(alias_dest, None)
        if value is not None and value != ():
            if kwargs.get(dest) is not None and _given(dest):
                raise click.UsageError(f"give {new} only (the deprecated {old} is the same input)")
            deprecation_note(old, new)
            kwargs[dest] = value
        kwargs.setdefault(dest, None)  # a deprecated option with its own meaning has no new twin
        return func(*args, **kwargs)

    return wrapper


def deprecated_alias(old: str, dest: str, new: str, **option_kwargs: Any) -> Decorator:
    """A hidden option ``old`` whose value goes to the parameter ``dest`` (spelled ``new``), with a note.

    Apply it below ``@click.command`` (it wraps the callback, keeping its click parameters).
    """
    alias_dest = f"_deprecated_{dest}"

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        params = getattr(func, "__click_params__", [])
        wrapper = _merge_alias(func, alias_dest, dest, old, new)
        wrapper.__click_params__ = list(params)  # type: ignore[attr-defined]
        option_kwargs.setdefault("type", FILE)
        return click.option(old, alias_dest, default=None, hidden=True, expose_value=True, **option_kwargs)(wrapper)

    return decorate


def tree_argument(func: Callable[..., Any]) -> Callable[..., Any]:
    """The positional ``TREE`` (``tree_path``), with the old ``--tree TREE`` as a hidden alias."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        old = kwargs.pop("_deprecated_tree_path", None)
        if old is not None:
            if kwargs.get("tree_path") is not None:
                raise click.UsageError("give the tree once: as TREE (the deprecated --tree is the same input)")
            deprecation_note("--tree TREE", "the positional TREE")
            kwargs["tree_path"] = old
        if kwargs.get("tree_path") is None:
            raise click.UsageError("Missing argument 'TREE'.")
        return func(*args, **kwargs)

    wrapper.__click_params__ = list(getattr(func, "__click_params__", []))  # type: ignore[attr-defined]
    wrapper = click.option("--tree", "_deprecated_tree_path", type=FILE, default=None, hidden=True)(wrapper)
    return click.argument("tree_path", metavar="TREE", type=FILE, required=False)(wrapper)


# A file, or a folder of .npy shards (commands that run on a Dask cluster: --shards=True below).
FILE_OR_SHARDS = click.Path(path_type=Path)


def logits_option(
    help: str = "The flat model's logits (N x K); each point's leaf is their argmax.", shards: bool = False
) -> Decorator:
    return click.option("--logits", "logits_path", type=FILE_OR_SHARDS if shards else FILE, default=None, help=help)


def assignments_option(
    help: str = "Leaf id (0..K-1) of every point, instead of --logits.", shards: bool = False
) -> Decorator:
    kind = FILE_OR_SHARDS if shards else FILE
    return click.option("--assignments", "assignments_path", type=kind, default=None, help=help)


def labels_option(
    required: bool = False,
    shards: bool = False,
    help: str = "Ground truth per point: integer .npy, or a text file with one label (id or name) per line.",
) -> Decorator:
    return click.option(
        "--labels",
        "labels_path",
        type=FILE_OR_SHARDS if shards else FILE,
        required=required,  # no default=None: click 8.5 takes an explicit None default as a given value
        help=help,
    )


def class_names_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--class-names`` (``class_names_path``), old spelling ``--label-names``."""
    return class_names_described("Text file naming the integer classes: line i names class id i.")(func)


def class_names_described(help: str) -> Decorator:
    """``--class-names`` with a command's own description."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = deprecated_alias("--label-names", "class_names_path", "--class-names")(func)
        return click.option("--class-names", "class_names_path", type=FILE, default=None, help=help)(func)

    return decorate


def groups_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--groups",
        "groups_path",
        type=FILE,
        default=None,
        help="Class -> group map: 'class<TAB>group' lines, or one group per line for class id i.",
    )(func)


def leaf_names_option(help: str | None = None, dest: str = "leaf_names_path") -> Decorator:
    return click.option(
        "--leaf-names",
        dest,
        type=FILE,
        default=None,
        help=help
        or "Text file with K lines, line j naming cluster (leaf) j; matches a Newick's named leaves to cluster ids.",
    )


def images_option(
    required: bool = False, help: str | None = None, dest: str = "images_path"
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--images",
        dest,
        type=click.Path(path_type=Path),
        required=required,  # no default=None: click 8.5 takes an explicit None default as a given value
        help=help
        or "The points' images: a folder (files sorted by path), a paths.txt (one per line, e.g. from "
        "`l2h logits`), or an .npy of images N x H x W [x C]. Needs --logits or --assignments.",
    )


def max_pixels_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--max-pixels``: the pixel budget of one image, checked from its header before decoding."""
    return click.option(
        "--max-pixels",
        type=click.IntRange(min=1),
        default=DEFAULT_MAX_PIXELS,
        show_default=True,
        help="Largest image (width x height) decoded; a larger one (a decompression bomb?) is refused.",
    )(func)


def cluster_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--timeout`` and ``--force-workers``: the Dask options that ``build`` and ``metrics`` share."""
    func = click.option(
        "--force-workers",
        is_flag=True,
        help="Start --workers N even when N is more than the cores this process may use.",
    )(func)
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        show_default="10; 60 for --workers to start",
        metavar="SECONDS",
        help="How long to wait for each reply of the --scheduler, for each remote read, and for a --workers "
        "cluster to start.",
    )(func)


def key_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--key", default=None, help="Array name inside an .npz (or .pt dict) holding several.")(func)


def json_option(help: str = "Print a machine-readable result on stdout.") -> Decorator:
    return click.option("--json", "as_json", is_flag=True, help=help)


def _remember_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta["l2h.quiet"] = True  # read by the CLI's warning printer (l2h_cli.main)
    return value


def quiet_option(help: str = "No progress and no summary.") -> Decorator:
    """``-q/--quiet``: nothing on stderr but errors (results on stdout stay)."""
    return click.option("--quiet", "-q", is_flag=True, callback=_remember_quiet, help=help)


def out_option(help: str, required: bool = False, kind: click.ParamType = FILE) -> Decorator:
    """``-o/--out``: where a command writes."""
    if required:
        return click.option("--out", "-o", "out", type=kind, required=True, help=help)
    return click.option("--out", "-o", "out", type=kind, default=None, help=help)


def dpi_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--dpi",
        type=click.IntRange(min=30, max=1200),
        default=DPI,
        show_default=True,
        help="Resolution of .png pictures (dots per inch).",
    )(func)


def k_option(help: str, default: int | None = None, old: str | None = None) -> Decorator:
    """``--k``: a number of groups (the tree cut into k), with a hidden deprecated spelling ``old``."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        kind = click.IntRange(min=1)
        if old is not None:
            func = deprecated_alias(old, "k", "--k", type=kind)(func)
        if default is None:
            return click.option("--k", "k", type=kind, default=None, help=help)(func)
        return click.option("--k", "k", type=kind, default=default, show_default=True, help=help)(func)

    return decorate


def parse_k_list(ctx: click.Context, param: click.Parameter, value: Any) -> tuple[int, ...]:
    """``--k 20,10`` (or ``--k 20 --k 10``) -> ``(20, 10)``; the range is checked against the tree later."""
    if not value:
        return ()
    parts = [value] if isinstance(value, str) else list(value)
    ks = []
    for text in parts:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                ks.append(int(part))
            except ValueError:
                raise click.BadParameter(f"expected comma-separated integers like 20,10; got {part!r}") from None
    return tuple(ks)


def k_list_option(help: str) -> Decorator:
    """``--k K[,K...]`` (repeatable): several numbers of groups; ``--levels`` is its deprecated spelling."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = deprecated_alias("--levels", "k", "--k", type=str, callback=parse_k_list)(func)
        return click.option("--k", "k", multiple=True, callback=parse_k_list, metavar="K[,K...]", help=help)(func)

    return decorate


def stack(*decorators: Decorator) -> Decorator:
    """Apply ``decorators`` so that they read top-down like a stack of ``@`` lines."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return decorate


def leaf_data_options(groups: bool = True) -> Decorator:
    """The views' point options: ``--logits/--assignments/--labels/--class-names/--leaf-names/--key``
    (and ``--groups``)."""
    decorators = [
        logits_option(),
        assignments_option(),
        labels_option(),
        class_names_option,
        leaf_names_option(),
        key_option,
    ]
    if groups:
        decorators.append(groups_option)
    return stack(*decorators)


# ---------------------------------------------------------------------------------------------- loaders
ARRAY_FILE_SUFFIXES = (".npy", ".npz", ".pt", ".pth")


def read_labels(path: Path, name: str = "labels") -> np.ndarray:
    """Labels from an array file (``.npy``, ``.npz``, ``.pt``) or a text file with one label per line.

    Text lines that all parse as integers give integer labels; otherwise the lines are class names.
    Array files must hold integers (integer-valued floats are accepted).
    """

    check_input_path(path, name)
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
        raise InputError(
            f"{name} file {path} holds strings (dtype {dtype}); a .npy of labels must hold integer "
            "class ids (put class names in a text file, one per line)"
        )


def check_leaf_ids(tree: Hierarchy, tree_path: Path, leaf_names_path: Path | None) -> None:
    """Refuse a Newick whose leaves are names, not cluster ids, when points refer to leaves by id.

    ``l2h build --leaf-names`` writes leaf names into the Newick; read back without them, its leaves are
    numbered in the order they appear, so leaf ``j`` would no longer be logits column ``j``.  The
    JSON and linkage formats keep the ids, and ``--leaf-names`` restores them.
    """

    if leaf_names_path is not None or tree_format_for(tree_path) != "newick":
        return
    names = tree.leaf_names
    if tuple(names) == tuple(str(i) for i in range(len(names))):
        return
    shown = ", ".join(repr(n) for n in names[:3]) + (", ..." if len(names) > 3 else "")
    raise InputError(
        f"tree {tree_path} names its leaves ({shown}) instead of numbering them 0..{len(names) - 1}, so they "
        "cannot be matched to cluster ids; pass --leaf-names with the names in cluster-id order (the file "
        "given to `l2h build --leaf-names`), or use the JSON tree"
    )


def check_input_path(path: Path | None, name: str) -> None:
    """A symlink loop is reported as one, not as a missing file (the readers see ``exists() == False``)."""

    if path is None:
        return
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{name} file {path}: symlink loop") from None


def read_tree_file(tree_path: Path, leaf_names_path: Path | None = None) -> Hierarchy:
    """The tree at ``tree_path``, its Newick leaves matched to the ``--leaf-names`` file when given.

    The format comes from the suffix alone: these commands have no ``--format`` option, so the
    unknown-suffix error does not offer one.
    """

    check_input_path(tree_path, "tree")
    leaf_names = read_leaf_names(leaf_names_path) if leaf_names_path else None
    return read_tree(tree_path, leaf_names=leaf_names, format_hint=None)


def read_leaf_names(path: Path) -> list[str]:
    """The ``--leaf-names`` file: line j names cluster (leaf) j."""

    check_input_path(path, "--leaf-names")
    return read_names(path, name="--leaf-names")


def encode_labels_with_names(labels: np.ndarray, class_names_path: Path | None) -> tuple[np.ndarray, list[str], bool]:
    """Class ids, class names, and whether the ids are the labels themselves (so a per-class map applies).

    Without ``--class-names`` the distinct labels are numbered in sorted order; with it, the labels
    must be integer class ids and line i of the file names class id i (extra names are fine).
    """

    if class_names_path is None:
        codes, classes = encode_labels(labels)
        direct = labels.dtype.kind not in "US" and np.array_equal(classes, np.arange(len(classes)))
        return codes, [str(c) for c in classes], direct
    check_input_path(class_names_path, "--class-names")
    names = read_names(class_names_path, name="--class-names")
    if labels.dtype.kind in "US":
        raise InputError("--class-names only applies to integer labels; these labels are names already")
    codes = labels.astype(np.int64)  # integer-valued: read_labels checked
    low, high = int(codes.min()), int(codes.max())
    if low < 0:
        raise InputError(f"--class-names names class ids 0..C-1, but the labels include {low}")
    if len(names) <= high:
        raise InputError(f"--class-names file {class_names_path} has {len(names)} names but the labels go up to {high}")
    return codes, names, True


def read_groups(groups_path: Path, class_names: list[str], codes: np.ndarray) -> tuple[str | None, ...]:
    """The ``--groups`` file: the group of every class id (classes with points must have one)."""

    check_input_path(groups_path, "groups")
    present = np.flatnonzero(np.bincount(codes, minlength=len(class_names)))
    return read_class_groups(groups_path, class_names, present)


def point_leaves(
    tree: Hierarchy, tree_path: Path, logits_path: Path | None, assignments_path: Path | None, key: str | None
) -> tuple[np.ndarray, str]:
    """Every point's leaf from ``--logits`` (argmax) or ``--assignments``, and a phrase naming the source."""

    if logits_path is not None:
        check_input_path(logits_path, "logits")
        logits = load_array(logits_path, key=key, name="logits")
        if logits.ndim == 2 and logits.shape[1] != tree.n_leaves:
            raise InputError(
                f"tree {tree_path} has {tree.n_leaves} leaves but logits {logits_path} have "
                f"{logits.shape[1]} columns (clusters)"
            )
        return tree.assign(logits), f"logits {logits_path}"
    assert assignments_path is not None
    check_input_path(assignments_path, "assignments")
    assignments = load_array(assignments_path, name="assignments")
    try:
        leaf = check_assignments(np.asarray(assignments), tree.n_leaves)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"assignments file {assignments_path}: {exc}") from None
    return leaf, f"assignments {assignments_path}"


def load_tree_and_stats(
    tree_path: Path,
    logits_path: Path | None = None,
    assignments_path: Path | None = None,
    labels_path: Path | None = None,
    class_names_path: Path | None = None,
    leaf_names_path: Path | None = None,
    key: str | None = None,
    groups_path: Path | None = None,
    *,
    return_leaf: bool = False,
) -> Any:
    """Read the tree and build its :class:`~l2h.render.LeafStats` from the given files (the views):
    ``(tree, stats)``, or ``(tree, stats, leaf)`` with ``return_leaf`` (every point's leaf; None
    without points)."""

    if logits_path is not None and assignments_path is not None:
        raise click.UsageError("give at most one of --logits and --assignments")
    needs_points = [
        opt
        for opt, value in (("--labels", labels_path), ("--class-names", class_names_path), ("--groups", groups_path))
        if value is not None
    ]
    if needs_points and logits_path is None and assignments_path is None:
        raise click.UsageError(f"{needs_points[0]} needs the points' leaves: give --logits or --assignments")
    if labels_path is None and (class_names_path is not None or groups_path is not None):
        raise click.UsageError(f"{'--class-names' if class_names_path else '--groups'} needs --labels")

    tree = read_tree_file(tree_path, leaf_names_path)
    if logits_path is None and assignments_path is None:
        return (tree, LeafStats(), None) if return_leaf else (tree, LeafStats())
    check_leaf_ids(tree, tree_path, leaf_names_path)  # points name leaves by id: a named Newick is ambiguous
    leaf, source = point_leaves(tree, tree_path, logits_path, assignments_path, key)
    if labels_path is None:
        return (tree, leaf_stats(tree, leaf), leaf) if return_leaf else (tree, leaf_stats(tree, leaf))

    labels = read_labels(labels_path)
    if labels.shape[0] != leaf.shape[0]:
        raise InputError(
            f"labels file {labels_path} has {labels.shape[0]} labels but {source} give {leaf.shape[0]} points"
        )
    codes, names, _ = encode_labels_with_names(labels, class_names_path)
    groups = read_groups(groups_path, names, codes) if groups_path is not None else None
    stats = leaf_stats(tree, leaf, codes, class_names=names, class_groups=groups)
    return (tree, stats, leaf) if return_leaf else (tree, stats)
