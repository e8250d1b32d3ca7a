"""``l2h compare``: how close is a learned tree to a reference taxonomy?"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import numpy as np
from l2h_cli._common import echo_json, stderr_console, stdout_console
from l2h_cli._inputs import check_leaf_ids, read_labels, read_tree_file

_FILE = click.Path(path_type=Path, dir_okay=False)


def _safe(text: object) -> str:
    """A user-supplied name made safe for Rich markup (control characters shown as escapes)."""
    from l2h._text import markup_safe

    return markup_safe(str(text))


@contextmanager
def _notes(quiet: bool) -> Iterator[None]:
    """Print the library's L2HWarnings (dropped leaves, DAGs) as one 'note:' line each on stderr."""
    from l2h import L2HWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", L2HWarning)
        try:
            yield
        finally:
            if not quiet:
                for warning in caught:
                    if issubclass(warning.category, L2HWarning):
                        stderr_console().print(f"[yellow]note:[/] {_safe(warning.message)}", highlight=False)


@click.command("compare", short_help="Score a tree against a reference taxonomy.")
@click.argument("tree_path", metavar="TREE", type=_FILE)
@click.option(
    "--reference",
    "reference_path",
    type=_FILE,
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
    type=_FILE,
    default=None,
    help="The classes as reference node names, one per line in class-id order (e.g. ImageNet's wnids).",
)
@click.option(
    "--class-names",
    "class_names_path",
    type=_FILE,
    default=None,
    help="Line i names class i: leaf j of TREE is class j (or the names of integer --labels).",
)
@click.option(
    "--leaf-names",
    "leaf_names_path",
    type=_FILE,
    default=None,
    help="Match Newick leaves of TREE by these names (one per line, in cluster-id order).",
)
@click.option("--logits", "logits_path", type=_FILE, default=None, help="Points' logits: leaf = argmax.")
@click.option("--assignments", "assignments_path", type=_FILE, default=None, help="Points' leaf ids (0..K-1).")
@click.option(
    "--labels",
    "labels_path",
    type=_FILE,
    default=None,
    help="Ground truth per point: with --logits/--assignments each leaf takes its majority class.",
)
@click.option("--key", default=None, help="Array name inside an .npz (or .pt dict) of logits.")
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
    type=_FILE,
    default=None,
    help="Also score this tree (e.g. the Ward tree of `l2h agglomerative`), read like TREE.",
)
@click.option(
    "--baseline-assignments",
    "baseline_assignments_path",
    type=_FILE,
    default=None,
    help="Leaf id of every point in --baseline-tree (with --labels).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the triplet sample and random trees.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write an offline HTML tanglegram: TREE and the reference facing each other, leaves "
    "matched as scored, clades the other tree lacks in red.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout instead of a table.")
@click.option("--quiet", "-q", is_flag=True, help="No notes on stderr.")
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
    seed: int,
    report_path: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Compare TREE with a reference taxonomy (--reference).

    Leaves are classes when TREE was built from a classifier's logits (leaf names are class names,
    or leaf j is class j with --class-names); with --logits/--assignments and --labels each leaf
    takes its majority class and the scores are over leaves. Reports cophenetic correlations,
    triplet agreement, Robinson-Foulds shares and per-depth NMI/ARI/ACC.
    """
    from l2h.io import InputError, read_names

    points = logits_path is not None or assignments_path is not None
    if logits_path is not None and assignments_path is not None:
        raise InputError("give at most one of --logits and --assignments")
    if points != (labels_path is not None):
        raise InputError("--logits/--assignments and --labels go together (each leaf takes its majority class)")
    if baseline_assignments_path is not None and (baseline_path is None or labels_path is None):
        raise InputError("--baseline-assignments needs --baseline-tree and --labels")
    if baseline_path is not None and points and baseline_assignments_path is None:
        raise InputError("with --labels, --baseline-tree needs --baseline-assignments (its leaf of every point)")

    from l2h.compare import compare as run_compare
    from l2h.compare import result_to_json
    from l2h.taxonomy import read_taxonomy

    if report_path is not None:
        from l2h.files import check_output_path

        check_output_path(report_path, name="--report")

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
        tree = read_tree_file(tree_path, leaf_names_path)
        baseline = read_tree_file(baseline_path, None) if baseline_path else None
        if points:
            check_leaf_ids(tree, tree_path, leaf_names_path)
            labels = read_labels(labels_path)  # type: ignore[arg-type]
            label_names = _label_names(labels, class_names, labels_path)  # type: ignore[arg-type]
            leaf = _points_leaves(tree, tree_path, logits_path, assignments_path, key, labels.shape[0])
            tree, reference_t = _majority(tree, reference, leaf, label_names, "TREE")
            result = run_compare(tree, reference_t, random_trees=random_trees, seed=seed)
            if baseline is not None:
                check_leaf_ids(baseline, baseline_path, None)  # type: ignore[arg-type]
                base_leaf = _points_leaves(
                    baseline, baseline_path, None, baseline_assignments_path, None, labels.shape[0]
                )
                baseline, reference_b = _majority(baseline, reference, base_leaf, label_names, "--baseline-tree")
                result["baseline_tree"] = run_compare(baseline, reference_b, seed=seed)
        else:
            if class_names is not None:  # leaf j is class j: the ids must be the tree's own
                check_leaf_ids(tree, tree_path, leaf_names_path)
                tree = _name_leaves(tree, class_names, tree_path)
                if baseline is not None:
                    check_leaf_ids(baseline, baseline_path, None)  # type: ignore[arg-type]
                    baseline = _name_leaves(baseline, class_names, baseline_path)  # type: ignore[arg-type]
            result = run_compare(tree, reference, random_trees=random_trees, seed=seed)
            if baseline is not None:
                result["baseline_tree"] = run_compare(baseline, reference, seed=seed)
        if report_path is not None:  # the pair just scored: the same leaf mapping
            _write_tanglegram(report_path, tree, reference_t if points else reference, result, tree_path, quiet)
    elapsed = time.perf_counter() - started
    if as_json:
        echo_json(result_to_json(result))
    else:
        _print_table(result, tree_path, reference_path, baseline_path, points, elapsed)


def _write_tanglegram(path: Path, tree: Any, reference: Any, result: Any, tree_path: Path, quiet: bool) -> None:
    from l2h.files import write_atomic
    from l2h.report.tanglegram import build_tanglegram

    page = build_tanglegram(tree, reference, scores=result, learned_title=f"TREE {tree_path.name}")
    write_atomic(path, page)
    if not quiet:
        stderr_console().print(f"tanglegram -> {path}", highlight=False, markup=False)


def _name_leaves(tree: Any, class_names: list[str], path: Path) -> Any:
    from l2h.io import InputError

    if len(class_names) != tree.n_leaves:
        raise InputError(
            f"--class-names has {len(class_names)} names but tree {path} has {tree.n_leaves} leaves "
            "(leaf j is class j: one name per leaf)"
        )
    return tree.with_leaf_names(class_names)


def _label_names(labels: np.ndarray, class_names: list[str] | None, labels_path: Path) -> tuple[np.ndarray, list[str]]:
    """Class codes 0..C-1 of every point and the name of every code."""
    from l2h.io import InputError
    from l2h.metrics import encode_labels

    if labels.dtype.kind in "US":
        if class_names is not None:
            raise InputError("--class-names only applies to integer labels; these labels are names already")
        codes, classes = encode_labels(labels)
        return codes, [str(c) for c in classes]
    codes, classes = encode_labels(labels)
    if class_names is None:
        return codes, [str(c) for c in classes]
    ids = np.asarray(classes, dtype=np.int64)
    if ids.min() < 0 or ids.max() >= len(class_names):
        raise InputError(
            f"--class-names has {len(class_names)} names but labels file {labels_path} holds the id {int(ids.max())}"
        )
    return codes, [class_names[int(c)] for c in ids]


def _points_leaves(
    tree: Any, tree_path: Path, logits_path: Path | None, assignments_path: Path | None, key: str | None, n: int
) -> np.ndarray:
    from l2h.io import InputError, load_array
    from l2h.metrics import check_assignments

    if logits_path is not None:
        logits = load_array(logits_path, key=key, name="logits")
        if logits.ndim == 2 and logits.shape[1] != tree.n_leaves:
            raise InputError(
                f"tree {tree_path} has {tree.n_leaves} leaves but logits {logits_path} have {logits.shape[1]} columns"
            )
        leaf = tree.assign(logits)
        source = f"logits {logits_path}"
    else:
        assignments = load_array(assignments_path, name="assignments")  # type: ignore[arg-type]
        try:
            leaf = check_assignments(assignments, tree.n_leaves)
        except (TypeError, ValueError) as exc:
            raise InputError(f"assignments file {assignments_path}: {exc}") from None
        source = f"assignments {assignments_path}"
    if leaf.shape[0] != n:
        raise InputError(f"the labels hold {n} points but {source} give {leaf.shape[0]}")
    return leaf


def _majority(tree: Any, reference: Any, leaf: np.ndarray, label_names: tuple[np.ndarray, list[str]], what: str):
    """The tree over its leaves that hold points, and the reference expanded over them."""
    from l2h import L2HWarning
    from l2h.compare import majority_classes, reference_for_leaves, restrict_hierarchy
    from l2h.io import InputError

    codes, names = label_names
    majority = majority_classes(leaf, codes, tree.n_leaves, len(names))
    classes = [None if c < 0 else names[c] for c in majority.tolist()]
    empty = int(np.count_nonzero(majority < 0))
    if empty:
        warnings.warn(L2HWarning(f"{empty} leaves of {what} hold no points and are left out"), stacklevel=2)
    expanded, kept = reference_for_leaves(reference, classes, list(tree.leaf_names))
    if kept.size < 2:
        raise InputError(f"{what}: fewer than 2 leaves hold points; nothing to compare")
    if kept.size < tree.n_leaves:
        tree = restrict_hierarchy(tree, kept)
    return tree, expanded


# ---------------------------------------------------------------------------------------------- table
_ROWS = (
    ("cophenetic Pearson", "cophenetic_pearson"),
    ("cophenetic Spearman", "cophenetic_spearman"),
    ("triplet agreement", "triplet_agreement"),
    ("RF learned only (lower=better)", "rf_learned_only"),
    ("RF reference only (lower=better)", "rf_reference_only"),
)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.4f}"


def _print_table(
    result: dict, tree_path: Path, reference_path: Path, baseline_path: Path | None, points: bool, elapsed: float
) -> None:
    from rich.table import Table

    columns: list[tuple[str, dict]] = [(_safe(tree_path.name), result)]
    if "baseline_tree" in result:
        columns.append((_safe(baseline_path.name if baseline_path else "baseline"), result["baseline_tree"]))
    if "random_baseline" in result:
        columns.append((f"random (mean of {result['random_baseline']['n_trees']})", result["random_baseline"]))
    unit = "leaves" if points else "classes"
    table = Table(
        title=f"{_safe(tree_path)} vs reference {_safe(reference_path)} ({result['n_classes']} {unit})",
        title_justify="left",
        caption=f"computed in {elapsed:.2f} s"
        + ("" if result["triplet_stderr"] == 0 else f"; triplets sampled, stderr {result['triplet_stderr']:.4f}"),
        caption_justify="left",
    )
    table.add_column("score", style="bold")
    for name, _ in columns:
        table.add_column(name, justify="right")
    for label, key in _ROWS:
        table.add_row(label, *(_fmt(scores[key]) for _, scores in columns))
    for d, level in result["levels"].items():
        for metric in ("nmi", "ari", "acc"):
            values = [_fmt(scores["levels"].get(d, {}).get(metric)) for _, scores in columns]
            table.add_row(f"{metric.upper()} depth {d} ({level['n_groups']} groups)", *values)
    stdout_console().print(table)
