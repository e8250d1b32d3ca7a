"""CoHiLoss forward + backward: closed form vs the pairwise formulation (B × B × 2^t per level).

Usage: python benchmarks/bench_cohiloss.py [--batch 512] [--depth 5] [--repeats 10] [--device cpu] [--threads N]

Both start from the same node logits (requires_grad) and include the level probabilities of both views
(one pass over the concatenated batch, as in the training loop); times are medians (and minima) after a
warm-up call.  On a shared machine, other processes inflate both; the minima are the least disturbed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from cohiclust_extra.losses import cohi_loss, cohi_loss_pairwise
from cohiclust_extra.tree import level_log_probs


def _time(fn, za, zb, repeats: int, device: torch.device) -> tuple[float, float, float]:
    times, value = [], 0.0
    for _ in range(repeats + 1):  # the first call warms up
        za.grad = zb.grad = None
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        levels = level_log_probs(torch.cat((za, zb)))  # both views in one pass, as in the training loop
        batch = za.shape[0]
        loss = fn([lv[:batch] for lv in levels], [lv[batch:] for lv in levels])
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        value = loss.item()
    return statistics.median(times[1:]), min(times[1:]), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    za = torch.randn(args.batch, 2**args.depth - 1, device=device, requires_grad=True)
    zb = torch.randn(args.batch, 2**args.depth - 1, device=device, requires_grad=True)
    fast, fast_min, v_fast = _time(cohi_loss, za, zb, args.repeats, device)
    slow, slow_min, v_slow = _time(cohi_loss_pairwise, za, zb, args.repeats, device)
    print(
        f"batch {args.batch}, depth {args.depth}, {device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, median (min) of {args.repeats}"
    )
    print(f"closed form : {fast * 1e3:9.3f} ms ({fast_min * 1e3:.3f})   loss {v_fast:.6f}")
    print(f"pairwise    : {slow * 1e3:9.3f} ms ({slow_min * 1e3:.3f})   loss {v_slow:.6f}")
    print(f"speed-up    : {slow / fast:9.1f}x ({slow_min / fast_min:.1f}x on minima)")


if __name__ == "__main__":
    main()
