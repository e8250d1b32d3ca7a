"""Reference taxonomies: rooted trees of any arity over class names.

A learned hierarchy (:class:`l2h.Hierarchy`) is binary; the trees it is judged against are not:
WordNet above ImageNet's 1000 classes, CIFAR-100's 20 superclasses, a hand-written taxonomy.
:func:`read_taxonomy` reads them from three kinds of file into a :class:`Taxonomy`:

``newick``
    Any arity, quoted or bare labels, ``[comments]`` and branch lengths (ignored: only the topology
    counts).  Leaves must be named, each name once; internal names are kept but never matched.
``edges``
    A parent-child edge list, ``parent child`` per line (white space or a TAB between them), as
    ImageNet's ``wordnet.is_a.txt``.  ``leaves`` lists the classes (e.g. the 1000 wnids in class-id
    order): the tree is cut below them and everything that holds none of them is dropped.  Without
    ``leaves`` the leaves are the nodes that are never a parent.  WordNet is a DAG: each node keeps
    its *first listed* parent, with a warning that counts the nodes that had several.
``groups``
    A two-level class -> group map, the views' ``--groups`` file: ``class<TAB>group`` per line, or one
    group per line (line ``i + 1`` gives the group of class id ``i``).  ``#`` lines are ignored.

Every taxonomy is normalised the same way: nodes with a single child are contracted (their child
takes their place), so every internal node has at least two children; leaves are nodes ``0..L-1``
(in ``leaves`` order when given, else in file order) and internal nodes follow in breadth-first
order from the root.  Bad files (a cycle, a name the file does not hold, no leaves, several roots)
raise :class:`l2h.InputError` with a one-line message.  Nothing here recurses: trees can be
100 000 levels deep.

Examples
--------
>>> from l2h.taxonomy import parse_newick_taxonomy
>>> tax = parse_newick_taxonomy("((cat,dog,wolf)mammal,(eagle)bird,trout)animal;")
>>> tax.leaf_names, tax.n_nodes       # the unary 'bird' is contracted
(('cat', 'dog', 'wolf', 'eagle', 'trout'), 7)
>>> [int(d) for d in tax.depth[: tax.n_leaves]]
[2, 2, 2, 1, 1]
"""

from __future__ import annotations

import os
import re
import warnings
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l2h import newick
from l2h._validation import InputError, L2HWarning
from l2h.class_groups import content_lines, parse_groups
from l2h.text import text_lines

if TYPE_CHECKING:
    from l2h.hierarchy import Hierarchy

__all__ = ["TAXONOMY_FORMATS", "Taxonomy", "parse_newick_taxonomy", "read_taxonomy", "taxonomy_format_for"]

TAXONOMY_FORMATS = ("newick", "edges", "groups")
_NEWICK_SUFFIXES = (".nwk", ".newick", ".tree", ".tre")


# ---------------------------------------------------------------------------------------------- the model
@dataclass(frozen=True, eq=False)
class Taxonomy:
    """A rooted tree of any arity over named leaves, stored as a parent array.

    Build one with :func:`read_taxonomy`, :func:`parse_newick_taxonomy`, :meth:`from_parents` or
    :meth:`from_hierarchy`; they all contract unary nodes, so every internal node has two children
    or more.

    Attributes
    ----------
    parent : ndarray of int64, shape (n_nodes,)
        Parent of every node, ``-1`` at the root.  Leaves are nodes ``0..n_leaves-1``; internal nodes
        follow in breadth-first order, so the root is node ``n_leaves`` (or node 0 for a single leaf).
    names : tuple of str, length n_nodes
        Leaf names (unique), then internal node names (``""`` when the file gives none).
    n_leaves : int
    info : mapping
        Provenance (source format, what was contracted or dropped).
    """

    parent: np.ndarray
    names: tuple[str, ...]
    n_leaves: int
    info: Mapping[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_parents(
        cls,
        parent: Sequence[int] | np.ndarray,
        names: Sequence[str],
        leaves: Sequence[int] | np.ndarray | None = None,
        *,
        source: str = "taxonomy",
        info: Mapping[str, Any] | None = None,
    ) -> Taxonomy:
        """Normalise any rooted forest-free parent array into a :class:`Taxonomy`.

        Parameters
        ----------
        parent : sequence of int, shape (m,)
            Parent node of every node (``-1`` for none).
        names : sequence of str, length m
        leaves : sequence of int, optional
            The nodes that are the leaves, in order.  The tree is cut below them (their descendants
            are ignored) and nodes above none of them are dropped.  Default: the nodes without
            children, in node order.
        source : str
            What the tree came from, for error messages (e.g. the file).

        Raises
        ------
        InputError
            A cycle above a leaf, several roots above the leaves, a leaf below another leaf, or
            no leaf at all.
        """
        par = np.asarray(parent, dtype=np.int64).reshape(-1)
        m = par.shape[0]
        if len(names) != m:
            raise ValueError(f"names has {len(names)} entries but parent has {m}")
        if m and (par.min() < -1 or par.max() >= m):
            raise ValueError(f"parent ids must be in -1..{m - 1}")
        leaf_nodes = _leaf_nodes(par, leaves, source)
        used, root = _nodes_above_leaves(par, names, leaf_nodes, source)
        parent_out, kept_nodes, n_contracted = _contracted(par, used, root, leaf_nodes)
        names_out = tuple(str(names[v]) for v in kept_nodes.tolist())
        meta = {"source": source, "contracted": n_contracted}
        meta.update(info or {})
        return cls(parent=parent_out, names=names_out, n_leaves=int(leaf_nodes.size), info=meta)

    @classmethod
    def from_hierarchy(cls, tree: Hierarchy) -> Taxonomy:
        """The topology of a binary :class:`~l2h.Hierarchy` (leaf ids and names kept)."""
        k = tree.n_leaves
        parent = tree.parent
        names = list(tree.leaf_names) + [f"n{v}" for v in range(k, tree.n_nodes)]
        return cls.from_parents(parent, names, np.arange(k), source="tree")

    # ------------------------------------------------------------------ shape
    @property
    def n_nodes(self) -> int:
        """Number of nodes (leaves and internal)."""
        return int(self.parent.shape[0])

    @property
    def leaf_names(self) -> tuple[str, ...]:
        """Names of the leaves ``0..n_leaves-1``."""
        return self.names[: self.n_leaves]

    @property
    def root(self) -> int:
        """Node id of the root."""
        return int(np.flatnonzero(self.parent < 0)[0])

    @cached_property
    def bfs_order(self) -> np.ndarray:
        """All nodes, parents before children (breadth-first from the root)."""
        kids_order, starts, counts = self._children_csr
        kids, first, count = kids_order.tolist(), starts.tolist(), counts.tolist()
        order = [self.root]
        for v in order:  # the list grows while it is read: a queue without recursion
            s = first[v]
            order.extend(kids[s : s + count[v]])
        return np.asarray(order, dtype=np.int64)

    @cached_property
    def _children_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(order, starts, counts)``: the children of ``v`` are ``order[starts[v]:starts[v]+counts[v]]``."""
        n = self.n_nodes
        key = np.where(self.parent >= 0, self.parent, n)
        order = np.argsort(key, kind="stable")
        counts = np.bincount(self.parent[self.parent >= 0], minlength=n)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return order, starts, counts

    def children(self, node: int) -> np.ndarray:
        """Children of ``node`` in node-id order."""
        order, starts, counts = self._children_csr
        return order[starts[node] : starts[node] + counts[node]]

    @cached_property
    def depth(self) -> np.ndarray:
        """Edges from the root to every node (int64, shape (n_nodes,))."""
        depth = np.zeros(self.n_nodes, dtype=np.int64)
        order = self.bfs_order
        par = self.parent[order[1:]]
        # parents come before children in BFS order, so one pass in that order suffices
        for v, p in zip(order[1:].tolist(), par.tolist(), strict=True):
            depth[v] = depth[p] + 1
        return depth

    @cached_property
    def layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Depth-first leaf order and every node's range in it.

        Returns ``(leaf_order, start, end)``: the leaves under node ``v`` are
        ``leaf_order[start[v]:end[v]]`` (children in node-id order).
        """
        n = self.n_nodes
        order = self.bfs_order.tolist()
        par = self.parent.tolist()
        size = [1] * self.n_leaves + [0] * (n - self.n_leaves)
        for v in reversed(order):  # children before parents
            p = par[v]
            if p >= 0:
                size[p] += size[v]
        kids_order, starts, counts = self._children_csr
        kids, first, count = kids_order.tolist(), starts.tolist(), counts.tolist()
        start = [0] * n
        for v in order:  # parents before children: children packed left to right
            offset = start[v]
            s = first[v]
            for c in kids[s : s + count[v]]:
                start[c] = offset
                offset += size[c]
        start_arr = np.asarray(start, dtype=np.int64)
        end = start_arr + np.asarray(size, dtype=np.int64)
        leaf_order = np.empty(self.n_leaves, dtype=np.int64)
        leaf_order[start_arr[: self.n_leaves]] = np.arange(self.n_leaves)
        return leaf_order, start_arr, end

    # ------------------------------------------------------------------ derived trees
    def restrict(self, leaf_names: Sequence[str]) -> Taxonomy:
        """The taxonomy over these leaves only (in this order), unary chains contracted again."""
        position = {name: i for i, name in enumerate(self.leaf_names)}
        missing = [name for name in leaf_names if name not in position]
        if missing:
            raise InputError(
                f"taxonomy has no leaf {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
        leaves = [position[name] for name in leaf_names]
        return Taxonomy.from_parents(self.parent, self.names, leaves, source=str(self.info.get("source", "taxonomy")))

    def levels(self) -> dict[int, np.ndarray]:
        """The partition of the leaves at every depth.

        At depth ``d`` every leaf belongs to its ancestor at depth ``d`` (itself when it is
        shallower).  Returns ``{d: group id of every leaf}`` (groups numbered by first leaf) for the
        depths whose partition has more than one group and is not all singletons.
        """
        depth = self.depth
        leaf_order, start, end = self.layout
        n = self.n_leaves
        out: dict[int, np.ndarray] = {}
        max_depth = int(depth[n:].max()) if self.n_nodes > n else 0
        for d in range(1, max_depth + 1):
            inner = np.flatnonzero(depth[n:] == d) + n
            group_pos = np.arange(n)  # a leaf above depth d is its own group (its position in leaf order)
            for v in inner.tolist():
                group_pos[start[v] : end[v]] = start[v]
            by_leaf = np.empty(n, dtype=np.int64)
            by_leaf[leaf_order] = group_pos
            _, first, codes = np.unique(by_leaf, return_index=True, return_inverse=True)
            n_groups = first.size
            if 1 < n_groups < n:
                rank = np.argsort(np.argsort(first))
                out[d] = rank[codes.reshape(-1)].astype(np.int64)
        return out

    def to_newick(self) -> str:
        """Newick text (internal names kept, no branch lengths); written without recursion."""
        kids_order, starts, counts = self._children_csr
        kids, first, count = kids_order.tolist(), starts.tolist(), counts.tolist()
        children = [kids[first[v] : first[v] + count[v]] for v in range(self.n_nodes)]
        labels = [newick.quote(name) if name or not count[v] else "" for v, name in enumerate(self.names)]
        return newick.format_nodes(self.root, children, labels)

    def __repr__(self) -> str:
        return f"Taxonomy(n_leaves={self.n_leaves}, n_nodes={self.n_nodes}, info={dict(self.info)!r})"


def _leaf_nodes(par: np.ndarray, leaves: Sequence[int] | np.ndarray | None, source: str) -> np.ndarray:
    """The leaf nodes: ``leaves`` checked, or the nodes without children in node order."""
    m = par.shape[0]
    if leaves is None:
        has_child = np.zeros(m, dtype=bool)
        has_child[par[par >= 0]] = True
        leaf_nodes = np.flatnonzero(~has_child)
    else:
        leaf_nodes = np.asarray(leaves, dtype=np.int64).reshape(-1)
        if leaf_nodes.size and (leaf_nodes.min() < 0 or leaf_nodes.max() >= m):
            raise ValueError(f"leaf node ids must be in 0..{m - 1}")
        if np.unique(leaf_nodes).size != leaf_nodes.size:
            raise InputError(f"{source}: a leaf is listed twice")
    if leaf_nodes.size == 0:
        raise InputError(f"{source} is empty: it holds no leaves")
    return leaf_nodes


def _nodes_above_leaves(
    par: np.ndarray, names: Sequence[str], leaf_nodes: np.ndarray, source: str
) -> tuple[np.ndarray, int]:
    """Which nodes lie on a leaf's path to the root (the leaves included), and the one root.

    Walks up from every leaf, each node once.  Raises on a cycle, a leaf above another leaf, or
    several roots.
    """
    m = par.shape[0]
    state = [0] * m  # 0 unseen, 1 on the current walk, 2 done
    is_leaf_arr = np.zeros(m, dtype=bool)
    is_leaf_arr[leaf_nodes] = True
    is_leaf = is_leaf_arr.tolist()
    roots: list[int] = []
    par_list = par.tolist()
    for leaf in leaf_nodes.tolist():
        if state[leaf] == 2:
            below = _a_leaf_below(leaf, leaf_nodes, par_list)
            raise InputError(
                f"{source}: leaf {names[leaf]!r} is an ancestor of the leaf {names[below]!r}; a class "
                "cannot hold other classes"
            )
        path = []
        node = leaf
        while True:
            if state[node] == 1:
                raise InputError(f"{source} has a cycle through {names[node]!r}")
            if node != leaf and is_leaf[node]:
                raise InputError(
                    f"{source}: leaf {names[node]!r} is an ancestor of the leaf {names[leaf]!r}; a class "
                    "cannot hold other classes"
                )
            if state[node] == 2:
                break
            state[node] = 1
            path.append(node)
            up = par_list[node]
            if up < 0:
                roots.append(node)
                break
            node = up
        for v in path:
            state[v] = 2
    if len(roots) > 1:
        shown = ", ".join(repr(names[r]) for r in roots[:3])
        raise InputError(
            f"{source} has {len(roots)} roots above its leaves ({shown}{', ...' if len(roots) > 3 else ''}); "
            "a taxonomy needs a single root"
        )
    return np.asarray(state, dtype=np.int8) == 2, roots[0]


def _contracted(
    par: np.ndarray, used: np.ndarray, root: int, leaf_nodes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Renumber the used nodes (leaves first, then internal nodes breadth-first), contracting unary ones.

    Returns the new parent array, the old id of every new node, and how many nodes were contracted.
    """
    m = par.shape[0]
    is_leaf_arr = np.zeros(m, dtype=bool)
    is_leaf_arr[leaf_nodes] = True
    is_leaf = is_leaf_arr.tolist()
    # Children among the used nodes (the leaves' own descendants are cut off).
    child_par = np.where(used & (par >= 0), par, -1)
    n_children = np.bincount(child_par[child_par >= 0], minlength=m)
    order = np.argsort(child_par, kind="stable")
    starts = np.searchsorted(child_par[order], np.arange(m))
    # Breadth-first order from the root; contract unary nodes on the way.
    keep = used & ((n_children >= 2) | is_leaf_arr)
    bfs: list[int] = []
    queue = deque([root])
    n_children_l = n_children.tolist()
    starts_l = starts.tolist()
    order_l = order.tolist()
    keep_l = keep.tolist()
    npo = [-1] * m  # nearest kept ancestor (node id), -1 if none
    while queue:
        v = queue.popleft()
        bfs.append(v)
        target = v if keep_l[v] else npo[v]
        s = starts_l[v]
        for c in order_l[s : s + n_children_l[v]]:
            npo[c] = target
            queue.append(c)
    new_parent_of = np.asarray(npo, dtype=np.int64)
    internal = [v for v in bfs if keep_l[v] and not is_leaf[v]]
    n_leaves = int(leaf_nodes.size)
    new_id = np.full(m, -1, dtype=np.int64)
    new_id[leaf_nodes] = np.arange(n_leaves)
    new_id[internal] = n_leaves + np.arange(len(internal))
    kept_nodes = np.concatenate([leaf_nodes, np.asarray(internal, dtype=np.int64)])
    up = new_parent_of[kept_nodes]
    parent_out = np.where(up >= 0, new_id[np.maximum(up, 0)], -1)
    return parent_out, kept_nodes, int(np.count_nonzero(used & ~keep))


def _a_leaf_below(node: int, leaf_nodes: np.ndarray, par_list: list[int]) -> int:
    """A listed leaf that has ``node`` among its ancestors (for the error message)."""
    for leaf in leaf_nodes.tolist():
        v = par_list[leaf]
        steps = 0
        while v >= 0 and steps <= len(par_list):
            if v == node:
                return leaf
            v = par_list[v]
            steps += 1
    return node


# ---------------------------------------------------------------------------------------------- reading
def taxonomy_format_for(
    path: str | os.PathLike[str], text: str, fmt: str | None = None, *, has_leaves: bool = False
) -> str:
    """The format of a taxonomy file: ``fmt`` when given, else from the suffix and the content.

    ``.nwk/.newick/.tree/.tre`` or text starting with ``(`` -> newick; ``leaves`` given -> edges;
    ``.tsv`` or any TAB -> groups; every line two white-space separated names, some name both a
    parent and a child -> edges; otherwise groups (one group per line).

    Parameters
    ----------
    path : str or os.PathLike
        The taxonomy file's path (only its suffix is used).
    text : str
        The file's content.
    fmt : str, optional
        An explicit format: ``"newick"``/``"nwk"``, ``"edges"``/``"edge-list"``/``"is_a"``,
        ``"groups"``/``"tsv"``; ``None`` or ``"auto"`` guesses.
    has_leaves : bool, default False
        Whether a leaf list was given with the file (then a non-Newick file is an edge list).

    Returns
    -------
    str
        ``"newick"``, ``"edges"`` or ``"groups"``.

    Raises
    ------
    InputError
        If ``fmt`` is not a known format.

    Examples
    --------
    >>> taxonomy_format_for("classes.nwk", "(cat,dog);")
    'newick'
    >>> taxonomy_format_for("classes.txt", "mammal cat\\nanimal mammal\\n")
    'edges'
    >>> taxonomy_format_for("classes.txt", "cat\\tmammal\\n")
    'groups'
    """
    if fmt and fmt != "auto":
        fmt = fmt.lower()
        if fmt in ("nwk", "newick"):
            return "newick"
        if fmt in ("edges", "edge-list", "is_a"):
            return "edges"
        if fmt in ("groups", "tsv"):
            return "groups"
        raise InputError(f"unknown taxonomy format {fmt!r}; expected one of {', '.join(TAXONOMY_FORMATS)}")
    suffix = Path(path).suffix.lower()
    if suffix in _NEWICK_SUFFIXES or _strip_comments(text).lstrip().startswith("("):
        return "newick"
    if has_leaves:
        return "edges"
    lines = content_lines(text)
    if suffix == ".tsv" or any("\t" in line for _, line in lines):
        return "groups"
    if lines and all(len(_edge_cells(line)) == 2 for _, line in lines):
        parents = {_edge_cells(line)[0] for _, line in lines}
        children = {_edge_cells(line)[1] for _, line in lines}
        if parents & children:
            return "edges"
    return "groups"


def _edge_cells(line: str) -> list[str]:
    """The cells of an edge-list line: split at tabs when it has one, else at runs of spaces (never
    at other whitespace such as U+2028, which may be part of a name)."""
    if "\t" in line:
        return [cell.strip(" ") for cell in line.split("\t")]
    return re.split(r" +", line.strip(" "))


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text_lines(text) if not line.lstrip(" \t").startswith("#"))


def read_taxonomy(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    leaves: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> Taxonomy:
    """Read a reference taxonomy (Newick, edge list or class -> group map).

    Parameters
    ----------
    path : path
        The file.
    fmt : {"newick", "edges", "groups"}, optional
        Default: guessed (see :func:`taxonomy_format_for`).
    leaves : sequence of str, optional
        The classes, in class-id order (e.g. ImageNet's 1000 wnids): every name must be a node of the
        file; the tree is cut below them and reduced to what lies above them.  Mostly for edge lists.
    class_names : sequence of str, optional
        For a groups file: the name of every class id (line ``i`` names class ``i``), so a one-column
        file's line ``i + 1`` and a two-column file's integer ids name classes.

    Returns
    -------
    Taxonomy
        Unary chains contracted.

    Raises
    ------
    InputError
        A missing or unreadable file, or a bad one (cycle, unknown names, empty, several roots),
        with a one-line message that names the file.

    Examples
    --------
    >>> import tempfile, os
    >>> from l2h import read_taxonomy
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "groups.tsv")
    >>> _ = open(path, "w").write("cat\\tmammal\\ndog\\tmammal\\ntrout\\tfish\\nsalmon\\tfish\\n")
    >>> read_taxonomy(path).to_newick()
    '((cat,dog)mammal,(trout,salmon)fish);'
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"taxonomy file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"taxonomy path is a directory, not a file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"taxonomy file {path} cannot be read as UTF-8 text: {exc}") from None
    kind = taxonomy_format_for(path, text, fmt, has_leaves=leaves is not None)
    source = f"taxonomy file {path}"
    if kind == "newick":
        parent, names, order = _newick_parents(text, source)
        tax = _with_leaves(parent, names, order, leaves, source, kind)
    elif kind == "edges":
        parent, names, order = _edge_parents(text, source)
        tax = _with_leaves(parent, names, order, leaves, source, kind)
    else:
        parent, names, order = _group_parents(text, source, class_names)
        tax = _with_leaves(parent, names, order, leaves, source, kind)
    if tax.n_leaves < 2:
        raise InputError(f"{source} has a single leaf ({tax.leaf_names[0]!r}); a taxonomy needs two or more")
    return tax


def _with_leaves(
    parent: list[int], names: list[str], default_leaves: list[int], leaves: Sequence[str] | None, source: str, kind: str
) -> Taxonomy:
    if leaves is None:
        return Taxonomy.from_parents(parent, names, default_leaves, source=source, info={"format": kind})
    by_name: dict[str, int] = {}
    duplicated: set[str] = set()
    for node, name in enumerate(names):
        if name in by_name:
            duplicated.add(name)
        by_name.setdefault(name, node)
    missing = [name for name in leaves if name not in by_name]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise InputError(f"{source} has no node named {missing[0]!r}{more} (from the leaves list)")
    ambiguous = [name for name in leaves if name in duplicated]
    if ambiguous:
        raise InputError(f"{source} has several nodes named {ambiguous[0]!r}; cannot tell which is the leaf")
    if len(set(leaves)) != len(leaves):
        dup = next(name for name in leaves if list(leaves).count(name) > 1)
        raise InputError(f"the leaves list names {dup!r} more than once")
    return Taxonomy.from_parents(parent, names, [by_name[n] for n in leaves], source=source, info={"format": kind})


def _edge_parents(text: str, source: str) -> tuple[list[int], list[str], list[int]]:
    ids: dict[str, int] = {}
    names: list[str] = []
    parent: list[int] = []
    n_parents: list[int] = []
    is_parent: list[bool] = []

    def node(name: str) -> int:
        v = ids.get(name)
        if v is None:
            v = ids[name] = len(names)
            names.append(name)
            parent.append(-1)
            n_parents.append(0)
            is_parent.append(False)
        return v

    seen_edges: set[tuple[int, int]] = set()
    for lineno, line in content_lines(text):
        cells = _edge_cells(line)
        if len(cells) != 2 or not cells[0] or not cells[1]:
            raise InputError(f"{source}, line {lineno}: expected 'parent child'; got {line.strip()!r}")
        p, c = node(cells[0]), node(cells[1])
        if p == c:
            raise InputError(f"{source} has a cycle: line {lineno} makes {cells[0]!r} its own parent")
        if (p, c) in seen_edges:
            continue
        seen_edges.add((p, c))
        is_parent[p] = True
        n_parents[c] += 1
        if parent[c] < 0:
            parent[c] = p
    if not names:
        raise InputError(f"{source} is empty: it holds no edges")
    several = sum(1 for k in n_parents if k > 1)
    if several:
        warnings.warn(
            L2HWarning(
                f"{source}: {several} node{'s' if several > 1 else ''} had several parents (a DAG, as WordNet); "
                "each keeps its first listed parent"
            ),
            stacklevel=3,
        )
    return parent, names, [v for v in range(len(names)) if not is_parent[v]]


def _group_parents(text: str, source: str, class_names: Sequence[str] | None) -> tuple[list[int], list[str], list[int]]:
    rows = parse_groups(text, source, class_names)
    # nodes: the root, the groups, then the classes (leaves)
    groups: dict[str, int] = {}
    for group in rows.groups:
        groups.setdefault(group, 1 + len(groups))
    names = [""] + list(groups) + list(rows.names)
    parent = [-1] + [0] * len(groups) + [groups[group] for group in rows.groups]
    first_leaf = 1 + len(groups)
    return parent, names, list(range(first_leaf, len(names)))


# ---------------------------------------------------------------------------------------------- Newick
def parse_newick_taxonomy(text: str, *, source: str = "Newick") -> Taxonomy:
    """A :class:`Taxonomy` from Newick text of any arity (see the module docstring).

    Parameters
    ----------
    text : str
        Newick text; leaves are the classes, named internal nodes become named groups.
    source : str, default "Newick"
        What the text is (a file name); error messages and ``info["source"]`` use it.

    Returns
    -------
    Taxonomy
        The reference hierarchy.

    Raises
    ------
    InputError
        If the text is not valid Newick (the message names ``source``).

    Examples
    --------
    >>> tax = parse_newick_taxonomy("((cat,dog)mammal,(trout,carp)fish);")
    >>> tax.n_leaves, tax.n_nodes
    (4, 7)
    """
    parent, names, leaves = _newick_parents(text, source)
    tax = Taxonomy.from_parents(parent, names, leaves, source=source, info={"format": "newick"})
    return tax


def _newick_parents(text: str, source: str) -> tuple[list[int], list[str], list[int]]:
    """Parse Newick (:func:`l2h.newick.parse`) into ``(parent, names, leaves)``; leaves in text order."""
    tree = newick.parse(text, source)
    leaves = tree.leaves
    seen: set[str] = set()
    for v in leaves:
        name = tree.names[v]
        if not name:
            raise InputError(f"{source} has an unnamed leaf")
        if name in seen:
            raise InputError(f"{source} has the leaf {name!r} more than once")
        seen.add(name)
    return tree.parents, tree.names, leaves
