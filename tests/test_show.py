"""Terminal view: exact lines, chain collapsing, depth folding, ASCII when piped, CLI errors."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from l2h import Hierarchy, write_tree
from l2h.render import leaf_stats, render_tree, tree_lines
from tests._cli import run
from tests._trees import random_merges


def plain(tree, stats=None, **kwargs) -> list[str]:
    return [line.plain for line in tree_lines(tree, stats, ascii=True, **kwargs)]


@pytest.fixture()
def caterpillar():
    """n8 = (e, n7), n7 = (n6, d), n6 = (c, n5), n5 = (a, b): a chain of 3 merges above a cherry."""
    return Hierarchy.from_merges([[0, 1], [2, 5], [6, 3], [4, 7]], leaf_names=list("abcde"))


def test_balanced_tree_with_points_and_classes():
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "car", "bus"])
    leaf = np.array([0, 0, 1, 1, 1, 2, 3, 3])
    labels = np.array([0, 0, 1, 1, 0, 2, 3, 2])
    stats = leaf_stats(
        tree,
        leaf,
        labels,
        class_names=["cat", "dog", "car", "bus"],
        class_groups=["animal", "animal", "vehicle", "vehicle"],
    )
    assert plain(tree, stats) == [
        "n6 (4 leaves, 8 points) cat 37% [animal 62%]",
        "|-- n4 (2 leaves, 5 points) cat 60% [animal 100%]",
        "|   |-- cat (2 points) cat 100% [animal]",
        "|   `-- dog (3 points) dog 66% [animal]",
        "`-- n5 (2 leaves, 3 points) car 66% [vehicle 100%]",
        "    |-- car (1 points) car 100% [vehicle]",
        "    `-- bus (2 points) car 50% [vehicle]",
    ]


def test_caterpillar_runs_are_collapsed_into_one_row(caterpillar):
    assert plain(caterpillar) == [
        "n8..n6 (chain of 3 merges, 5 leaves)",
        "|-- e",
        "|-- d",
        "|-- c",
        "`-- n5 (2 leaves)",
        "    |-- a",
        "    `-- b",
    ]
    expanded = plain(caterpillar, min_chain=0)
    assert len(expanded) == 9 and expanded[-1] == "    `-- d" and expanded[-2] == "    |       `-- b"
    assert plain(caterpillar, min_chain=4) == expanded


def test_max_depth_folds_subtrees_with_their_sizes(caterpillar):
    stats = leaf_stats(caterpillar, np.array([0, 1, 1, 4]))
    # a chain's leaves hang one level lower each: max_depth counts true levels, so a chain is cut too
    assert plain(caterpillar, stats, max_depth=1) == [
        "n8 (5 leaves, 4 points)",
        "|-- e (1 points)",
        "`-- n7 ... (4 leaves, 3 points)",
    ]
    assert plain(caterpillar, stats, max_depth=3) == [
        "n8..n6 (chain of 3 merges, 5 leaves, 4 points)",
        "|-- e (1 points)",
        "|-- d (0 points)",
        "|-- c (0 points)",
        "`-- n5 ... (2 leaves, 3 points)",
    ]
    assert plain(caterpillar, max_depth=0) == ["n8 ... (5 leaves)"]


def test_rows_counted_and_default_depth_keeps_the_view_short():
    from l2h.render import count_rows, default_max_depth

    rng = np.random.default_rng(5)
    for k in (5, 61, 300):
        tree = Hierarchy.from_merges(random_merges(k, rng))
        for depth in (None, 1, 2, 4):
            assert count_rows(tree, depth) == len(plain(tree, max_depth=depth))
        chosen = default_max_depth(tree, rows=60)
        if len(plain(tree)) <= 60:
            assert chosen is None
        else:
            assert len(plain(tree, max_depth=chosen)) <= 60 or chosen == 1
            assert chosen == 1 or len(plain(tree, max_depth=chosen + 1)) > 60


def test_deep_caterpillar_is_shown_without_recursion_or_quadratic_work():
    k = 100_000
    tree = Hierarchy.from_merges([[0, 1]] + [[i, k + i - 2] for i in range(2, k)])
    from l2h.render import default_max_depth

    depth = default_max_depth(tree)
    rows = plain(tree, max_depth=depth)
    assert 3 <= len(rows) <= 60 and rows[-1].endswith(" leaves)") and "..." in rows[-1]


def test_every_leaf_appears_once_on_random_trees():
    rng = np.random.default_rng(3)
    for _ in range(10):
        k = int(rng.integers(2, 40))
        tree = Hierarchy.from_merges(random_merges(k, rng))
        for min_chain in (0, 2, 3):
            rows = plain(tree, min_chain=min_chain)
            leaves = [row.split("-- ")[-1] for row in rows if not row.split("-- ")[-1].startswith("n")]
            assert sorted(leaves, key=int) == [str(i) for i in range(k)]


def test_unicode_guides_and_rich_rendering(caterpillar):
    lines = [line.plain for line in tree_lines(caterpillar)]
    assert lines[1] == "├── e" and lines[4] == "└── n5 (2 leaves)"
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render_tree(caterpillar))
    assert console.export_text().splitlines()[0] == "Hierarchy: 5 leaves"


def test_cli_piped_output_is_plain_ascii(caterpillar, tmp_path):
    path = tmp_path / "tree.nwk"
    write_tree(caterpillar, path)
    result = run("show", path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["Hierarchy: 5 leaves", *plain(caterpillar)]
    assert result.output.isascii() and "\x1b[" not in result.output
    deep = run("show", path, "--max-depth", "1", "--min-chain", "0", "--ascii")
    assert deep.output.splitlines()[1:] == plain(caterpillar, max_depth=1, min_chain=0)


def test_cli_with_labels_and_names(caterpillar, tmp_path):
    path = tmp_path / "tree.json"
    write_tree(caterpillar, path)
    np.save(tmp_path / "leaf.npy", np.array([0, 1, 4, 4]))
    (tmp_path / "y.txt").write_text("x\nx\ny\ny\n")
    result = run("show", path, "--assignments", tmp_path / "leaf.npy", "--labels", tmp_path / "y.txt")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Hierarchy: 5 leaves, 4 points, 2 classes"
    assert lines[2] == "|-- e (2 points) y 100%"
    assert lines[3] == "|-- d (0 points) (no points)"


def test_cli_errors(caterpillar, tmp_path):
    missing = run("show", tmp_path / "none.nwk")
    assert missing.exit_code == 1
    assert missing.output.strip() == f"Error: tree file not found: {tmp_path / 'none.nwk'}"
    path = tmp_path / "tree.nwk"
    write_tree(caterpillar, path)
    named = ("--leaf-names", tmp_path / "names.txt")  # the Newick names its leaves; points need their ids
    named[1].write_text("a\nb\nc\nd\ne\n")
    np.save(tmp_path / "leaf.npy", np.array([0, 1, 4, 4]))
    np.save(tmp_path / "y.npy", np.array([0, 1]))
    wrong = run("show", path, *named, "--assignments", tmp_path / "leaf.npy", "--labels", tmp_path / "y.npy")
    assert wrong.exit_code == 1
    assert wrong.output.strip() == (
        f"Error: labels file {tmp_path / 'y.npy'} has 2 labels but assignments {tmp_path / 'leaf.npy'} give 4 points"
    )
    np.save(tmp_path / "bad.npy", np.array([0, 9]))
    bad = run("show", path, *named, "--assignments", tmp_path / "bad.npy")
    assert bad.exit_code == 1
    assert "must be leaf ids in 0..4 (the tree has 5 leaves); found 9" in bad.output
    negative = run("show", path, "--max-depth", "-1")
    assert negative.exit_code == 1  # team rule: a user error is one line, exit 1
    assert negative.output.strip() == "Error: --max-depth must be an integer >= 0 or 'all'; got '-1'"
    assert run("show", path, "--max-depth", "all").exit_code == 0


def test_cli_default_depth_and_footer_over_60_leaves(tmp_path):
    rng = np.random.default_rng(4)
    tree = Hierarchy.from_merges(random_merges(200, rng))
    write_tree(tree, tmp_path / "t.json")
    folded = run("show", tmp_path / "t.json")
    lines = folded.output.splitlines()
    assert folded.exit_code == 0 and len(lines) <= 62
    assert lines[-1].startswith("(folded below level ") and "--max-depth all" in lines[-1]
    everything = run("show", tmp_path / "t.json", "--max-depth", "all").output.splitlines()
    assert len(everything) == 1 + len(plain(tree)) and not everything[-1].startswith("(folded")
    small = Hierarchy.from_merges(random_merges(60, rng))
    write_tree(small, tmp_path / "s.json")
    assert not run("show", tmp_path / "s.json").output.splitlines()[-1].startswith("(folded")


def test_purity_colour_scale():
    from l2h.render import PURITY_STYLES

    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    leaf = np.repeat([0, 1, 2, 3], 10)
    labels = np.concatenate([np.zeros(10), [0] * 9 + [1], [0] * 6 + [1] * 4, [0] * 5 + [1] * 5]).astype(int)
    lines = tree_lines(tree, leaf_stats(tree, leaf, labels))
    styles = {}
    for line in lines[1:]:
        for span in line.spans:
            text = line.plain[span.start : span.end]
            if "%" in text:
                styles[text.strip()] = str(span.style)
    assert styles == {
        "0 100%": "green",
        "0 90%": "green",
        "0 60%": "yellow",
        "0 50%": "red",
        "0 95%": "green",
        "0 55%": "red",
    }
    assert PURITY_STYLES["medium"] == "yellow"


def test_deep_trees_need_no_recursion():
    k = 2500  # deeper than Python's default recursion limit
    tree = Hierarchy.from_merges([[0, 1]] + [[i, k + i - 2] for i in range(2, k)])
    assert len(plain(tree)) == k + 2  # one chain row, k - 2 peeled leaves, the cherry and its 2 leaves
    rows = plain(tree, min_chain=0)
    assert len(rows) == 2 * k - 1 and rows[-1].endswith("`-- 1")


def test_piped_output_is_ascii_even_when_colour_is_forced(caterpillar, tmp_path, monkeypatch):
    # Regression: the ASCII decision asked rich, which FORCE_COLOR makes claim a terminal, so a
    # pipe got box-drawing guides and escape codes.
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    path = tmp_path / "tree.nwk"
    write_tree(caterpillar, path)
    result = run("show", path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["Hierarchy: 5 leaves", *plain(caterpillar)]
    assert result.output.isascii() and "\x1b[" not in result.output


class _FakeStdout:
    def __init__(self, tty: bool, encoding: str | None) -> None:
        self.tty, self.encoding = tty, encoding

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "encoding", "boxes"),
    [
        (True, "utf-8", True),
        (False, "utf-8", False),
        (True, "ascii", False),
        (True, None, False),
        (True, "no-such-codec", False),
    ],
)
def test_box_drawing_only_on_a_terminal_that_can_encode_it(monkeypatch, tty, encoding, boxes):
    from l2h_cli.show import _box_drawing_terminal

    monkeypatch.setattr("sys.stdout", _FakeStdout(tty, encoding))
    assert _box_drawing_terminal() is boxes


def test_only_the_guides_are_dim_and_rows_stay_one_line():
    tree = Hierarchy.from_merges([[0, 1]], leaf_names=["two\nlines", "tab\there"])
    stats = leaf_stats(tree, np.array([0, 1]), np.array([0, 1]), class_names=["c\nd", "e"], class_groups=["g\nh", "i"])
    lines = tree_lines(tree, stats)
    assert [line.plain for line in lines] == [
        "n2 (2 leaves, 2 points) c d 50% [g h 50%]",
        "├── two lines (1 points) c d 100% [g h]",
        "└── tab here (1 points) e 100% [i]",
    ]
    for line in lines:
        assert line.style == ""  # a row-wide style would apply to every span
    leaf_row = lines[1]
    styles = {leaf_row.plain[span.start : span.end]: str(span.style) for span in leaf_row.spans}
    assert styles["├── "] == "dim" and styles["two lines"] == "bold"
