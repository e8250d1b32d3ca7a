"""The training loop shared by CoHiClust and CC, the run folder, and prediction with a trained model.

Run folder layout (see :func:`train`): ``config.json``, ``checkpoint.pt`` (every epoch, atomically),
``history.csv``, and after training ``logits.npy``, ``leaf_probs.npy``, ``assignments.npy``,
``labels.npy`` (when the data has labels), ``tree.nwk`` / ``tree.json`` and ``metrics.json``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cohiclust_extra.augment import make_augmenter, paper_transform
from cohiclust_extra.backbones import build_backbone
from cohiclust_extra.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from cohiclust_extra.config import TrainConfig, default_augment
from cohiclust_extra.data import Dataset, DatasetError, load_dataset
from cohiclust_extra.device import resolve_device
from cohiclust_extra.distributed import Dist, DistributedError, gather, setup, use_global_batch_norm
from cohiclust_extra.loader import epoch_seed, inference_loader, train_loader
from cohiclust_extra.losses import cluster_contrastive_loss, cohi_loss, nt_xent
from cohiclust_extra.models import CCModel, CoHiClustModel
from cohiclust_extra.tree import leaf_to_prune, level_log_probs, native_hierarchy, split_balance_loss

__all__ = ["build_model", "export_outputs", "predict", "train"]

# progress(event, payload): event is "epoch_start" {epoch, total, phase, steps}, "step" {step, steps, losses},
# "epoch_end" {row}, "message" {text}, "resume" {epoch, out_dir} (once --resume found a checkpoint of this model)
ProgressFn = Callable[[str, dict], None]


def build_model(config: TrainConfig, sample_shape: tuple[int, ...], n_clusters: int | None = None) -> torch.nn.Module:
    """The model a configuration describes, freshly initialised (seed torch first for reproducibility)."""
    backbone = build_backbone(config.backbone, sample_shape)
    if config.model == "cohiclust":
        return CoHiClustModel(backbone, config.depth, config.tree_hidden, config.proj_dim)
    clusters = config.clusters or n_clusters
    if clusters is None:
        raise ValueError("CC needs --clusters when the dataset has no labels to count classes from")
    return CCModel(backbone, clusters, config.instance_dim)


def _rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    if device.type == "mps":
        state["mps"] = torch.mps.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and state.get("cuda"):
        torch.cuda.set_rng_state_all(state["cuda"])
    if device.type == "mps" and state.get("mps") is not None:
        torch.mps.set_rng_state(state["mps"])


class _Precision:
    """Mixed precision on CUDA (bfloat16 where supported, else float16 with loss scaling); fp32 elsewhere."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.dtype = None
        if device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)

    def autocast(self):
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.dtype)


def _history_csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    for row in rows[1:]:
        keys += [k for k in row if k not in keys]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _step_losses(
    model: torch.nn.Module,
    config: TrainConfig,
    xa: torch.Tensor,
    xb: torch.Tensor,
    pretraining: bool,
    precision: _Precision,
    d: Dist | None = None,
) -> tuple[torch.Tensor, dict[str, float], torch.Tensor | None]:
    """Loss of one batch of view pairs; returns (loss, components, detached leaf mass of this rank's rows).

    On several processes each rank holds its share of the batch; the outputs of all ranks are gathered
    (gradients flow back to this rank's rows) and the loss is the single-process loss of the global batch.
    """
    d = d or Dist()
    batch = xa.shape[0]
    with precision.autocast():
        first, second = model(torch.cat((xa, xb)))
    first, second = first.float(), second.float()  # losses in float32
    # the global batch, view by view: [a of rank 0, a of rank 1, ..., b of rank 0, ...]
    first = torch.cat((gather(first[:batch], d), gather(first[batch:], d)))
    second = torch.cat((gather(second[:batch], d), gather(second[batch:], d)))
    batch *= d.world_size
    if config.model == "cc":
        # CC: first = instance embeddings, second = cluster logits
        za, zb = first[:batch], first[batch:]
        pa, pb = second[:batch].softmax(1), second[batch:].softmax(1)
        inst = nt_xent(za, zb, config.tau)
        clus = cluster_contrastive_loss(pa, pb, config.tau_cluster)
        return inst + clus, {"instance": inst.item(), "cluster": clus.item()}, None
    # CoHiClust: first = node logits, second = projections
    r2 = nt_xent(second[:batch], second[batch:], config.tau)
    if pretraining:
        return config.beta2 * r2, {"r2": r2.item()}, None
    tree = model.tree
    mask = tree.leaf_mask
    levels = level_log_probs(first, mask)
    levels_a, levels_b = [lv[:batch] for lv in levels], [lv[batch:] for lv in levels]
    cohi = cohi_loss(levels_a, levels_b)
    r1 = split_balance_loss(first, levels, mask)
    beta1 = config.beta1 if config.beta1 is not None else 2.0**-config.depth
    loss = cohi + beta1 * r1 + config.beta2 * r2
    # this rank's rows of both views: the leaf mass is summed over ranks at the end of the epoch
    local = batch // d.world_size
    leaves = levels[-1].detach().exp()
    mine = torch.cat(
        (leaves[d.rank * local : (d.rank + 1) * local], leaves[batch + d.rank * local : batch + (d.rank + 1) * local])
    )
    return loss, {"cohi": cohi.item(), "r1": r1.item(), "r2": r2.item()}, mine.sum(0)


def prune_step(model: torch.nn.Module, leaf_mass: torch.Tensor, d: Dist | None = None) -> int:
    """Prune the least used live leaf: the masses are summed over the ranks first, and rank 0's choice is
    broadcast, so every rank removes the same leaf.  Returns its index."""
    d = d or Dist()
    mass = leaf_mass.detach().float().clone()
    d.sum_(mass)
    leaf = torch.tensor([leaf_to_prune(mass, model.tree.leaf_mask)], dtype=torch.int64, device=mass.device)
    d.broadcast_(leaf)
    model.tree.leaf_mask[int(leaf.item())] = False
    return int(leaf.item())


def train(
    config: TrainConfig,
    out_dir: str | Path,
    *,
    device: str = "auto",
    resume: bool = False,
    progress: ProgressFn | None = None,
    stop_after_epoch: int | None = None,
    download: bool = False,
    dist: Dist | None = None,
) -> dict[str, Any]:
    """Train a CoHiClust or CC model and fill the run folder ``out_dir``.

    Parameters
    ----------
    config : TrainConfig
    out_dir : path
        The run folder (created).  With ``resume=True`` the configuration saved in its ``checkpoint.pt`` is
        used; of ``config`` only ``model`` (which must match the run's), ``epochs`` (which may raise the
        run's; pass 0 to keep it), ``data_dir`` (when not None: the data may have moved), ``num_workers``
        and ``cache_decoded`` count.
    device : {"auto", "cpu", "cuda", "mps"}
    resume : bool
        Continue from the last completed epoch, with its model, optimiser and pruning states, on the same
        or a different number of processes.
    progress : callable, optional
        ``progress(event, payload)`` for progress bars (see the module source); only rank 0 reports.
    stop_after_epoch : int, optional
        Stop (as if interrupted) once this many epochs are done, before exporting.
    download : bool
        Let the dataset loader fetch missing CIFAR/STL-10 files.
    dist : Dist, optional
        This process's place in a multi-process run (see :mod:`cohiclust_extra.distributed`); by default
        the process group that ``torchrun``'s environment describes is joined (and left at the end).

    Returns
    -------
    dict
        ``{"epochs_done", "finished", "metrics" (or None), "out_dir"}``.
    """
    out = Path(out_dir)
    own_group = dist is None
    if dist is None:
        dist, dev = setup(device)
    else:
        dev = resolve_device(device) if not dist.enabled or device != "auto" else torch.device("cpu")
    emit = (progress or (lambda event, payload: None)) if dist.is_main else (lambda event, payload: None)
    created = not out.exists()
    try:
        return _train(config, out, dev, resume, emit, stop_after_epoch, download, dist)
    except BaseException:
        if dist.is_main:
            _remove_dead_end(out, created)
        raise
    finally:
        if own_group:
            dist.close()


def _remove_dead_end(out: Path, created: bool) -> None:
    """After a failure before the first checkpoint: remove the config.json this run wrote, and the run
    folder when this run created it and it is empty, so no dead-end folder is left behind."""
    if (out / "checkpoint.pt").exists():
        return  # a resumable run: keep everything
    try:
        if (out / "config.json").is_file():
            (out / "config.json").unlink()
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
    except OSError:
        pass


def _processes(n: int) -> str:
    return f"{n} process" + ("es" if n != 1 else "")


def _train(
    config: TrainConfig,
    out: Path,
    dev: torch.device,
    resume: bool,
    emit: ProgressFn,
    stop_after_epoch: int | None,
    download: bool,
    d: Dist,
) -> dict[str, Any]:
    config, state = _resume_policy(config, out, resume, emit, d)
    data, views, workers = _prepare_data(config, download, d)
    d.barrier()  # every rank has looked at the run folder before rank 0 writes into it
    if d.is_main:
        out.mkdir(parents=True, exist_ok=True)
    run = _start_run(config, data, out, dev, d, state, views, workers)
    total_epochs = config.pretrain_epochs + config.epochs if config.model == "cohiclust" else config.epochs
    for epoch in range(run.start_epoch, total_epochs):
        if stop_after_epoch is not None and epoch >= stop_after_epoch:
            return {"epochs_done": epoch, "finished": False, "metrics": None, "out_dir": str(out)}
        pretraining = config.model == "cohiclust" and epoch < config.pretrain_epochs
        phase = "cc" if config.model == "cc" else "pretrain" if pretraining else "tree"
        emit("epoch_start", {"epoch": epoch + 1, "total": total_epochs, "phase": phase, "steps": run.steps})
        run.model.train()
        started, cpu_started = time.perf_counter(), time.process_time()
        sums, leaf_mass = _train_epoch(run, epoch, pretraining, emit)
        row: dict[str, Any] = {"epoch": epoch + 1, "phase": phase}
        row.update({k: v / max(run.steps * config.accumulate, 1) for k, v in sums.items()})
        if config.model == "cohiclust":
            row.update(_prune(run, epoch, pretraining, leaf_mass))
        row["seconds"] = round(time.perf_counter() - started, 4)
        row["cpu_seconds"] = round(time.process_time() - cpu_started, 4)
        run.history.append(row)
        if d.is_main:
            _save_epoch(run, epoch)
        emit("epoch_end", {"row": row})

    if config.model == "cohiclust" and run.model.tree.n_live > config.leaves:
        emit(
            "message",
            {
                "text": f"training ended with {run.model.tree.n_live} live leaves (> --leaves "
                f"{config.leaves}): raise --epochs or lower the pruning start"
            },
        )
    # rank 0 alone scores the whole dataset; the others are done (no collective follows: no timeout to wait out)
    metrics = export_outputs(run.model, config, data, out, dev, workers) if d.is_main else None
    return {"epochs_done": total_epochs, "finished": True, "metrics": metrics, "out_dir": str(out)}


def _resume_policy(
    config: TrainConfig, out: Path, resume: bool, emit: ProgressFn, d: Dist
) -> tuple[TrainConfig, dict[str, Any] | None]:
    """What the run folder allows: a fresh start, or a resume with the saved config and checkpoint state.

    A folder with a checkpoint is never overwritten without ``resume``; one that holds only the
    ``config.json`` of a run interrupted before its first checkpoint starts afresh.
    """
    state = None
    has_checkpoint = (out / "checkpoint.pt").exists()
    dead_end = not has_checkpoint and (out / "config.json").is_file()
    if not resume and has_checkpoint:
        before = _saved_world_size(out)
        if before is not None and before != d.world_size:
            raise CheckpointError(
                f"{out} holds a run trained on {_processes(before)} (this is {d.world_size}); pass --resume to "
                f"continue it on {_processes(d.world_size)}, or choose another --out (nothing was overwritten)"
            )
        raise CheckpointError(
            f"{out} already holds a training run; pass --resume to continue it, "
            "or choose another --out (nothing was overwritten)"
        )
    if dead_end:
        # a run interrupted before its first checkpoint left only config.json: nothing to lose, start afresh
        if resume:
            config = _config_json(out / "config.json", config)
        emit(
            "message",
            {"text": f"{out} holds no checkpoint (a run interrupted before its first epoch ended): starting afresh"},
        )
        resume = False
    if resume:
        ckpt = out / "checkpoint.pt"
        if not ckpt.is_file():
            raise CheckpointError(f"--resume: no checkpoint.pt in {out} (nothing to resume)")
        state = load_checkpoint(ckpt)
        saved = _saved_config(state, ckpt)
        if config.model != saved.model:
            raise CheckpointError(f"--resume: {out} holds a {saved.model} run, not a {config.model} one")
        emit("resume", {"epoch": int(state["epoch"]), "out_dir": str(out)})
        saved.epochs = max(saved.epochs, config.epochs)
        if config.data_dir is not None:
            saved.data_dir = config.data_dir
        if config.num_workers is not None:
            saved.num_workers = config.num_workers
        saved.cache_decoded = saved.cache_decoded or config.cache_decoded
        config = saved
    return config, state


def _prepare_data(config: TrainConfig, download: bool, d: Dist) -> tuple[Dataset, Any, int]:
    """Load the dataset and complete ``config`` from it (batch, leaves or clusters, augmentation, ranks).

    Returns the dataset, the per-sample view transform (``--augment paper``; else None) and the
    number of loader workers.
    """
    config.validate()
    _check_batch(config, d.world_size)
    data = load_dataset(
        config.dataset,
        config.data_dir,
        split=config.split,
        labels_path=config.labels_path,
        image_size=config.image_size,
        download=download,
        cache=config.cache_decoded,
    )
    if len(data) < 2:
        raise ValueError(f"the dataset has {len(data)} samples; training needs at least 2")
    if config.batch_size > len(data):
        config.batch_size = len(data) - len(data) % (d.world_size * config.accumulate)
        _check_batch(config, d.world_size)
    if config.model == "cohiclust" and config.leaves is None:
        config.leaves = min(data.n_classes or 2**config.depth, 2**config.depth)
    if config.model == "cc" and config.clusters is None:
        if data.n_classes is None:
            raise ValueError("CC needs --clusters when the dataset has no labels to count classes from")
        config.clusters = data.n_classes
    if config.augment is None:
        config.augment = default_augment(config.dataset, data.sample_shape)
    views = paper_transform(data.sample_shape, data.mean, data.std) if config.augment == "paper" else None
    config.world_size = d.world_size
    config.rank_batch_size = config.batch_size // (d.world_size * config.accumulate)
    workers = config.num_workers if config.num_workers is not None else (0 if data.in_memory else 4)
    config.validate()
    return data, views, workers


@dataclass
class _Run:
    """What every epoch of a run uses."""

    config: TrainConfig
    data: Dataset
    out: Path
    dev: torch.device
    d: Dist
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    precision: _Precision
    views: Any
    workers: int
    augment: Callable[[torch.Tensor], torch.Tensor]
    history: list[dict]
    start_epoch: int
    steps: int  # optimiser steps per epoch

    @property
    def pin(self) -> bool:
        return self.dev.type == "cuda"


def _start_run(
    config: TrainConfig,
    data: Dataset,
    out: Path,
    dev: torch.device,
    d: Dist,
    state: dict[str, Any] | None,
    views: Any,
    workers: int,
) -> _Run:
    """Build the model and optimiser (seeded), restore the checkpoint ``state`` if any, write config.json."""
    from l2h.io import write_atomic

    torch.manual_seed(config.seed)
    model = build_model(config, data.sample_shape).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    precision = _Precision(dev)
    history: list[dict] = []
    start_epoch = 0
    if state is not None:
        history, start_epoch = _restore(state, model, optimizer, precision, out)
    if d.enabled:
        use_global_batch_norm(model)
        d.broadcast_model(model)
    if d.is_main:
        write_atomic(out / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
    augment = make_augmenter(data.sample_shape, data.mean, data.std)
    n_micro = (len(data) // d.world_size) // config.rank_batch_size
    return _Run(
        config, data, out, dev, d, model, optimizer, precision, views, workers, augment, history, start_epoch,
        steps=n_micro // config.accumulate,
    )  # fmt: skip


def _restore(
    state: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer, precision: _Precision, out: Path
) -> tuple[list[dict], int]:
    """Load a checkpoint's model, optimiser and scaler states; its history and the epoch to go on from."""
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"checkpoint does not fit its config: {str(exc).splitlines()[0]}") from None
    if state.get("scaler"):
        precision.scaler.load_state_dict(state["scaler"])
    history = list(state.get("history", []))
    start_epoch = int(state["epoch"])
    if not isinstance(state.get("rng"), dict) or "torch" not in state["rng"]:
        raise CheckpointError(f"{out / 'checkpoint.pt'} has no RNG states: cannot resume it exactly")
    return history, start_epoch


def _train_epoch(
    run: _Run, epoch: int, pretraining: bool, emit: ProgressFn
) -> tuple[dict[str, float], torch.Tensor | None]:
    """One epoch of optimiser steps; the summed loss components and this rank's summed leaf mass."""
    config, d, dev, pin = run.config, run.d, run.dev, run.pin
    steps = run.steps
    torch.manual_seed(epoch_seed(config.seed, epoch, d.rank))  # this rank's augmentations in this epoch
    loader = train_loader(
        run.data,
        config.rank_batch_size,
        seed=config.seed,
        epoch=epoch,
        world_size=d.world_size,
        rank=d.rank,
        workers=run.workers,
        views=run.views,
        pin=pin,
    )
    sums: dict[str, float] = {}
    leaf_mass = None
    try:
        for index, batch in enumerate(loader):
            if index >= steps * config.accumulate:
                break  # an incomplete accumulation group at the end of the epoch
            if run.views is not None:
                xa, xb = (v.to(dev, non_blocking=pin) for v in batch)
            else:
                x = run.data.to_float(batch.to(dev, non_blocking=pin))
                xa, xb = run.augment(x), run.augment(x)
            loss, parts, mass = _step_losses(run.model, config, xa, xb, pretraining, run.precision, d)
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"the loss became {loss.item()} at epoch {epoch + 1}; try a lower --lr")
            if index % config.accumulate == 0:
                run.optimizer.zero_grad(set_to_none=True)
            run.precision.scaler.scale(loss / config.accumulate).backward()
            if (index + 1) % config.accumulate == 0:
                d.sum_gradients(run.model)
                run.precision.scaler.step(run.optimizer)
                run.precision.scaler.update()
            parts = {"loss": loss.item(), **parts}
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            if mass is not None:
                leaf_mass = mass if leaf_mass is None else leaf_mass + mass
            if (index + 1) % config.accumulate == 0:
                emit("step", {"step": (index + 1) // config.accumulate, "steps": steps, "losses": parts})
    except (RuntimeError, OSError) as exc:
        if d.enabled and not isinstance(exc, (FloatingPointError, DatasetError)):
            raise _lost_peer(exc, d, run.out, epoch) from None
        raise
    finally:
        del loader
    return sums, leaf_mass


def _prune(run: _Run, epoch: int, pretraining: bool, leaf_mass: torch.Tensor | None) -> dict[str, Any]:
    """CoHiClust's pruning after a tree epoch; the history columns ``live_leaves`` and ``pruned_leaf``."""
    config, model = run.config, run.model
    tree_epoch = epoch - config.pretrain_epochs  # 0-based among tree epochs
    pruned = ""
    if (
        not pretraining
        and tree_epoch >= config.prune_start
        and leaf_mass is not None
        and model.tree.n_live > config.leaves
    ):
        pruned = str(prune_step(model, leaf_mass, run.d))
    return {"live_leaves": model.tree.n_live, "pruned_leaf": pruned}


def _save_epoch(run: _Run, epoch: int) -> None:
    """The checkpoint after ``epoch`` and the history so far, each written atomically (rank 0)."""
    from l2h.io import write_atomic

    save_checkpoint(
        run.out / "checkpoint.pt",
        {
            "config": run.config.to_dict(),
            "epoch": epoch + 1,
            "sample_shape": list(run.data.sample_shape),
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scaler": run.precision.scaler.state_dict() if run.precision.scaler.is_enabled() else {},
            "rng": _rng_state(run.dev),
            "history": run.history,
        },
    )
    write_atomic(run.out / "history.csv", _history_csv(run.history))


def _check_batch(config: TrainConfig, world_size: int) -> None:
    parts = world_size * config.accumulate
    if config.batch_size % parts:
        what = (
            f"{_processes(world_size)} x --accumulate {config.accumulate}"
            if config.accumulate > 1
            else (_processes(world_size))
        )
        raise ValueError(f"--batch-size {config.batch_size} is not divisible by {what}")
    if config.batch_size // parts < 1 or config.batch_size < 2:
        raise ValueError(f"--batch-size {config.batch_size} leaves no samples for each of {parts} micro-batches")


def _saved_world_size(out: Path) -> int | None:
    try:
        return int(json.loads((out / "config.json").read_text()).get("world_size", 1))
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def _lost_peer(exc: BaseException, d: Dist, out: Path, epoch: int) -> DistributedError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DistributedError(
        f"rank {d.rank} of {d.world_size}: another process of the run failed or vanished during epoch {epoch + 1} "
        f"({first[:160]}); the last checkpoint in {out} (epoch {epoch}) is intact: continue with --resume"
    )


@torch.no_grad()
def infer(
    model: torch.nn.Module,
    config: TrainConfig,
    data: Dataset,
    device: torch.device,
    batch_size: int = 512,
    workers: int = 0,
) -> np.ndarray:
    """Logits of every sample (no augmentation): CoHiClust's live-leaf log-probabilities or CC's cluster logits."""
    model.eval()
    augment = make_augmenter(data.sample_shape, data.mean, data.std)
    chunks = []
    pin = device.type == "cuda"
    for batch in inference_loader(data, batch_size, workers, pin):
        x = augment.normalise(data.to_float(batch.to(device, non_blocking=pin)))
        out = model.leaf_log_probs(x) if config.model == "cohiclust" else model.cluster_logits(x)
        chunks.append(out.float().cpu())
    return torch.cat(chunks).numpy().astype(np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


def export_outputs(
    model: torch.nn.Module, config: TrainConfig, data: Dataset, out: Path, device: torch.device, workers: int = 0
) -> dict[str, Any] | None:
    """Write logits, probabilities, assignments, labels, the tree and (with labels) the metrics."""
    from l2h.io import save_npy_atomic, write_atomic, write_tree

    logits = infer(model, config, data, device, workers=workers)
    probs = _softmax(logits)
    assignments = logits.argmax(1).astype(np.int64)
    save_npy_atomic(out / "logits.npy", logits)
    save_npy_atomic(out / "leaf_probs.npy", probs)
    save_npy_atomic(out / "assignments.npy", assignments)
    if data.labels is not None:
        save_npy_atomic(out / "labels.npy", data.labels)
    if data.fine_labels is not None:
        save_npy_atomic(out / "fine_labels.npy", data.fine_labels)
    if config.model == "cohiclust":
        tree = native_hierarchy(model.tree.leaf_mask.cpu(), info={"n_points": len(data)})
    else:
        import warnings

        from l2h import build_hierarchy

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # empty clusters are reported by build itself; fine here
            tree = build_hierarchy(logits)
    write_tree(tree, out / "tree.nwk")
    write_tree(tree, out / "tree.json")
    if data.labels is None:
        return None
    from l2h.metrics import evaluate, scores_to_json

    levels = [k for k in (2, 4) if k < tree.n_leaves]
    result = scores_to_json(evaluate(tree, data.labels, assignments=assignments, levels=levels))
    result["model"] = config.model
    result["tree"] = "native" if config.model == "cohiclust" else "l2h"
    write_atomic(out / "metrics.json", json.dumps(result, indent=2) + "\n")
    return result


def _config_json(path: Path, config: TrainConfig) -> TrainConfig:
    """The configuration a dead-end run folder saved (for ``--resume`` on it: start it afresh as it was)."""
    try:
        saved = TrainConfig.from_dict(json.loads(path.read_text()))
    except (OSError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} holds an unusable configuration: {str(exc).splitlines()[0]}") from None
    if saved.model != config.model:
        raise CheckpointError(f"--resume: {path.parent} holds a {saved.model} run, not a {config.model} one")
    if config.data_dir is not None:
        saved.data_dir = config.data_dir
    saved.epochs = max(saved.epochs, config.epochs)
    return saved


def _saved_config(state: dict[str, Any], path: Path) -> TrainConfig:
    try:
        return TrainConfig.from_dict(state["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} holds an unusable configuration: {str(exc).splitlines()[0]}") from None


def load_trained(run_dir: str | Path, device: torch.device) -> tuple[torch.nn.Module, TrainConfig, tuple[int, ...]]:
    """The model, configuration and sample shape of a finished (or checkpointed) run folder."""
    run = Path(run_dir)
    if not run.is_dir():
        raise CheckpointError(f"run folder not found: {run}")
    state = load_checkpoint(run / "checkpoint.pt")
    config = _saved_config(state, run / "checkpoint.pt")
    shape = state.get("sample_shape")
    if not isinstance(shape, (list, tuple)) or not all(isinstance(s, int) and s > 0 for s in shape):
        raise CheckpointError(f"{run / 'checkpoint.pt'} does not record the shape of its samples")
    shape = tuple(shape)
    try:
        model = build_model(config, shape)
        model.load_state_dict(state["model"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint does not fit its config: {str(exc).splitlines()[0]}") from None
    return model.to(device), config, shape


def predict(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    dataset: str | None = None,
    data_dir: str | None = None,
    split: str = "all",
    labels_path: str | None = None,
    device: str = "auto",
    download: bool = False,
    num_workers: int = 0,
) -> dict[str, Any]:
    """Logits of a trained run's model on (new) data: writes ``logits.npy``, ``leaf_probs.npy``,
    ``assignments.npy`` (and ``labels.npy``) into ``out_dir``.

    The outputs are checked before anything is computed (:class:`l2h.files.OutputSet`): none may be one
    of the run's own files (``--out RUN`` would replace the run's ``logits.npy``, ``labels.npy`` ...) or
    a data file, through symlinks and hard links too; they are written all together or not at all.
    """
    from l2h.files import OutputSet

    dev = resolve_device(device)
    run = Path(run_dir)
    out = Path(out_dir)
    run_files = [run / name for name in RUN_FILES]
    inputs = {f"run's {p.name}": p for p in run_files}
    inputs.update({"--labels": labels_path, "--data-dir": data_dir if data_dir and Path(data_dir).is_file() else None})
    names = ["logits.npy", "leaf_probs.npy", "assignments.npy", "labels.npy"]
    with OutputSet(inputs=inputs, outputs={"--out": [out / n for n in names]}, create_folders=[out]) as outputs:
        model, config, trained_shape = load_trained(run, dev)
        name = dataset or config.dataset
        data = load_dataset(
            name,
            data_dir if data_dir is not None else config.data_dir if name == config.dataset else None,
            split=split,
            labels_path=labels_path,
            image_size=config.image_size,
            download=download,
        )
        _check_shape(model, trained_shape, data.sample_shape, name)
        logits = infer(model, config, data, dev, workers=num_workers)
        outputs.save_npy(out / "logits.npy", logits)
        outputs.save_npy(out / "leaf_probs.npy", _softmax(logits))
        outputs.save_npy(out / "assignments.npy", logits.argmax(1).astype(np.int64))
        if data.labels is not None:
            outputs.save_npy(out / "labels.npy", data.labels)
    return {"n_points": len(data), "n_columns": int(logits.shape[1]), "out_dir": str(out)}


# every file a run folder may hold (predict never writes over one of them)
RUN_FILES = (
    "config.json",
    "checkpoint.pt",
    "history.csv",
    "logits.npy",
    "leaf_probs.npy",
    "assignments.npy",
    "labels.npy",
    "fine_labels.npy",
    "tree.nwk",
    "tree.json",
    "metrics.json",
)


def _check_shape(model: torch.nn.Module, trained: tuple[int, ...], given: tuple[int, ...], name: str) -> None:
    """Convolutional backbones take any image size with the trained channel count; the MLP flattens its
    input, so the number of values per sample must match."""
    channels = _expected_shape(model)
    if channels is not None:
        if len(given) != 3 or given[0] != channels:
            raise ValueError(
                f"the model was trained on samples of shape {trained} ({channels} channels); "
                f"{name} has samples of shape {given}"
            )
    elif math.prod(given) != math.prod(trained):
        raise ValueError(
            f"the model was trained on samples of shape {trained} ({math.prod(trained)} values); "
            f"{name} has samples of shape {given}"
        )


def _expected_shape(model: torch.nn.Module) -> int | None:
    for module in model.backbone.modules():
        if isinstance(module, torch.nn.Conv2d):
            return module.in_channels
        if isinstance(module, torch.nn.Linear):
            return None  # flattened input: checked by the first matmul
    return None
