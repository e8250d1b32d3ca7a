"""``l2h export``: a hierarchy in other tools' formats (``l2h export itol``).

Also home of the options shared by the views (``export itol``, ``show``, ``plot``): the points'
leaves (``--logits`` or ``--assignments``), their labels, class names and class groups, loaded into
one :class:`l2h.render.LeafStats`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from l2h_cli._common import stderr_console, stdout_console

_FILE = click.Path(path_type=Path, dir_okay=False)


def leaf_data_options(groups: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator adding ``--logits/--assignments/--labels/--label-names/--leaf-names/--key`` (and
    ``--groups``) to a view command."""
    options = [
        click.option(
            "--logits",
            "logits_path",
            type=_FILE,
            default=None,
            help="The flat model's logits (N x K); each point's leaf is their argmax.",
        ),
        click.option(
            "--assignments",
            "assignments_path",
            type=_FILE,
            default=None,
            help="Leaf id (0..K-1) of every point, instead of --logits.",
        ),
        click.option(
            "--labels",
            "labels_path",
            type=_FILE,
            default=None,
            help="Ground truth per point: integer .npy, or a text file with one label per line.",
        ),
        click.option(
            "--label-names",
            "label_names_path",
            type=_FILE,
            default=None,
            help="Text file naming the integer classes, one name per line.",
        ),
        click.option(
            "--leaf-names",
            "leaf_names_path",
            type=_FILE,
            default=None,
            help="Match Newick leaves by these names (one per line, in cluster-id order); needed with "
            "points when the Newick names its leaves (`l2h build --names`).",
        ),
        click.option("--key", default=None, help="Array name inside an .npz (or .pt dict) of logits."),
    ]
    if groups:
        options.append(
            click.option(
                "--groups",
                "groups_path",
                type=_FILE,
                default=None,
                help="Class -> group map: 'class<TAB>group' lines, or one group per class id line.",
            )
        )

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def load_tree_and_stats(
    tree_path: Path,
    logits_path: Path | None = None,
    assignments_path: Path | None = None,
    labels_path: Path | None = None,
    label_names_path: Path | None = None,
    leaf_names_path: Path | None = None,
    key: str | None = None,
    groups_path: Path | None = None,
):
    """Read the tree and build its :class:`~l2h.render.LeafStats` from the given files.

    Returns
    -------
    tree : Hierarchy
    stats : LeafStats
    """
    import numpy as np
    from l2h_cli._inputs import check_leaf_ids, read_labels, read_tree_file

    from l2h.io import InputError, load_array, read_names
    from l2h.render import LeafStats, leaf_stats

    if logits_path is not None and assignments_path is not None:
        raise click.UsageError("give at most one of --logits and --assignments")
    needs_points = [
        opt
        for opt, value in (("--labels", labels_path), ("--label-names", label_names_path), ("--groups", groups_path))
        if value is not None
    ]
    if needs_points and logits_path is None and assignments_path is None:
        raise click.UsageError(f"{needs_points[0]} needs the points' leaves: give --logits or --assignments")
    if labels_path is None and (label_names_path is not None or groups_path is not None):
        raise click.UsageError(f"{'--label-names' if label_names_path else '--groups'} needs --labels")

    tree = read_tree_file(tree_path, leaf_names_path)
    if logits_path is None and assignments_path is None:
        return tree, LeafStats()
    check_leaf_ids(tree, tree_path, leaf_names_path)  # points name leaves by id: a named Newick is ambiguous

    from l2h.metrics import check_assignments, encode_labels

    if logits_path is not None:
        logits = load_array(logits_path, key=key, name="logits")
        if logits.ndim == 2 and logits.shape[1] != tree.n_leaves:
            raise InputError(
                f"tree {tree_path} has {tree.n_leaves} leaves but logits {logits_path} have "
                f"{logits.shape[1]} columns (clusters)"
            )
        leaf = tree.assign(logits)
        source = f"logits {logits_path}"
    else:
        try:
            leaf = check_assignments(np.asarray(load_array(assignments_path, name="assignments")), tree.n_leaves)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"assignments file {assignments_path}: {exc}") from None
        source = f"assignments {assignments_path}"
    if labels_path is None:
        return tree, leaf_stats(tree, leaf)

    labels = read_labels(labels_path)
    if labels.shape[0] != leaf.shape[0]:
        raise InputError(
            f"labels file {labels_path} has {labels.shape[0]} labels but {source} give {leaf.shape[0]} points"
        )
    codes, classes = encode_labels(labels)
    names = [str(c) for c in classes]
    if label_names_path is not None:
        if labels.dtype.kind in "US":
            raise InputError("--label-names only applies to integer labels; these labels are names already")
        if not np.array_equal(classes, np.arange(len(classes))):
            raise InputError("--label-names needs labels that are class ids 0..C-1")
        given = read_names(label_names_path, name="--label-names")
        if len(given) < len(classes):
            raise InputError(
                f"--label-names file {label_names_path} has {len(given)} names but the labels "
                f"go up to {len(classes) - 1}"
            )
        names = given
    groups = None
    if groups_path is not None:
        from l2h.itol import read_class_groups

        present = np.flatnonzero(np.bincount(codes, minlength=len(names)))
        groups = read_class_groups(groups_path, names, present)
    return tree, leaf_stats(tree, leaf, codes, class_names=names, class_groups=groups)


@click.group("export")
def export() -> None:
    """Export a hierarchy for other tools (iTOL)."""


@export.command("itol", short_help="Write an iTOL bundle: tree.nwk plus annotation files.")
@click.option(
    "--tree",
    "tree_path",
    type=_FILE,
    required=True,
    help="Hierarchy file (.nwk/.newick, .json or .npy linkage), e.g. from `l2h build`.",
)
# No file_okay=False: an existing file at --out is bad data (exit 1, one line), not a usage error.
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for the bundle (created if missing; our files in it are replaced).",
)
@leaf_data_options()
def itol(
    tree_path: Path,
    out_dir: Path,
    logits_path: Path | None,
    assignments_path: Path | None,
    labels_path: Path | None,
    label_names_path: Path | None,
    leaf_names_path: Path | None,
    key: str | None,
    groups_path: Path | None,
) -> None:
    """Write an iTOL bundle: tree.nwk plus label, colour-strip, bar and clade-colour annotations."""
    from l2h.itol import TREE_FILE, itol_bundle, write_itol_bundle

    tree, stats = load_tree_and_stats(
        tree_path, logits_path, assignments_path, labels_path, label_names_path, leaf_names_path, key, groups_path
    )
    bundle = itol_bundle(tree, stats)
    written = write_itol_bundle(bundle, out_dir)
    out = stdout_console()
    out.print(f"iTOL bundle -> {out_dir}", highlight=False)
    for path in written:
        out.print(f"  {path.name}", highlight=False)
    err = stderr_console()
    for name, why in bundle.skipped.items():
        err.print(f"skipped {name}: {why}", highlight=False)
    renamed = sum(i != n for i, n in zip(bundle.ids, tree.leaf_names, strict=True))
    if renamed:
        err.print(f"note: {renamed} leaf names were changed into safe iTOL IDs (see tree.nwk)", highlight=False)
    # say only what this bundle holds: without labels or points it is tree.nwk alone
    annotations = [path.name for path in written if path.name != TREE_FILE]
    upload = f"Upload {TREE_FILE} at https://itol.embl.de/upload.cgi"
    if not annotations:
        out.print(
            f"{upload} (no annotation files: give --logits or --assignments, and --labels, for them).", highlight=False
        )
    else:
        what = annotations[0] if len(annotations) == 1 else "the itol_*.txt files"
        out.print(f"{upload}, then drag {what} onto the tree.", highlight=False)
