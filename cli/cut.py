"""``l2h cut``: the k groups of a hierarchy, and every point's group."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from l2h_cli._common import echo_json, print_line, stdout_console
from l2h_cli._inputs import (
    assignments_option,
    check_leaf_ids,
    examples,
    json_option,
    key_option,
    leaf_names_option,
    logits_option,
    out_option,
    point_leaves,
    quiet_option,
    read_tree_file,
    tree_argument,
)
from rich.table import Table

from l2h.files import OutputSet
from l2h.text import markup_safe


@click.command(
    "cut",
    short_help="Cut a tree into k groups; place points in them.",
    epilog=examples("l2h cut tree.nwk --k 5", "l2h cut tree.nwk --k 5 --logits logits.npy -o groups.npy"),
)
@tree_argument
@click.option("--k", "k", type=click.IntRange(min=1), required=True, help="Number of groups (1..number of leaves).")
@logits_option("Logits of points to place (N x K); each point goes to the group of its argmax leaf.")
@assignments_option()
@out_option("Write every point's group id (int64 .npy); needs --logits or --assignments.")
@leaf_names_option()
@key_option
@json_option("Print the groups as JSON on stdout.")
@quiet_option("No line on where the groups were written (the groups still go to stdout).")
def cut(
    tree_path: Path,
    k: int,
    logits_path: Path | None,
    assignments_path: Path | None,
    out: Path | None,
    leaf_names_path: Path | None,
    key: str | None,
    as_json: bool,
    quiet: bool,
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

    inputs = {"tree": tree_path, "--logits": logits_path, "--assignments": assignments_path}
    with OutputSet(inputs={**inputs, "--leaf-names": leaf_names_path}, outputs={"--out": out}) as outputs:
        tree = read_tree_file(tree_path, leaf_names_path)
        nodes = tree.cut_nodes(k)
        group_of_leaf = tree.cut(k)
        point_groups = None
        if logits_path is not None or assignments_path is not None:
            check_leaf_ids(tree, tree_path, leaf_names_path)
            leaf, _ = point_leaves(tree, tree_path, logits_path, assignments_path, key)
            point_groups = group_of_leaf[leaf]
            if out is not None:
                outputs.save_npy(out, point_groups.astype(np.int64))

    sizes = None if point_groups is None else np.bincount(point_groups, minlength=k)
    groups = []
    for g, node in enumerate(nodes):
        leaves = tree.leaves_under(int(node))
        entry = {"group": g, "node": tree.node_name(int(node)), "leaves": [tree.leaf_names[i] for i in sorted(leaves)]}
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
    _print_groups(groups, tree_path, k, tree.n_leaves, None if quiet else out)


def _print_groups(groups: list[dict], tree_path: Path, k: int, n_leaves: int, out: Path | None) -> None:

    table = Table(title=f"{markup_safe(tree_path)}: {k} groups of {n_leaves} leaves", title_justify="left")
    table.add_column("group", justify="right")
    table.add_column("node", justify="right")
    table.add_column("leaves", justify="right")
    if groups and "n_points" in groups[0]:
        table.add_column("points", justify="right")
    table.add_column("leaf names")
    for entry in groups:
        names = entry["leaves"]
        shown = ", ".join(markup_safe(name) for name in names[:12])
        if len(names) > 12:
            shown += f", ... (+{len(names) - 12})"
        cells = [str(entry["group"]), markup_safe(entry["node"]), str(len(names))]
        if "n_points" in entry:
            cells.append(f"{entry['n_points']:,}")
        table.add_row(*cells, shown)
    console = stdout_console()
    console.print(table)
    if out is not None:
        print_line(f"per-point groups -> {out}")
