"""``l2h cut``: the k groups of a hierarchy, and every point's group."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from l2h_cli._common import echo_json, stdout_console


@click.command("cut")
@click.argument("tree_path", metavar="TREE", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--k", "k", type=int, required=True, help="Number of groups (1..number of leaves).")
@click.option(
    "--logits",
    "logits_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Logits of points to place (N x K); each point goes to the group of its argmax leaf.",
)
@click.option(
    "--assignments",
    "assignments_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Leaf id of every point, instead of --logits.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write every point's group id (int64 .npy); needs --logits or --assignments.",
)
@click.option(
    "--leaf-names",
    "leaf_names_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Match Newick leaves by these names (one per line, in cluster-id order).",
)
@click.option("--key", default=None, help="Array name inside an .npz (or .pt dict) of logits.")
@click.option("--json", "as_json", is_flag=True, help="Print the groups as JSON on stdout.")
def cut(
    tree_path: Path,
    k: int,
    logits_path: Path | None,
    assignments_path: Path | None,
    out: Path | None,
    leaf_names_path: Path | None,
    key: str | None,
    as_json: bool,
) -> None:
    """Cut a tree into k groups; place points in them.

    Lists each group's leaves; with --logits or --assignments, counts the points of each group and
    (with --out) writes every point's group id.
    """
    if logits_path is not None and assignments_path is not None:
        raise click.UsageError("give at most one of --logits and --assignments")
    if out is not None and logits_path is None and assignments_path is None:
        raise click.UsageError("--out writes per-point groups: give --logits or --assignments")
    if out is not None and out.suffix.lower() != ".npy":
        raise click.BadParameter(f"expected a .npy file; got {out}", param_hint="--out")

    from l2h_cli._inputs import check_leaf_ids, read_tree_file

    from l2h.io import InputError, load_array, save_npy_atomic

    tree = read_tree_file(tree_path, leaf_names_path)
    nodes = tree.cut_nodes(k)
    group_of_leaf = tree.cut(k)

    point_groups = None
    if logits_path is not None or assignments_path is not None:
        check_leaf_ids(tree, tree_path, leaf_names_path)
    if logits_path is not None:
        logits = load_array(logits_path, key=key, name="logits")
        if logits.ndim == 2 and logits.shape[1] != tree.n_leaves:
            raise InputError(
                f"tree {tree_path} has {tree.n_leaves} leaves but logits {logits_path} have "
                f"{logits.shape[1]} columns (clusters)"
            )
        point_groups = group_of_leaf[tree.assign(logits)]
    elif assignments_path is not None:
        from l2h.metrics import check_assignments

        assignments = load_array(assignments_path, name="assignments")
        try:
            leaf = check_assignments(assignments, tree.n_leaves)
        except (TypeError, ValueError) as exc:
            raise InputError(f"assignments file {assignments_path}: {exc}") from None
        point_groups = group_of_leaf[leaf]
    if out is not None and point_groups is not None:
        save_npy_atomic(out, point_groups.astype(np.int64))

    sizes = None if point_groups is None else np.bincount(point_groups, minlength=k)
    groups = []
    for g, node in enumerate(nodes):
        leaves = tree.leaves_under(int(node))
        entry = {"group": g, "node": int(node), "leaves": [tree.leaf_names[i] for i in sorted(leaves)]}
        if sizes is not None:
            entry["n_points"] = int(sizes[g])
        groups.append(entry)
    if as_json:
        echo_json(
            {
                "tree": str(tree_path),
                "k": k,
                "n_leaves": tree.n_leaves,
                "groups": groups,
                "out": None if out is None else str(out),
            }
        )
        return
    _print_groups(groups, tree_path, k, tree.n_leaves, out)


def _print_groups(groups: list[dict], tree_path: Path, k: int, n_leaves: int, out: Path | None) -> None:
    from rich.table import Table

    table = Table(title=f"{tree_path}: {k} groups of {n_leaves} leaves", title_justify="left")
    table.add_column("group", justify="right")
    table.add_column("node", justify="right")
    table.add_column("leaves", justify="right")
    if groups and "n_points" in groups[0]:
        table.add_column("points", justify="right")
    table.add_column("leaf names")
    for entry in groups:
        names = entry["leaves"]
        shown = ", ".join(names[:12]) + (f", ... (+{len(names) - 12})" if len(names) > 12 else "")
        cells = [str(entry["group"]), str(entry["node"]), str(len(names))]
        if "n_points" in entry:
            cells.append(f"{entry['n_points']:,}")
        table.add_row(*cells, shown)
    console = stdout_console()
    console.print(table)
    if out is not None:
        console.print(f"per-point groups -> {out}", highlight=False)
