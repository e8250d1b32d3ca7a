"""``l2h warmup``: compile every Numba kernel ahead of time (for Docker images and shared installs)."""

from __future__ import annotations

import time

import click
from l2h_cli._common import echo_json, print_line, stderr_console
from l2h_cli._inputs import examples, json_option, quiet_option

from l2h.kernel_cache import WARMUP_NOTICE, cache_dir, kernels_compiled


@click.command(
    "warmup",
    short_help="Compile the Numba kernels ahead of the first build.",
    epilog=examples("l2h warmup"),
)
@quiet_option("No output.")
@json_option("Print a machine-readable summary on stdout.")
def warmup(quiet: bool, as_json: bool) -> None:
    """Compile every Numba kernel for float32 and float64 logits and store them in the cache.

    Afterwards no build, metric or comparison compiles anything, whatever its input file or array.
    The cache folder is printed; it is per user (NUMBA_CACHE_DIR overrides it), so run this as the
    user who will run l2h, e.g. as the last step of a Docker image build.
    """
    from l2h.build.warmup import compile_kernels

    before = {flavour: kernels_compiled(flavour) for flavour in ("float32", "float64")}
    if not (quiet or as_json) and not all(before.values()):
        stderr_console().print(f"compiling kernels: {WARMUP_NOTICE}", highlight=False, markup=False)
    started = time.perf_counter()
    compiled = compile_kernels()
    summary = {
        "cache_dir": str(cache_dir()),
        "dtypes": [flavour for flavour in compiled if flavour != "metrics"],
        "already_cached": [flavour for flavour, cached in before.items() if cached],
        "compiled": compiled,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if as_json:
        echo_json(summary)
    elif not quiet:
        for what, names in compiled.items():
            done = f"{len(names)} compiled: {', '.join(names)}" if names else "all from the cache"
            print_line(f"{what} kernels: {done}")
        print_line(
            f"kernels ready for {' and '.join(summary['dtypes'])} logits in {summary['seconds']:.1f} s; "
            f"cache: {summary['cache_dir']}"
        )
