"""``l2h show``: a hierarchy in the terminal."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from l2h_cli._common import stdout_console
from l2h_cli._inputs import examples, k_option, leaf_data_options, load_tree_and_stats, quiet_option, tree_argument

from l2h.hierarchy import check_k
from l2h.render import DEFAULT_FOLD_LEAVES, UNICODE_GUIDES, default_max_depth, render_tree, tree_lines, tree_title


class _DepthType(click.ParamType):
    """A level count (integer >= 0) or ``all``."""

    name = "N|all"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 - click's signature
        if isinstance(value, int) or value is None:
            return value
        text = str(value).strip().lower()
        if text == "all":
            return "all"
        try:
            number = int(text)
        except ValueError:
            number = -1
        if number < 0:
            # one line, exit 1 (team rule for user errors), not click's usage block
            raise click.ClickException(f"--max-depth must be an integer >= 0 or 'all'; got {value!r}")
        return number


@click.command(
    "show",
    short_help="Print the tree: points per node, majority class, purity.",
    epilog=examples("l2h show tree.nwk", "l2h show tree.nwk --logits logits.npy --labels labels.npy --k 10"),
)
@tree_argument
@leaf_data_options()
@click.option(
    "--max-depth",
    type=_DepthType(),
    default=None,
    help="Fold everything below this many levels into one row per subtree; 'all' shows every level "
    "[default: the deepest level that fits in 60 rows when the tree has over 60 leaves, else all].",
)
@k_option("Fold the tree cut into k groups: one row per group (instead of --max-depth).")
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
@quiet_option("No footer on how the tree was folded.")
def show(
    tree_path: Path,
    logits_path: Path | None,
    assignments_path: Path | None,
    labels_path: Path | None,
    class_names_path: Path | None,
    leaf_names_path: Path | None,
    key: str | None,
    groups_path: Path | None,
    max_depth: int | str | None,
    k: int | None,
    min_chain: int,
    ascii_only: bool,
    quiet: bool,
) -> None:
    """Print the tree: leaf names, points per node and majority class with purity."""

    tree, stats = load_tree_and_stats(
        tree_path, logits_path, assignments_path, labels_path, class_names_path, leaf_names_path, key, groups_path
    )
    if k is not None and max_depth is not None:
        raise click.UsageError("give one of --k and --max-depth (both fold the tree)")
    if k is not None:
        check_k(k, tree.n_leaves)
    footer = None
    if max_depth == "all" or k is not None:
        depth = None
    elif max_depth is None and tree.n_leaves > DEFAULT_FOLD_LEAVES:
        depth = default_max_depth(tree, min_chain=min_chain)
        if depth is not None:
            footer = (
                f"(folded below level {depth}: the default --max-depth for trees over {DEFAULT_FOLD_LEAVES} "
                "leaves keeps the view within 60 rows; --max-depth N, --max-depth all or --k to change)"
            )
    else:
        depth = max_depth  # type: ignore[assignment]
    if quiet:
        footer = None
    if ascii_only or not _box_drawing_terminal():
        lines = tree_lines(tree, stats, max_depth=depth, min_chain=min_chain, ascii=True, k=k)
        click.echo("\n".join([tree_title(tree, stats), *(line.plain for line in lines)]))
        if footer:
            click.echo(footer)
        return
    console = stdout_console()
    console.print(render_tree(tree, stats, max_depth=depth, min_chain=min_chain, k=k))
    if footer:
        console.print(footer, style="dim", markup=False, highlight=False)


def _box_drawing_terminal() -> bool:
    """True when stdout itself is a terminal that can encode the box-drawing guides.

    Asked of stdout directly rather than of rich's console, which FORCE_COLOR or TTY_COMPATIBLE
    would make claim a terminal even when the output goes to a pipe or a file.
    """

    stream = sys.stdout
    try:
        if stream is None or not stream.isatty():
            return False
        "".join(UNICODE_GUIDES).encode(stream.encoding or "ascii")
    except (AttributeError, ValueError, LookupError, UnicodeEncodeError):  # closed, odd or narrow streams
        return False
    return True
