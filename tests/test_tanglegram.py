"""The tanglegram (``l2h compare --report``): layout, clade matching against an independent count,
escaping, the CLI's leaf mapping, and the page in headless Chromium (no script, no request)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from l2h import Hierarchy, write_tree
from l2h.report.tanglegram import build_tanglegram, tanglegram_layout
from l2h.taxonomy import Taxonomy, parse_newick_taxonomy
from tests._browser import chromium, requested_urls
from tests._cli import error_line, run
from tests._trees import random_merges

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _clades(tax: Taxonomy) -> list[frozenset[str]]:
    order, start, end = tax.layout
    names = tax.leaf_names
    return [
        frozenset(names[i] for i in order[start[v] : end[v]].tolist())
        for v in range(tax.n_leaves, tax.n_nodes)
        if v != tax.root
    ]


@pytest.mark.parametrize("seed", range(4))
def test_missed_clades_are_the_robinson_foulds_differences(seed):
    rng = np.random.default_rng(seed)
    k = 30
    names = [f"c{i}" for i in range(k)]
    tree = Hierarchy.from_merges(random_merges(k, rng), leaf_names=names)
    other = Hierarchy.from_merges(random_merges(k, rng), leaf_names=list(rng.permutation(names)))
    ref = Taxonomy.from_hierarchy(other)
    left, right = tanglegram_layout(tree, ref)
    learned_clades = _clades(left.tax)
    ref_clades = _clades(right.tax)
    # independent: the clades as name sets, compared as sets
    expected_left = sum(c not in set(ref_clades) for c in learned_clades)
    expected_right = sum(c not in set(learned_clades) for c in ref_clades)
    assert int(left.miss.sum()) == expected_left and int(right.miss.sum()) == expected_right
    import l2h.compare as cmp

    scores = cmp.compare(tree, ref)
    assert expected_left / len(learned_clades) == pytest.approx(scores["rf_learned_only"])
    # every leaf once per side, rows 0..k-1; rotations only: each side keeps its clades
    assert sorted(left.y[:k].tolist()) == sorted(right.y[:k].tolist()) == list(range(k))
    assert set(learned_clades) == set(_clades(Taxonomy.from_hierarchy(tree)))


def test_same_tree_has_no_red_and_no_crossing():
    names = ["cat", "dog", "wolf", "trout", "carp", "apple", "pear"]
    rng = np.random.default_rng(3)
    tree = Hierarchy.from_merges(random_merges(7, rng), leaf_names=names)
    ref = Taxonomy.from_hierarchy(tree.with_leaf_names(names))
    left, right = tanglegram_layout(tree, ref)
    assert not left.miss.any() and not right.miss.any()
    np.testing.assert_array_equal(left.y[:7], right.y[:7])  # uncrossed: every line is horizontal
    page = build_tanglegram(tree, ref)
    assert page.count('class="link"') == 7 and 'class="clade miss"' not in page


def test_names_are_text_and_the_page_has_no_script():
    evil = ["<script>alert(1)</script>", '"><img src=x onerror=alert(2)>', "a&b", "ok"]
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=evil)
    ref = parse_newick_taxonomy("(('<script>alert(1)</script>','\"><img src=x onerror=alert(2)>')x,('a&b',ok)y);")
    page = build_tanglegram(tree, ref, title="</title><script>alert(3)</script>")
    assert "<script" not in page and "<img" not in page and "onerror=alert(2)>" not in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1)
    assert csp.startswith("default-src 'none'; ") and "script-src" not in csp


def test_leaves_missing_from_the_reference_are_one_clear_error():
    from l2h.io import InputError

    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "car", "bus"])
    with pytest.raises(InputError, match="2 of the tree's 4 leaves are not in the reference"):
        build_tanglegram(tree, parse_newick_taxonomy("((cat,dog),(trout,carp));"))


def test_cli_report_uses_compares_mapping_and_shows_in_chromium(tmp_path):
    from l2h import build_hierarchy

    tree = build_hierarchy(np.load(EXAMPLES / "digits_logits.npy"))
    write_tree(tree, tmp_path / "tree.json")
    out = tmp_path / "tangle.html"
    args = [
        "compare", tmp_path / "tree.json", "--reference", EXAMPLES / "digits_taxonomy.nwk",
        "--logits", EXAMPLES / "digits_logits.npy", "--labels", EXAMPLES / "digits_labels.npy",
    ]  # fmt: skip
    result = run(*args, "--report", out, "--json", "-q")
    assert result.exit_code == 0, result.output
    page = out.read_text()
    # the leaves are the tree's 20 clusters, under their majority digit in the reference: compare's mapping
    import l2h.compare as cmp
    from l2h.taxonomy import read_taxonomy

    leaf = tree.assign(np.load(EXAMPLES / "digits_logits.npy"))
    labels = np.load(EXAMPLES / "digits_labels.npy")
    majority = cmp.majority_classes(leaf, labels, 20, 10)
    expanded, kept = cmp.reference_for_leaves(
        read_taxonomy(EXAMPLES / "digits_taxonomy.nwk"), [str(c) for c in majority], list(tree.leaf_names)
    )
    left, right = tanglegram_layout(cmp.restrict_hierarchy(tree, kept), expanded)
    assert page.count('class="link"') == len(kept) == 20
    assert page.count('class="clade miss"') == int(left.miss.sum() + right.miss.sum())
    with chromium() as driver:
        driver.get("about:blank")
        driver.get_log("performance")
        driver.get(out.resolve().as_uri())
        assert driver.execute_script("return document.querySelectorAll('svg line.link').length") == 20
        assert driver.execute_script("return document.scripts.length") == 0
        assert not [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        urls = requested_urls(driver)
        assert all(u.startswith(("file:", "data:")) for u in urls), urls
    # the library function with the points maps the leaves the same way: the same drawing
    same = build_tanglegram(tree, read_taxonomy(EXAMPLES / "digits_taxonomy.nwk"), assignments=leaf, labels=labels)
    svg = re.compile(r"<svg.*</svg>", flags=re.S)
    drop_titles = re.compile(r'<text class="side"[^<]*</text>')
    assert drop_titles.sub("", svg.search(same).group(0)) == drop_titles.sub("", svg.search(page).group(0))
    with pytest.raises(ValueError, match="assignments and labels go together"):
        build_tanglegram(tree, read_taxonomy(EXAMPLES / "digits_taxonomy.nwk"), assignments=leaf)
    # a bad --report path fails before any work, one line, nothing written
    bad = run(*args, "--report", tmp_path / "missing" / "t.html")
    assert bad.exit_code == 1 and "--report" in error_line(bad)
    assert not (tmp_path / "missing").exists()
