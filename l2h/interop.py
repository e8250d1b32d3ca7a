"""Conversions to and from other tree libraries: ete3 (the ``ete`` extra).

scipy needs no conversion: :meth:`l2h.Hierarchy.to_scipy` is a valid, monotonic linkage matrix for
:mod:`scipy.cluster.hierarchy` (``dendrogram``, ``fcluster``, ...), and
:meth:`l2h.Hierarchy.from_linkage` reads one back.

Examples
--------
>>> from l2h import Hierarchy
>>> from l2h.interop import from_ete3, to_ete3
>>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "car", "bus"])
>>> ete = to_ete3(tree)                       # doctest: +SKIP
>>> ete.get_leaf_names()                      # doctest: +SKIP
['cat', 'dog', 'car', 'bus']
>>> from_ete3(ete).same_topology(tree)        # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import Any

from l2h import treeio
from l2h.hierarchy import Hierarchy

__all__ = ["from_ete3", "to_ete3"]

INSTALL_HINT = treeio.ETE3_INSTALL_HINT


def to_ete3(tree: Hierarchy) -> Any:
    """The tree as an :class:`ete3.Tree`.

    Leaves are named by ``tree.leaf_names``, internal nodes ``n<node id>`` (as in the Newick export);
    ``dist`` is the height difference to the parent (0 at the root), children come in merge-column
    order.  Every node also carries the features ``node_id`` (scipy numbering) and ``height``, which
    :func:`from_ete3` uses to restore the exact merges.  Built iteratively (any depth).

    Parameters
    ----------
    tree : Hierarchy

    Returns
    -------
    ete3.Tree
        The root node.

    Raises
    ------
    ImportError
        When ete3 cannot be imported; the message gives the install command.
    """
    return tree.to_ete3()


def from_ete3(ete_tree: Any) -> Hierarchy:
    """A :class:`~l2h.Hierarchy` from a rooted binary :class:`ete3.Tree`.

    Leaf ids: the ``node_id`` features written by :func:`to_ete3` when every leaf has one; else the
    leaf names when they are exactly ``0..K-1``; else left-to-right order.  Merge order: the
    ``node_id`` features (or ``n<id>`` names) when they form a valid numbering; else increasing
    height (the largest sum of ``dist`` down to a leaf), children first
    (:func:`l2h.treeio.merges_from_postorder`, shared with the Newick reader).

    Parameters
    ----------
    ete_tree : ete3.Tree
        The root node.

    Returns
    -------
    Hierarchy

    Raises
    ------
    ValueError
        When the tree has fewer than 2 leaves, a node with other than 2 children, or duplicate or
        empty leaf names.
    """
    return Hierarchy.from_tree_data(treeio.tree_data_from_ete3(ete_tree))
