"""The views at K = 1 000 and K = 21 841: writing and loading ``l2h report`` pages, and ``l2h plot``.

    python benchmarks/bench_report.py [--runs 3] [--only write,plot,load]

``write``: ``l2h report`` end to end (a fresh process per run: reading a 50 000 x 1 000 float32
logits ``.npy``, labels, class names and groups, the argmax of every point, the statistics, the
page) with its wall time and peak RSS (the child's ``VmHWM``), median of ``--runs``; next to it, in
the same run, the plain-NumPy floor of that work: ``np.load`` of the whole logits file and its
``argmax`` (no page at all).  Once more with ``--images`` (50 000 random 32 x 32 RGB images,
incompressible: the worst case for thumbnail size and time).

``plot``: :func:`l2h.plot.plot_dendrogram` of a K = 1 000 tree with labels, folded to k = 100 and
k = 1 000, saved as PNG at 150 dpi: time and picture size.

``load``: trees are random binary trees (uniform random merges) with N = 50 K points, C = min(K, 1000)
classes in 20 groups; the K = 1000 page is also made with 4 000 thumbnails (48 px JPEG of
random-texture 64 x 64 RGB images: a worst case for JPEG size).  Load time is from navigation to
the page's ready flag (data parsed, initial folds chosen, tree drawn), median of ``--runs`` loads.
"Fold to k" times one redraw at the k slider's far end (every leaf).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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
from tests._trees import random_merges  # noqa: E402


def case(k: int, with_images: bool, folder: Path) -> tuple[Path, float]:
    rng = np.random.default_rng(k)
    tree = Hierarchy.from_merges(random_merges(k, rng))
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


_CHILD = """
import json, sys, time
start = time.perf_counter()
from l2h_cli.main import cli
cli.main(sys.argv[1:], standalone_mode=False, obj={})
took = time.perf_counter() - start
peak = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(json.dumps({"seconds": took, "peak_mb": peak / 1024}))
"""

_FLOOR = """
import json, sys, time
import numpy as np
start = time.perf_counter()
leaf = np.load(sys.argv[1]).argmax(axis=1)
took = time.perf_counter() - start
peak = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(json.dumps({"seconds": took, "peak_mb": peak / 1024}))
"""


def _child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_inputs(folder: Path, n: int = 50_000, k: int = 1000, c: int = 100) -> list[str]:
    """A random K-leaf tree, (n, k) float32 logits, labels of c classes in c / 5 groups."""
    from l2h import write_tree

    rng = np.random.default_rng(0)
    write_tree(Hierarchy.from_merges(random_merges(k, rng)), folder / "tree.json")
    leaf = rng.integers(0, k, size=n)
    logits = rng.normal(size=(n, k)).astype(np.float32)
    logits[np.arange(n), leaf] += 6
    np.save(folder / "logits.npy", logits)
    np.save(folder / "labels.npy", (leaf * c // k + (rng.random(n) < 0.2) * rng.integers(0, c, size=n)) % c)
    (folder / "names.txt").write_text("".join(f"class {i}\n" for i in range(c)))
    (folder / "groups.tsv").write_text("".join(f"class {i}\tgroup {i // 5}\n" for i in range(c)))
    np.save(folder / "images.npy", rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8))
    f = str(folder)
    return [
        "report", f"{f}/tree.json", "--logits", f"{f}/logits.npy", "--labels", f"{f}/labels.npy",
        "--class-names", f"{f}/names.txt", "--groups", f"{f}/groups.tsv", "-o", f"{f}/report.html",
    ]  # fmt: skip


def bench_write(folder: Path, runs: int) -> None:
    args = write_inputs(folder)
    print(f"l2h report, 50 000 x 1 000 float32 logits, 100 classes in 20 groups; median of {runs} fresh processes")
    for name, extra in (("no images", []), ("--images", ["--images", str(folder / "images.npy")])):
        timed = [_child(_CHILD, *args, *extra) for _ in range(runs)]
        floor = [_child(_FLOOR, str(folder / "logits.npy")) for _ in range(runs)]
        size = (folder / "report.html").stat().st_size / 1e6
        sec = statistics.median(t["seconds"] for t in timed)
        peak = statistics.median(t["peak_mb"] for t in timed)
        f_sec = statistics.median(t["seconds"] for t in floor)
        f_peak = statistics.median(t["peak_mb"] for t in floor)
        print(
            f"  {name:9}  {sec:5.2f} s  peak RSS {peak:6.0f} MB  page {size:5.1f} MB   "
            f"(NumPy floor, np.load + argmax: {f_sec:5.2f} s, {f_peak:5.0f} MB; ratio {sec / f_sec:4.1f}x)"
        )


def bench_plot(runs: int) -> None:
    import struct

    from l2h.plot import plot_dendrogram, save_figure

    rng = np.random.default_rng(0)
    k = 1000
    tree = Hierarchy.from_merges(random_merges(k, rng))
    leaf = rng.integers(0, k, size=50_000)
    labels = leaf // 10
    stats = leaf_stats(tree, leaf, labels, class_groups=[f"group {i // 5}" for i in range(100)])
    folder = Path(tempfile.mkdtemp(prefix="l2h-bench-plot-"))
    print(f"plot_dendrogram + save_figure (PNG, 150 dpi), K = 1 000 with labels; median of {runs}")
    for fold in (100, 1000):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            save_figure(plot_dendrogram(tree, stats, k=fold), folder / "plot.png", dpi=150)
            times.append(time.perf_counter() - start)
        width, height = struct.unpack(">II", (folder / "plot.png").read_bytes()[16:24])
        print(
            f"  k = {fold:5}  {statistics.median(times):5.1f} s  {width} x {height} px  "
            f"{os.path.getsize(folder / 'plot.png') / 1e6:.1f} MB"
        )


def bench_load(runs: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="l2h-bench-report-"))
    rows = []
    for k, with_images in ((1000, False), (1000, True), (21841, False)):
        path, built = case(k, with_images, folder)
        rows.append((k, with_images, path, built))
    with chromium() as driver:
        for k, with_images, path, built in rows:
            loads = [open_report(driver, path) for _ in range(runs)]
            redraw = driver.execute_script(
                "var s = document.getElementById('kRange'); var t = performance.now();"
                "s.value = s.max; s.dispatchEvent(new Event('input')); return performance.now() - t;"
            )
            tips = driver.execute_script("return window.l2hReport.visibleTips()")
            size = path.stat().st_size / 1e6
            print(
                f"K={k:>6} images={'yes' if with_images else 'no ':3}  size {size:6.2f} MB  build {built:5.1f} s  "
                f"load median {statistics.median(loads):5.2f} s (runs: {', '.join(f'{t:.2f}' for t in loads)})  "
                f"fold to k = {tips}: {redraw / 1000:.2f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="write,plot,load", help="comma-separated: write, plot, load")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if "write" in parts:
        bench_write(Path(tempfile.mkdtemp(prefix="l2h-bench-write-")), args.runs)
    if "plot" in parts:
        bench_plot(args.runs)
    if "load" in parts:
        bench_load(args.runs)


if __name__ == "__main__":
    main()
