"""ete3 conversion both ways, and Newick that ete3 and the `newick` package read back identically."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from l2h import Hierarchy
from l2h.interop import from_ete3, to_ete3
from tests._trees import random_merges

ete3 = pytest.importorskip("ete3")
newick = pytest.importorskip("newick")

# Characters that force Newick quoting (white space, punctuation, the double quote), plus harmless
# ones; apostrophes and backslashes are handled separately (see below).
TRICKY = [" ", "(", ")", "[", "]", ",", ":", ";", '"', "\t", "\n", "_", "-", ".", "é", "日本", "😀", "#", "|", "&"]


def random_names(k: int, rng: np.random.Generator, alphabet: list[str]) -> list[str]:
    names: list[str] = []
    while len(names) < k:
        parts = [rng.choice(alphabet) if rng.random() < 0.4 else rng.choice(list("abcxyz0123")) for _ in range(5)]
        name = "".join(parts)
        if name.strip() and name not in names:
            names.append(name)
    return names


def random_tree(seed: int, alphabet: list[str] | None = None) -> Hierarchy:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 25))
    names = random_names(k, rng, alphabet) if alphabet is not None else None
    return Hierarchy.from_merges(random_merges(k, rng), leaf_names=names)


def ete_clades(root) -> set[frozenset[str]]:
    return {frozenset(n.get_leaf_names()) for n in root.traverse() if not n.is_leaf()}


def newick_clades(root) -> set[frozenset[str]]:
    return {frozenset(leaf.unquoted_name for leaf in n.get_leaves()) for n in root.walk() if n.descendants}


@pytest.mark.parametrize("seed", range(8))
def test_to_ete3_and_back_is_exact(seed):
    tree = random_tree(seed, TRICKY + ["'"])
    ete = tree.to_ete3()
    assert sorted(ete.get_leaf_names()) == sorted(tree.leaf_names)
    assert ete_clades(ete) == tree.clades()
    back = from_ete3(ete)
    np.testing.assert_array_equal(back.linkage, tree.linkage)
    assert back.leaf_names == tree.leaf_names


def test_ete3_distances_are_height_differences():
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], heights=[0.5, 1.25, 3.0])
    ete = to_ete3(tree)
    assert ete.name == "n6" and ete.dist == 0.0
    assert {leaf.name: ete.get_distance(leaf) for leaf in ete.get_leaves()} == {str(i): 3.0 for i in range(4)}
    assert [c.name for c in ete.children] == ["n4", "n5"]


@pytest.mark.parametrize("seed", range(12))
def test_newick_reads_the_same_in_ete3_newick_and_l2h(seed):
    tree = random_tree(seed, TRICKY)
    text = tree.to_newick()
    ete = ete3.Tree(text, format=1, quoted_node_names=True)
    assert sorted(ete.get_leaf_names()) == sorted(tree.leaf_names)
    assert ete_clades(ete) == tree.clades()
    parsed = newick.loads(text)[0]
    assert sorted(leaf.unquoted_name for leaf in parsed.get_leaves()) == sorted(tree.leaf_names)
    assert newick_clades(parsed) == tree.clades()
    assert from_ete3(ete).same_topology(tree)
    assert Hierarchy.from_newick(text).same_topology(tree)


@pytest.mark.parametrize("seed", range(6))
def test_apostrophes_read_back_in_newick_package(seed):
    # Newick escapes a quote inside a quoted label by doubling it ('it''s'); the `newick` package and
    # l2h read that, ete3 3.1's parser does not (it only knows backslash escapes), so ete3 users
    # should convert with to_ete3() instead of going through Newick text.
    tree = random_tree(seed, TRICKY + ["'"])
    text = tree.to_newick()
    parsed = newick.loads(text)[0]
    assert newick_clades(parsed) == tree.clades()
    assert Hierarchy.from_newick(text).same_topology(tree)


def test_double_quotes_in_names_read_back_in_ete3():
    # Regression: names with `"` were written bare and ete3 took the quote as the start of a quoted name.
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=['say"hi', "b", 'c"', "d"])
    text = tree.to_newick()
    assert text == "(('say\"hi':1,b:1)n4:2,('c\"':2,d:2)n5:1)n6;"
    ete = ete3.Tree(text, format=1, quoted_node_names=True)
    assert sorted(ete.get_leaf_names()) == sorted(tree.leaf_names)
    assert ete_clades(ete) == tree.clades()
    assert newick_clades(newick.loads(text)[0]) == tree.clades()
    assert Hierarchy.from_newick(text, leaf_names=tree.leaf_names).leaf_names == tree.leaf_names


def three_parsers_agree(tree: Hierarchy) -> None:
    """ete3, the `newick` package and l2h (text and file) all read tree's Newick as the same tree."""
    text = tree.to_newick()
    names = sorted(tree.leaf_names)
    ete = ete3.Tree(text, format=1, quoted_node_names=True)
    assert sorted(ete.get_leaf_names()) == names
    assert ete_clades(ete) == tree.clades()
    assert sorted(n.name for n in ete.traverse() if not n.is_leaf()) == sorted(
        f"n{v}" for v in range(tree.n_leaves, tree.n_nodes)
    )
    parsed = newick.loads(text)[0]
    assert sorted(leaf.unquoted_name for leaf in parsed.get_leaves()) == names
    assert newick_clades(parsed) == tree.clades()
    back = Hierarchy.from_newick(text, leaf_names=tree.leaf_names)
    np.testing.assert_array_equal(back.merges, tree.merges)
    assert back.leaf_names == tree.leaf_names


@pytest.mark.parametrize(
    "name",
    [
        "two words",
        " lead",
        "trail ",
        "a:b",
        "a;b",
        "a,b",
        "(a)",
        "a(",
        ")",
        "[a]",
        "a[",
        "]",
        'a"b',
        '"',
        '""',
        "tab\there",
        "line\nbreak",
        "trailing newline\n",
        "\nlead",
        "crlf\r\n",
        "nbsp\u00a0x",
        "ü",
        "日本語",
        "😀",
        "n4",
        "0",
        "1e5",
        "-",
        "=",
        "a&b|c#d",
    ],
)
def test_names_with_newick_special_characters_read_the_same_everywhere(name, tmp_path):
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=[name, "b", "c d", "e"])
    three_parsers_agree(tree)
    from l2h import read_tree, write_tree

    write_tree(tree, tmp_path / "t.nwk")
    back = read_tree(tmp_path / "t.nwk", leaf_names=tree.leaf_names)
    np.testing.assert_array_equal(back.linkage, tree.linkage)


def test_trailing_newline_is_quoted():
    # Regression: the bare-name check used `$`, which also matches before a final newline, so
    # "a\n" was written bare and every parser read "a".
    tree = Hierarchy.from_merges([[0, 1]], leaf_names=["a\n", "b"])
    assert tree.to_newick() == "('a\n':1,b:1)n2;"
    assert Hierarchy.from_newick(tree.to_newick(), leaf_names=["a\n", "b"]).leaf_names == ("a\n", "b")


@pytest.mark.parametrize("seed", range(20))
def test_random_tricky_names_read_the_same_everywhere(seed):
    three_parsers_agree(random_tree(100 + seed, TRICKY))


def test_empty_names_are_rejected_before_any_newick_is_written():
    with pytest.raises(ValueError, match="name 0 is empty"):
        Hierarchy.from_merges([[0, 1]], leaf_names=["", "b"])
    with pytest.raises(ValueError, match="name 1 is empty"):
        Hierarchy.from_merges([[0, 1]], leaf_names=["a", " "])


def test_backslashes_round_trip_in_l2h_and_bare_ones_everywhere():
    # A bare backslash is read as itself by all three parsers. Inside quotes (a name that also needs
    # quoting), the `newick` package reads a backslash as an escape and ete3 3.1 one before a quote,
    # so only l2h reads those back; docs/views.md says so.
    bare = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["a\\b", "b\\", "c", "d"])
    assert "a\\b:" in bare.to_newick()
    three_parsers_agree(bare)
    quoted = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["a \\", "b", "\\ c", "d"])
    assert quoted.to_newick().startswith("(('a \\':1,b:1)n4:2,('\\ c':2")
    back = Hierarchy.from_newick(quoted.to_newick(), leaf_names=quoted.leaf_names)
    np.testing.assert_array_equal(back.linkage, quoted.linkage)


def test_double_quotes_in_names_read_back_in_newick_package():
    tree = random_tree(5, TRICKY + ['"'])
    assert newick_clades(newick.loads(tree.to_newick())[0]) == tree.clades()


def test_from_ete3_of_foreign_trees():
    plain = ete3.Tree("((b:1,a:1):2,(c:0.5,(d:0.25,e:0.25):0.25):2.5);")
    tree = from_ete3(plain)
    assert tree.leaf_names == ("b", "a", "c", "d", "e")  # left to right
    assert tree.clades() == {frozenset("ba"), frozenset("de"), frozenset("cde"), frozenset("bacde")}
    np.testing.assert_allclose(tree.heights, [0.25, 0.5, 1.0, 3.0])
    numbered = from_ete3(ete3.Tree("((3,0),(1,2));"))
    assert numbered.leaf_names == ("0", "1", "2", "3")
    assert numbered.clades() == {frozenset("03"), frozenset("12"), frozenset("0123")}
    with pytest.raises(ValueError, match="not binary: node '\\(unnamed\\)' has 3 children"):
        from_ete3(ete3.Tree("(a,b,c);"))
    with pytest.raises(ValueError, match="at least 2 leaves"):
        from_ete3(ete3.Tree("a;"))


def test_missing_ete3_gives_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "ete3", None)
    with pytest.raises(ImportError, match=r'^ete3 interop needs ete3; install it with: pip install "l2h\[ete\]"$'):
        Hierarchy.from_merges([[0, 1]]).to_ete3()


def test_ete_extra_declares_what_ete3_needs_to_import():
    # ete3 3.1 imports `six` and, from Python 3.13 on, the removed `cgi` module (legacy-cgi).
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    ete = [req.replace(" ", "") for req in project["optional-dependencies"]["ete"]]
    assert any(req.startswith("ete3") for req in ete)
    assert any(req.startswith("six") for req in ete)
    assert any(req.startswith("legacy-cgi") and "python_version>='3.13'" in req for req in ete)


@pytest.mark.parametrize("names", [["00", "1", "2"], ["-0", "1", "2"], ["\u0660", "1", "2"], ["0", "01", "2"]])
def test_number_like_names_survive_the_newick_round_trip(names):
    # Regression: any names that parsed as the integers 0..K-1 were taken as cluster ids and
    # renamed "0".."K-1", so "00" came back as "0"; only canonical ids are ids now.
    tree = Hierarchy.from_merges([[0, 1], [2, 3]], leaf_names=names)
    back = Hierarchy.from_newick(tree.to_newick())
    assert sorted(back.leaf_names) == sorted(names)
    assert back.same_topology(tree)
    three_parsers_agree(tree)
