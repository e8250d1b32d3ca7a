"""Batches for training and inference: a ``torch.utils.data.DataLoader`` over a dataset's
:class:`~cohiclust_extra.data.Source`, with worker processes and a ``DistributedSampler``.

Each loader item is a whole batch (the sampler hands a list of indices to :class:`Batches`), so an
in-memory dataset is one fancy-indexing per batch and a streamed one reads its samples in the workers.
With ``views`` (``--augment paper``) every sample is turned into two augmented views in the workers;
otherwise the loader yields the raw batch and the training loop augments it on the device.

Order: rank ``r`` of ``W`` takes every ``W``-th index of the epoch's permutation (seeded by ``seed`` and
the epoch, as ``DistributedSampler`` does); together the ranks' ``k``-th batches are the ``k``-th global
batch of that permutation, whatever ``W``, and every sample appears at most once per epoch (the last
incomplete global batch is dropped).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, SequentialSampler

from cohiclust_extra.data import Dataset

__all__ = ["Batches", "train_loader", "inference_loader", "epoch_seed"]


class Batches(torch.utils.data.Dataset):
    """``batches[list_of_indices]``: the raw batch, or a pair of augmented view batches when ``views`` is given."""

    def __init__(self, data: Dataset, views: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.source = data.source
        self.views = views

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: Any) -> Any:
        if self.views is None:
            return torch.from_numpy(self.source.take(index))
        first, second = [], []
        for i in index:
            sample = torch.from_numpy(self.source.read(int(i)))
            first.append(self.views(sample))
            second.append(self.views(sample))
        return torch.stack(first), torch.stack(second)


class _Indices:
    """What ``DistributedSampler`` needs of a dataset: its length."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of one rank's random streams (augmentations, worker seeds) in one epoch."""
    return (int(seed) * 1_000_003 + int(epoch) * 1_009 + int(rank)) % (2**63 - 1)


def _loader(batches: Batches, sampler: Any, workers: int, pin: bool, generator: torch.Generator | None) -> DataLoader:
    return DataLoader(
        batches,
        sampler=sampler,
        batch_size=None,  # the sampler yields whole batches
        num_workers=workers,
        pin_memory=pin,
        generator=generator,
    )


def train_loader(
    data: Dataset,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    world_size: int = 1,
    rank: int = 0,
    workers: int = 0,
    views: Callable[[torch.Tensor], torch.Tensor] | None = None,
    pin: bool = False,
) -> DataLoader:
    """One epoch of this rank's shuffled batches of ``batch_size`` (the per-rank batch), incomplete ones dropped."""
    sampler = DistributedSampler(
        _Indices(len(data)), num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True
    )
    sampler.set_epoch(epoch)
    generator = torch.Generator().manual_seed(epoch_seed(seed, epoch, rank))
    return _loader(Batches(data, views), BatchSampler(sampler, batch_size, drop_last=True), workers, pin, generator)


def inference_loader(data: Dataset, batch_size: int = 512, workers: int = 0, pin: bool = False) -> DataLoader:
    """Every sample once, in order, unaugmented."""
    sampler = BatchSampler(SequentialSampler(_Indices(len(data))), batch_size, drop_last=False)
    return _loader(Batches(data), sampler, workers, pin, None)
