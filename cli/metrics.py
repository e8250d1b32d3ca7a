"""``l2h metrics``: score a hierarchy against ground-truth labels."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np
from l2h_cli._common import echo_json, score_text, stdout_console
from l2h_cli._inputs import (
    FILE,
    assignments_option,
    check_leaf_ids,
    class_names_option,
    cluster_options,
    deprecated_alias,
    encode_labels_with_names,
    examples,
    groups_option,
    json_option,
    k_list_option,
    key_option,
    labels_option,
    leaf_names_option,
    logits_option,
    point_leaves,
    quiet_option,
    read_groups,
    read_labels,
    read_tree_file,
    tree_argument,
)
from rich.table import Table

from l2h.files import OutputSet
from l2h.io import InputError
from l2h.metrics import contingency_table, evaluate, scores_to_json, write_class_distances
from l2h.text import markup_safe


@click.command(
    "metrics",
    short_help="Score a hierarchy against ground-truth labels.",
    epilog=examples(
        "l2h metrics tree.nwk --logits logits.npy --labels labels.npy",
        "l2h metrics tree.nwk --logits logits.npy --labels labels.npy --k 20,10 --groups superclasses.tsv",
    ),
)
@tree_argument
@logits_option(shards=True)
@assignments_option(shards=True)
@labels_option(required=True, shards=True)
@k_list_option("Also score the tree cut into k groups, for each k given (e.g. --k 20,10).")
@groups_option
@deprecated_alias("--coarse-labels", "coarse_path", "--groups (a class -> group map)")
@click.option(
    "--class-distances",
    "distances_out",
    type=FILE,
    default=None,
    help="Write the class-to-class mean tree distance matrix to this CSV.",
)
@class_names_option
@leaf_names_option()
@key_option
@json_option("Print one JSON object on stdout instead of tables.")
@quiet_option("No notes on stderr (the scores still go to stdout).")
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Count the leaf x class table on this Dask scheduler (tcp://HOST:8786); the points and --labels "
    "may then be folders of .npy shards, .zarr arrays or URLs that every worker can read (extra l2h[dask]).",
)
@click.option(
    "--workers", type=int, default=None, metavar="N", help="The same on a local Dask cluster of N worker processes."
)
@cluster_options
def metrics(
    tree_path: Path,
    logits_path: Path | None,
    assignments_path: Path | None,
    labels_path: Path,
    k: tuple[int, ...],
    groups_path: Path | None,
    coarse_path: Path | None,
    distances_out: Path | None,
    class_names_path: Path | None,
    leaf_names_path: Path | None,
    key: str | None,
    as_json: bool,
    quiet: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    timeout: float | None = None,
    force_workers: bool = False,
) -> None:
    """Score a hierarchy against ground-truth labels.

    NMI, ARI, ACC and leaf purity of the leaves, dendrogram purity, LHD and the mean path length,
    and the flat scores of the tree cut into each --k groups (against the labels, or against their --groups).
    """
    if (logits_path is None) == (assignments_path is None):
        raise click.UsageError("give exactly one of --logits and --assignments")
    if groups_path is not None and coarse_path is not None:
        raise click.UsageError("give --groups only (the deprecated --coarse-labels is the same input)")
    if distances_out is not None and distances_out.suffix.lower() != ".csv":
        raise click.BadParameter(f"expected a .csv file; got {distances_out}", param_hint="--class-distances")

    if scheduler is not None or workers is not None:  # the table summed on a Dask cluster
        from l2h_cli._metrics_dask import metrics_on_cluster

        result, coarse_levels, elapsed = metrics_on_cluster(
            tree_path=tree_path, logits_path=logits_path, assignments_path=assignments_path, labels_path=labels_path,
            levels=k, groups_path=groups_path, coarse_path=coarse_path, distances_out=distances_out,
            class_names_path=class_names_path, leaf_names_path=leaf_names_path, key=key, scheduler=scheduler,
            workers=workers, timeout=timeout, force_workers=force_workers,
        )  # fmt: skip
        if as_json:
            echo_json(scores_to_json(result))
        else:
            _print_tables(result, tree_path, coarse_levels, elapsed, distances_out)
        return
    for flag, path in (("--logits", logits_path), ("--assignments", assignments_path), ("--labels", labels_path)):
        if path is not None and path.is_dir():
            raise InputError(f"{flag} {path} is a folder (of shards?): add --scheduler ADDRESS or --workers N")
    inputs = {
        "tree": tree_path,
        "--logits": logits_path,
        "--assignments": assignments_path,
        "--labels": labels_path,
        "--groups": groups_path or coarse_path,
        "--class-names": class_names_path,
        "--leaf-names": leaf_names_path,
    }
    with OutputSet(inputs=inputs, outputs={"--class-distances": distances_out}) as outputs:
        started = time.perf_counter()
        tree = read_tree_file(tree_path, leaf_names_path)
        check_leaf_ids(tree, tree_path, leaf_names_path)
        labels = read_labels(labels_path)
        leaf, source = point_leaves(tree, tree_path, logits_path, assignments_path, key)
        if labels.shape[0] != leaf.shape[0]:
            raise InputError(
                f"labels file {labels_path} has {labels.shape[0]} labels but {source} give {leaf.shape[0]} points"
            )
        codes, names, direct = encode_labels_with_names(labels, class_names_path)
        coarse = None
        if groups_path is not None:
            groups = read_groups(groups_path, names, codes)
            _, group_ids = np.unique(np.array([g or "" for g in groups], dtype=object), return_inverse=True)
            coarse = group_ids.astype(np.int64)[codes]
        elif coarse_path is not None:
            coarse = _coarse_labels(coarse_path, codes, names, direct, leaf.shape[0])

        result = evaluate(tree, codes, assignments=leaf, levels=k, coarse_labels=coarse)
        if distances_out is not None:
            table = contingency_table(leaf, codes, n_leaves=tree.n_leaves, n_classes=len(names), sparse=True)
            outputs.write_with(distances_out, lambda tmp: _write_distances(tmp, tree, table, names))
        elapsed = time.perf_counter() - started

    if as_json:
        echo_json(scores_to_json(result))
    else:
        _print_tables(result, tree_path, coarse is not None, elapsed, distances_out)


def _coarse_labels(path: Path, codes: np.ndarray, names: list[str], direct: bool, n_points: int) -> np.ndarray:
    """The deprecated ``--coarse-labels``: one coarse label per point, or one per class id."""
    coarse = read_labels(path, name="coarse labels")
    if coarse.shape[0] == n_points:
        return coarse
    if not direct or coarse.shape[0] != len(names):
        per_class = f" or {len(names)} (one per class id)" if direct else " (a per-class map needs class ids 0..C-1)"
        raise InputError(
            f"coarse labels file {path} has {coarse.shape[0]} entries; expected {n_points} (one per point){per_class}"
        )
    return coarse[codes]  # a class -> coarse class map


def _write_distances(path: Path, tree, table, names: list[str]) -> None:
    """Stream the class distance matrix (in row blocks) into ``path``, a file staged by OutputSet."""

    with open(path, "wb") as handle:
        write_class_distances(handle, tree, table, names)


def _print_tables(result: dict, tree_path: Path, coarse: bool, elapsed: float, distances_out: Path | None) -> None:

    console = stdout_console()
    table = Table(
        title=f"Hierarchy scores: {markup_safe(tree_path)} "
        f"({result['n_leaves']} leaves, {result['n_points']:,} points)",
        title_justify="left",
        caption=f"computed in {elapsed:.2f} s",
        caption_justify="left",
    )
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    table.add_column("meaning")
    rows = [
        ("NMI", "nmi", "leaves vs labels, arithmetic normalisation"),
        ("ARI", "ari", "adjusted Rand index"),
        ("ACC", "acc", "Hungarian matching of leaves to classes"),
        ("LP", "lp", "leaf purity"),
        ("DP", "dp", "dendrogram purity (higher is better)"),
        ("LHD", "lhd", "mean ln(path) / ln K, lower is better"),
        ("mean path", "mean_path_length", "edges, same-class pairs in different leaves"),
    ]
    for label, key, meaning in rows:
        table.add_row(label, score_text(result[key]), meaning)
    console.print(table)
    if result["levels"]:
        levels = Table(
            title=f"Levels (tree cut into k groups) vs {'groups' if coarse else 'labels'}", title_justify="left"
        )
        for column in ("k", "NMI", "ARI", "ACC", "LP"):
            levels.add_column(column, justify="right")
        for k, scores in result["levels"].items():
            levels.add_row(str(k), *(score_text(scores[m]) for m in ("nmi", "ari", "acc", "lp")))
        console.print(levels)
    if distances_out is not None:
        console.print(f"class distance matrix -> {markup_safe(distances_out)}", highlight=False)
