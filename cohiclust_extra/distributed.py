"""Data-parallel training under ``torchrun``: the process group, gathers that carry gradients, batch
normalisation over the global batch, and gradient sums.

The rule that keeps multi-process training identical to one process on the global batch: every rank
computes the *global* loss from the gathered outputs of all ranks (:func:`gather`), and its backward
pass sends gradients only into its own samples.  Rank ``r``'s parameter gradients are then the part of
``∂L/∂θ`` that flows through rank ``r``'s samples, and their sum over ranks (:meth:`Dist.sum_gradients`)
is exactly ``∂L/∂θ``.  Batch normalisation uses the statistics of the global batch
(:class:`GlobalBatchNorm`), whose backward sums the statistics' gradients over ranks.

Launch: ``torchrun --nproc_per_node G $(which l2h) train ...``: NCCL on CUDA (one GPU per process,
``LOCAL_RANK``), gloo on the CPU.  Without ``torchrun`` (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) nothing
here communicates and the model is left unchanged.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from cohiclust_extra.device import resolve_device

__all__ = ["Dist", "DistributedError", "GlobalBatchNorm", "gather", "setup", "use_global_batch_norm"]


class DistributedError(RuntimeError):
    """Another process of the run failed or vanished (the run ends; its last checkpoint is intact)."""


@dataclass
class Dist:
    """This process's place in the run: ``world_size`` processes, this one is ``rank``."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """All-reduce (sum) in place; no gradient."""
        if self.enabled:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def broadcast_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Rank 0's values to every rank, in place."""
        if self.enabled:
            dist.broadcast(tensor, src=0)
        return tensor

    def sum_gradients(self, model: nn.Module) -> None:
        """Sum every parameter's gradient over the ranks (one flat all-reduce)."""
        if not self.enabled:
            return
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def broadcast_model(self, model: nn.Module) -> None:
        """Rank 0's parameters and buffers to every rank (a fresh or resumed model starts identical)."""
        if not self.enabled:
            return
        for tensor in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(tensor.data, src=0)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer; got {value!r}") from None


def setup(device: str = "auto") -> tuple[Dist, torch.device]:
    """Join the process group that ``torchrun`` (or SLURM + the env variables) describes, and pick the device.

    Reads ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``.  The rendezvous
    waits ``L2H_DIST_TIMEOUT`` seconds (default 600) for every process.  Errors are one-line ``ValueError``.
    """
    world = _env_int("WORLD_SIZE", 1)
    if world < 1:
        raise ValueError(f"WORLD_SIZE must be at least 1; got {world}")
    if world == 1:
        return Dist(), resolve_device(device)
    rank, local_rank = _env_int("RANK", -1), _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < world:
        raise ValueError(f"WORLD_SIZE is {world} but RANK is missing or out of range; start the run with torchrun")
    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)]
    if missing:
        raise ValueError(
            f"missing rendezvous: WORLD_SIZE is {world} but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set; start the run with torchrun (or set them under srun)"
        )
    dev = resolve_device(device)
    if dev.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {local_rank} but this machine has {torch.cuda.device_count()} CUDA devices")
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
        backend = "nccl"
    elif dev.type == "cpu":
        backend = "gloo"
    else:
        raise ValueError(f"multi-process training runs on CUDA (NCCL) or the CPU (gloo), not on {dev.type}")
    timeout = datetime.timedelta(seconds=_env_int("L2H_DIST_TIMEOUT", 600))
    try:
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any rendezvous failure is one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
        raise ValueError(f"cannot join the process group at {where} (rank {rank} of {world}): {first}") from None
    return Dist(world, rank, local_rank, backend), dev


class _Gather(torch.autograd.Function):
    """All-gather along dim 0; the backward pass keeps the slice of this rank (see the module docstring)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        world, rank = dist.get_world_size(), dist.get_rank()
        tensor = tensor.contiguous()
        parts = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(parts, tensor)
        ctx.rank, ctx.size = rank, tensor.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        start = ctx.rank * ctx.size
        return grad[start : start + ctx.size]


class _SumWithGradient(torch.autograd.Function):
    """All-reduce (sum) whose gradient is also summed over ranks (a statistic every rank's loss uses)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = tensor.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = grad.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out


def gather(tensor: torch.Tensor, d: Dist) -> torch.Tensor:
    """Rows of every rank, in rank order (``tensor`` itself on one process); gradients flow back to this rank's rows."""
    return _Gather.apply(tensor) if d.enabled else tensor


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch normalisation with the mean and variance of the global batch (all ranks), on any device.

    ``torch.nn.SyncBatchNorm`` needs a GPU; this works with gloo on the CPU too.  Outside training, or on a
    single process, it is plain batch normalisation.  Swapped in place by :func:`use_global_batch_norm`, so
    the state dict keeps its keys (checkpoints move freely between world sizes).
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input; got {input.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = torch.tensor([x.numel() // x.shape[1]], dtype=torch.int64, device=x.device)
        dist.all_reduce(count, op=dist.ReduceOp.SUM)
        n = float(count.item())
        xf = x.float()
        mean = _SumWithGradient.apply(xf.sum(dims)) / n
        centred = xf - mean.view(shape)
        var = _SumWithGradient.apply((centred * centred).sum(dims)) / n
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach().to(self.running_mean.dtype), alpha=m)
                unbiased = var.detach() * (n / max(n - 1, 1.0))
                self.running_var.mul_(1 - m).add_(unbiased.to(self.running_var.dtype), alpha=m)
        return y.to(x.dtype)


def use_global_batch_norm(model: nn.Module) -> nn.Module:
    """Make every batch-norm layer of ``model`` normalise over the global batch (in place)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
            module.__class__ = GlobalBatchNorm
    return model
