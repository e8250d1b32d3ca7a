"""Array loading, atomic writes, and the Newick / JSON / linkage round trips."""

from __future__ import annotations

import json
import os
import re
import stat

import numpy as np
import pytest
from scipy.cluster import hierarchy as sch

from l2h import Hierarchy, InputError, load_array, read_tree, write_tree
from l2h.io import from_newick, read_names, save_npy_atomic, to_newick, tree_format_for, write_atomic
from tests._trees import random_merges


def random_tree(seed: int, k: int | None = None, names=None) -> Hierarchy:
    rng = np.random.default_rng(seed)
    k = k or int(rng.integers(2, 30))
    return Hierarchy.from_merges(
        random_merges(k, rng),
        scores=rng.random(k - 1),
        relatedness=rng.random(k - 1),
        leaf_names=names,
        info={"aggregation": "cluster-mean", "n_points": 10},
    )


@pytest.mark.parametrize("seed", range(6))
def test_newick_round_trip_restores_merge_order(seed):
    tree = random_tree(seed)
    back = from_newick(tree.to_newick())
    assert np.array_equal(back.linkage, tree.linkage)
    assert back.leaf_names == tree.leaf_names


def test_newick_with_awkward_names_round_trips():
    names = ["a b", "it's", "x(1)", "semi;colon", "com,ma", "colon:x", "[bracket]", "plain"]
    tree = random_tree(3, k=len(names), names=names)
    text = tree.to_newick()
    back = from_newick(text, leaf_names=names)
    assert back.leaf_names == tree.leaf_names
    assert np.array_equal(back.linkage, tree.linkage)
    # without the expected names, leaves are numbered by appearance but the clades are the same
    assert from_newick(text).same_topology(tree)


def test_newick_without_labels_or_lengths_keeps_topology():
    tree = random_tree(4, k=12)
    for kwargs in (
        {"internal_labels": False},
        {"branch_lengths": False},
        {"internal_labels": False, "branch_lengths": False},
    ):
        back = from_newick(to_newick(tree, **kwargs))
        assert back.same_topology(tree)
        assert back.n_leaves == 12


def test_newick_from_other_tools():
    tree = from_newick("((A:0.1,B:0.2)90:0.3,(C:0.3,(D:0.1,E:0.1):0.2)[&comment]:0.1);")
    assert tree.leaf_names == ("A", "B", "C", "D", "E")
    assert {frozenset("AB"), frozenset("DE"), frozenset("CDE"), frozenset("ABCDE")} == tree.clades()
    # matched to expected names, in the caller's order
    named = from_newick("((b,a),c);", leaf_names=["a", "b", "c"])
    assert named.leaf_names == ("a", "b", "c")
    assert frozenset("ab") in named.clades()
    # integer leaf labels are cluster ids
    ids = from_newick("((2,0),1);")
    assert ids.leaf_names == ("0", "1", "2")
    assert ids.merges.tolist()[0] in ([2, 0], [0, 2])


@pytest.mark.parametrize(
    "text, message",
    [
        ("((a,b),c", "missing '\\)'"),
        ("((a,b),c)", "missing the final"),
        ("((a,b),c));", "unbalanced '\\)' at character 9"),
        ("((a,b,c),d);", "3 children"),
        ("((a,a),c);", "more than once"),
        ("", "empty"),
        ("(a:x,b);", "bad branch length"),
        ("((a,b),c); extra", "after the final"),
    ],
)
def test_bad_newick_messages(text, message):
    with pytest.raises(InputError, match=message):
        from_newick(text)


def test_newick_names_must_match():
    with pytest.raises(InputError, match="do not match"):
        from_newick("((a,b),c);", leaf_names=["a", "b", "d"])


@pytest.mark.parametrize("seed", range(4))
def test_json_round_trip_is_exact(seed):
    tree = random_tree(seed)
    back = Hierarchy.from_json(tree.to_json())
    assert np.array_equal(back.linkage, tree.linkage)
    assert np.array_equal(back.scores, tree.scores)
    assert np.array_equal(back.relatedness, tree.relatedness)
    assert back.leaf_names == tree.leaf_names
    assert dict(back.info) == dict(tree.info)
    doc = json.loads(tree.to_json())
    assert doc["format"] == "l2h-hierarchy" and doc["version"] == 1


def test_json_unknown_scores_are_null_and_bad_json_is_explained():
    tree = Hierarchy.from_merges([[0, 1], [2, 3]])
    doc = json.loads(tree.to_json())
    assert doc["scores"] == [None, None]
    assert np.isnan(Hierarchy.from_json(tree.to_json()).scores).all()
    with pytest.raises(InputError, match="not valid JSON"):
        Hierarchy.from_json("{")
    with pytest.raises(InputError, match="not an l2h hierarchy"):
        Hierarchy.from_json("{}")
    with pytest.raises(InputError, match="version 99"):
        Hierarchy.from_json(json.dumps({**doc, "version": 99}))


@pytest.mark.parametrize("suffix", [".nwk", ".newick", ".json", ".npy"])
def test_write_and_read_tree_files(tmp_path, suffix):
    tree = random_tree(7, k=9)
    path = tmp_path / f"tree{suffix}"
    write_tree(tree, path)
    back = read_tree(path)
    assert np.array_equal(back.linkage, tree.linkage)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_write_atomic_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="output folder does not exist"):
        write_atomic(tmp_path / "missing" / "out.txt", "x")


def test_unknown_tree_suffix_names_the_callers_way_to_give_the_format(tmp_path):
    path = tmp_path / "tree.txt"
    path.write_text("(a,b);\n")
    base = f"cannot tell the tree format of {path} from its suffix; use .nwk/.newick, .json or .npy"
    with pytest.raises(InputError, match=re.escape(base + ", or pass fmt") + "$"):
        read_tree(path)
    with pytest.raises(InputError, match=re.escape(base + ", or --format") + "$"):
        tree_format_for(path, format_hint="--format")
    with pytest.raises(InputError, match=re.escape(base) + "$"):
        read_tree(path, format_hint=None)
    assert read_tree(path, "newick", format_hint=None).leaf_names == ("a", "b")


@pytest.fixture()
def umask():
    """``os.umask`` for one test: the process umask is restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_atomic_writes_get_the_usual_mode(tmp_path, umask, mask, mode):
    # Regression: the temporary file's private 0600 mode was kept, so other users could not read trees.
    umask(mask)
    tree = random_tree(0)
    for suffix in (".nwk", ".json", ".npy"):
        write_tree(tree, tmp_path / f"t{suffix}")
    save_npy_atomic(tmp_path / "a.npy", np.arange(3))
    write_atomic(tmp_path / "d.csv", "a,b\n")
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == mode, path.name


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "t.nwk"
    target.write_text("old")
    target.chmod(0o640)
    write_tree(random_tree(1), target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_text() != "old"


def test_load_array_formats(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "a.npy", a)
    loaded = load_array(tmp_path / "a.npy")
    assert isinstance(loaded, np.memmap) and np.array_equal(loaded, a)
    np.savez(tmp_path / "one.npz", x=a)
    assert np.array_equal(load_array(tmp_path / "one.npz"), a)
    np.savez(tmp_path / "two.npz", x=a, y=a)
    with pytest.raises(InputError, match="holds 2 arrays"):
        load_array(tmp_path / "two.npz")
    assert np.array_equal(load_array(tmp_path / "two.npz", key="y"), a)
    with pytest.raises(InputError, match="no array 'z'"):
        load_array(tmp_path / "two.npz", key="z")
    (tmp_path / "a.csv").write_text("c0,c1,c2\n0,1,2\n3,4,5\n")
    assert load_array(tmp_path / "a.csv").tolist() == [[0, 1, 2], [3, 4, 5]]
    (tmp_path / "a.tsv").write_text("0\t1\n2\t3\n")
    assert load_array(tmp_path / "a.tsv").tolist() == [[0, 1], [2, 3]]


def test_load_array_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_array(tmp_path / "missing.npy")
    (tmp_path / "x.parquet").write_text("")
    with pytest.raises(InputError, match="unknown suffix '.parquet'"):
        load_array(tmp_path / "x.parquet")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="pickled"):
        load_array(tmp_path / "obj.npy")
    (tmp_path / "bad.csv").write_text("1,2\n3,abc\n")
    with pytest.raises(InputError, match="line 2, column 2: non-numeric cell 'abc'"):
        load_array(tmp_path / "bad.csv")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    with pytest.raises(InputError, match="expected 2 columns, found 1"):
        load_array(tmp_path / "ragged.csv")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match="not a valid .npy"):
        load_array(tmp_path / "junk.npy")
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(InputError, match="s.npy must hold real numbers; got dtype <U1"):
        load_array(tmp_path / "s.npy")


def test_read_names(tmp_path):
    (tmp_path / "n.txt").write_text("cat\ndog\n\n")
    assert read_names(tmp_path / "n.txt") == ["cat", "dog"]
    (tmp_path / "gap.txt").write_text("cat\n\ndog\n")
    with pytest.raises(InputError, match="line 2: empty name"):
        read_names(tmp_path / "gap.txt")


def test_newick_from_other_tools_variants():
    # the same tree as written by other tools: other child order, no lengths, support values,
    # white space and newlines, comments, single- and double-quoted names, scientific lengths
    tree = Hierarchy.from_merges([[0, 1], [3, 4], [2, 6], [5, 7]], leaf_names=["a", "b c", "d'e", "f", "g"])
    variants = [
        "((a,'b c'),('d''e',(f,g)));",
        "(('d''e',(g,f)),('b c',a));",
        "(('d''e':1,(g:0.5,f:0.5)0.9:0.5)100:1,('b c':1,a:1)87:1);",
        " ( ( a , 'b c' ) [a comment] , ( 'd''e' , ( f ,\n g ) ) ) ;\n",
        '((a,"b c"),("d\'e",(f,g)));',
        "[&R] ((a:1e-3,'b c':2E-3):1,('d''e',(f,g)):0.0)root;",
    ]
    for text in variants:
        back = from_newick(text, leaf_names=tree.leaf_names)
        assert back.same_topology(tree), text
        assert back.leaf_names == tree.leaf_names
        z = back.to_scipy()
        assert sch.is_valid_linkage(z) and sch.is_monotonic(z)
    assert from_newick('(("x""y",b),c);').leaf_names == ('x"y', "b", "c")


def test_load_array_rejects_a_directory_a_fake_npz_and_unknown_keys(tmp_path):
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        load_array(tmp_path / "d.npy")
    (tmp_path / "fake.npz").write_bytes(b"PK not really a zip")
    with pytest.raises(InputError, match=r"not a valid \.npz file \(not a zip archive\)"):
        load_array(tmp_path / "fake.npz")
    np.savez(tmp_path / "one.npz", logits=np.zeros((2, 2)))
    with pytest.raises(InputError, match="has no array 'nope'; it holds logits"):
        load_array(tmp_path / "one.npz", key="nope")
    np.savez(tmp_path / "obj.npz", a=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError, match="pickled"):
        load_array(tmp_path / "obj.npz")


def test_load_torch_never_unpickles(tmp_path):
    torch = pytest.importorskip("torch")
    import os
    import pickle
    import warnings

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'PWNED'}",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Evil()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's own warnings are silenced, not shown
        with pytest.raises(InputError, match=r"pickled Python objects, which are never loaded \(weights_only=True\)"):
            load_array(tmp_path / "evil.pt")
    assert not (tmp_path / "PWNED").exists()
    torch.save({"a": torch.zeros(2, 2), "b": torch.ones(2, 3)}, tmp_path / "two.pt")
    with pytest.raises(InputError, match=r"holds 2 tensors \(a, b\); choose one with --key"):
        load_array(tmp_path / "two.pt")
    with pytest.raises(InputError, match="has no tensor 'c'; it holds a, b"):
        load_array(tmp_path / "two.pt", key="c")
    assert load_array(tmp_path / "two.pt", key="b").shape == (2, 3)
    torch.save({"n": 3}, tmp_path / "none.pt")
    with pytest.raises(InputError, match="holds a dict with no tensors"):
        load_array(tmp_path / "none.pt")


def test_check_output_path(tmp_path):
    from l2h.io import check_output_path

    check_output_path(tmp_path / "t.nwk")
    with pytest.raises(InputError, match="is a directory; expected a file path"):
        check_output_path(tmp_path, name="--out")
    with pytest.raises(InputError, match="--out folder does not exist"):
        check_output_path(tmp_path / "nope" / "t.nwk", name="--out")


def test_text_logits_header_and_bad_cells(tmp_path):
    (tmp_path / "h.csv").write_text("# made by hand\nc0,c1,c2\n0,1,2\n3,4,5\n")
    assert load_array(tmp_path / "h.csv").tolist() == [[0, 1, 2], [3, 4, 5]]
    (tmp_path / "two_headers.csv").write_text("a,b\nc,d\n1,2\n")
    with pytest.raises(InputError, match="line 2, column 1: non-numeric cell 'c'"):
        load_array(tmp_path / "two_headers.csv")
    (tmp_path / "late.tsv").write_text("1\t2\t3\n4\t5\tx\n")
    with pytest.raises(InputError, match=r"late.tsv, line 2, column 3: non-numeric cell 'x'"):
        load_array(tmp_path / "late.tsv")
