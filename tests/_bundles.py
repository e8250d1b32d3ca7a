"""The kernels' state bundles (see :mod:`l2h.build._kernels`) built from the few arrays a test sets."""

from __future__ import annotations

import numpy as np


def groups_bundle(grp: np.ndarray, slot_node: np.ndarray, size: np.ndarray, parent: np.ndarray) -> tuple:
    """A ``groups`` bundle whose arrays a G† choice reads (``size``, ``grp``, ``slot_node``,
    ``parent``) are the given ones; the others are placeholders of the right types."""
    ints = np.zeros(1, dtype=np.int64)
    stats = np.zeros((2, 1))
    return (ints, ints, ints, size, grp, slot_node, ints, parent, ints, stats, stats, np.zeros(1))
