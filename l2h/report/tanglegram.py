"""A learned tree and a reference taxonomy facing each other: one offline HTML tanglegram.

The learned tree grows from the left, the reference from the right, and a line joins the two
places of every leaf.  Children are rotated (never regrouped) to uncross the lines: a few rounds
that order each tree's children by the mean position of their leaves on the other side.  A clade
(the leaves under an internal node) that the other tree does not have is drawn in red and thicker:
the learned tree's are the Robinson-Foulds ``rf_learned_only`` share of :func:`l2h.compare.compare`,
the reference's its ``rf_reference_only``.  Lines take the colour of the leaf's top-level reference
group.

The page is one static SVG with its CSS: a Content-Security-Policy ``default-src 'none'`` lets
nothing load and no script run, and every name is escaped.

Examples
--------
>>> from l2h import Hierarchy
>>> from l2h.taxonomy import parse_newick_taxonomy
>>> tree = Hierarchy.from_merges([[0, 2], [1, 3], [4, 5]], leaf_names=["cat", "dog", "trout", "carp"])
>>> ref = parse_newick_taxonomy("((cat,dog)mammal,(trout,carp)fish);")
>>> page = build_tanglegram(tree, ref)
>>> page.count('class="link"'), page.count('class="clade miss"')
(4, 4)
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from l2h.annotate import one_line, palette
from l2h.hierarchy import Hierarchy
from l2h.report import csp_hash
from l2h.taxonomy import Taxonomy

__all__ = ["build_tanglegram", "tanglegram_layout"]

ROW = 14  # px between two leaves
TREE_W = 300  # px of each tree
GAP = 140  # px between the two label columns, where the lines run
MAX_LABEL = 40  # characters of a label shown
CHAR_W = 6.6  # px per character at the label size (11 px), for the label columns' width
MATCH = "#444444"
MISS = "#d1242f"

_CSS = """
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; }
header { padding: 10px 14px; border-bottom: 1px solid #ddd; background: #fafafa; }
header h1 { font-size: 16px; margin: 0 0 4px; }
header p { margin: 2px 0; }
.miss-key { color: #d1242f; font-weight: 600; }
svg text.side { font-size: 13px; font-weight: 600; }
svg text.node { font-size: 10px; fill: #666; }
svg text { font-size: 11px; dominant-baseline: middle; }
svg .clade { fill: none; stroke-width: 1.2; }
svg .clade.miss { stroke-width: 2.4; }
svg .link { stroke-width: 1; opacity: 0.75; }
svg .pair:hover .link { stroke-width: 3; opacity: 1; }
svg .pair:hover text { font-weight: 700; }
main { padding: 6px 14px; }
"""


@dataclass(frozen=True)
class _Side:
    """One tree laid out: every node's row (y, in rows) and height above the leaves (x, in levels)."""

    tax: Taxonomy
    y: np.ndarray  # float, per node
    level: np.ndarray  # int, per node: 0 at the leaves, 1 + the highest child above
    kids: list[list[int]]  # children of every node, in drawing order
    miss: np.ndarray  # bool, per node: an internal node whose clade the other tree lacks


def _clade_hashes(tax: Taxonomy, codes: np.ndarray) -> np.ndarray:
    """XOR of random 64-bit leaf codes under every node: equal leaf sets give equal hashes."""
    h = np.zeros(tax.n_nodes, dtype=np.uint64)
    h[: tax.n_leaves] = codes
    order = tax.bfs_order.tolist()
    parent = tax.parent.tolist()
    for v in reversed(order):
        p = parent[v]
        if p >= 0:
            h[p] ^= h[v]
    return h


def _order(tax: Taxonomy, other_pos: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """Children sorted by the mean position of their leaves on the other side; leaf positions."""
    n = tax.n_nodes
    order = tax.bfs_order.tolist()
    parent = tax.parent.tolist()
    size = np.zeros(n)
    total = np.zeros(n)
    size[: tax.n_leaves] = 1
    total[: tax.n_leaves] = other_pos
    for v in reversed(order):
        p = parent[v]
        if p >= 0:
            size[p] += size[v]
            total[p] += total[v]
    key = (total / np.maximum(size, 1)).tolist()
    kids_order, starts, counts = (a.tolist() for a in tax._children_csr)
    kids = [sorted(kids_order[starts[v] : starts[v] + counts[v]], key=lambda c: (key[c], c)) for v in range(n)]
    pos = np.empty(tax.n_leaves)
    stack = [tax.root]
    i = 0
    while stack:
        v = stack.pop()
        if v < tax.n_leaves:
            pos[v] = i
            i += 1
        else:
            stack.extend(reversed(kids[v]))
    return kids, pos


def _place(tax: Taxonomy, kids: list[list[int]], pos: np.ndarray, miss: np.ndarray) -> _Side:
    n = tax.n_nodes
    y = np.zeros(n)
    level = np.zeros(n, dtype=np.int64)
    y[: tax.n_leaves] = pos
    for v in reversed(tax.bfs_order.tolist()):
        if v >= tax.n_leaves:
            ks = kids[v]
            y[v] = (y[ks[0]] + y[ks[-1]]) / 2
            level[v] = 1 + max(level[c] for c in ks)
    return _Side(tax, y, level, kids, miss)


def tanglegram_layout(tree: Hierarchy, reference: Taxonomy, rounds: int = 4) -> tuple[_Side, _Side]:
    """Both trees over the same leaves, children rotated to uncross the lines, clades matched.

    Parameters
    ----------
    tree : Hierarchy
        The learned tree; its leaf names must be reference leaves (as for :func:`l2h.compare.compare`).
    reference : Taxonomy
        The reference; leaves the tree lacks are left out, unary chains contracted.
    rounds : int
        Rounds of uncrossing (each orders one side by the other).

    Returns
    -------
    (learned, reference)
        Leaf ``i`` is the tree's leaf ``i`` on both sides.
    """
    from l2h._validation import InputError

    names = list(tree.leaf_names)
    known = set(reference.leaf_names)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InputError(
            f"{len(unknown)} of the tree's {len(names)} leaves are not in the reference ({unknown[0]!r}, ...); "
            "map them as l2h compare does (its leaf names must be the reference's class names)"
        )
    learned = Taxonomy.from_hierarchy(tree)
    ref = reference.restrict(names)
    k = len(names)
    codes = np.random.default_rng(0).integers(1, 2**63, size=k, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    h_learned = _clade_hashes(learned, codes)
    h_ref = _clade_hashes(ref, codes)
    in_ref = set(h_ref[k:].tolist())
    in_learned = set(h_learned[k:].tolist())
    miss_learned = np.zeros(learned.n_nodes, dtype=bool)
    miss_learned[k:] = [h not in in_ref for h in h_learned[k:].tolist()]
    miss_ref = np.zeros(ref.n_nodes, dtype=bool)
    miss_ref[k:] = [h not in in_learned for h in h_ref[k:].tolist()]
    ref_kids, ref_pos = _order(ref, np.arange(k, dtype=np.float64))
    learned_kids, learned_pos = _order(learned, ref_pos)
    for _ in range(rounds):
        ref_kids, ref_pos = _order(ref, learned_pos)
        learned_kids, learned_pos = _order(learned, ref_pos)
    return (
        _place(learned, learned_kids, learned_pos, miss_learned),
        _place(ref, ref_kids, ref_pos, miss_ref),
    )


def _label(text: str) -> str:
    text = one_line(text)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "\u2026"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "n/a" if not np.isfinite(value) else f"{value:.3f}"
    return html.escape(str(value))


def build_tanglegram(
    tree: Hierarchy,
    reference: Taxonomy,
    *,
    assignments: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
    scores: Mapping[str, Any] | None = None,
    title: str | None = None,
    learned_title: str = "learned tree",
    reference_title: str = "reference",
) -> str:
    """The tanglegram page of ``tree`` and ``reference`` (see the module docstring).

    Parameters
    ----------
    tree : Hierarchy
        The learned tree.  Without ``assignments``, its leaf names must be reference leaves (as
        for :func:`l2h.compare.compare`).
    reference : Taxonomy
        The reference taxonomy.
    assignments, labels : array_like, shape (N,), optional
        Every point's leaf and class, for a tree over clusters: each leaf then stands under its
        points' majority class, the pair :func:`l2h.compare.compare_clusters` scores
        (:func:`l2h.compare.clusters_as_classes`; leaves without points are left out).
    class_names : sequence of str, optional
        With integer ``labels``: the reference's name of every class id.
    scores : mapping, optional
        :func:`l2h.compare.compare`'s result, summarised in the header.
    title : str, optional
        Page title.
    learned_title, reference_title : str
        Captions of the two sides.

    Returns
    -------
    str
        One self-contained HTML page (no script, no network request).
    """
    if (assignments is None) != (labels is None):
        raise ValueError("assignments and labels go together (each leaf stands under its majority class)")
    if assignments is not None and labels is not None:
        from l2h.compare import clusters_as_classes

        tree, reference, _ = clusters_as_classes(tree, reference, assignments, labels, class_names=class_names)
    left, right = tanglegram_layout(tree, reference)
    geo = _Geometry.of(left, right, [_label(name) for name in tree.leaf_names])
    parts = _svg_tree(left, geo.lx, geo.ry) + _svg_tree(right, geo.rx, geo.ry, node_names=True)
    parts += _svg_links(tree, left, right, geo)
    parts.append(f'<text class="side" x="10" y="{10 + ROW / 2}">{html.escape(one_line(learned_title))}</text>')
    parts.append(
        f'<text class="side" x="{geo.width - 10}" y="{10 + ROW / 2}" text-anchor="end">'
        f"{html.escape(one_line(reference_title))}</text>"
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{geo.width}" height="{geo.height}" '
        f'viewBox="0 0 {geo.width} {geo.height}">{"".join(parts)}</svg>'
    )
    page_title = one_line(title or f"{learned_title} vs {reference_title}: {tree.n_leaves:,} leaves")
    return _page(page_title, _summary(left, right, learned_title, reference_title, scores), svg)


@dataclass(frozen=True)
class _Geometry:
    """Pixel positions: the learned tree's leaves end at ``x_left``, the reference's start at ``x_right``."""

    left: _Side
    right: _Side
    names: list[str]
    label_w: float
    x_left: float
    x_right: float
    width: int
    height: int

    @classmethod
    def of(cls, left: _Side, right: _Side, names: list[str]) -> _Geometry:
        label_w = CHAR_W * max(len(name) for name in names) + 8
        x_right = TREE_W + 2 * label_w + GAP
        return cls(
            left, right, names, label_w, TREE_W, x_right, int(x_right + TREE_W + 20), (len(names) + 3) * ROW + 10
        )

    def lx(self, v: int) -> float:
        top = max(int(self.left.level.max()), 1)
        return 10 + (top - self.left.level[v]) / top * (self.x_left - 10)

    def rx(self, v: int) -> float:
        top = max(int(self.right.level.max()), 1)
        return self.x_right + self.right.level[v] / top * (TREE_W - 10)

    @staticmethod
    def ry(side: _Side, v: int) -> float:
        return 10 + 2 * ROW + side.y[v] * ROW


def _svg_tree(side: _Side, x: Any, ry: Any, node_names: bool = False) -> list[str]:
    """Every node's bar (over its children) and stem (from its parent); red where the clade is missed."""
    out = []
    tax = side.tax
    parent = tax.parent.tolist()
    first, last = tax.layout[1], tax.layout[2]
    for v in range(tax.n_nodes):
        miss = bool(side.miss[v])
        xv, yv = x(v), ry(side, v)
        d = f"M{x(parent[v]):.1f},{yv:.1f}H{xv:.1f}" if parent[v] >= 0 else ""
        if v >= tax.n_leaves:
            kids = side.kids[v]
            d += f"M{xv:.1f},{ry(side, kids[0]):.1f}V{ry(side, kids[-1]):.1f}"
        if not d:
            continue
        name = one_line(tax.names[v]) if v >= tax.n_leaves and tax.names[v] else ""
        if v < tax.n_leaves:
            tip = one_line(tax.names[v])
        else:
            what = "not in the other tree" if miss else "also in the other tree"
            tip = f"{name + ': ' if name else ''}{int(last[v] - first[v]):,} leaves, {what}"
        out.append(
            f'<path class="clade{" miss" if miss else ""}" stroke="{MISS if miss else MATCH}" d="{d}">'
            f"<title>{html.escape(tip)}</title></path>"
        )
        if node_names and name and v != tax.root:
            out.append(f'<text class="node" x="{xv + 3:.1f}" y="{yv - 6:.1f}">{html.escape(_label(name))}</text>')
    return out


def _top_groups(right: _Side) -> tuple[np.ndarray, list[int]]:
    """Every reference node's top-level group (an index into the root's children, -1 for the root)."""
    tax = right.tax
    top = np.full(tax.n_nodes, -1, dtype=np.int64)
    groups = right.kids[tax.root] if tax.root >= tax.n_leaves else [tax.root]
    for g, child in enumerate(groups):
        top[child] = g
    for v in tax.bfs_order.tolist():
        p = int(tax.parent[v])
        if p >= 0 and top[v] < 0:
            top[v] = top[p]
    return top, groups


def _svg_links(tree: Hierarchy, left: _Side, right: _Side, geo: _Geometry) -> list[str]:
    """Per leaf: its two labels and the line between them, coloured by its top-level reference group."""
    top, groups = _top_groups(right)
    colours = palette(max(len(groups), 1))
    out = []
    for i, label in enumerate(geo.names):
        y1, y2 = geo.ry(left, i), geo.ry(right, i)
        g = int(top[i])
        colour = colours[g] if g >= 0 else MATCH
        group = one_line(right.tax.names[groups[g]]) if g >= 0 else ""
        tip = html.escape(one_line(tree.leaf_names[i]) + (f" (reference group {group})" if group else ""))
        name = html.escape(label)
        out.append(
            f'<g class="pair"><title>{tip}</title>'
            f'<text x="{geo.x_left + 4:.1f}" y="{y1:.1f}">{name}</text>'
            f'<line class="link" stroke="{colour}" x1="{geo.x_left + geo.label_w:.1f}" y1="{y1:.1f}" '
            f'x2="{geo.x_right - geo.label_w:.1f}" y2="{y2:.1f}"/>'
            f'<text x="{geo.x_right - 4:.1f}" y="{y2:.1f}" text-anchor="end">{name}</text></g>'
        )
    return out


def _summary(
    left: _Side, right: _Side, learned_title: str, reference_title: str, scores: Mapping[str, Any] | None
) -> list[str]:
    """The header's lines (HTML): how many clades each side misses, and the scores when given."""
    k = left.tax.n_leaves
    n_left, n_right = left.tax.n_nodes - k - 1, right.tax.n_nodes - k - 1
    miss_left = int(left.miss[k:].sum()) - int(left.miss[left.tax.root])
    miss_right = int(right.miss[k:].sum()) - int(right.miss[right.tax.root])
    learned, ref = html.escape(one_line(learned_title)), html.escape(one_line(reference_title))
    lines = [
        f'{k:,} leaves. <span class="miss-key">Red</span>: a clade the other tree does not have '
        f"({miss_left:,} of the {learned}'s {n_left:,} clades, {miss_right:,} of the {ref}'s {n_right:,}; "
        "the root not counted). Lines: the leaf in both trees, coloured by its top-level reference group."
    ]
    if scores:
        keys = ("cophenetic_pearson", "cophenetic_spearman", "triplet_agreement", "rf_learned_only")
        lines.append(" \u00b7 ".join(f"{html.escape(key)} {_fmt(scores[key])}" for key in keys if key in scores))
    return lines


def _page(title: str, summary: list[str], svg: str) -> str:
    """The HTML document: CSS by hash, no script, nothing to load."""
    from l2h import __version__

    csp = f"default-src 'none'; style-src '{csp_hash(_CSS)}'; base-uri 'none'; form-action 'none'"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        f'<meta name="generator" content="l2h {__version__}">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{html.escape(title)}</h1>"
        + "".join(f"<p>{line}</p>" for line in summary)
        + f"</header>\n<main>{svg}</main>\n</body>\n</html>\n"
    )
