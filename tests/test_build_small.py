"""The build without compilation (l2h.build.small) gives the compiled kernels' trees bit for bit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from l2h import build_hierarchy
from l2h.build import small
from l2h.build.aggregations import AGGREGATIONS
from l2h.build.strategies import STRATEGIES
from tests._reference import reference_l2h


def _build(monkeypatch: pytest.MonkeyPatch, path: str, arr: np.ndarray, **kw):
    monkeypatch.setenv("L2H_KERNELS", path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_hierarchy(arr, **kw)


def _assert_same(a, b) -> None:
    for field in ("merges", "scores", "relatedness"):
        x, y = np.asarray(getattr(a, field)), np.asarray(getattr(b, field))
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes(), field


def _case(seed: int) -> np.ndarray:
    """Tie-heavy random logits: small integer grids, repeated rows and columns, confident rows
    (``1 - mass`` underflows), far-below entries and clusters that no point has as argmax."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    k = int(rng.integers(2, 40))
    kind = seed % 5
    if kind == 0:
        x = rng.integers(-2, 3, size=(n, k)).astype(np.float64)
    elif kind == 1:
        x = rng.normal(size=(n, k)) * rng.choice([0.5, 5.0, 40.0])
    elif kind == 2:  # confident rows and entries more than 700 below the maximum
        x = rng.normal(size=(n, k))
        rows = rng.random(n) < 0.5
        x[rows, rng.integers(0, k, size=int(rows.sum()))] += rng.choice([40.0, 80.0, 800.0])
    elif kind == 3:  # repeated rows and duplicated columns
        base = rng.integers(-1, 2, size=(max(1, n // 3), k)).astype(np.float64)
        x = base[rng.integers(0, base.shape[0], size=n)]
        x[:, k // 2] = x[:, 0]
    else:
        x = rng.normal(size=(n, k))
    empty = rng.random(k) < 0.3  # clusters that are never an argmax (soft membership)
    if empty.any() and not empty.all():
        x[:, empty] -= rng.choice([1.0, 30.0])
        x[:, empty] = np.minimum(x[:, empty], x[:, ~empty].max(axis=1, keepdims=True) - 0.5)
    return x


@pytest.mark.parametrize("seed", range(60))
def test_same_tree_as_the_kernels(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    x = _case(seed)
    rng = np.random.default_rng(1000 + seed)
    aggregation = list(AGGREGATIONS)[seed % 3]
    strategy = list(STRATEGIES)[(seed // 3) % 2]
    dtype = (np.float64, np.float32)[(seed // 6) % 2]
    arr = x.astype(dtype)
    if rng.random() < 0.2:
        arr = np.asfortranarray(arr)
    kw = {"aggregation": aggregation, "strategy": strategy}
    _assert_same(_build(monkeypatch, "numba", arr, **kw), _build(monkeypatch, "python", arr, **kw))


@pytest.mark.parametrize("input", ["probs", "log-probs"])
@pytest.mark.parametrize("seed", range(6))
def test_same_tree_for_probabilities(monkeypatch: pytest.MonkeyPatch, seed: int, input: str) -> None:
    x = _case(seed)
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    arr = (p if input == "probs" else np.log(p)).astype((np.float64, np.float32)[seed % 2])
    _assert_same(_build(monkeypatch, "numba", arr, input=input), _build(monkeypatch, "python", arr, input=input))


def test_matches_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(80, 9))
    tree = _build(monkeypatch, "python", x)
    merges, _, _ = reference_l2h(x)
    assert np.array_equal(np.asarray(tree.merges), np.asarray(merges))


def test_digits_example(monkeypatch: pytest.MonkeyPatch) -> None:
    arr = np.load("examples/digits_logits.npy")
    # The example must fall under the default ("auto") size threshold whatever the caller exports
    # (L2H_KERNELS=numba made this fail) and whether or not this CPU fuses multiply-adds.
    monkeypatch.delenv("L2H_KERNELS", raising=False)
    monkeypatch.setattr(small, "host_fuses_multiply_add", lambda: True)
    assert small.use_small(arr.shape)
    for aggregation in AGGREGATIONS:
        kw = {"aggregation": aggregation}
        _assert_same(_build(monkeypatch, "numba", arr, **kw), _build(monkeypatch, "python", arr, **kw))


@pytest.mark.skipif(not small.host_fuses_multiply_add(), reason="the compiled exp fuses only on FMA CPUs")
def test_exponential_is_the_compiled_one() -> None:
    from l2h.build import _kernels

    x = -np.random.default_rng(3).random(4096) * 720.0
    x[:4] = [0.0, -700.0, -700.0000001, -1e-300]
    poly = np.empty(x.size)
    bits = np.empty(x.size, dtype=np.int64)
    _kernels._row_exp(x, 0.0, poly, bits)  # the compiled helper (a dispatcher called from Python)
    helpers = small.kernels()
    mine_poly = np.empty(x.size)
    mine_bits = np.empty(x.size, dtype=np.int64)
    helpers._row_exp(x, 0.0, mine_poly, mine_bits)
    assert (poly * bits.view(np.float64)).tobytes() == (mine_poly * mine_bits.view(np.float64)).tobytes()


def test_choosing_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("L2H_KERNELS", raising=False)
    monkeypatch.setattr(small, "host_fuses_multiply_add", lambda: True)
    assert small.use_small((1797, 20))
    assert not small.use_small((100_000, 1000))
    assert not small.use_small((10, 10), out_of_core=True)
    monkeypatch.setenv("L2H_KERNELS", "numba")
    assert not small.use_small((10, 10))
    monkeypatch.setenv("L2H_KERNELS", "python")
    assert small.use_small((100_000, 1000))
    monkeypatch.setenv("L2H_KERNELS", "gpu")
    with pytest.raises(ValueError, match="L2H_KERNELS must be one of"):
        small.use_small((10, 10))


def test_auto_compiles_where_the_cpu_has_no_fused_multiply_add(monkeypatch: pytest.MonkeyPatch) -> None:
    # without FMA the compiled exponential rounds each product and sum apart, unlike small.fma
    monkeypatch.delenv("L2H_KERNELS", raising=False)
    monkeypatch.setattr(small, "host_fuses_multiply_add", lambda: False)
    assert not small.use_small((1797, 20))
    monkeypatch.setenv("L2H_KERNELS", "python")
    assert small.use_small((1797, 20))


def test_fma_is_correctly_rounded() -> None:
    rng = np.random.default_rng(5)
    a, b, c = rng.normal(size=(3, 10_000))
    from fractions import Fraction

    for i in range(0, 10_000, 97):
        exact = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i]))
        assert float(small.fma(a[i], b[i], c[i])) == float(exact)


def test_forced_path_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("L2H_KERNELS", "python")
    with small.forced("numba"):
        assert not small.use_small((10, 10))
        with small.forced("python"):
            assert small.use_small((10**6, 10**3))
        assert not small.use_small((10, 10))
    assert small.use_small((10, 10))
    with pytest.raises(ValueError, match="path must be one of"):
        with small.forced("gpu"):
            pass


def test_warmup_compiles_through_small_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    # l2h warmup's builds are small; they must take the compiled kernels all the same
    from l2h.build import api, warmup

    seen = []
    real = api.kernels
    monkeypatch.setattr(api, "kernels", lambda: seen.append(1) or real())
    monkeypatch.delenv("L2H_KERNELS", raising=False)
    monkeypatch.setattr(warmup, "_compile_metrics_kernels", lambda tree, logits: None)
    monkeypatch.setattr(warmup, "warmup_logits", lambda dtype, n_points=0, n_clusters=4: warmup_small(dtype))
    warmup.compile_kernels(["float64"])
    assert seen


def warmup_small(dtype: str) -> np.ndarray:
    x = np.random.default_rng(0).normal(size=(40, 4))
    x[:, -1] -= 50.0
    return x.astype(dtype)
