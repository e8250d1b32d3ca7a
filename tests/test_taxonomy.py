"""Reference taxonomies: Newick of any arity, edge lists, groups files; contraction; bad files."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from l2h import InputError, L2HWarning, read_taxonomy
from l2h.hierarchy import Hierarchy
from l2h.taxonomy import Taxonomy, parse_newick_taxonomy
from tests._trees import random_merges


def clusters(tax: Taxonomy) -> set[frozenset[str]]:
    """Leaf-name sets of the internal nodes, from the parent array by walking up (independent of layout)."""
    out: dict[int, set[str]] = {}
    for leaf in range(tax.n_leaves):
        v = int(tax.parent[leaf])
        while v >= 0:
            out.setdefault(v, set()).add(tax.names[leaf])
            v = int(tax.parent[v])
    return {frozenset(s) for s in out.values()}


def random_nary_newick(rng: np.random.Generator, n_leaves: int) -> str:
    """A random tree of any arity, with unary nodes and internal names sprinkled in."""
    nodes = [f"c{i}" for i in range(n_leaves)]
    count = 0
    while len(nodes) > 1:
        m = int(rng.integers(2, min(5, len(nodes)) + 1))
        pick = sorted(rng.choice(len(nodes), size=m, replace=False).tolist(), reverse=True)
        group = [nodes.pop(i) for i in pick]
        text = "(" + ",".join(group) + f")g{count}"
        count += 1
        if rng.random() < 0.3:
            text = f"({text})u{count}"  # a unary node
        nodes.append(text)
    return nodes[0] + ";"


def ete_clusters(text: str) -> set[frozenset[str]]:
    ete3 = pytest.importorskip("ete3")
    tree = ete3.Tree(text, format=1)
    return {frozenset(leaf.name for leaf in node.get_leaves()) for node in tree.traverse() if not node.is_leaf()}


@pytest.mark.parametrize("seed", range(6))
def test_newick_any_arity_matches_ete3(seed: int) -> None:
    rng = np.random.default_rng(seed)
    text = random_nary_newick(rng, int(rng.integers(3, 40)))
    tax = parse_newick_taxonomy(text)
    assert clusters(tax) == ete_clusters(text)
    counts = np.bincount(tax.parent[tax.parent >= 0], minlength=tax.n_nodes)
    assert np.all(counts[tax.n_leaves :] >= 2)  # unary chains contracted
    assert np.all(counts[: tax.n_leaves] == 0)
    assert tax.n_nodes == tax.n_leaves + len(clusters(tax))
    # the writer round-trips
    assert clusters(parse_newick_taxonomy(tax.to_newick())) == clusters(tax)
    # the layout ranges are the clusters
    order, start, end = tax.layout
    names = np.array(tax.leaf_names)
    from_layout = {frozenset(names[order[start[v] : end[v]]]) for v in range(tax.n_leaves, tax.n_nodes)}
    assert from_layout == clusters(tax)


def test_newick_details() -> None:
    tax = parse_newick_taxonomy("(('a b':1.5,[note]b, c)x:2,('it''s',(e))y) root ;")
    assert tax.leaf_names == ("a b", "b", "c", "it's", "e")
    assert clusters(tax) == {frozenset(tax.leaf_names), frozenset({"a b", "b", "c"}), frozenset({"it's", "e"})}
    assert tax.names[tax.root] == "root"
    assert [int(d) for d in tax.depth[: tax.n_leaves]] == [2, 2, 2, 2, 2]


def test_unary_root_and_chains_are_contracted() -> None:
    tax = parse_newick_taxonomy("((((a,b)ab)x)y)z;")
    assert tax.n_nodes == 3 and tax.names[tax.root] == "ab"
    assert tax.info["contracted"] == 3


def test_deep_tree_without_recursion() -> None:
    depth = 100_000
    text = "(" * depth + "l0" + "".join(f",l{i + 1})" for i in range(depth)) + ";"
    tax = parse_newick_taxonomy(text)
    assert tax.n_leaves == depth + 1
    assert int(tax.depth.max()) == depth
    order, start, end = tax.layout
    assert end[tax.root] - start[tax.root] == depth + 1
    assert len(tax.to_newick()) > depth
    sub = tax.restrict(["l0", "l1", f"l{depth}"])
    assert clusters(sub) == {frozenset({"l0", "l1", f"l{depth}"}), frozenset({"l0", "l1"})}


def test_from_hierarchy_keeps_clades() -> None:
    rng = np.random.default_rng(3)
    tree = Hierarchy.from_merges(random_merges(12, rng))
    tax = Taxonomy.from_hierarchy(tree)
    assert tax.leaf_names == tree.leaf_names
    assert clusters(tax) == {frozenset(c) for c in tree.clades()}
    assert np.array_equal(tax.depth[: tax.n_leaves], tree.depth[: tree.n_leaves])


def test_levels() -> None:
    tax = parse_newick_taxonomy("(((a,b),c),(d,e),f);")
    levels = tax.levels()
    # depth 1: {a,b,c}, {d,e}, {f}; depth 2: {a,b}, c, d, e, f
    assert sorted(levels) == [1, 2]
    assert levels[1].tolist() == [0, 0, 0, 1, 1, 2]
    assert levels[2].tolist() == [0, 0, 1, 2, 3, 4]


def test_restrict_drops_and_contracts() -> None:
    tax = parse_newick_taxonomy("((a,b),(c,d),e);")
    sub = tax.restrict(["d", "a", "b"])
    assert sub.leaf_names == ("d", "a", "b")
    assert clusters(sub) == {frozenset("dab"), frozenset("ab")}
    with pytest.raises(InputError, match="no leaf 'z'"):
        tax.restrict(["a", "z"])


# ---------------------------------------------------------------------------------------------- files
def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_edge_list_with_leaves_and_dag_warning(tmp_path) -> None:
    # a WordNet-like DAG: 'dog' has two parents (canine first), 'cat' sits below the leaf list's depth
    text = (
        "entity animal\nentity plant\nanimal canine\nanimal feline\ncanine dog\ncanine wolf\n"
        "feline cat\nfeline lion\npet dog\nanimal pet\ncat tabby\nplant tree\n"
    )
    path = write(tmp_path, "is_a.txt", text)
    with pytest.warns(L2HWarning, match="1 node had several parents"):
        tax = read_taxonomy(path, leaves=["wolf", "dog", "cat", "lion"])
    assert tax.leaf_names == ("wolf", "dog", "cat", "lion")
    assert clusters(tax) == {
        frozenset({"wolf", "dog", "cat", "lion"}),
        frozenset({"wolf", "dog"}),
        frozenset({"cat", "lion"}),
    }
    assert tax.names[tax.root] == "animal"  # 'entity' held only 'animal' above the leaves: contracted
    # without a leaves list the leaves are the nodes that are never parents
    with pytest.warns(L2HWarning):
        full = read_taxonomy(path, fmt="edges")
    assert set(full.leaf_names) == {"dog", "wolf", "lion", "tabby", "tree"}


def test_edge_list_is_detected_without_leaves(tmp_path) -> None:
    path = write(tmp_path, "tax.txt", "# comment\nroot a\nroot b\na x\na y\nb z\nb w\n")
    tax = read_taxonomy(path)
    assert tax.info["format"] == "edges"
    assert clusters(tax) == {frozenset("xyzw"), frozenset("xy"), frozenset("zw")}


def test_groups_files(tmp_path) -> None:
    two = write(tmp_path, "g.tsv", "# classes\ncat\tmammal\ndog\tmammal\ntrout\tfish\neagle\tbird\n")
    tax = read_taxonomy(two)
    assert tax.leaf_names == ("cat", "dog", "trout", "eagle")
    assert clusters(tax) == {frozenset({"cat", "dog", "trout", "eagle"}), frozenset({"cat", "dog"})}
    one = write(tmp_path, "g.txt", "odd\neven\nodd\neven\n")
    tax = read_taxonomy(one)
    assert tax.leaf_names == ("0", "1", "2", "3")
    assert clusters(tax) == {frozenset("0123"), frozenset("02"), frozenset("13")}
    named = read_taxonomy(one, class_names=["zero", "one", "two", "three"])
    assert named.leaf_names == ("zero", "one", "two", "three")
    ids = write(tmp_path, "ids.tsv", "0\ta\n1\ta\n2\tb\n3\tb\n")
    assert read_taxonomy(ids, class_names=["w", "x", "y", "z"]).leaf_names == ("w", "x", "y", "z")


@pytest.mark.parametrize(
    ("name", "text", "kwargs", "message"),
    [
        ("cycle.txt", "a b\nb c\nc a\nc x\nc y\n", {"leaves": ["x", "y"]}, "has a cycle through"),
        ("self.txt", "a a\na b\n", {"fmt": "edges"}, "its own parent"),
        ("unknown.txt", "r a\nr b\n", {"leaves": ["a", "q"]}, "no node named 'q'"),
        ("empty.txt", "# nothing\n\n", {}, "is empty"),
        ("empty.nwk", "", {}, "is empty"),
        ("roots.txt", "r a\nr b\ns c\ns d\n", {"leaves": ["a", "c"]}, "has 2 roots"),
        ("nested.txt", "r a\nr b\na c\n", {"leaves": ["a", "c", "b"]}, "is an ancestor of the leaf"),
        ("unnamed.nwk", "(a,,b);", {}, "unnamed leaf"),
        ("twice.nwk", "(a,(a,b));", {}, "more than once"),
        ("open.nwk", "((a,b);", {}, "missing ')'"),
        ("close.nwk", "(a,b));", {}, "unbalanced ')'"),
        ("nosemi.nwk", "(a,b)", {}, "missing the final ';'"),
        ("single.nwk", "(a);", {}, "single leaf"),
        ("mixed.tsv", "a\tx\nb\n", {}, "like the other lines"),
        ("dup.tsv", "a\tx\na\ty\n", {}, "listed twice"),
        ("badcol.txt", "a b c\n", {"fmt": "edges"}, "expected 'parent child'"),
        ("unknownclass.tsv", "a\tx\nq\tx\n", {"class_names": ["a", "b"]}, "unknown class 'q'"),
    ],
)
def test_bad_files(tmp_path, name: str, text: str, kwargs: dict, message: str) -> None:
    path = write(tmp_path, name, text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", L2HWarning)
        with pytest.raises(InputError, match=re.escape(message)) as info:
            read_taxonomy(path, **kwargs)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_taxonomy(tmp_path / "nope.nwk")


def test_shipped_example_taxonomies() -> None:
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "examples"
    cifar = read_taxonomy(examples / "cifar100_superclasses.tsv")
    assert cifar.n_leaves == 100 and cifar.leaf_names[:2] == ("apple", "aquarium_fish")
    sizes = np.bincount(cifar.parent[: cifar.n_leaves] - cifar.n_leaves - 1)  # root, then the 20 groups
    assert sizes.tolist() == [5] * 20
    digits = read_taxonomy(examples / "digits_taxonomy.nwk")
    assert sorted(digits.leaf_names) == [str(d) for d in range(10)]
