"""The single-machine L2H build: from an (N, K) logits matrix to a binary tree over its K clusters.

Palumbo et al., "From Logits to Hierarchies: Hierarchical Clustering made Simple", ICML 2025
(Algorithm 1); the exact procedure and the choices the paper leaves open are in ``docs/algorithm.md``.
:func:`l2h.build_hierarchy` is the public entry (it sends a Dask build to :mod:`l2h.distributed`).

Modules, each importing only those above it in this list:

* :mod:`~l2h.build.exact`: double-double arithmetic, the tie rule (``TIE_RTOL``), the reduction's
  part count;
* :mod:`~l2h.build.aggregations`: the group scores by name and their kernel codes;
* :mod:`~l2h.build.inputs`: logits, probabilities and log-probabilities into the arrays the kernels
  read (the one kernel-dtype rule);
* :mod:`~l2h.build._kernels`: the Numba kernels;
* :mod:`~l2h.build.small`: the same kernels run by the interpreter, for small inputs (no compilation;
  ``L2H_KERNELS`` forces either path);
* :mod:`~l2h.build.scratch`: the out-of-core copy of the logits;
* :mod:`~l2h.build.groups`: group lists, scores and decisions (what the Dask driver needs);
* :mod:`~l2h.build.points`: the per-point state, the visits and ``rp`` (holds a ``Groups``);
* :mod:`~l2h.build.strategies`: lowest-score and all-pairs over a build;
* :mod:`~l2h.build.api`: option checks, the whole single-machine build, the output tree;
* :mod:`~l2h.build.warmup`: compile every kernel ahead of time.

How it runs:

1. One streaming pass over row chunks (memory maps are read, never copied) computes per point its
   argmax ``a(x)``, row maximum, ``Σ_{j≠a(x)} exp(L_j - max)`` (double-double) and its few largest
   entries, and detects NaN/±inf rows.  Per-cluster counts and confidence sums follow, so every
   group score is a sum of per-cluster constants: scores never revisit the points.
2. Each merge visits only the points of ``D_{G*}``.  A visited point's masked argmax comes from its
   stored top entries (refilled from the masked row when its group has swallowed all of them), and
   ``Σ_{j∉G*} exp(L_j - max)`` from its stored double-double sum minus the clusters that joined its
   group since its last visit (each cluster is subtracted once per point over the whole build);
   where that sum has lost too many digits to cancellation (confident points, ``1 - p``
   underflowing) it is recomputed exactly from the row.  The per-point state is kept in bucket
   order, so the points of a group have contiguous state.
3. Groups with empty ``D_{G*}`` (only possible when some cluster is empty) use soft membership:
   one pass over the points, reading only the group's columns (transposed into bucket order, a
   window of them at a time).  They score 0, so they all come first, and until two groups with
   points merge each group holds at most one non-empty cluster, which makes the G† choice a pass
   over dense per-cluster arrays.

Small merges (soft ones over fewer than 65 536 exponentials, and ones whose G* has fewer than 4096
points) run in batches inside one kernel call (``soft_merges``, ``hard_merges``): the same steps,
decisions and values as one merge at a time, without a round trip through Python per merge (at
K = 50 000 that round trip alone was seconds).

Memory: O(N) per-point state (about 115 bytes per point with T = 4 stored top entries) plus O(K)
per group; the logits are only read.  Logits larger than the memory: the first pass also writes a
copy of the rows sorted by argmax within big chunks, and the build reads that copy from then on, in
its row order (:mod:`l2h.build.scratch`, ``scratch_dir``; same tree, bit for bit).

Float ties: see :mod:`l2h.build.exact`.
"""

from __future__ import annotations

from l2h.build.aggregations import AGGREGATIONS
from l2h.build.api import build_local, check_options
from l2h.build.exact import TIE_RTOL
from l2h.build.inputs import INPUTS
from l2h.build.strategies import STRATEGIES

__all__ = ["AGGREGATIONS", "INPUTS", "STRATEGIES", "TIE_RTOL", "build_local", "check_options"]
