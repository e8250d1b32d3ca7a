"""Where l2h's compiled Numba kernels are cached, and whether they are compiled yet.

The first build with float32 or float64 logits compiles the kernels for that dtype and caches the
machine code; later runs load it.  The cache folder is ``$NUMBA_CACHE_DIR`` when set, else a
per-user folder (``~/.cache/l2h/numba`` on Linux), else a temporary folder when that one cannot be
written; never the installed package (:mod:`l2h._numba`, which loads the kernels, has the rules).

* :func:`cache_dir`: the folder, created if needed;
* :func:`kernels_compiled` / :func:`mark_kernels_compiled`: whether a dtype's kernels are cached (a
  marker file that an upgrade or an edit of the kernels invalidates, as it invalidates the cache);
* :data:`COMPILE_NOTICE`, :data:`WARMUP_NOTICE`: what ``l2h build`` and ``l2h warmup`` say while
  they compile (with the measured :data:`COMPILE_SECONDS` and :data:`WARMUP_SECONDS`);
* :func:`announce_compiles`: one line, through a callback, when a kernel truly compiles (for output
  that is not a terminal); :func:`watch_compiles`: a callback when compiling starts and one when it
  ends (for a live clock on a terminal); :func:`compiled_functions`: which functions compiled in a
  block (``l2h warmup``'s report, ``benchmarks/compile_paths.py``).

``l2h warmup`` (:func:`l2h.build.warmup.compile_kernels`) fills the cache ahead of time.
"""

from __future__ import annotations

from l2h._numba import (
    COMPILE_NOTICE,
    COMPILE_SECONDS,
    WARMUP_NOTICE,
    WARMUP_SECONDS,
    announce_compiles,
    cache_dir,
    compiled_functions,
    kernels_compiled,
    mark_kernels_compiled,
    watch_compiles,
)

__all__ = [
    "COMPILE_NOTICE",
    "COMPILE_SECONDS",
    "WARMUP_NOTICE",
    "WARMUP_SECONDS",
    "announce_compiles",
    "cache_dir",
    "compiled_functions",
    "kernels_compiled",
    "mark_kernels_compiled",
    "watch_compiles",
]
