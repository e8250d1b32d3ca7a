"""The group scores of step 1, by name, and the codes the kernels know them by.

A group's score comes from its per-node statistics: point count, double-double sum of ``conf`` over
``D_G`` and double-double sum of the cluster-wise mean confidences.  :data:`CODES` is the one table
from a name to the integer the kernels branch on (``l2h.build._kernels.node_score`` reads the same
constants), so the Python and compiled scores cannot drift apart by reordering a dict.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from l2h.build.exact import dd_div

__all__ = ["AGGREGATIONS", "CLUSTER_MEAN", "CODES", "MEAN", "SUM"]

# The kernels' codes (module constants: Numba freezes them into the compiled code).
CLUSTER_MEAN = 0
SUM = 1
MEAN = 2


# Vectorised over nodes (also on 0-d arrays).
def _score_cluster_mean(count, conf_hi, conf_lo, cmean_hi, cmean_lo):
    """``Σ_{c∈G} mean_{x∈D_c} conf(x)`` (the paper's default; an empty cluster adds 0)."""
    return cmean_hi + cmean_lo


def _score_sum(count, conf_hi, conf_lo, cmean_hi, cmean_lo):
    """``Σ_{x∈D_G} conf(x)``."""
    return conf_hi + conf_lo


def _score_mean(count, conf_hi, conf_lo, cmean_hi, cmean_lo):
    """``mean_{x∈D_G} conf(x)``, 0 when D_G is empty."""
    return np.where(count > 0, dd_div(conf_hi, conf_lo, np.maximum(count, 1)), 0.0)


#: Group scores of step 1, by name (the valid ``aggregation`` values; no numba needed to import).
AGGREGATIONS: dict[str, Callable[..., np.ndarray]] = {
    "cluster-mean": _score_cluster_mean,
    "sum": _score_sum,
    "mean": _score_mean,
}

#: The kernels' code of each aggregation.
CODES: dict[str, int] = {"cluster-mean": CLUSTER_MEAN, "sum": SUM, "mean": MEAN}
