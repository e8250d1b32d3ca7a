"""Issue 23 (3, 4, 8): ``l2h logits`` on a disk that fills, with huge sides, and paths.txt round trips.

A real tmpfs too small for the rows used to kill ``l2h logits`` with SIGBUS (the memory map was
written past the free space) and leave ``.partial`` files; on a full disk the error did not name
the output.  A ``--crop`` of 100 000 was OOM-killed instead of refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from PIL import Image  # noqa: E402

from tests._cli import error_line, run  # noqa: E402
from tests._system_fixtures import small_tmpfs  # noqa: E402

pytestmark = pytest.mark.torch
ENTRY = [sys.executable, "-c", "from l2h_cli.main import main; main()"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("logits-safety")
    rng = np.random.default_rng(0)
    flat = root / "flat"
    flat.mkdir()
    for i in range(300):
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(flat / f"{i:03d}.png")
    torch.manual_seed(0)
    weights = root / "squeeze.pt"
    torch.save(torchvision.models.squeezenet1_1(weights=None, num_classes=1000).state_dict(), weights)
    return {"root": root, "flat": flat, "weights": weights}


def _logits_args(data, out: Path, *extra: object) -> list[str]:
    args = ["logits", "--model", "torchvision:squeezenet1_1", "--weights", data["weights"], "--images", data["flat"]]
    return [str(a) for a in [*args, "--out", out, "--resize", 36, "--crop", 32, "--batch-size", 50, "-q", *extra]]


def _one_line(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, (done.returncode, done.stderr[-3000:])
    return lines[0]


def test_a_filesystem_too_small_for_the_rows_is_one_line_and_leaves_nothing(data):
    with small_tmpfs("1m") as disk:  # 300 x 1000 float32 rows are 1.2 MB
        out = disk / "lg.npy"
        done = subprocess.run([*ENTRY, *_logits_args(data, out)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 1, (done.returncode, done.stderr[-3000:])
        line = _one_line(done)
        assert f"--out {out}: no room for the logits (1.2 MB) in {disk}" in line, line
        assert sorted(p.name for p in disk.iterdir()) == []


def test_an_already_full_disk_names_the_output(data):
    with small_tmpfs("1m") as disk:
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, bytes(4096))
        except OSError:
            pass
        finally:
            os.close(fd)
        out = disk / "lg.npy"
        done = subprocess.run([*ENTRY, *_logits_args(data, out)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 1
        assert f"--out {out}" in _one_line(done)
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]


@pytest.mark.parametrize("flag", ["--crop", "--resize"])
def test_a_huge_side_is_refused_up_front(data, tmp_path, flag):
    args = _logits_args(data, tmp_path / "lg.npy")
    args[args.index(flag) + 1] = "100000"
    result = run(*args)
    assert result.exit_code == 1
    assert error_line(result) == f"Error: {flag} must be 1 to 4096 pixels; got 100000"
    assert list(tmp_path.iterdir()) == []


def test_paths_txt_reads_back_exactly(data, tmp_path):
    """U+2028 and other non-newline separators stay inside a name; report reads the same list."""
    folder = tmp_path / "odd"
    folder.mkdir()
    names = ["a\u2028b.png", "c\x85d.png", "e\x0bf.png", "g\x1ch.png"]
    for i, name in enumerate(names):
        Image.fromarray(np.full((8, 8, 3), i * 50, dtype=np.uint8)).save(folder / name)
    out = tmp_path / "lg.npy"
    args = _logits_args({**data, "flat": folder}, out)
    assert run(*args).exit_code == 0
    listed = (tmp_path / "paths.txt").read_text(encoding="utf-8").split("\n")
    assert listed[:-1] == [str(folder / n) for n in sorted(names)] and listed[-1] == ""
    from l2h.io import read_names
    from l2h.report import load_images

    assert read_names(tmp_path / "paths.txt") == listed[:-1]
    assert [str(p) for p in load_images(tmp_path / "paths.txt", len(names)).paths] == listed[:-1]
    again = run(*_logits_args({**data, "flat": tmp_path / "paths.txt"}, tmp_path / "again" / "lg.npy"))
    assert again.exit_code == 1  # the folder does not exist: the list itself was accepted
    (tmp_path / "again").mkdir()
    again = run(*_logits_args({**data, "flat": tmp_path / "paths.txt"}, tmp_path / "again" / "lg.npy"))
    assert again.exit_code == 0, again.output
    np.testing.assert_array_equal(np.load(tmp_path / "again" / "lg.npy"), np.load(out))


def test_a_file_name_with_a_newline_is_refused_before_the_model_runs(data, tmp_path):
    folder = tmp_path / "nl"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(folder / "a\nb.png")
    result = run(*_logits_args({**data, "flat": folder}, tmp_path / "lg.npy"))
    assert result.exit_code == 1
    line = error_line(result)
    assert "a\\x0ab.png holds a line break" in line, line
    assert not (tmp_path / "lg.npy").exists() and not (tmp_path / "paths.txt").exists()
