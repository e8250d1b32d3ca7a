"""iTOL bundles: exact template lines, safe IDs, the groups file, all-or-nothing writing, the CLI."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import l2h.itol as itol
from l2h import Hierarchy, write_tree
from l2h.io import InputError
from l2h.itol import itol_bundle, itol_ids, read_class_groups, uniform_clades, write_itol_bundle
from l2h.render import group_colors, leaf_stats, palette
from tests._cli import error_line, run
from tests._trees import random_merges

SAFE = re.compile(r"\A[A-Za-z0-9_.\-]+\Z")
C1, C2, C3 = palette(3)


@pytest.fixture()
def small():
    """((cat0, cat1), (car, truck)) with 2/3/1/4 points; leaf 1 is impure, classes grouped."""
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]], leaf_names=["a", "b", "c", "d"])
    leaf = np.array([0, 0, 1, 1, 1, 2, 3, 3, 3, 3])
    labels = np.array([0, 0, 0, 0, 1, 2, 3, 3, 3, 2])
    stats = leaf_stats(
        tree,
        leaf,
        labels,
        class_names=["cat", "lynx", "car", "truck"],
        class_groups=["animal", "animal", "vehicle", "vehicle"],
    )
    return tree, leaf, labels, stats


def test_bundle_files_follow_the_templates_exactly(small):
    tree, _, _, stats = small
    files = itol_bundle(tree, stats).files
    assert list(files) == [
        "tree.nwk",
        "itol_labels.txt",
        "itol_colorstrip.txt",
        "itol_simplebar.txt",
        "itol_tree_colors.txt",
    ]
    assert files["tree.nwk"] == "((a:1,b:1)n4:2,(c:2,d:2)n5:1)n6;\n"
    assert files["itol_labels.txt"].splitlines() == [
        "LABELS",
        "SEPARATOR TAB",
        "DATA",
        "a\ta: cat 100%",  # the leaf's own name (its cluster id) stays in the label
        "b\tb: cat 66%",
        "c\tc: car 100%",
        "d\td: truck 75%",
    ]
    assert files["itol_colorstrip.txt"].splitlines() == [
        "DATASET_COLORSTRIP",
        "SEPARATOR TAB",
        "DATASET_LABEL\tgroup",
        f"COLOR\t{C1}",
        "LEGEND_TITLE\tgroup",
        "LEGEND_SHAPES\t1\t1",
        f"LEGEND_COLORS\t{C1}\t{C2}",
        "LEGEND_LABELS\tanimal\tvehicle",
        "DATA",
        f"a\t{C1}\tanimal",
        f"b\t{C1}\tanimal",
        f"c\t{C2}\tvehicle",
        f"d\t{C2}\tvehicle",
    ]
    assert files["itol_simplebar.txt"].splitlines() == [
        "DATASET_SIMPLEBAR",
        "SEPARATOR TAB",
        "DATASET_LABEL\tpoints per leaf",
        f"COLOR\t{itol.BAR_COLOR}",
        "DATA",
        "a\t2",
        "b\t3",
        "c\t1",
        "d\t4",
    ]
    assert files["itol_tree_colors.txt"].splitlines() == [
        "TREE_COLORS",
        "SEPARATOR TAB",
        "DATA",
        f"n4\trange\t{C1}\tanimal",
        f"n4\tclade\t{C1}\tnormal\t2",
        f"n5\trange\t{C2}\tvehicle",
        f"n5\tclade\t{C2}\tnormal\t2",
    ]


def test_without_groups_the_strip_and_clades_follow_the_majority_class(small):
    tree, leaf, labels, _ = small
    stats = leaf_stats(tree, leaf, labels, class_names=["cat", "lynx", "car", "truck"])
    files = itol_bundle(tree, stats).files
    strip = files["itol_colorstrip.txt"].splitlines()
    assert strip[2] == "DATASET_LABEL\tmajority class"
    assert strip[7] == "LEGEND_LABELS\tcat\tcar\ttruck"
    assert strip[-4:] == [f"a\t{C1}\tcat", f"b\t{C1}\tcat", f"c\t{C2}\tcar", f"d\t{C3}\ttruck"]
    assert files["itol_tree_colors.txt"].splitlines()[3:] == [f"n4\trange\t{C1}\tcat", f"n4\tclade\t{C1}\tnormal\t2"]


def test_without_labels_only_tree_and_bars_and_skips_are_reported(small):
    tree, leaf, _, _ = small
    bundle = itol_bundle(tree, leaf_stats(tree, leaf))
    assert list(bundle.files) == ["tree.nwk", "itol_simplebar.txt"]
    assert set(bundle.skipped) == {"itol_labels.txt", "itol_colorstrip.txt", "itol_tree_colors.txt"}
    bare = itol_bundle(tree)
    assert list(bare.files) == ["tree.nwk"]
    assert "no points" in bare.skipped["itol_simplebar.txt"]


def test_empty_leaf_is_labelled_and_left_out_of_strip_and_clades():
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    stats = leaf_stats(tree, np.array([0, 1, 3]), np.array([0, 0, 1]))
    files = itol_bundle(tree, stats).files
    assert "2\t2: (no points)" in files["itol_labels.txt"].splitlines()
    assert not any(line.startswith("2\t") for line in files["itol_colorstrip.txt"].splitlines())
    assert "2\t0" in files["itol_simplebar.txt"].splitlines()
    assert files["itol_tree_colors.txt"].splitlines()[3] == f"n4\trange\t{C1}\t0"


def test_ids_are_safe_unique_and_never_internal_ids():
    names = ["a b", "a_b", "x,y", "it's", "tab\there", "n12", "#hash", "|", "?", "a_b_0"]
    tree = Hierarchy.from_merges(random_merges(len(names), np.random.default_rng(1)), leaf_names=names)
    ids = itol_ids(tree)
    assert all(SAFE.match(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert not set(ids) & {f"n{v}" for v in range(tree.n_leaves, tree.n_nodes)}
    assert ids[1] == "a_b" and ids[9] == "a_b_0"  # safe names are kept as they are
    assert ids[0] not in ("a_b", "a_b_0") and ids[5] != "n12" and ids[8] == "leaf_8"


def test_a_trailing_newline_is_not_a_safe_id():
    # Regression: the safe-ID check used `$`, which matches before a final newline, so "a\n" was
    # kept as an ID and broke the TAB-separated lines (and tree.nwk quoted it).
    tree = Hierarchy.from_merges([[0, 1]], leaf_names=["a\n", "b"])
    bundle = itol_bundle(tree)
    assert bundle.ids == ("a", "b")
    assert bundle.files["tree.nwk"] == "(a:1,b:1)n2;\n"
    assert bundle.files["itol_labels.txt"].splitlines()[3:] == ["a\ta", "b\tb"]


def test_renamed_leaves_get_a_labels_file_with_their_names_and_texts_lose_tabs():
    tree = Hierarchy.from_merges([[0, 1]], leaf_names=["big cat", "dog"])
    bundle = itol_bundle(tree)
    assert bundle.files["tree.nwk"] == "(big_cat:1,dog:1)n2;\n"
    assert bundle.files["itol_labels.txt"].splitlines()[3:] == ["big_cat\tbig cat", "dog\tdog"]
    stats = leaf_stats(tree, np.array([0, 1]), np.array([0, 1]), class_names=["a\tb", "line\nbreak"])
    lines = itol_bundle(tree, stats).files["itol_labels.txt"].splitlines()
    assert lines[3:] == ["big_cat\tbig cat: a b 100%", "dog\tdog: line break 100%"]
    for text in itol_bundle(tree, stats).files.values():
        for line in text.splitlines()[1:]:
            assert "," not in line.split("\t")[0]


def test_uniform_clades_are_the_maximal_single_key_nodes():
    rng = np.random.default_rng(7)
    for _ in range(20):
        k = int(rng.integers(2, 15))
        tree = Hierarchy.from_merges(random_merges(k, rng))
        keys = [None if rng.random() < 0.1 else "ab"[int(rng.integers(0, 2))] for _ in range(k)]
        found = dict(uniform_clades(tree, keys))
        brute = {}
        for node in range(k, tree.n_nodes):
            under = {keys[i] for i in tree.leaves_under(node)}
            if len(under) == 1 and None not in under:
                brute[node] = under.pop()
        maximal = {v: g for v, g in brute.items() if tree.parent[v] not in brute}
        assert found == maximal


# ---------------------------------------------------------------------------------------------- groups file
def test_groups_file_two_columns_by_name_or_id_and_one_column(tmp_path):
    names = ["cat", "lynx", "car"]
    two = tmp_path / "g.tsv"
    two.write_text("# class\tgroup\ncat\tanimal\n1\tanimal\n\ncar\tvehicle\n")
    assert read_class_groups(two, names, [0, 1, 2]) == ("animal", "animal", "vehicle")
    one = tmp_path / "g.txt"
    one.write_text("animal\nanimal\nvehicle\n")
    assert read_class_groups(one, names, [0, 1, 2]) == ("animal", "animal", "vehicle")
    partial = tmp_path / "p.tsv"
    partial.write_text("cat\tanimal\ncar\tvehicle\n")
    assert read_class_groups(partial, names, [0, 2]) == ("animal", None, "vehicle")  # lynx has no points


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cat\tanimal\ncar\tvehicle\n", "has no group for class 'lynx' (id 1)"),
        ("cat\tanimal\nlynx\tanimal\nbus\tvehicle\n", "line 3: unknown class 'bus'"),
        ("cat\tanimal\ncat\tpet\n", "line 2: class 'cat' is listed twice"),
        ("cat\tanimal\nvehicle\n", "line 2: expected 'class<TAB>group' like the other lines"),
        ("animal\nvehicle\n", "has 2 lines but there are 3 classes"),
        ("cat\tanimal\textra\n", "line 1: expected 'class<TAB>group'"),
        ("\n# nothing\n", "is empty"),
    ],
)
def test_groups_file_errors(tmp_path, text, message):
    path = tmp_path / "groups.tsv"
    path.write_text(text)
    with pytest.raises(InputError, match=re.escape(message)):
        read_class_groups(path, ["cat", "lynx", "car"], [0, 1, 2])


# ---------------------------------------------------------------------------------------------- writing
def test_write_creates_folder_and_replaces_an_earlier_bundle(small, tmp_path):
    tree, leaf, _, stats = small
    out = tmp_path / "bundle"
    written = write_itol_bundle(itol_bundle(tree, stats), out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written) and len(written) == 5
    (out / "mine.txt").write_text("keep me")
    write_itol_bundle(itol_bundle(tree, leaf_stats(tree, leaf)), out)
    assert sorted(p.name for p in out.iterdir()) == ["itol_simplebar.txt", "mine.txt", "tree.nwk"]


def test_write_is_all_or_nothing(small, tmp_path, monkeypatch):
    tree, leaf, _, stats = small
    out = tmp_path / "bundle"
    real = os.replace
    calls = []
    fail_at = [3]

    def failing(src, dst, *args, **kwargs):  # the n-th file's commit fails: the ones before are undone
        calls.append(dst)
        if len(calls) == fail_at[0]:
            raise OSError(28, "No space left on device")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(InputError, match="No space left on device; no output was changed"):
        write_itol_bundle(itol_bundle(tree, stats), out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no staged or backup file left behind

    monkeypatch.undo()
    old = write_itol_bundle(itol_bundle(tree, stats), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls.clear()
    fail_at[0] = 2  # this bundle writes 2 files and removes the 3 others
    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(InputError, match="No space left on device"):
        write_itol_bundle(itol_bundle(tree, leaf_stats(tree, leaf)), out)  # a different bundle over the old one
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and len(old) == 5


# ---------------------------------------------------------------------------------------------- CLI
@pytest.fixture()
def files(small, tmp_path):
    tree, leaf, labels, _ = small
    paths = {
        "tree": tmp_path / "tree.nwk",
        "assignments": tmp_path / "leaf.npy",
        "labels": tmp_path / "y.npy",
        "names": tmp_path / "names.txt",
        "groups": tmp_path / "groups.tsv",
        "leaf_names": tmp_path / "leaf_names.txt",
    }
    write_tree(tree, paths["tree"])
    paths["leaf_names"].write_text("".join(f"{name}\n" for name in tree.leaf_names))  # its leaves are named
    np.save(paths["assignments"], leaf)
    np.save(paths["labels"], labels)
    paths["names"].write_text("cat\nlynx\ncar\ntruck\n")
    paths["groups"].write_text("cat\tanimal\nlynx\tanimal\ncar\tvehicle\ntruck\tvehicle\n")
    return paths


def tree_args(files) -> list:
    """``--tree`` and, since the fixture's Newick names its leaves, the ``--leaf-names`` that points need."""
    return [files["tree"], "--leaf-names", files["leaf_names"]]


def test_cli_writes_the_same_bundle_as_the_library(small, files, tmp_path):
    tree, _, _, stats = small
    out = tmp_path / "out"
    result = run(
        "export",
        "itol",
        *tree_args(files),
        "--out",
        out,
        "--assignments",
        files["assignments"],
        "--labels",
        files["labels"],
        "--class-names",
        files["names"],
        "--groups",
        files["groups"],
    )
    assert result.exit_code == 0, result.output
    expected = itol_bundle(tree, stats).files
    assert {p.name: p.read_text() for p in out.iterdir()} == expected
    assert "itol_tree_colors.txt" in result.stdout


def test_cli_with_logits_and_without_labels_says_what_it_skipped(files, tmp_path):
    logits = np.eye(4)[np.load(files["assignments"])] * 5.0
    np.save(tmp_path / "logits.npy", logits)
    result = run("export", "itol", *tree_args(files), "--out", tmp_path / "o", "--logits", tmp_path / "logits.npy")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["itol_simplebar.txt", "tree.nwk"]
    assert "skipped itol_labels.txt: no labels given (--labels)" in result.output


def test_cli_closing_line_names_only_the_files_written(files, tmp_path):
    # regression: a bundle of tree.nwk alone still said to "drag the itol_*.txt files" onto the tree
    bare = run("export", "itol", files["tree"], "--out", tmp_path / "bare")
    assert bare.exit_code == 0, bare.output
    assert [p.name for p in (tmp_path / "bare").iterdir()] == ["tree.nwk"]
    assert "itol_*.txt" not in bare.stdout and "drag" not in bare.stdout
    assert bare.stdout.splitlines()[-1] == (
        "Upload tree.nwk at https://itol.embl.de/upload.cgi (no annotation "
        "files: give --logits or --assignments, and --labels, for them)."
    )
    logits = np.eye(4)[np.load(files["assignments"])] * 5.0
    np.save(tmp_path / "logits.npy", logits)
    one = run("export", "itol", *tree_args(files), "--out", tmp_path / "one", "--logits", tmp_path / "logits.npy")
    assert one.stdout.splitlines()[-1] == (
        "Upload tree.nwk at https://itol.embl.de/upload.cgi, then drag itol_simplebar.txt onto the tree."
    )
    full = run(
        "export",
        "itol",
        *tree_args(files),
        "--out",
        tmp_path / "full",
        "--assignments",
        files["assignments"],
        "--labels",
        files["labels"],
    )
    assert full.stdout.splitlines()[-1].endswith(", then drag the itol_*.txt files onto the tree.")


def test_cli_error_paths(files, tmp_path):
    base = ["export", "itol", "--out", tmp_path / "o"]
    missing = run(*base, tmp_path / "nope.nwk")
    assert missing.exit_code == 1
    assert error_line(missing) == f"Error: tree file not found: {tmp_path / 'nope.nwk'}"

    short = tmp_path / "short.npy"
    np.save(short, np.zeros(3, dtype=int))
    wrong = run(*base, *tree_args(files), "--assignments", files["assignments"], "--labels", short)
    assert wrong.exit_code == 1
    assert error_line(wrong) == (
        f"Error: labels file {short} has 3 labels but assignments {files['assignments']} give 10 points"
    )

    files["groups"].write_text("cat\tanimal\nlynx\tanimal\ncar\tvehicle\n")
    nogroup = run(
        *base,
        *tree_args(files),
        "--assignments",
        files["assignments"],
        "--labels",
        files["labels"],
        "--class-names",
        files["names"],
        "--groups",
        files["groups"],
    )
    assert nogroup.exit_code == 1
    assert error_line(nogroup) == f"Error: groups file {files['groups']} has no group for class 'truck' (id 3)"

    usage = run(*base, files["tree"], "--labels", files["labels"])
    assert usage.exit_code == 1
    assert "--labels needs the points' leaves: give --logits or --assignments" in usage.output
    assert not (tmp_path / "o").exists()


def test_cli_unwritable_out(files, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    result = run("export", "itol", files["tree"], "--out", blocker / "bundle")
    assert result.exit_code == 1
    assert error_line(result) == (
        f"Error: cannot create the bundle folder {blocker / 'bundle'}: its parent {blocker} is not a folder"
    )


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions")
def test_cli_read_only_out(files, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run("export", "itol", files["tree"], "--out", locked / "bundle")
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 1
    assert error_line(result).startswith(f"Error: cannot write the iTOL bundle into {locked}: Permission denied")


def test_cli_permission_denied_is_one_line(files, tmp_path, monkeypatch):
    import l2h.files

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(l2h.files.tempfile, "mkstemp", denied)
    result = run("export", "itol", files["tree"], "--out", tmp_path / "bundle")
    assert result.exit_code == 1
    assert error_line(result) == f"Error: cannot write --out {tmp_path / 'bundle' / 'tree.nwk'}: Permission denied"
    assert not (tmp_path / "bundle").exists()


def test_new_bundle_folder_gets_ordinary_permissions(small, tmp_path):
    tree, _, _, stats = small
    old = os.umask(0o022)
    try:
        write_itol_bundle(itol_bundle(tree, stats), tmp_path / "b")
    finally:
        os.umask(old)
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o755


# ---------------------------------------------------------------------------------------------- template checker
# An independent reading of iTOL's annotation templates: what each line may hold, which header
# fields each file needs, and that every ID names a node of tree.nwk as an independent Newick
# parser (the `newick` package) reads it.
HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
HEADER_KEYS = {
    "LABELS": set(),
    "DATASET_COLORSTRIP": {
        "DATASET_LABEL",
        "COLOR",
        "LEGEND_TITLE",
        "LEGEND_SHAPES",
        "LEGEND_COLORS",
        "LEGEND_LABELS",
        "COLOR_BRANCHES",
        "STRIP_WIDTH",
        "MARGIN",
        "SHOW_INTERNAL",
    },
    "DATASET_SIMPLEBAR": {
        "DATASET_LABEL",
        "COLOR",
        "WIDTH",
        "MARGIN",
        "SHOW_INTERNAL",
        "LEGEND_TITLE",
        "LEGEND_SHAPES",
        "LEGEND_COLORS",
        "LEGEND_LABELS",
    },
    "TREE_COLORS": set(),
}
REQUIRED_KEYS = {
    "LABELS": set(),
    "TREE_COLORS": set(),
    "DATASET_COLORSTRIP": {"DATASET_LABEL", "COLOR"},
    "DATASET_SIMPLEBAR": {"DATASET_LABEL", "COLOR"},
}
FILE_KEYWORD = {
    "itol_labels.txt": "LABELS",
    "itol_colorstrip.txt": "DATASET_COLORSTRIP",
    "itol_simplebar.txt": "DATASET_SIMPLEBAR",
    "itol_tree_colors.txt": "TREE_COLORS",
}


def newick_node_ids(text: str) -> tuple[set[str], set[str]]:
    """(leaf names, internal names) of a Newick text, read by the `newick` package."""
    newick = pytest.importorskip("newick")
    root = newick.loads(text)[0]
    leaves = {n.unquoted_name for n in root.walk() if not n.descendants}
    internal = {n.unquoted_name for n in root.walk() if n.descendants}
    return leaves, internal


def check_itol_file(text: str, keyword: str, leaves: set[str], internal: set[str]) -> list[list[str]]:
    """Assert that ``text`` follows iTOL's ``keyword`` template; returns the data rows (split on TAB)."""
    assert text.endswith("\n") and "\r" not in text
    lines = text[:-1].split("\n")
    assert lines[0] == keyword and lines[1] == "SEPARATOR TAB"
    assert lines.count("DATA") == 1
    data_at = lines.index("DATA")
    header: dict[str, list[str]] = {}
    for line in lines[2:data_at]:
        key, *values = line.split("\t")
        assert key in HEADER_KEYS[keyword] and key not in header, line
        assert values and all(v.strip() == v and v for v in values), line
        header[key] = values
    assert REQUIRED_KEYS[keyword] <= set(header)
    if "COLOR" in header:
        assert len(header["COLOR"]) == 1 and HEX.match(header["COLOR"][0])
    legend = [k for k in header if k.startswith("LEGEND_")]
    if legend:
        assert {"LEGEND_TITLE", "LEGEND_SHAPES", "LEGEND_COLORS", "LEGEND_LABELS"} <= set(legend)
        n = len(header["LEGEND_SHAPES"])
        assert len(header["LEGEND_COLORS"]) == n == len(header["LEGEND_LABELS"]) and n > 0
        assert all(s in {"1", "2", "3", "4", "5", "6"} for s in header["LEGEND_SHAPES"])
        assert all(HEX.match(c) for c in header["LEGEND_COLORS"])
        assert len(header["LEGEND_TITLE"]) == 1
    rows = [line.split("\t") for line in lines[data_at + 1 :]]
    seen = set()
    for row in rows:
        node = row[0]
        assert not node.startswith("#") and SAFE.match(node), row  # no separator, quote or comment char
        if keyword == "TREE_COLORS":
            assert node in internal or node in leaves, row
            assert (node, row[1]) not in seen, row
            seen.add((node, row[1]))
            assert HEX.match(row[2]), row
            if row[1] == "range":
                assert len(row) == 4 and row[3].strip(), row
            elif row[1] == "clade":
                assert len(row) == 5 and row[3] in ("normal", "dashed") and float(row[4]) > 0, row
            else:
                raise AssertionError(f"unexpected TREE_COLORS type in {row}")
        else:
            assert node in leaves, row
            assert node not in seen, row
            seen.add(node)
            if keyword == "LABELS":
                assert len(row) == 2 and row[1] == row[1].strip() and row[1], row
            elif keyword == "DATASET_COLORSTRIP":
                assert len(row) == 3 and HEX.match(row[1]) and row[2], row
                if legend:
                    assert row[1] in header["LEGEND_COLORS"], row
            else:
                assert len(row) == 2 and float(row[1]) >= 0, row
    return rows


def check_bundle(files: dict[str, str]) -> dict[str, list[list[str]]]:
    leaves, internal = newick_node_ids(files["tree.nwk"])
    assert all(not re.fullmatch(r"[-+]?[\d.eE]+", name) for name in internal)  # never read as support values
    assert not leaves & internal
    return {
        name: check_itol_file(text, FILE_KEYWORD[name], leaves, internal)
        for name, text in files.items()
        if name != "tree.nwk"
    }


def test_checker_accepts_the_fixture_and_rejects_broken_files(small):
    tree, _, _, stats = small
    files = itol_bundle(tree, stats).files
    rows = check_bundle(files)
    assert [r[0] for r in rows["itol_labels.txt"]] == ["a", "b", "c", "d"]
    leaves, internal = newick_node_ids(files["tree.nwk"])
    broken = [
        ("itol_labels.txt", "a\ta: cat 100%", "zz\ta: cat 100%"),  # unknown ID
        ("itol_colorstrip.txt", "SEPARATOR TAB", "SEPARATOR COMMA"),
        ("itol_colorstrip.txt", "LEGEND_SHAPES\t1\t1", "LEGEND_SHAPES\t1"),
        ("itol_simplebar.txt", "COLOR\t#", "COLOR\tblue #"),
        ("itol_tree_colors.txt", "n4\trange", "n44\trange"),
        ("itol_tree_colors.txt", "normal\t2", "normal"),
    ]
    for name, old, new in broken:
        assert old in files[name]
        with pytest.raises(AssertionError):
            check_itol_file(files[name].replace(old, new, 1), FILE_KEYWORD[name], leaves, internal)


@pytest.mark.parametrize("seed", range(12))
def test_random_bundles_follow_the_templates(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 30))
    pool = [
        "a b",
        "a,b",
        "it's",
        'say "hi"',
        "tab\tx",
        "n3",
        "n40",
        "#x",
        "|",
        "x|y",
        "ü",
        "日本",
        "leaf_0",
        "0",
        "1",
        "a_b",
        "(p)",
        "q;r",
        "s:t",
        "[u]",
        "  pad  ",
        "nl\n",
        "cr\r",
        "x\\y",
    ]
    names = list(rng.choice(pool, size=min(k, len(pool)), replace=False))
    names += [f"c{i}" for i in range(k - len(names))]
    rng.shuffle(names)
    tree = Hierarchy.from_merges(random_merges(k, rng), leaf_names=[str(n) for n in names])
    n_points = int(rng.integers(0, 4 * k))
    leaf = rng.integers(0, k, size=n_points)
    n_classes = int(rng.integers(1, 6))
    labels = rng.integers(0, n_classes, size=n_points)
    class_names = [["cat", "dog, big", "tab\there", "#1", "a|b", "line\nbreak"][c] for c in range(n_classes)]
    groups = [["animal", "pet\tanimal", "x"][c % 3] for c in range(n_classes)] if seed % 2 else None
    stats = leaf_stats(tree, leaf, labels, class_names=class_names, class_groups=groups)
    bundle = itol_bundle(tree, stats)
    assert list(bundle.files) == list(itol.BUNDLE_FILES)
    rows = check_bundle(bundle.files)
    assert [r[0] for r in rows["itol_labels.txt"]] == list(bundle.ids)
    assert [r[0] for r in rows["itol_simplebar.txt"]] == list(bundle.ids)
    assert [int(r[1]) for r in rows["itol_simplebar.txt"]] == np.bincount(leaf, minlength=k).tolist()
    # every leaf with points is in the strip, in the colour of its key; ranges cover exactly the uniform clades
    keys = stats.leaf_groups()
    colors = group_colors(tree, stats)
    expected = [[i, colors[key]] for i, key in zip(bundle.ids, keys, strict=True) if key is not None]
    assert [r[:2] for r in rows["itol_colorstrip.txt"]] == expected
    ranges = [r for r in rows["itol_tree_colors.txt"] if r[1] == "range"]
    assert [r[0] for r in ranges] == [f"n{v}" for v, _ in uniform_clades(tree, keys)]


def test_a_bundle_with_labels_but_no_points_has_no_empty_legend():
    tree = Hierarchy.from_merges([[0, 1], [2, 3], [4, 5]])
    stats = leaf_stats(tree, np.array([], dtype=int), np.array([], dtype=int))
    files = itol_bundle(tree, stats).files
    assert files["itol_colorstrip.txt"].splitlines() == [
        "DATASET_COLORSTRIP",
        "SEPARATOR TAB",
        "DATASET_LABEL\tmajority class",
        "COLOR\t#808080",
        "DATA",
    ]
    check_bundle(files)


def test_cli_bundle_follows_the_templates(files, tmp_path):
    out = tmp_path / "checked"
    result = run(
        "export",
        "itol",
        *tree_args(files),
        "--out",
        out,
        "--assignments",
        files["assignments"],
        "--labels",
        files["labels"],
        "--class-names",
        files["names"],
        "--groups",
        files["groups"],
    )
    assert result.exit_code == 0, result.output
    check_bundle({p.name: p.read_text(encoding="utf-8") for p in out.iterdir()})


def test_cli_out_is_an_existing_file(files, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("mine")
    result = run("export", "itol", *tree_args(files), "--out", blocker, "--assignments", files["assignments"])
    assert result.exit_code == 1  # bad data, not a usage error (click's file_okay=False would exit 2)
    assert error_line(result) == f"Error: --out {blocker} exists and is not a folder"
    assert blocker.read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".l2h-itol-")]


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ("cat\tanimal\nlynx\n", "line 2: expected 'class<TAB>group' like the other lines"),
        ("cat\tanimal\tx\nlynx\tanimal\n", "line 1: expected 'class<TAB>group'"),
        ("cat\tanimal\nbus\tvehicle\n", "line 2: unknown class 'bus'"),
        ("animal\nanimal\n", "has 2 lines but there are 4 classes"),
    ],
)
def test_cli_malformed_groups_file_writes_nothing(files, tmp_path, groups, message):
    files["groups"].write_text(groups)
    out = tmp_path / "o"
    result = run(
        "export",
        "itol",
        *tree_args(files),
        "--out",
        out,
        "--assignments",
        files["assignments"],
        "--labels",
        files["labels"],
        "--class-names",
        files["names"],
        "--groups",
        files["groups"],
    )
    assert result.exit_code == 1
    line = error_line(result)
    assert line.startswith(f"Error: groups file {files['groups']}") and message in line
    assert not out.exists()


def test_cli_bad_tree_and_logits_write_nothing(files, tmp_path):
    out = tmp_path / "o"
    bad = tmp_path / "bad.nwk"
    bad.write_text("((a,b),(c,d)")
    result = run("export", "itol", bad, "--out", out)
    assert result.exit_code == 1
    assert error_line(result) == f"Error: tree file {bad}: Newick ended inside a clade (missing ')')"
    np.save(tmp_path / "wide.npy", np.zeros((10, 5)))
    wide = run("export", "itol", *tree_args(files), "--out", out, "--logits", tmp_path / "wide.npy")
    assert wide.exit_code == 1
    assert error_line(wide) == (
        f"Error: tree {files['tree']} has 4 leaves but logits {tmp_path / 'wide.npy'} have 5 columns (clusters)"
    )
    assert not out.exists()


def test_groups_file_from_a_spreadsheet_with_bom_and_crlf(tmp_path):
    path = tmp_path / "groups.tsv"
    path.write_bytes("\ufeffcat\tanimal\r\nlynx\tanimal\r\ncar\tvehicle\r\n".encode())
    assert read_class_groups(path, ["cat", "lynx", "car"], [0, 1, 2]) == ("animal", "animal", "vehicle")
