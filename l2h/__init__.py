"""l2h: hierarchical clustering from the logits of trained models.

Implements L2H (Palumbo et al., "From Logits to Hierarchies: Hierarchical Clustering made Simple",
ICML 2025): the K clusters of any flat model are merged into a binary tree from its logits alone.

Public API
----------
build_hierarchy(logits, aggregation=..., strategy=...) -> Hierarchy
    Run L2H on an (N, K) logits array (memory maps welcome).
L2H(aggregation=..., strategy=..., n_clusters=None)
    The same as a scikit-learn-style estimator: ``fit(logits)``, ``children_``, ``distances_``,
    ``n_leaves_``, ``labels_``, ``predict(logits)``.
Hierarchy
    Frozen, array-backed binary tree (scipy linkage numbering): cut, assign, path lengths,
    Newick / JSON / scipy export.
read_tree(path), write_tree(hierarchy, path)
    Newick (.nwk), JSON (.json) or scipy linkage (.npy) files, written atomically.
load_array(path, key=None)
    Load logits/labels from .npy (memory-mapped), .npz, .csv/.tsv or .pt.
L2HWarning
    Warning class for recoverable oddities (e.g. empty clusters).

l2h.metrics.evaluate(tree, labels, assignments=... | logits=..., levels=...) -> dict
    NMI, ARI, ACC, leaf purity, dendrogram purity, LHD and per-level scores, exact, from the
    leaf x class count table (also ``contingency_table``, ``class_distance_matrix``, ...).
l2h.compare.compare(tree, reference) -> dict
    Score a tree against a reference taxonomy (cophenetic correlation, triplets, RF, per-level).
l2h.agglomerative.agglomerative_hierarchy(embeddings, k) -> (Hierarchy, assignments)
    Ward baseline cut into k clusters, in the same tree encoding.

iTOL annotation files are written by :mod:`l2h.itol`, terminal views by :mod:`l2h.render`,
pictures by :mod:`l2h.plot` (extra ``plot``).
"""

import importlib as _importlib

from l2h._validation import InputError, L2HWarning

#: The package version; pyproject.toml reads it from here (``[tool.setuptools.dynamic]``).
__version__ = "0.1.0"

__all__ = [
    "L2H",
    "Hierarchy",
    "InputError",
    "L2HWarning",
    "build_hierarchy",
    "load_array",
    "read_taxonomy",
    "read_tree",
    "write_tree",
    "__version__",
]


#: Submodules reached as attributes of ``l2h`` (imported on first use).
_SUBMODULES = ("compare", "metrics")


def __getattr__(name: str) -> object:
    # The rest is imported on first use, so `import l2h` loads no Numba and none of the tree,
    # file, metrics or build modules.
    if name in ("Hierarchy", "read_tree"):
        from l2h.hierarchy import Hierarchy, read_tree

        return {"Hierarchy": Hierarchy, "read_tree": read_tree}[name]
    if name == "load_array":
        from l2h.arrays import load_array

        return load_array
    if name == "write_tree":
        from l2h.io import write_tree

        return write_tree
    if name == "read_taxonomy":
        from l2h.taxonomy import read_taxonomy

        return read_taxonomy
    if name == "build_hierarchy":
        from l2h.merge import build_hierarchy

        return build_hierarchy
    if name == "L2H":
        from l2h.estimator import L2H

        return L2H
    if name in _SUBMODULES:
        return _importlib.import_module(f"l2h.{name}")
    raise AttributeError(f"module 'l2h' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the public API only: what __all__ lists and the public submodules, not the imports' leftovers
    return sorted({*__all__, *_SUBMODULES})
