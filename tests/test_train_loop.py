"""The training loop, run folder, resume, determinism, checkpoints and the CLI (tiny runs on digits, CPU)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("sklearn")

from click.testing import CliRunner  # noqa: E402

from cohiclust_extra.checkpoint import (  # noqa: E402
    CheckpointError,
    load_checkpoint,
    load_official_cohiclust,
)
from cohiclust_extra.config import TrainConfig  # noqa: E402
from cohiclust_extra.models import CoHiClustModel  # noqa: E402
from cohiclust_extra.training import build_model, train  # noqa: E402

pytestmark = pytest.mark.torch


def tiny(model: str = "cohiclust", **kw) -> TrainConfig:
    base = dict(
        model=model,
        dataset="digits",
        split="test",
        backbone="mlp",
        batch_size=64,
        lr=1e-3,
        epochs=3,
        pretrain_epochs=1,
        depth=2,
        leaves=3,
        prune_start=0,
        proj_dim=None,
        clusters=4,
    )
    base.update(kw)
    return TrainConfig(**base)


def _history(run) -> list[dict]:
    with open(run / "history.csv") as handle:
        return list(csv.DictReader(handle))


def test_cohiclust_run_folder_contents(tmp_path):
    result = train(tiny(), tmp_path, device="cpu")
    assert result["finished"]
    for name in (
        "config.json",
        "checkpoint.pt",
        "history.csv",
        "logits.npy",
        "leaf_probs.npy",
        "assignments.npy",
        "labels.npy",
        "tree.nwk",
        "tree.json",
        "metrics.json",
    ):
        assert (tmp_path / name).is_file(), name
    logits = np.load(tmp_path / "logits.npy")
    probs = np.load(tmp_path / "leaf_probs.npy")
    assert logits.shape == (297, 3) and logits.dtype == np.float32
    np.testing.assert_allclose(np.exp(logits), probs, rtol=1e-4, atol=1e-6)  # log leaf probabilities
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    rows = _history(tmp_path)
    assert [r["phase"] for r in rows] == ["pretrain", "tree", "tree", "tree"]
    assert [r["live_leaves"] for r in rows] == ["4", "3", "3", "3"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n_leaves"] == 3 and metrics["tree"] == "native" and 0 <= metrics["acc"] <= 1
    from l2h.io import read_tree

    tree = read_tree(tmp_path / "tree.json")
    assert tree.n_leaves == 3 and len(set(tree.leaf_names)) == 3
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert int(ckpt["model"]["tree.leaf_mask"].sum()) == 3


def test_cc_run_builds_l2h_tree(tmp_path):
    pytest.importorskip("l2h.merge")
    train(tiny("cc", epochs=2), tmp_path, device="cpu")
    assert np.load(tmp_path / "logits.npy").shape == (297, 4)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["tree"] == "l2h" and metrics["n_leaves"] == 4


def test_resume_continues_with_identical_losses(tmp_path):
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    train(tiny(), straight, device="cpu")
    partial = train(tiny(), broken, device="cpu", stop_after_epoch=2)  # "interrupted" after 2 epochs
    assert not partial["finished"] and len(_history(broken)) == 2
    train(tiny(), broken, device="cpu", resume=True)
    resumed = [
        dict(r, seconds=s["seconds"], cpu_seconds=s["cpu_seconds"])
        for r, s in zip(_history(broken), _history(straight), strict=True)
    ]
    assert _history(straight) == resumed
    np.testing.assert_array_equal(np.load(straight / "logits.npy"), np.load(broken / "logits.npy"))


def test_same_seed_same_model_on_cpu(tmp_path):
    train(tiny(epochs=1), tmp_path / "a", device="cpu")
    train(tiny(epochs=1), tmp_path / "b", device="cpu")
    a, b = load_checkpoint(tmp_path / "a" / "checkpoint.pt"), load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    train(tiny(epochs=1, seed=1), tmp_path / "c", device="cpu")
    c = load_checkpoint(tmp_path / "c" / "checkpoint.pt")
    assert not torch.equal(a["model"]["tree.net.weight"], c["model"]["tree.net.weight"])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(depth=0), "depth must be at least 1"),
        (dict(depth=2, leaves=5), "leaves must be between 2 and 2\\^depth = 4"),
        (dict(batch_size=1), "batch size must be at least 2"),
        (dict(dataset="imagenet"), "unknown dataset"),
    ],
)
def test_bad_settings(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train(tiny(**kwargs), tmp_path, device="cpu")


def test_corrupt_and_foreign_checkpoints(tmp_path):
    (tmp_path / "garbage.pt").write_bytes(b"not a torch file at all")
    with pytest.raises(CheckpointError, match="corrupt, truncated or not a torch file"):
        load_checkpoint(tmp_path / "garbage.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not an l2h training checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")


# ------------------------------------------------------------------ the official CoHiClust layout
def _official_files(tmp_path, model: CoHiClustModel, sequential: bool):
    """Write what the official code stores, from our model's weights (renamed)."""
    state = {}
    children = ["conv1", "bn1", "relu", "layer1", "layer2", "layer3", "layer4", "avgpool"]
    for key, value in model.state_dict().items():
        if key.startswith("backbone.net."):
            rest = key[len("backbone.net.") :]
            head, _, tail = rest.partition(".")
            state["f." + (f"{children.index(head)}.{tail}" if sequential else rest)] = value.clone()
        elif key.startswith("tree.net."):
            state["tree_model.0." + key[len("tree.net.") :]] = value.clone()
    state["f.total_ops"] = torch.zeros(1, dtype=torch.float64)  # thop leftovers
    state["total_params"] = torch.zeros(1, dtype=torch.float64)
    state["g.0.weight"] = torch.randn(7, 7)  # a projection head shaped unlike ours: skipped
    masks = {1: torch.ones(2), 2: torch.tensor([1.0, 0.0, 1.0, 1.0])}  # the official masks_for_level
    # the official code saves from a CUDA device: tag every storage "cuda:0", so that a load without
    # map_location fails on a machine without CUDA, exactly as it would with the real files
    real_tag = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(state, tmp_path / "official.pth")
        torch.save(masks, tmp_path / "masks.pth")
    finally:
        torch.serialization.location_tag = real_tag
    return tmp_path / "official.pth", tmp_path / "masks.pth"


@pytest.mark.parametrize("sequential", [True, False])
def test_official_checkpoint_layout(tmp_path, sequential, monkeypatch):
    cfg = TrainConfig(backbone="resnet18", depth=2)
    torch.manual_seed(0)
    source = build_model(cfg, (3, 32, 32))
    weights, masks = _official_files(tmp_path, source, sequential)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(masks, weights_only=True)  # the files really are "GPU" files
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):  # the official masks live on a CUDA device: loading must map them to the CPU
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    torch.manual_seed(1)
    target = build_model(cfg, (3, 32, 32))
    report = load_official_cohiclust(target, weights, masks)
    assert all(c.get("map_location") == "cpu" and c.get("weights_only") is True for c in calls) and len(calls) == 2
    assert "g.0.weight" in report["skipped"]
    assert target.tree.leaf_mask.tolist() == [True, False, True, True]
    for key, value in source.state_dict().items():
        if key.startswith(("backbone.", "tree.net.")):
            assert torch.equal(value, target.state_dict()[key]), key
    target.eval()
    assert target.leaf_log_probs(torch.rand(2, 3, 32, 32)).shape == (2, 3)


def test_official_projection_loads_whole_or_not_at_all(tmp_path):
    cfg = TrainConfig(backbone="resnet18", depth=2, proj_dim=16)
    torch.manual_seed(0)
    source = build_model(cfg, (3, 32, 32))
    base = {
        ("f." + k[len("backbone.net.") :]): v for k, v in source.state_dict().items() if k.startswith("backbone.net.")
    }
    base.update(
        {
            "tree_model.0." + k[len("tree.net.") :]: v
            for k, v in source.state_dict().items()
            if k.startswith("tree.net.")
        }
    )
    # the official φ: Linear(no bias), BatchNorm1d, ReLU, Linear; its first weight has our shape
    official_g = {
        "g.0.weight": torch.randn(512, 512),
        "g.1.weight": torch.ones(512),
        "g.1.bias": torch.zeros(512),
        "g.1.running_mean": torch.zeros(512),
        "g.1.running_var": torch.ones(512),
        "g.1.num_batches_tracked": torch.tensor(3),
        "g.3.weight": torch.randn(16, 512),
        "g.3.bias": torch.zeros(16),
    }
    torch.save({**base, **official_g}, tmp_path / "a.pth")
    target = build_model(cfg, (3, 32, 32))
    before = {k: v.clone() for k, v in target.state_dict().items() if k.startswith("projection.")}
    report = load_official_cohiclust(target, tmp_path / "a.pth")
    assert sorted(report["skipped"]) == sorted(official_g)
    for k, v in before.items():
        assert torch.equal(target.state_dict()[k], v), k  # no half-loaded head
    ours_g = {"g." + k[len("projection.net.") :]: torch.randn_like(v) for k, v in before.items()}
    torch.save({**base, **ours_g}, tmp_path / "b.pth")
    assert load_official_cohiclust(target, tmp_path / "b.pth")["skipped"] == []
    for k, v in ours_g.items():
        assert torch.equal(target.state_dict()["projection.net." + k[2:]], v)


def test_official_loader_rejects_foreign_files(tmp_path):
    model = build_model(TrainConfig(backbone="mlp", depth=2), (1, 8, 8))
    torch.save({"encoder.weight": torch.zeros(2)}, tmp_path / "x.pth")
    with pytest.raises(CheckpointError, match="not an official CoHiClust checkpoint"):
        load_official_cohiclust(model, tmp_path / "x.pth")
    torch.save({"f.0.weight": torch.zeros(2), "tree_model.0.weight": torch.zeros(3, 2)}, tmp_path / "y.pth")
    with pytest.raises(CheckpointError, match="does not match the model"):
        load_official_cohiclust(model, tmp_path / "y.pth")


# ------------------------------------------------------------------ CLI
def _cli(args):
    from l2h_cli.main import cli

    return CliRunner().invoke(cli, args, obj={})


def test_cli_train_refuses_to_overwrite_an_existing_run(tmp_path):
    run = tmp_path / "run"
    args = [
        "train",
        "cc",
        "--dataset",
        "digits",
        "--split",
        "test",
        "--out",
        str(run),
        "--epochs",
        "1",
        "--batch-size",
        "128",
        "--device",
        "cpu",
        "--quiet",
    ]
    assert _cli(args).exit_code == 0
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    res = _cli(args)
    assert res.exit_code == 1 and len(res.output.strip().splitlines()) == 1
    assert "already holds a training run; pass --resume" in res.output
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before  # nothing touched


def test_cli_train_predict_and_build(tmp_path):
    run = tmp_path / "run"
    res = _cli(
        [
            "train",
            "cohiclust",
            "--dataset",
            "digits",
            "--split",
            "test",
            "--out",
            str(run),
            "--epochs",
            "2",
            "--pretrain-epochs",
            "1",
            "--depth",
            "2",
            "--leaves",
            "3",
            "--prune-start",
            "0",
            "--batch-size",
            "64",
            "--device",
            "cpu",
            "--json",
        ]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["metrics"]["n_leaves"] == 3
    res = _cli(["predict", str(run), "--dataset", "digits", "--split", "train", "--out", str(tmp_path / "p")])
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "p" / "logits.npy").shape == (1500, 3)
    pytest.importorskip("l2h.merge")
    res = _cli(["build", str(run / "logits.npy"), "--out", str(tmp_path / "l2h.nwk"), "--quiet"])
    assert res.exit_code == 0, res.output
    # l2h metrics reads the native tree in both formats, leaf j = logits column j (regression: the Newick
    # named its leaves by their index in the complete tree, which l2h metrics cannot match to columns)
    saved = json.loads((run / "metrics.json").read_text())
    for tree_file in ("tree.nwk", "tree.json"):
        res = _cli(
            [
                "metrics",
                str(run / tree_file),
                "--logits",
                str(run / "logits.npy"),
                "--labels",
                str(run / "labels.npy"),
                "--json",
            ]
        )
        assert res.exit_code == 0, res.output
        got = json.loads(res.stdout)
        for key in ("acc", "nmi", "ari", "dp", "lhd"):
            assert got[key] == pytest.approx(saved[key], abs=1e-9), (tree_file, key)
    from l2h.io import read_tree

    mask = load_checkpoint(run / "checkpoint.pt")["model"]["tree.leaf_mask"]
    assert read_tree(run / "tree.json").info["live_leaves"] == torch.nonzero(mask).flatten().tolist()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--depth", "0"], "depth must be at least 1"),
        (["--depth", "2", "--leaves", "5"], "leaves must be between 2 and 2^depth = 4"),
        (["--batch-size", "1"], "batch size must be at least 2"),
        (["--leaves", "1"], "leaves must be between 2 and 2^depth = 16"),
        (["--depth", "17"], "depth must be at most 16"),
    ],
)
def test_cli_bad_settings_are_one_line_errors(tmp_path, args, message):
    res = _cli(["train", "cohiclust", "--dataset", "digits", "--out", str(tmp_path / "r"), *args])
    assert res.exit_code == 1
    assert message in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_cli_cc_needs_two_clusters(tmp_path):
    res = _cli(["train", "cc", "--dataset", "digits", "--clusters", "1", "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "clusters must be at least 2" in res.output


def test_cli_unknown_dataset_and_missing_data(tmp_path):
    res = _cli(["train", "cc", "--dataset", "imagenet", "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and len(res.output.strip().splitlines()) == 1
    assert "unknown dataset 'imagenet'; expected one of digits, cifar10" in res.output
    assert not (tmp_path / "r").exists()
    res = _cli(["predict", str(tmp_path), "--dataset", "imagenet"])
    assert res.exit_code == 1 and "unknown dataset 'imagenet'" in res.output
    res = _cli(["train", "cc", "--dataset", "cifar10", "--data-dir", str(tmp_path), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1
    assert "cifar-10-batches-bin" in res.output and "--download" in res.output
    empty = tmp_path / "images" / "cat"
    empty.mkdir(parents=True)
    res = _cli(
        [
            "train",
            "cohiclust",
            "--dataset",
            "folder",
            "--data-dir",
            str(tmp_path / "images"),
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert res.exit_code == 1 and "no images found" in res.output


def test_cli_corrupt_checkpoint_on_resume_and_predict(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"\x00garbage")
    res = _cli(["train", "cohiclust", "--dataset", "digits", "--out", str(run), "--resume"])
    assert res.exit_code == 1 and "corrupt" in res.output
    res = _cli(["predict", str(run)])
    assert res.exit_code == 1 and "corrupt" in res.output


@pytest.mark.parametrize("folder", ["missing", "empty"])
def test_cli_resume_without_checkpoint_is_one_line_and_no_note(tmp_path, folder):
    # regression: "note: ... ignoring --dataset" used to come first, before the real error
    run = tmp_path / "run"
    if folder == "empty":
        run.mkdir()
    res = _cli(["train", "cohiclust", "--out", str(run), "--resume", "--dataset", "digits", "--lr", "0.5"])
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [f"Error: --resume: no checkpoint.pt in {run} (nothing to resume)"]
    assert run.exists() == (folder == "empty")


@pytest.mark.parametrize("model", ["cohiclust", "cc"])
def test_cpu_run_uses_no_float64_no_pinning_no_async_copies(tmp_path, model):
    """What the loop does to tensors on a non-CUDA device, watched op by op: no float64 tensor anywhere (MPS
    has no float64), no pinned memory and no non_blocking copies (CUDA only)."""
    from torch.overrides import TorchFunctionMode
    from torch.utils._pytree import tree_flatten

    seen: dict[str, list[str]] = {"float64": [], "pin": [], "non_blocking": []}

    class Spy(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = getattr(func, "__name__", str(func))
            if name in ("pin_memory", "is_pinned") or kwargs.get("pin_memory"):
                seen["pin"].append(name)
            if kwargs.get("non_blocking"):
                seen["non_blocking"].append(name)
            out = func(*args, **kwargs)
            if any(isinstance(t, torch.Tensor) and t.dtype == torch.float64 for t in tree_flatten(out)[0]):
                seen["float64"].append(name)
            return out

    with Spy():
        train(tiny(model, epochs=2), tmp_path, device="cpu")
    assert seen == {"float64": [], "pin": [], "non_blocking": []}


def test_absent_devices_are_one_line_errors(tmp_path):
    from cohiclust_extra.device import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cuda", "mps", "cpu")
    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    res = _cli(["train", "cc", "--dataset", "digits", "--device", "cuda", "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "no CUDA device is available" in res.output
    assert not (tmp_path / "r").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_mixed_precision_run(tmp_path):
    result = train(tiny(), tmp_path, device="cuda")
    assert result["finished"] and np.isfinite(np.load(tmp_path / "logits.npy")).all()


# ------------------------------------------------------------------ resume, predict and checkpoints via the CLI
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("finished") / "run"
    train(tiny(), run, device="cpu")
    return run


def _copy(run, tmp_path):
    import shutil

    return shutil.copytree(run, tmp_path / "run")


def test_cli_resume_keeps_the_runs_epochs_and_model(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path)
    # regression: without --epochs, --resume used to raise the run's 3 tree epochs to digits' default 60
    res = _cli(["train", "cohiclust", "--out", str(run), "--resume", "--device", "cpu", "--json"])
    assert res.exit_code == 0, res.output
    assert len(_history(run)) == 4
    res = _cli(["train", "cohiclust", "--out", str(run), "--resume", "--device", "cpu", "--epochs", "4", "--lr", "0.5"])
    assert res.exit_code == 0, res.output
    assert "ignoring --lr" in res.output
    assert len(_history(run)) == 5 and json.loads((run / "config.json").read_text())["lr"] == 1e-3
    res = _cli(["train", "cc", "--out", str(run), "--resume", "--device", "cpu"])
    assert res.exit_code == 1 and "holds a cohiclust run, not a cc one" in res.output


@pytest.mark.parametrize(
    "content,message",
    [
        ({"f.0.weight": torch.zeros(2), "tree_model.0.weight": torch.zeros(3, 2)}, "looks like an official CoHiClust"),
        ({"weights": torch.zeros(2)}, "not an l2h training checkpoint"),
        ({"format": "l2h-train-checkpoint", "config": {}, "epoch": "3", "model": {}}, "damaged l2h checkpoint"),
        (
            {"format": "l2h-train-checkpoint", "config": {"depth": 2, "colour": 1}, "epoch": 1, "model": {}},
            "unusable configuration: unknown configuration keys: colour",
        ),
        (
            {
                "format": "l2h-train-checkpoint",
                "config": {"depth": 3},
                "epoch": 1,
                "model": {"x": torch.zeros(1)},
                "sample_shape": [1, 8, 8],
            },
            "does not fit its config",
        ),
    ],
)
def test_cli_foreign_checkpoints_on_resume_and_predict(tmp_path, content, message):
    run = tmp_path / "run"
    run.mkdir()
    torch.save(content, run / "checkpoint.pt")
    res = _cli(["predict", str(run), "--device", "cpu"])
    assert res.exit_code == 1 and message in res.output and "Traceback" not in res.output, res.output
    if "config" in content and "depth" not in content["config"]:
        return
    res = _cli(["train", "cohiclust", "--out", str(run), "--resume", "--device", "cpu"])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output


def test_cli_predict_refuses_data_of_another_shape(finished_run, tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(20, 5)).astype(np.float32))
    res = _cli(
        [
            "predict",
            str(finished_run),
            "--dataset",
            "npy",
            "--data-dir",
            str(tmp_path / "x.npy"),
            "--out",
            str(tmp_path / "p"),
        ]
    )
    assert res.exit_code == 1
    assert "trained on samples of shape (1, 8, 8) (64 values); npy has samples of shape (5,)" in res.output
    # the same number of values per sample is fine for the MLP backbone (it flattens)
    np.save(tmp_path / "y.npy", np.random.default_rng(0).random((20, 64)).astype(np.float32))
    res = _cli(
        [
            "predict",
            str(finished_run),
            "--dataset",
            "npy",
            "--data-dir",
            str(tmp_path / "y.npy"),
            "--out",
            str(tmp_path / "p"),
        ]
    )
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "p" / "logits.npy").shape == (20, 3)


# ------------------------------------------------------------------ the losses the loop optimises
def test_step_losses_compose_the_papers_objectives():
    """CoHiClust: CoHiLoss + 2^-T R1 + R2 (NT-Xent τ 0.5 on φ); CC: NT-Xent(g_I, τ_I 0.5) + cluster loss on
    softmax(g_C) with τ_C 1.0. Recomputed from the model's outputs with the loss functions themselves."""
    from cohiclust_extra.losses import cluster_contrastive_loss, cohi_loss, nt_xent
    from cohiclust_extra.training import _Precision, _step_losses
    from cohiclust_extra.tree import level_log_probs, split_balance_loss

    torch.manual_seed(0)
    xa, xb = torch.rand(6, 1, 8, 8), torch.rand(6, 1, 8, 8)
    precision = _Precision(torch.device("cpu"))
    cfg = tiny(depth=3)
    model = build_model(cfg, (1, 8, 8)).eval()
    model.tree.leaf_mask[[1, 6]] = False
    loss, parts, mass = _step_losses(model, cfg, xa, xb, False, precision)
    with torch.no_grad():
        logits, proj = model(torch.cat((xa, xb)))
    levels = level_log_probs(logits, model.tree.leaf_mask)
    cohi = cohi_loss([lv[:6] for lv in levels], [lv[6:] for lv in levels])
    r1 = split_balance_loss(logits, levels, model.tree.leaf_mask)
    r2 = nt_xent(proj[:6], proj[6:], 0.5)
    assert loss.item() == pytest.approx((cohi + r1 / 8 + r2).item(), rel=1e-5)
    assert parts["cohi"] == pytest.approx(cohi.item(), rel=1e-5)
    np.testing.assert_allclose(mass.numpy(), levels[-1].exp().sum(0).numpy(), rtol=1e-5)
    assert (mass[[1, 6]] == 0).all()
    pre, parts, _ = _step_losses(model, cfg, xa, xb, True, precision)  # pre-training: R2 only
    assert pre.item() == pytest.approx(r2.item(), rel=1e-5) and set(parts) == {"r2"}

    cfg = tiny("cc")
    model = build_model(cfg, (1, 8, 8)).eval()
    loss, parts, _ = _step_losses(model, cfg, xa, xb, False, precision)
    with torch.no_grad():
        inst, clus = model(torch.cat((xa, xb)))
    expected = nt_xent(inst[:6], inst[6:], 0.5) + cluster_contrastive_loss(
        clus[:6].softmax(1), clus[6:].softmax(1), 1.0
    )
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_exported_logits_stay_finite_for_confident_trees():
    """log leaf probabilities are summed log-sigmoids: a tree head that is sure of every split gives very
    negative but finite logits (log of a product of sigmoids would underflow to -inf)."""
    cfg = tiny(depth=4)
    torch.manual_seed(0)
    model = build_model(cfg, (1, 8, 8)).eval()
    with torch.no_grad():
        model.tree.net.weight.mul_(1e4)
    model.tree.leaf_mask[[0, 3, 9]] = False
    out = model.leaf_log_probs(torch.rand(16, 1, 8, 8))
    assert out.shape == (16, 13) and torch.isfinite(out).all()
    assert out.min() < -1000  # genuinely tiny probabilities
    np.testing.assert_allclose(torch.logsumexp(out, 1).numpy(), 0.0, atol=1e-5)
