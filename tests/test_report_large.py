"""The report at K = 1 000 and K = 21 841 in headless Chromium: readable at open, search zooms to the
hit, k in a number box, group composition, merge order / score / relatedness, the downloads of a
node, and the minimap."""

from __future__ import annotations

import csv
import io
import time

import numpy as np
import pytest

from l2h import Hierarchy
from l2h.annotate import leaf_stats
from l2h.report import build_report
from tests._browser import chromium, open_report
from tests._trees import random_merges


def random_tree(k: int, rng: np.random.Generator) -> Hierarchy:
    """A uniformly random binary tree over k leaves, with random scores and relatedness."""
    return Hierarchy.from_merges(
        random_merges(k, rng),
        scores=rng.random(k - 1),
        relatedness=rng.random(k - 1),
        leaf_names=[f"leaf {i}" for i in range(k)],
    )


def _case(k: int, n: int, folder, seed: int = 0):
    rng = np.random.default_rng(seed)
    tree = random_tree(k, rng)
    c = min(k, 1000)
    leaf = rng.integers(0, k, size=n)
    labels = (leaf * c // k + (rng.random(n) < 0.2) * rng.integers(0, c, size=n)) % c
    groups = [f"group {i * 20 // c}" for i in range(c)]
    stats = leaf_stats(tree, leaf, labels, class_names=[f"class {i}" for i in range(c)], class_groups=groups)
    path = folder / f"r{k}.html"
    path.write_text(build_report(tree, stats, assignments=leaf), encoding="utf-8")
    return tree, leaf, labels, path


def _readable_and_filling(driver) -> None:
    sizes = driver.execute_script(
        "var s = window.l2hReport.view.s; return [...document.querySelectorAll('#zoom text.label')]"
        ".map(t => parseFloat(getComputedStyle(t).fontSize) * s)"
    )
    assert sizes and min(sizes) >= 11, min(sizes)
    heights = driver.execute_script(
        "return [...document.querySelectorAll('#zoom text.label')].map(t => t.getBoundingClientRect().height)"
    )
    assert min(heights) >= 11
    box, pane = driver.execute_script(
        "var b = document.getElementById('zoom').getBoundingClientRect(), p = document.getElementById('tree')"
        ".getBoundingClientRect(); return [[b.left, b.top, b.width, b.height], [p.left, p.top, p.width, p.height]]"
    )
    assert box[2] >= 0.8 * pane[2] and box[3] >= 0.7 * pane[3], (box, pane)  # the tree fills its pane
    assert box[0] >= pane[0] - 1 and box[0] + box[2] <= pane[0] + pane[2] + 1  # and nothing sticks out sideways


def _in_view(driver, node: int) -> bool:
    return driver.execute_script(
        "var g = document.querySelector('#zoom g.node[data-node=\"' + arguments[0] + '\"]');"
        "if (!g) return false; var r = g.getBoundingClientRect(), p = document.getElementById('tree')"
        ".getBoundingClientRect();"
        "return r.left >= p.left && r.right <= p.right && r.top >= p.top && r.bottom <= p.bottom;",
        node,
    )


def _errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def test_report_at_k1000(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    tree, leaf, labels, path = _case(1000, 20_000, tmp_path)
    with chromium() as driver:
        open_report(driver, path)
        _readable_and_filling(driver)
        assert driver.find_element(By.ID, "minimap").is_displayed()
        assert driver.find_element(By.ID, "miniFrame").is_displayed()

        # search zooms to the hit
        search = driver.find_element(By.ID, "search")
        search.send_keys("leaf 777", Keys.ENTER)
        assert driver.execute_script("return document.querySelector('#zoom g.node.match').dataset.node") == "777"
        assert _in_view(driver, 777)
        search.clear()

        # k: the number box and the slider agree; the cut shows k groups
        box = driver.find_element(By.ID, "k")
        box.send_keys("250", Keys.ENTER)
        assert driver.find_element(By.ID, "kRange").get_attribute("value") == "250"
        assert driver.find_element(By.ID, "kText").text == "k = 250 groups"
        assert len(driver.find_elements(By.CSS_SELECTOR, "#zoom circle.cut")) == 250

        # a node: merge order, score, relatedness, class and group composition, downloads
        v = int(tree.cut_nodes(250)[3])
        driver.execute_script("window.l2hReport.select(arguments[0])", v)
        panel = driver.find_element(By.ID, "panel").text
        t = v - 1000
        assert f"merge order {t + 1:,} of 999" in panel
        assert f"score s(G*) {tree.scores[t]:.4g}" in panel and f"relatedness {tree.relatedness[t]:.4g}" in panel
        assert "majority class:" in panel and "group composition:" in panel
        under = set(tree.leaves_under(v).tolist())
        group_counts = {}
        for p in np.flatnonzero(np.isin(leaf, list(under))):
            g = f"group {labels[p] * 20 // 1000}"
            group_counts[g] = group_counts.get(g, 0) + 1
        top = max(sorted(group_counts), key=group_counts.get)
        assert f"group composition: {top}" in panel

        points = driver.execute_script("return window.l2hReport.exportText('points', arguments[0])", v)
        expected = np.flatnonzero(np.isin(leaf, list(under)))
        assert points.split() == [str(p) for p in expected]
        rows = list(
            csv.DictReader(
                io.StringIO(driver.execute_script("return window.l2hReport.exportText('csv', arguments[0])", v))
            )
        )
        groups = tree.cut(250)
        assert [int(r["point"]) for r in rows] == expected.tolist()
        assert all(int(r["leaf"]) == leaf[int(r["point"])] for r in rows)
        assert all(int(r["group"]) == groups[int(r["leaf"])] and r["k"] == "250" for r in rows)
        assert {r["group_node"] for r in rows} == {f"n{v}"}
        newick = driver.execute_script("return window.l2hReport.exportText('newick', arguments[0])", v)
        sub = Hierarchy.from_newick(newick)
        names = tree.leaf_names
        assert sub.clades() == {
            frozenset(names[i] for i in tree.leaves_under(u))
            for u in range(1000, 1999)
            if set(tree.leaves_under(u)) <= under
        }
        for button in ("dlPoints", "dlCsv", "dlNewick"):
            driver.find_element(By.ID, button).click()

        # the minimap: a click opens the path to a leaf and zooms there
        driver.execute_script("window.l2hReport.setK(0)")
        mini = driver.find_element(By.ID, "minimap")
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(driver).move_to_element_with_offset(mini, 0, mini.size["height"] // 4).click().perform()
        chosen = int(driver.execute_script("return document.querySelector('#zoom g.node.selected').dataset.node"))
        assert chosen < 1000 and _in_view(driver, chosen)
        assert not _errors(driver)


def test_report_at_k21841_opens_readable(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    tree, _, _, path = _case(21841, 50_000, tmp_path, seed=1)
    with chromium() as driver:
        took = open_report(driver, path)
        assert took < 20, took
        _readable_and_filling(driver)
        driver.find_element(By.ID, "search").send_keys("leaf 12345", Keys.ENTER)
        assert _in_view(driver, 12345)
        start = time.perf_counter()
        driver.find_element(By.ID, "k").send_keys("2000", Keys.ENTER)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#zoom circle.cut")) == 2000
        assert time.perf_counter() - start < 20
        assert driver.find_element(By.ID, "minimap").is_displayed()
        assert not _errors(driver)


@pytest.mark.parametrize("k", [30])
def test_small_tree_has_no_minimap_and_leaf_csv_without_points(tmp_path, k):
    tree = random_tree(k, np.random.default_rng(3))
    path = tmp_path / "small.html"
    path.write_text(build_report(tree))
    with chromium() as driver:
        open_report(driver, path)
        assert not driver.execute_script("return document.getElementById('minimap').offsetWidth")
        text = driver.execute_script("window.l2hReport.setK(4); return window.l2hReport.exportText('csv')")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [int(r["leaf"]) for r in rows] == tree.leaves_under(tree.root).tolist()
        assert all(int(r["group"]) == tree.cut(4)[int(r["leaf"])] for r in rows)
        assert not driver.find_elements("id", "dlPoints")
        assert not _errors(driver)


def test_group_composition_scores_and_points_in_the_data():
    import base64

    from l2h.report import report_data

    rng = np.random.default_rng(5)
    tree = random_tree(40, rng)
    leaf = rng.integers(0, 40, size=3_000)
    labels = rng.integers(0, 12, size=3_000)
    groups = [None if c == 11 else f"g{c % 4}" for c in range(12)]
    stats = leaf_stats(tree, leaf, labels, class_groups=groups)
    data = report_data(tree, stats, assignments=leaf)
    assert data["score"] == tree.scores.tolist() and data["rel"] == tree.relatedness.tolist()
    assert data["heights"] == tree.heights.tolist()
    points = np.frombuffer(base64.b64decode(data["points"]), dtype="<i4")
    np.testing.assert_array_equal(points, np.argsort(leaf, kind="stable"))
    T = data["gcompTop"]  # noqa: N806
    for v in range(tree.n_nodes):  # independent count of every node's groups
        mask = np.isin(leaf, tree.leaves_under(v))
        counts: dict[int, int] = {}
        for c in labels[mask].tolist():
            g = -1 if groups[c] is None else data["groups"].index(groups[c])
            counts[g] = counts.get(g, 0) + 1
        last = len(data["groups"])  # "no group" sorts after every group on ties
        expected = sorted(counts.items(), key=lambda item: (-item[1], item[0] if item[0] >= 0 else last))
        block = slice(v * T, (v + 1) * T)
        got = [(g, n) for g, n in zip(data["gcompC"][block], data["gcompN"][block], strict=True) if n]
        assert got == expected[:T]
        assert data["gmaj"][v] == (expected[0][0] if expected else -1)
    with pytest.raises(ValueError, match="assignments has 5 entries"):
        report_data(tree, stats, assignments=leaf[:5])
    nan_scores = Hierarchy.from_merges(tree.merges)
    assert report_data(nan_scores)["score"] == [None] * 39  # unknown scores: null, never NaN in JSON


def test_report_opens_cut_into_k_groups(tmp_path):
    """``l2h report --k`` (``build_report(k=)``): the page opens with the k box set and the tree cut."""
    from selenium.webdriver.common.by import By

    tree = random_tree(300, np.random.default_rng(3))
    path = tmp_path / "k.html"
    path.write_text(build_report(tree, k=12), encoding="utf-8")
    with chromium() as driver:
        open_report(driver, path)
        assert driver.find_element(By.ID, "k").get_attribute("value") == "12"
        assert driver.find_element(By.ID, "kText").text == "k = 12 groups"
        assert len(driver.find_elements(By.CSS_SELECTOR, "#zoom circle.cut")) == 12
        assert not _errors(driver)
    with pytest.raises(ValueError, match="k must be between 1 and the number of leaves"):
        build_report(tree, k=301)


def test_report_cli_k(tmp_path):
    from tests._cli import error_line, run

    tree = tmp_path / "t.nwk"
    tree.write_text(random_tree(20, np.random.default_rng(4)).to_newick(), encoding="utf-8")
    out = tmp_path / "r.html"
    ok = run("report", tree, "--k", "5", "-o", out, "-q")
    assert ok.exit_code == 0, ok.output
    assert '"k":5' in out.read_text(encoding="utf-8")
    bad = run("report", tree, "--k", "21", "-o", tmp_path / "bad.html")
    assert bad.exit_code == 1
    assert error_line(bad) == "Error: k must be between 1 and the number of leaves (20); got 21"
    assert not (tmp_path / "bad.html").exists()
