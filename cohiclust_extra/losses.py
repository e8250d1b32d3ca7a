"""Training losses: CoHiLoss (closed form), NT-Xent, and CC's cluster-level loss.

All losses compute in float32 whatever the autocast state, so mixed precision on CUDA only speeds up
the network, never the sums below.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["cohi_loss", "cohi_loss_pairwise", "nt_xent", "cluster_contrastive_loss", "marginal_entropy"]


def _f32(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype != torch.float32 and x.dtype != torch.float64 else x


def cohi_loss(levels_a: Sequence[torch.Tensor], levels_b: Sequence[torch.Tensor]) -> torch.Tensor:
    """Hierarchical contrastive loss of CoHiClust, in closed form.

    For level ``t`` let ``P`` and ``Q`` (B × 2^t) hold the square roots of the level probabilities of
    the two views.  The Bhattacharyya coefficient of a pair is ``s_t(i, j) = <P_i, Q_j>``, so

    * positives: ``sum_i s_t(i, i) = sum(P * Q)``,
    * all pairs: ``sum_{i,j} s_t(i, j) = <colsum(P), colsum(Q)>``,
    * negatives: all pairs minus positives,

    and ``CoHiLoss = sum_t [ neg_t / (B (B - 1)) - pos_t / B ]`` costs O(B · 2^T) time and memory: no
    B × B (let alone B × B × 2^t) tensor is formed.  Znalezniak et al. (2023), §3, with the levels
    ``t = 1..T`` of the project's specification.

    Parameters
    ----------
    levels_a, levels_b : sequences of T tensors, shapes (B, 2^t)
        Level log-probabilities of the two views (:func:`cohiclust_extra.tree.level_log_probs`).

    Returns
    -------
    scalar tensor (float32)
    """
    if len(levels_a) != len(levels_b):
        raise ValueError("the two views must have the same number of levels")
    batch = levels_a[0].shape[0]
    if batch < 2:
        raise ValueError(f"CoHiLoss needs a batch of at least 2 points; got {batch}")
    # both sums are linear in the levels, so all levels go through at once: one (B, 2^(T+1) − 2) matrix
    # per view instead of a loop of small kernels
    p = torch.exp(0.5 * _f32(torch.cat(tuple(levels_a), dim=1)))
    q = torch.exp(0.5 * _f32(torch.cat(tuple(levels_b), dim=1)))
    pos = (p * q).sum()
    everything = torch.dot(p.sum(0), q.sum(0))
    return (everything - pos) / (batch * (batch - 1)) - pos / batch


def cohi_loss_pairwise(levels_a: Sequence[torch.Tensor], levels_b: Sequence[torch.Tensor]) -> torch.Tensor:
    """Reference CoHiLoss that forms every pair's similarity explicitly (B × B × 2^t per level).

    Slow and memory-hungry; kept for tests and the benchmark.  Same value as :func:`cohi_loss`.
    """
    batch = levels_a[0].shape[0]
    eye = torch.eye(batch, dtype=torch.bool, device=levels_a[0].device)
    total = levels_a[0].new_zeros((), dtype=torch.float32)
    for la, lb in zip(levels_a, levels_b, strict=False):
        pa, pb = _f32(la).exp(), _f32(lb).exp()
        sim = torch.sqrt(pa[:, None, :] * pb[None, :, :] + 1e-30).sum(-1)  # (B, B); eps: sqrt'(0) is inf
        total = total + sim[~eye].mean() - sim[eye].mean()
    return total


def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent (SimCLR) loss between two views, rows as instances.

    Each of the 2B rows is contrasted against the other 2B − 1 (its own similarity excluded); the positive
    of row ``i`` of one view is row ``i`` of the other.  Cosine similarities divided by ``temperature``.
    Used for CoHiClust's R2 (rows = projected features) and CC's instance head (τ_I = 0.5); CC's cluster
    loss calls it on the transposed soft-assignment matrices.

    Parameters
    ----------
    z_a, z_b : tensors, shape (B, D)
    temperature : float

    Returns
    -------
    scalar tensor: mean over the 2B anchors.
    """
    if z_a.shape != z_b.shape or z_a.ndim != 2:
        raise ValueError(f"views must be two (B, D) tensors of equal shape; got {tuple(z_a.shape)}, {tuple(z_b.shape)}")
    n = z_a.shape[0]
    if n < 2:
        raise ValueError(f"NT-Xent needs at least 2 rows per view; got {n}")
    z = F.normalize(torch.cat((_f32(z_a), _f32(z_b)), dim=0), dim=1)
    sim = z @ z.t() / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat((torch.arange(n, 2 * n), torch.arange(0, n))).to(z.device)
    return F.cross_entropy(sim, target)


def marginal_entropy(probs: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Entropy of the batch-mean cluster distribution ``P(k) = mean_n probs[n, k]`` (natural log)."""
    marginal = _f32(probs).mean(0)
    return -(marginal * (marginal + eps).log()).sum()


def cluster_contrastive_loss(probs_a: torch.Tensor, probs_b: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """CC's cluster-level loss: NT-Xent over the columns (clusters) minus the marginal entropies.

    ``L = NT-Xent(Y_aᵀ, Y_bᵀ; τ_C) − [H(P_a) + H(P_b)]`` with ``Y`` the B × M softmax outputs of the
    cluster head and ``P`` their batch means (Li et al., 2021, eq. 5–6).  The entropy term keeps all
    clusters in use; its minimum is ``−2 log M``.

    Parameters
    ----------
    probs_a, probs_b : tensors, shape (B, M)
        Soft cluster assignments (rows sum to 1) of the two views.
    temperature : float
        τ_C (1.0 in the paper).
    """
    contrast = nt_xent(probs_a.t(), probs_b.t(), temperature)
    return contrast - marginal_entropy(probs_a) - marginal_entropy(probs_b)


def entropy_floor(n_clusters: int) -> float:
    """Lowest value of the entropy term of :func:`cluster_contrastive_loss` (``−2 log M``)."""
    return -2.0 * math.log(n_clusters)
