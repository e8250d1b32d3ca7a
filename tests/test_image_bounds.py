"""Issue 23 (4): images are bounded before they are decoded.

A small PNG that declares 9000 x 9000 pixels (under Pillow's own warning, so Pillow says nothing)
used to be decoded whole by report, gallery and logits.  Now the header is checked against a pixel
budget (``--max-pixels``) and the file is refused in one line naming it, in DataLoader workers too.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests._cli import error_line, run

PIL = pytest.importorskip("PIL.Image")
SIDE = 9000  # 81 megapixels: over the 64-megapixel default, under Pillow's 89-megapixel warning


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_bomb(path: Path, side: int = SIDE) -> Path:
    """A black 8-bit greyscale PNG of side x side pixels, written row by row (a few hundred KB)."""
    packer = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte + pixels
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")
    path.write_bytes(png)
    return path


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("bombs")
    rng = np.random.default_rng(0)
    np.save(root / "lg.npy", rng.normal(size=(4, 3)).astype(np.float32))
    assert run("build", root / "lg.npy", "--out", root / "t.nwk", "-q").exit_code == 0
    folder = root / "imgs"
    folder.mkdir()
    for i in range(3):
        PIL.fromarray(np.full((8, 8, 3), 60 * i, dtype=np.uint8)).save(folder / f"{i}.png")
    bomb = write_bomb(folder / "3.png")
    assert bomb.stat().st_size < 1 << 20
    return root


def _refused(result, bomb: Path) -> None:
    assert result.exit_code == 1, result.output
    line = error_line(result)
    assert f"image {bomb} is {SIDE} x {SIDE} pixels (81.0 megapixels), over the budget of 64.0 megapixels" in line


@pytest.mark.parametrize("command", ["report", "gallery"])
def test_views_refuse_a_bomb_from_its_header(case, tmp_path, command):
    out = tmp_path / ("r.html" if command == "report" else "g.png")
    args = [command, case / "t.nwk", "--logits", case / "lg.npy", "--images", case / "imgs", "--out", out]
    _refused(run(*args), case / "imgs" / "3.png")
    assert not out.exists()


def test_a_raised_budget_lets_a_trusted_image_through(case, tmp_path):
    args = ["report", case / "t.nwk", "--logits", case / "lg.npy", "--images", case / "imgs"]
    result = run(*args, "--out", tmp_path / "r.html", "--max-pixels", 100_000_000)
    assert result.exit_code == 0, result.output


@pytest.mark.torch
@pytest.mark.parametrize("workers", [0, 2])
def test_logits_refuses_a_bomb_in_its_loader_workers(case, tmp_path, workers):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    weights = tmp_path / "w.pt"
    torch.save(torchvision.models.squeezenet1_1(weights=None, num_classes=4).state_dict(), weights)
    out = tmp_path / "lg.npy"
    result = run(
        "logits", "--model", "torchvision:squeezenet1_1", "--weights", weights, "--images", case / "imgs",
        "--out", out, "--resize", 36, "--crop", 32, "--batch-size", 2, "--num-workers", workers, "-q",
    )  # fmt: skip
    _refused(result, case / "imgs" / "3.png")
    assert not out.exists() and not (tmp_path / "paths.txt").exists()  # rows before it are kept for --resume
