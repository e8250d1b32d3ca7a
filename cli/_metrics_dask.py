"""``l2h metrics --scheduler ADDRESS | --workers N``: the leaf x class table summed on a Dask cluster.

The points (``--logits`` or ``--assignments``) and ``--labels`` may be sharded (a folder of ``.npy``
row blocks in file-name order, one ``.npy``, a ``.zarr`` array, fsspec URLs that every worker can
read); the two inputs may be cut differently.  The workers count their rows' (leaf, label) pairs;
the driver adds them into the sparse table and scores it exactly as the single-machine run does.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from l2h_cli._common import silence_dask_logs
from l2h_cli._inputs import check_leaf_ids, read_groups, read_labels, read_tree_file

from l2h.files import OutputSet
from l2h.io import InputError, read_names
from l2h.metrics import encode_label_values, evaluate_table, write_class_distances


def _source(path: Path) -> str:
    """The path as typed (click folds ``s3://x`` into ``s3:/x``; the build's helper undoes that)."""
    try:
        from l2h_cli._build_dask import raw_source
    except ImportError:  # pragma: no cover - the build's Dask module ships with l2h.distributed
        return str(path)
    return raw_source(path)


def metrics_on_cluster(
    *,
    tree_path: Path,
    logits_path: Path | None,
    assignments_path: Path | None,
    labels_path: Path,
    levels: tuple[int, ...],
    groups_path: Path | None,
    coarse_path: Path | None,
    distances_out: Path | None,
    class_names_path: Path | None,
    leaf_names_path: Path | None,
    key: str | None,
    scheduler: str | None,
    workers: int | None,
    timeout: float | None = None,
    force_workers: bool = False,
) -> tuple[dict[str, Any], bool, float]:
    """Score on the cluster; returns the result (as :func:`l2h.metrics.evaluate`), whether levels are
    scored against coarse labels, and the seconds taken.  Writes ``--class-distances`` if asked."""

    from l2h.distributed import connect, require_distributed
    from l2h.distributed.table import count_labels, plan_pieces

    if scheduler is not None and workers is not None:
        raise InputError("give either --scheduler ADDRESS or --workers N, not both")
    kind, points_path = ("logits", logits_path) if logits_path is not None else ("assignments", assignments_path)
    assert points_path is not None
    points, labels = _source(points_path), _source(labels_path)
    local = {"--" + kind: points_path if "://" not in points else None, "--labels": None}
    local["--labels"] = labels_path if "://" not in labels else None
    inputs = {
        "tree": tree_path,
        **local,
        "--groups": groups_path or coarse_path,
        "--class-names": class_names_path,
        "--leaf-names": leaf_names_path,
    }
    with OutputSet(inputs=inputs, outputs={"--class-distances": distances_out}) as outputs:
        started = time.perf_counter()
        tree = read_tree_file(tree_path, leaf_names_path)
        check_leaf_ids(tree, tree_path, leaf_names_path)
        require_distributed()  # the install hint before anything else
        pieces = plan_pieces(points, labels, kind=kind, n_leaves=tree.n_leaves, key=key, timeout=timeout)
        names_given = read_names(class_names_path, name="--class-names") if class_names_path else None
        silence_dask_logs()
        client, close = connect(scheduler=scheduler, workers=workers, timeout=timeout, force_workers=force_workers)
        try:
            counts = count_labels(
                points, labels, client, kind=kind, n_leaves=tree.n_leaves, key=key, pieces=pieces, timeout=timeout
            )
        finally:
            close()

        if names_given is None:
            codes, classes = encode_label_values(counts.labels, counts.n_points)
            names = [str(c) for c in classes]
            direct = bool(np.array_equal(classes, np.arange(len(classes))))
        else:
            codes, names, direct = counts.labels, names_given, True
            low, high = int(codes.min()), int(codes.max())
            if low < 0:
                raise InputError(f"--class-names names class ids 0..C-1, but the labels include {low}")
            if len(names) <= high:
                raise InputError(
                    f"--class-names file {class_names_path} has {len(names)} names but the labels go up to {high}"
                )
        table = _sparse(counts.leaves, codes, counts.counts, tree.n_leaves, len(names))
        level_table = None
        if groups_path is not None:  # a class -> group map, as on one machine
            groups = read_groups(groups_path, names, codes)
            _, group_ids = np.unique(np.array([g or "" for g in groups], dtype=object), return_inverse=True)
            group_of = group_ids.reshape(-1).astype(np.int64)
            level_table = _sparse(
                counts.leaves, group_of[codes], counts.counts, tree.n_leaves, int(group_of.max(initial=0)) + 1
            )
        elif coarse_path is not None:
            coarse = read_labels(coarse_path, name="coarse labels")
            if not direct or coarse.shape[0] != len(names):
                raise InputError(
                    f"coarse labels file {coarse_path} has {coarse.shape[0]} entries; on a cluster give one coarse "
                    f"label per class id ({len(names)})" + ("" if direct else ", which needs integer class ids 0..C-1")
                )
            coarse_codes, coarse_classes = np.unique(coarse, return_inverse=True)
            level_table = _sparse(
                counts.leaves, coarse_classes.reshape(-1)[codes], counts.counts, tree.n_leaves, coarse_codes.size
            )
        result = evaluate_table(tree, table, levels=levels, level_table=level_table)
        if distances_out is not None:
            outputs.write_with(distances_out, lambda tmp: write_class_distances(tmp, tree, table, names))
        elapsed = time.perf_counter() - started
    return result, level_table is not None, elapsed


def _sparse(rows: np.ndarray, cols: np.ndarray, counts: np.ndarray, n_rows: int, n_cols: int) -> Any:
    import scipy.sparse

    return scipy.sparse.coo_array((counts, (rows, cols)), shape=(n_rows, n_cols)).tocsr()
