"""``l2h.L2H``: scikit-learn's conventions and estimator checks, and agreement with the library."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from l2h import Hierarchy, build_hierarchy
from l2h.estimator import L2H, NotFittedError

sklearn = pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

# Checks that do not apply to a model whose input is logits (one column per cluster of a flat
# model, the tree's leaves) rather than coordinates of points:
EXPECTED_FAILED = {}


with warnings.catch_warnings():  # "does not inherit from BaseEstimator": on purpose, sklearn stays optional
    warnings.simplefilter("ignore", UserWarning)
    _checks = parametrize_with_checks([L2H(), L2H(n_clusters=2)], expected_failed_checks=lambda est: EXPECTED_FAILED)


@_checks
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_clusterer_checks_that_apply():
    # L2H is not a ClusterMixin subclass (scikit-learn stays optional), so parametrize_with_checks
    # leaves out the clusterer checks: run the one that applies here.
    from sklearn.utils.estimator_checks import check_clusterer_compute_labels_predict

    check_clusterer_compute_labels_predict("L2H", L2H(n_clusters=2))


@pytest.mark.xfail(strict=True, raises=ValueError, reason="blob coordinates are not logits: n_clusters=3 > K=2")
def test_check_clustering_does_not_apply():
    # check_clustering fits n_clusters=3 on 2-D blob coordinates: two columns are K = 2 clusters,
    # so three groups cannot exist (and coordinates are not logits anyway).
    from sklearn.utils.estimator_checks import check_clustering

    check_clustering("L2H", L2H())


def _logits(n: int = 300, k: int = 7, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, k)) * 2 + np.eye(k)[rng.integers(0, k, size=n)] * 3


@pytest.mark.parametrize("aggregation", ["cluster-mean", "sum", "mean"])
@pytest.mark.parametrize("strategy", ["lowest-score", "all-pairs"])
def test_fitted_attributes_are_the_library_tree(aggregation, strategy):
    logits = _logits()
    tree = build_hierarchy(logits, aggregation=aggregation, strategy=strategy)
    model = L2H(aggregation=aggregation, strategy=strategy, n_clusters=3).fit(logits)
    assert isinstance(model.hierarchy_, Hierarchy) and model.hierarchy_.same_topology(tree)
    np.testing.assert_array_equal(model.children_, tree.merges)
    np.testing.assert_array_equal(model.distances_, tree.heights)
    np.testing.assert_array_equal(model.scores_, tree.scores)
    np.testing.assert_array_equal(model.relatedness_, tree.relatedness)
    assert model.n_leaves_ == 7 and model.n_features_in_ == 7 and model.n_clusters_ == 3
    # labels_: every point's leaf (its argmax), then that leaf's group in the 3-group cut
    np.testing.assert_array_equal(model.labels_, tree.cut(3)[logits.argmax(axis=1)])
    assert set(model.labels_.tolist()) <= {0, 1, 2}
    fresh = _logits(50, seed=1)
    np.testing.assert_array_equal(model.predict(fresh), tree.cut(3)[fresh.argmax(axis=1)])
    np.testing.assert_array_equal(L2H().fit(logits).labels_, logits.argmax(axis=1))  # None: the K leaves


def test_children_and_distances_read_like_agglomerative_clustering():
    from scipy.cluster.hierarchy import is_valid_linkage
    from sklearn.cluster import AgglomerativeClustering

    logits = _logits()
    ours = L2H().fit(logits)
    # scikit-learn's leaves are the rows it is given: give it the K clusters (columns) as rows
    theirs = AgglomerativeClustering(n_clusters=3, compute_distances=True).fit(logits.T)
    assert ours.children_.shape == theirs.children_.shape == (6, 2)
    assert ours.distances_.shape == theirs.distances_.shape == (6,)
    assert ours.n_leaves_ == theirs.n_leaves_ == 7
    for model in (ours, theirs):
        # same numbering: node n_leaves_ + t is made at step t and only used after it
        for t, pair in enumerate(model.children_):
            assert all(v < model.n_leaves_ + t for v in pair)
        counts = np.ones(2 * model.n_leaves_ - 1)
        for t, (a, b) in enumerate(model.children_):
            counts[model.n_leaves_ + t] = counts[a] + counts[b]
        linkage = np.column_stack([model.children_, model.distances_, counts[model.n_leaves_ :]]).astype(float)
        assert is_valid_linkage(linkage)
    # the difference: our labels_ are per point (N), scikit-learn's per row given (here K clusters)
    assert ours.labels_.shape == (300,) and theirs.labels_.shape == (7,)


def test_conventions_params_and_errors():
    model = L2H(aggregation="sum")
    assert not [name for name in vars(model) if name.endswith("_")]  # no work in __init__
    assert model.get_params() == {
        "aggregation": "sum",
        "strategy": "lowest-score",
        "n_clusters": None,
        "leaf_names": None,
        "input": "logits",
    }
    assert model.set_params(n_clusters=2) is model and model.n_clusters == 2
    assert repr(model) == "L2H(aggregation='sum', n_clusters=2)"
    with pytest.raises(ValueError, match="invalid parameter 'k' for L2H"):
        model.set_params(k=2)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(_logits())
    with pytest.raises(ValueError, match=r"n_clusters must be between 1 and the number of clusters K = 7; got 9"):
        L2H(n_clusters=9).fit(_logits())
    with pytest.raises(ValueError, match="aggregation must be one of"):
        L2H(aggregation="max").fit(_logits())
    fitted = L2H().fit(_logits())
    with pytest.raises(ValueError, match="X has 3 features, but L2H is expecting 7"):
        fitted.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="first bad row is 1"):
        L2H().fit(np.array([[0.0, 1.0], [np.nan, 0.0]]))
