"""Notebook habits: ``import l2h`` surface, ``Hierarchy._repr_html_`` / ``report`` / ``plot`` / ``show``."""

from __future__ import annotations

import html
import io
import re
import subprocess
import sys

import numpy as np
import pytest

import l2h
from l2h import Hierarchy
from tests._browser import chromium
from tests._trees import random_merges


def test_dir_is_the_public_api_only():
    names = dir(l2h)
    assert "Any" not in names and "annotations" not in names
    assert not [n for n in names if n.startswith("_") and n != "__version__"]
    assert {"L2H", "Hierarchy", "build_hierarchy", "metrics", "compare", "read_tree"} <= set(names)
    assert set(l2h.__all__) <= set(names)


def test_metrics_compare_and_estimator_are_reachable_lazily():
    code = (
        "import sys, l2h; lazy = [m for m in ('l2h.metrics', 'l2h.compare', 'l2h.estimator', 'l2h.merge') "
        "if m in sys.modules]; print(lazy); print(l2h.metrics.evaluate.__name__, l2h.compare.compare.__name__, "
        "l2h.L2H.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]"  # nothing heavy at import time
    assert out[1] == "evaluate compare L2H"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        l2h.nope  # noqa: B018


def _srcdoc(frame: str) -> str:
    return html.unescape(re.search(r'srcdoc="([^"]*)"', frame).group(1))


def test_repr_html_is_the_offline_report_in_a_sandboxed_frame():
    tree = Hierarchy.from_merges(random_merges(12, np.random.default_rng(0)), leaf_names=[f"c{i}" for i in range(12)])
    frame = tree._repr_html_()
    assert frame.startswith("<iframe ") and frame.endswith("></iframe>")
    assert 'sandbox="allow-scripts allow-downloads"' in frame  # no allow-same-origin: cannot reach the notebook
    assert "<script" not in frame.split("srcdoc=")[0] and "<script" not in frame.replace("&lt;script", "")
    page = _srcdoc(frame)
    assert page.startswith("<!DOCTYPE html>") and "default-src 'none'" in page
    assert page == tree.report().html
    ids = re.findall(r'<iframe id="([^"]+)"', frame + tree._repr_html_())
    assert len(ids) == 2 and ids[0] != ids[1]  # one id per cell


def test_report_page_with_points_and_save(tmp_path):
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "car", "bus"])
    logits = np.eye(4)[[0, 1, 2, 3, 3]] * 5
    page = tree.report(logits, [0, 0, 1, 1, 1], class_names=["animal", "vehicle"], class_groups=["a", "v"])
    assert '"size":[1,1,1,2,2,3,5]' in page.html
    assert page.save(tmp_path / "r.html").read_text() == page.html
    with pytest.raises(ValueError, match="not both"):
        tree.report(logits, assignments=[0, 1, 2, 3, 3])


def test_evil_names_stay_text_in_the_notebook_frame():
    evil = ['"><script>alert(1)</script>', "</iframe><img src=x onerror=alert(2)>", "a&quot;b", "ok"]
    frame = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=evil)._repr_html_()
    outside = re.sub(r'srcdoc="[^"]*"', "", frame)
    assert outside.count("<") == 2 and "onerror" not in outside  # <iframe ...></iframe> and nothing else
    page = _srcdoc(frame)
    assert "<script>alert" not in page and "<img src=x" not in page


def test_plot_and_show():
    pytest.importorskip("matplotlib")
    tree = Hierarchy.from_merges(random_merges(30, np.random.default_rng(1)))
    fig = tree.plot(k=10)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 10
    buffer = io.StringIO()
    tree.show(file=buffer, ascii=True)
    text = buffer.getvalue()
    assert text.startswith("Hierarchy: 30 leaves") and "n58 (30 leaves)" in text


def test_inline_report_runs_offline_in_a_frame_in_chromium(tmp_path):
    tree = Hierarchy.from_merges(random_merges(40, np.random.default_rng(2)))
    notebook = (
        "<!DOCTYPE html><html><body><div id='cell'>" + tree._repr_html_() + tree._repr_html_() + "</div></body></html>"
    )
    (tmp_path / "nb.html").write_text(notebook)
    with chromium() as driver:
        driver.get((tmp_path / "nb.html").resolve().as_uri())
        frames = driver.find_elements("css selector", "iframe")
        assert len(frames) == 2
        driver.switch_to.frame(frames[1])
        import time

        for _ in range(200):
            if driver.execute_script("return document.body && document.body.dataset.ready") == "1":
                break
            time.sleep(0.05)
        assert driver.execute_script("return window.l2hReport.visibleTips()") > 0
        driver.switch_to.default_content()
        assert driver.execute_script("return typeof window.l2hReport") == "undefined"  # nothing leaked
        assert driver.execute_script("return document.getElementById('cell').getBoundingClientRect().height") < 1300
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors


def test_injected_names_do_not_run_in_the_notebook_frame(tmp_path):
    """Names that would run script if they were markup stay text inside the inline report."""
    evil = ["<img src=x onerror=\"document.title='pwned'\">", "<script>document.title='pwned'</script>", "ok", "b"]
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=evil)
    (tmp_path / "nb.html").write_text(f"<!DOCTYPE html><html><body>{tree._repr_html_()}</body></html>")
    with chromium() as driver:
        driver.get((tmp_path / "nb.html").resolve().as_uri())
        driver.switch_to.frame(driver.find_element("css selector", "iframe"))
        import time

        for _ in range(200):
            if driver.execute_script("return document.body && document.body.dataset.ready") == "1":
                break
            time.sleep(0.05)
        assert driver.execute_script("return document.body.dataset.ready") == "1"
        labels = driver.execute_script(
            "return [...document.querySelectorAll('#zoom text.label')].map(t => t.textContent)"
        )
        assert any(label.startswith("<img src=x") for label in labels)  # shown as text
        assert driver.execute_script("return document.title") != "pwned"
        assert not driver.execute_script("return document.querySelectorAll('#zoom img, body > img').length")
