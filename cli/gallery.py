"""``l2h gallery``: a grid picture of the most confident examples of every leaf (or node of a level)."""

from __future__ import annotations

from pathlib import Path

import click
from l2h_cli._common import print_line
from l2h_cli._inputs import (
    dpi_option,
    examples,
    images_option,
    k_option,
    leaf_data_options,
    load_tree_and_stats,
    max_pixels_option,
    out_option,
    quiet_option,
    tree_argument,
)
from l2h_cli._views import points_and_confidence

from l2h.files import OutputSet
from l2h.hierarchy import check_k
from l2h.plot import check_figure_path, figure_bytes, plot_gallery
from l2h.report import image_inputs, load_images


@click.command(
    "gallery",
    short_help="Draw a grid of the most confident examples per leaf.",
    epilog=examples("l2h gallery tree.nwk --images images.npy --logits logits.npy --labels labels.npy -o gallery.png"),
)
@tree_argument
@images_option(required=True)
@out_option("The picture: .png, .svg or .pdf.", required=True)
@leaf_data_options()
@k_option("One row per group of the tree cut into k groups, instead of one per leaf.", old="--level")
@click.option("--per-row", type=click.IntRange(min=1, max=100), default=12, show_default=True, help="Examples per row.")
@click.option(
    "--max-rows", type=click.IntRange(min=1), default=60, show_default=True, help="Most rows (the largest are kept)."
)
@click.option("--tile", type=click.IntRange(min=8, max=256), default=48, show_default=True, help="Pixels per example.")
@dpi_option
@quiet_option("No line on where the picture was written.")
@max_pixels_option
def gallery(
    tree_path: Path,
    images_path: Path,
    out: Path,
    logits_path: Path | None,
    assignments_path: Path | None,
    labels_path: Path | None,
    class_names_path: Path | None,
    leaf_names_path: Path | None,
    key: str | None,
    groups_path: Path | None,
    k: int | None,
    per_row: int,
    max_rows: int,
    tile: int,
    dpi: int,
    quiet: bool,
    max_pixels: int,
) -> None:
    """Draw one row per leaf (or per group with --k) of its most confident examples, each row
    labelled with its majority class and purity."""

    try:
        check_figure_path(out)
    except ValueError as exc:
        raise click.ClickException(f"--out: {exc}") from None
    if logits_path is None and assignments_path is None:
        raise click.ClickException("gallery needs the points' leaves: give --logits or --assignments")
    inputs = {
        "TREE": tree_path,
        "--images": None if images_path is None else image_inputs(images_path),
        "--logits": logits_path,
        "--assignments": assignments_path,
        "--labels": labels_path,
        "--class-names": class_names_path,
        "--leaf-names": leaf_names_path,
        "--groups": groups_path,
    }
    with OutputSet(inputs=inputs, outputs={"--out": out}) as outputs:
        tree, stats = load_tree_and_stats(
            tree_path, logits_path, assignments_path, labels_path, class_names_path, leaf_names_path, key, groups_path
        )
        if k is not None:
            check_k(k, tree.n_leaves)  # before any image or row is read
        leaf, confidence = points_and_confidence(tree, tree_path, logits_path, assignments_path, key)
        images = load_images(images_path, len(leaf), max_pixels)
        fig = plot_gallery(
            tree, stats, images, leaf, confidence, level=k, per_row=per_row, max_rows=max_rows, tile=tile
        )
        outputs.write_bytes(out, figure_bytes(fig, check_figure_path(out), dpi))
    if not quiet:
        print_line(f"gallery -> {out}")
