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
from tests._cli import run
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
