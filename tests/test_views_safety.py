"""Views and hostile names or deep trees: escapes in ``show`` and iTOL files, no recursion anywhere."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.console import Console

from l2h import Hierarchy, write_tree
from l2h.annotate import leaf_stats
from l2h.render import render_tree, tree_lines
from tests._cli import run

EVIL = [
    "\x1b]0;owned\x07title",  # OSC: window title
    "\x1b[2J\x1b[Hclear",  # CSI: clear screen
    "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\",  # OSC-8 hyperlink
    "[link=http://evil.example/]markup[/link]",
    "[/]",
    "rtl\u202eexe.txt",  # bidi override
]
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture()
def evil_tree():
    k = len(EVIL)
    merges = [[0, 1]] + [[i, k + i - 2] for i in range(2, k)]
    return Hierarchy.from_merges(merges, leaf_names=EVIL)


def _stats(tree):
    k = tree.n_leaves
    leaf = np.arange(k).repeat(2)
    labels = np.arange(k).repeat(2)
    return leaf_stats(tree, leaf, labels, class_names=EVIL, class_groups=list(reversed(EVIL)))


def test_names_are_escaped_in_the_plain_and_the_rich_view(evil_tree):
    stats = _stats(evil_tree)
    plain = "\n".join(line.plain for line in tree_lines(evil_tree, stats, ascii=True, min_chain=0))
    assert not RAW_CONTROL.search(plain)
    assert "\\x1b]0;owned\\x07title" in plain and "[/]" in plain and "[link=http://evil.example/]markup" in plain
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="truecolor", width=400)
    console.print(render_tree(evil_tree, stats, min_chain=0))
    out = buffer.getvalue()
    # the only escape sequences are rich's own SGR colour codes, never the names'
    assert not re.search(r"\x1b(?!\[[0-9;]*m)", out), out
    assert "\u202e" not in out and "[/]" in out and "\x1b]8" not in out


def test_show_cli_escapes_names_on_a_pipe_and_with_ascii(evil_tree, tmp_path):
    write_tree(evil_tree, tmp_path / "t.json")
    np.save(tmp_path / "leaf.npy", np.arange(evil_tree.n_leaves))
    for extra in ([], ["--ascii"]):
        result = run("show", tmp_path / "t.json", "--assignments", tmp_path / "leaf.npy", *extra)
        assert result.exit_code == 0, result.output
        assert not RAW_CONTROL.search(result.output), result.output
        assert "\\x1b]0;owned\\x07title" in result.output


def test_itol_files_carry_no_raw_control_characters(evil_tree):
    from l2h.itol import itol_bundle

    bundle = itol_bundle(evil_tree, _stats(evil_tree))
    for name, text in bundle.files.items():
        for line in text.splitlines():
            assert not RAW_CONTROL.search(line), (name, line)
    assert "\\x1b]0;owned\\x07title 100%" in bundle.files["itol_labels.txt"]


def test_deep_caterpillar_in_the_itol_bundle_and_the_report():
    import sys

    from l2h.itol import itol_bundle
    from l2h.report import build_report

    k = 3000  # deeper than Python's recursion limit; 100 000 levels are checked where Newick allows (libcore)
    tree = Hierarchy.from_merges([[0, 1]] + [[i, k + i - 2] for i in range(2, k)])
    leaf = np.arange(k).repeat(2)
    stats = leaf_stats(tree, leaf, leaf % 5)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        bundle = itol_bundle(tree, stats)
        k = 100_000
        deep = Hierarchy.from_merges([[0, 1]] + [[i, k + i - 2] for i in range(2, k)])
        page = build_report(deep, leaf_stats(deep, np.arange(k), np.arange(k) % 7))
    finally:
        sys.setrecursionlimit(limit)
    assert bundle.files["itol_tree_colors.txt"].startswith("TREE_COLORS")
    assert len(bundle.files["itol_labels.txt"].splitlines()) == 3 + 3000
    assert '"K":100000' in page


def test_cli_views_on_a_100000_deep_caterpillar(tmp_path):
    k = 100_000
    write_tree(Hierarchy.from_merges([[0, 1]] + [[i, k + i - 2] for i in range(2, k)]), tmp_path / "cat.json")
    np.save(tmp_path / "leaf.npy", np.arange(k))
    np.save(tmp_path / "y.npy", np.arange(k) % 7)
    data = ["--assignments", tmp_path / "leaf.npy", "--labels", tmp_path / "y.npy"]
    shown = run("show", tmp_path / "cat.json", *data)
    assert shown.exit_code == 0, shown.output
    assert len(shown.output.splitlines()) <= 62 and shown.output.splitlines()[-1].startswith("(folded below level")
    bundle = run("export", "itol", tmp_path / "cat.json", "--out", tmp_path / "itol", *data)
    assert bundle.exit_code == 0, bundle.output
    assert (tmp_path / "itol" / "tree.nwk").read_text().count("(") == k - 1
