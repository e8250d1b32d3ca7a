"""``l2h agglomerative``: the Ward baseline, written in the same formats as an L2H tree."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np
from l2h_cli._common import echo_json, stage_tree, stdout_console, summary_table
from l2h_cli._inputs import (
    FILE,
    TREE_FORMAT_CHOICES,
    check_input_path,
    deprecated_alias,
    examples,
    json_option,
    key_option,
    quiet_option,
)

from l2h.agglomerative import BACKENDS, METHODS, agglomerative_hierarchy  # option lists, declared where dispatched
from l2h.files import OutputSet
from l2h.io import load_array, tree_format_for
from l2h.text import markup_safe


@click.command(
    "agglomerative",
    epilog=examples("l2h agglomerative features.npy --clusters 20 -o ward.nwk --assignments-out ward_leaves.npy"),
)
@click.argument("embeddings", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--clusters", "n_clusters", type=int, required=False, help="Number of clusters: the leaves of the tree.  [required]"
)
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Output tree file (.nwk/.newick, .json, or .npy for a scipy linkage).",
)
@click.option(
    "--assignments-out",
    "assignments_out",
    type=FILE,
    required=False,
    help="Write every point's cluster id (int64 .npy) here, the input of `l2h metrics --assignments`.  [required]",
)
@deprecated_alias("--k", "n_clusters", "--clusters", type=int)
@deprecated_alias("--assignments", "assignments_out", "--assignments-out (the file written)")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(TREE_FORMAT_CHOICES),
    default=None,
    help="Tree format (default: from the --out suffix).",
)
@click.option("--method", type=click.Choice(METHODS), default="ward", show_default=True, help="Linkage criterion.")
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default="auto",
    show_default=True,
    help="fastcluster's memory-lean linkage_vector (auto: when installed) or scipy (O(N^2) memory).",
)
@key_option
@quiet_option("No summary.")
@json_option("Print a machine-readable summary on stdout.")
def agglomerative(
    embeddings: Path,
    n_clusters: int | None,
    out: Path,
    assignments_out: Path | None,
    fmt: str | None,
    method: str,
    backend: str,
    key: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Ward baseline: K clusters of embeddings and their tree.

    Ward linkage of the N x D embeddings, stopped at K clusters; writes the tree over those clusters
    (same formats as `l2h build`) and every point's cluster, for `l2h metrics --assignments`.
    """

    if n_clusters is None:
        raise click.UsageError("Missing option '--clusters' (the number of clusters: leaves of the tree).")
    if assignments_out is None:
        raise click.UsageError("Missing option '--assignments-out' (where every point's cluster id is written).")
    kind = tree_format_for(out, fmt, format_hint="--format")  # fail on a bad suffix before any work
    if assignments_out.suffix.lower() != ".npy":
        raise click.BadParameter(f"expected a .npy file; got {assignments_out}", param_hint="--assignments-out")

    with OutputSet(
        inputs={"embeddings": embeddings}, outputs={"--out": out, "--assignments-out": assignments_out}
    ) as outputs:
        check_input_path(embeddings, "embeddings")
        array = load_array(embeddings, key=key, name="embeddings")
        if array.ndim == 2 and not 2 <= n_clusters <= array.shape[0]:
            raise click.BadParameter(
                f"must be between 2 and the number of points ({array.shape[0]}); got {n_clusters}",
                param_hint="--clusters",
            )
        estimate = linkage_seconds(array.shape[0], array.shape[1] if array.ndim == 2 else 1)
        if estimate >= LONG_RUN_SECONDS and not quiet:
            click.echo(
                f"note: {method} linkage of {array.shape[0]:,} points takes roughly {_duration(estimate)} "
                "(time grows as N^2); Ctrl-C stops it",
                err=True,
            )
        started = time.perf_counter()
        tree, assignments = run_interruptible(
            agglomerative_hierarchy, array, n_clusters, method=method, backend=backend
        )
        elapsed = time.perf_counter() - started
        stage_tree(outputs, out, tree, kind)
        outputs.save_npy(assignments_out, assignments)

    sizes = np.asarray(tree.info["cluster_sizes"])
    summary = {
        "embeddings": str(embeddings),
        "out": str(out),
        "format": kind,
        "assignments": str(assignments_out),
        "n_points": int(array.shape[0]),
        "n_dims": int(array.shape[1]),
        "n_clusters": tree.n_leaves,
        "method": method,
        "backend": tree.info["backend"],
        "cluster_sizes": {"min": int(sizes.min()), "median": float(np.median(sizes)), "max": int(sizes.max())},
        "seconds": round(elapsed, 4),
    }
    if as_json:
        echo_json(summary)
    elif not quiet:
        _print_summary(summary)


# Seconds per N^2 D of fastcluster's Ward on one core (measured 5-7 ns on a loaded 2-core machine; an
# idle core is faster): the warning only needs the order of magnitude.
_SECONDS_PER_N2D = 4e-9
LONG_RUN_SECONDS = 30.0


def linkage_seconds(n_points: int, n_dims: int) -> float:
    """Rough wall time of the O(N^2 D) linkage, for the up-front warning."""
    return _SECONDS_PER_N2D * float(n_points) ** 2 * max(int(n_dims), 1)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run_interruptible(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` in a worker process, so that Ctrl-C stops it at once.

    fastcluster and scipy run their linkage in C without checking for signals, so in-process a
    Ctrl-C waits for the whole O(N^2) run.  Here the parent waits on a pipe (interruptible) and kills
    the worker when interrupted.  The worker is forked where fork is safe (Linux): the input is shared,
    not copied.
    """
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods and sys.platform.startswith("linux") else "spawn")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_worker, args=(sender, func, args, kwargs), daemon=True)
    worker.start()
    sender.close()
    try:
        while not receiver.poll(0.1):
            if not worker.is_alive() and not receiver.poll(0.1):
                raise RuntimeError(f"the linkage worker stopped without a result (exit code {worker.exitcode})")
        status, payload = receiver.recv()
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        receiver.close()
    if status == "error":
        raise payload
    return payload


def _worker(sender: Any, func: Callable[..., Any], args: tuple, kwargs: dict) -> None:

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills this process
    try:
        result = ("ok", func(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - sent back and raised in the parent
        result = ("error", exc)
    try:
        sender.send(result)
    except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable exception
        sender.send(("error", RuntimeError(str(exc))))
    sender.close()


def _print_summary(s: dict) -> None:

    table = summary_table(
        f"{s['method'].capitalize()} baseline -> {markup_safe(s['out'])} ({s['format']}), "
        f"{markup_safe(s['assignments'])}"
    )
    table.add_row("points x dims", f"{s['n_points']:,} x {s['n_dims']}")
    table.add_row("clusters (K)", str(s["n_clusters"]))
    table.add_row("backend", s["backend"])
    sizes = s["cluster_sizes"]
    table.add_row("cluster sizes", f"min {sizes['min']:,} / median {sizes['median']:g} / max {sizes['max']:,}")
    table.add_row("time", f"{s['seconds']:.3f} s")
    stdout_console().print(table)
