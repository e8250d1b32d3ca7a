"""CLI helpers shared by ``l2h report`` and ``l2h gallery`` (the views that show example images); the
data options and loaders are the views' shared ones in :mod:`l2h_cli._inputs`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from l2h_cli._inputs import point_leaves

from l2h.hierarchy import _dont_need, _read_only_map
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


def max_probability(logits, chunk: int = 65536):  # noqa: ANN001, ANN201
    """Largest softmax probability of every row, in blocks of at most ~16 MB of float64 (memory maps
    stay maps, and a read-only one drops each block's pages once read)."""

    out = np.empty(logits.shape[0])
    step = max(1, min(chunk, (16 << 20) // max(1, 8 * logits.shape[1])))
    drop = _read_only_map(logits)
    for lo in range(0, logits.shape[0], step):
        block = np.asarray(logits[lo : lo + step], dtype=np.float64)
        block -= block.max(axis=1, keepdims=True)
        np.exp(block, out=block)
        out[lo : lo + step] = 1.0 / block.sum(axis=1)
        if drop is not None:
            _dont_need(drop)
    return out
