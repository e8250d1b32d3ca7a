"""Random trees for the tests."""

from __future__ import annotations

import numpy as np


def random_merges(k: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random merge sequence over k leaves (scipy numbering)."""
    alive = list(range(k))
    merges = []
    for t in range(k - 1):
        a, b = rng.choice(len(alive), size=2, replace=False)
        na, nb = alive[a], alive[b]
        merges.append((na, nb))
        alive = [x for x in alive if x not in (na, nb)] + [k + t]
    return np.array(merges)
