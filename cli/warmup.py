"""``l2h warmup``: compile every Numba kernel ahead of time (for Docker images and shared installs)."""

from __future__ import annotations

import time

import click
from l2h_cli._common import echo_json, print_line, stderr_console
from l2h_cli._inputs import examples, json_option, quiet_option


@click.command(
    "warmup",
    short_help="Compile the Numba kernels ahead of the first build.",
    epilog=examples("l2h warmup"),
)
@quiet_option("No output.")
@json_option("Print a machine-readable summary on stdout.")
def warmup(quiet: bool, as_json: bool) -> None:
    """Compile every Numba kernel for float32 and float64 logits and store them in the cache.

    The first `l2h build` otherwise spends about a minute compiling (2 cores).  The cache folder is printed; it is
    per user (NUMBA_CACHE_DIR overrides it), so run this as the user who will run l2h, e.g. as the
    last step of a Docker image build.
    """
    from l2h._numba import cache_dir, kernels_compiled
    from l2h.build.warmup import compile_kernels

    before = {flavour: kernels_compiled(flavour) for flavour in ("float32", "float64")}
    if not (quiet or as_json) and not all(before.values()):
        stderr_console().print("compiling kernels, first run only, a few minutes on 2 cores", highlight=False)
    started = time.perf_counter()
    compiled = compile_kernels()
    summary = {
        "cache_dir": str(cache_dir()),
        "dtypes": list(compiled),
        "already_cached": [flavour for flavour, cached in before.items() if cached],
        "seconds": round(time.perf_counter() - started, 3),
    }
    if as_json:
        echo_json(summary)
    elif not quiet:
        print_line(
            f"kernels ready for {' and '.join(compiled)} logits in {summary['seconds']:.1f} s; "
            f"cache: {summary['cache_dir']}"
        )
