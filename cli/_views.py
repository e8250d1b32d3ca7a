"""CLI helpers shared by ``l2h report`` and ``l2h gallery`` (the views that show example images); the
data options and loaders are the views' shared ones in :mod:`l2h_cli._inputs`."""

from __future__ import annotations

from pathlib import Path

from l2h_cli._inputs import point_leaves

from l2h.annotate import max_probability
from l2h.io import load_array


def points_and_confidence(  # noqa: ANN201
    tree,  # noqa: ANN001
    tree_path: Path,
    logits_path: Path | None,
    assignments_path: Path | None,
    key: str | None,
):
    """Every point's leaf and, from logits, its largest softmax probability (None from assignments)."""
    leaf, _ = point_leaves(tree, tree_path, logits_path, assignments_path, key)
    if logits_path is None:
        return leaf, None
    return leaf, max_probability(load_array(logits_path, key=key, name="logits"))
