"""``l2h plot``: a dendrogram picture (and a class-distance heatmap) of a hierarchy."""

from __future__ import annotations

from pathlib import Path

import click
from l2h_cli._common import print_line
from l2h_cli._inputs import (
    FILE,
    dpi_option,
    examples,
    k_option,
    leaf_data_options,
    load_tree_and_stats,
    out_option,
    quiet_option,
    tree_argument,
)

from l2h.files import OutputSet
from l2h.plot import check_figure_path, figure_bytes, plot_class_distances, plot_dendrogram


@click.command(
    "plot",
    short_help="Draw the dendrogram picture (and a class-distance heatmap).",
    epilog=examples(
        "l2h plot tree.nwk -o tree.png", "l2h plot tree.nwk --logits logits.npy --labels labels.npy --k 50 -o tree.pdf"
    ),
)
@tree_argument
@out_option("Dendrogram picture: .png, .svg or .pdf.", required=True)
@click.option(
    "--class-distances",
    "heatmap_out",
    type=FILE,
    default=None,
    help="Also draw the class-distance heatmap into this .png/.svg/.pdf (needs --labels).",
)
@leaf_data_options()
@click.option("--title", default=None, help="Title of the dendrogram (default: none).")
@k_option(
    "Draw the tree cut into its top k groups; folded subtrees are triangles labelled with their size and "
    "majority class.",
    default=100,
    old="--max-leaves",
)
@click.option(
    "--layout",
    type=click.Choice(["rectangular", "radial"]),
    default="rectangular",
    show_default=True,
    help="Root on the left, or in the centre with the tips on a circle (large trees).",
)
@dpi_option
@quiet_option("No lines on where the pictures were written.")
def plot(
    tree_path: Path,
    out: Path,
    heatmap_out: Path | None,
    logits_path: Path | None,
    assignments_path: Path | None,
    labels_path: Path | None,
    class_names_path: Path | None,
    leaf_names_path: Path | None,
    key: str | None,
    groups_path: Path | None,
    title: str | None,
    k: int,
    layout: str,
    dpi: int,
    quiet: bool,
) -> None:
    """Draw the dendrogram (leaves coloured by group) and, optionally, the class-distance heatmap."""

    for option, path in (("--out", out), ("--class-distances", heatmap_out)):
        if path is not None:
            try:
                check_figure_path(path)
            except ValueError as exc:  # a bad output name is bad input (exit 1, one line), as in l2h build
                raise click.ClickException(f"{option}: {exc}") from None
    if heatmap_out is not None and labels_path is None:
        raise click.UsageError("--class-distances needs --labels (and --logits or --assignments)")

    inputs = {
        "tree": tree_path,
        "--logits": logits_path,
        "--assignments": assignments_path,
        "--labels": labels_path,
        "--class-names": class_names_path,
        "--leaf-names": leaf_names_path,
        "--groups": groups_path,
    }
    with OutputSet(inputs=inputs, outputs={"--out": out, "--class-distances": heatmap_out}) as outputs:
        tree, stats = load_tree_and_stats(
            tree_path, logits_path, assignments_path, labels_path, class_names_path, leaf_names_path, key, groups_path
        )
        _stage_figure(outputs, out, plot_dendrogram(tree, stats, title=title, max_leaves=k, layout=layout), dpi)
        if heatmap_out is not None:
            _stage_figure(outputs, heatmap_out, plot_class_distances(tree, stats), dpi)
    if quiet:
        return
    print_line(f"dendrogram -> {out}")
    if heatmap_out is not None:
        print_line(f"class distances -> {heatmap_out}")


def _stage_figure(outputs, path: Path, fig, dpi: int) -> None:
    """Stage ``fig`` as ``path`` (format from the suffix), as :func:`l2h.plot.save_figure` writes it."""

    # figure_bytes: TrueType fonts in PDF and <text> in SVG (l2h.plot.PAPER_RC)
    outputs.write_bytes(path, figure_bytes(fig, check_figure_path(path), dpi))
