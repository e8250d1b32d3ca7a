"""``l2h metrics``: score a hierarchy against ground-truth labels."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np
from l2h_cli._common import echo_json, stdout_console
from l2h_cli._inputs import check_leaf_ids, read_labels, read_tree_file


def parse_levels(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...]:
    """``"20,10"`` -> ``(20, 10)``; the range is checked against the tree later."""
    if not value:
        return ()
    levels = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            levels.append(int(part))
        except ValueError:
            raise click.BadParameter(f"expected comma-separated integers like 20,10; got {part!r}") from None
    return tuple(levels)


def _encode(labels: np.ndarray, names_file: Path | None) -> tuple[np.ndarray, list[str], bool]:
    """Class ids, class names, and whether the ids are the labels themselves (a per-class map applies)."""
    from l2h.io import InputError, read_names
    from l2h.metrics import encode_labels

    if names_file is None:
        codes, classes = encode_labels(labels)
        direct = labels.dtype.kind not in "US" and np.array_equal(classes, np.arange(len(classes)))
        return codes, [str(c) for c in classes], direct
    names = read_names(names_file, name="--class-names")
    if labels.dtype.kind in "US":
        raise InputError("--class-names only applies to integer labels; these labels are names already")
    codes = labels.astype(np.int64)  # integer-valued: read_labels checked
    low, high = int(codes.min()), int(codes.max())
    if low < 0:
        raise InputError(f"--class-names names class ids 0..C-1, but the labels include {low}")
    if len(names) <= high:
        raise InputError(f"--class-names file {names_file} has {len(names)} names but the labels go up to {high}")
    return codes, names, True


@click.command("metrics")
@click.option(
    "--tree",
    "tree_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Hierarchy file (.nwk/.newick, .json or .npy linkage), e.g. from `l2h build`.",
)
@click.option(
    "--logits",
    "logits_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The flat model's logits (N x K); each point's leaf is their argmax.",
)
@click.option(
    "--assignments",
    "assignments_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Leaf id (0..K-1) of every point, instead of --logits.",
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Ground truth: integer .npy, or a text file with one label (id or name) per line.",
)
@click.option(
    "--levels",
    callback=parse_levels,
    default=None,
    help="Also score the tree cut into these numbers of groups, e.g. 20,10.",
)
@click.option(
    "--coarse-labels",
    "coarse_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Score the levels against these coarser labels: one per point, or one per class id.",
)
@click.option(
    "--class-distances",
    "distances_out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the class-to-class mean tree distance matrix to this CSV.",
)
@click.option(
    "--class-names",
    "class_names_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Text file naming the integer classes, one name per line (for reports).",
)
@click.option(
    "--leaf-names",
    "leaf_names_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Match Newick leaves by these names (one per line, in cluster-id order).",
)
@click.option("--key", default=None, help="Array name inside an .npz (or .pt dict) of logits.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout instead of tables.")
def metrics(
    tree_path: Path,
    logits_path: Path | None,
    assignments_path: Path | None,
    labels_path: Path,
    levels: tuple[int, ...],
    coarse_path: Path | None,
    distances_out: Path | None,
    class_names_path: Path | None,
    leaf_names_path: Path | None,
    key: str | None,
    as_json: bool,
) -> None:
    """Score a hierarchy against ground-truth labels.

    NMI, ARI, ACC and leaf purity of the leaves, dendrogram purity, LHD and the mean path length,
    and the flat scores of the tree cut at --levels.
    """
    if (logits_path is None) == (assignments_path is None):
        raise click.UsageError("give exactly one of --logits and --assignments")
    if distances_out is not None and distances_out.suffix.lower() != ".csv":
        raise click.BadParameter(f"expected a .csv file; got {distances_out}", param_hint="--class-distances")

    from l2h.io import InputError, load_array
    from l2h.metrics import (
        check_assignments,
        contingency_table,
        evaluate,
        scores_to_json,
    )

    if distances_out is not None and not (distances_out.parent if str(distances_out.parent) else Path(".")).is_dir():
        raise InputError(f"--class-distances: output folder does not exist: {distances_out.parent}")
    started = time.perf_counter()
    tree = read_tree_file(tree_path, leaf_names_path)
    check_leaf_ids(tree, tree_path, leaf_names_path)
    labels = read_labels(labels_path)

    if logits_path is not None:
        logits = load_array(logits_path, key=key, name="logits")
        if logits.ndim == 2 and logits.shape[1] != tree.n_leaves:
            raise InputError(
                f"tree {tree_path} has {tree.n_leaves} leaves but logits {logits_path} have "
                f"{logits.shape[1]} columns (clusters)"
            )
        leaf = tree.assign(logits)
        source = f"logits {logits_path}"
    else:
        assignments = load_array(assignments_path, name="assignments")
        try:
            leaf = check_assignments(assignments, tree.n_leaves)
        except (TypeError, ValueError) as exc:
            raise InputError(f"assignments file {assignments_path}: {exc}") from None
        source = f"assignments {assignments_path}"
    if labels.shape[0] != leaf.shape[0]:
        raise InputError(
            f"labels file {labels_path} has {labels.shape[0]} labels but {source} give {leaf.shape[0]} points"
        )

    codes, names, direct = _encode(labels, class_names_path)
    coarse = read_labels(coarse_path, name="coarse labels") if coarse_path else None
    if coarse is not None and coarse.shape[0] != leaf.shape[0]:
        if not direct or coarse.shape[0] != len(names):
            per_class = (
                f" or {len(names)} (one per class id)" if direct else " (a per-class map needs class ids 0..C-1)"
            )
            raise InputError(
                f"coarse labels file {coarse_path} has {coarse.shape[0]} entries; expected {leaf.shape[0]} "
                f"(one per point){per_class}"
            )
        coarse = coarse[codes]  # a class -> coarse class map

    result = evaluate(tree, codes, assignments=leaf, levels=levels, coarse_labels=coarse)

    if distances_out is not None:
        table = contingency_table(leaf, codes, n_leaves=tree.n_leaves, n_classes=len(names), sparse=True)
        _write_distances(distances_out, tree, table, names)
    elapsed = time.perf_counter() - started

    if as_json:
        echo_json(scores_to_json(result))
    else:
        _print_tables(result, tree_path, coarse is not None, elapsed, distances_out)


def _write_distances(path: Path, tree, table, names: list[str]) -> None:
    """Stream the class distance matrix to ``path`` in row blocks, through a temp file and a rename."""
    import os
    import tempfile

    from l2h.metrics import write_class_distances

    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            write_class_distances(handle, tree, table, names)
        mask = os.umask(0o077)  # the mode a plain open() would give: 0o666 & ~umask
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.4f}"


def _print_tables(result: dict, tree_path: Path, coarse: bool, elapsed: float, distances_out: Path | None) -> None:
    from rich.table import Table

    console = stdout_console()
    table = Table(
        title=f"Hierarchy scores: {tree_path} ({result['n_leaves']} leaves, {result['n_points']:,} points)",
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
        table.add_row(label, _fmt(result[key]), meaning)
    console.print(table)
    if result["levels"]:
        levels = Table(
            title=f"Levels (tree cut into k groups) vs {'coarse labels' if coarse else 'labels'}", title_justify="left"
        )
        for column in ("k", "NMI", "ARI", "ACC", "LP"):
            levels.add_column(column, justify="right")
        for k, scores in result["levels"].items():
            levels.add_row(str(k), *(_fmt(scores[m]) for m in ("nmi", "ari", "acc", "lp")))
        console.print(levels)
    if distances_out is not None:
        console.print(f"class distance matrix -> {distances_out}", highlight=False)
