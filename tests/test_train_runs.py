"""Training runs without dead ends, one-line checkpoint errors, option lists declared once (issues 9, 10)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("sklearn")

from tests._cli import error_line, run  # noqa: E402

pytestmark = pytest.mark.torch

TINY = ("--dataset", "digits", "--split", "test", "--epochs", "1", "--pretrain-epochs", "0", "--batch-size", "64")
TINY += ("--depth", "2", "--leaves", "3", "--prune-start", "0", "-q")


def _tiny_config_json(run_dir) -> None:
    from cohiclust_extra.config import TrainConfig

    config = TrainConfig(
        model="cohiclust", dataset="digits", split="test", epochs=1, pretrain_epochs=0, batch_size=64, depth=2, leaves=3
    )
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(config.to_dict()))


@pytest.mark.parametrize("resume", [False, True])
def test_a_run_interrupted_before_its_first_checkpoint_starts_afresh(tmp_path, resume):
    # regression: such a folder said "pass --resume", and --resume said "nothing to resume"
    run_dir = tmp_path / "run"
    _tiny_config_json(run_dir)
    args = ["train", "cohiclust", "--out", run_dir, *(["--resume"] if resume else TINY)]
    res = run(*args)
    assert res.exit_code == 0, res.output
    assert (run_dir / "checkpoint.pt").is_file() and (run_dir / "metrics.json").is_file()


def test_failed_runs_leave_no_folder(tmp_path):
    run_dir = tmp_path / "run"
    res = run("train", "cohiclust", "--out", run_dir, *TINY, "--lr", "nan")
    assert res.exit_code == 1 and error_line(res) == "Error: lr must be a finite number > 0; got nan"
    assert not run_dir.exists()


def test_a_run_failing_before_its_first_checkpoint_removes_its_folder(tmp_path, monkeypatch):
    import cohiclust_extra.training as training

    def boom(*args, **kwargs):
        raise FloatingPointError("the loss became nan at epoch 1; try a lower --lr")

    monkeypatch.setattr(training, "_step_losses", boom)
    run_dir = tmp_path / "run"
    res = run("train", "cohiclust", "--out", run_dir, *TINY)
    assert res.exit_code == 1 and "loss became nan" in error_line(res)
    assert not run_dir.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine\n")
    assert run("train", "cohiclust", "--out", existing, *TINY).exit_code == 1
    assert sorted(p.name for p in existing.iterdir()) == ["notes.txt"]  # a folder we did not create stays


@pytest.fixture()
def full_disk(tmp_path):
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_a_full_disk_leaves_no_run_folder(full_disk):
    run_dir = full_disk / "run"
    res = run("train", "cohiclust", "--out", run_dir, *TINY)
    assert res.exit_code == 1 and "No space left on device" in error_line(res)
    assert ".tmp" not in res.output
    assert list(full_disk.iterdir()) == []


class _Pickled:
    pass


def test_an_unsafe_checkpoint_is_refused_without_torchs_advice(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    torch.save({"format": "l2h-train-checkpoint", "payload": _Pickled()}, run_dir / "checkpoint.pt")
    for args in (["train", "cohiclust", "--out", run_dir, "--resume"], ["predict", run_dir]):
        res = run(*args)
        line = error_line(res)
        assert res.exit_code == 1 and "weights_only" not in line and "does not unpickle" in line, line
        assert len(line) < 300
    (run_dir / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated zip")
    line = error_line(run("predict", run_dir))
    assert "corrupt, truncated or not a torch file" in line and "weights_only" not in line


def test_option_lists_are_the_dispatch_tables():
    import click
    from l2h_cli import train as cli_train

    from cohiclust_extra.backbones import BACKBONES, BUILDERS
    from cohiclust_extra.data import DATASETS, LOADERS

    assert DATASETS == tuple(LOADERS) and BACKBONES == tuple(BUILDERS)
    assert cli_train.DATASETS is DATASETS and cli_train.BACKBONES is BACKBONES
    params = {p.name: p for p in cli_train.train.commands["cohiclust"].params}
    assert isinstance(params["backbone"].type, click.Choice) and tuple(params["backbone"].type.choices) == BACKBONES
    assert run("train", "cc", "--dataset", "mnist", "--out", "x").exit_code == 1


def test_predict_never_writes_over_its_own_run(tmp_path):
    # regression: `l2h predict RUN --out RUN` replaced the run's logits, labels, assignments and leaf_probs
    run_dir = tmp_path / "run"
    assert run("train", "cohiclust", "--out", run_dir, *TINY).exit_code == 0
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    link = tmp_path / "alias"
    link.symlink_to(run_dir)
    for out in (run_dir, link):
        res = run("predict", run_dir, "--dataset", "digits", "--split", "train", "--out", out)
        line = error_line(res)
        assert res.exit_code == 1 and "--out" in line and "logits.npy is the run's logits.npy file" in line, line
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    res = run(
        "predict", run_dir, "--dataset", "digits", "--split", "train", "--out", tmp_path / "new", "--num-workers", "1"
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [
        "assignments.npy",
        "labels.npy",
        "leaf_probs.npy",
        "logits.npy",
    ]
