"""A scikit-learn-style estimator around :func:`l2h.build_hierarchy`.

``L2H`` follows scikit-learn's conventions (no work in ``__init__``, ``get_params`` /
``set_params``, fitted attributes end in ``_``, a :class:`NotFittedError` before ``fit``) without
importing scikit-learn: it is only needed to run its estimator checks.

Its attributes mirror :class:`sklearn.cluster.AgglomerativeClustering`'s, with one difference of
meaning: the leaves of the tree are the K *clusters* of the flat model (the columns of the logits),
not the N points.  So ``children_`` has shape ``(K - 1, 2)`` and ``n_leaves_ == K``, while
``labels_`` has one entry per point (its group, through its leaf ``argmax``).  The numbering is the
same: ``children_[t]`` are the two nodes merged at step ``t``, a value below ``n_leaves_`` is a leaf
and a value ``v >= n_leaves_`` the node made at step ``v - n_leaves_``.  ``distances_`` are the
merge heights of the tree (``t + 1`` for an L2H tree: the merge order), so
``np.column_stack([children_, distances_, counts])`` is a scipy linkage as with scikit-learn.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["L2H", "NotFittedError"]

_Self = TypeVar("_Self", bound="L2H")


class NotFittedError(ValueError, AttributeError):
    """Raised when a method that needs a fitted ``L2H`` is called before ``fit``.

    Like scikit-learn's, it is both a ``ValueError`` and an ``AttributeError``.
    """


class L2H:
    """Hierarchical clustering of a flat model's clusters from its logits (Palumbo et al., ICML 2025).

    Parameters
    ----------
    aggregation : {"cluster-mean", "sum", "mean"}, default "cluster-mean"
        Group score (see :func:`l2h.build_hierarchy`).
    strategy : {"lowest-score", "all-pairs"}, default "lowest-score"
        How the merged pair is chosen.
    n_clusters : int or None, default None
        Number of groups of ``labels_`` and ``predict``: the cut after ``K - n_clusters``
        merges.  ``None`` keeps the K leaves (every point's ``argmax``).
    leaf_names : sequence of str or None, default None
        K names for the leaves (default ``"0".."K-1"``).
    input : {"logits", "probs", "log-probs"}, default "logits"
        What the array passed to ``fit`` holds.

    Attributes
    ----------
    hierarchy_ : Hierarchy
        The fitted tree.
    children_ : ndarray of int64, shape (K - 1, 2)
        The nodes merged at every step (scipy / scikit-learn numbering).
    distances_ : ndarray of float64, shape (K - 1,)
        Merge heights (``t + 1``: the merge order).
    scores_ : ndarray of float64, shape (K - 1,)
        L2H score ``s(G*)`` of the group selected at every step.
    relatedness_ : ndarray of float64, shape (K - 1,)
        Relatedness ``rel(G†)`` of the partner chosen at every step.
    n_leaves_ : int
        Number of leaves K (columns of the logits).
    n_clusters_ : int
        Number of groups in ``labels_``.
    n_features_in_ : int
        Number of columns seen in ``fit`` (K).
    labels_ : ndarray of int64, shape (N,)
        Group of every training point, ``0..n_clusters_ - 1`` (:meth:`l2h.Hierarchy.cut` numbering).

    Examples
    --------
    >>> import numpy as np
    >>> logits = np.log(np.array([[0.7, 0.2, 0.05, 0.05], [0.2, 0.7, 0.05, 0.05],
    ...                           [0.05, 0.05, 0.7, 0.2], [0.05, 0.05, 0.2, 0.7]]))
    >>> model = L2H(n_clusters=2).fit(logits)
    >>> model.children_.tolist(), model.labels_.tolist()
    ([[0, 1], [2, 3], [4, 5]], [0, 0, 1, 1])
    >>> model.predict(logits[::-1]).tolist()
    [1, 1, 0, 0]
    """

    def __init__(
        self,
        aggregation: str = "cluster-mean",
        strategy: str = "lowest-score",
        n_clusters: int | None = None,
        leaf_names: Any = None,
        input: str = "logits",
    ) -> None:
        self.aggregation = aggregation
        self.strategy = strategy
        self.n_clusters = n_clusters
        self.leaf_names = leaf_names
        self.input = input

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters as a dict (``deep`` is accepted for scikit-learn)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self: _Self, **params: Any) -> _Self:
        """Set constructor parameters; returns ``self``.

        Raises
        ------
        ValueError
            For a name that is not a parameter.
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for L2H; valid parameters: {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v is not defaults[k]]
        return f"L2H({', '.join(changed)})"

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (only called by scikit-learn, so importing it here is safe)."""
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type="clusterer",
            target_tags=TargetTags(required=False),
            input_tags=InputTags(two_d_array=True, allow_nan=False),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "hierarchy_")

    # ------------------------------------------------------------------ fitting
    def _check_n_clusters(self, k: int) -> int:
        n = self.n_clusters
        if n is None:
            return k
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"n_clusters must be an integer or None; got {type(n).__name__}")
        if not 1 <= n <= k:
            raise ValueError(f"n_clusters must be between 1 and the number of clusters K = {k}; got {n}")
        return int(n)

    def fit(self: _Self, X: ArrayLike, y: object = None) -> _Self:  # noqa: N803 - scikit-learn's name
        """Build the tree from logits ``X`` of shape (N, K); ``y`` is ignored.

        Returns
        -------
        self
            The estimator, fitted.
        """
        from l2h._validation import check_finite_rows
        from l2h.merge import build_hierarchy

        logits = _as_logits(X)
        check_finite_rows(logits, "logits")
        n_clusters = self._check_n_clusters(logits.shape[1])
        tree = build_hierarchy(
            logits,
            aggregation=self.aggregation,
            strategy=self.strategy,
            leaf_names=self.leaf_names,
            input=self.input,
        )
        self.hierarchy_ = tree
        self.children_ = tree.merges.copy()
        self.distances_ = tree.heights
        self.scores_ = tree.scores.copy()
        self.relatedness_ = tree.relatedness.copy()
        self.n_leaves_ = tree.n_leaves
        self.n_features_in_ = tree.n_leaves
        self.n_clusters_ = n_clusters
        self.labels_ = tree.assign(logits, k=None if n_clusters == tree.n_leaves else n_clusters)
        return self

    def fit_predict(self, X: ArrayLike, y: object = None) -> np.ndarray:  # noqa: N803
        """``fit``, then return ``labels_``."""
        return self.fit(X).labels_

    def predict(self, X: ArrayLike) -> np.ndarray:  # noqa: N803
        """The group of new points from the same model: their leaf (``argmax``), cut at ``n_clusters_``.

        Parameters
        ----------
        X : array_like, shape (M, K)
            Logits of new points (the tree is not refitted).

        Returns
        -------
        ndarray of int64, shape (M,)
        """
        if not self.__sklearn_is_fitted__():
            raise _not_fitted("this L2H instance is not fitted yet: call fit(logits) before predict")
        logits = _as_logits(X, n_features=self.n_features_in_, allow_empty=True)
        k = self.n_clusters_
        return self.hierarchy_.assign(logits, k=None if k == self.n_leaves_ else k)


def _not_fitted(message: str) -> NotFittedError:
    """A :class:`NotFittedError` that is also scikit-learn's when the caller has imported it (only
    then can the caller be catching it, so scikit-learn is never imported here)."""
    if "sklearn.exceptions" in sys.modules:
        theirs = sys.modules["sklearn.exceptions"].NotFittedError
        both = type("NotFittedError", (NotFittedError, theirs), {"__module__": __name__})
        return both(message)
    return NotFittedError(message)


def _as_logits(X: ArrayLike, n_features: int | None = None, allow_empty: bool = False) -> np.ndarray:  # noqa: N803
    """``X`` as a logits array, with scikit-learn's error wording where its checks look for it."""
    from l2h._validation import check_logits_array

    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError("L2H needs dense logits; got a sparse matrix (call .toarray() first)")
    arr = X if isinstance(X, np.ndarray) else np.asarray(X)
    if arr.dtype == object:
        arr = np.asarray(arr, dtype=np.float64)  # numbers stored as objects; anything else is a TypeError
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: logits must hold real numbers; got {arr.dtype}")
    if arr.ndim == 1:
        raise ValueError(
            f"logits must be 2-D (n_points, n_clusters); got shape {arr.shape}. "
            "Reshape your data: array.reshape(1, -1) for a single point"
        )
    if arr.ndim == 2 and n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"X has {arr.shape[1]} features, but L2H is expecting {n_features} features as input "
            "(one logit per leaf of the fitted tree)"
        )
    if arr.ndim == 2 and arr.shape[1] < 2:
        raise ValueError(
            f"logits have {arr.shape[1]} feature(s) (shape={arr.shape}) while a minimum of 2 is required "
            "(one column per cluster)"
        )
    return check_logits_array(arr, "logits", allow_empty=allow_empty)
