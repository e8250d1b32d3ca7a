"""``l2h report``: one self-contained, offline HTML file to explore a hierarchy."""

from __future__ import annotations

from pathlib import Path

import click
from l2h_cli._common import print_line
from l2h_cli._inputs import (
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

from l2h.annotate import max_probability
from l2h.files import OutputSet
from l2h.hierarchy import check_k
from l2h.io import load_array
from l2h.report import build_report, image_inputs, load_images


@click.command(
    "report",
    short_help="Write one offline HTML page to explore the tree.",
    epilog=examples(
        "l2h report tree.nwk --logits logits.npy --labels labels.npy -o report.html",
        "l2h report tree.nwk --logits logits.npy --k 10 -o report.html",
    ),
)
@tree_argument
@out_option("The HTML file to write.", required=True)
@leaf_data_options()
@images_option()
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
@k_option("Open the page with the tree cut into k groups (the page's k box; default: no cut).")
@quiet_option("No line on where the report was written.")
@max_pixels_option
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
    k: int | None,
    quiet: bool,
    max_pixels: int,
) -> None:
    """Write one self-contained HTML file (no network request) to explore the tree: fold and zoom,
    rectangular or radial, per-node composition, search, level-k cut and example images."""

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
        "--images": None if images_path is None else image_inputs(images_path),
    }
    with OutputSet(inputs=inputs, outputs={"--out": out}) as outputs:
        tree, stats, leaf = load_tree_and_stats(
            tree_path,
            logits_path,
            assignments_path,
            labels_path,
            class_names_path,
            leaf_names_path,
            key,
            groups_path,
            return_leaf=True,
        )
        if k is not None:
            check_k(k, tree.n_leaves)  # before any image or row is read
        confidence = images = None
        if images_path is not None:
            if logits_path is not None:  # the leaves are known: one more pass for the confidence only
                confidence = max_probability(load_array(logits_path, key=key, name="logits"))
            images = load_images(images_path, len(leaf), max_pixels)
        page = build_report(
            tree,
            stats,
            title=title,
            assignments=leaf,
            confidence=confidence,
            images=images,
            per_leaf=per_leaf,
            max_thumbnails=max_thumbnails,
            k=k,
        )
        outputs.write_text(out, page)
    if quiet:
        return
    size = len(page.encode("utf-8"))
    print_line(f"report -> {out} ({size / 1e6:.1f} MB)")
