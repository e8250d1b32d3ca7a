"""Pictures: scipy linkage export, dendrogram labels and colours, heatmap, CLI and missing matplotlib."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy.cluster.hierarchy import dendrogram, is_monotonic, is_valid_linkage

from l2h import Hierarchy, write_tree
from l2h.metrics import class_distance_matrix
from l2h.render import leaf_stats
from tests._cli import run
from tests._trees import random_merges

pytest.importorskip("matplotlib")

MAGIC = {".png": b"\x89PNG", ".pdf": b"%PDF", ".svg": b"<?xml"}


@pytest.fixture()
def case():
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["a", "b", "c", "d"])
    leaf = np.array([0, 0, 1, 1, 2, 3, 3, 3])
    labels = np.array([0, 0, 0, 1, 2, 2, 2, 1])
    stats = leaf_stats(tree, leaf, labels, class_names=["cat", "dog", "car"])
    return tree, leaf, labels, stats


@pytest.mark.parametrize("seed", range(5))
def test_to_scipy_is_a_valid_monotonic_linkage_drawn_in_leaf_order(seed):
    rng = np.random.default_rng(seed)
    tree = Hierarchy.from_merges(random_merges(int(rng.integers(2, 30)), rng))
    z = tree.to_scipy()
    assert is_valid_linkage(z) and is_monotonic(z)
    assert dendrogram(z, no_plot=True)["leaves"] == tree.leaf_order.tolist()
    z[0, 0] = -5  # a copy: the tree is untouched
    assert tree.linkage[0, 0] != -5


def test_dendrogram_labels_colours_and_legend(case):
    from matplotlib.colors import to_hex

    from l2h.plot import plot_dendrogram
    from l2h.render import group_colors

    tree, _, _, stats = case
    fig = plot_dendrogram(tree, stats, title="toy")
    ax = fig.axes[0]
    labels = {t.get_text(): to_hex(t.get_color()) for t in ax.get_yticklabels()}
    colors = group_colors(tree, stats)
    assert labels == {
        "a  cat 100%  n=2": colors["cat"],
        "b  cat 50%  n=2": colors["cat"],
        "c  car 100%  n=1": colors["car"],
        "d  car 66%  n=3": colors["car"],
    }
    assert ax.get_title(loc="left") == "toy"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["cat", "car"]


def test_dendrogram_without_data_and_saved_formats(case, tmp_path):
    from l2h.plot import plot_dendrogram, save_figure

    tree = case[0]
    fig = plot_dendrogram(tree)
    assert sorted(t.get_text() for t in fig.axes[0].get_yticklabels()) == ["a", "b", "c", "d"]
    assert not fig.legends
    for suffix, magic in MAGIC.items():
        save_figure(fig, tmp_path / f"t{suffix}")
        assert (tmp_path / f"t{suffix}").read_bytes().startswith(magic)
    with pytest.raises(ValueError, match="use one of .png, .svg, .pdf"):
        save_figure(fig, tmp_path / "t.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.pdf", "t.png", "t.svg"]  # no temp files left


def test_class_distance_heatmap_shows_the_ordered_matrix(case):
    from l2h.plot import class_order, plot_class_distances

    tree, _, _, stats = case
    order = class_order(tree, stats.table)
    assert order.tolist() == [0, 1, 2]  # cat (leaves a, b), dog (b, d), car (c, d)
    fig = plot_class_distances(tree, stats)
    shown = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(shown, class_distance_matrix(tree, stats.table)[np.ix_(order, order)])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["cat", "dog", "car"]


@pytest.fixture()
def files(case, tmp_path):
    tree, leaf, labels, _ = case
    write_tree(tree, tmp_path / "tree.nwk")
    (tmp_path / "leaf_names.txt").write_text("a\nb\nc\nd\n")  # the Newick names its leaves
    np.save(tmp_path / "leaf.npy", leaf)
    np.save(tmp_path / "y.npy", labels)
    (tmp_path / "groups.tsv").write_text("0\tanimal\n1\tanimal\n2\tvehicle\n")
    return tmp_path


def test_cli_writes_dendrogram_and_heatmap(files):
    result = run(
        "plot",
        files / "tree.nwk",
        "--out",
        files / "tree.svg",
        "--leaf-names",
        files / "leaf_names.txt",
        "--assignments",
        files / "leaf.npy",
        "--labels",
        files / "y.npy",
        "--groups",
        files / "groups.tsv",
        "--class-distances",
        files / "heat.png",
    )
    assert result.exit_code == 0, result.output
    assert (files / "tree.svg").read_bytes().startswith(MAGIC[".svg"])
    assert (files / "heat.png").read_bytes().startswith(MAGIC[".png"])
    assert result.output.splitlines() == [
        f"dendrogram -> {files / 'tree.svg'}",
        f"class distances -> {files / 'heat.png'}",
    ]


def test_cli_usage_errors(files):
    no_labels = run("plot", files / "tree.nwk", "--out", files / "t.png", "--class-distances", files / "h.png")
    assert no_labels.exit_code == 1
    assert "--class-distances needs --labels" in no_labels.output
    bad_suffix = run("plot", files / "tree.nwk", "--out", files / "t.gif")
    assert bad_suffix.exit_code == 1 and len(bad_suffix.output.strip().splitlines()) == 1
    assert bad_suffix.output.startswith("Error: --out: ") and "cannot tell the picture format" in bad_suffix.output
    missing = run("plot", files / "none.nwk", "--out", files / "t.png")
    assert missing.exit_code == 1
    assert missing.output.strip() == f"Error: tree file not found: {files / 'none.nwk'}"
    assert not (files / "t.png").exists()


def test_cli_without_matplotlib_says_how_to_install(files, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib...` now raises ImportError
    for name in list(sys.modules):
        if name.startswith("matplotlib."):
            monkeypatch.setitem(sys.modules, name, None)
    result = run("plot", files / "tree.nwk", "--out", files / "t.png")
    assert result.exit_code == 1
    assert result.output.strip() == 'Error: pictures need matplotlib; install it with: pip install "l2h[plot]"'
    assert not (files / "t.png").exists()


def test_deep_caterpillar_is_drawn_without_recursion():
    from l2h.plot import plot_dendrogram

    k = 300
    tree = Hierarchy.from_merges([[0, 1]] + [[i, k + i - 2] for i in range(2, k)])
    limit = sys.getrecursionlimit()
    fig = plot_dendrogram(tree, max_leaves=None)
    assert len(fig.axes[0].get_yticklabels()) == k
    k = 100_000
    deep = Hierarchy.from_merges([[0, 1]] + [[i, k + i - 2] for i in range(2, k)])
    sys.setrecursionlimit(200)  # any recursion over the 100 000 levels would fail
    try:
        fig = plot_dendrogram(deep, layout="radial")
    finally:
        sys.setrecursionlimit(limit)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert len(labels) == 100 and labels[-1] == f"n{k + (k - 100) - 1}: {k - 99:,} leaves"


def test_saved_pictures_are_valid_files(case, tmp_path):
    import struct
    import xml.etree.ElementTree as ET

    from l2h.plot import plot_dendrogram, save_figure

    tree, _, _, stats = case
    fig = plot_dendrogram(tree, stats)
    for suffix in (".png", ".svg", ".pdf"):
        save_figure(fig, tmp_path / f"t{suffix}", dpi=80)
    png = (tmp_path / "t.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR" and png.endswith(b"IEND\xaeB`\x82")
    width, height = struct.unpack(">II", png[16:24])
    assert 200 < width < 2000 and 100 < height < 2000
    root = ET.parse(tmp_path / "t.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "a  cat 100%  n=2" in texts  # text kept as <text>, not glyph paths
    pdf = (tmp_path / "t.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")


def _pdf_objects(pdf: bytes) -> dict[int, bytes]:
    """Object number -> its body (text before any stream), for the uncompressed xref PDFs matplotlib writes."""
    import re

    out = {}
    for match in re.finditer(rb"(\d+) 0 obj(.*?)endobj", pdf, flags=re.S):
        out[int(match.group(1))] = match.group(2).split(b"stream", 1)[0]
    return out


def test_pdf_fonts_are_embedded_truetype_and_svg_has_text(case, tmp_path):
    import re

    from l2h.plot import plot_class_distances, plot_dendrogram, save_figure

    tree, _, _, stats = case
    for name, fig in (("tree", plot_dendrogram(tree, stats)), ("heat", plot_class_distances(tree, stats))):
        save_figure(fig, tmp_path / f"{name}.pdf")
        objects = _pdf_objects((tmp_path / f"{name}.pdf").read_bytes())
        fonts = [body for body in objects.values() if re.search(rb"/Type\s*/Font\b", body)]
        subtypes = {re.search(rb"/Subtype\s*/(\w+)", body).group(1) for body in fonts}
        assert fonts and subtypes <= {b"TrueType", b"Type0", b"CIDFontType2"}, subtypes  # never Type3
        descriptors = [body for body in objects.values() if re.search(rb"/Type\s*/FontDescriptor", body)]
        assert descriptors and all(b"/FontFile2" in body for body in descriptors)  # the TrueType program is embedded
        save_figure(fig, tmp_path / f"{name}.svg")
        svg = (tmp_path / f"{name}.svg").read_text()
        assert "<text" in svg


def test_k1000_plot_has_a_sane_size_and_folded_triangles(tmp_path):
    import struct

    from l2h.plot import plot_dendrogram, save_figure

    rng = np.random.default_rng(1)
    k = 1000
    tree = Hierarchy.from_merges(random_merges(k, rng))
    leaf = rng.integers(0, k, size=20_000)
    stats = leaf_stats(tree, leaf, leaf % 37)
    fig = plot_dendrogram(tree, stats)
    save_figure(fig, tmp_path / "k1000.png", dpi=40)
    width, height = struct.unpack(">II", (tmp_path / "k1000.png").read_bytes()[16:24])
    assert 200 < width < 1000 and 200 < height < 1000, (width, height)  # 500-2500 px at 100 dpi
    assert max(plot_dendrogram(tree, stats, layout="radial").get_size_inches()) <= 20
    ax = fig.axes[0]
    from l2h.annotate import folded_nodes

    folded = (folded_nodes(tree, 100) >= k).sum()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 100 and len(ax.collections[1].get_paths()) == folded > 50  # one triangle per subtree
    assert sum(" leaves  " in label for label in labels) == folded


def test_ax_parameter_draws_into_a_panel_and_no_default_title(case):
    from matplotlib.figure import Figure

    from l2h.plot import plot_class_distances, plot_dendrogram

    tree, _, _, stats = case
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    assert plot_dendrogram(tree, stats, ax=left) is fig
    assert plot_class_distances(tree, stats, ax=right) is fig
    assert left.get_title(loc="left") == "" and right.get_title(loc="left") == ""
    assert [t.get_text() for t in left.get_yticklabels()][0] == "a  cat 100%  n=2"
    assert len(fig.axes) == 3  # two panels and the heatmap's colour bar


def test_folding_matches_the_level_cut(case):
    from l2h.annotate import folded_nodes
    from l2h.plot import dendrogram_layout

    rng = np.random.default_rng(7)
    for _ in range(20):
        k = int(rng.integers(2, 60))
        tree = Hierarchy.from_merges(random_merges(k, rng))
        for m in (1, 2, k // 2 + 1, k):
            assert sorted(folded_nodes(tree, m).tolist()) == sorted(tree.cut_nodes(m).tolist())
            layout = dendrogram_layout(tree, m)
            assert len(layout.tips) == m and len(layout.internal) == m - 1
            assert sorted(layout.position[v] for v in layout.tips.tolist()) == list(range(m))


def test_heatmap_stays_legible_at_100_classes_and_drops_labels_at_1000():
    from l2h.annotate import LeafStats
    from l2h.plot import plot_class_distances

    rng = np.random.default_rng(2)
    tree = Hierarchy.from_merges(random_merges(60, rng))
    for c, labelled in ((100, True), (1000, False)):
        table = np.zeros((60, c), dtype=np.int64)
        table[np.arange(c) % 60, np.arange(c)] = 3  # every class in one leaf...
        table[rng.integers(0, 60, size=c), np.arange(c)] += 1  # ...and a point elsewhere
        stats = LeafStats(sizes=table.sum(axis=1), table=table)
        fig = plot_class_distances(tree, stats)
        width, height = fig.get_size_inches()
        assert width <= 16 and height <= 15
        ax = fig.axes[0]
        ticks = ax.get_yticklabels()
        assert not ax.texts  # no per-cell values
        if labelled:
            assert len(ticks) == c and min(t.get_fontsize() for t in ticks) >= 4.5
        else:
            assert len(ticks) == 0 and ax.get_xlabel() == "1,000 classes, in tree order"


def test_axis_of_heights_or_none():
    from l2h.plot import plot_dendrogram

    steps = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])  # L2H trees: heights are the steps 1..K-1
    ax = plot_dendrogram(steps).axes[0]
    assert ax.get_xlabel() == "" and len(ax.get_xticks()) == 0 and not ax.spines["bottom"].get_visible()
    heights = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], heights=[0.5, 0.7, 2.0])
    assert plot_dendrogram(heights).axes[0].get_xlabel() == "merge height"
    assert plot_dendrogram(steps, axis=True).axes[0].get_xlabel() == "merge height"


def test_palette_has_no_greys_and_no_repeats():
    from l2h.plot import NEUTRAL
    from l2h.render import palette

    colours = palette(60)
    assert len(set(colours)) == 60 and NEUTRAL not in colours
    for colour in colours:
        rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        assert max(rgb) - min(rgb) > 0.25, colour  # chroma: a grey group would look like the mixed-group branches


def test_heatmap_numbers_contrast_with_their_cells():
    from matplotlib.colors import to_rgb

    from l2h.plot import plot_class_distances

    rng = np.random.default_rng(0)
    tree = Hierarchy.from_merges(random_merges(12, rng))
    leaf = rng.integers(0, 12, size=300)
    stats = leaf_stats(tree, leaf, (leaf + rng.integers(0, 2, size=300)) % 6)
    fig = plot_class_distances(tree, stats)
    ax = fig.axes[0]
    image = ax.images[0]
    values = image.get_array()
    assert len(ax.texts) == values.size
    for text in ax.texts:
        j, i = (round(v) for v in text.get_position())
        r, g, b, _ = image.cmap(image.norm(values[i, j]))
        luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
        assert to_rgb(text.get_color()) == ((1.0, 1.0, 1.0) if luminance < 0.45 else (0.0, 0.0, 0.0))


def test_library_without_matplotlib_says_how_to_install(monkeypatch):
    from l2h.plot import plot_dendrogram

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'^pictures need matplotlib; install it with: pip install "l2h\[plot\]"$'):
        plot_dendrogram(Hierarchy.from_merges([[0, 1]]))


def test_cli_heatmap_suffix_and_labels_checked_before_anything_is_drawn(files):
    bad = run(
        "plot",
        files / "tree.nwk",
        "--out",
        files / "t.png",
        "--assignments",
        files / "leaf.npy",
        "--labels",
        files / "y.npy",
        "--class-distances",
        files / "h.bmp",
    )
    assert bad.exit_code == 1 and len(bad.output.strip().splitlines()) == 1
    assert "--class-distances" in bad.output and "cannot tell the picture format" in bad.output
    assert not (files / "t.png").exists()


def _agg(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _overlaps(boxes) -> list:
    boxes = sorted(boxes, key=lambda b: b.y0)
    return [(a, b) for a, b in zip(boxes, boxes[1:], strict=False) if b.y0 < a.y1 - 0.01]


@pytest.mark.parametrize("k", [10, 350, 1000])
def test_tip_labels_never_overlap(k):
    """Measured by matplotlib's own renderer: the drawn tip labels' boxes are disjoint at any k."""
    from l2h.plot import MIN_LABEL_PT, plot_dendrogram

    rng = np.random.default_rng(k)
    tree = Hierarchy.from_merges(random_merges(1000, rng))
    leaf = rng.integers(0, 1000, size=5_000)
    stats = leaf_stats(tree, leaf, leaf % 37)
    fig = plot_dendrogram(tree, stats, k=k)
    renderer = _agg(fig)
    texts = [t for t in fig.axes[0].get_yticklabels() if t.get_text() and t.get_visible()]
    assert len(texts) >= min(k, 250)  # thinned, not emptied
    assert min(t.get_fontsize() for t in texts) >= MIN_LABEL_PT
    boxes = [t.get_window_extent(renderer) for t in texts]
    assert not _overlaps(boxes)
    axes_box = fig.axes[0].get_window_extent(renderer)
    assert min(b.y0 for b in boxes) >= axes_box.y0 - 2 and max(b.y1 for b in boxes) <= axes_box.y1 + 2


@pytest.mark.parametrize("k", [1000])
def test_radial_tip_labels_never_overlap(k):
    """Rotated labels: neighbours are apart by at least a label's height where they start (their
    closest point, on the circle)."""
    from l2h.plot import MIN_LABEL_PT, plot_dendrogram

    rng = np.random.default_rng(k)
    tree = Hierarchy.from_merges(random_merges(1000, rng))
    fig = plot_dendrogram(tree, k=k, layout="radial")
    _agg(fig)
    ax = fig.axes[0]
    texts = [t for t in ax.texts if t.get_text()]
    assert len(texts) >= min(k, 250) and min(t.get_fontsize() for t in texts) >= MIN_LABEL_PT
    centre = ax.transData.transform((0, 0))
    starts = np.array([ax.transData.transform(t.get_position()) for t in texts]) - centre
    angles = np.sort(np.arctan2(starts[:, 1], starts[:, 0]))
    radius = np.hypot(*starts[0])
    gaps = np.diff(np.concatenate([angles, angles[:1] + 2 * np.pi])) * radius
    height = max(t.get_fontsize() for t in texts) * fig.dpi / 72  # the em box in pixels
    assert gaps.min() >= height * 0.999, (gaps.min(), height)
