"""``l2h compare``: both leaf modes, JSON keys, baselines, bad reference files (one line, exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import l2h.compare as cmp
from l2h import read_taxonomy
from l2h.hierarchy import Hierarchy
from l2h.io import InputError, write_tree
from tests._cli import error_line, run
from tests._trees import random_merges

NAMES = ["apple", "pear", "plum", "cat", "dog", "wolf", "trout", "carp"]
GROUPS = "apple\tfruit\npear\tfruit\nplum\tfruit\ncat\tmammal\ndog\tmammal\nwolf\tmammal\ntrout\tfish\ncarp\tfish\n"


def flat(doc: dict, prefix: str = "") -> dict:
    """Nested JSON scores as one flat dict (for pytest.approx)."""
    out = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    tree = Hierarchy.from_merges(random_merges(8, rng), leaf_names=NAMES)
    named = tmp_path / "tree.nwk"
    write_tree(tree, named)
    ids = tmp_path / "ids.json"
    write_tree(Hierarchy.from_merges(tree.merges), ids)
    groups = tmp_path / "groups.tsv"
    groups.write_text(GROUPS)
    names = tmp_path / "classes.txt"
    names.write_text("\n".join(NAMES) + "\n")
    return {"tree": named, "ids": ids, "groups": groups, "names": names, "dir": tmp_path}


def test_classes_mode_json(files: dict[str, Path]) -> None:
    result = run("compare", files["tree"], "--reference", files["groups"], "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc) == list(cmp.RESULT_KEYS)
    tree = Hierarchy.from_newick(files["tree"].read_text())
    want = cmp.result_to_json(cmp.compare(tree, read_taxonomy(files["groups"])))
    assert doc == want
    assert list(doc["levels"]) == ["1"] and doc["levels"]["1"]["n_groups"] == 3
    # leaf j = class j through --class-names gives the same scores
    by_id = run(
        "compare", files["ids"], "--reference", files["groups"], "--class-names", files["names"],
        "--leaves-are-classes", "--json",
    )  # fmt: skip
    assert by_id.exit_code == 0, by_id.output
    assert flat(json.loads(by_id.stdout)) == pytest.approx(flat(doc))


def test_table_and_baselines(files: dict[str, Path]) -> None:
    rng = np.random.default_rng(9)
    other = files["dir"] / "ward [bold]x.nwk"
    write_tree(Hierarchy.from_merges(random_merges(8, rng), leaf_names=NAMES), other)
    args = ("compare", files["tree"], "--reference", files["groups"], "--random-baseline", 3)
    result = run(*args, "--baseline-tree", other)
    assert result.exit_code == 0, result.output
    assert "triplet agreement" in result.output and "random (mean of 3)" in result.output
    assert "ward [bold]x.nwk" in result.output  # shown literally, not as markup
    doc = json.loads(run(*args, "--baseline-tree", other, "--json").stdout)
    assert doc["random_baseline"]["n_trees"] == 3
    assert list(doc["baseline_tree"]) == list(cmp.RESULT_KEYS)


def test_majority_mode(tmp_path: Path) -> None:
    # 12 leaves, points labelled with 4 classes; leaf j's points are mostly class j % 4
    rng = np.random.default_rng(1)
    tree = Hierarchy.from_merges(random_merges(12, rng))
    path = tmp_path / "t.nwk"
    write_tree(tree, path)
    leaf = np.repeat(np.arange(12), 5)
    labels = leaf % 4
    labels[::5] = (labels[::5] + 1) % 4  # one point in five is another class
    np.save(tmp_path / "a.npy", leaf)
    np.save(tmp_path / "y.npy", labels)
    (tmp_path / "names.txt").write_text("a\nb\nc\nd\n")
    (tmp_path / "ref.nwk").write_text("((a,b),(c,d));")
    result = run(
        "compare", path, "--reference", tmp_path / "ref.nwk", "--assignments", tmp_path / "a.npy",
        "--labels", tmp_path / "y.npy", "--class-names", tmp_path / "names.txt", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    expanded, kept = cmp.reference_for_leaves(
        read_taxonomy(tmp_path / "ref.nwk"), ["abcd"[j % 4] for j in range(12)], [str(j) for j in range(12)]
    )
    assert kept.size == 12
    assert doc.pop("purity") == pytest.approx(48 / 60)  # one point in five is not its leaf's majority
    assert flat(doc) == pytest.approx(flat(cmp.result_to_json(cmp.compare(tree, expanded))))
    assert doc["n_classes"] == 12


def test_ward_baseline_in_majority_mode(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1] / "examples"
    logits = root / "digits_logits.npy"
    labels = root / "digits_labels.npy"
    build = run("build", logits, "--out", tmp_path / "t.nwk", "--quiet")
    assert build.exit_code == 0, build.output
    (tmp_path / "ref.nwk").write_text("((0,6,8,9,5,3),(1,7,4,2));")
    ward = Hierarchy.from_merges(random_merges(15, np.random.default_rng(0)))
    write_tree(ward, tmp_path / "ward.json")
    np.save(tmp_path / "ward_leaves.npy", np.arange(1797) % 15)
    result = run(
        "compare", tmp_path / "t.nwk", "--reference", tmp_path / "ref.nwk", "--logits", logits, "--labels", labels,
        "--baseline-tree", tmp_path / "ward.json", "--baseline-assignments", tmp_path / "ward_leaves.npy", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["n_classes"] == 20 and doc["baseline_tree"]["n_classes"] == 15


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        ("a b\nb c\nc a\n" + "".join(f"c {n}\n" for n in NAMES), ("--leaves", "leaves"), "has a cycle through"),
        ("r apple\nr pear\n", ("--leaves", "leaves"), "has no node named"),
        ("# nothing\n", (), "is empty"),
        ("r apple\nr pear\ns plum\ns cat\n", ("--reference-format", "edges"), "has 2 roots"),
        ("((apple,pear),(plum,cat));", (), "4 of the tree's 8 leaves are not in the reference"),
    ],
)
def test_bad_reference_files(files: dict[str, Path], text: str, extra: tuple, message: str) -> None:
    ref = files["dir"] / "ref.txt"
    ref.write_text(text)
    (files["dir"] / "leaves").write_text("\n".join(NAMES) + "\n")
    extra = tuple(files["dir"] / e if e == "leaves" else e for e in extra)
    result = run("compare", files["tree"], "--reference", ref, *extra)
    assert result.exit_code == 1
    assert message in error_line(result)


def test_named_newick_with_class_names_needs_leaf_names(files: dict[str, Path]) -> None:
    # tree.nwk names its leaves: leaf ids are then the order of appearance, not class ids
    args = ("compare", files["tree"], "--reference", files["groups"], "--class-names", files["names"])
    result = run(*args, "--leaves-are-classes")
    assert result.exit_code == 1 and "--leaf-names" in error_line(result)
    result = run(*args, "--leaves-are-classes", "--leaf-names", files["names"], "--json")
    assert result.exit_code == 0, result.output


def test_notes_go_to_stderr(files: dict[str, Path]) -> None:
    ref = files["dir"] / "bigger.nwk"
    ref.write_text("(" + ",".join(NAMES + ["lion", "tiger"]) + ");")
    result = run("compare", files["tree"], "--reference", ref, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["n_classes"] == 8
    assert "note: 2 of the reference's 10 leaves are not in the tree" in result.stderr


def test_bad_arguments(files: dict[str, Path]) -> None:
    result = run("compare", files["tree"], "--reference", files["groups"], "--logits", files["tree"])
    assert result.exit_code == 1 and "go together" in error_line(result)
    short = files["dir"] / "short.txt"
    short.write_text("\n".join(NAMES + ["extra"]) + "\n")
    ref = files["dir"] / "ref.nwk"
    ref.write_text("(" + ",".join(NAMES + ["extra"]) + ");")
    result = run("compare", files["ids"], "--reference", ref, "--class-names", short, "--leaves-are-classes")
    assert result.exit_code == 1 and "one name per leaf" in error_line(result)
    result = run(
        "compare", files["ids"], "--reference", ref, "--labels", short, "--logits", short, "--leaves-are-classes"
    )
    assert result.exit_code == 1 and "exclude each other" in error_line(result)


# ---------------------------------------------------------------------------------------------- mis-pairing (issue 21)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DIGITS_LOGITS, DIGITS_LABELS = EXAMPLES / "digits_logits.npy", EXAMPLES / "digits_labels.npy"
TAXONOMY, DIGIT_NAMES = EXAMPLES / "digits_taxonomy.nwk", EXAMPLES / "digits_class_names.txt"


@pytest.fixture(scope="module")
def digits_trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Trees built from the digits' clustering logits: all 20 clusters, and the first 10 columns."""
    root = tmp_path_factory.mktemp("digits")
    np.save(root / "l10.npy", np.load(DIGITS_LOGITS)[:, :10])
    for name, logits in (("t10", root / "l10.npy"), ("t20", DIGITS_LOGITS)):
        result = run("build", logits, "--out", root / f"{name}.nwk", "--quiet")
        assert result.exit_code == 0, result.output
    return {"t10": root / "t10.nwk", "t20": root / "t20.nwk", "l10": root / "l10.npy"}


def suggested(message: str) -> list[list[str]]:
    """The commands an error suggests (between backticks), split like a shell would."""
    import re
    import shlex

    return [shlex.split(cmd) for cmd in re.findall(r"`([^`]+)`", message)]


def run_suggestion(words: list[str], logits: Path) -> object:
    assert words[:2] == ["l2h", "compare"]
    fill = {"LOGITS.npy": str(logits), "LABELS.npy": str(DIGITS_LABELS)}
    return run(*[fill.get(w, w) for w in words[1:]], "--json")


def test_ten_clusters_are_not_paired_with_ten_digits(digits_trees: dict[str, Path]) -> None:
    # K = 10 clusters and digits 0..9: matching numbers alone would score an arbitrary pairing
    result = run("compare", digits_trees["t10"], "--reference", TAXONOMY)
    line = error_line(result)
    assert result.exit_code == 1 and "cluster ids 0..9" in line
    commands = suggested(line)
    assert [c[-4:] for c in commands[:1]] == [["--logits", "LOGITS.npy", "--labels", "LABELS.npy"]]
    assert commands[1][-1] == "--leaves-are-classes"
    for words in commands:  # every suggested command works as printed (placeholders filled)
        out = run_suggestion(words, digits_trees["l10"])
        assert out.exit_code == 0, out.output
        assert json.loads(out.stdout)["n_classes"] == 10
    by_majority = json.loads(run_suggestion(commands[0], digits_trees["l10"]).stdout)
    assert 0 < by_majority["purity"] <= 1


def test_twenty_clusters_error_names_the_command_that_works(digits_trees: dict[str, Path]) -> None:
    for extra in ((), ("--class-names", DIGIT_NAMES)):
        result = run("compare", digits_trees["t20"], "--reference", TAXONOMY, *extra)
        line = error_line(result)
        assert result.exit_code == 1 and "majority class" in line, line
        majority = suggested(line)[0]
        assert "--class-names" not in majority  # the taxonomy numbers its digits: names would not match
        out = run_suggestion(majority, DIGITS_LOGITS)
        assert out.exit_code == 0, out.output
        doc = json.loads(out.stdout)
        assert doc["n_classes"] == 20 and doc["purity"] > 0.5
    # a reference that names its classes: the suggestion keeps --class-names, and it works
    named = digits_trees["t20"].parent / "named.nwk"
    names = DIGIT_NAMES.read_text().splitlines()
    named.write_text(
        "((" + ",".join(f"'{n}'" for n in names[:5]) + "),(" + ",".join(f"'{n}'" for n in names[5:]) + "));"
    )
    line = error_line(run("compare", digits_trees["t20"], "--reference", named, "--class-names", DIGIT_NAMES))
    majority = suggested(line)[0]
    assert "--class-names" in majority
    assert run_suggestion(majority, DIGITS_LOGITS).exit_code == 0


def test_numbered_leaves_against_named_classes(digits_trees: dict[str, Path], tmp_path: Path) -> None:
    ref = tmp_path / "ref.nwk"
    ref.write_text("((a,b),(c,d));")
    line = error_line(run("compare", digits_trees["t10"], "--reference", ref))
    assert "not the reference's classes" in line and "--leaf-names NAMES.txt" in line
    # --leaf-names names cluster j on line j, also for a tree whose Newick numbers its leaves
    names = tmp_path / "names.txt"
    names.write_text("\n".join("abcd"[j % 4] + ("" if j < 4 else str(j)) for j in range(10)) + "\n")
    ref.write_text(
        "((" + ",".join(names.read_text().split()[:5]) + "),(" + ",".join(names.read_text().split()[5:]) + "));"
    )
    result = run("compare", digits_trees["t10"], "--reference", ref, "--leaf-names", names, "--json")
    assert result.exit_code == 0, result.output
    tree = Hierarchy.from_newick(digits_trees["t10"].read_text()).with_leaf_names(names.read_text().split())
    want = cmp.result_to_json(cmp.compare(tree, read_taxonomy(ref)))
    assert json.loads(result.stdout) == want


def test_library_refuses_numbered_leaves() -> None:
    from l2h.taxonomy import parse_newick_taxonomy

    ref = parse_newick_taxonomy("((0,1),(2,3));")
    tree = Hierarchy.from_merges([[0, 2], [1, 3], [4, 5]])
    with pytest.raises(InputError, match="cluster ids 0..3.*compare_clusters.*leaves_are_classes=True"):
        cmp.compare(tree, ref)
    assert cmp.compare(tree, ref, leaves_are_classes=True)["rf_learned_only"] == 1.0
    named = tree.with_leaf_names(["0", "1", "2", "3"])
    with pytest.raises(InputError):  # names that spell the ids are still ids
        cmp.compare(named, ref)


def test_compare_clusters_matches_the_expanded_reference() -> None:
    from l2h.taxonomy import parse_newick_taxonomy

    ref = parse_newick_taxonomy("((cat,dog),(trout,carp));")
    rng = np.random.default_rng(3)
    tree = Hierarchy.from_merges(random_merges(6, rng))
    leaf = np.array([0, 0, 1, 2, 3, 4, 5, 5, 5])
    labels = np.array([0, 1, 0, 1, 2, 3, 3, 3, 2])  # majorities: 0, 0, 1, 2, 3, 3 (lowest id on ties)
    names = ["cat", "dog", "trout", "carp"]
    got = cmp.compare_clusters(tree, ref, leaf, labels, class_names=names)
    assert got["purity"] == pytest.approx(7 / 9)
    expanded, kept = cmp.reference_for_leaves(ref, [names[c] for c in (0, 0, 1, 2, 3, 3)], list(tree.leaf_names))
    want = cmp.compare(tree, expanded)
    assert {k: v for k, v in got.items() if k != "purity"} == want
    by_name = cmp.compare_clusters(tree, ref, leaf, np.array(names)[labels])
    assert by_name == got
