"""What the views say about the nodes of a tree: per-leaf statistics, group colours, clade keys.

The terminal view (:mod:`l2h.render`), the iTOL bundle (:mod:`l2h.itol`), the pictures
(:mod:`l2h.plot`) and the HTML report (:mod:`l2h.report`) are siblings that all read this module:

* :class:`LeafStats` / :func:`leaf_stats`: points per leaf, leaf x class counts, majority class,
  purity, group of every leaf, and the same counts for every internal node (:meth:`LeafStats.node_counts`);
* :func:`palette` / :func:`group_colors`: a colour per group, colour-blind safe (see :data:`GROUP_COLORS`);
* :func:`clade_keys` / :func:`uniform_clades`: the group shared by all the leaves under a node;
* :func:`folded_nodes`: the top-``m`` cut in drawing order (:attr:`Hierarchy.leaf_order`), without recursion
  and in O(K) (trees may be 100 000 levels deep).

Examples
--------
>>> import numpy as np
>>> from l2h import Hierarchy
>>> from l2h.annotate import leaf_stats, leaf_captions
>>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
>>> stats = leaf_stats(tree, np.array([0, 0, 1, 2, 3, 3, 3]), np.array([0, 0, 0, 1, 1, 1, 0]),
...                    class_names=["cat", "car"])
>>> leaf_captions(stats)
['cat 100%', 'cat 100%', 'car 100%', 'car 66%']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from l2h.arrays import row_blocks
from l2h.hierarchy import Hierarchy, check_k

__all__ = [
    "GROUP_COLORS",
    "LeafStats",
    "NodeCounts",
    "clade_keys",
    "folded_nodes",
    "group_colors",
    "leaf_caption",
    "leaf_captions",
    "leaf_spans",
    "leaf_stats",
    "max_probability",
    "palette",
    "one_line",
    "percent",
    "purity_level",
    "uniform_clades",
]


def one_line(text: object) -> str:
    """A user-supplied name as one safe line for terminals and TAB-separated files.

    Tabs and line breaks become spaces, other control and bidi characters visible escapes
    (``\\x1b``), so that a name cannot drive a terminal or break a TAB-separated file.  Rich markup is
    *not* escaped here (see ``l2h.text.markup_safe``).

    Parameters
    ----------
    text : object
        The name (converted with :class:`str`).

    Returns
    -------
    str
        One printable line.

    Examples
    --------
    >>> one_line("big\\tcat\\nfamily")
    'big cat family'
    """
    from l2h.text import printable

    return printable(" ".join(str(text).replace("\t", " ").splitlines()))


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
    assignments: ArrayLike | None = None,
    labels: ArrayLike | None = None,
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
    """``0.934`` -> ``"93%"`` (rounded down, so only a pure leaf shows 100%).

    Parameters
    ----------
    value : float
        A fraction in ``[0, 1]``.

    Returns
    -------
    str
        Whole percent followed by ``%``.

    Examples
    --------
    >>> percent(0.934), percent(0.999), percent(1.0)
    ('93%', '99%', '100%')
    """
    return f"{int(np.floor(value * 100 + 1e-9))}%"


def leaf_captions(stats: LeafStats) -> list[str]:
    """:func:`leaf_caption` of every leaf, computing the majority classes and purities once.

    Parameters
    ----------
    stats : LeafStats
        Statistics with a class table (built from assignments and labels).

    Returns
    -------
    list of str, length K
        ``"<majority class> <purity>%"`` or ``"(no points)"`` per leaf.

    Examples
    --------
    >>> import numpy as np
    >>> from l2h import Hierarchy
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> points, labels = np.array([0, 0, 1, 2, 3, 3, 3]), np.array([0, 0, 0, 1, 1, 1, 0])
    >>> stats = leaf_stats(tree, points, labels, class_names=["cat", "dog"])
    >>> leaf_captions(stats)
    ['cat 100%', 'cat 100%', 'dog 100%', 'dog 66%']
    """
    majority, purity = stats.majority.tolist(), stats.purity.tolist()
    return [
        "(no points)" if c < 0 else f"{stats.class_name(c)} {percent(p)}" for c, p in zip(majority, purity, strict=True)
    ]


def leaf_caption(stats: LeafStats, leaf: int) -> str:
    """``"<majority class> <purity>%"`` for a leaf, ``"(no points)"`` for an empty one.

    Parameters
    ----------
    stats : LeafStats
        Statistics with a class table (built from assignments and labels).
    leaf : int
        Leaf id in ``0..K-1``.

    Returns
    -------
    str
        The caption.

    Examples
    --------
    >>> import numpy as np
    >>> from l2h import Hierarchy
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> stats = leaf_stats(tree, np.array([0, 0, 1, 3, 3, 3]), np.array([0, 0, 0, 1, 1, 0]), class_names=["cat", "dog"])
    >>> leaf_caption(stats, 3), leaf_caption(stats, 2)
    ('dog 66%', '(no points)')
    """
    c = int(stats.majority[leaf])
    if c < 0:
        return "(no points)"
    return f"{stats.class_name(c)} {percent(stats.purity[leaf])}"


def purity_level(value: float) -> str:
    """``"high"`` (>= 90%), ``"medium"`` (>= 60%) or ``"low"``: the colour scale of every view.

    Parameters
    ----------
    value : float
        A purity in ``[0, 1]`` (NaN when unknown).

    Returns
    -------
    str
        ``"high"``, ``"medium"``, ``"low"``, or ``"none"`` for a non-finite value.

    Examples
    --------
    >>> [purity_level(v) for v in (0.95, 0.7, 0.2, float("nan"))]
    ['high', 'medium', 'low', 'none']
    """
    if not np.isfinite(value):
        return "none"
    return "high" if value >= 0.9 - 1e-12 else "medium" if value >= 0.6 - 1e-12 else "low"


# ---------------------------------------------------------------------------------------------- tree walks
def folded_nodes(tree: Hierarchy, m: int) -> np.ndarray:
    """The ``m`` nodes left after ``K - m`` merges (the level-``m`` cut), in drawing order.

    Same set as :meth:`Hierarchy.cut_nodes`, found in O(K) from the parent array (no per-node leaf
    lists, so a 100 000-deep caterpillar costs the same as a balanced tree).

    Parameters
    ----------
    tree : Hierarchy
        The tree.
    m : int
        Number of nodes to keep, ``1 <= m <= K``.

    Returns
    -------
    ndarray of int64, shape (m,)
        Node ids (leaves or internal nodes) in drawing order.

    Raises
    ------
    ValueError
        If ``m`` is out of range.

    Examples
    --------
    >>> from l2h import Hierarchy
    >>> folded_nodes(Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]]), 2).tolist()
    [4, 5]
    """
    k = tree.n_leaves
    check_k(m, k, name="m")
    limit = k + (k - m)  # nodes created by the first K - m merges, plus the leaves
    left = tree.merges[:, 0].tolist()
    right = tree.merges[:, 1].tolist()
    out: list[int] = []
    stack = [tree.root]
    while stack:
        node = stack.pop()
        if node < limit:
            out.append(node)
        else:
            stack.append(right[node - k])
            stack.append(left[node - k])
    return np.array(out, dtype=np.int64)


def clade_keys(tree: Hierarchy, keys: Sequence[str | None]) -> list[str | None]:
    """The key shared by all the leaves under every node (None where they differ or one is None).

    Parameters
    ----------
    tree : Hierarchy
        The tree, K leaves.
    keys : sequence of (str or None), length K
        A key (e.g. a group name) per leaf.

    Returns
    -------
    list of (str or None), length 2K-1
        The shared key of every node id (leaves first).

    Examples
    --------
    >>> from l2h import Hierarchy
    >>> clade_keys(Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]]), ["a", "a", "b", None])
    ['a', 'a', 'b', None, 'a', None, None]
    """
    k = tree.n_leaves
    node_key: list[str | None] = list(keys) + [None] * (k - 1)
    for t, (a, b) in enumerate(tree.merges.tolist()):
        if node_key[a] is not None and node_key[a] == node_key[b]:
            node_key[k + t] = node_key[a]
    return node_key


def uniform_clades(tree: Hierarchy, keys: Sequence[str | None]) -> list[tuple[int, str]]:
    """Maximal internal nodes whose leaves all have the same non-None key, in node-id order.

    Parameters
    ----------
    tree : Hierarchy
        The tree, K leaves.
    keys : sequence of (str or None), length K
        A key (e.g. a group name) per leaf.

    Returns
    -------
    list of (node id, key)
        Internal nodes whose parent's leaves do not share the key (or the root).

    Examples
    --------
    >>> from l2h import Hierarchy
    >>> uniform_clades(Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]]), ["a", "a", "b", "b"])
    [(4, 'a'), (5, 'b')]
    """
    node_key = clade_keys(tree, keys)
    parent = tree.parent
    return [
        (node, node_key[node])  # type: ignore[misc]
        for node in range(tree.n_leaves, tree.n_nodes)
        if node_key[node] is not None and (parent[node] < 0 or node_key[parent[node]] is None)
    ]


# ---------------------------------------------------------------------------------------------- colours
#: Group colours, made by ``benchmarks/make_palette.py``: the Okabe-Ito colours (no black, grey or
#: yellow), then a greedy max-min (Glasbey-style) choice under normal vision and simulated protanopia,
#: deuteranopia and tritanopia.  The smallest CIEDE2000 difference between two of the first 12 is 9.6,
#: of the first 20 is 7.7, of all 32 is 5.2, in each of the four visions (2.3 is "just noticeable";
#: two lines side by side stay apart at about 5 and up), so up to 20 groups stay clearly apart for
#: colour-blind readers too.  No greys (mixed-group branches are grey) and no pale colours (labels
#: are drawn in these colours on white).
GROUP_COLORS = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#d55e00",
    "#56b4e9",
    "#cc79a7",
    "#a51e00",
    "#b41e87",
    "#8778ff",
    "#0f693c",
    "#4b00ff",
    "#b45a87",
    "#a5c369",
    "#d2003c",
    "#ff6987",
    "#ff96c3",
    "#00875a",
    "#b4964b",
    "#3c5aff",
    "#d200c3",
    "#ff69d2",
    "#1eb487",
    "#781ec3",
    "#c34b5a",
    "#d28700",
    "#b43c00",
    "#963c5a",
    "#8796ff",
    "#b4783c",
    "#ff0096",
    "#a54b78",
    "#698700",
)


def palette(n: int) -> list[str]:
    """``n`` distinct ``#rrggbb`` colours: :data:`GROUP_COLORS` first, then golden-angle hues.

    Beyond 32 colours nobody tells groups apart by colour alone; the extra hues only keep colours distinct.

    Parameters
    ----------
    n : int
        Number of colours.

    Returns
    -------
    list of str, length n
        Distinct lower-case ``#rrggbb`` colours.

    Examples
    --------
    >>> palette(3)
    ['#0072b2', '#e69f00', '#009e73']
    >>> len(set(palette(100)))
    100
    """
    import colorsys

    out = list(GROUP_COLORS[:n])
    seen = set(out)
    i = len(out)
    while len(out) < n:
        hue = (i * 0.618033988749895) % 1.0
        light = (0.45, 0.6, 0.35)[i % 3]
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.65)
        colour = f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
        if colour not in seen:
            seen.add(colour)
            out.append(colour)
        i += 1
    return out


def group_colors(tree: Hierarchy, stats: LeafStats) -> dict[str, str]:
    """Colour of every leaf group (see :meth:`LeafStats.leaf_groups`).

    Colours are assigned in drawing order so that neighbouring groups differ.

    Parameters
    ----------
    tree : Hierarchy
        The tree.
    stats : LeafStats
        Per-leaf statistics; leaves without a group get no colour.

    Returns
    -------
    dict of str to str
        Group name -> ``#rrggbb`` colour, from :func:`palette`.

    Examples
    --------
    >>> import numpy as np
    >>> from l2h import Hierarchy
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> stats = leaf_stats(tree, np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]), class_names=["cat", "dog"])
    >>> group_colors(tree, stats)
    {'cat': '#0072b2', 'dog': '#e69f00'}
    """
    groups = stats.leaf_groups()
    seen: list[str] = []
    known: set[str] = set()
    for leaf in tree.leaf_order.tolist():
        g = groups[leaf] if len(groups) > leaf else None
        if g is not None and g not in known:
            known.add(g)
            seen.append(g)
    return dict(zip(seen, palette(len(seen)), strict=True))


# ---------------------------------------------------------------------------------------------- node counts
def leaf_spans(tree: Hierarchy) -> tuple[np.ndarray, np.ndarray]:
    """Drawing order of the leaves and where every node's leaves start in it.

    The leaves under a node are one contiguous block of the drawing order: those of node ``v`` are
    ``order[start[v] : start[v] + tree.leaf_counts[v]]``.  O(K) time and memory, no recursion.

    Parameters
    ----------
    tree : Hierarchy
        The tree, K leaves.

    Returns
    -------
    order : ndarray of int64, shape (K,)
        :attr:`Hierarchy.leaf_order` (a copy).
    start : ndarray of int64, shape (2K-1,)
        Position in ``order`` of the first leaf under every node.

    Examples
    --------
    >>> from l2h import Hierarchy
    >>> order, start = leaf_spans(Hierarchy.from_merges([[2, 1], [0, 3]]))
    >>> order.tolist(), start.tolist()
    ([0, 2, 1], [0, 2, 1, 1, 0])
    """
    k = tree.n_leaves
    order = tree.leaf_order.copy()
    first = [0] * tree.n_nodes
    for i, leaf in enumerate(order.tolist()):
        first[leaf] = i
    for t, (a, b) in enumerate(tree.merges.tolist()):
        first[k + t] = min(first[a], first[b])
    return order, np.array(first, dtype=np.int64)


class NodeCounts:
    """Points and class counts under any node, from prefix sums over the leaves in drawing order.

    Costs one (K+1) x C array (the size of the leaf x class table) instead of the (2K-1) x C of
    :meth:`LeafStats.node_counts`, and answers for any set of nodes.

    Examples
    --------
    >>> import numpy as np
    >>> from l2h import Hierarchy
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> counts = NodeCounts(tree, leaf_stats(tree, np.array([0, 1, 1, 3]), np.array([0, 1, 1, 0])))
    >>> counts.sizes([4, 6]).tolist(), counts.table([6]).tolist()
    ([3, 4], [[2, 2]])
    """

    def __init__(self, tree: Hierarchy, stats: LeafStats) -> None:
        self.tree = tree
        self.stats = stats
        self.order, self.start = leaf_spans(tree)
        self.n_leaves_under = tree.leaf_counts
        self._size_prefix = None
        self._table_prefix = None
        if stats.sizes is not None:
            self._size_prefix = np.concatenate([[0], np.cumsum(stats.sizes[self.order])])
        if stats.table is not None:
            prefix = np.zeros((tree.n_leaves + 1, stats.table.shape[1]), dtype=np.int64)
            np.cumsum(stats.table[self.order], axis=0, out=prefix[1:])
            self._table_prefix = prefix

    def _bounds(self, nodes: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        nodes = np.asarray(nodes, dtype=np.int64)
        lo = self.start[nodes]
        return lo, lo + self.n_leaves_under[nodes]

    def sizes(self, nodes: ArrayLike) -> np.ndarray | None:
        """Points under each of ``nodes`` (None without points)."""
        if self._size_prefix is None:
            return None
        lo, hi = self._bounds(nodes)
        return self._size_prefix[hi] - self._size_prefix[lo]

    def table(self, nodes: ArrayLike) -> np.ndarray | None:
        """Class counts under each of ``nodes``, shape (len(nodes), C) (None without labels)."""
        if self._table_prefix is None:
            return None
        lo, hi = self._bounds(nodes)
        return self._table_prefix[hi] - self._table_prefix[lo]

    def majority(self, nodes: ArrayLike) -> tuple[np.ndarray, np.ndarray] | None:
        """Majority class (-1 without points) and its share (NaN without points) of each node."""
        table = self.table(nodes)
        if table is None:
            return None
        total = table.sum(axis=1)
        best = table.argmax(axis=1)
        share = np.full(len(best), np.nan)
        np.divide(table[np.arange(len(best)), best], total, out=share, where=total > 0)
        best[total == 0] = -1
        return best, share


def max_probability(logits: ArrayLike, chunk: int = 65536) -> np.ndarray:
    """The largest softmax probability of every row: how sure the model is of each point.

    Computed in blocks of at most about 16 MB of float64, so a memory map stays a map (and a
    read-only one drops each block's pages once read).

    Parameters
    ----------
    logits : array_like, shape (N, K)
        The flat model's logits (a :class:`numpy.memmap` is read block by block).
    chunk : int, default 65536
        Most rows per block.

    Returns
    -------
    ndarray of float64, shape (N,)
        ``max_k softmax(logits[i])_k`` for every row ``i``.

    Examples
    --------
    >>> max_probability(np.log([[0.7, 0.2, 0.1], [0.5, 0.25, 0.25]])).round(3).tolist()
    [0.7, 0.5]
    """
    arr = logits if isinstance(logits, np.ndarray) else np.asarray(logits)
    out = np.empty(arr.shape[0])
    step = max(1, min(chunk, (16 << 20) // max(1, 8 * arr.shape[1])))
    for lo, block in row_blocks(arr, step):
        shifted = np.subtract(block, block.max(axis=1, keepdims=True), dtype=np.float64)  # a new array
        np.exp(shifted, out=shifted)
        out[lo : lo + step] = 1.0 / shifted.sum(axis=1)
    return out
