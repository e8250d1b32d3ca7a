"""File size and load time of ``l2h report`` pages at K = 1000 and K = 21 841, in headless Chromium.

    python benchmarks/bench_report.py [--runs 3]

Trees are random binary trees (uniform random merges) with N = 50 K points, C = min(K, 1000)
classes in 20 groups; the K = 1000 page is also made with 4 000 thumbnails (48 px JPEG of
random-texture 64 x 64 RGB images: a worst case for JPEG size).  Load time is from navigation to
the page's ready flag (data parsed, initial folds chosen, tree drawn), median of ``--runs`` loads.
"Fold all to level 1000" times one redraw of 1 000 tips (the slider at its far end).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from l2h import Hierarchy  # noqa: E402
from l2h.annotate import leaf_stats  # noqa: E402
from l2h.report import ImageSource, build_report  # noqa: E402
from tests._browser import chromium, open_report  # noqa: E402


def random_tree(k: int, rng: np.random.Generator) -> Hierarchy:
    alive = np.arange(k)
    n = k
    merges = np.empty((k - 1, 2), dtype=np.int64)
    for t in range(k - 1):
        i, j = rng.choice(n, size=2, replace=False)
        merges[t] = alive[i], alive[j]
        alive[min(i, j)] = k + t
        alive[max(i, j)] = alive[n - 1]
        n -= 1
    return Hierarchy.from_merges(merges)


def case(k: int, with_images: bool, folder: Path) -> tuple[Path, float]:
    rng = np.random.default_rng(k)
    tree = random_tree(k, rng)
    n, c = 50 * k, min(k, 1000)
    leaf = rng.integers(0, k, size=n)
    labels = (leaf * c // k + (rng.random(n) < 0.2) * rng.integers(0, c, size=n)) % c
    groups = [f"group {i * 20 // c}" for i in range(c)]
    stats = leaf_stats(tree, leaf, labels, class_names=[f"class {i}" for i in range(c)], class_groups=groups)
    images = None
    if with_images:
        pixels = rng.integers(0, 256, size=(n, 64, 64, 3), dtype=np.uint8)
        images = ImageSource(n, array=pixels)
    start = time.perf_counter()
    page = build_report(tree, stats, assignments=leaf, confidence=rng.random(n), images=images)
    built = time.perf_counter() - start
    path = folder / f"report_{k}{'_images' if with_images else ''}.html"
    path.write_text(page, encoding="utf-8")
    return path, built


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="l2h-bench-report-"))
    rows = []
    for k, with_images in ((1000, False), (1000, True), (21841, False)):
        path, built = case(k, with_images, folder)
        rows.append((k, with_images, path, built))
    with chromium() as driver:
        for k, with_images, path, built in rows:
            loads = [open_report(driver, path) for _ in range(args.runs)]
            redraw = driver.execute_script(
                "var s = document.getElementById('level'); var t = performance.now();"
                "s.value = s.max; s.dispatchEvent(new Event('input')); return performance.now() - t;"
            )
            tips = driver.execute_script("return window.l2hReport.visibleTips()")
            size = path.stat().st_size / 1e6
            print(
                f"K={k:>6} images={'yes' if with_images else 'no ':3}  size {size:6.2f} MB  build {built:5.1f} s  "
                f"load median {statistics.median(loads):5.2f} s (runs: {', '.join(f'{t:.2f}' for t in loads)})  "
                f"fold to level {tips}: {redraw / 1000:.2f} s"
            )


if __name__ == "__main__":
    main()
