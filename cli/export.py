"""``l2h export``: a hierarchy in other tools' formats (``l2h export itol``)."""

from __future__ import annotations

from pathlib import Path

import click
from l2h_cli._common import print_line, stderr_console, stdout_console
from l2h_cli._inputs import examples, leaf_data_options, load_tree_and_stats, quiet_option, tree_argument

from l2h.files import OutputSet
from l2h.itol import TREE_FILE, bundle_paths, itol_bundle, stage_itol_bundle
from l2h.text import markup_safe


@click.group("export", epilog=examples("l2h export itol tree.nwk --logits logits.npy --labels labels.npy -o itol/"))
def export() -> None:
    """Export a hierarchy for other tools (iTOL)."""


@export.command(
    "itol",
    short_help="Write an iTOL bundle: tree.nwk plus annotation files.",
    epilog=examples("l2h export itol tree.nwk --logits logits.npy --labels labels.npy -o itol/"),
)
@tree_argument
# No file_okay=False: an existing file at --out is bad data (exit 1, one line), not a usage error.
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for the bundle (created if missing; our files in it are replaced).",
)
@leaf_data_options()
@quiet_option("Print nothing but errors.")
def itol(
    tree_path: Path,
    out_dir: Path,
    logits_path: Path | None,
    assignments_path: Path | None,
    labels_path: Path | None,
    class_names_path: Path | None,
    leaf_names_path: Path | None,
    key: str | None,
    groups_path: Path | None,
    quiet: bool,
) -> None:
    """Write an iTOL bundle: tree.nwk plus label, colour-strip, bar and clade-colour annotations."""

    files = bundle_paths(out_dir)  # a folder (or one to create) that can hold the bundle, before any work
    inputs = {
        "tree": tree_path,
        "--logits": logits_path,
        "--assignments": assignments_path,
        "--labels": labels_path,
        "--class-names": class_names_path,
        "--leaf-names": leaf_names_path,
        "--groups": groups_path,
    }
    # The bundle owns its file names in --out: every one is written, or removed when this bundle
    # lacks it (the folder never mixes two runs), so none of them may be an input.
    with OutputSet(inputs=inputs, outputs={"--out": files}, create_folders=[out_dir]) as outputs:
        tree, stats = load_tree_and_stats(
            tree_path, logits_path, assignments_path, labels_path, class_names_path, leaf_names_path, key, groups_path
        )
        bundle = itol_bundle(tree, stats)
        written = stage_itol_bundle(outputs, bundle, out_dir)
    if not quiet:
        _print_bundle(tree, bundle, written, out_dir)


def _print_bundle(tree, bundle, written: list[Path], out_dir: Path) -> None:  # noqa: ANN001 - l2h types
    """Where the bundle went, what was skipped, and how to upload it."""

    out = stdout_console()
    print_line(f"iTOL bundle -> {out_dir}")
    for path in written:
        print_line(f"  {path.name}")
    err = stderr_console()
    for name, why in bundle.skipped.items():
        err.print(f"skipped {name}: {markup_safe(why)}", highlight=False)
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
