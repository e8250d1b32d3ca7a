"""The views (``show``, ``plot``, ``export itol``) place points on the right leaves of every tree format.

Regression: a Newick written by ``l2h build --names`` names its leaves; read back alone, its leaves
are numbered in the order they appear, so the views put column j's points under another leaf.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests._cli import error_line, run

NAMES = [f"cls_{c}" for c in "abcdef"]


@pytest.fixture()
def built(tmp_path):
    """Logits whose columns hold 50/40/47/48/55/60 points, and trees built from them with --names."""
    rng = np.random.default_rng(0)
    n, k = 300, len(NAMES)
    leaf = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), leaf] += 5
    sizes = np.bincount(logits.argmax(1), minlength=k)
    assert len(set(sizes.tolist())) == k  # distinct sizes: a misplaced leaf cannot go unnoticed
    np.save(tmp_path / "logits.npy", logits)
    (tmp_path / "names.txt").write_text("".join(f"{name}\n" for name in NAMES))
    for suffix in (".nwk", ".json"):
        result = run(
            "build",
            tmp_path / "logits.npy",
            "--out",
            tmp_path / f"t{suffix}",
            "--leaf-names",
            tmp_path / "names.txt",
            "-q",
        )
        assert result.exit_code == 0, result.output
    nwk = (tmp_path / "t.nwk").read_text()
    assert re.findall(r"cls_\w", nwk) != NAMES  # leaves appear out of id order: the bug shows
    return tmp_path, dict(zip(NAMES, sizes.tolist(), strict=True))


# Each view, run on a tree and logits, with the points per leaf it shows ({} when it failed).
def show_sizes(monkeypatch, tree, logits, out, *extra) -> tuple[object, dict[str, int]]:
    result = run("show", tree, "--logits", logits, *extra)
    found = dict(re.findall(r"-- (cls_\w) \((\d+) points\)", result.output)) if result.exit_code == 0 else {}
    return result, {name: int(count) for name, count in found.items()}


def itol_sizes(monkeypatch, tree, logits, out, *extra) -> tuple[object, dict[str, int]]:
    result = run("export", "itol", tree, "--out", out / "bundle", "--logits", logits, *extra)
    if result.exit_code != 0:
        return result, {}
    text = (out / "bundle" / "itol_simplebar.txt").read_text()
    rows = [line.split("\t") for line in text.split("DATA\n", 1)[1].splitlines()]
    return result, {name: int(float(value)) for name, value in rows}


def plot_sizes(monkeypatch, tree, logits, out, *extra) -> tuple[object, dict[str, int]]:
    pytest.importorskip("matplotlib")
    import l2h_cli.plot

    seen = {}
    real = l2h_cli.plot.plot_dendrogram

    def spy(tree, stats, **kwargs):
        seen.update(zip(tree.leaf_names, stats.sizes.tolist(), strict=True))
        return real(tree, stats, **kwargs)

    monkeypatch.setattr(l2h_cli.plot, "plot_dendrogram", spy)
    result = run("plot", tree, "--out", out / "tree.svg", "--logits", logits, *extra)
    return result, seen


VIEWS = {"show": show_sizes, "export itol": itol_sizes, "plot": plot_sizes}


@pytest.mark.parametrize("name", VIEWS)
def test_named_newick_with_points_is_refused_without_leaf_names(built, name, monkeypatch):
    tmp, _ = built
    result, _ = VIEWS[name](monkeypatch, tmp / "t.nwk", tmp / "logits.npy", tmp)
    assert result.exit_code == 1
    line = error_line(result)
    assert line.startswith(f"Error: tree {tmp / 't.nwk'} names its leaves ('cls_")
    assert "pass --leaf-names" in line
    assert not (tmp / "bundle").exists() and not (tmp / "tree.svg").exists()


@pytest.mark.parametrize("name", VIEWS)
@pytest.mark.parametrize("tree", ["t.nwk", "t.json"])
def test_every_leaf_shows_its_own_points(built, name, tree, monkeypatch):
    tmp, expected = built
    extra = ("--leaf-names", tmp / "names.txt") if tree == "t.nwk" else ()  # JSON keeps the leaf ids itself
    result, sizes = VIEWS[name](monkeypatch, tmp / tree, tmp / "logits.npy", tmp, *extra)
    assert result.exit_code == 0, result.output
    assert sizes == expected


def test_json_with_leaf_names_renames_without_reordering(built):
    tmp, expected = built
    (tmp / "other.txt").write_text("".join(f"x{i}\n" for i in range(len(NAMES))))
    result = run("show", tmp / "t.json", "--logits", tmp / "logits.npy", "--leaf-names", tmp / "other.txt")
    assert result.exit_code == 0, result.output
    found = {name: int(count) for name, count in re.findall(r"-- (x\d) \((\d+) points\)", result.output)}
    assert found == {f"x{i}": size for i, size in enumerate(expected.values())}


def test_named_newick_without_points_needs_no_leaf_names(built):
    tmp, _ = built
    result = run("show", tmp / "t.nwk")
    assert result.exit_code == 0, result.output
    assert sorted(re.findall(r"-- (cls_\w)", result.output)) == NAMES


@pytest.mark.parametrize(
    "args",
    [
        ("show", "{tree}"),
        ("plot", "{tree}", "--out", "{tmp}/t.png"),
        ("export", "itol", "{tree}", "--out", "{tmp}/bundle"),
    ],
)
def test_unknown_tree_suffix_offers_no_format_option(tmp_path, args):
    # Regression: the message ended "or --format", an option these commands do not have.
    tree = tmp_path / "tree.txt"
    tree.write_text("(a,b);\n")
    result = run(*(a.format(tree=tree, tmp=tmp_path) for a in args))
    assert result.exit_code == 1
    assert error_line(result) == (
        f"Error: cannot tell the tree format of {tree} from its suffix; use .nwk/.newick, .json or .npy"
    )
