"""``l2h report``: the page's data and safety (Python) and its behaviour in a real headless Chromium."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from l2h import Hierarchy, write_tree
from l2h.annotate import leaf_stats
from l2h.report import build_report, load_images, thumbnail_points
from tests._browser import chromium, open_report, requested_urls
from tests._cli import error_line, run
from tests._trees import random_merges

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# the SVG and XHTML namespace names are identifiers in the script, never fetched
NAMESPACES = {"http://www.w3.org/2000/svg"}


def _page_data(page: str) -> dict:
    block = re.search(r'<script id="l2h-data" type="application/json">(.*?)</script>', page, flags=re.S)
    assert block
    return json.loads(block.group(1))


def _sha(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A 20-leaf tree over the shipped digits logits, its files and the report (images included)."""
    folder = tmp_path_factory.mktemp("digits")
    tree = Hierarchy.from_merges(random_merges(20, np.random.default_rng(0)))
    write_tree(tree, folder / "tree.json")
    (folder / "groups.tsv").write_text(
        "".join(f"digit {d}\t{g}\n" for g, ds in (("loops", "0689"), ("strokes", "147"), ("curves", "235")) for d in ds)
    )
    args = [
        "--logits",
        EXAMPLES / "digits_logits.npy",
        "--labels",
        EXAMPLES / "digits_labels.npy",
        "--class-names",
        EXAMPLES / "digits_class_names.txt",
        "--groups",
        folder / "groups.tsv",
    ]
    result = run(
        "report", folder / "tree.json", "--out", folder / "r.html", *args, "--images", EXAMPLES / "digits_images.npy"
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"report -> {folder / 'r.html'} (")
    return tree, folder, args


def test_page_is_self_contained_and_its_policy_allows_only_its_own_code(digits):
    _, folder, _ = digits
    page = (folder / "r.html").read_text()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1)
    assert csp.startswith("default-src 'none'; ")
    script = re.search(r"<script>(.*?)</script>", page, flags=re.S).group(1)
    style = re.search(r"<style>(.*?)</style>", page, flags=re.S).group(1)
    assert f"script-src '{_sha(script)}'" in csp and f"style-src '{_sha(style)}'" in csp and "img-src data:" in csp
    assert set(re.findall(r"https?://[^\s\"'<>)]*", page)) <= NAMESPACES  # nothing to load from anywhere
    assert not re.search(r"\b(src|href)\s*=\s*[\"'](?!data:)", page)  # no external src/href attributes
    data = _page_data(page)
    assert data["K"] == 20 and len(data["thumbs"]["data"]) == sum(map(len, data["thumbs"]["leaf"].values()))
    assert all(uri.startswith("data:image/png;base64,") for uri in data["thumbs"]["data"])


def test_data_matches_an_independent_count(digits):
    tree, folder, _ = digits
    data = _page_data((folder / "r.html").read_text())
    logits = np.load(EXAMPLES / "digits_logits.npy").astype(np.float64)
    labels = np.load(EXAMPLES / "digits_labels.npy")
    leaf = logits.argmax(axis=1)
    k = tree.n_leaves
    for node in range(tree.n_nodes):
        under = set(tree.leaves_under(node).tolist())
        mask = np.isin(leaf, list(under))
        assert data["size"][node] == mask.sum()
        counts = np.bincount(labels[mask], minlength=10)
        if mask.any():
            assert data["maj"][node] == counts.argmax()
            assert data["pur"][node] == pytest.approx(counts.max() / mask.sum(), abs=1e-4)
            top = data["compTop"]
            comp_n = data["compN"][node * top : (node + 1) * top]
            comp_c = data["compC"][node * top : (node + 1) * top]
            assert comp_n == sorted(counts.tolist(), reverse=True)[:top]
            assert [counts[c] for c in comp_c] == comp_n
    # thumbnails: each leaf's most confident points, most confident first
    shifted = logits - logits.max(axis=1, keepdims=True)
    conf = 1 / np.exp(shifted).sum(axis=1)
    for j in range(k):
        chosen = [data["thumbs"]["point"][t] for t in data["thumbs"]["leaf"].get(str(j), [])]
        members = np.flatnonzero(leaf == j)
        expected = members[np.lexsort((members, -conf[members]))][:16]
        assert chosen == expected.tolist()


def test_names_cannot_break_out_of_the_page(tmp_path):
    evil = ["</script><script>alert(1)</script>", "__JS__", "<!--", "\x1b]0;x\x07", "a\u2028b"]
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5], [6, 7]], leaf_names=evil)
    stats = leaf_stats(tree, np.arange(5), np.arange(5), class_names=evil)
    page = build_report(tree, stats, title="</title><b>")
    assert page.count("</script>") == 2 and page.count("<script") == 2
    assert "<title>&lt;/title&gt;&lt;b&gt;</title>" in page
    data = _page_data(page)
    assert data["names"][:3] == evil[:3] and data["names"][3] == "\\x1b]0;x\\x07" and data["classes"][1] == "__JS__"


def test_thumbnail_budget_and_confidence_order():
    leaf = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    conf = np.array([0.1, 0.9, 0.5, 0.3, 0.3, 0.2, 0.8, 0.4, 0.6])
    assert thumbnail_points(leaf, 3, conf, per_leaf=2) == {2: [6, 8], 0: [1, 2], 1: [3, 4]}
    assert thumbnail_points(leaf, 3, None, per_leaf=2) == {2: [5, 6], 0: [0, 1], 1: [3, 4]}
    assert thumbnail_points(leaf, 3, conf, per_leaf=16, max_total=4) == {2: [6], 0: [1], 1: [3]}
    assert thumbnail_points(leaf, 3, conf, per_leaf=16, max_total=2) == {2: [6], 0: [1]}  # largest leaves first


def test_images_from_npy_folder_and_list(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image

    rgb = (np.arange(4 * 100 * 80 * 3) % 256).astype(np.uint8).reshape(4, 100, 80, 3)
    np.save(tmp_path / "rgb.npy", rgb)
    source = load_images(tmp_path / "rgb.npy", 4)
    uri = source.thumbnail(0)
    assert uri.startswith("data:image/jpeg;base64,")
    image = Image.open(__import__("io").BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert max(image.size) == 48
    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    for i in range(4):
        Image.fromarray(rgb[i]).save(tmp_path / "imgs" / ("sub" if i % 2 else "") / f"{i}.png")
    assert load_images(tmp_path / "imgs", 4).thumbnail(3).startswith("data:image/jpeg;base64,")
    (tmp_path / "paths.txt").write_text("imgs/0.png\nimgs/sub/1.png\n")
    assert load_images(tmp_path / "paths.txt", 2).paths[1] == tmp_path / "imgs" / "sub" / "1.png"
    for bad, message in (
        (lambda: load_images(tmp_path / "rgb.npy", 5), "holds 4 images but there are 5 points"),
        (lambda: load_images(tmp_path / "imgs", 3), "holds 4 image files but there are 3 points"),
        (lambda: load_images(tmp_path / "none", 3), "not found"),
    ):
        with pytest.raises(ValueError, match=message):
            bad()


def test_cli_errors_are_one_line_and_write_nothing(digits):
    _, folder, args = digits
    out = folder / "x.html"
    cases = [
        (["--out", out, "--images", EXAMPLES / "digits_images.npy"], "--images needs the points' leaves"),
        (["--out", out, *args[:2], "--images", folder / "groups.tsv"], "names 10 images but there are 1797 points"),
        (["--out", folder / "tree.json"], "TREE"),  # the guard: the output is the input tree
    ]
    for extra, message in cases:
        result = run("report", folder / "tree.json", *extra)
        assert result.exit_code == 1, result.output
        assert message in error_line(result)
    assert not out.exists()
    assert json.loads((folder / "tree.json").read_text())  # untouched


# ---------------------------------------------------------------------------------------------- browser
def _svg_nodes(driver) -> int:
    return driver.execute_script("return document.querySelectorAll('#zoom g.node').length")


def test_report_in_headless_chromium(digits, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _, folder, _ = digits
    with chromium() as driver:
        open_report(driver, folder / "r.html")
        assert _svg_nodes(driver) == 39  # 20 leaves shown, 19 internal nodes
        assert driver.find_element(By.ID, "status").text == "showing 20 of 20 leaves (39 nodes)"
        root = driver.find_element(By.CSS_SELECTOR, '#zoom g.node[data-node="38"] circle.toggle')
        root.click()  # fold the root: one triangle left
        assert _svg_nodes(driver) == 1 and driver.find_elements(By.CSS_SELECTOR, "#zoom polygon.tri")
        driver.find_element(By.CSS_SELECTOR, '#zoom g.node[data-node="38"] polygon.toggle').click()  # open it again
        assert _svg_nodes(driver) == 39  # its subtrees open as they were
        panel = driver.find_element(By.ID, "panel").text  # the node clicked is shown
        assert panel.startswith("n38 (20 leaves)") and "1,797 points" in panel and "majority class:" in panel
        search = driver.find_element(By.ID, "search")
        search.send_keys("digit 3", Keys.ENTER)
        matches = driver.execute_script(
            "return [...document.querySelectorAll('#zoom g.node.match')].map(g => +g.dataset.node)"
        )
        data = _page_data((folder / "r.html").read_text())
        expected = [j for j in range(20) if data["maj"][j] == 3]
        assert sorted(matches) == expected and expected  # every leaf whose majority is digit 3, its path opened
        assert driver.find_element(By.ID, "status").text.startswith(f"{len(expected)} matches")
        driver.find_element(By.CSS_SELECTOR, "#matches li").click()
        assert driver.find_elements(By.CSS_SELECTOR, "#panel .thumbs img")  # a leaf shows its thumbnails
        driver.execute_script(
            "var s = document.getElementById('kRange'); s.value = '4'; s.dispatchEvent(new Event('input'))"
        )
        assert driver.find_element(By.ID, "kText").text == "k = 4 groups"
        assert driver.find_element(By.ID, "k").get_attribute("value") == "4"
        assert len(driver.find_elements(By.CSS_SELECTOR, "#zoom circle.cut")) == 4
        from selenium.webdriver.support.ui import Select

        Select(driver.find_element(By.ID, "layout")).select_by_value("radial")
        assert _svg_nodes(driver) > 0
        driver.save_screenshot(str(tmp_path / "shot.png"))
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert not errors, errors
        urls = requested_urls(driver)
        assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls

        # K = 1000: opens folded (a pane of tips), and the whole tree unfolds at the slider's end in well under a second
        rng = np.random.default_rng(1)
        big = Hierarchy.from_merges(random_merges(1000, rng))
        leaf = rng.integers(0, 1000, size=20_000)
        (tmp_path / "big.html").write_text(build_report(big, leaf_stats(big, leaf, leaf % 100)))
        assert open_report(driver, tmp_path / "big.html") < 10
        assert 20 <= driver.execute_script("return window.l2hReport.visibleTips()") <= 60
        took = driver.execute_script(
            "var s = document.getElementById('kRange'), t = performance.now(); s.value = '1000';"
            "s.dispatchEvent(new Event('input')); return performance.now() - t;"
        )
        assert driver.execute_script("return window.l2hReport.visibleTips()") == 1000 and took < 5000
        assert not [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
