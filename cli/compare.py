"""``l2h compare``: how close is a learned tree to a reference taxonomy?"""

from __future__ import annotations

import shlex
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import numpy as np
from l2h_cli._common import echo_json, score_text, stderr_console, stdout_console
from l2h_cli._inputs import (
    FILE,
    assignments_option,
    check_leaf_ids,
    class_names_described,
    examples,
    json_option,
    key_option,
    labels_option,
    leaf_names_option,
    logits_option,
    point_leaves,
    quiet_option,
    read_labels,
    read_leaf_names,
    read_tree_file,
)
from rich.table import Table

from l2h import L2HWarning
from l2h.compare import clusters_as_classes, leaves_are_ids, result_to_json
from l2h.compare import compare as run_compare
from l2h.files import check_output_path, write_atomic
from l2h.io import InputError, read_names
from l2h.report.tanglegram import build_tanglegram
from l2h.taxonomy import read_taxonomy
from l2h.text import markup_safe


@contextmanager
def _notes(quiet: bool) -> Iterator[None]:
    """Print the library's L2HWarnings (dropped leaves, DAGs) as one 'note:' line each on stderr."""

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", L2HWarning)
        try:
            yield
        finally:
            if not quiet:
                for warning in caught:
                    if issubclass(warning.category, L2HWarning):
                        stderr_console().print(f"[yellow]note:[/] {markup_safe(warning.message)}", highlight=False)


@click.command(
    "compare",
    short_help="Score a tree against a reference taxonomy.",
    epilog=examples(
        "l2h compare tree.nwk --reference taxonomy.nwk --logits logits.npy --labels labels.npy",
        "l2h compare classifier_tree.nwk --reference taxonomy.nwk --leaves-are-classes",
    ),
)
@click.argument("tree_path", metavar="TREE", type=FILE)
@click.option(
    "--reference",
    "reference_path",
    type=FILE,
    required=True,
    help="Reference taxonomy: Newick of any arity, a 'parent child' edge list, or a class<TAB>group file.",
)
@click.option(
    "--reference-format",
    type=click.Choice(["auto", "newick", "edges", "groups"]),
    default="auto",
    show_default=True,
    help="Format of --reference (auto: .nwk/'(' is Newick; with --leaves an edge list; else guessed).",
)
@click.option(
    "--leaves",
    "leaves_path",
    type=FILE,
    default=None,
    help="The classes as reference node names, one per line in class-id order (e.g. ImageNet's wnids).",
)
@class_names_described("Line i names class i: leaf j of TREE is class j (or the names of integer --labels).")
@leaf_names_option("Line j names cluster (leaf) j of TREE; a Newick's named leaves are matched to these names.")
@logits_option("Points' logits (N x K): each point's leaf is their argmax, and each leaf takes its majority class.")
@assignments_option()
@labels_option(help="Ground truth per point: with --logits/--assignments each leaf takes its majority class.")
@key_option
@click.option(
    "--random-baseline",
    "random_trees",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also score N uniformly random binary trees on the same leaves (mean scores).",
)
@click.option(
    "--baseline-tree",
    "baseline_path",
    type=FILE,
    default=None,
    help="Also score this tree (e.g. the Ward tree of `l2h agglomerative`), read like TREE.",
)
@click.option(
    "--baseline-assignments",
    "baseline_assignments_path",
    type=FILE,
    default=None,
    help="Leaf id of every point in --baseline-tree (with --labels).",
)
@click.option(
    "--leaves-are-classes",
    is_flag=True,
    help="TREE's leaves 0..K-1 are the classes 0..K-1 of the reference (a tree built from a classifier's logits).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the triplet sample and random trees.")
@click.option(
    "--report",
    "report_path",
    type=FILE,
    default=None,
    help="Also write an offline HTML tanglegram: TREE and the reference facing each other, leaves "
    "matched as scored, clades the other tree lacks in red.",
)
@json_option("Print one JSON object on stdout instead of a table.")
@quiet_option("No notes on stderr.")
def compare(
    tree_path: Path,
    reference_path: Path,
    reference_format: str,
    leaves_path: Path | None,
    class_names_path: Path | None,
    leaf_names_path: Path | None,
    logits_path: Path | None,
    assignments_path: Path | None,
    labels_path: Path | None,
    key: str | None,
    random_trees: int,
    baseline_path: Path | None,
    baseline_assignments_path: Path | None,
    leaves_are_classes: bool,
    seed: int,
    report_path: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Compare TREE with a reference taxonomy (--reference).

    TREE's leaves must be matched to the reference's classes.  A tree built from a clustering
    model's logits has leaves 0..K-1 that are cluster ids: give the points (--logits or
    --assignments, with --labels) and each leaf takes its majority class (purity reported), or name
    cluster j on line j of --leaf-names.  A tree built from a classifier's logits has leaf j =
    class j: say so with --leaves-are-classes (and --class-names when the reference names classes).
    Reports cophenetic correlations, triplet agreement, Robinson-Foulds shares and per-depth
    NMI/ARI/ACC.
    """

    points = _check_modes(
        logits_path, assignments_path, labels_path, leaves_are_classes, baseline_path, baseline_assignments_path
    )

    if report_path is not None:
        check_output_path(report_path, name="--report")
    command = _Command(tree_path, reference_path, reference_format, leaves_path)
    started = time.perf_counter()
    with _notes(quiet):  # notes go to stderr, so --json output stays clean
        class_names = read_names(class_names_path, name="--class-names") if class_names_path else None
        leaves = read_names(leaves_path, name="--leaves") if leaves_path else None
        reference = read_taxonomy(
            reference_path,
            None if reference_format == "auto" else reference_format,
            leaves=leaves,
            class_names=class_names,
        )
        tree = _read_tree(tree_path, leaf_names_path)
        baseline = _read_tree(baseline_path, None) if baseline_path else None
        if points:
            labels = read_labels(labels_path)  # type: ignore[arg-type]
            result, scored = _by_majority(
                tree,
                tree_path,
                reference,
                logits_path,
                assignments_path,
                key,
                labels,
                class_names,
                leaf_names_path,
                random_trees,
                seed,
            )
            if baseline is not None:
                result["baseline_tree"], _ = _by_majority(
                    baseline,
                    baseline_path,
                    reference,
                    None,
                    baseline_assignments_path,
                    None,
                    labels,
                    class_names,
                    None,
                    0,
                    seed,  # type: ignore[arg-type]
                )
        else:
            tree = _as_classes(
                tree, tree_path, reference, class_names, class_names_path, leaf_names_path, leaves_are_classes, command
            )
            if baseline is not None:
                baseline = _as_classes(
                    baseline, baseline_path, reference, class_names, class_names_path, None, leaves_are_classes, command
                )  # type: ignore[arg-type]
            result = _compare_classes(tree, reference, random_trees, seed)
            scored = (tree, reference)
            if baseline is not None:
                result["baseline_tree"] = _compare_classes(baseline, reference, 0, seed)
        if report_path is not None:  # the pair just scored: the same leaf mapping
            _write_tanglegram(report_path, *scored, result, tree_path, quiet)
    elapsed = time.perf_counter() - started
    if as_json:
        echo_json(result_to_json(result))
    else:
        _print_table(result, tree_path, reference_path, baseline_path, points, elapsed)


def _check_modes(
    logits_path: Path | None,
    assignments_path: Path | None,
    labels_path: Path | None,
    leaves_are_classes: bool,
    baseline_path: Path | None,
    baseline_assignments_path: Path | None,
) -> bool:
    """Refuse option sets that mix the two modes; True when the leaves are clusters (points given)."""
    points = logits_path is not None or assignments_path is not None
    if logits_path is not None and assignments_path is not None:
        raise InputError("give at most one of --logits and --assignments")
    if points != (labels_path is not None):
        raise InputError("--logits/--assignments and --labels go together (each leaf takes its majority class)")
    if leaves_are_classes and points:
        raise InputError(
            "--leaves-are-classes and --labels exclude each other: with points each leaf takes its majority class"
        )
    if baseline_assignments_path is not None and (baseline_path is None or labels_path is None):
        raise InputError("--baseline-assignments needs --baseline-tree and --labels")
    if baseline_path is not None and points and baseline_assignments_path is None:
        raise InputError("with --labels, --baseline-tree needs --baseline-assignments (its leaf of every point)")
    return points


class _Command:
    """The command line so far, to print the one that works in an error."""

    def __init__(self, tree_path: Path, reference_path: Path, reference_format: str, leaves_path: Path | None) -> None:
        parts = ["l2h", "compare", str(tree_path), "--reference", str(reference_path)]
        if reference_format != "auto":
            parts += ["--reference-format", reference_format]
        if leaves_path is not None:
            parts += ["--leaves", str(leaves_path)]
        self.parts = parts

    def __call__(self, *extra: object) -> str:
        return "`" + shlex.join([*self.parts, *(str(e) for e in extra)]) + "`"


def _read_tree(path: Path, leaf_names_path: Path | None) -> Any:
    """TREE with --leaf-names applied: a Newick's named leaves are matched to them, numbered leaves renamed."""

    if leaf_names_path is None:
        return read_tree_file(path)
    names = read_leaf_names(leaf_names_path)
    tree = read_tree_file(path)
    if leaves_are_ids(tree):
        if len(names) != tree.n_leaves:
            raise InputError(
                f"--leaf-names file {leaf_names_path} has {len(names)} names but tree {path} has {tree.n_leaves} "
                "leaves (line j names cluster j)"
            )
        return tree.with_leaf_names(names)
    return read_tree_file(path, leaf_names_path)


def _as_classes(
    tree: Any,
    path: Path,
    reference: Any,
    class_names: list[str] | None,
    class_names_path: Path | None,
    leaf_names_path: Path | None,
    leaves_are_classes: bool,
    command: _Command,
) -> Any:
    """TREE with its leaves named as the reference's classes, or an error that says how to name them."""

    if class_names is not None:
        # the majority command keeps --class-names only where they are the reference's names
        named = ("--class-names", class_names_path) if set(class_names) & set(reference.leaf_names) else ()
        by_majority = command("--logits", "LOGITS.npy", "--labels", "LABELS.npy", *named)
        if not leaves_are_classes:
            raise InputError(
                f"--class-names names class ids, but nothing says that the leaves of {path} are classes: give each "
                f"cluster its majority class with {by_majority}"
                + (
                    f", or if leaf j is class j, {command('--class-names', class_names_path, '--leaves-are-classes')}"
                    if len(class_names) == tree.n_leaves
                    else f" (the tree has {tree.n_leaves} leaves but --class-names names {len(class_names)} classes)"
                )
            )
        check_leaf_ids(tree, path, leaf_names_path)
        if len(class_names) != tree.n_leaves:
            raise InputError(
                f"--class-names has {len(class_names)} names but tree {path} has {tree.n_leaves} leaves (leaf j is "
                f"class j: one name per leaf); if the leaves are clusters, give each its majority class with "
                f"{by_majority}"
            )
        return tree.with_leaf_names(class_names)
    if leaves_are_classes or leaf_names_path is not None or not leaves_are_ids(tree):
        return tree
    majority = command("--logits", "LOGITS.npy", "--labels", "LABELS.npy")
    ids = {str(j) for j in range(tree.n_leaves)}
    if ids <= set(reference.leaf_names):
        raise InputError(
            f"the leaves of {path} are cluster ids 0..{tree.n_leaves - 1} and the reference's classes are numbered "
            f"too, so matching them would pair cluster j with class j by accident: give each cluster its majority "
            f"class with {majority}, or if leaf j is class j (a classifier's logits), {command('--leaves-are-classes')}"
        )
    raise InputError(
        f"the leaves of {path} are cluster ids 0..{tree.n_leaves - 1}, not the reference's classes: give each cluster "
        f"its majority class with {majority}, or name cluster j on line j with {command('--leaf-names', 'NAMES.txt')}"
    )


def _write_tanglegram(path: Path, tree: Any, reference: Any, result: Any, tree_path: Path, quiet: bool) -> None:
    page = build_tanglegram(tree, reference, scores=result, learned_title=f"TREE {tree_path.name}")
    write_atomic(path, page)
    if not quiet:
        stderr_console().print(f"tanglegram -> {path}", highlight=False, markup=False)


def _compare_classes(tree: Any, reference: Any, random_trees: int, seed: int) -> dict:

    return run_compare(tree, reference, leaves_are_classes=True, random_trees=random_trees, seed=seed)


def _by_majority(
    tree: Any,
    tree_path: Path,
    reference: Any,
    logits_path: Path | None,
    assignments_path: Path | None,
    key: str | None,
    labels: np.ndarray,
    class_names: list[str] | None,
    leaf_names_path: Path | None,
    random_trees: int,
    seed: int,
) -> tuple[dict, tuple[Any, Any]]:
    """Scores of a tree over clusters, each leaf standing for its points' majority class."""

    check_leaf_ids(tree, tree_path, leaf_names_path)
    leaf, source = point_leaves(tree, tree_path, logits_path, assignments_path, key)
    if leaf.shape[0] != labels.shape[0]:
        raise InputError(f"the labels hold {labels.shape[0]} points but {source} give {leaf.shape[0]}")
    if class_names is not None:
        if labels.dtype.kind in "US":
            raise InputError("--class-names only applies to integer labels; these labels are names already")
        high = int(labels.max())
        if labels.min() < 0 or high >= len(class_names):
            raise InputError(f"--class-names has {len(class_names)} names but the labels hold the id {high}")
    restricted, expanded, purity = clusters_as_classes(tree, reference, leaf, labels, class_names=class_names)
    result = run_compare(restricted, expanded, leaves_are_classes=True, random_trees=random_trees, seed=seed)
    result["purity"] = purity
    return result, (restricted, expanded)


# ---------------------------------------------------------------------------------------------- table
_ROWS = (
    ("cophenetic Pearson", "cophenetic_pearson"),
    ("cophenetic Spearman", "cophenetic_spearman"),
    ("triplet agreement", "triplet_agreement"),
    ("RF learned only (lower=better)", "rf_learned_only"),
    ("RF reference only (lower=better)", "rf_reference_only"),
)


def _print_table(
    result: dict, tree_path: Path, reference_path: Path, baseline_path: Path | None, points: bool, elapsed: float
) -> None:

    columns: list[tuple[str, dict]] = [(markup_safe(tree_path.name), result)]
    if "baseline_tree" in result:
        columns.append((markup_safe(baseline_path.name if baseline_path else "baseline"), result["baseline_tree"]))
    if "random_baseline" in result:
        columns.append((f"random (mean of {result['random_baseline']['n_trees']})", result["random_baseline"]))
    unit = "leaves" if points else "classes"
    table = Table(
        title=f"{markup_safe(tree_path)} vs reference {markup_safe(reference_path)} ({result['n_classes']} {unit})",
        title_justify="left",
        caption=f"computed in {elapsed:.2f} s"
        + ("" if result["triplet_stderr"] == 0 else f"; triplets sampled, stderr {result['triplet_stderr']:.4f}"),
        caption_justify="left",
    )
    table.add_column("score", style="bold")
    for name, _ in columns:
        table.add_column(name, justify="right")
    for label, key in _ROWS:
        table.add_row(label, *(score_text(scores[key]) for _, scores in columns))
    if points:
        table.add_row("leaf purity (majority class)", *(score_text(scores.get("purity")) for _, scores in columns))
    for d, level in result["levels"].items():
        for metric in ("nmi", "ari", "acc"):
            values = [score_text(scores["levels"].get(d, {}).get(metric)) for _, scores in columns]
            table.add_row(f"{metric.upper()} depth {d} ({level['n_groups']} groups)", *values)
    stdout_console().print(table)
