"""Random trees for the tests and the benchmarks."""

from __future__ import annotations

import numpy as np


def random_merges(k: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random merge sequence over k leaves (scipy numbering), in O(k log k).

    Each merge joins two nodes drawn from the live ones, listed in the order they were made (leaves
    first, each merge's node appended).  A Fenwick tree over the 2k - 1 node ids finds the i-th live
    node, so K = 21 841 (the report's largest case) takes a second, and every seed gives the tree
    it gave when the list was filtered at each step.
    """
    size = 2 * k - 1
    tree = np.zeros(size + 1, dtype=np.int64).tolist()  # 1-based Fenwick counts of the live ids

    def add(node: int, delta: int) -> None:
        i = node + 1
        while i <= size:
            tree[i] += delta
            i += i & -i

    def find(rank: int) -> int:  # the node of 0-based ``rank`` among the live ones
        pos, step = 0, 1 << size.bit_length()
        while step:
            if pos + step <= size and tree[pos + step] <= rank:
                pos += step
                rank -= tree[pos]
            step >>= 1
        return pos

    for leaf in range(k):
        add(leaf, 1)
    merges = np.empty((k - 1, 2), dtype=np.int64)
    for t in range(k - 1):
        a, b = rng.choice(k - t, size=2, replace=False)
        na, nb = find(int(a)), find(int(b))
        merges[t] = na, nb
        add(na, -1)
        add(nb, -1)
        add(k + t, 1)
    return merges
