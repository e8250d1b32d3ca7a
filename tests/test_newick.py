"""The one Newick tokenizer, parser and writer (l2h.newick) that trees and taxonomies share."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from l2h import newick
from l2h._validation import InputError
from l2h.hierarchy import Hierarchy
from l2h.taxonomy import parse_newick_taxonomy, read_taxonomy
from l2h.treeio import parse_newick
from tests._trees import random_merges


def recursive_newick(children: list[list[int]], labels: list[str], node: int = 0) -> str:
    """An obvious recursive writer, for small trees."""
    if not children[node]:
        return labels[node]
    return "(" + ",".join(recursive_newick(children, labels, c) for c in children[node]) + ")" + labels[node]


def random_nary(rng: np.random.Generator, n_leaves: int) -> tuple[list[list[int]], list[str]]:
    """Children lists (node 0 the root, pre-order) and names of a random tree of any arity."""
    groups: list[object] = [f"l{i}" for i in range(n_leaves)]
    while len(groups) > 1:
        take = int(rng.integers(1, min(4, len(groups)) + 1))
        picked = [groups.pop(int(rng.integers(len(groups)))) for _ in range(take)]
        groups.append(picked)
    children: list[list[int]] = []
    names: list[str] = []

    def add(item: object) -> int:  # pre-order numbering, iterative enough for these sizes
        v = len(children)
        children.append([])
        names.append(item if isinstance(item, str) else f"n{v}")
        if not isinstance(item, str):
            for sub in item:  # type: ignore[attr-defined]
                children[v].append(add(sub))
        return v

    add(groups[0])
    return children, names


@pytest.mark.parametrize("seed", range(8))
def test_writer_matches_a_recursive_writer_and_parser_reads_it_back(seed: int) -> None:
    rng = np.random.default_rng(seed)
    children, names = random_nary(rng, int(rng.integers(1, 30)))
    labels = [newick.quote(name) + (f":{v / 4}" if v else "") for v, name in enumerate(names)]
    text = newick.format_nodes(0, children, labels)
    assert text == recursive_newick(children, labels) + ";"
    back = newick.parse(text)
    assert back.children == children
    assert back.names == names
    assert back.lengths[1:] == [v / 4 for v in range(1, len(names))]
    assert back.parents == [-1] + [p for v in range(1, len(names)) for p, kids in enumerate(children) if v in kids]


def test_tokens_comments_quotes_and_offsets() -> None:
    text = '\ufeff (\'a b\',"c""d")[x]e:1e-3;'
    tokens, starts = newick.tokenize(text)
    assert tokens == ["(", "wa b", ",", 'wc"d', ")", "we", ":", "w1e-3", ";"]
    assert [text[i] for i in starts] == ["(", "'", ",", '"', ")", "e", ":", "1", ";"]
    # a quote after a label's first character belongs to the label, as other tools write it
    assert newick.parse("(d'e,f);").names == ["", "d'e", "f"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Newick is empty"),
        (" \n\ufeff", "Newick is empty"),
        ("((a,b)[x,c);", "Newick has an unclosed comment '[' at character 6"),
        ("((a,b),c)];", "Newick has a stray ']' at character 9 (no comment is open)"),
        ("((a,b)],c);", "Newick has a stray ']' at character 6 (no comment is open)"),
        ("(a]b,c);", "Newick has a stray ']' at character 2 (no comment is open)"),
        ("((a,b),'c);", "Newick has an unclosed quoted label at character 7"),
        ("((a,b),c", "Newick ended inside a clade (missing ')')"),
        ("((a,b);", "Newick has its final ';' inside a clade at character 6 (missing ')')"),
        ("((a,b),c)", "Newick does not parse: missing the final ';'"),
        ("((a,b),c));", "Newick has an unbalanced ')' at character 9"),
        ("((a,b),c)(d);", "Newick has an unexpected '(' at character 9"),
        ("(a b,c);", "Newick has an unexpected 'b' at character 3"),
        ("(a:x,b);", "Newick has a bad branch length 'x' at character 3"),
        ("(a:,b);", "Newick has a bad branch length '' at character 3"),
        ("(a:1:2,b);", "Newick has an unexpected ':' at character 4"),
        ("((a,b),c); (d,e);", "Newick has text after the final ';' at character 11"),
    ],
)
def test_bad_text_gives_one_line_naming_the_place(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        newick.parse(text)
    assert str(info.value) == message
    # the tree reader and the taxonomy reader say the same
    with pytest.raises(InputError, match=re.escape(message)):
        parse_newick(text)
    with pytest.raises(InputError, match=re.escape(message.replace("Newick", "ref.nwk", 1))):
        parse_newick_taxonomy(text, source="ref.nwk")


def test_issue_23_defect_11_unclosed_comment_in_a_taxonomy_file(tmp_path: Path) -> None:
    # before: the '[' was dropped and "x,c" read on, so 'x' became a node's name
    path = tmp_path / "ref.nwk"
    path.write_text("((a,b)[x,c);\n")
    with pytest.raises(InputError) as info:
        read_taxonomy(path)
    assert str(info.value) == f"taxonomy file {path} has an unclosed comment '[' at character 6"


def test_issue_23_defect_11_stray_bracket_in_a_taxonomy_file(tmp_path: Path) -> None:
    # before: reported as an "unclosed comment '['"
    path = tmp_path / "ref.nwk"
    path.write_text("((a,b)],c);\n")
    with pytest.raises(InputError) as info:
        read_taxonomy(path)
    assert str(info.value) == f"taxonomy file {path} has a stray ']' at character 6 (no comment is open)"


def test_issue_23_defect_11_through_the_console_script(tmp_path: Path) -> None:
    tree = tmp_path / "tree.nwk"
    tree.write_text("((a,b),c);\n")
    ref = tmp_path / "ref.nwk"
    ref.write_text("((a,b)[x,c);\n")
    script = Path(sys.executable).with_name("l2h")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from l2h_cli.main import main; main()"]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [*command, "compare", str(tree), "--reference", str(ref)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unclosed comment '[' at character 6" in lines[0], done.stderr


def test_trees_and_taxonomies_read_the_same_topology() -> None:
    rng = np.random.default_rng(5)
    for _ in range(5):
        tree = Hierarchy.from_merges(random_merges(int(rng.integers(2, 40)), rng))
        text = tree.to_newick(branch_lengths=bool(rng.integers(2)), internal_labels=bool(rng.integers(2)))
        back = Hierarchy.from_newick(text)
        tax = parse_newick_taxonomy(text)
        assert sorted(tax.leaf_names) == sorted(back.leaf_names)
        assert {frozenset(c) for c in back.clades()} == {
            frozenset(np.array(tax.leaf_names)[tax.layout[0][tax.layout[1][v] : tax.layout[2][v]]])
            for v in range(tax.n_leaves, tax.n_nodes)
        }


def test_deep_tree_parses_and_writes_without_recursion() -> None:
    depth = 100_000
    text = "(" * depth + "l0" + "".join(f",l{i + 1})" for i in range(depth)) + ";"
    tree = newick.parse(text)
    assert len(tree.names) == 2 * depth + 1 and len(tree.leaves) == depth + 1
    assert newick.format_nodes(0, tree.children, tree.names) == text
