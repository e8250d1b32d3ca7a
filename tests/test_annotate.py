"""l2h.annotate's point-level helpers (the views' statistics are tested with the views)."""

from __future__ import annotations

import numpy as np
import pytest

from l2h.annotate import max_probability


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_probability_is_the_largest_softmax_and_leaves_the_logits_alone(tmp_path, dtype):
    # Regression: float64 logits were shifted and exponentiated in place, in the caller's array.
    logits = np.random.default_rng(0).normal(scale=3.0, size=(1000, 7)).astype(dtype)
    before = logits.copy()
    wide = logits.astype(np.float64)
    expected = np.exp(wide - wide.max(axis=1, keepdims=True))
    expected = expected.max(axis=1) / expected.sum(axis=1)
    np.testing.assert_allclose(max_probability(logits, chunk=64), expected, rtol=1e-12)
    assert np.array_equal(logits, before)
    np.save(tmp_path / "l.npy", logits)
    mapped = np.load(tmp_path / "l.npy", mmap_mode="r")
    assert np.array_equal(max_probability(mapped, chunk=64), max_probability(logits))
