"""Issue 9 item 2: one spelling per concept across every command (walked from cli/main.py, so commands
added later are checked too), deprecated spellings hidden but working with one note."""

from __future__ import annotations

import re

import click
import numpy as np
import pytest
from l2h_cli._inputs import DEPRECATED, VOCABULARY
from l2h_cli.main import cli

from l2h import Hierarchy, write_tree
from tests._cli import error_line, run
from tests._trees import random_merges

# Parameter names (click's ``dest``) and flag spellings that mean each concept.  A parameter is
# identified by either; it must then be spelled as VOCABULARY says.
DESTS = {
    "tree": {"tree", "tree_path", "tree_file"},
    "logits": {"logits", "logits_path", "logits_file"},
    "assignments": {"assignments", "assignments_path", "assignments_file"},
    "labels": {"labels", "labels_path", "labels_file", "label_path"},
    "class names": {"class_names", "class_names_path", "label_names", "label_names_path"},
    "groups": {"groups", "groups_path", "coarse_path", "coarse_labels", "class_groups"},
    "leaf names": {"leaf_names", "leaf_names_path", "names", "names_file", "names_path"},
    "key": {"key", "array_key"},
    "json": {"as_json", "json"},
    "quiet": {"quiet", "silent"},
    "device": {"device"},
    "batch size": {"batch_size", "bs"},
    "images": {"images", "images_path", "image_dir", "images_dir"},
}
SPELLINGS = {
    "tree": {"--tree", "--tree-file", "--hierarchy"},
    "logits": {"--logits", "--logits-file", "--scores"},
    "assignments": {"--assignments", "--assign", "--leaf-ids"},
    "labels": {"--labels", "--targets", "--ground-truth", "--gt"},
    "class names": {"--class-names", "--label-names", "--classes", "--classnames"},
    "groups": {"--groups", "--coarse-labels", "--coarse", "--superclasses", "--class-groups"},
    "leaf names": {"--leaf-names", "--names", "--cluster-names"},
    "key": {"--key", "--array-key"},
    "out": {"--out", "--output", "--out-dir", "--output-dir"},
    "json": {"--json", "--as-json"},
    "quiet": {"--quiet", "--silent"},
    "device": {"--device"},
    "batch size": {"--batch-size", "--bs", "--batch"},
    "images": {"--images", "--image-dir", "--images-dir", "--image-folder"},
}


def _commands():
    ctx = click.Context(cli)

    def walk(group, prefix):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                yield from walk(command, [*prefix, name])
            elif command is not None:
                yield " ".join([*prefix, name]), command

    return list(walk(cli, []))


COMMANDS = _commands()


def _concept(param: click.Parameter) -> str | None:
    for concept, dests in DESTS.items():
        if param.name in dests:
            return concept
    for concept, spellings in SPELLINGS.items():
        if set(param.opts) & spellings:
            return concept
    return None


def test_all_commands_are_walked():
    names = {name for name, _ in COMMANDS}
    assert {"build", "metrics", "cut", "export itol", "show", "plot", "agglomerative"} <= names


def test_one_spelling_per_concept_across_commands():
    problems = []
    used: dict[str, set[str]] = {}
    for name, command in COMMANDS:
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            concept = _concept(param)
            if concept is None:
                continue
            if isinstance(param, click.Argument):
                spelled = (param.metavar or param.name or "").upper()
                if concept == "tree" and spelled != "TREE":
                    problems.append(f"{name}: the tree argument is shown as {spelled}, not TREE")
                continue
            long = next((o for o in param.opts if o.startswith("--")), param.opts[0])
            used.setdefault(concept, set()).add(long)
            expected = VOCABULARY.get(concept)
            if concept == "tree":
                problems.append(f"{name}: the tree is an option ({long}); it is the positional TREE")
            elif expected is not None and long != expected:
                problems.append(f"{name}: {concept} is spelled {long}, not {expected}")
            if concept == "out" and any(o.startswith("-") and not o.startswith("--") and o != "-o" for o in param.opts):
                problems.append(f"{name}: --out has a short form other than -o: {param.opts}")
    for concept, spellings in used.items():
        if len(spellings) > 1:
            problems.append(f"{concept} is spelled {sorted(spellings)} in different commands")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_deprecated_spellings_are_hidden_from_help(name, command):
    result = run(*name.split(), "--help")
    assert result.exit_code == 0, result.output
    for old in DEPRECATED:
        if old.startswith("--"):
            assert not re.search(rf"(?<![\w-]){re.escape(old)}(?![\w-])", result.stdout), (name, old)
    for param in command.params:
        if isinstance(param, click.Option) and set(param.opts) & set(DEPRECATED):
            assert param.hidden, (name, param.opts)


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    k = 5
    tree = Hierarchy.from_merges(random_merges(k, rng))
    write_tree(tree, tmp_path / "t.json")
    np.save(tmp_path / "logits.npy", rng.normal(size=(30, k)))
    np.save(tmp_path / "labels.npy", rng.integers(0, 3, 30))
    (tmp_path / "classes.txt").write_text("a\nb\nc\n")
    (tmp_path / "leaves.txt").write_text("".join(f"leaf{i}\n" for i in range(k)))
    return tmp_path


@pytest.mark.parametrize(
    ("old", "new", "note"),
    [
        (
            ["metrics", "--tree", "{t}/t.json", "--logits", "{t}/logits.npy", "--labels", "{t}/labels.npy", "--json"],
            ["metrics", "{t}/t.json", "--logits", "{t}/logits.npy", "--labels", "{t}/labels.npy", "--json"],
            "note: --tree TREE is deprecated; use the positional TREE instead",
        ),
        (
            ["cut", "--tree", "{t}/t.json", "--k", "2", "--json"],
            ["cut", "{t}/t.json", "--k", "2", "--json"],
            "note: --tree TREE is deprecated; use the positional TREE instead",
        ),
        (
            ["metrics", "{t}/t.json", "--logits", "{t}/logits.npy", "--labels", "{t}/labels.npy", "--json",
             "--label-names", "{t}/classes.txt", "--class-distances", "{t}/d.csv"],
            ["metrics", "{t}/t.json", "--logits", "{t}/logits.npy", "--labels", "{t}/labels.npy", "--json",
             "--class-names", "{t}/classes.txt", "--class-distances", "{t}/d.csv"],
            "note: --label-names is deprecated; use --class-names instead",
        ),
        (
            ["build", "{t}/logits.npy", "--out", "{t}/b.json", "--names", "{t}/leaves.txt", "--json"],
            ["build", "{t}/logits.npy", "--out", "{t}/b.json", "--leaf-names", "{t}/leaves.txt", "--json"],
            "note: --names is deprecated; use --leaf-names instead",
        ),
    ],
)  # fmt: skip
def test_deprecated_spellings_still_work_with_one_note(files, old, new, note):
    fill = [[str(a).format(t=files) for a in args] for args in (old, new)]
    before = run(*fill[0])
    assert before.exit_code == 0, before.output
    assert before.stderr.splitlines() == [note]
    after = run(*fill[1])
    assert after.exit_code == 0, after.output
    assert after.stderr == ""
    if fill[0][0] != "build":  # build's summary names its timing
        assert before.stdout == after.stdout


def test_old_and_new_spelling_together_is_one_error(files):
    result = run("cut", files / "t.json", "--tree", files / "t.json", "--k", 2)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: give the tree once: as TREE (the deprecated --tree is the same input)"
    ]
    result = run("cut", "--k", 2)
    assert result.stderr == "Error: Missing argument 'TREE'.\n"


# ---------------------------------------------------------------------------------------------- issue 21 item 2
# Commands that write files (each has -o/--out) and those that only print; a new command must be listed.
WRITERS = {
    "build", "cut", "plot", "gallery", "report", "export itol", "agglomerative", "logits",
    "train cohiclust", "train cc", "predict",
}  # fmt: skip
PRINTERS = {"metrics", "compare", "show", "warmup"}  # metrics' --class-distances is a second, optional output


def _visible_options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def _hidden_spellings(command: click.Command) -> set[str]:
    return {o for p in command.params if isinstance(p, click.Option) and p.hidden for o in p.opts}


def test_every_command_is_classified():
    assert {name for name, _ in COMMANDS} == WRITERS | PRINTERS


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_has_quiet_and_writers_have_out(name, command):
    opts = {o for p in _visible_options(command) for o in p.opts}
    assert {"--quiet", "-q"} <= opts, name
    if name in WRITERS:
        assert {"--out", "-o"} <= opts, name


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_k_is_a_number_of_groups_and_assignments_an_input(name, command):
    for param in _visible_options(command):
        if "--k" in param.opts:
            assert "groups" in (param.help or ""), (name, param.help)
        if "--assignments" in param.opts:
            assert not re.search(r"\b(write|output)", (param.help or "").lower()), (name, param.help)
        for old in ("--level", "--levels", "--max-leaves"):
            assert old not in param.opts, (name, old)
        if param.name == "dpi":
            from l2h_cli._inputs import DPI

            assert param.default == DPI, name


def test_agglomerative_names_its_leaves_and_its_output_apart():
    command = dict(COMMANDS)["agglomerative"]
    opts = {o for p in _visible_options(command) for o in p.opts}
    assert {"--clusters", "--assignments-out"} <= opts
    assert not {"--k", "--assignments"} & opts


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_did_you_mean_never_offers_a_hidden_spelling(name, command):
    hidden = _hidden_spellings(command)
    near_misses = {o + "x" for o in hidden} | {o[:-1] for o in hidden if len(o) > 4}
    near_misses |= {o + "s" for p in _visible_options(command) for o in p.opts if o.startswith("--")}
    for typo in sorted(near_misses):
        result = run(*name.split(), typo)
        assert result.exit_code != 0
        suggested = set(re.findall(r"'(--[\w-]+)'", result.output.split("Did you mean", 1)[-1]))
        if "Did you mean" in result.output:
            assert not suggested & hidden, (name, typo, result.output)


def test_the_issues_suggestions_are_fixed():
    result = run("gallery", "--k")  # answered "Did you mean '--key'?" when gallery had no --k
    assert "No such option" not in result.output
    result = run("build", "--labels", "x")
    assert "--names" not in result.output  # a hidden, deprecated spelling


def test_new_spellings_and_their_aliases(files):
    tree = files / "t.json"
    new = run(
        "metrics", tree, "--logits", files / "logits.npy", "--labels", files / "labels.npy", "--k", "3,2", "--json"
    )
    old = run(
        "metrics", tree, "--logits", files / "logits.npy", "--labels", files / "labels.npy", "--levels", "3,2", "--json"
    )  # fmt: skip
    assert new.exit_code == old.exit_code == 0, old.output
    assert new.stdout == old.stdout and list(json_levels(new.stdout)) == ["3", "2"]
    assert old.stderr.splitlines() == ["note: --levels is deprecated; use --k instead"]
    repeated = run(
        "metrics",
        tree,
        "--logits",
        files / "logits.npy",
        "--labels",
        files / "labels.npy",
        "--k",
        3,
        "--k",
        2,
        "--json",
    )
    assert repeated.stdout == new.stdout
    both = run(
        "metrics", tree, "--logits", files / "logits.npy", "--labels", files / "labels.npy", "--k", 3, "--levels", 2
    )
    assert both.exit_code == 1 and "give --k only" in both.output


def json_levels(text: str) -> dict:
    import json

    return json.loads(text)["levels"]


def test_cut_and_show_name_nodes_alike(files):
    tree = files / "t.json"
    cut = run("cut", tree, "--k", 2, "--json")
    import json

    nodes = [g["node"] for g in json.loads(cut.stdout)["groups"]]
    assert all(re.fullmatch(r"n\d+|\d+", n) for n in nodes)
    table = run("cut", tree, "--k", 2)
    shown = run("show", tree, "--k", 2, "--ascii")
    for node in nodes:
        if node.startswith("n"):
            assert node in table.stdout and f"{node} ..." in shown.stdout


def test_show_folds_at_k_groups(files):
    from l2h import read_tree

    tree = read_tree(files / "t.json")
    for k in range(1, tree.n_leaves + 1):
        result = run("show", files / "t.json", "--k", k, "--ascii", "--min-chain", 0)
        assert result.exit_code == 0, result.output
        rows = result.stdout.splitlines()[1:]
        folded = [r for r in rows if r.rstrip().endswith("...") or "..." in r]
        leaves = [r for r in rows if re.search(r"-- \d+$", r) or re.fullmatch(r"\d+", r.strip())]
        assert len(folded) + len(leaves) == k, (k, result.stdout)
    assert run("show", files / "t.json", "--k", 2, "--max-depth", 1).exit_code == 1


@pytest.mark.parametrize(
    "args",
    [
        ["cut"],
        ["show"],
        ["report", "-o", "r.html"],
        ["metrics", "--logits", "logits.npy", "--labels", "labels.npy"],
    ],
    ids=lambda a: a[0],
)
def test_a_k_above_the_leaves_says_what_the_library_says(files, args):
    """One check (l2h.hierarchy.check_k) behind every --k that cuts (plot's --k only caps the leaves drawn):
    the CLI's line is the API's message; gallery's is in test_gallery.py."""
    from l2h.hierarchy import check_k

    with pytest.raises(ValueError) as expected:
        check_k(6, 5)
    name, *rest = args
    rest = [files / a if a.endswith((".npy", ".html")) else a for a in rest]
    result = run(name, files / "t.json", "--k", 6, *rest)
    assert result.exit_code == 1 and error_line(result) == f"Error: {expected.value}", result.output
    assert not (files / "r.html").exists()
