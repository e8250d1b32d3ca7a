"""``l2h build --scheduler ADDRESS | --workers N``: the build on a Dask cluster (extra ``l2h[dask]``)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from l2h_cli._common import echo_json, progress_reporter, silence_dask_logs, stage_tree, stderr_console

from l2h import L2HWarning
from l2h.files import OutputSet
from l2h.io import InputError, read_names
from l2h.text import markup_safe, typed_url


def raw_source(logits: Path) -> str:
    """The INPUT as typed: click's ``Path`` folds ``s3://bucket/x`` into ``s3:/bucket/x``; undo that
    for fsspec URLs (a local path of that shape that exists is kept as it is)."""
    return typed_url(logits) or str(logits)


def build_on_cluster(
    *,
    logits: Path,
    out: Path,
    kind: str,
    aggregation: str,
    strategy: str,
    names_file: Path | None,
    key: str | None,
    quiet: bool,
    as_json: bool,
    scheduler: str | None,
    workers: int | None,
    summarize,
    timeout: float | None = None,
    force_workers: bool = False,
    print_summary,
) -> None:
    """Check the shards (headers only), connect, build, then write ``out`` (nothing on failure)."""
    from l2h.distributed import build_distributed, connect, open_shards, require_distributed

    if scheduler is not None and workers is not None:
        raise InputError("give either --scheduler ADDRESS or --workers N, not both")
    source = raw_source(logits)
    local = "://" not in source
    with OutputSet(
        inputs={"logits": logits if local else None, "--leaf-names": names_file}, outputs={"--out": out}
    ) as outputs:
        require_distributed()  # the install hint before anything else
        shards = open_shards(source, key=key, timeout=timeout)  # bad shards fail here, before a cluster is touched
        names = read_names(names_file, name="--leaf-names") if names_file else None
        started = time.perf_counter()
        silence_dask_logs()
        client, close = connect(scheduler=scheduler, workers=workers, timeout=timeout, force_workers=force_workers)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", L2HWarning)
                with progress_reporter(quiet=quiet or as_json) as progress:
                    tree = build_distributed(
                        shards,
                        client,
                        aggregation=aggregation,
                        strategy=strategy,
                        leaf_names=names,
                        progress=progress,
                        timeout=timeout,
                    )
        finally:
            close()
        elapsed = time.perf_counter() - started
        for warning in caught:
            if not quiet:
                stderr_console().print(f"[yellow]warning:[/] {markup_safe(str(warning.message))}", highlight=False)
        stage_tree(outputs, out, tree, kind)  # one atomic write (write_tree would nest a second one)

    summary = summarize(tree, source, out, kind, elapsed)
    summary["scheduler"] = scheduler if scheduler is not None else f"local cluster of {workers} workers"
    if as_json:
        echo_json(summary)
    elif not quiet:
        print_summary(summary)
