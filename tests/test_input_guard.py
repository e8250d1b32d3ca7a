"""Issue 23 (1): every file a command reads is an input of the output guard, images included.

`report`/`gallery --images DIR --out DIR/005.png` used to exit 0 and turn 005.png into HTML; the
files a paths list names were not guarded either.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests._cli import error_line, run

PIL = pytest.importorskip("PIL.Image")


@pytest.fixture
def images_case(tmp_path):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 3)).astype(np.float32)
    np.save(tmp_path / "lg.npy", logits)
    assert run("build", tmp_path / "lg.npy", "--out", tmp_path / "t.nwk", "-q").exit_code == 0
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(6):
        PIL.fromarray(rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    other = tmp_path / "elsewhere"
    other.mkdir()
    for i in range(6):
        PIL.fromarray(np.full((8, 8), i * 40, dtype=np.uint8)).save(other / f"x{i}.png")
    (tmp_path / "paths.txt").write_text("".join(f"elsewhere/x{i}.png\n" for i in range(6)), encoding="utf-8")
    return tmp_path


def _refused(result, out, what="one of the --images files"):
    assert result.exit_code == 1, result.output
    line = error_line(result)
    assert f"--out {out} is {what}" in line, line


@pytest.mark.parametrize("command", ["report", "gallery"])
def test_an_image_of_the_folder_is_not_overwritten(images_case, command):
    target = images_case / "imgs" / "005.png"
    before = target.read_bytes()
    args = [command, images_case / "t.nwk", "--logits", images_case / "lg.npy", "--images", images_case / "imgs"]
    _refused(run(*args, "--out", target), target)
    assert target.read_bytes() == before


@pytest.mark.parametrize("command", ["report", "gallery"])
def test_an_image_named_by_a_paths_list_is_not_overwritten(images_case, command):
    target = images_case / "elsewhere" / "x2.png"
    before = target.read_bytes()
    args = [command, images_case / "t.nwk", "--logits", images_case / "lg.npy", "--images", images_case / "paths.txt"]
    _refused(run(*args, "--out", target), target)
    assert target.read_bytes() == before


def test_a_hard_link_of_an_image_is_not_overwritten(images_case):
    link = images_case / "link.png"
    os.link(images_case / "imgs" / "003.png", link)
    before = link.read_bytes()
    args = ["gallery", images_case / "t.nwk", "--logits", images_case / "lg.npy", "--images", images_case / "imgs"]
    result = run(*args, "--out", link)
    _refused(result, link, "one of the --images files (a hard link)")
    assert link.read_bytes() == before


def test_an_output_beside_the_images_is_still_written(images_case):
    args = ["gallery", images_case / "t.nwk", "--logits", images_case / "lg.npy", "--images", images_case / "imgs"]
    result = run(*args, "--out", images_case / "g.png")
    assert result.exit_code == 0, result.output
