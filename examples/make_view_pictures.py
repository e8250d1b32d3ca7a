"""Make the pictures of the views in the README and docs/gallery.md (run from the repository root; needs
the plot extra, and selenium with Debian's chromium + chromium-driver for the report screenshot)::

    python examples/make_view_pictures.py [OUT_DIR]   (default: examples/)

* ``digits_report.png``: ``l2h report`` of the digits tree, one leaf selected (headless Chromium);
* ``digits_gallery.png``: ``l2h gallery`` of the digits tree;
* ``digits_tree.png``: ``l2h plot`` of the digits tree;
* ``k1000_tree.png``: ``l2h plot`` of a K = 1000 tree (synthetic: 100 Gaussian classes in 20 groups of
  5 neighbours, 1 000 prototype clusters), folded to its top 100 groups;
* ``k1000_report.png``: ``l2h report`` of that tree as it opens, after a search for ``class 42``, a
  node selected (merge order, score, relatedness, class and group composition, downloads);
* ``digits_tanglegram.png``: ``l2h compare --report`` of the digits tree against
  ``digits_taxonomy.nwk`` (each of the 20 clusters under its majority digit).

``examples/digits_images.npy`` is scikit-learn's 8 x 8 digits (``load_digits().images``) as uint8
(values x 255 / 16), in the order of ``digits_logits.npy`` and ``digits_labels.npy``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GROUPS = {"closed loops": "0689", "straight strokes": "147", "open curves": "235"}


def l2h(*args: object) -> None:
    subprocess.run([sys.executable, "-m", "l2h_cli.main", *map(str, args)], check=True)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    work = Path(tempfile.mkdtemp(prefix="l2h-pictures-"))
    (work / "groups.tsv").write_text("".join(f"digit {d}\t{g}\n" for g, ds in GROUPS.items() for d in ds))
    l2h("build", HERE / "digits_logits.npy", "--out", work / "digits.json", "--quiet")
    data = [
        "--logits", HERE / "digits_logits.npy", "--labels", HERE / "digits_labels.npy",
        "--class-names", HERE / "digits_class_names.txt", "--groups", work / "groups.tsv",
    ]  # fmt: skip
    images = ["--images", HERE / "digits_images.npy"]
    l2h("plot", work / "digits.json", "--out", out / "digits_tree.png", *data, "--dpi", "90")
    l2h("gallery", work / "digits.json", *images, "--out", out / "digits_gallery.png", *data, "--per-row", "10")
    l2h("report", work / "digits.json", "--out", work / "digits.html", *data, *images)
    screenshot(work / "digits.html", out / "digits_report.png", leaf=3)
    l2h(
        "compare", work / "digits.json", "--reference", HERE / "digits_taxonomy.nwk", "--logits",
        HERE / "digits_logits.npy", "--labels", HERE / "digits_labels.npy", "--report", work / "tangle.html", "-q",
    )  # fmt: skip
    page_picture(work / "tangle.html", out / "digits_tanglegram.png", (1000, 560))
    k1000(work, out / "k1000_tree.png")
    l2h(
        "report", work / "k1000.json", "--out", work / "k1000.html", "--logits", work / "logits.npy", "--labels",
        work / "labels.npy", "--class-names", work / "classes.txt", "--groups", work / "groups.txt",
    )  # fmt: skip
    screenshot(work / "k1000.html", out / "k1000_report.png", search="class 42")


def page_picture(page: Path, png: Path, size: tuple[int, int]) -> None:
    sys.path.insert(0, str(HERE.parent))
    from tests._browser import chromium

    with chromium() as driver:
        driver.set_window_size(*size)
        driver.get(page.resolve().as_uri())
        driver.save_screenshot(str(png))


def screenshot(page: Path, png: Path, leaf: int | None = None, search: str | None = None) -> None:
    sys.path.insert(0, str(HERE.parent))
    from tests._browser import chromium, open_report

    with chromium() as driver:
        open_report(driver, page)
        if search is not None:
            driver.execute_script("window.l2hReport.search(arguments[0])", search)
            leaf = int(driver.execute_script("return +document.querySelector('#zoom g.node.match').dataset.node"))
            leaf = int(driver.execute_script("return window.l2hReport.parentOf(arguments[0])", leaf))
        driver.execute_script(f"window.l2hReport.select({leaf})")
        driver.save_screenshot(str(png))


def k1000(work: Path, png: Path) -> None:
    from l2h import build_hierarchy, write_tree

    rng = np.random.default_rng(0)
    k, c, n, dim = 1000, 100, 30_000, 16
    supers = rng.normal(scale=3.0, size=(20, dim))
    centres = supers[np.arange(c) // 5] + rng.normal(size=(c, dim))
    y = rng.integers(0, c, n)
    x = centres[y] + 0.8 * rng.normal(size=(n, dim))
    protos = centres[rng.integers(0, c, k)] + 0.5 * rng.normal(size=(k, dim))
    sq = (x**2).sum(1)[:, None] - 2 * x @ protos.T + (protos**2).sum(1)[None]  # squared distances
    logits = (-sq / 4).astype(np.float32)
    np.save(work / "logits.npy", logits)
    np.save(work / "labels.npy", y)
    (work / "classes.txt").write_text("".join(f"class {i}\n" for i in range(c)))
    (work / "groups.txt").write_text("".join(f"group {i // 5}\n" for i in range(c)))
    write_tree(build_hierarchy(logits), work / "k1000.json")
    l2h(
        "plot", work / "k1000.json", "--out", png, "--logits", work / "logits.npy", "--labels", work / "labels.npy",
        "--class-names", work / "classes.txt", "--groups", work / "groups.txt", "--dpi", "70",
    )  # fmt: skip


if __name__ == "__main__":
    main()
