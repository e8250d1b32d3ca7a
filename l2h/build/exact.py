"""The build's exact arithmetic: double-double sums, correctly rounded means, the tie rule and the
reduction's part count (NumPy; :mod:`l2h.build._kernels` has the scalar twins).

Every aggregated value (score, relatedness) is a sum accumulated in double-double and divided with a
correctly rounded division, so it is the correctly rounded float64 value of its (float64) terms
whatever the summation order: values tied in real arithmetic (symmetric clusters, repeated rows, a
cluster mean of identical confidences) come out equal.  Two values that agree to ``TIE_RTOL`` (8 ulps,
about 1.8e-15, relative) count as tied and the tie goes to list order; any larger difference decides,
exactly as a plain float64 computation with exact comparisons would.  Confident logits make genuinely
different scores agree to 1e-11 or closer (``conf = 1 - 1e-11``), so a coarser tolerance would merge
the wrong groups.  Argmaxes over logits compare exactly (lowest index on ties).
"""

from __future__ import annotations

import numpy as np

__all__ = ["TIE_RTOL", "dd_add", "dd_div", "first_max", "first_min", "n_parts", "two_prod", "two_sum"]

TIE_RTOL = 8 * 2.0**-52  # relative; see the module docstring and docs/algorithm.md


def n_parts(n: int) -> int:
    """Parts of the per-merge reduction over ``n`` visited points (and parallel blocks of a visit).

    A function of n only (not of the thread count), so sums are reproducible across machines.  The
    kernels call the same function (Numba compiles it from here).

    Parameters
    ----------
    n : int
        Visited points.

    Examples
    --------
    >>> n_parts(100), n_parts(10_000), n_parts(10**7)
    (1, 4, 64)
    """
    return max(1, min(64, n // 2048))


def two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knuth's error-free ``a + b = s + err`` (elementwise; NumPy never contracts to FMA).

    Parameters
    ----------
    a, b : ndarray
        float64 terms.
    """
    s = a + b
    bp = s - a
    return s, (a - (s - bp)) + (b - bp)


def dd_add(a_hi: np.ndarray, a_lo: np.ndarray, b_hi: np.ndarray, b_lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Double-double ``(a_hi + a_lo) + (b_hi + b_lo)``.

    Parameters
    ----------
    a_hi, a_lo, b_hi, b_lo : ndarray
        The two double-double values.
    """
    s, err = two_sum(a_hi, b_hi)
    return s, err + (a_lo + b_lo)


def two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dekker's error-free ``a * b = p + err`` (elementwise, no FMA needed; |a|, |b| < 1e300).

    Parameters
    ----------
    a, b : ndarray
        float64 factors.
    """
    p = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = 134217729.0 * a  # 2**27 + 1
    hi = c - (c - a)
    return hi, a - hi


def dd_div(hi: np.ndarray, lo: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``(hi + lo) / n`` correctly rounded (up to the rare double-double boundary case), n > 0.

    The remainder ``hi + lo - q n`` is exact (``hi - p`` by Sterbenz), so a mean of n identical
    values is that value, whatever n.  ``l2h.build._kernels.dd_div`` is its scalar twin (same
    operations).

    Parameters
    ----------
    hi, lo : ndarray
        The double-double dividend.
    n : ndarray
        Positive divisors.
    """
    n = np.asarray(n, dtype=np.float64)
    q = hi / n
    p, err = two_prod(q, n)
    return q + (((hi - p) - err) + lo) / n


def first_min(values: np.ndarray) -> int:
    """The tie rule of G*: first index within ``TIE_RTOL`` of the minimum (``seg_first_min``'s spec).

    Parameters
    ----------
    values : ndarray
        float64 values in list order.
    """
    m = values.min()
    return int(np.flatnonzero(values <= m + TIE_RTOL * abs(m))[0])


def first_max(values: np.ndarray) -> int:
    """The tie rule of G†: first index within ``TIE_RTOL`` of the maximum (``choose_g_dagger``'s spec).

    Parameters
    ----------
    values : ndarray
        float64 values in list order.
    """
    m = values.max()
    return int(np.flatnonzero(values >= m - TIE_RTOL * abs(m))[0])
