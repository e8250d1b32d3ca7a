"""The terminal view of a hierarchy.

What it shows about the nodes (points, majority class, purity, group) comes from
:mod:`l2h.annotate`, shared with :mod:`l2h.itol`, :mod:`l2h.plot` and :mod:`l2h.report`
(``LeafStats``, ``leaf_stats``, ``palette`` and ``group_colors`` are part of this module's API too).
:func:`tree_lines` lays the tree out as text lines (pure, testable); :func:`render_tree` wraps them
for rich.  Long caterpillar chains (each merge adds a single leaf to the group built so far) are
drawn as one node listing the leaves they add, so a K-leaf caterpillar does not indent K levels.

Examples
--------
>>> from l2h import Hierarchy
>>> from l2h.render import tree_lines
>>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "car", "bus"])
>>> print("\\n".join(line.plain for line in tree_lines(tree, ascii=True)))
n6 (4 leaves)
|-- n4 (2 leaves)
|   |-- cat
|   `-- dog
`-- n5 (2 leaves)
    |-- car
    `-- bus
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from l2h.annotate import (  # LeafStats & co.: part of this module's API too
    LeafStats,
    group_colors,
    leaf_caption,
    leaf_stats,
    one_line,
    palette,
    percent,
    purity_level,
)
from l2h.hierarchy import Hierarchy, check_k

if TYPE_CHECKING:  # rich is a core dependency, but imported only when rendering
    from rich.console import RenderableType
    from rich.text import Text

__all__ = [
    "ASCII_GUIDES",
    "DEFAULT_FOLD_LEAVES",
    "UNICODE_GUIDES",
    "LeafStats",
    "count_rows",
    "default_max_depth",
    "fold_cut",
    "group_colors",
    "leaf_caption",
    "leaf_stats",
    "palette",
    "percent",
    "render_tree",
    "tree_lines",
    "tree_title",
]


# ---------------------------------------------------------------------------------------------- layout
UNICODE_GUIDES = ("├── ", "└── ", "│   ", "    ")
ASCII_GUIDES = ("|-- ", "`-- ", "|   ", "    ")


@dataclass(frozen=True)
class _Item:
    """One displayed row: a leaf, a node, a chain of merges, or a cut-off subtree ("more")."""

    kind: str
    node: int
    children: tuple[int, ...] = ()  # node ids shown below this row, in order
    chain: tuple[int, ...] = ()  # internal nodes of a collapsed chain, top first

    def child_depths(self, depth: int) -> list[int]:
        """True depth of every child (a chain's leaves hang one level lower each)."""
        if self.kind != "chain":
            return [depth + 1] * len(self.children)
        return [depth + 1 + i for i in range(len(self.chain))] + [depth + len(self.chain)]


def _chain_from(tree: Hierarchy, node: int, limit: int | None = None, cut: int = 0) -> list[int]:
    """Internal nodes of the caterpillar run starting at ``node`` (each has one leaf child and one
    internal child), at most ``limit`` of them and none below ``cut`` (a node id); the run's last
    internal child is not included."""
    k = tree.n_leaves
    run: list[int] = []
    while node >= max(k, cut) and (limit is None or len(run) < limit):
        a, b = tree.merges[node - k]
        if (a < k) == (b < k):
            break
        run.append(node)
        node = int(b if a < k else a)
    return run


def _expand(tree: Hierarchy, node: int, depth: int, max_depth: int | None, min_chain: int, cut: int = 0) -> _Item:
    """The row for ``node`` and the nodes shown below it (one level, so deep trees need no recursion).

    Internal nodes deeper than ``max_depth``, or with an id below ``cut`` (the groups of a k-cut and
    what lies under them), are folded into one "more" row.
    """
    k = tree.n_leaves
    if node < k:
        return _Item("leaf", node)
    if (max_depth is not None and depth >= max_depth) or node < cut:
        return _Item("more", node)
    # with max_depth, a chain stops where its leaves would be deeper than max_depth (the rest is "more")
    limit = None if max_depth is None else max_depth - depth
    run = _chain_from(tree, node, limit, cut) if min_chain > 0 else []
    if len(run) >= min_chain > 0:
        children = []
        for v in run:
            a, b = tree.merges[v - k]
            children.append(int(a if a < k else b))
        a, b = tree.merges[run[-1] - k]
        children.append(int(b if a < k else a))
        return _Item("chain", node, tuple(children), tuple(run))
    return _Item("node", node, tuple(int(c) for c in tree.merges[node - k]))


_one_line = one_line  # names: one line, control characters as visible escapes

#: Colour of the majority-class text by purity (see :func:`l2h.annotate.purity_level`).
PURITY_STYLES = {"high": "green", "medium": "yellow", "low": "red", "none": "dim"}


def _describe(tree: Hierarchy, item: _Item, stats: LeafStats, sizes, table) -> list[tuple[str, str]]:
    """(text, style) pieces of one row."""
    node = item.node
    pieces: list[tuple[str, str]] = []
    n_leaves = int(tree.leaf_counts[node])
    if item.kind == "leaf":
        pieces.append((_one_line(tree.leaf_names[node]), "bold"))
    elif item.kind == "chain":
        pieces.append((f"n{item.chain[0]}..n{item.chain[-1]}", "cyan"))
    elif item.kind == "more":
        pieces.append((f"n{node} ...", "cyan"))
    else:
        pieces.append((f"n{node}", "cyan"))
    details = [f"chain of {len(item.chain)} merges"] if item.kind == "chain" else []
    if item.kind != "leaf":
        details.append(f"{n_leaves} leaves")
    if sizes is not None:
        details.append(f"{sizes[node]:,} points")
    if details:
        pieces.append((" (" + ", ".join(details) + ")", "dim"))
    if table is not None:
        total = int(table[node].sum())
        if total:
            c = int(table[node].argmax())
            name = _one_line(stats.class_name(c))
            group = stats.class_groups[c] if stats.class_groups is not None else None
            share = table[node, c] / total
            pieces.append((f" {name} {percent(share)}", PURITY_STYLES[purity_level(share)]))
            if group is not None and item.kind == "leaf":
                pieces.append((f" [{_one_line(group)}]", "magenta"))
            elif stats.class_groups is not None:  # internal rows: the largest group and its share
                names, counts = _group_counts(stats, table[node])
                g = int(counts.argmax())
                pieces.append((f" [{_one_line(names[g])} {percent(counts[g] / total)}]", "magenta"))
        elif item.kind == "leaf":
            pieces.append((" (no points)", "red"))
    return pieces


def _group_counts(stats: LeafStats, row: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Points of each class group in a node's class-count row (classes without a group are left out)."""
    groups = stats.class_groups or ()
    names = sorted({g for g in groups if g is not None})
    index = {g: i for i, g in enumerate(names)}
    counts = np.zeros(max(len(names), 1), dtype=np.int64)
    for c, g in enumerate(groups):
        if g is not None and c < len(row):
            counts[index[g]] += row[c]
    return names or [""], counts


def tree_lines(
    tree: Hierarchy,
    stats: LeafStats | None = None,
    *,
    max_depth: int | None = None,
    min_chain: int = 3,
    ascii: bool = False,
    k: int | None = None,
) -> list[Text]:
    """The tree as styled text lines, root first, children in drawing order.

    Parameters
    ----------
    tree : Hierarchy
    stats : LeafStats, optional
        Adds points per node and the majority class with its purity (green >= 90%, yellow >= 60%,
        red below) and, with class groups, the group of that class in brackets.
    max_depth : int, optional
        Rows below this many levels are folded into one ``n<id> ...`` row with their sizes.
    min_chain : int
        Caterpillar runs of at least this many merges are drawn as one row; 0 disables.
    ascii : bool
        Plain ASCII guides (``|--``, ``\\`--``) instead of box-drawing characters.
    k : int, optional
        Fold the tree cut into ``k`` groups: each group is one row (a leaf, or ``n<id> ...``).

    Returns
    -------
    list of rich.text.Text
        ``Text.plain`` gives the unstyled line.
    """
    from rich.text import Text

    if max_depth is not None and max_depth < 0:
        raise ValueError(f"max_depth must be >= 0; got {max_depth}")
    if min_chain < 0:
        raise ValueError(f"min_chain must be >= 0; got {min_chain}")
    cut = fold_cut(tree, k)
    stats = stats or LeafStats()
    sizes, table = stats.node_counts(tree)
    guides = ASCII_GUIDES if ascii else UNICODE_GUIDES
    lines: list[Text] = []
    stack: list[tuple[int, int, str, str]] = [(tree.root, 0, "", "")]  # node, depth, prefix, branch
    while stack:
        node, depth, prefix, branch = stack.pop()
        item = _expand(tree, node, depth, max_depth, min_chain, cut)
        line = Text()
        line.append(prefix + branch, style="dim")  # only the guides: a Text-wide style would dim the row
        for text, style in _describe(tree, item, stats, sizes, table):
            line.append(text, style=style)
        lines.append(line)
        below = prefix + ("" if not branch else (guides[3] if branch == guides[1] else guides[2]))
        last = len(item.children) - 1
        depths = item.child_depths(depth)
        for i in range(last, -1, -1):  # pushed in reverse so they pop in drawing order
            stack.append((item.children[i], depths[i], below, guides[1] if i == last else guides[0]))
    return lines


def fold_cut(tree: Hierarchy, k: int | None) -> int:
    """The smallest node id shown unfolded when the tree is cut into ``k`` groups (0: no fold).

    The k groups are the nodes left after the first ``K - k`` merges; every node created by those
    merges (ids below ``2K - k``) is inside a group.

    Parameters
    ----------
    tree : Hierarchy
        The tree to draw.
    k : int or None
        Number of groups (``1..K``); None: no fold.

    Returns
    -------
    int
        The smallest unfolded node id.

    Raises
    ------
    ValueError
        If ``k`` is outside ``1..K``.

    Examples
    --------
    >>> from l2h import Hierarchy
    >>> fold_cut(Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]]), 2)
    6
    """
    if k is None:
        return 0
    return 2 * tree.n_leaves - check_k(k, tree.n_leaves)


def count_rows(tree: Hierarchy, max_depth: int | None, min_chain: int = 3, cap: int | None = None) -> int:
    """Number of rows :func:`tree_lines` draws (stops counting past ``cap``).

    Parameters
    ----------
    tree : Hierarchy
        The tree to draw.
    max_depth : int or None
        Fold depth, as in :func:`tree_lines` (None: no folding).
    min_chain : int, default 3
        Caterpillar runs of at least this many merges count as one row; 0 disables.
    cap : int, optional
        Stop counting once the count exceeds ``cap``.

    Returns
    -------
    int
        The row count (at most ``cap + 1`` when ``cap`` is given).

    Examples
    --------
    >>> from l2h import Hierarchy
    >>> count_rows(Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]]), None)
    7
    """
    count = 0
    stack = [(tree.root, 0)]
    while stack and (cap is None or count <= cap):
        node, depth = stack.pop()
        item = _expand(tree, node, depth, max_depth, min_chain)
        count += 1
        stack.extend(zip(item.children, item.child_depths(depth), strict=True))
    return count


#: ``l2h show`` folds trees with more leaves than this to a default depth.
DEFAULT_FOLD_LEAVES = 60


def default_max_depth(tree: Hierarchy, rows: int = DEFAULT_FOLD_LEAVES, min_chain: int = 3) -> int | None:
    """The largest ``max_depth`` that keeps the view within ``rows`` rows (at least 1).

    Parameters
    ----------
    tree : Hierarchy
        The tree to draw.
    rows : int, default DEFAULT_FOLD_LEAVES
        Most rows the view may take.
    min_chain : int, default 3
        As in :func:`tree_lines`.

    Returns
    -------
    int or None
        The fold depth, or None when the whole tree fits.

    Examples
    --------
    >>> from l2h import Hierarchy
    >>> default_max_depth(Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]]), rows=3)
    1
    """
    if count_rows(tree, None, min_chain, cap=rows) <= rows:
        return None
    depth = 1
    while count_rows(tree, depth + 1, min_chain, cap=rows) <= rows:
        depth += 1
    return depth


def render_tree(
    tree: Hierarchy,
    stats: LeafStats | None = None,
    *,
    max_depth: int | None = None,
    min_chain: int = 3,
    ascii: bool = False,
    k: int | None = None,
) -> RenderableType:
    """A rich renderable of :func:`tree_lines` with a one-line title.

    Parameters
    ----------
    tree : Hierarchy
        The tree to draw.
    stats : LeafStats, optional
        Points, classes and groups per leaf (see :func:`tree_lines`).
    max_depth : int, optional
        Rows below this many levels are folded into one row.
    min_chain : int, default 3
        Caterpillar runs of at least this many merges are drawn as one row; 0 disables.
    ascii : bool, default False
        Plain ASCII guides instead of box-drawing characters.
    k : int, optional
        Fold the tree cut into ``k`` groups (see :func:`tree_lines`).

    Returns
    -------
    rich.console.RenderableType
        A ``Group`` of the title (:func:`tree_title`) and the tree's lines.

    Raises
    ------
    ValueError
        If ``max_depth`` or ``min_chain`` is negative.

    Examples
    --------
    >>> from rich.console import Console
    >>> from l2h import Hierarchy
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "car", "bus"])
    >>> Console(width=60).print(render_tree(tree, ascii=True))
    Hierarchy: 4 leaves
    n6 (4 leaves)
    |-- n4 (2 leaves)
    |   |-- cat
    |   `-- dog
    `-- n5 (2 leaves)
        |-- car
        `-- bus
    """
    from rich.console import Group
    from rich.text import Text

    lines = tree_lines(tree, stats, max_depth=max_depth, min_chain=min_chain, ascii=ascii, k=k)
    return Group(Text(tree_title(tree, stats), style="bold"), *lines)


def tree_title(tree: Hierarchy, stats: LeafStats | None = None) -> str:
    """``"Hierarchy: 20 leaves, 1,797 points, 10 classes"`` (what is known).

    Parameters
    ----------
    tree : Hierarchy
        The tree.
    stats : LeafStats, optional
        Adds the number of points (with ``sizes``) and of classes present (with ``table``).

    Returns
    -------
    str
        The one-line title.

    Examples
    --------
    >>> import numpy as np
    >>> from l2h import Hierarchy
    >>> from l2h.annotate import leaf_stats
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> tree_title(tree)
    'Hierarchy: 4 leaves'
    >>> tree_title(tree, leaf_stats(tree, np.array([0, 0, 1, 2, 3, 3, 3]), np.array([0, 0, 0, 1, 1, 1, 0])))
    'Hierarchy: 4 leaves, 7 points, 2 classes'
    """
    stats = stats or LeafStats()
    title = f"Hierarchy: {tree.n_leaves} leaves"
    if stats.sizes is not None:
        title += f", {int(stats.sizes.sum()):,} points"
    if stats.table is not None:
        title += f", {int((stats.table.sum(axis=0) > 0).sum())} classes"
    return title
