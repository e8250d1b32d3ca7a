"""Pictures of a hierarchy: a dendrogram and a class-distance heatmap (the ``plot`` extra).

matplotlib is imported only inside these functions and never through ``pyplot``: figures are plain
:class:`matplotlib.figure.Figure` objects drawn by the Agg canvas, so no global backend is changed
and no display is needed.  Without matplotlib every function raises an ``ImportError`` whose message
is the install command, ``pip install "l2h[plot]"``.

Examples
--------
>>> from l2h import Hierarchy
>>> from l2h.plot import plot_dendrogram, save_figure
>>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "car", "bus"])
>>> fig = plot_dendrogram(tree, title="toy")
>>> save_figure(fig, "toy.png")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from l2h.annotate import LeafStats, clade_keys, group_colors, leaf_order, percent
from l2h.hierarchy import Hierarchy

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FIGURE_SUFFIXES", "class_order", "plot_class_distances", "plot_dendrogram", "save_figure"]

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
INSTALL_HINT = 'pictures need matplotlib; install it with: pip install "l2h[plot]"'
NEUTRAL = "#555555"


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return matplotlib, Figure


def check_figure_path(path: str | os.PathLike[str]) -> str:
    """The format (``png``, ``svg``, ``pdf``) of an output path; ``ValueError`` for other suffixes."""
    suffix = Path(path).suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise ValueError(f"cannot tell the picture format of {path}; use one of {', '.join(FIGURE_SUFFIXES)}")
    return suffix[1:]


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 150) -> None:
    """Save ``fig`` atomically; the format comes from the suffix (.png, .svg or .pdf)."""
    from l2h.io import write_atomic

    fmt = check_figure_path(path)
    buffer = io.BytesIO()
    fig.savefig(
        buffer, format=fmt, dpi=dpi, bbox_inches="tight", metadata={"Software": "l2h"} if fmt == "png" else None
    )
    write_atomic(path, buffer.getvalue())


def _leaf_label(tree: Hierarchy, stats: LeafStats, leaf: int) -> str:
    label = tree.leaf_names[leaf]
    if stats.table is not None:
        c = int(stats.majority[leaf])
        label += "  (no points)" if c < 0 else f"  {stats.class_name(c)} {percent(stats.purity[leaf])}"
    if stats.sizes is not None:
        label += f"  n={int(stats.sizes[leaf]):,}"
    return label


def plot_dendrogram(
    tree: Hierarchy,
    stats: LeafStats | None = None,
    *,
    title: str | None = None,
    width: float = 8.0,
) -> Figure:
    """Dendrogram of ``tree`` drawn by :func:`scipy.cluster.hierarchy.dendrogram` on
    :meth:`Hierarchy.to_scipy`, root on the left, one labelled row per leaf.

    With labels in ``stats`` every leaf label reads ``name  majority-class purity%  n=points`` and is
    coloured by its group (the group of its majority class, or that class without groups), clades
    whose leaves all share a group have branches of that colour, and a legend lists the groups.

    Parameters
    ----------
    tree : Hierarchy
    stats : LeafStats, optional
    title : str, optional
    width : float
        Figure width in inches; the height grows with the number of leaves (0.25 in per leaf).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _, Figure = _matplotlib()
    from scipy.cluster.hierarchy import dendrogram

    stats = stats or LeafStats()
    k = tree.n_leaves
    fig = Figure(figsize=(width, min(max(2.5, 0.25 * k + 1.0), 200.0)), layout="constrained")
    ax = fig.add_subplot()
    keys = stats.leaf_groups() if stats.has_labels else [None] * k
    colors = group_colors(tree, stats) if stats.has_labels else {}
    node_key = clade_keys(tree, keys)

    def link_color(node: int) -> str:
        key = node_key[node]
        return colors[key] if key is not None else NEUTRAL

    # scipy's dendrogram recurses once per tree level; deep trees (caterpillars) need a higher limit.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 2 * int(tree.depth.max()) + 1000))
    try:
        result = dendrogram(
            tree.to_scipy(),
            ax=ax,
            orientation="left",
            labels=[_leaf_label(tree, stats, i) for i in range(k)],
            link_color_func=link_color,
            leaf_font_size=9,
        )
    finally:
        sys.setrecursionlimit(limit)
    for text, leaf in zip(ax.get_yticklabels(), result["leaves"], strict=True):
        if keys[leaf] is not None:
            text.set_color(colors[keys[leaf]])
    # L2H trees have no distances: their heights are the merge steps 1..K-1; say so on the axis.
    steps = np.array_equal(tree.heights, np.arange(1, k, dtype=np.float64))
    ax.set_xlabel("merge step" if steps else "merge height")
    if steps:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, loc="left")
    if colors and len(colors) <= 40:
        from matplotlib.patches import Patch

        handles = [Patch(color=c, label=g) for g, c in colors.items()]
        fig.legend(
            handles=handles,
            title="group" if stats.class_groups is not None else "majority class",
            loc="outside lower center",
            ncol=min(len(handles), 5),
            frameon=False,
            fontsize=8,
        )
    return fig


def class_order(tree: Hierarchy, table: np.ndarray) -> np.ndarray:
    """Classes with points, ordered by the mean drawing position of their points' leaves."""
    position = np.empty(tree.n_leaves)
    position[leaf_order(tree)] = np.arange(tree.n_leaves)
    sizes = table.sum(axis=0)
    present = np.flatnonzero(sizes)
    mean_position = (position @ table[:, present]) / sizes[present]
    return present[np.argsort(mean_position, kind="stable")]


def plot_class_distances(tree: Hierarchy, stats: LeafStats, *, title: str | None = None) -> Figure:
    """Heatmap of the class distance matrix (:func:`l2h.metrics.class_distance_matrix`): the mean
    number of tree edges between the leaves of two classes' points (CoHiClust, Fig. 4).

    Classes are ordered along the tree (:func:`class_order`), so related classes sit together;
    classes without points are left out.  Values are written in the cells for up to 25 classes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _, Figure = _matplotlib()
    from l2h.metrics import class_distance_matrix

    if stats.table is None:
        raise ValueError("the class distance heatmap needs labels")
    order = class_order(tree, stats.table)
    distances = class_distance_matrix(tree, stats.table)[np.ix_(order, order)]
    names = [stats.class_name(int(c)) for c in order]
    n = len(order)
    side = min(max(4.0, 0.32 * n + 2.0), 60.0)
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(distances), cmap="viridis_r", interpolation="nearest")
    ax.set_xticks(range(n), names, rotation=90, fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    fig.colorbar(image, ax=ax, label="mean path length between points' leaves (edges)", shrink=0.8)
    if n <= 25:
        for i in range(n):
            for j in range(n):
                value = distances[i, j]
                if np.isfinite(value):
                    # the text colour that contrasts with the cell's own colour (relative luminance)
                    r, g, b, _ = image.cmap(image.norm(value))
                    dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45
                    ax.text(
                        j, i, f"{value:.1f}", ha="center", va="center", fontsize=7, color="white" if dark else "black"
                    )
    ax.set_title(title or "class distances along the tree", loc="left")
    return fig
