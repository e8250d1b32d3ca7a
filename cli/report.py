"""``l2h report``: one self-contained, offline HTML file to explore a hierarchy."""

from __future__ import annotations

from pathlib import Path

import click
from l2h_cli._common import stdout_console

_FILE = click.Path(path_type=Path, dir_okay=False)


def view_options(func):  # noqa: ANN001, ANN201 - a click decorator
    """The views' data options, spelled as every view spells them (team vocabulary)."""
    options = [
        click.option("--logits", "logits_path", type=_FILE, default=None, help="The flat model's logits (N x K)."),
        click.option(
            "--assignments", "assignments_path", type=_FILE, default=None, help="Leaf id (0..K-1) of every point."
        ),
        click.option("--labels", "labels_path", type=_FILE, default=None, help="Ground truth per point."),
        click.option("--class-names", "class_names_path", type=_FILE, default=None, help="Line i names class id i."),
        click.option("--leaf-names", "leaf_names_path", type=_FILE, default=None, help="Line j names cluster/leaf j."),
        click.option("--key", default=None, help="Array name inside an .npz (or .pt dict) of logits."),
        click.option(
            "--groups", "groups_path", type=_FILE, default=None, help="Class -> group map ('class<TAB>group' lines)."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command("report", short_help="Write one offline HTML file to explore the tree (and example images).")
@click.argument("tree_path", metavar="TREE", type=_FILE)
@click.option("--out", "-o", "out", type=_FILE, required=True, help="The HTML file to write.")
@view_options
@click.option(
    "--images",
    "images_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The points' images: a folder (files sorted by path), a paths.txt (one per line, e.g. from "
    "`l2h logits`), or an .npy of images N x H x W [x C]. Needs --logits or --assignments.",
)
@click.option(
    "--per-leaf",
    type=click.IntRange(min=0, max=256),
    default=16,
    show_default=True,
    help="Thumbnails per leaf: its most confident points (with --logits; else its first points).",
)
@click.option(
    "--max-thumbnails",
    type=click.IntRange(min=0),
    default=4000,
    show_default=True,
    help="Most thumbnails in the file (bounds its size: about 1-2 KB each); fewer per leaf when needed.",
)
@click.option("--title", default=None, help="Title of the page (default: 'L2H tree: K leaves').")
def report(
    tree_path: Path,
    out: Path,
    logits_path: Path | None,
    assignments_path: Path | None,
    labels_path: Path | None,
    class_names_path: Path | None,
    leaf_names_path: Path | None,
    key: str | None,
    groups_path: Path | None,
    images_path: Path | None,
    per_leaf: int,
    max_thumbnails: int,
    title: str | None,
) -> None:
    """Write one self-contained HTML file (no network request) to explore the tree: fold and zoom,
    rectangular or radial, per-node composition, search, level-k cut and example images."""
    import numpy as np

    from l2h.files import OutputSet

    if images_path is not None and logits_path is None and assignments_path is None:
        raise click.ClickException("--images needs the points' leaves: give --logits or --assignments")
    inputs = {
        "TREE": tree_path,
        "--logits": logits_path,
        "--assignments": assignments_path,
        "--labels": labels_path,
        "--class-names": class_names_path,
        "--leaf-names": leaf_names_path,
        "--groups": groups_path,
        "--images": images_path,
    }
    with OutputSet(inputs=inputs, outputs={"--out": out}) as outputs:
        from l2h_cli.export import load_tree_and_stats

        from l2h.report import build_report, load_images

        tree, stats = load_tree_and_stats(
            tree_path, logits_path, assignments_path, labels_path, class_names_path, leaf_names_path, key, groups_path
        )
        leaf = confidence = images = None
        if images_path is not None:
            from l2h.io import load_array

            if logits_path is not None:
                logits = load_array(logits_path, key=key, name="logits")
                leaf = tree.assign(logits)
                confidence = _max_probability(logits)
            else:
                leaf = np.asarray(load_array(assignments_path, name="assignments")).astype(np.int64)
            images = load_images(images_path, len(leaf))
        page = build_report(
            tree,
            stats,
            title=title,
            assignments=leaf,
            confidence=confidence,
            images=images,
            per_leaf=per_leaf,
            max_thumbnails=max_thumbnails,
        )
        outputs.write_text(out, page)
    size = len(page.encode("utf-8"))
    stdout_console().print(f"report -> {out} ({size / 1e6:.1f} MB)", highlight=False, markup=False)


def _max_probability(logits, chunk: int = 65536):  # noqa: ANN001, ANN202
    """Largest softmax probability of every row, in chunks (memory maps stay maps)."""
    import numpy as np

    out = np.empty(logits.shape[0])
    for lo in range(0, logits.shape[0], chunk):
        block = np.asarray(logits[lo : lo + chunk], dtype=np.float64)
        block = block - block.max(axis=1, keepdims=True)
        out[lo : lo + chunk] = 1.0 / np.exp(block).sum(axis=1)
    return out
