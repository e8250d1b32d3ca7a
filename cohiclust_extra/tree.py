"""The soft binary decision tree of CoHiClust: level probabilities, leaf masks, pruning, export.

Node numbering (as in the paper, §3): level ``t`` (root at ``t = 0``, leaves at ``t = T``) holds nodes
``(t, i)``, ``i = 0..2^t - 1``; the children of ``(t, i)`` are ``(t+1, 2i)`` (left) and ``(t+1, 2i+1)``
(right).  The tree head outputs one logit per internal node, ``2^T - 1`` in all, in breadth-first order:
internal node ``(t, i)`` is output ``2^t - 1 + i``, and ``sigmoid(logit)`` is its left-edge probability.

Pruning is a boolean ``leaf_mask`` over the ``2^T`` leaves.  A node is *live* when a live leaf lies under
it.  An internal node with a single live child routes everything to that child (probability 1): the
pruned leaf's parent is collapsed and the sibling subtree takes its place, so the live leaves' probabilities
still sum to one.  All probabilities are computed in log space (``logsigmoid``), so deep trees and
confident splits neither underflow nor give infinite gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "check_depth",
    "live_nodes",
    "level_log_probs",
    "split_balance_loss",
    "leaf_to_prune",
    "native_hierarchy",
]


def check_depth(depth: int) -> int:
    """Validate a tree depth ``T`` (number of levels below the root)."""
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)):
        raise TypeError(f"depth must be an integer; got {type(depth).__name__}")
    if depth < 1:
        raise ValueError(f"depth must be at least 1 (a tree of 2^depth leaves); got {depth}")
    if depth > 16:
        raise ValueError(f"depth must be at most 16 (65,536 leaves); got {depth}")
    return int(depth)


def live_nodes(leaf_mask: torch.Tensor) -> list[torch.Tensor]:
    """Liveness of every node, level by level.

    Parameters
    ----------
    leaf_mask : bool tensor, shape (2^T,)
        ``True`` for the leaves that are kept.

    Returns
    -------
    list of bool tensors
        Element ``t`` (``t = 0..T``) has shape ``(2^t,)``: whether node ``(t, i)`` has a live leaf below it.
    """
    levels = [leaf_mask.bool()]
    while levels[0].numel() > 1:
        levels.insert(0, levels[0].view(-1, 2).any(dim=1))
    return levels


def level_log_probs(node_logits: torch.Tensor, leaf_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Log-probabilities of reaching every node, for every level ``t = 1..T``.

    ``log P_t^i(x)`` is the sum of the log edge probabilities on the path from the root to ``(t, i)``;
    the work is one vectorised step per level (no loop over nodes).

    Parameters
    ----------
    node_logits : tensor, shape (B, 2^T - 1)
        Tree-head logits in breadth-first node order.
    leaf_mask : bool tensor, shape (2^T,), optional
        Live leaves; ``None`` keeps all of them.

    Returns
    -------
    list of T tensors
        Element ``t - 1`` has shape ``(B, 2^t)``; ``exp`` of each row sums to 1.  Nodes without a live
        leaf below them get ``-inf``.

    Examples
    --------
    >>> logits = torch.zeros(2, 3)                       # depth 2, every split 50/50
    >>> [lp.exp()[0].tolist() for lp in level_log_probs(logits)]
    [[0.5, 0.5], [0.25, 0.25, 0.25, 0.25]]
    """
    n_internal = node_logits.shape[-1]
    depth = int(round(np.log2(n_internal + 1)))
    if 2**depth - 1 != n_internal:
        raise ValueError(f"node_logits must have 2^T - 1 columns; got {n_internal}")
    alive = live_nodes(leaf_mask.to(node_logits.device)) if leaf_mask is not None else None
    parent = node_logits.new_zeros(node_logits.shape[0], 1)
    # one pass over all nodes: log σ(z) for the left edges and log σ(−z) = log σ(z) − z for the right ones
    # (exact up to rounding; both stay finite for any finite z)
    log_left = F.logsigmoid(node_logits)
    log_right = log_left - node_logits
    out = []
    for t in range(depth):
        nodes = slice(2**t - 1, 2 ** (t + 1) - 1)
        z, left, right = node_logits[:, nodes], log_left[:, nodes], log_right[:, nodes]
        if alive is not None:
            children = alive[t + 1].view(-1, 2)
            only_left = children[:, 0] & ~children[:, 1]
            only_right = children[:, 1] & ~children[:, 0]
            zero, neg_inf = z.new_zeros(()), z.new_full((), float("-inf"))
            left = torch.where(only_left, zero, torch.where(children[:, 0], left, neg_inf))
            right = torch.where(only_right, zero, torch.where(children[:, 1], right, neg_inf))
        parent = torch.stack((parent + left, parent + right), dim=-1).reshape(z.shape[0], -1)
        out.append(parent)
    return out


def split_balance_loss(
    node_logits: torch.Tensor,
    levels: Sequence[torch.Tensor],
    leaf_mask: torch.Tensor | None = None,
    eps: float = 1e-8,
) -> torch.Tensor:
    """R1: cross-entropy between ``[0.5, 0.5]`` and each internal node's mean left/right split.

    The mean split of node ``(t, i)`` weights every point by its probability of reaching the node
    (Frosst & Hinton, 2017): ``alpha = sum_x P_t^i(x) p_left(x) / sum_x P_t^i(x)``; the node contributes
    ``-(log(alpha) + log(1 - alpha)) / 2``.  The result is the sum over the internal nodes whose two
    children are live (collapsed nodes have no decision left to balance).

    Parameters
    ----------
    node_logits : tensor, shape (B, 2^T - 1)
    levels : output of :func:`level_log_probs` for the same logits and mask
    leaf_mask : bool tensor, shape (2^T,), optional
    """
    depth = len(levels)
    alive = live_nodes(leaf_mask.to(node_logits.device)) if leaf_mask is not None else None
    total = node_logits.new_zeros(())
    for t in range(depth):
        z = node_logits[:, 2**t - 1 : 2 ** (t + 1) - 1]
        reach = levels[t - 1].exp() if t > 0 else torch.ones_like(z)
        alpha = (reach * torch.sigmoid(z)).sum(0) / (reach.sum(0) + eps)
        alpha = alpha.clamp(eps, 1 - eps)
        ce = -0.5 * (alpha.log() + (1 - alpha).log())
        if alive is not None:
            both = alive[t + 1].view(-1, 2).all(dim=1)
            ce = ce[both]
        total = total + ce.sum()
    return total


def leaf_to_prune(mean_leaf_probs: np.ndarray | torch.Tensor, leaf_mask: np.ndarray | torch.Tensor) -> int:
    """Index of the live leaf with the lowest mean probability (lowest index on ties)."""
    probs = np.asarray(torch.as_tensor(mean_leaf_probs).detach().cpu(), dtype=np.float64)
    mask = np.asarray(torch.as_tensor(leaf_mask).cpu(), dtype=bool)
    if mask.sum() < 2:
        raise ValueError("cannot prune: fewer than 2 live leaves")
    candidates = np.where(mask, probs, np.inf)
    return int(np.argmin(candidates))


def native_hierarchy(leaf_mask: np.ndarray | torch.Tensor, info: dict | None = None):
    """The pruned CoHiClust tree as an :class:`l2h.Hierarchy`.

    Leaves are the live leaves, renumbered ``0..L-1`` in left-to-right order (increasing original leaf
    index) and named ``"0"..."L-1"``, so column ``j`` of the exported ``logits.npy`` is tree leaf ``j`` in
    every export format (``l2h metrics`` matches Newick leaves to columns by these numbers).  Their indices
    in the complete tree of depth ``T`` are kept in ``info["live_leaves"]``.  Every internal node with two
    live children becomes a merge; a node with one live child is collapsed into that child.  Merges are
    ordered bottom-up (deepest original level first, left to right within a level), and a merge made at
    original level ``t`` sits at height ``T - t``.

    Parameters
    ----------
    leaf_mask : bool array, shape (2^T,)
        Live leaves (at least 2).
    info : dict, optional
        Provenance stored in the hierarchy.
    """
    from l2h.hierarchy import Hierarchy

    mask = np.asarray(torch.as_tensor(leaf_mask).cpu(), dtype=bool).reshape(-1)
    depth = int(round(np.log2(mask.size)))
    if 2**depth != mask.size or depth < 1:
        raise ValueError(f"leaf_mask must have 2^T entries (T >= 1); got {mask.size}")
    live = np.flatnonzero(mask)
    if live.size < 2:
        raise ValueError(f"the tree needs at least 2 live leaves to export; it has {live.size}")
    n_leaves = live.size
    # node id of the (collapsed) subtree rooted at each node of the current level; -1 when dead
    ids = np.full(mask.size, -1, dtype=np.int64)
    ids[live] = np.arange(n_leaves)
    merges, heights = [], []
    next_id = n_leaves
    for t in range(depth - 1, -1, -1):
        pairs = ids.reshape(-1, 2)
        parent = np.full(pairs.shape[0], -1, dtype=np.int64)
        for i, (a, b) in enumerate(pairs):
            if a >= 0 and b >= 0:
                merges.append((a, b))
                heights.append(float(depth - t))
                parent[i] = next_id
                next_id += 1
            else:
                parent[i] = max(a, b)
        ids = parent
    return Hierarchy.from_merges(
        np.asarray(merges, dtype=np.int64),
        heights=heights,
        leaf_names=[str(j) for j in range(n_leaves)],
        info={"model": "cohiclust", "depth": depth, "live_leaves": live.tolist(), **(info or {})},
    )
