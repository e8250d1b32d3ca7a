"""Issue 23 (7): every success line prints its paths the one safe way (as error lines do).

``report``, ``gallery``, ``train`` and ``predict`` printed their output path with raw ESC, and
``train``/``predict`` interpreted Rich markup in it.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests._cli import run

ODD = "x\x1b[31m[bold]red\u202e"
SHOWN = "x\\x1b[31m[bold]red\\u202e"


@pytest.fixture
def case(tmp_path):
    np.save(tmp_path / "lg.npy", np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32))
    assert run("build", tmp_path / "lg.npy", "--out", tmp_path / "t.nwk", "-q").exit_code == 0
    np.save(tmp_path / "imgs.npy", np.zeros((6, 8, 8), dtype=np.uint8))
    folder = tmp_path / ODD
    folder.mkdir()
    return tmp_path


def _clean(output: str) -> None:
    assert "\x1b" not in output and "\u202e" not in output, repr(output)


@pytest.mark.parametrize(("command", "name"), [("report", "r.html"), ("gallery", "g.png")])
def test_views_escape_their_output_path(case, command, name):
    pytest.importorskip("PIL")
    out = case / ODD / name
    args = [command, case / "t.nwk", "--logits", case / "lg.npy", "--images", case / "imgs.npy", "--out", out]
    result = run(*args)
    assert result.exit_code == 0, result.output
    _clean(result.output)
    assert f"{SHOWN}/{name}" in result.output


def test_train_summary_shows_markup_and_escapes_as_text(capsys):
    from l2h_cli.train import _print_summary

    _print_summary("cohiclust", {"out_dir": f"/runs/{ODD}", "metrics": {}}, 1.0)
    printed = capsys.readouterr().out
    _clean(printed)
    assert f"/runs/{SHOWN}" in printed.replace("\n", "")


def test_print_line_is_the_one_way(capsys):
    from l2h_cli._common import print_line

    print_line(f"predict -> /p/{ODD}/logits.npy")
    printed = capsys.readouterr().out
    _clean(printed)
    assert printed == f"predict -> /p/{SHOWN}/logits.npy\n"
