"""One self-contained, offline HTML file to explore a hierarchy (``l2h report``).

The page holds everything: the CSS and JavaScript written for this project (``report.css``,
``report.js`` next to this file), inlined, and the tree with its statistics as a JSON block.  A
Content-Security-Policy ``default-src 'none'`` with the hashes of the inline script and style forbids
any network request, so the file opens the same from disk, an e-mail attachment or an air-gapped
machine.  It shows the tree (collapsible, zoomable, rectangular or radial), per node its points,
majority class, purity and class-composition bar, search by leaf or class name, colours by group,
the level-``k`` cut on a slider and, given images, the most confident points of every leaf as
embedded thumbnails.

Examples
--------
>>> import numpy as np
>>> from l2h import Hierarchy
>>> from l2h.annotate import leaf_stats
>>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["cat", "dog", "car", "bus"])
>>> html = build_report(tree, leaf_stats(tree, np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1])))
>>> html.startswith("<!DOCTYPE html>") and "default-src 'none'" in html
True
"""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import io
import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from l2h.annotate import LeafStats, NodeCounts, clade_keys, group_colors, one_line
from l2h.hierarchy import Hierarchy, check_k
from l2h.images import DEFAULT_MAX_PIXELS, check_max_pixels, open_image

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageSource",
    "build_report",
    "csp_hash",
    "image_inputs",
    "load_images",
    "report_data",
    "thumbnail_points",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
PILLOW_HINT = 'thumbnails need Pillow; install it with: pip install "l2h[plot]"'
#: Most thumbnails in one report (about 1-2 KB each at 48 px): bounds the file size.
MAX_THUMBNAILS = 4000
THUMB_SIZE = 48
#: Most points whose indices the page holds (4 bytes each, base64): above, no per-point downloads.
MAX_POINTS = 5_000_000
CLADE_SAMPLE = 32


def _asset(name: str) -> str:
    return resources.files("l2h.report").joinpath(name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- images
@dataclass
class ImageSource:
    """The images of the N points, read on demand: an ``.npy`` array (N, H, W[, C]) or image files."""

    n: int
    array: np.ndarray | None = None
    paths: list[Path] | None = None
    scale: float = 1.0
    max_pixels: int = DEFAULT_MAX_PIXELS

    def image(self, i: int, size: int = THUMB_SIZE):  # noqa: ANN201 - a PIL image
        """Point ``i`` as a PIL image no larger than ``size`` (small array images are kept as they are)."""
        try:
            from PIL import Image
        except ImportError:
            raise ImportError(PILLOW_HINT) from None
        if self.array is not None:
            pixels = np.asarray(self.array[i])
            if pixels.dtype != np.uint8 or self.scale != 1.0:  # uint8 images are shown as they are
                pixels = np.clip(np.rint(pixels.astype(np.float64) * self.scale), 0, 255).astype(np.uint8)
            if pixels.ndim == 3 and pixels.shape[2] == 1:
                pixels = pixels[:, :, 0]
            image = Image.fromarray(pixels)
        else:
            assert self.paths is not None
            with open_image(self.paths[i], self.max_pixels) as opened:
                opened.draft("RGB", (size * 2, size * 2))  # JPEG: decode at a reduced scale
                image = opened.convert("RGB")
        if max(image.size) > size:
            image.thumbnail((size, size))
        return image

    def pixels(self, i: int, size: int = THUMB_SIZE) -> np.ndarray:
        """Point ``i`` as a ``size`` x ``size`` x 3 uint8 tile: scaled to fit (nearest neighbour for
        small images, so that 8 x 8 digits stay sharp), centred on black."""
        from PIL import Image

        image = self.image(i, size).convert("RGB")
        scale = size / max(image.size)
        if scale > 1:
            image = image.resize(
                (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale))), Image.Resampling.NEAREST
            )
        tile = np.zeros((size, size, 3), dtype=np.uint8)
        w, h = image.size
        top, left = (size - h) // 2, (size - w) // 2
        tile[top : top + h, left : left + w] = np.asarray(image)
        return tile

    def thumbnail(self, i: int, size: int = THUMB_SIZE) -> str:
        """Point ``i`` as a ``data:`` URI: PNG for small array images (lossless), JPEG otherwise."""
        image = self.image(i, size)
        buffer = io.BytesIO()
        if self.array is not None and max(np.shape(self.array)[1:3]) <= size:
            image.save(buffer, format="PNG", compress_level=6)  # optimize=True: 3x the time, a few % smaller
            mime = "image/png"
        else:
            if image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            image.save(buffer, format="JPEG", quality=70, optimize=True)
            mime = "image/jpeg"
        return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _folder_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _listed_images(path: Path, lines: list[str]) -> list[Path]:
    base = path.parent
    return [Path(line) if Path(line).is_absolute() else base / line for line in lines]


def image_inputs(path: str | os.PathLike[str]) -> list[Path]:
    """Every file that :func:`load_images` reads from ``path``, for the output guard.

    ``path`` itself and, for a folder, its image files; for a list of paths, the files it names.
    Best effort: a source that cannot be read gives just ``[path]`` (its reader reports why).

    Parameters
    ----------
    path : str or os.PathLike
        The ``--images`` value: an ``.npy``, a list of paths or a folder.

    Returns
    -------
    list of Path
        ``path`` first, then the image files it stands for.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = pathlib.Path(tmp, "a.png").write_bytes(b"")
    ...     [p.name for p in image_inputs(tmp)[1:]]
    ['a.png']
    """
    path = Path(path)
    try:
        if path.is_dir():
            return [path, *_folder_images(path)]
        if path.is_file() and path.suffix.lower() != ".npy":
            from l2h.arrays import read_names

            return [path, *_listed_images(path, read_names(path, name="--images"))]
    except (OSError, ValueError):
        pass
    return [path]


def load_images(path: str | os.PathLike[str], n_points: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageSource:
    """The images of ``n_points`` points from ``path``.

    ``path`` is an ``.npy`` of images (N x H x W, or N x H x W x C with C = 1, 3 or 4; any numeric
    dtype: uint8 as is, other values scaled so that the largest is white), a text file with one image
    path per line (``paths.txt`` from ``l2h logits``; relative paths are relative to the file's folder),
    or a folder whose image files, sorted by their path, are the points in order.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npy`` file, list of paths or image folder.
    n_points : int
        Number of points; the source must hold exactly that many images.
    max_pixels : int, default 64 000 000
        Largest image file (width x height) decoded; checked from each file's header.

    Returns
    -------
    ImageSource
        Lazily read images (the ``.npy`` is memory-mapped).

    Raises
    ------
    InputError
        If ``path`` is missing, unreadable, of the wrong shape or dtype, or holds another number of
        images.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp, "images.npy")
    ...     np.save(path, np.zeros((3, 4, 4), dtype=np.uint8))
    ...     load_images(path, 3).n
    3
    """
    from l2h._validation import InputError

    max_pixels = check_max_pixels(max_pixels)
    path = Path(path)
    if not path.exists():
        raise InputError(f"--images {path} not found")
    if path.is_dir():
        files = _folder_images(path)
        if len(files) != n_points:
            raise InputError(f"--images folder {path} holds {len(files)} image files but there are {n_points} points")
        return ImageSource(n_points, paths=files, max_pixels=max_pixels)
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"--images {path} cannot be read as a .npy array: {exc}") from None
        if (
            array.dtype.kind not in "uif"
            or array.ndim not in (3, 4)
            or (array.ndim == 4 and array.shape[3] not in (1, 3, 4))
        ):
            raise InputError(
                f"--images {path} must hold numeric images of shape (N, H, W) or (N, H, W, C) with C in 1, 3, 4; "
                f"got {array.dtype} {array.shape}"
            )
        if array.shape[0] != n_points:
            raise InputError(f"--images {path} holds {array.shape[0]} images but there are {n_points} points")
        scale = 1.0
        if array.dtype != np.uint8:
            top = float(np.nanmax(array)) if array.size else 1.0
            scale = 255.0 / top if top > 0 else 1.0
        return ImageSource(n_points, array=array, scale=scale)
    from l2h.arrays import read_names

    lines = read_names(path, name="--images")
    if len(lines) != n_points:
        raise InputError(f"--images list {path} names {len(lines)} images but there are {n_points} points")
    return ImageSource(n_points, paths=_listed_images(path, lines), max_pixels=max_pixels)


def thumbnail_points(
    assignments: ArrayLike,
    n_leaves: int,
    confidence: ArrayLike | None = None,
    per_leaf: int = 16,
    max_total: int = MAX_THUMBNAILS,
) -> dict[int, list[int]]:
    """The points shown for every leaf, most confident first.

    Each leaf gets its ``per_leaf`` most confident points (highest ``confidence``; the first ones
    without), fewer per leaf when ``n_leaves * per_leaf`` exceeds ``max_total`` (and only the
    ``max_total`` largest leaves get one when there are more leaves than that).

    Parameters
    ----------
    assignments : ArrayLike of int, shape (N,)
        Leaf id of every point, in ``0..n_leaves - 1``.
    n_leaves : int
        Number of leaves K.
    confidence : ArrayLike of float, shape (N,), optional
        Confidence of every point; by default the point order.
    per_leaf : int, default 16
        Most points per leaf.
    max_total : int, default MAX_THUMBNAILS
        Most points in all.

    Returns
    -------
    dict of int to list of int
        Leaf id -> point indices, most confident first; the largest leaves first, empty leaves left
        out (an empty dict when ``per_leaf`` or ``max_total`` is below 1).

    Examples
    --------
    >>> thumbnail_points([0, 0, 1, 2, 3, 3, 3], 4, [0.1, 0.9, 0.5, 0.5, 0.2, 0.8, 0.3], per_leaf=2)
    {3: [5, 6], 0: [1, 0], 1: [2], 2: [3]}
    """
    leaf = np.asarray(assignments, dtype=np.int64)
    if per_leaf < 1 or max_total < 1:
        return {}
    sizes = np.bincount(leaf, minlength=n_leaves)
    each = max(1, min(per_leaf, max_total // max(int((sizes > 0).sum()), 1)))
    key = np.zeros(len(leaf)) if confidence is None else -np.asarray(confidence, dtype=np.float64)
    order = np.lexsort((np.arange(len(leaf)), key, leaf))  # by leaf, then most confident, then index
    starts = np.concatenate([[0], np.cumsum(sizes)])
    ranked = np.argsort(-sizes, kind="stable")
    out: dict[int, list[int]] = {}
    total = 0
    for j in ranked.tolist():
        if sizes[j] == 0 or total >= max_total:
            break
        take = min(each, int(sizes[j]), max_total - total)
        out[j] = order[starts[j] : starts[j] + take].tolist()
        total += take
    return out


# ---------------------------------------------------------------------------------------------- data
def _top_counts(counts: NodeCounts, n_nodes: int, n_cols: int, top: int = 6) -> dict[str, Any]:
    """Majority column (-1 without points), its share and the ``top`` largest columns of every node
    (``C``/``N``: ``top`` entries per node, largest first, count 0 past the columns present), in
    blocks so that no (2K-1) x C table is ever held."""
    n_top = min(top, n_cols)
    majority, purity, comp_c, comp_n = [], [], [], []
    block = max(1, 4_000_000 // max(n_cols, 1))
    for lo in range(0, n_nodes, block):
        table = counts.table(np.arange(lo, min(lo + block, n_nodes)))
        assert table is not None
        total = table.sum(axis=1)
        idx = np.argpartition(-table, n_top - 1, axis=1)[:, :n_top]
        vals = np.take_along_axis(table, idx, axis=1)
        order = np.lexsort((idx, -vals), axis=1)  # largest first, lower column on ties
        idx = np.take_along_axis(idx, order, axis=1)
        vals = np.take_along_axis(vals, order, axis=1)
        share = np.divide(vals[:, 0], total, out=np.zeros(len(total)), where=total > 0)
        majority.append(np.where(total > 0, idx[:, 0], -1))
        purity.append(np.round(share, 4))
        comp_c.append(idx.ravel())
        comp_n.append(vals.ravel())
    return {
        "maj": np.concatenate(majority).tolist(),
        "pur": np.concatenate(purity).tolist(),
        "top": n_top,
        "C": np.concatenate(comp_c).tolist(),
        "N": np.concatenate(comp_n).tolist(),
    }


def _composition(tree: Hierarchy, stats: LeafStats, counts: NodeCounts, top: int = 6) -> dict[str, Any]:
    """Majority class, purity and top classes of every node (``maj``, ``pur``, ``compC``, ``compN``)."""
    assert stats.table is not None
    out = _top_counts(counts, tree.n_nodes, stats.table.shape[1], top)
    return {"maj": out["maj"], "pur": out["pur"], "compTop": out["top"], "compC": out["C"], "compN": out["N"]}


def _group_composition(tree: Hierarchy, stats: LeafStats, groups: list[str], top: int = 6) -> dict[str, Any]:
    """The same per group of classes (``--groups``): ``gmaj``, ``gpur``, ``gcompC`` (indices into
    ``groups``; -1 for classes without a group), ``gcompN``."""
    assert stats.table is not None and stats.class_groups is not None
    index = {g: i for i, g in enumerate(groups)}
    n_classes = stats.table.shape[1]
    none = len(groups)  # the last column: classes without a group
    of_class = np.full(n_classes, none, dtype=np.int64)
    for c, group in enumerate(stats.class_groups[:n_classes]):
        if group is not None and group in index:
            of_class[c] = index[group]
    table = np.zeros((tree.n_leaves, len(groups) + 1), dtype=np.int64)
    for g in np.unique(of_class).tolist():
        table[:, g] = stats.table[:, of_class == g].sum(axis=1)
    counts = NodeCounts(tree, LeafStats(stats.sizes, table))
    out = _top_counts(counts, tree.n_nodes, table.shape[1], top)
    return {
        "gmaj": [-1 if g == none else g for g in out["maj"]],
        "gpur": out["pur"],
        "gcompTop": out["top"],
        "gcompC": [-1 if g == none else g for g in out["C"]],
        "gcompN": out["N"],
    }


def _points_by_leaf(assignments: ArrayLike, n_leaves: int) -> str:
    """Point indices grouped by leaf (leaf 0's first, ascending within a leaf) as base64 of
    little-endian int32: the page slices it with the points per leaf (``size``)."""
    leaf = np.asarray(assignments, dtype=np.int64)
    order = np.argsort(leaf, kind="stable").astype("<i4")
    return base64.b64encode(order.tobytes()).decode("ascii")


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in values.tolist()]


def report_data(
    tree: Hierarchy,
    stats: LeafStats | None = None,
    *,
    title: str | None = None,
    thumbnails: dict[int, list[int]] | None = None,
    images: ImageSource | None = None,
    assignments: ArrayLike | None = None,
) -> dict:
    """The JSON the page reads (see ``report.js``).

    It holds the merges, names, points, majority classes, purities, top compositions, colours and
    thumbnails.  Every user-supplied name passes through :func:`l2h.annotate.one_line`.

    Parameters
    ----------
    tree : Hierarchy
        The tree.
    stats : LeafStats, optional
        Points, classes and groups per leaf; without it only the tree is shown.
    title : str, optional
        Page title; by default ``"L2H tree: <K> leaves"``.
    thumbnails : dict of int to list of int, optional
        Leaf id -> point indices (see :func:`thumbnail_points`); needs ``images``.
    images : ImageSource, optional
        Where the thumbnails come from (see :func:`load_images`).
    assignments : array_like of int, shape (N,), optional
        Leaf of every point: the page can then download the point indices under a node and the
        level-``k`` assignment of the points (up to ``MAX_POINTS`` points).

    Returns
    -------
    dict
        JSON-serialisable data (``K``, ``names``, ``merges``, ``heights``, ``score``, ``rel``,
        ``size``, ``maj``, ``pur``, ``classes``, ``groups``, ``colors``, ``clade``, group
        composition ``gmaj``/``gcompC``/... with class groups, ``points``, ``thumbs``, ...).

    Examples
    --------
    >>> from l2h import Hierarchy
    >>> from l2h.annotate import leaf_stats
    >>> tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    >>> stats = leaf_stats(tree, np.array([0, 0, 1, 2, 3, 3, 3]), np.array([0, 0, 0, 1, 1, 1, 0]))
    >>> data = report_data(tree, stats, title="toy")
    >>> data["title"], data["K"], data["size"]
    ('toy', 4, [2, 1, 1, 3, 3, 4, 7])
    """
    stats = stats or LeafStats()
    k = tree.n_leaves
    data: dict = {
        "title": one_line(title or f"L2H tree: {k:,} leaves"),
        "K": k,
        "names": [one_line(name) for name in tree.leaf_names],
        "merges": tree.merges.ravel().tolist(),
        "heights": tree.heights.tolist(),
        "score": _finite_or_none(tree.scores),
        "rel": _finite_or_none(tree.relatedness),
        "size": None,
        "maj": None,
        "pur": None,
        "compTop": 0,
        "compC": None,
        "compN": None,
        "classes": [],
        "classColor": [],
        "groups": [],
        "colors": [],
        "clade": None,
        "groupTitle": "group" if stats.class_groups is not None else "majority class",
        "thumbs": None,
        "gmaj": None,
        "points": None,
    }
    if stats.table is not None and stats.sizes is None:  # a hand-made LeafStats: points from the table
        stats = LeafStats(stats.table.sum(axis=1), stats.table, stats.class_names, stats.class_groups)
    counts = NodeCounts(tree, stats)
    if stats.sizes is not None:
        data["size"] = counts.sizes(np.arange(tree.n_nodes)).tolist()  # type: ignore[union-attr]
    if stats.table is not None:
        data.update(_composition(tree, stats, counts))
        n_classes = stats.table.shape[1]
        data["classes"] = [one_line(stats.class_name(c)) for c in range(n_classes)]
        colors = group_colors(tree, stats)
        groups = list(colors)
        index = {g: i for i, g in enumerate(groups)}
        data["groups"] = [one_line(g) for g in groups]
        data["colors"] = [colors[g] for g in groups]
        class_key = [
            (stats.class_groups[c] if stats.class_groups is not None else stats.class_name(c)) for c in range(n_classes)
        ]
        data["classColor"] = [index.get(key, -1) if key is not None else -1 for key in class_key]
        keys = clade_keys(tree, stats.leaf_groups())
        data["clade"] = [index.get(key, -1) if key is not None else -1 for key in keys]
        if stats.class_groups is not None:
            data.update(_group_composition(tree, stats, groups))
    if assignments is not None and stats.sizes is not None:
        n_points = int(stats.sizes.sum())
        if np.shape(assignments) != (n_points,):
            raise ValueError(f"assignments has {np.size(assignments)} entries but the leaves hold {n_points} points")
        if n_points <= MAX_POINTS:
            data["points"] = _points_by_leaf(assignments, k)
    if thumbnails and images is not None:
        uris: list[str] = []
        points: list[int] = []
        per_leaf: dict[str, list[int]] = {}
        for leaf_id, chosen in thumbnails.items():
            per_leaf[str(leaf_id)] = list(range(len(uris), len(uris) + len(chosen)))
            for i in chosen:
                uris.append(images.thumbnail(i))
                points.append(int(i))
        data["thumbs"] = {"data": uris, "point": points, "leaf": per_leaf, "clade": CLADE_SAMPLE}
    return data


def csp_hash(text: str) -> str:
    """The Content-Security-Policy source that allows one inline script or style: its SHA-256.

    Parameters
    ----------
    text : str
        The element's exact content (UTF-8).

    Returns
    -------
    str
        ``sha256-<base64 digest>``, to be quoted in ``script-src`` / ``style-src``.

    Examples
    --------
    >>> csp_hash("")
    'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='
    """
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def build_report(
    tree: Hierarchy,
    stats: LeafStats | None = None,
    *,
    title: str | None = None,
    assignments: ArrayLike | None = None,
    confidence: ArrayLike | None = None,
    images: ImageSource | None = None,
    per_leaf: int = 16,
    max_thumbnails: int = MAX_THUMBNAILS,
    k: int | None = None,
) -> str:
    """The report page as one HTML string.

    Parameters
    ----------
    tree : Hierarchy
    stats : LeafStats, optional
        Points, labels, class names and groups (:func:`l2h.annotate.leaf_stats`).
    title : str, optional
    assignments : array_like of int, shape (N,), optional
        Leaf of every point: the page offers the point indices and k-group assignment of a node as
        downloads; with ``images``, picks the thumbnails.
    confidence : array_like of float, shape (N,), optional
        How sure the model is of every point (e.g. its largest softmax probability): the most
        confident points of each leaf are shown.  Without it, the first points of each leaf.
    images : ImageSource, optional
        :func:`load_images`.
    per_leaf : int
        Thumbnails per leaf (default 16), fewer when ``K * per_leaf`` exceeds ``max_thumbnails``.
    max_thumbnails : int
        Most thumbnails in the file (default 4000: at most about 8 MB of images at 48 px).
    k : int, optional
        Open the page with the tree cut into ``k`` groups (the page's k box; default: no cut).

    Returns
    -------
    str
    """
    if k is not None:
        k = check_k(k, tree.n_leaves)
    chosen = None
    if images is not None and assignments is not None:
        chosen = thumbnail_points(assignments, tree.n_leaves, confidence, per_leaf, max_thumbnails)
    data = report_data(tree, stats, title=title, thumbnails=chosen, images=images, assignments=assignments)
    data["k"] = 0 if k is None else k
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    # inside <script>, "</" and "<!--" would end or confuse the block: JSON allows "\u003c" for "<"
    payload = payload.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    css = _asset("report.css")
    js = _asset("report.js")
    csp = (
        f"default-src 'none'; script-src '{csp_hash(js)}'; style-src '{csp_hash(css)}'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    from l2h import __version__

    values = {
        "CSP": csp,
        "VERSION": __version__,
        "TITLE": html_lib.escape(data["title"]),
        "CSS": css,
        "DATA": payload,
        "JS": js,
    }
    # one pass: a name that happens to contain "__JS__" is not a marker
    return re.sub(r"__(CSP|VERSION|TITLE|CSS|DATA|JS)__", lambda m: values[m.group(1)], _asset("template.html"))
