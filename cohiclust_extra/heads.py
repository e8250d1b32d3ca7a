"""Heads on top of the backbone features: the tree head π, projection heads φ / g_I, CC's cluster head g_C."""

from __future__ import annotations

import torch
from torch import nn

from cohiclust_extra.tree import check_depth

__all__ = ["TreeHead", "ProjectionHead", "ClusterHead"]


def _mlp(in_dim: int, out_dim: int, hidden: int | None) -> nn.Module:
    if not hidden:
        return nn.Linear(in_dim, out_dim)
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))


class TreeHead(nn.Module):
    """π: features → ``2^T − 1`` node logits (breadth-first), plus the tree's live-leaf mask.

    The sigmoid of output ``2^t − 1 + i`` is the left-edge probability of internal node ``(t, i)``.  The
    mask is a persistent buffer, so it travels with ``state_dict`` (checkpoints keep the pruning).

    Parameters
    ----------
    in_dim : int
    depth : int
        ``T``: the complete tree has ``2^T`` leaves.
    hidden : int or None
        Width of a hidden layer (the paper's two-layer π for colour images); ``None``: a single linear layer.
    """

    def __init__(self, in_dim: int, depth: int, hidden: int | None = None) -> None:
        super().__init__()
        self.depth = check_depth(depth)
        self.net = _mlp(in_dim, 2**self.depth - 1, hidden)
        self.register_buffer("leaf_mask", torch.ones(2**self.depth, dtype=torch.bool))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)

    @property
    def n_live(self) -> int:
        return int(self.leaf_mask.sum())


class ProjectionHead(nn.Module):
    """φ (CoHiClust's R2) or g_I (CC's instance head): features → contrastive embedding.

    ``out_dim=None`` makes it the identity (the paper's choice for MNIST-like data).
    """

    def __init__(self, in_dim: int, out_dim: int | None = 128, hidden: int | None = None) -> None:
        super().__init__()
        self.net = nn.Identity() if out_dim is None else _mlp(in_dim, out_dim, hidden or in_dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class ClusterHead(nn.Module):
    """g_C: features → M cluster logits (two-layer MLP); softmax gives the soft assignments."""

    def __init__(self, in_dim: int, n_clusters: int, hidden: int | None = None) -> None:
        super().__init__()
        if n_clusters < 2:
            raise ValueError(f"the number of clusters must be at least 2; got {n_clusters}")
        self.n_clusters = int(n_clusters)
        self.net = _mlp(in_dim, self.n_clusters, hidden or in_dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)
