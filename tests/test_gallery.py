"""``l2h gallery``: rows of the most confident examples per leaf or per node of a level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from l2h import Hierarchy, write_tree
from l2h.annotate import leaf_stats
from tests._cli import error_line, run
from tests._trees import random_merges

pytest.importorskip("matplotlib")
pytest.importorskip("PIL")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("seed", range(4))
def test_rows_hold_each_nodes_most_confident_points(seed):
    from l2h.plot import gallery_rows

    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 30))
    tree = Hierarchy.from_merges(random_merges(k, rng))
    leaf = rng.integers(0, k, size=400)
    conf = np.round(rng.random(400), 2)  # ties broken by point index
    for level in (None, 1, max(1, k // 3)):
        rows = gallery_rows(tree, leaf, conf, level=level, per_row=5)
        nodes = tree.leaf_order.tolist() if level is None else None
        if nodes is not None:
            assert [v for v, _ in rows] == nodes
        else:
            assert sorted(v for v, _ in rows) == sorted(tree.cut_nodes(level).tolist())
        for v, points in rows:
            members = np.flatnonzero(np.isin(leaf, tree.leaves_under(v)))
            expected = members[np.lexsort((members, -conf[members]))][:5]
            assert points.tolist() == expected.tolist()


def test_picture_has_one_labelled_row_per_leaf_and_per_level_node():
    from l2h.plot import plot_gallery
    from l2h.report import ImageSource

    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    leaf = np.array([0, 0, 1, 2, 3, 3])
    stats = leaf_stats(tree, leaf, np.array([0, 0, 1, 1, 1, 0]), class_names=["cat", "car"])
    images = ImageSource(6, array=np.arange(6 * 8 * 8, dtype=np.uint8).reshape(6, 8, 8))
    fig = plot_gallery(tree, stats, images, leaf, per_row=3, tile=16)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "leaf 0  cat 100%  n=2",
        "leaf 1  car 100%  n=1",
        "leaf 2  car 100%  n=1",
        "leaf 3  cat 50%  n=2",  # a tie goes to the lower class id
    ]
    assert fig.axes[0].images[0].get_array().shape[:2] == (4 * 18, 3 * 18)
    fig = plot_gallery(tree, stats, images, leaf, level=2, per_row=3, tile=16)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "n4 (2 leaves)  cat 66%  n=3",
        "n5 (2 leaves)  car 66%  n=3",
    ]


def test_cli_writes_the_digits_gallery_and_refuses_bad_input(tmp_path):
    tree = Hierarchy.from_merges(random_merges(20, np.random.default_rng(0)))
    write_tree(tree, tmp_path / "t.json")
    data = ["--logits", EXAMPLES / "digits_logits.npy", "--labels", EXAMPLES / "digits_labels.npy"]
    images = ["--images", EXAMPLES / "digits_images.npy"]
    ok = run("gallery", tmp_path / "t.json", *images, "--out", tmp_path / "g.png", *data, "--k", "5")
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "link.png").symlink_to(tmp_path / "t.json")
    for extra, message in (
        (["--out", tmp_path / "g.gif", *data], "cannot tell the picture format"),
        (["--out", tmp_path / "h.png"], "gallery needs the points' leaves"),
        (
            ["--out", tmp_path / "h.png", *data, "--k", "21"],
            "k must be between 1 and the number of leaves (20); got 21",
        ),
        (["--out", tmp_path / "link.png", *data], "TREE"),  # through the link, the output is the input tree
    ):
        result = run("gallery", tmp_path / "t.json", *images, *extra)
        assert result.exit_code == 1 and message in error_line(result), result.output
    assert not (tmp_path / "h.png").exists() and (tmp_path / "t.json").read_text().startswith("{")
