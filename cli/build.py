"""``l2h build``: logits file -> hierarchy file."""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
import warnings
from pathlib import Path

import click
from l2h_cli._common import (
    echo_json,
    print_line,
    progress_reporter,
    stage_tree,
    stderr_console,
    stdout_console,
    summary_table,
)
from l2h_cli._inputs import (
    TREE_FORMAT_CHOICES,
    check_input_path,
    cluster_options,
    deprecated_alias,
    examples,
    json_option,
    key_option,
    leaf_names_option,
    quiet_option,
)

from l2h import L2HWarning, build_hierarchy
from l2h.build.scratch import resolve_scratch_dir
from l2h.files import OutputSet
from l2h.io import InputError, load_array, read_names, tree_format_for
from l2h.kernel_cache import (
    COMPILE_NOTICE,
    announce_compiles,
    kernels_compiled,
    mark_kernels_compiled,
    watch_compiles,
)
from l2h.merge import AGGREGATIONS, INPUTS, STRATEGIES  # option lists, declared where dispatched (no numba import)
from l2h.text import markup_safe


@click.command(
    "build",
    short_help="Build the L2H tree of a model's clusters from its logits.",
    epilog=examples("l2h build logits.npy -o tree.nwk", "l2h build logits.npy -o tree.json --leaf-names classes.txt"),
)
# Paths are checked by the library, not by click: a bad file is bad data (the reader names what is wrong), not a
# usage error.
@click.argument("logits", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    help="Output tree file (.nwk/.newick, .json, or .npy for a scipy linkage).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(TREE_FORMAT_CHOICES),
    default=None,
    help="Output format (default: from the --out suffix).",
)
@click.option(
    "--aggregation",
    type=click.Choice(list(AGGREGATIONS)),
    default="cluster-mean",
    show_default=True,
    help="Group score: sum of cluster-wise mean confidences (paper default), sum, or mean.",
)
@click.option(
    "--strategy",
    type=click.Choice(list(STRATEGIES)),
    default="lowest-score",
    show_default=True,
    help="Merge the lowest-scored group with its most related one, or the best of all pairs.",
)
@leaf_names_option("Text file with K lines, line j naming cluster (leaf) j; written into the tree.", dest="names_file")
@deprecated_alias("--names", "names_file", "--leaf-names")
@click.option(
    "--input",
    "input_kind",
    type=click.Choice(list(INPUTS)),
    default="logits",
    show_default=True,
    help="What the file holds: logits, probabilities (turned into logs, zeros clipped), or log-probabilities.",
)
@click.option(
    "--scratch",
    default="auto",
    show_default=True,
    metavar="auto|none|DIR",
    help="Out-of-core build: the first pass copies the logits, sorted by argmax in big row chunks, into an "
    "unnamed file in DIR (as large as the logits; float64 ones with --input probs), so that the merges read "
    "it sequentially; the copy is freed when the build ends, however it ends.  auto: only when the logits are "
    "larger than the available memory, in $TMPDIR (the system temp folder) or, if that lacks room or is in "
    "memory, in the --out folder; none: never (read the file in place).",
)
@key_option
@quiet_option()
@json_option("Print a machine-readable summary on stdout.")
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Run on this Dask scheduler (tcp://HOST:8786); LOGITS may then be a folder of .npy shards, "
    "a .zarr array or an fsspec URL that every worker can read (extra l2h[dask]).",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    metavar="N",
    help="Run on a local Dask cluster of N worker processes (extra l2h[dask]).",
)
@cluster_options
def build(
    logits: Path,
    out: Path,
    fmt: str | None,
    aggregation: str,
    strategy: str,
    names_file: Path | None,
    key: str | None,
    input_kind: str,
    scratch: str,
    quiet: bool,
    as_json: bool,
    scheduler: str | None = None,
    workers: int | None = None,
    timeout: float | None = None,
    force_workers: bool = False,
) -> None:
    """Build the L2H hierarchy of a model's clusters from its logits."""
    if scheduler is not None or workers is not None:  # the build on a Dask cluster
        if input_kind != "logits":
            raise InputError(f"--input {input_kind} is not supported with --scheduler/--workers; give logits")
        if scratch != "auto":
            raise InputError("--scratch is not supported with --scheduler/--workers (the workers hold the rows)")
        from l2h_cli._build_dask import build_on_cluster

        kind = tree_format_for(out, fmt, format_hint="--format")
        build_on_cluster(
            logits=logits, out=out, kind=kind, aggregation=aggregation, strategy=strategy, names_file=names_file,
            key=key, quiet=quiet, as_json=as_json, scheduler=scheduler, workers=workers, timeout=timeout,
            force_workers=force_workers,
            summarize=_summary, print_summary=_print_summary,
        )  # fmt: skip
        return

    kind = tree_format_for(out, fmt, format_hint="--format")  # fail on a bad suffix or folder before any work
    outputs = OutputSet(inputs={"logits": logits, "--leaf-names": names_file}, outputs={"--out": out})

    check_input_path(logits, "logits")
    array = load_array(logits, key=key, name="logits")
    names = read_names(names_file, name="--leaf-names") if names_file else None
    from l2h.build.inputs import kernel_dtype
    from l2h.build.small import use_small

    flavour = kernel_dtype(array.dtype, input_kind).name
    err = stderr_console()
    # On a terminal the progress bar would sit frozen while Numba compiles: compile first, under a
    # live clock, and show any later compile as a progress line of its own.  Off a terminal (CI,
    # batch logs) one line says so when a kernel truly compiles.
    # Small inputs need no compilation (l2h.build.small).
    compiled = not use_small(getattr(array, "shape", ()))
    talk = compiled and not (quiet or as_json)
    if talk and err.is_terminal and not kernels_compiled(flavour):
        _compile_under_a_clock(err, flavour)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", L2HWarning)
        scratch_dir = _scratch_dir(scratch, array, input_kind, out)
        with progress_reporter(quiet=quiet or as_json) as progress:
            with _compile_notice(talk, err, progress, flavour):
                tree = build_hierarchy(
                    array,
                    aggregation=aggregation,
                    strategy=strategy,
                    leaf_names=names,
                    progress=progress,
                    input=input_kind,
                    scratch_dir=scratch_dir,
                )
    elapsed = time.perf_counter() - started
    if compiled:
        mark_kernels_compiled(flavour)
    for warning in caught:
        if not quiet:
            stderr_console().print(f"[yellow]warning:[/] {markup_safe(warning.message)}", highlight=False)
    with outputs:
        stage_tree(outputs, out, tree, kind)

    summary = _summary(tree, logits, out, kind, elapsed)
    if as_json:
        echo_json(summary)
    elif not quiet:
        _print_summary(summary)


def _compile_notice(talk: bool, err, progress, flavour: str):
    """What the build says while a kernel compiles inside the block (nothing unless ``talk``).

    On a terminal: the progress line ``compiling kernels (<flavour>)``, with no total and a running
    clock, until it is compiled (the parallel kernels of a large input, say, which the small build
    of :func:`_compile_under_a_clock` does not reach), so no finished bar sits frozen meanwhile.
    Off a terminal: one stderr line, at the first compile."""
    if not talk:
        return contextlib.nullcontext()
    if err.is_terminal:
        phase = f"compiling kernels ({flavour})"
        return watch_compiles(lambda: progress(phase, 0, None), lambda: progress(phase, 1, 1))
    return announce_compiles(lambda line: print_line(line, err=True), flavour)


def _compile_under_a_clock(err, flavour: str) -> None:
    """Compile the kernels of a small build of ``flavour`` logits (:func:`l2h.build.warmup.compile_small`)
    under a line that shows the seconds elapsed, then say how long it took."""

    from l2h.build.warmup import compile_small

    err.print(f"compiling kernels ({flavour}): {COMPILE_NOTICE}", highlight=False, markup=False)
    started = time.perf_counter()
    stop = threading.Event()
    with err.status(f"compiling kernels ({flavour}): 0 s") as status:

        def tick() -> None:
            while not stop.wait(1.0):
                status.update(f"compiling kernels ({flavour}): {time.perf_counter() - started:.0f} s")

        clock = threading.Thread(target=tick, daemon=True)
        clock.start()
        try:
            compile_small(flavour)
        finally:
            stop.set()
            clock.join()
    err.print(f"compiled kernels ({flavour}) in {time.perf_counter() - started:.0f} s", highlight=False)


def _scratch_dir(value: str, array, input_kind: str, out: Path) -> Path | None:
    """The folder of the out-of-core copy for ``--scratch VALUE`` (None: no copy); ``auto`` warns when
    the logits need one but neither $TMPDIR nor the --out folder has room."""
    shape = getattr(array, "shape", ())
    return resolve_scratch_dir(value, shape, array.dtype, input_kind, [tempfile.gettempdir(), out.parent])


def _summary(tree, logits: Path, out: Path, kind: str, elapsed: float) -> dict:
    info = dict(tree.info)
    sizes = info.get("cluster_sizes")
    root_children = [int(c) for c in tree.merges[-1]]
    subtrees = []
    for child in root_children:
        leaves = tree.leaves_under(child)
        entry = {"node": child, "n_leaves": int(len(leaves))}
        if sizes is not None:
            entry["n_points"] = int(sum(sizes[i] for i in leaves))
        subtrees.append(entry)
    empty = info.get("empty_clusters", [])
    return {
        "logits": str(logits),
        "out": str(out),
        "format": kind,
        "n_points": info.get("n_points"),
        "n_clusters": tree.n_leaves,
        "aggregation": info.get("aggregation"),
        "strategy": info.get("strategy"),
        "input": info.get("input", "logits"),
        "clipped_zeros": info.get("clipped_zeros", 0),
        "empty_clusters": [tree.leaf_names[i] for i in empty],
        "seconds": round(elapsed, 4),
        "root_subtrees": subtrees,
    }


def _print_summary(s: dict) -> None:

    table = summary_table(f"L2H hierarchy -> {markup_safe(s['out'])} ({s['format']})")
    table.add_row("points (N)", f"{s['n_points']:,}" if s["n_points"] is not None else "?")
    table.add_row("clusters (K)", str(s["n_clusters"]))
    table.add_row("aggregation / strategy", f"{s['aggregation']} / {s['strategy']}")
    if s["input"] != "logits":
        table.add_row("input", f"{s['input']} ({s['clipped_zeros']:,} zero probabilities clipped)")
    empty = s["empty_clusters"]
    table.add_row(
        "empty clusters",
        "none"
        if not empty
        else f"{len(empty)}: {', '.join(markup_safe(name) for name in empty[:10])}"
        + (" ..." if len(empty) > 10 else ""),
    )
    table.add_row("time", f"{s['seconds']:.3f} s")
    parts = []
    for sub in s["root_subtrees"]:
        text = f"{sub['n_leaves']} leaves"
        if "n_points" in sub:
            text += f" / {sub['n_points']:,} points"
        parts.append(text)
    table.add_row("root's subtrees", "  |  ".join(parts))
    stdout_console().print(table)
