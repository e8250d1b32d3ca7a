"""``l2h show``: a hierarchy in the terminal."""

from __future__ import annotations

from pathlib import Path

import click
from l2h_cli._common import stdout_console
from l2h_cli._inputs import leaf_data_options, load_tree_and_stats, tree_argument


@click.command("show", short_help="Print the tree: points per node, majority class, purity.")
@tree_argument
@leaf_data_options()
@click.option(
    "--max-depth",
    type=click.IntRange(min=0),
    default=None,
    help="Fold everything below this many levels into one row per subtree.",
)
@click.option(
    "--min-chain",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Draw caterpillar runs of at least this many merges as one row (0: never).",
)
@click.option(
    "--ascii",
    "ascii_only",
    is_flag=True,
    help="Plain ASCII guides and no colour (automatic when stdout is not a terminal).",
)
def show(
    tree_path: Path,
    logits_path: Path | None,
    assignments_path: Path | None,
    labels_path: Path | None,
    class_names_path: Path | None,
    leaf_names_path: Path | None,
    key: str | None,
    groups_path: Path | None,
    max_depth: int | None,
    min_chain: int,
    ascii_only: bool,
) -> None:
    """Print the tree: leaf names, points per node and majority class with purity."""
    from l2h.render import render_tree, tree_lines, tree_title

    tree, stats = load_tree_and_stats(
        tree_path, logits_path, assignments_path, labels_path, class_names_path, leaf_names_path, key, groups_path
    )
    console = stdout_console()
    if ascii_only or not _box_drawing_terminal():
        lines = tree_lines(tree, stats, max_depth=max_depth, min_chain=min_chain, ascii=True)
        click.echo("\n".join([tree_title(tree, stats), *(line.plain for line in lines)]))
        return
    console.print(render_tree(tree, stats, max_depth=max_depth, min_chain=min_chain))


def _box_drawing_terminal() -> bool:
    """True when stdout itself is a terminal that can encode the box-drawing guides.

    Asked of stdout directly rather than of rich's console, which FORCE_COLOR or TTY_COMPATIBLE
    would make claim a terminal even when the output goes to a pipe or a file.
    """
    import sys

    from l2h.render import UNICODE_GUIDES

    stream = sys.stdout
    try:
        if stream is None or not stream.isatty():
            return False
        "".join(UNICODE_GUIDES).encode(stream.encoding or "ascii")
    except (AttributeError, ValueError, LookupError, UnicodeEncodeError):  # closed, odd or narrow streams
        return False
    return True
