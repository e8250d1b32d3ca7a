"""Pictures of a hierarchy: a dendrogram and a class-distance heatmap (the ``plot`` extra).

matplotlib is imported only inside these functions and never through ``pyplot``: figures are plain
:class:`matplotlib.figure.Figure` objects drawn by the Agg canvas, so no global backend is changed
and no display is needed.  Without matplotlib every function raises an ``ImportError`` whose message
is the install command, ``pip install "l2h[plot]"``.

Paper-ready by default: :func:`save_figure` embeds TrueType fonts in PDF (``pdf.fonttype 42``, no
Type 3) and keeps text as ``<text>`` in SVG (``svg.fonttype none``); no title unless asked; the axis
shows merge heights when the tree has them and is left out for L2H trees (whose heights are only the
merge order); :func:`plot_dendrogram` draws into a given ``ax`` for multi-panel figures, folds the
tree to its top ``k`` groups and has a radial layout for large trees.  The dendrogram is
laid out with explicit loops over the merges (no recursion, unlike scipy's ``dendrogram``), so a
100 000-deep caterpillar draws like any other tree.

Examples
--------
>>> from l2h import Hierarchy
>>> from l2h.plot import plot_dendrogram, save_figure
>>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "car", "bus"])
>>> fig = plot_dendrogram(tree, title="toy")
>>> save_figure(fig, "toy.pdf")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from l2h.annotate import LeafStats, NodeCounts, clade_keys, folded_nodes, group_colors, one_line, percent
from l2h.hierarchy import Hierarchy, check_k

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FIGURE_SUFFIXES",
    "PAPER_RC",
    "class_order",
    "dendrogram_layout",
    "gallery_rows",
    "plot_class_distances",
    "plot_dendrogram",
    "plot_gallery",
    "save_figure",
]

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
INSTALL_HINT = 'pictures need matplotlib; install it with: pip install "l2h[plot]"'
NEUTRAL = "#555555"
LAYOUTS = ("rectangular", "radial")
#: Smallest tip label drawn, in points; rows closer than that get every n-th label only.
MIN_LABEL_PT = 4.5
#: A label's font size may be this share of the distance between two rows (the rest is gap).
LABEL_FILL = 0.8
#: matplotlib settings :func:`save_figure` applies: TrueType (Type 42) fonts in PDF/PS, text kept as
#: ``<text>`` in SVG.  Use them with ``matplotlib.rc_context(PAPER_RC)`` when saving a figure yourself.
PAPER_RC: dict[str, Any] = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none"}


class _Unset:
    """The default of a renamed keyword: tells "not given" from None."""


_UNSET = _Unset()


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return matplotlib, Figure


def check_figure_path(path: str | os.PathLike[str]) -> str:
    """The format (``png``, ``svg``, ``pdf``) of an output path, from its suffix.

    Parameters
    ----------
    path : str or os.PathLike
        The picture file to write (the suffix is case-insensitive).

    Returns
    -------
    str
        ``"png"``, ``"svg"`` or ``"pdf"``.

    Raises
    ------
    ValueError
        For any other suffix.

    Examples
    --------
    >>> check_figure_path("tree.PNG")
    'png'
    >>> check_figure_path("tree.jpg")
    Traceback (most recent call last):
        ...
    ValueError: cannot tell the picture format of tree.jpg; use one of .png, .svg, .pdf
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise ValueError(f"cannot tell the picture format of {path}; use one of {', '.join(FIGURE_SUFFIXES)}")
    return suffix[1:]


def figure_bytes(fig: Figure, fmt: str, dpi: int = 150) -> bytes:
    """``fig`` encoded as ``png``, ``svg`` or ``pdf`` with :data:`PAPER_RC` (TrueType, SVG text).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to encode (tight bounding box).
    fmt : {"png", "svg", "pdf"}
        The picture format.
    dpi : int, default 150
        Resolution of raster output.

    Returns
    -------
    bytes
        The encoded picture (metadata names l2h as the creator).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> figure_bytes(Figure(figsize=(1, 1)), "svg")[:5]
    b'<?xml'
    """
    matplotlib, _ = _matplotlib()
    buffer = io.BytesIO()
    metadata = {"Software": "l2h"} if fmt == "png" else {"Creator": "l2h"} if fmt == "pdf" else None
    # a constrained layout already fits everything in the figure: "tight" would draw it twice
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    bbox = None if isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine) else "tight"
    with matplotlib.rc_context(PAPER_RC):
        fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches=bbox, metadata=metadata)
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 150) -> None:
    """Save ``fig`` atomically; the format comes from the suffix (.png, .svg or .pdf).

    PDF embeds TrueType fonts and SVG keeps text as ``<text>`` elements (see :data:`PAPER_RC`).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    path : str or os.PathLike
        The output file; its suffix picks the format.
    dpi : int, default 150
        Resolution of PNG output.

    Raises
    ------
    ValueError
        If the suffix is not .png, .svg or .pdf.
    InputError
        If the file cannot be written (missing folder, no permission, full disk).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from matplotlib.figure import Figure
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_figure(Figure(figsize=(1, 1)), pathlib.Path(tmp, "empty.svg"))
    ...     pathlib.Path(tmp, "empty.svg").read_bytes()[:5]
    b'<?xml'
    """
    from l2h.files import write_atomic

    fmt = check_figure_path(path)
    write_atomic(path, figure_bytes(fig, fmt, dpi))


# ---------------------------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class DendrogramLayout:
    """Where every drawn node of a (possibly folded) dendrogram goes.

    Attributes
    ----------
    tips : ndarray of int64, shape (M,)
        Node ids drawn at the tips, in drawing order: leaves, or folded subtrees (internal nodes).
    internal : ndarray of int64
        Drawn internal nodes above the tips, children before parents.
    position : dict of int to float
        Position across the tree (tip ``i`` at ``i``; a node halfway between its children).
    level : dict of int to float
        Position along the tree: the merge height, or (``heights=False``) the number of drawn merges
        on the longest path down to a tip (tips at 0).
    children : dict of int to tuple of int
        The two drawn children of every drawn internal node.
    heights : bool
        True when ``level`` holds merge heights.
    """

    tips: np.ndarray
    internal: np.ndarray
    position: dict[int, float]
    level: dict[int, float]
    children: dict[int, tuple[int, int]]
    heights: bool


def has_heights(tree: Hierarchy) -> bool:
    """False for trees whose heights are only the merge steps ``1..K-1`` (L2H trees, Newick without lengths).

    Parameters
    ----------
    tree : Hierarchy
        The tree.

    Returns
    -------
    bool
        Whether the merge heights carry information beyond the merge order.

    Examples
    --------
    >>> from l2h import Hierarchy
    >>> has_heights(Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]]))
    False
    >>> has_heights(Hierarchy.from_linkage([[0, 1, 0.5, 2], [2, 3, 1.5, 3]]))
    True
    """
    return not np.array_equal(tree.heights, np.arange(1, tree.n_leaves, dtype=np.float64))


def dendrogram_layout(tree: Hierarchy, max_leaves: int | None = None, heights: bool | None = None) -> DendrogramLayout:
    """Lay out the tree cut to its top ``max_leaves`` groups (all leaves when None or >= K).

    ``heights`` (default: :func:`has_heights`) places nodes by merge height; otherwise by levels, as
    a cladogram.  Loops over merges only: O(K) time at any depth.

    Parameters
    ----------
    tree : Hierarchy
        The tree.
    max_leaves : int, optional
        Number of tips to draw; deeper subtrees are folded into one tip each.
    heights : bool, optional
        Place nodes by merge height (True) or by level (False); by default :func:`has_heights`.

    Returns
    -------
    DendrogramLayout
        Tips, drawn internal nodes, and the position and level of every drawn node.

    Examples
    --------
    >>> from l2h import Hierarchy
    >>> layout = dendrogram_layout(Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]]), max_leaves=2)
    >>> layout.tips.tolist(), layout.position[6], layout.level
    ([4, 5], 0.5, {4: 1.0, 5: 1.0, 6: 2.0})
    """
    k = tree.n_leaves
    m = k if max_leaves is None else max(1, min(int(max_leaves), k))
    if heights is None:
        heights = has_heights(tree)
    tips = tree.leaf_order.copy() if m == k else folded_nodes(tree, m)
    first = k + (k - m)  # merges from this node id on are drawn
    merges = tree.merges
    height = tree.heights
    position = {int(v): float(i) for i, v in enumerate(tips)}
    level: dict[int, float] = {}
    for v in tips:
        v = int(v)
        level[v] = float(height[v - k]) if (heights and v >= k) else 0.0
    children: dict[int, tuple[int, int]] = {}
    internal = np.arange(first, tree.n_nodes, dtype=np.int64)
    for v in internal.tolist():
        a, b = (int(c) for c in merges[v - k])
        children[v] = (a, b)
        position[v] = (position[a] + position[b]) / 2
        level[v] = float(height[v - k]) if heights else max(level[a], level[b]) + 1.0
    if not heights:  # a folded tip is one level above the leaves, so its triangle has room
        for v in tips.tolist():
            if v >= k:
                level[v] = 1.0 if m < k else 0.0
        for v in internal.tolist():
            a, b = children[v]
            level[v] = max(level[a], level[b]) + 1.0
    return DendrogramLayout(tips, internal, position, level, children, bool(heights))


def _tip_labels(tree: Hierarchy, stats: LeafStats, tips: np.ndarray, counts: NodeCounts | None) -> list[str]:
    k = tree.n_leaves
    sizes = counts.sizes(tips) if counts is not None else None
    majority = counts.majority(tips) if counts is not None else None
    out = []
    for i, v in enumerate(tips.tolist()):
        if v < k:
            label = one_line(tree.leaf_names[v])
        else:
            label = f"n{v}: {int(tree.leaf_counts[v]):,} leaves"
        if majority is not None:
            c = int(majority[0][i])
            label += "  (no points)" if c < 0 else f"  {one_line(stats.class_name(c))} {percent(majority[1][i])}"
        if sizes is not None:
            label += f"  n={int(sizes[i]):,}"
        out.append(label)
    return out


def plot_dendrogram(
    tree: Hierarchy,
    stats: LeafStats | None = None,
    *,
    ax: Axes | None = None,
    k: int | None = 100,
    layout: str = "rectangular",
    title: str | None = None,
    axis: bool | None = None,
    width: float | None = None,
    font_size: float | None = None,
    max_leaves: int | None | _Unset = _UNSET,
) -> Figure:
    """Dendrogram of ``tree``, root on the left (or in the centre), one labelled row per tip.

    With labels in ``stats`` every tip label reads ``name  majority-class purity%  n=points`` and is
    coloured by its group (the group of its majority class, or that class without groups), clades
    whose leaves all share a group have branches of that colour, and a legend lists the groups (up
    to 40).  Trees with more than ``k`` leaves are cut to their top ``k`` groups
    (the level-``k`` cut, :meth:`l2h.Hierarchy.cut`); each folded subtree is a triangle labelled with its number of
    leaves and its majority class.

    Parameters
    ----------
    tree : Hierarchy
    stats : LeafStats, optional
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (e.g. one panel of a larger figure); by default a new figure is made.
        Returned is the axes' figure.
    k : int or None
        Most tips drawn: the tree folded to its ``k`` groups (default 100); None draws every leaf.
    layout : {"rectangular", "radial"}
        ``radial`` puts the root in the centre and the tips on a circle (large trees).
    title : str, optional
        No title by default.
    axis : bool, optional
        Draw the height axis; default: only for trees with merge heights (:func:`has_heights`).
        L2H trees are drawn as cladograms (one level per merge), where an axis would mean nothing.
    width : float, optional
        Figure width in inches (new figures only); the height follows the number of tips.
    font_size : float, optional
        Largest tip label size in points (default 8).  Labels shrink to fit their rows; below
        ``MIN_LABEL_PT`` only every n-th tip is labelled, so that no two labels overlap at any ``k``.
    max_leaves : int or None, optional
        Former name of ``k``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from l2h import Hierarchy
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> fig = plot_dendrogram(tree, k=2)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['n4: 2 leaves', 'n5: 2 leaves']
    """
    _, Figure = _matplotlib()
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    if not isinstance(max_leaves, _Unset):  # the former name of k
        k = max_leaves
    if k is not None and (isinstance(k, bool) or int(k) < 1):
        raise ValueError(f"k must be a positive integer or None; got {k!r}")
    stats = stats or LeafStats()
    geometry = dendrogram_layout(tree, k, heights=None)
    show_axis = geometry.heights if axis is None else bool(axis)
    if axis and not geometry.heights:
        geometry = dendrogram_layout(tree, k, heights=True)
    m = len(geometry.tips)
    radial = layout == "radial"
    made = ax is None
    if ax is None:
        if radial:
            side = width or min(max(6.0, 0.09 * m + 3.0), 30.0)
            fig = Figure(figsize=(side, side), layout="constrained")
        else:
            fig = Figure(figsize=(width or 8.0, min(max(2.5, 0.17 * m + 1.2), 60.0)), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    counts = NodeCounts(tree, stats) if stats.sizes is not None else None
    keys = stats.leaf_groups() if stats.has_labels else [None] * tree.n_leaves
    colors = group_colors(tree, stats) if stats.has_labels else {}
    node_key = clade_keys(tree, keys)
    labels = _tip_labels(tree, stats, geometry.tips, counts)
    tip_colors = _tip_colors(tree, stats, geometry.tips, counts, node_key, colors)
    size = font_size or 8.0
    if radial:
        _draw_radial(ax, tree, geometry, node_key, colors, labels, tip_colors, size)
    else:
        _draw_rectangular(ax, tree, geometry, node_key, colors, labels, tip_colors, size, show_axis)
    if title:
        ax.set_title(title, loc="left")
    if colors and len(colors) <= 40:
        from matplotlib.patches import Patch

        handles = [Patch(color=c, label=one_line(g)) for g, c in colors.items()]
        legend_title = "group" if stats.class_groups is not None else "majority class"
        if made:
            fig.legend(
                handles=handles,
                title=legend_title,
                loc="outside lower center",
                ncol=min(len(handles), 5),
                frameon=False,
                fontsize=8,
            )
        else:
            ax.legend(handles=handles, title=legend_title, frameon=False, fontsize=7, loc="best")
    if not radial:
        _fit_tick_labels(ax, labels, tip_colors, size)
    return fig


def _thin(labels: list[str], pitch: float, size: float) -> tuple[list[str], float]:
    """Labels and font size for rows ``pitch`` points apart: the size shrinks to fit the rows, and
    below :data:`MIN_LABEL_PT` only every n-th label is kept, so that no two labels overlap."""
    font = min(size, LABEL_FILL * pitch)
    if font >= min(size, MIN_LABEL_PT):
        return labels, font
    font = min(size, MIN_LABEL_PT)
    stride = int(np.ceil(font / (LABEL_FILL * pitch)))
    return [label if i % stride == 0 else "" for i, label in enumerate(labels)], font


def _fit_tick_labels(ax, labels: list[str], tip_colors: list[str | None], size: float) -> None:
    """Size (and, when the rows are too close, thin) the tip labels of the rectangular layout to
    the height their axes get once the figure is laid out."""
    fig = ax.figure
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
    height_pt = ax.get_position().height * fig.get_figheight() * 72.0
    shown, font = _thin(labels, height_pt / max(len(labels), 1), size)
    if shown is labels and font == size:
        return
    ax.set_yticks(np.arange(len(shown)), shown, fontsize=font)
    for text, colour in zip(ax.get_yticklabels(), tip_colors, strict=True):
        if colour is not None:
            text.set_color(colour)


def _tip_colors(tree, stats, tips, counts, node_key, colors) -> list[str | None]:
    """Colour of every tip label: its leaf's (or uniform clade's) group, else its majority class's group."""
    out: list[str | None] = []
    majority = counts.majority(tips) if (counts is not None and stats.has_labels) else None
    for i, v in enumerate(tips.tolist()):
        key = node_key[v]
        if key is None and majority is not None and majority[0][i] >= 0:
            c = int(majority[0][i])
            key = stats.class_groups[c] if stats.class_groups is not None else stats.class_name(c)
        out.append(colors.get(key) if key is not None else None)
    return out


def _edge_color(node_key, colors, child: int) -> str:
    key = node_key[child]
    return colors.get(key, NEUTRAL) if key is not None else NEUTRAL


def _draw_rectangular(ax, tree, geometry, node_key, colors, labels, tip_colors, size, show_axis) -> None:
    from matplotlib.collections import LineCollection, PolyCollection

    k = tree.n_leaves
    pos, lev = geometry.position, geometry.level
    segments, seg_colors = [], []
    for v, (a, b) in geometry.children.items():
        for c in (a, b):  # elbow: along at the child's position, then across at the parent's level
            segments.append([(lev[v], pos[c]), (lev[c], pos[c])])
            seg_colors.append(_edge_color(node_key, colors, c))
        segments.append([(lev[v], pos[a]), (lev[v], pos[b])])
        seg_colors.append(_edge_color(node_key, colors, v) if node_key[v] is not None else NEUTRAL)
    ax.add_collection(LineCollection(segments, colors=seg_colors, linewidths=1.0, capstyle="butt"))
    folded = [v for v in geometry.tips.tolist() if v >= k]
    if folded:
        biggest = max(int(tree.leaf_counts[v]) for v in folded)
        polys, poly_colors = [], []
        for v in folded:
            half = 0.42 * (0.35 + 0.65 * np.log1p(tree.leaf_counts[v]) / np.log1p(biggest))
            base = 0.0 if geometry.heights else -0.9
            polys.append([(lev[v], pos[v]), (base, pos[v] - half), (base, pos[v] + half)])
            poly_colors.append(_edge_color(node_key, colors, v))
        ax.add_collection(PolyCollection(polys, facecolors=poly_colors, edgecolors=poly_colors, alpha=0.55))
    root = tree.root
    low = 0.0 if geometry.heights or not folded else -0.9
    span = max(lev[root] - low, 1e-9)
    ax.set_xlim(lev[root] + 0.02 * span, low - 0.01 * span)  # root on the left, tips on the right
    ax.set_ylim(len(geometry.tips) - 0.5, -0.5)  # first tip on top
    ax.yaxis.tick_right()
    ax.set_yticks(np.arange(len(labels)), labels, fontsize=size)
    ax.tick_params(axis="y", length=0, pad=3)
    for text, colour in zip(ax.get_yticklabels(), tip_colors, strict=True):
        if colour is not None:
            text.set_color(colour)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if show_axis:
        ax.set_xlabel("merge height")
    else:
        ax.spines["bottom"].set_visible(False)
        ax.set_xticks([])


def _draw_radial(ax, tree, geometry, node_key, colors, labels, tip_colors, size) -> None:
    from matplotlib.collections import LineCollection, PolyCollection

    k = tree.n_leaves
    m = len(geometry.tips)
    pos, lev = geometry.position, geometry.level
    root = tree.root
    folded = [v for v in geometry.tips.tolist() if v >= k]
    tip_radius = 1.0
    top = max(lev[root], 1e-9)

    def radius(v: int) -> float:
        return tip_radius * (1.0 - lev[v] / top) if geometry.heights or not folded else 0.85 * (1.0 - lev[v] / top)

    def angle(p: float) -> float:
        return 2 * np.pi * p / m

    segments, seg_colors = [], []
    for v, (a, b) in geometry.children.items():
        rv = radius(v)
        for c in (a, b):
            t = angle(pos[c])
            segments.append([(rv * np.cos(t), rv * np.sin(t)), (radius(c) * np.cos(t), radius(c) * np.sin(t))])
            seg_colors.append(_edge_color(node_key, colors, c))
        t0, t1 = sorted((angle(pos[a]), angle(pos[b])))
        steps = max(2, int(np.ceil((t1 - t0) / (np.pi / 90))) + 1)
        arc = np.linspace(t0, t1, steps)
        segments.append(list(zip(rv * np.cos(arc), rv * np.sin(arc), strict=True)))
        seg_colors.append(_edge_color(node_key, colors, v) if node_key[v] is not None else NEUTRAL)
    ax.add_collection(LineCollection(segments, colors=seg_colors, linewidths=0.8, capstyle="butt"))
    if folded:
        biggest = max(int(tree.leaf_counts[v]) for v in folded)
        polys, poly_colors = [], []
        for v in folded:
            half = np.pi / m * 0.85 * (0.35 + 0.65 * np.log1p(tree.leaf_counts[v]) / np.log1p(biggest))
            t = angle(pos[v])
            r0 = radius(v)
            polys.append(
                [
                    (r0 * np.cos(t), r0 * np.sin(t)),
                    (tip_radius * np.cos(t - half), tip_radius * np.sin(t - half)),
                    (tip_radius * np.cos(t + half), tip_radius * np.sin(t + half)),
                ]
            )
            poly_colors.append(_edge_color(node_key, colors, v))
        ax.add_collection(PolyCollection(polys, facecolors=poly_colors, edgecolors=poly_colors, alpha=0.55))
    # the tips sit on a circle of radius 1.03 (data units), the axes span 3.2 units: the arc
    # between two tips, in points, bounds the font size (and thins the labels below the minimum)
    fig = ax.figure
    side_pt = min(fig.get_figwidth() * ax.get_position().width, fig.get_figheight() * ax.get_position().height) * 72
    labels, size = _thin(list(labels), 2 * np.pi * 1.03 / m * side_pt / 3.2, size)
    for i, (label, colour) in enumerate(zip(labels, tip_colors, strict=True)):
        if not label:
            continue
        t = angle(float(i))
        degrees = np.degrees(t) % 360
        flip = 90 < degrees < 270
        r = tip_radius * 1.03
        ax.text(
            r * np.cos(t),
            r * np.sin(t),
            label,
            rotation=degrees - 180 if flip else degrees,
            rotation_mode="anchor",
            ha="right" if flip else "left",
            va="center",
            fontsize=size,
            color=colour or "black",
        )
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.set_axis_off()


# ---------------------------------------------------------------------------------------------- heatmap
def class_order(tree: Hierarchy, table: np.ndarray) -> np.ndarray:
    """Classes with points, ordered by the mean drawing position of their points' leaves.

    Parameters
    ----------
    tree : Hierarchy
        The tree, K leaves.
    table : ndarray of int, shape (K, C)
        Points per (leaf, class), e.g. :attr:`LeafStats.table`.

    Returns
    -------
    ndarray of int64
        The ids of the classes with at least one point, in tree order.

    Examples
    --------
    >>> import numpy as np
    >>> from l2h import Hierarchy
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> class_order(tree, np.array([[0, 1, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0]])).tolist()
    [1, 0]
    """
    position = np.empty(tree.n_leaves)
    position[tree.leaf_order] = np.arange(tree.n_leaves)
    sizes = table.sum(axis=0)
    present = np.flatnonzero(sizes)
    mean_position = (position @ table[:, present]) / sizes[present]
    return present[np.argsort(mean_position, kind="stable")]


def plot_class_distances(
    tree: Hierarchy, stats: LeafStats, *, ax: Axes | None = None, title: str | None = None, annotate: bool | None = None
) -> Figure:
    """Heatmap of the class distance matrix (:func:`l2h.metrics.class_distance_matrix`).

    Each cell is the mean number of tree edges between the leaves of two classes' points
    (CoHiClust, Fig. 4).  Classes are ordered along the tree (:func:`class_order`), so related
    classes sit together; classes without points are left out.  The figure stays at most about 14
    inches wide whatever the number of classes C: class names are written while a cell is at least 4
    points tall (C up to about 250; 6-point names at C = 100), values in the cells for up to 25
    classes (``annotate``), and at C = 1000 the map is drawn without per-cell labels, its axes saying
    how many classes run along them.

    Parameters
    ----------
    tree : Hierarchy
        The tree.
    stats : LeafStats
        Per-leaf statistics with a class table (from assignments and labels).
    ax : matplotlib.axes.Axes, optional
        Draw into these axes; by default a new figure.
    title : str, optional
        Title above the map.
    annotate : bool, optional
        Write the values in the cells; by default when there are at most 25 classes.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the map.

    Raises
    ------
    ValueError
        If ``stats`` has no class table (no labels).

    Examples
    --------
    >>> import numpy as np
    >>> from l2h import Hierarchy
    >>> from l2h.annotate import leaf_stats
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> stats = leaf_stats(tree, np.array([0, 0, 1, 2, 3, 3, 3]), np.array([0, 0, 0, 1, 1, 1, 0]))
    >>> fig = plot_class_distances(tree, stats, title="toy")  # doctest: +SKIP
    """
    _, Figure = _matplotlib()
    from l2h.metrics import class_distance_matrix

    if stats.table is None:
        raise ValueError("the class distance heatmap needs labels")
    order = class_order(tree, stats.table)
    distances = class_distance_matrix(tree, stats.table)[np.ix_(order, order)]
    names = [one_line(stats.class_name(int(c))) for c in order]
    n = len(order)
    side = min(max(4.0, 0.11 * n + 3.0), 14.0)
    if ax is None:
        fig = Figure(figsize=(side + 1.4, side), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    image = ax.imshow(np.ma.masked_invalid(distances), cmap="viridis_r", interpolation="nearest")
    cell_pt = 72.0 * side * 0.82 / max(n, 1)  # height of one cell in points (axes ~82% of the side)
    if cell_pt >= 4.0:
        fontsize = min(8.0, max(3.5, 0.8 * cell_pt))
        ax.set_xticks(range(n), names, rotation=90, fontsize=fontsize)
        ax.set_yticks(range(n), names, fontsize=fontsize)
        ax.tick_params(length=2 if n > 40 else 3.5)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{n:,} classes, in tree order")
        ax.set_ylabel(f"{n:,} classes, in tree order")
    fig.colorbar(image, ax=ax, label="mean path length between points' leaves (edges)", shrink=0.8)
    if annotate if annotate is not None else n <= 25:
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
    if title:
        ax.set_title(title, loc="left")
    return fig


# ---------------------------------------------------------------------------------------------- gallery
def gallery_rows(
    tree: Hierarchy,
    assignments: ArrayLike,
    confidence: ArrayLike | None = None,
    *,
    level: int | None = None,
    per_row: int = 12,
) -> list[tuple[int, np.ndarray]]:
    """The rows of :func:`plot_gallery`, one per leaf or per node of a cut, in drawing order.

    Every leaf (or every node of the level-``level`` cut) comes with the indices of its ``per_row``
    most confident points (highest ``confidence``; the first ones without), most confident first.

    Parameters
    ----------
    tree : Hierarchy
        The tree, K leaves.
    assignments : ArrayLike of int, shape (N,)
        Leaf id of every point.
    confidence : ArrayLike of float, shape (N,), optional
        Confidence of every point (e.g. its top probability); by default the point order.
    level : int, optional
        Show the ``level`` nodes of the level-``level`` cut instead of every leaf.
    per_row : int, default 12
        Most points per row.

    Returns
    -------
    list of (node id, ndarray of int64)
        The node of each row and its points' indices.

    Examples
    --------
    >>> from l2h import Hierarchy
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> rows = gallery_rows(tree, [0, 0, 1, 2, 3, 3, 3], [0.1, 0.9, 0.5, 0.5, 0.2, 0.8, 0.3], level=2, per_row=2)
    >>> [(node, points.tolist()) for node, points in rows]
    [(4, [1, 2]), (5, [5, 3])]
    """
    leaf = np.asarray(assignments, dtype=np.int64)
    k = tree.n_leaves
    nodes = tree.leaf_order if level is None else folded_nodes(tree, level)
    from l2h.annotate import leaf_spans

    order, start = leaf_spans(tree)
    position = np.empty(k, dtype=np.int64)
    position[order] = np.arange(k)
    key = np.zeros(len(leaf)) if confidence is None else -np.asarray(confidence, dtype=np.float64)
    ranked = np.lexsort((np.arange(len(leaf)), key, position[leaf]))  # by drawing position, then confidence
    pos_sorted = position[leaf][ranked]
    rows = []
    for v in nodes.tolist():
        lo, hi = int(start[v]), int(start[v] + tree.leaf_counts[v])
        a, b = np.searchsorted(pos_sorted, [lo, hi])
        members = ranked[a:b]
        if hi - lo > 1:  # several leaves: the node's most confident points overall
            members = members[np.lexsort((members, key[members]))]
        rows.append((int(v), members[:per_row]))
    return rows


def plot_gallery(
    tree: Hierarchy,
    stats: LeafStats,
    images,  # noqa: ANN001 - l2h.report.ImageSource
    assignments: ArrayLike,
    confidence: ArrayLike | None = None,
    *,
    level: int | None = None,
    per_row: int = 12,
    max_rows: int = 60,
    tile: int = 48,
) -> Figure:
    """A grid picture of examples: one row per leaf (or per node of the level-``level`` cut), its
    ``per_row`` most confident points, the row labelled with the node, its majority class and purity
    and its number of points.  Rows beyond ``max_rows`` are left out (the largest nodes are kept, in
    drawing order), and the picture says so.

    Parameters
    ----------
    tree : Hierarchy
    stats : LeafStats
        From the same ``assignments`` (and labels for the majority class).
    images : l2h.report.ImageSource
        :func:`l2h.report.load_images`.
    assignments : array_like of int, shape (N,)
    confidence : array_like of float, shape (N,), optional
        E.g. every point's largest softmax probability.
    level : int, optional
        Rows are the nodes of the level-``level`` cut (``level`` groups) instead of the leaves.
    per_row, max_rows, tile : int
        Examples per row, most rows, pixels per example.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _, Figure = _matplotlib()
    if level is not None:
        check_k(level, tree.n_leaves, name="level")
    rows = gallery_rows(tree, assignments, confidence, level=level, per_row=per_row)
    dropped = 0
    if len(rows) > max_rows:
        weight = NodeCounts(tree, stats).sizes([r[0] for r in rows]) if stats.sizes is not None else None
        if weight is None:
            weight = np.array([int(tree.leaf_counts[r[0]]) for r in rows])
        keep = set(np.argsort(-np.asarray(weight), kind="stable")[:max_rows].tolist())
        dropped = len(rows) - max_rows
        rows = [r for i, r in enumerate(rows) if i in keep]
    counts = NodeCounts(tree, stats) if stats.sizes is not None else None
    nodes = np.array([r[0] for r in rows], dtype=np.int64)
    majority = counts.majority(nodes) if counts is not None else None
    sizes = counts.sizes(nodes) if counts is not None else None
    gap = max(2, tile // 16)
    width = per_row * (tile + gap)
    mosaic = np.full((len(rows) * (tile + gap), width, 3), 255, dtype=np.uint8)
    labels = []
    for r, (v, members) in enumerate(rows):
        for c, i in enumerate(members.tolist()):
            y, x = r * (tile + gap), c * (tile + gap)
            mosaic[y : y + tile, x : x + tile] = images.pixels(int(i), tile)
        if v < tree.n_leaves:
            name = one_line(tree.leaf_names[v])
            name = f"leaf {name}" if name.isdigit() else name
        else:
            name = f"n{v} ({int(tree.leaf_counts[v])} leaves)"
        text = name
        if majority is not None and majority[0][r] >= 0:
            text += f"  {one_line(stats.class_name(int(majority[0][r])))} {percent(majority[1][r])}"
        if sizes is not None:
            text += f"  n={int(sizes[r]):,}"
        labels.append(text)
    inch_per_px = 1 / 100
    fig = Figure(
        figsize=(width * inch_per_px + 2.6, max(1.0, len(rows) * (tile + gap) * inch_per_px) + 0.3),
        layout="constrained",
    )
    ax = fig.add_subplot()
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_yticks([r * (tile + gap) + tile / 2 for r in range(len(rows))], labels, fontsize=8)
    ax.tick_params(axis="y", length=0)
    ax.set_xticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    what = "leaf" if level is None else f"group of the level-{level} cut"
    note = f"one row per {what}: its {per_row} most confident points"
    if dropped:
        note += f" ({dropped} smaller rows left out)"
    ax.set_xlabel(note, fontsize=8)
    return fig
