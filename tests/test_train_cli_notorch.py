"""``l2h train`` / ``l2h predict`` without PyTorch: an install hint, not a traceback.

No ``importorskip`` here on purpose: these tests run whether or not the train extra is installed (torch is
hidden by making its import fail, which is what a machine without it sees).
"""

from __future__ import annotations

import builtins

import pytest
from click.testing import CliRunner

HINT = 'pip install "l2h[train]"'


@pytest.fixture
def no_torch(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.split(".")[0] in ("torch", "torchvision"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def _cli(args):
    from l2h_cli.main import cli

    return CliRunner().invoke(cli, args, obj={})


@pytest.mark.parametrize(
    "args",
    [
        ["train", "cohiclust", "--dataset", "digits"],
        ["train", "cc", "--dataset", "cifar10", "--device", "cuda"],
        ["train", "cohiclust", "--resume"],
    ],
)
def test_train_says_how_to_install_the_extra(no_torch, tmp_path, args):
    res = _cli([*args, "--out", str(tmp_path / "run")])
    assert res.exit_code == 1, res.output
    assert HINT in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_predict_says_how_to_install_the_extra(no_torch, tmp_path):
    res = _cli(["predict", str(tmp_path)])
    assert res.exit_code == 1 and HINT in res.output


def test_help_needs_no_torch(no_torch):
    for args in (["--help"], ["train", "--help"], ["train", "cohiclust", "--help"], ["predict", "--help"]):
        res = _cli(args)
        assert res.exit_code == 0, (args, res.output)
    assert "--leaves" in _cli(["train", "cohiclust", "--help"]).output
