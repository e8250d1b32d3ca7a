"""Per-leaf annotations and the terminal view of a hierarchy.

:class:`LeafStats` gathers what every view shows about the leaves (points per leaf, majority class,
purity, group) from the leaf x class count table; :mod:`l2h.itol` and :mod:`l2h.plot` use it too.
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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from l2h.hierarchy import Hierarchy

if TYPE_CHECKING:  # rich is a core dependency, but imported only when rendering
    from rich.console import RenderableType
    from rich.text import Text

__all__ = ["LeafStats", "group_colors", "leaf_stats", "palette", "render_tree", "tree_lines", "tree_title"]


# ---------------------------------------------------------------------------------------------- leaf stats
@dataclass(frozen=True)
class LeafStats:
    """What the views show about the leaves of a tree.

    Attributes
    ----------
    sizes : ndarray of int64, shape (K,), or None
        Points per leaf (None when no points were given).
    table : ndarray of int64, shape (K, C), or None
        Leaf x class counts (None without labels).
    class_names : tuple of str, length C, or None
        Display name of every class id.
    class_groups : tuple of (str or None), length C, or None
        Group of every class (e.g. CIFAR-100's superclasses); None for a class without a group.
    """

    sizes: np.ndarray | None = None
    table: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    class_groups: tuple[str | None, ...] | None = None

    @property
    def has_labels(self) -> bool:
        """True when a leaf x class table is known."""
        return self.table is not None

    @property
    def majority(self) -> np.ndarray:
        """Most frequent class of every leaf (int64, shape (K,)); -1 for a leaf without points."""
        if self.table is None:
            raise ValueError("majority classes need labels")
        out = self.table.argmax(axis=1)
        out[self.table.sum(axis=1) == 0] = -1
        return out

    @property
    def purity(self) -> np.ndarray:
        """Share of a leaf's points in its majority class (float64, shape (K,)); NaN for empty leaves."""
        if self.table is None:
            raise ValueError("purities need labels")
        total = self.table.sum(axis=1).astype(np.float64)
        out = np.full(total.shape, np.nan)
        np.divide(self.table.max(axis=1), total, out=out, where=total > 0)
        return out

    def class_name(self, c: int) -> str:
        """Display name of class id ``c``."""
        return self.class_names[c] if self.class_names is not None else str(c)

    def leaf_groups(self) -> list[str | None]:
        """Colour key of every leaf: the group of its majority class when groups are known, else the
        majority class's name; None for leaves without points (or labels)."""
        if self.table is None:
            return [None] * (0 if self.sizes is None else len(self.sizes))
        out: list[str | None] = []
        for c in self.majority:
            if c < 0:
                out.append(None)
            elif self.class_groups is not None:
                out.append(self.class_groups[c])
            else:
                out.append(self.class_name(int(c)))
        return out

    def node_counts(self, tree: Hierarchy) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Points and class counts under every node: shapes (2K-1,) and (2K-1, C) (None when unknown)."""
        k = tree.n_leaves
        sizes = None
        if self.sizes is not None:
            sizes = np.empty(tree.n_nodes, dtype=np.int64)
            sizes[:k] = self.sizes
        table = None
        if self.table is not None:
            table = np.empty((tree.n_nodes, self.table.shape[1]), dtype=np.int64)
            table[:k] = self.table
        for t, (a, b) in enumerate(tree.merges):
            if sizes is not None:
                sizes[k + t] = sizes[a] + sizes[b]
            if table is not None:
                table[k + t] = table[a] + table[b]
        return sizes, table


def leaf_stats(
    tree: Hierarchy,
    assignments: object = None,
    labels: object = None,
    *,
    class_names: Sequence[str] | None = None,
    class_groups: Sequence[str | None] | None = None,
) -> LeafStats:
    """Per-leaf statistics from the points' leaves and (optionally) their class ids.

    Parameters
    ----------
    tree : Hierarchy
        K leaves.
    assignments : array_like of int, shape (N,), optional
        Leaf id of every point (e.g. ``tree.assign(logits)``).
    labels : array_like of int, shape (N,), optional
        Class id ``0..C-1`` of every point (see :func:`l2h.metrics.encode_labels`); needs ``assignments``.
    class_names : sequence of str, optional
        Name of every class id (at least ``max(labels) + 1`` names).
    class_groups : sequence of str, optional
        Group of every class id (same length as ``class_names`` or ``max(labels) + 1``).

    Returns
    -------
    LeafStats
    """
    from l2h.metrics import check_assignments, contingency_table

    if assignments is None:
        if labels is not None:
            raise ValueError("labels need the points' leaves (assignments or logits) too")
        return LeafStats()
    leaf = check_assignments(assignments, tree.n_leaves)
    sizes = np.bincount(leaf, minlength=tree.n_leaves).astype(np.int64)
    if labels is None:
        return LeafStats(sizes=sizes)
    codes = np.asarray(labels)
    if codes.shape != leaf.shape:
        raise ValueError(f"labels has {codes.size} entries but there are {leaf.size} points")
    n_classes = int(codes.max()) + 1 if codes.size else 1
    for name, values in (("class_names", class_names), ("class_groups", class_groups)):
        if values is not None:
            if len(values) < n_classes:
                raise ValueError(f"{name} has {len(values)} entries but the labels go up to {n_classes - 1}")
            n_classes = max(n_classes, len(values))
    table = contingency_table(leaf, codes, n_leaves=tree.n_leaves, n_classes=n_classes)
    return LeafStats(
        sizes=sizes,
        table=table,
        class_names=None if class_names is None else tuple(str(c) for c in class_names),
        class_groups=None if class_groups is None else tuple(class_groups),
    )


def percent(value: float) -> str:
    """``0.934`` -> ``"93%"`` (rounded down, so only a pure leaf shows 100%)."""
    return f"{int(np.floor(value * 100 + 1e-9))}%"


def leaf_caption(stats: LeafStats, leaf: int) -> str:
    """``"<majority class> <purity>%"`` for a leaf, ``"(no points)"`` for an empty one."""
    c = int(stats.majority[leaf])
    if c < 0:
        return "(no points)"
    return f"{stats.class_name(c)} {percent(stats.purity[leaf])}"


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


def _chain_from(tree: Hierarchy, node: int) -> list[int]:
    """Internal nodes of the caterpillar run starting at ``node`` (each has one leaf child and one
    internal child); the run's last internal child is not included."""
    k = tree.n_leaves
    run = []
    while node >= k:
        a, b = tree.merges[node - k]
        if (a < k) == (b < k):
            break
        run.append(node)
        node = int(b if a < k else a)
    return run


def _expand(tree: Hierarchy, node: int, depth: int, max_depth: int | None, min_chain: int) -> _Item:
    """The row for ``node`` and the nodes shown below it (one level, so deep trees need no recursion)."""
    k = tree.n_leaves
    if node < k:
        return _Item("leaf", node)
    if max_depth is not None and depth >= max_depth:
        return _Item("more", node)
    run = _chain_from(tree, node) if min_chain > 0 else []
    if len(run) >= min_chain > 0:
        children = []
        for v in run:
            a, b = tree.merges[v - k]
            children.append(int(a if a < k else b))
        a, b = tree.merges[run[-1] - k]
        children.append(int(b if a < k else a))
        return _Item("chain", node, tuple(children), tuple(run))
    return _Item("node", node, tuple(int(c) for c in tree.merges[node - k]))


def _node_id(tree: Hierarchy, node: int) -> str:
    return tree.leaf_names[node] if node < tree.n_leaves else f"n{node}"


def _one_line(text: str) -> str:
    """``text`` with line breaks and tabs as spaces, so that every row stays one line."""
    return " ".join(text.replace("\t", " ").splitlines())


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
            text = f" {name} {percent(table[node, c] / total)}"
            if group is not None and item.kind == "leaf":
                text += f" [{_one_line(group)}]"
            pieces.append((text, "green" if table[node, c] == total else "yellow"))
        elif item.kind == "leaf":
            pieces.append((" (no points)", "red"))
    return pieces


def tree_lines(
    tree: Hierarchy,
    stats: LeafStats | None = None,
    *,
    max_depth: int | None = None,
    min_chain: int = 3,
    ascii: bool = False,
) -> list[Text]:
    """The tree as styled text lines, root first, children in drawing order.

    Parameters
    ----------
    tree : Hierarchy
    stats : LeafStats, optional
        Adds points per node and the majority class with its purity (green when pure).
    max_depth : int, optional
        Rows below this many levels are folded into one ``n<id> ...`` row with their sizes.
    min_chain : int
        Caterpillar runs of at least this many merges are drawn as one row; 0 disables.
    ascii : bool
        Plain ASCII guides (``|--``, ``\\`--``) instead of box-drawing characters.

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
    stats = stats or LeafStats()
    sizes, table = stats.node_counts(tree)
    guides = ASCII_GUIDES if ascii else UNICODE_GUIDES
    lines: list[Text] = []
    stack: list[tuple[int, int, str, str]] = [(tree.root, 0, "", "")]  # node, depth, prefix, branch
    while stack:
        node, depth, prefix, branch = stack.pop()
        item = _expand(tree, node, depth, max_depth, min_chain)
        line = Text()
        line.append(prefix + branch, style="dim")  # only the guides: a Text-wide style would dim the row
        for text, style in _describe(tree, item, stats, sizes, table):
            line.append(text, style=style)
        lines.append(line)
        below = prefix + ("" if not branch else (guides[3] if branch == guides[1] else guides[2]))
        last = len(item.children) - 1
        for i in range(last, -1, -1):  # pushed in reverse so they pop in drawing order
            stack.append((item.children[i], depth + 1, below, guides[1] if i == last else guides[0]))
    return lines


def render_tree(
    tree: Hierarchy,
    stats: LeafStats | None = None,
    *,
    max_depth: int | None = None,
    min_chain: int = 3,
    ascii: bool = False,
) -> RenderableType:
    """A rich renderable of :func:`tree_lines` with a one-line title."""
    from rich.console import Group
    from rich.text import Text

    lines = tree_lines(tree, stats, max_depth=max_depth, min_chain=min_chain, ascii=ascii)
    return Group(Text(tree_title(tree, stats), style="bold"), *lines)


def tree_title(tree: Hierarchy, stats: LeafStats | None = None) -> str:
    """``"Hierarchy: 20 leaves, 1,797 points, 10 classes"`` (what is known)."""
    stats = stats or LeafStats()
    title = f"Hierarchy: {tree.n_leaves} leaves"
    if stats.sizes is not None:
        title += f", {int(stats.sizes.sum()):,} points"
    if stats.table is not None:
        title += f", {int((stats.table.sum(axis=0) > 0).sum())} classes"
    return title


# ---------------------------------------------------------------------------------------------- colours
# Hand-picked, distinguishable on white and for the common colour-vision deficiencies first; more
# colours than this come from evenly spread hues.  No greys: the dendrogram draws branches that
# mix groups in grey, so a grey group would look uncoloured.
_BASE_COLORS = (
    "#1f5fa8",
    "#e0801a",
    "#2a9d4b",
    "#c8323c",
    "#7d4fb0",
    "#8c5a3c",
    "#d660b4",
    "#9e1f63",
    "#a8a81f",
    "#1fb0c8",
    "#f2b134",
    "#4a3a8c",
)


def palette(n: int) -> list[str]:
    """``n`` distinct ``#rrggbb`` colours (the first twelve hand-picked, then golden-angle hues)."""
    import colorsys

    out = list(_BASE_COLORS[:n])
    for i in range(len(out), n):
        hue = (i * 0.618033988749895) % 1.0
        light = (0.45, 0.6, 0.35)[i % 3]
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.65)
        out.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return out


def group_colors(tree: Hierarchy, stats: LeafStats) -> dict[str, str]:
    """Colour of every leaf group (see :meth:`LeafStats.leaf_groups`), assigned in drawing order so
    that neighbouring groups differ."""
    groups = stats.leaf_groups()
    seen: list[str] = []
    for leaf in tree.leaf_order:
        g = groups[leaf] if len(groups) > leaf else None
        if g is not None and g not in seen:
            seen.append(g)
    return dict(zip(seen, palette(len(seen)), strict=True))
