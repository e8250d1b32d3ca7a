"""Run configuration and per-dataset defaults (following the papers; scaled down for digits)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["AUGMENTS", "TrainConfig", "defaults_for", "default_augment"]

AUGMENTS = ("paper", "batch")  # --augment: the per-sample recipe in the loader workers, or batched on the device


@dataclass
class TrainConfig:
    """Everything that determines a training run (saved as ``config.json`` in the run folder).

    ``epochs`` counts the tree-training epochs of CoHiClust (after ``pretrain_epochs`` of R2-only
    pre-training) and all epochs of CC (which has no pre-training).  ``prune_start`` is the tree epoch at
    which pruning starts (one leaf per epoch until ``leaves`` are left).
    """

    model: str = "cohiclust"
    dataset: str = "digits"
    data_dir: str | None = None
    labels_path: str | None = None
    split: str = "all"
    image_size: int = 96
    backbone: str = "mlp"
    epochs: int = 100
    pretrain_epochs: int = 0
    batch_size: int = 256
    lr: float = 3e-4
    weight_decay: float = 0.0
    seed: int = 0
    # CoHiClust
    depth: int = 4
    leaves: int | None = None
    prune_start: int = 10
    tree_hidden: int | None = None
    proj_dim: int | None = 128
    beta1: float | None = None  # None: 2^-depth (the paper)
    beta2: float = 1.0
    tau: float = 0.5
    # CC
    clusters: int | None = None
    tau_cluster: float = 1.0
    instance_dim: int = 128
    # data pipeline and processes (``batch_size`` is the global batch of one optimiser step)
    augment: str | None = None  # "paper" | "batch"; None: per dataset (see :func:`default_augment`)
    accumulate: int = 1  # micro-batches per optimiser step
    world_size: int = 1  # processes that trained (the last run or resume)
    rank_batch_size: int | None = None  # per process and micro-batch: batch_size / (world_size * accumulate)
    num_workers: int | None = None  # DataLoader workers per process; None: 0 in memory, else min(4, CPUs)
    cache_decoded: bool = False  # decode the whole dataset into memory once

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown configuration keys: {', '.join(unknown)}")
        return cls(**data)

    def validate(self) -> None:
        """Raise ValueError with a one-line message on an impossible setting."""
        from cohiclust_extra.backbones import BACKBONES
        from cohiclust_extra.data import DATASETS

        if self.model not in ("cohiclust", "cc"):
            raise ValueError(f"model must be cohiclust or cc; got {self.model!r}")
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; expected one of {', '.join(DATASETS)}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; expected one of {', '.join(BACKBONES)}")
        if self.batch_size < 2:
            raise ValueError(
                f"batch size must be at least 2 (contrastive losses need negatives); got {self.batch_size}"
            )
        for name in ("lr", "weight_decay", "beta2", "tau", "tau_cluster") + (
            ("beta1",) if self.beta1 is not None else ()
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (value == 0 and name in ("lr", "tau", "tau_cluster")):
                low = "> 0" if name in ("lr", "tau", "tau_cluster") else ">= 0"
                raise ValueError(f"{name.replace('_', ' ')} must be a finite number {low}; got {value}")
        if self.augment is not None and self.augment not in AUGMENTS:
            raise ValueError(f"augment must be paper or batch; got {self.augment!r}")
        if self.accumulate < 1:
            raise ValueError(f"accumulate must be at least 1; got {self.accumulate}")
        if self.num_workers is not None and self.num_workers < 0:
            raise ValueError(f"num workers must be >= 0; got {self.num_workers}")
        if self.epochs < 0 or self.pretrain_epochs < 0:
            raise ValueError("epochs and pretrain epochs must be >= 0")
        if self.model == "cohiclust":
            if self.depth < 1:
                raise ValueError(f"depth must be at least 1; got {self.depth}")
            if self.depth > 16:
                raise ValueError(f"depth must be at most 16; got {self.depth}")
            if self.leaves is not None and not 2 <= self.leaves <= 2**self.depth:
                raise ValueError(
                    f"leaves must be between 2 and 2^depth = {2**self.depth} (depth {self.depth}); got {self.leaves}"
                )
        elif self.clusters is not None and self.clusters < 2:
            raise ValueError(f"clusters must be at least 2; got {self.clusters}")


# Paper settings (CoHiClust appendix A; CC §4) per dataset; digits is ours, sized for a 2-core CPU.
_DATASET_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "cohiclust": {
        "digits": dict(
            backbone="mlp",
            depth=4,
            leaves=10,
            epochs=60,
            pretrain_epochs=60,
            prune_start=5,
            batch_size=256,
            lr=1e-3,
            proj_dim=None,
        ),
        "cifar10": dict(
            backbone="resnet50",
            depth=5,
            leaves=10,
            epochs=500,
            pretrain_epochs=1000,
            prune_start=50,
            batch_size=512,
            tree_hidden=512,
            proj_dim=128,
        ),
        "cifar100": dict(
            backbone="resnet50",
            depth=5,
            leaves=20,
            epochs=500,
            pretrain_epochs=1000,
            prune_start=50,
            batch_size=512,
            tree_hidden=512,
            proj_dim=128,
        ),
        "stl10": dict(
            backbone="resnet34",
            depth=4,
            leaves=10,
            epochs=500,
            pretrain_epochs=1000,
            prune_start=50,
            batch_size=512,
            tree_hidden=512,
            proj_dim=128,
        ),
        "folder": dict(
            backbone="resnet34",
            depth=4,
            epochs=500,
            pretrain_epochs=1000,
            prune_start=50,
            batch_size=128,
            tree_hidden=512,
            proj_dim=128,
        ),
        "npy": dict(
            backbone="mlp",
            depth=4,
            epochs=100,
            pretrain_epochs=100,
            prune_start=10,
            batch_size=256,
            lr=1e-3,
            proj_dim=128,
        ),
    },
    "cc": {
        "digits": dict(backbone="mlp", epochs=120, batch_size=256, lr=1e-3, clusters=10),
        "cifar10": dict(backbone="resnet34", epochs=1000, batch_size=256, clusters=10),
        "cifar100": dict(backbone="resnet34", epochs=1000, batch_size=256, clusters=20),
        "stl10": dict(backbone="resnet34", epochs=1000, batch_size=256, clusters=10),
        "folder": dict(backbone="resnet34", epochs=1000, batch_size=128),
        "npy": dict(backbone="mlp", epochs=200, batch_size=256, lr=1e-3),
    },
}


def default_augment(dataset: str, sample_shape: tuple[int, ...]) -> str:
    """``batch`` for digits (8×8 digits: the papers' crops and flips destroy them) and feature vectors (the
    paper recipe needs images); ``paper`` for every other image dataset (the recipe both papers train with)."""
    if dataset == "digits" or len(sample_shape) != 3:
        return "batch"
    return "paper"


def defaults_for(model: str, dataset: str) -> dict[str, Any]:
    """Default settings for ``model`` on ``dataset`` (a copy; unknown pairs give ``{}``)."""
    return dict(_DATASET_DEFAULTS.get(model, {}).get(dataset, {}))
