"""CLI helpers shared by ``l2h report`` and ``l2h gallery`` (the views that show example images)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

FILE = click.Path(path_type=Path, dir_okay=False)


def view_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The views' data options, spelled as every view spells them (team vocabulary)."""
    options = [
        click.option("--logits", "logits_path", type=FILE, default=None, help="The flat model's logits (N x K)."),
        click.option(
            "--assignments", "assignments_path", type=FILE, default=None, help="Leaf id (0..K-1) of every point."
        ),
        click.option("--labels", "labels_path", type=FILE, default=None, help="Ground truth per point."),
        click.option("--class-names", "class_names_path", type=FILE, default=None, help="Line i names class id i."),
        click.option("--leaf-names", "leaf_names_path", type=FILE, default=None, help="Line j names cluster/leaf j."),
        click.option("--key", default=None, help="Array name inside an .npz (or .pt dict) of logits."),
        click.option(
            "--groups", "groups_path", type=FILE, default=None, help="Class -> group map ('class<TAB>group' lines)."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def images_option(required: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--images",
        "images_path",
        type=click.Path(path_type=Path),
        required=required,
        default=None,
        help="The points' images: a folder (files sorted by path), a paths.txt (one per line, e.g. from "
        "`l2h logits`), or an .npy of images N x H x W [x C]. Needs --logits or --assignments.",
    )


def points_and_confidence(tree, logits_path: Path | None, assignments_path: Path | None, key: str | None):  # noqa: ANN001, ANN201
    """Every point's leaf and, from logits, its largest softmax probability (None from assignments)."""
    import numpy as np

    from l2h.io import load_array
    from l2h.metrics import check_assignments

    if logits_path is not None:
        logits = load_array(logits_path, key=key, name="logits")
        return tree.assign(logits), max_probability(logits)
    leaf = check_assignments(np.asarray(load_array(assignments_path, name="assignments")), tree.n_leaves)
    return leaf, None


def max_probability(logits, chunk: int = 65536):  # noqa: ANN001, ANN201
    """Largest softmax probability of every row, in chunks (memory maps stay maps)."""
    import numpy as np

    out = np.empty(logits.shape[0])
    for lo in range(0, logits.shape[0], chunk):
        block = np.asarray(logits[lo : lo + chunk], dtype=np.float64)
        block = block - block.max(axis=1, keepdims=True)
        out[lo : lo + chunk] = 1.0 / np.exp(block).sum(axis=1)
    return out
