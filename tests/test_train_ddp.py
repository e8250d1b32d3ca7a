"""Multi-process training on the CPU (gloo, 2 processes started here): the losses and updates of one step
equal one process on the concatenated batch, every rank prunes the same leaf, a run trained on 2 processes
resumes on 1, a dead rank ends the run with a clear error and an intact checkpoint; bad setups are one line."""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("sklearn")

import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

from cohiclust_extra.config import TrainConfig  # noqa: E402
from cohiclust_extra.distributed import Dist, use_global_batch_norm  # noqa: E402
from cohiclust_extra.training import _Precision, _step_losses, build_model, prune_step, train  # noqa: E402
from tests._cli import error_line, run  # noqa: E402

pytestmark = pytest.mark.torch

WORLD = 2
BATCH = 12  # global


def _config(model: str) -> TrainConfig:
    return TrainConfig(model=model, depth=3, leaves=3, proj_dim=16, clusters=4, instance_dim=8, batch_size=BATCH)


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    return torch.randn(BATCH, 6, generator=g), torch.randn(BATCH, 6, generator=g)


def _one_step(model_name: str, d: Dist, xa: torch.Tensor, xb: torch.Tensor) -> dict:
    config = _config(model_name)
    torch.manual_seed(0)
    model = build_model(config, (6,))
    if model_name == "cohiclust":
        model.tree.leaf_mask[torch.tensor([1, 6])] = False  # a pruned tree: collapsed parents in the loss
    if d.enabled:
        use_global_batch_norm(model)
        d.broadcast_model(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    loss, _, mass = _step_losses(model, config, xa, xb, False, _Precision(torch.device("cpu")), d)
    optimizer.zero_grad()
    loss.backward()
    d.sum_gradients(model)
    optimizer.step()
    return {"loss": loss.item(), "state": {k: v.detach().clone() for k, v in model.state_dict().items()}, "mass": mass}


def _init(rank: int, init_file: str) -> Dist:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD, timeout=datetime.timedelta(seconds=60)
    )
    return Dist(WORLD, rank, rank, "gloo")


def _step_worker(rank: int, init_file: str, out: str) -> None:
    d = _init(rank, init_file)
    xa, xb = _data()
    part = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
    results = {name: _one_step(name, d, xa[part], xb[part]) for name in ("cohiclust", "cc")}
    # pruning: each rank sees different leaf masses; all must remove the leaf of the summed masses
    model = build_model(_config("cohiclust"), (6,))
    mass = torch.tensor([5.0, 1.0, 4.0, 3.0, 2.0, 9.0, 9.0, 9.0]) if rank == 0 else torch.tensor([0.0, 9.0] + [0.5] * 6)
    results["pruned"] = prune_step(model, mass, d)
    results["mask"] = model.tree.leaf_mask.clone()
    torch.save(results, Path(out) / f"rank{rank}.pt")
    dist.destroy_process_group()


def _spawn(fn, *args) -> None:
    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(fn, args=(os.path.join(folder, "init"), *args), nprocs=WORLD, join=True)


def test_two_ranks_equal_one_process_on_the_global_batch(tmp_path):
    _spawn(_step_worker, str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    xa, xb = _data()
    for name in ("cohiclust", "cc"):
        single = _one_step(name, Dist(), xa, xb)
        for r in ranks:
            np.testing.assert_allclose(r[name]["loss"], single["loss"], rtol=1e-5)
            for key, value in single["state"].items():
                if value.dtype.is_floating_point:
                    np.testing.assert_allclose(r[name]["state"][key], value, rtol=1e-5, atol=1e-6, err_msg=key)
                else:
                    assert torch.equal(r[name]["state"][key], value), key
        if name == "cohiclust":  # the ranks' leaf masses add up to the global batch's
            np.testing.assert_allclose(ranks[0][name]["mass"] + ranks[1][name]["mass"], single["mass"], rtol=1e-5)
    # masses summed: [5, 10, 4.5, 3.5, 2.5, 9.5, 9.5, 9.5] -> leaf 4 on both ranks
    assert ranks[0]["pruned"] == ranks[1]["pruned"] == 4
    assert torch.equal(ranks[0]["mask"], ranks[1]["mask"])


def _tiny(**kw) -> TrainConfig:
    base = dict(
        model="cohiclust",
        dataset="digits",
        split="test",
        batch_size=64,
        lr=1e-3,
        epochs=1,
        pretrain_epochs=1,
        depth=2,
        leaves=3,
        prune_start=0,
        proj_dim=None,
    )
    base.update(kw)
    return TrainConfig(**base)


def _train_worker(rank: int, init_file: str, out: str, resume: bool, die_at_epoch: int | None) -> None:
    import cohiclust_extra.training as training

    d = _init(rank, init_file)
    if die_at_epoch is not None and rank == 1:
        real = training._step_losses

        def dying(model, config, xa, xb, pretraining, precision, d_):
            if torch.initial_seed() == training.epoch_seed(config.seed, die_at_epoch - 1, 1):
                os._exit(0)  # rank 1 vanishes mid-epoch (status 0: spawn would SIGTERM rank 0 otherwise)
            return real(model, config, xa, xb, pretraining, precision, d_)

        training._step_losses = dying
    try:
        train(_tiny(epochs=2 if resume else 1), out, device="cpu", resume=resume, dist=d)
    except Exception as exc:  # noqa: BLE001 - the test reads what rank 0 said
        Path(out, f"error{rank}.txt").write_text(f"{type(exc).__name__}: {exc}")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_run_resumes_on_one_and_survives_a_dead_rank(tmp_path):
    run_dir = tmp_path / "run"
    _spawn(_train_worker, str(run_dir), False, None)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["world_size"] == 2 and config["rank_batch_size"] == 32 and config["batch_size"] == 64
    assert (run_dir / "metrics.json").is_file() and not list(run_dir.glob("error*"))
    before = (run_dir / "checkpoint.pt").read_bytes()
    # resume on 2 processes with one more epoch; rank 1 dies during it
    _spawn(_train_worker, str(run_dir), True, 3)
    message = (run_dir / "error0.txt").read_text()
    assert message.startswith("DistributedError: rank 0 of 2: another process of the run failed or vanished")
    assert "epoch 3" in message and "continue with --resume" in message and "\n" not in message
    assert (run_dir / "checkpoint.pt").read_bytes() == before  # the last checkpoint is intact
    # a world-size change needs --resume; with it, one process continues the 2-process run
    with pytest.raises(ValueError, match="trained on 2 processes \\(this is 1\\); pass --resume"):
        train(_tiny(), run_dir, device="cpu")
    result = train(_tiny(epochs=2), run_dir, device="cpu", resume=True)
    assert result["finished"] and result["epochs_done"] == 3
    assert json.loads((run_dir / "config.json").read_text())["world_size"] == 1


def test_bad_setups_are_one_line(tmp_path, monkeypatch):
    out = tmp_path / "run"
    args = ["train", "cohiclust", "--dataset", "digits", "--out", out, "--depth", "2"]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    res = run(*args)
    assert res.exit_code == 1
    assert error_line(res) == (
        "Error: missing rendezvous: WORLD_SIZE is 2 but MASTER_ADDR and MASTER_PORT are not set; "
        "start the run with torchrun (or set them under srun)"
    )
    assert not out.exists()
    monkeypatch.setenv("WORLD_SIZE", "1")
    res = run(*args, "--batch-size", "64", "--accumulate", "3")
    assert error_line(res) == "Error: --batch-size 64 is not divisible by 1 process x --accumulate 3"
    from cohiclust_extra.training import _check_batch

    with pytest.raises(ValueError, match="^--batch-size 63 is not divisible by 2 processes$"):
        _check_batch(_tiny(batch_size=63), 2)
