"""The two trainable models: CoHiClust (backbone + tree head + projection) and CC (backbone + two heads)."""

from __future__ import annotations

import torch
from torch import nn

from cohiclust_extra.heads import ClusterHead, ProjectionHead, TreeHead
from cohiclust_extra.tree import level_log_probs

__all__ = ["CoHiClustModel", "CCModel"]


class CoHiClustModel(nn.Module):
    """``g`` (backbone) → π (tree head, ``2^T − 1`` node logits) and φ (projection for R2).

    Parameters
    ----------
    backbone : nn.Module with an ``out_dim`` attribute
    depth : int
        Tree depth ``T``.
    tree_hidden : int or None
        Hidden width of π (``None``: one linear layer, the paper's choice).
    proj_dim : int or None
        Output width of φ; ``None`` makes φ the identity.
    proj_hidden : int or None
        Hidden width of φ.
    """

    def __init__(
        self,
        backbone: nn.Module,
        depth: int,
        tree_hidden: int | None = None,
        proj_dim: int | None = 128,
        proj_hidden: int | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.tree = TreeHead(backbone.out_dim, depth, tree_hidden)
        self.projection = ProjectionHead(backbone.out_dim, proj_dim, proj_hidden)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Node logits ``(B, 2^T − 1)`` and projections ``(B, D)``."""
        h = self.backbone(x)
        return self.tree(h), self.projection(h)

    @torch.no_grad()
    def leaf_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of the live leaves, ``(B, L)``, columns in increasing original leaf index."""
        node_logits = self.tree(self.backbone(x)).float()
        leaves = level_log_probs(node_logits, self.tree.leaf_mask)[-1]
        return leaves[:, self.tree.leaf_mask]


class CCModel(nn.Module):
    """Contrastive Clustering: backbone → instance head g_I (``instance_dim``) and cluster head g_C (M)."""

    def __init__(self, backbone: nn.Module, n_clusters: int, instance_dim: int = 128) -> None:
        super().__init__()
        self.backbone = backbone
        self.instance = ProjectionHead(backbone.out_dim, instance_dim)
        self.cluster = ClusterHead(backbone.out_dim, n_clusters)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Instance embeddings ``(B, instance_dim)`` and cluster logits ``(B, M)``."""
        h = self.backbone(x)
        return self.instance(h), self.cluster(h)

    @torch.no_grad()
    def cluster_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.cluster(self.backbone(x)).float()
