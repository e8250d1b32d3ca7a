"""The build's kernels without compilation, for small inputs.

A small build (digits: 1 797 × 20) takes milliseconds, while compiling the Numba kernels takes a
minute on a loaded machine.  Below :data:`SMALL_ENTRIES` logit entries the build therefore runs
the kernels' own source (:mod:`l2h.build._kernels`) in the Python interpreter: the module text is
executed with a stand-in for ``numba`` (``njit`` leaves a function as it is, ``prange`` is
``range``), so every decision, loop order and floating-point operation is the compiled one, and the
tree is the same bit for bit.  The few inner helpers that would be slow one element at a time are
replaced by NumPy versions that perform the same operations elementwise:

* the exponential :func:`_exp_poly`, whose compiled form contracts each ``a * b + c`` into a fused
  multiply-add (the kernels ask LLVM for that, and x86-64 CPUs with FMA get it); NumPy has no FMA,
  so :func:`fma` forms the correctly rounded ``a * b + c`` exactly from an error-free product and
  a sum rounded to odd (Boldo and Melquiond, IEEE Trans. Computers 57(4), 2008);
* the row exponentials, the double-double pairwise sum (the same halving levels), the row maxima
  and the top entries (value descending, index ascending);
* the soft-membership terms.

``L2H_KERNELS`` chooses the path: ``auto`` (the default: this one below :data:`SMALL_ENTRIES`
entries, compiled above), ``numba`` (always compiled) or ``python`` (always this one).
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import math
import os
import platform
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "KERNEL_PATHS",
    "SMALL_ENTRIES",
    "fma",
    "forced",
    "host_fuses_multiply_add",
    "kernel_path",
    "kernels",
    "use_small",
]

#: Logit entries (N × K) up to which ``auto`` builds without compiling (see docs/performance.md).
SMALL_ENTRIES = 100_000
#: The values of ``L2H_KERNELS``.
KERNEL_PATHS = ("auto", "numba", "python")

_MAGIC = 6755399441055744.0
_MAGIC_BITS = 0x4338000000000000
_LOG2E = 1.4426950408889634
_LN2_HI = 0.693147180369123816490
_LN2_LO = 1.90821492927058770002e-10
_INV_FACT = [1.0 / math.factorial(i) for i in range(14)]
_MEMO_MAX = 1 << 18  # exponentials remembered (per build; forgotten beyond this many)


_FORCED: list[str] = []  # paths set by forced(), innermost last


@contextlib.contextmanager
def forced(path: str) -> Iterator[None]:
    """Within the block, builds take ``path`` (``"numba"`` or ``"python"``) whatever their size and
    ``L2H_KERNELS`` say (``l2h warmup`` compiles through small builds).

    Parameters
    ----------
    path : str
        ``"numba"`` or ``"python"``.
    """
    if path not in KERNEL_PATHS:
        raise ValueError(f"path must be one of {', '.join(map(repr, KERNEL_PATHS))}; got {path!r}")
    _FORCED.append(path)
    try:
        yield
    finally:
        _FORCED.pop()


def kernel_path() -> str:
    """The path builds take: :func:`forced`'s, else ``L2H_KERNELS`` (``auto`` when unset);
    ``ValueError`` for an unknown value."""
    if _FORCED:
        return _FORCED[-1]
    value = os.environ.get("L2H_KERNELS", "auto").strip().lower() or "auto"
    if value not in KERNEL_PATHS:
        raise ValueError(f"L2H_KERNELS must be one of {', '.join(map(repr, KERNEL_PATHS))}; got {value!r}")
    return value


def use_small(shape: tuple[int, ...], out_of_core: bool = False) -> bool:
    """Whether a build of logits of ``shape`` runs without compiling (``L2H_KERNELS``, then size).

    Parameters
    ----------
    shape : tuple of int
        ``(N, K)``.
    out_of_core : bool
        Whether the build reads a scratch copy on disk (always compiled under ``auto``).
    """
    path = kernel_path()
    if path != "auto":
        return path == "python"
    return not out_of_core and math.prod(shape) <= SMALL_ENTRIES and host_fuses_multiply_add()


@functools.cache
def host_fuses_multiply_add() -> bool:
    """Whether this CPU has fused multiply-add, so the compiled exponential contracts as :func:`fma`.

    ``auto`` takes this path only where it is known to be bit-identical to the compiled kernels:
    AArch64 always has FMA; x86-64 has it when ``/proc/cpuinfo`` lists the ``fma`` flag.  Anywhere
    else (an x86-64 CPU without FMA, or no way to tell) small builds compile, as large ones do.
    """
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return True
    if machine not in ("x86_64", "amd64"):
        return False
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return any(line.startswith("flags") and "fma" in line.split() for line in cpuinfo.splitlines())


# ---------------------------------------------------------------------------------------- exact FMA
def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bp = s - a
    return s, (a - (s - bp)) + (b - bp)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = 134217729.0 * a
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _add_round_to_odd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` rounded to odd: exact, or else the neighbour with an odd last mantissa bit."""
    s, err = _two_sum(a, b)
    even = (s.view(np.int64) & 1) == 0
    bump = (err != 0.0) & even
    if bump.any():
        s = np.where(bump, np.nextafter(s, np.where(err > 0.0, np.inf, -np.inf)), s)
    return s


def fma(a: Any, b: Any, c: Any) -> np.ndarray:
    """``a * b + c`` with one rounding (elementwise; moderate magnitudes, no underflow in ``a * b``).

    Parameters
    ----------
    a, b, c : array_like
        float64 operands.

    Examples
    --------
    >>> float(fma(1.0 + 2.0**-30, 1.0 - 2.0**-30, -1.0)) == -(2.0**-60)
    True
    """
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    p_hi, p_lo = _two_prod(a, b)
    t_hi, t_lo = _two_sum(c, p_hi)
    return t_hi + _add_round_to_odd(t_lo, p_lo)


def _exp_poly(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """The kernels' ``_exp_poly`` (every ``a * b + c`` fused, as compiled), elementwise."""
    x = np.minimum(np.maximum(np.asarray(x, dtype=np.float64), -700.0), 0.0)
    t = fma(x, _LOG2E, _MAGIC)
    kf = t - _MAGIC
    r = fma(-kf, _LN2_LO, fma(-kf, _LN2_HI, x))
    p = np.full_like(x, 1.0 / 6227020800.0)
    for i in range(12, -1, -1):
        p = fma(p, r, _INV_FACT[i])
    return p, t


def _exp_values(x: np.ndarray) -> np.ndarray:
    """``exp(x)`` for ``x <= 0`` as the kernels' ``_row_exp`` forms it (0 below -700)."""
    p, t = _exp_poly(x)
    scale = ((t.view(np.int64) - _MAGIC_BITS + 1023) << 52).view(np.float64)
    return np.where(x >= -700.0, p, 0.0) * scale


# ---------------------------------------------------------------------- the vectorised inner helpers
class _Helpers:
    """NumPy versions of the kernels' inner helpers (same operations, same results).

    The exponentials of a build are formed once per block of rows (:meth:`scan_range`, before the
    interpreted first pass) and remembered by argument, so that the per-row calls of the
    interpreted kernels are dictionary look-ups.
    """

    def __init__(self) -> None:
        self.poly: dict[float, float] = {}
        self.bits: dict[float, int] = {}
        self.value: dict[float, float] = {}

    def forget(self) -> None:
        """Drop every remembered exponential."""
        self.poly.clear()
        self.bits.clear()
        self.value.clear()

    def remember(self, x: np.ndarray) -> None:
        """Form and remember ``exp(x)`` (as ``_row_exp`` and ``_exp`` do) for every entry of ``x``."""
        if len(self.value) > _MEMO_MAX:
            self.forget()
        with np.errstate(all="ignore"):
            p, t = _exp_poly(x)
            poly = np.where(x >= -700.0, p, 0.0)
            bits = (t.view(np.int64) - _MAGIC_BITS + 1023) << 52
            value = poly * bits.view(np.float64)
        keys = x.tolist()
        self.poly.update(zip(keys, poly.tolist(), strict=True))
        self.bits.update(zip(keys, bits.tolist(), strict=True))
        self.value.update(zip(keys, value.tolist(), strict=True))

    def scan_range(self, scan_range: Any) -> Any:
        """The interpreted ``scan_range``, after remembering the exponentials of its rows."""

        def scan(block: np.ndarray, row0: int, lo_i: int, hi_i: int, *args: Any) -> int:
            if row0 + lo_i == 0:  # a new build: forget the last one's exponentials
                self.forget()
            rows = np.asarray(block[lo_i:hi_i], dtype=np.float64)
            if rows.size:
                with np.errstate(invalid="ignore"):
                    self.remember((rows - rows.max(axis=1, keepdims=True)).ravel())
            return scan_range(block, row0, lo_i, hi_i, *args)

        return scan

    def row_exp(self, row: np.ndarray, shift: float, poly: np.ndarray, bits: np.ndarray) -> None:
        n = row.shape[0]
        keys = (np.asarray(row, dtype=np.float64) - shift).tolist()
        try:
            poly[:n] = [self.poly[v] for v in keys]
            bits[:n] = [self.bits[v] for v in keys]
        except KeyError:
            self.remember(np.array(keys, dtype=np.float64))
            poly[:n] = [self.poly[v] for v in keys]
            bits[:n] = [self.bits[v] for v in keys]

    def exp(self, x: float) -> float:
        if x < -700.0:
            return 0.0
        value = self.value.get(float(x))
        if value is None:
            self.remember(np.array([x], dtype=np.float64))
            value = self.value[float(x)]
        return value

    @staticmethod
    def dd_sum(poly: np.ndarray, scale: np.ndarray, n: int, tmp_hi: np.ndarray, tmp_lo: np.ndarray) -> tuple:
        terms = poly[:n] * scale[:n]
        if n < 32 or tmp_hi.shape[0] < (n + 1) // 2 or tmp_lo.shape[0] < (n + 1) // 2:
            hi = 0.0
            lo = 0.0
            for v in terms.tolist():
                s = hi + v
                bp = s - hi
                lo += (hi - (s - bp)) + (v - bp)
                hi = s
            return _dd_plus(hi, 0.0, lo)
        h = n // 2
        acc_hi, acc_lo = _two_sum(terms[:h], terms[h : 2 * h])
        if n % 2 == 1:
            acc_hi[0], acc_lo[0] = _dd_plus(acc_hi[0], acc_lo[0], terms[n - 1])
        while h > 1:
            half = h // 2
            top, err = _two_sum(acc_hi[:half], acc_hi[half : 2 * half])
            acc_lo[:half] = err + (acc_lo[:half] + acc_lo[half : 2 * half])
            acc_hi[:half] = top
            if h % 2 == 1:
                s0, e0 = _two_sum(acc_hi[0], acc_hi[h - 1])
                acc_lo[0] = e0 + (acc_lo[0] + acc_lo[h - 1])
                acc_hi[0] = s0
            h = half
        return _dd_plus(acc_hi[0], 0.0, acc_lo[0])

    def masked_dd_sum(self, poly: np.ndarray, scale: np.ndarray, keep: np.ndarray, tmp_hi, tmp_lo) -> tuple:
        poly *= keep
        return self.dd_sum(poly, scale, poly.shape[0], tmp_hi, tmp_lo)

    @staticmethod
    def lane_max(row: np.ndarray, pen: np.ndarray, lane_max: np.ndarray, lane_bad: np.ndarray) -> tuple:
        v = np.asarray(row, dtype=np.float64) + pen
        if not np.isfinite(v).all():
            return -np.inf, False
        return float(v.max()), True

    @staticmethod
    def masked_lane_max(row: np.ndarray, pen: np.ndarray, lane_max: np.ndarray) -> None:
        return None  # select_top below reads the row itself

    @staticmethod
    def select_top(row: np.ndarray, pen: np.ndarray, lane_max: np.ndarray, top_val, top_pos) -> None:
        v = np.asarray(row, dtype=np.float64) + pen
        idx = np.argsort(-v, kind="stable")  # value descending, index ascending on equal values
        idx = idx[v[idx] > -np.inf][: top_val.shape[0]]
        top_val[:] = -np.inf
        top_pos[:] = -1
        top_val[: idx.size] = v[idx]
        top_pos[: idx.size] = idx

    @staticmethod
    def soft_terms(cols, col_of, members, rowmax, rest_hi, rest_lo, q0, n, w, e_buf, poly, bits) -> None:
        w_sum = None
        rmax = rowmax[q0 : q0 + n]
        for t in range(members.shape[0]):
            x = np.asarray(cols[col_of[members[t]]][q0 : q0 + n], dtype=np.float64) - rmax
            e = _exp_values(x)
            for j in np.flatnonzero(x < -700.0).tolist():  # libm's exp, as compiled
                e[j] = math.exp(x[j])
            w_sum = e if w_sum is None else w_sum + e
        in_g = w_sum if w_sum is not None else np.zeros(n)
        r_hi = rest_hi[q0 : q0 + n]
        r_lo = rest_lo[q0 : q0 + n]
        total = 1.0 + (r_hi + r_lo)
        outside = 1.0 + ((r_hi - in_g) + r_lo)
        w[:n] = in_g / (total * outside)


def _dd_plus(hi: float, lo: float, value: float) -> tuple[float, float]:
    s = hi + value
    bp = s - hi
    err = (hi - (s - bp)) + (value - bp)
    return s, lo + err


# --------------------------------------------------------------------------- the interpreted module
def _identity_decorator(*args: Any, **kwargs: Any) -> Any:
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda fn: fn


def _stand_ins() -> dict[str, types.ModuleType]:
    """Modules the kernel source imports, replaced by what the interpreter needs of them."""
    numba = types.ModuleType("numba")
    numba.njit = _identity_decorator  # type: ignore[attr-defined]
    numba.prange = range  # type: ignore[attr-defined]
    extending = types.ModuleType("numba.extending")
    extending.intrinsic = _identity_decorator  # type: ignore[attr-defined]
    core = types.ModuleType("numba.core")
    core.cgutils = core.types = None  # type: ignore[attr-defined]
    llvmlite = types.ModuleType("llvmlite")
    llvmlite.ir = None  # type: ignore[attr-defined]
    binding = types.ModuleType("llvmlite.binding")
    binding.llvm_version_info = (15,)  # type: ignore[attr-defined]
    return {"numba": numba, "numba.extending": extending, "numba.core": core, "llvmlite": llvmlite,
            "llvmlite.binding": binding}  # fmt: skip


_MODULE: types.ModuleType | None = None


def kernels() -> types.ModuleType:
    """The kernels of :mod:`l2h.build._kernels`, interpreted (see the module docstring); built once
    per process, without importing Numba."""
    global _MODULE
    if _MODULE is not None:
        return _MODULE
    source_path = Path(__file__).with_name("_kernels.py")
    stand_ins = _stand_ins()
    real_import = builtins.__import__

    def _import(name: str, globals_: Any = None, locals_: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if name in stand_ins:
            return stand_ins[name]
        return real_import(name, globals_, locals_, fromlist, level)

    module = types.ModuleType("l2h.build._kernels_interpreted", __doc__)
    module.__dict__["__builtins__"] = {**vars(builtins), "__import__": _import}
    module.__dict__["__file__"] = str(source_path)
    code = compile(source_path.read_text(encoding="utf-8"), str(source_path), "exec")
    exec(code, module.__dict__)
    helpers = _Helpers()
    module.__dict__.update(
        _exp_poly=_exp_poly,
        scan_range=helpers.scan_range(module.__dict__["scan_range"]),
        _exp=helpers.exp,
        _row_exp=helpers.row_exp,
        _dd_plus=_dd_plus,
        _dd_sum=helpers.dd_sum,
        _masked_dd_sum=helpers.masked_dd_sum,
        _lane_max=helpers.lane_max,
        _masked_lane_max=helpers.masked_lane_max,
        _select_top=helpers.select_top,
        _soft_terms=helpers.soft_terms,
        _prefetch=lambda arr, idx: None,
    )
    module.__dict__["__builtins__"] = vars(builtins)
    sys.modules.setdefault(module.__name__, module)
    _MODULE = module
    return module
