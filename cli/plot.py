"""``l2h plot``: a dendrogram picture (and a class-distance heatmap) of a hierarchy."""

from __future__ import annotations

from pathlib import Path

import click
from l2h_cli._common import print_line
from l2h_cli._inputs import leaf_data_options, load_tree_and_stats, tree_argument

_FIGURE = click.Path(path_type=Path, dir_okay=False)


@click.command("plot", short_help="Draw the dendrogram picture (and a class-distance heatmap).")
@tree_argument
@click.option("--out", "-o", "out", type=_FIGURE, required=True, help="Dendrogram picture: .png, .svg or .pdf.")
@click.option(
    "--class-distances",
    "heatmap_out",
    type=_FIGURE,
    default=None,
    help="Also draw the class-distance heatmap into this .png/.svg/.pdf (needs --labels).",
)
@leaf_data_options()
@click.option("--title", default=None, help="Title of the dendrogram (default: none).")
@click.option(
    "--max-leaves",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Draw the tree cut to its top M groups; folded subtrees are triangles labelled with their "
    "size and majority class.",
)
@click.option(
    "--layout",
    type=click.Choice(["rectangular", "radial"]),
    default="rectangular",
    show_default=True,
    help="Root on the left, or in the centre with the tips on a circle (large trees).",
)
@click.option(
    "--dpi", type=click.IntRange(min=30, max=1200), default=150, show_default=True, help="Resolution of .png pictures."
)
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
    max_leaves: int,
    layout: str,
    dpi: int,
) -> None:
    """Draw the dendrogram (leaves coloured by group) and, optionally, the class-distance heatmap."""
    from l2h.plot import check_figure_path

    for option, path in (("--out", out), ("--class-distances", heatmap_out)):
        if path is not None:
            try:
                check_figure_path(path)
            except ValueError as exc:  # a bad output name is bad input (exit 1, one line), as in l2h build
                raise click.ClickException(f"{option}: {exc}") from None
    if heatmap_out is not None and labels_path is None:
        raise click.UsageError("--class-distances needs --labels (and --logits or --assignments)")

    from l2h.files import OutputSet
    from l2h.plot import plot_class_distances, plot_dendrogram

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
        _stage_figure(
            outputs, out, plot_dendrogram(tree, stats, title=title, max_leaves=max_leaves, layout=layout), dpi
        )
        if heatmap_out is not None:
            _stage_figure(outputs, heatmap_out, plot_class_distances(tree, stats), dpi)
    print_line(f"dendrogram -> {out}")
    if heatmap_out is not None:
        print_line(f"class distances -> {heatmap_out}")


def _stage_figure(outputs, path: Path, fig, dpi: int) -> None:
    """Stage ``fig`` as ``path`` (format from the suffix), as :func:`l2h.plot.save_figure` writes it."""
    from l2h.plot import check_figure_path, figure_bytes

    # figure_bytes: TrueType fonts in PDF and <text> in SVG (l2h.plot.PAPER_RC)
    outputs.write_bytes(path, figure_bytes(fig, check_figure_path(path), dpi))
