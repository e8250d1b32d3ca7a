"""``l2h build`` end to end through click's runner: outputs, summary, and every bad-input path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from l2h_cli.main import cli
from scipy.cluster import hierarchy as sch

from l2h import read_tree

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def logits_file(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "logits.npy"
    np.save(path, rng.normal(size=(300, 8)).astype(np.float32))
    return path


@pytest.mark.parametrize(
    "suffix, fmt", [(".nwk", "newick"), (".newick", "newick"), (".json", "json"), (".npy", "linkage")]
)
def test_build_writes_each_format(tmp_path, logits_file, suffix, fmt):
    out = tmp_path / f"tree{suffix}"
    result = run("build", logits_file, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["format"] == fmt
    assert summary["n_points"] == 300 and summary["n_clusters"] == 8
    assert sum(s["n_leaves"] for s in summary["root_subtrees"]) == 8
    assert sum(s["n_points"] for s in summary["root_subtrees"]) == 300
    tree = read_tree(out)
    assert tree.n_leaves == 8
    assert sch.is_valid_linkage(tree.to_scipy())


def test_build_same_tree_in_every_format_and_as_library(tmp_path, logits_file):
    import l2h

    expected = l2h.build_hierarchy(np.load(logits_file))
    for suffix in (".nwk", ".json", ".npy"):
        out = tmp_path / f"t{suffix}"
        assert run("build", logits_file, "--out", out, "-q").exit_code == 0
        assert np.array_equal(read_tree(out).linkage, expected.linkage)


def test_build_example_prints_summary(tmp_path):
    out = tmp_path / "digits.nwk"
    result = run("build", EXAMPLES / "digits_logits.npy", "--out", out)
    assert result.exit_code == 0, result.output
    assert "clusters (K)" in result.stdout and "20" in result.stdout
    assert out.read_text().rstrip().endswith(";")


def test_build_options_names_format_strategy(tmp_path, logits_file):
    names = tmp_path / "names.txt"
    names.write_text("".join(f"class {i}\n" for i in range(8)))
    out = tmp_path / "tree.txt"
    result = run(
        "build",
        logits_file,
        "--out",
        out,
        "--format",
        "json",
        "--leaf-names",
        names,
        "--aggregation",
        "sum",
        "--strategy",
        "all-pairs",
        "-q",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    doc = json.loads(out.read_text())
    assert doc["leaf_names"][3] == "class 3"
    assert doc["info"]["aggregation"] == "sum" and doc["info"]["strategy"] == "all-pairs"
    nwk = tmp_path / "named.nwk"
    assert run("build", logits_file, "--out", nwk, "--leaf-names", names, "-q").exit_code == 0
    assert "'class 3'" in nwk.read_text()


def test_build_reads_npz_csv_tsv(tmp_path):
    logits = np.random.default_rng(1).normal(size=(20, 4))
    np.savez(tmp_path / "many.npz", a=logits, b=logits[:, :3])
    np.savetxt(tmp_path / "l.csv", logits, delimiter=",")
    np.savetxt(tmp_path / "l.tsv", logits, delimiter="\t")
    for source, extra in ((tmp_path / "many.npz", ["--key", "b"]), (tmp_path / "l.csv", []), (tmp_path / "l.tsv", [])):
        out = tmp_path / f"{source.stem}.json"
        result = run("build", source, "--out", out, "-q", *extra)
        assert result.exit_code == 0, result.output
    assert read_tree(tmp_path / "many.json").n_leaves == 3
    assert read_tree(tmp_path / "l.json").n_leaves == 4


def test_build_reads_pt_tensors(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.randn(30, 5), tmp_path / "l.pt")
    result = run("build", tmp_path / "l.pt", "--out", tmp_path / "t.nwk", "-q")
    assert result.exit_code == 0, result.output
    assert read_tree(tmp_path / "t.nwk").n_leaves == 5


def test_empty_clusters_are_reported(tmp_path):
    logits = np.random.default_rng(2).normal(size=(50, 5))
    logits[:, 2] -= 100  # cluster 2 never wins
    np.save(tmp_path / "l.npy", logits)
    result = run("build", tmp_path / "l.npy", "--out", tmp_path / "t.json", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["empty_clusters"] == ["2"]
    assert "empty" in result.stderr and "2" in result.stderr


def good_values(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=(10, 3))


def _bad_input_cases(tmp_path: Path) -> list[tuple[list, str]]:
    rng = np.random.default_rng(3)
    np.save(tmp_path / "one_d.npy", rng.normal(size=10))
    np.save(tmp_path / "three_d.npy", rng.normal(size=(4, 3, 2)))
    np.save(tmp_path / "k1.npy", rng.normal(size=(10, 1)))
    np.save(tmp_path / "n0.npy", np.zeros((0, 4)))
    nan = rng.normal(size=(10, 3))
    nan[4, 1] = np.nan
    nan[7, 0] = np.inf
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "pickled.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "bad.csv").write_text("1,2,3\n4,five,6\n")
    np.savez(tmp_path / "two.npz", a=nan, b=nan)
    good = tmp_path / "good.npy"
    np.save(good, rng.normal(size=(10, 3)))
    (tmp_path / "names2.txt").write_text("a\nb\n")
    (tmp_path / "dups.txt").write_text("a\nb\na\n")
    (tmp_path / "data.xyz").write_text("1 2 3")
    (tmp_path / "folder.npy").mkdir()
    (tmp_path / "fake.npz").write_bytes(b"PK but not a zip archive")
    (tmp_path / "header_only.csv").write_text("a,b,c\n")
    (tmp_path / "nan.csv").write_text("1,2,3\n4,nan,6\n7,8,inf\n")
    np.savez(tmp_path / "one.npz", logits=good_values(rng))
    cases = [
        (["folder.npy"], "logits path is a directory, not a file"),
        (["fake.npz"], "not a valid .npz file (not a zip archive)"),
        (["one.npz", "--key", "nope"], "has no array 'nope'; it holds logits"),
        (["header_only.csv"], "no rows (N = 0)"),
        (["nan.csv"], "NaN or ±inf in 2 rows; first bad row is 1"),
        (["good.npy", "--leaf-names", "missing.txt"], "--leaf-names file not found"),
    ]
    return cases + [
        (["missing.npy"], "not found"),
        (["data.xyz"], "unknown suffix '.xyz'"),
        (["pickled.npy"], "pickled"),
        (["one_d.npy"], "must be 2-D (n_points, n_clusters); got shape (10,)"),
        (["three_d.npy"], "must be 2-D (n_points, n_clusters); got shape (4, 3, 2)"),
        (["k1.npy"], "at least 2 columns"),
        (["n0.npy"], "no rows"),
        (["nan.npy"], "NaN or ±inf in 2 rows; first bad row is 4"),
        (["bad.csv"], "line 2, column 2: non-numeric cell 'five'"),
        (["two.npz"], "holds 2 arrays (a, b); choose one with --key"),
        (["good.npy", "--leaf-names", "names2.txt"], "expected 3 names (one per cluster); got 2"),
        (["good.npy", "--leaf-names", "dups.txt"], "duplicate name 'a'"),
    ]


def test_bad_inputs_fail_with_one_line_and_leave_no_output(tmp_path):
    for args, message in _bad_input_cases(tmp_path):
        out = tmp_path / "out" / "tree.nwk"
        out.parent.mkdir(exist_ok=True)
        resolved = [tmp_path / args[0], *[tmp_path / a if a.endswith(".txt") else a for a in args[1:]]]
        result = CliRunner().invoke(cli, [str(a) for a in ["build", *resolved, "--out", out]])
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
        assert "Traceback" not in result.stderr
        assert not any(out.parent.iterdir()), args  # nothing written, not even a temp file


def test_unknown_output_suffix_is_rejected_before_work(tmp_path, logits_file):
    result = CliRunner().invoke(cli, ["build", str(logits_file), "--out", str(tmp_path / "tree.png")])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: cannot tell the tree format of {tmp_path / 'tree.png'} from its suffix; "
        "use .nwk/.newick, .json or .npy, or --format\n"
    )  # build has --format


def test_usage_errors_exit_2(logits_file):
    assert CliRunner().invoke(cli, ["build", str(logits_file)]).exit_code == 1  # --out missing
    bad = CliRunner().invoke(cli, ["build", str(logits_file), "--out", "t.nwk", "--aggregation", "max"])
    assert bad.exit_code == 1


def test_debug_shows_traceback(tmp_path):
    np.save(tmp_path / "one_d.npy", np.zeros(3))
    result = CliRunner().invoke(
        cli, ["--debug", "build", str(tmp_path / "one_d.npy"), "--out", str(tmp_path / "t.nwk")]
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, ValueError)


def test_version_and_help_are_quick():
    assert run("--version").output.startswith("l2h, version")
    assert "build" in run("--help").output


def test_bad_torch_files(tmp_path):
    torch = pytest.importorskip("torch")
    import os
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'PWNED'}",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Evil()))
    torch.save({"a": torch.zeros(4, 3), "b": torch.zeros(4, 3)}, tmp_path / "two.pt")
    for name, message in (
        ("evil.pt", "holds pickled Python objects, which are never loaded"),
        ("two.pt", "holds 2 tensors (a, b); choose one with --key"),
    ):
        out = tmp_path / "out" / "t.nwk"
        out.parent.mkdir(exist_ok=True)
        result = CliRunner().invoke(cli, ["build", str(tmp_path / name), "--out", str(out)])
        assert result.exit_code == 1, result.output
        assert message in result.stderr
        assert result.stderr.count("\n") == 1, result.stderr  # torch's warnings are not shown
        assert not any(out.parent.iterdir())
    assert not (tmp_path / "PWNED").exists()


def test_failed_build_keeps_an_existing_output(tmp_path, logits_file):
    out = tmp_path / "tree.nwk"
    out.write_text("OLD")
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros(5))
    result = CliRunner().invoke(cli, ["build", str(bad), "--out", str(out)])
    assert result.exit_code == 1
    assert out.read_text() == "OLD"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy", "logits.npy", "tree.nwk"]
    assert run("build", logits_file, "--out", out, "-q").exit_code == 0  # a good run replaces it
    assert out.read_text().endswith(";\n")


def test_bad_output_paths_fail_before_any_work(tmp_path, logits_file, monkeypatch):
    import l2h_cli.build

    monkeypatch.setattr(l2h_cli.build, "load_array", lambda *a, **k: pytest.fail("input read before the output check"))
    (tmp_path / "dir.nwk").mkdir()
    for out, message in (
        (tmp_path / "dir.nwk", "is a directory; expected a file path"),
        (tmp_path / "nope" / "t.nwk", "--out folder does not exist"),
        (tmp_path / "t.png", "cannot tell the tree format"),
    ):
        result = CliRunner().invoke(cli, ["build", str(logits_file), "--out", str(out)])
        assert result.exit_code == 1, result.output
        assert message in result.stderr and result.stderr.count("\n") == 1


def test_json_summary_and_clean_stdout(tmp_path):
    logits = np.random.default_rng(4).normal(size=(60, 6))
    logits[:, [1, 4]] -= 50.0  # clusters 1 and 4 are empty
    np.save(tmp_path / "l.npy", logits)
    result = run("build", tmp_path / "l.npy", "--out", tmp_path / "t.nwk", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # stdout is exactly one JSON document
    assert summary["n_points"] == 60 and summary["n_clusters"] == 6
    assert summary["empty_clusters"] == ["1", "4"]
    assert summary["seconds"] >= 0 and summary["format"] == "newick"
    tree = read_tree(tmp_path / "t.nwk")
    root = tree.merges[-1].tolist()
    assert [s["node"] for s in summary["root_subtrees"]] == root
    assert [s["n_leaves"] for s in summary["root_subtrees"]] == [len(tree.leaves_under(c)) for c in root]
    assert sum(s["n_points"] for s in summary["root_subtrees"]) == 60
    assert "empty" in result.stderr and "1, 4" in result.stderr  # the warning goes to stderr


def test_quiet_prints_nothing(tmp_path):
    logits = np.random.default_rng(5).normal(size=(30, 4))
    logits[:, 2] -= 50.0
    np.save(tmp_path / "l.npy", logits)
    result = run("build", tmp_path / "l.npy", "--out", tmp_path / "t.json", "--quiet")
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""
    assert (tmp_path / "t.json").exists()


def test_newick_labels_and_format_override(tmp_path, logits_file):
    import re

    out = tmp_path / "t.nwk"
    assert run("build", logits_file, "--out", out, "-q").exit_code == 0
    text = out.read_text().strip()
    leaves = re.findall(r"[(,]([^(),:;]+):", text)
    assert sorted(leaves, key=int) == [str(i) for i in range(8)]
    internal = re.findall(r"\)([^(),:;]+)", text)
    assert sorted(internal) == sorted(f"n{v}" for v in range(8, 15))
    assert run("build", logits_file, "--out", out, "--format", "json", "-q").exit_code == 0
    assert json.loads(out.read_text())["format"] == "l2h-hierarchy"  # --format beats the suffix
    assert run("build", logits_file, "--out", out, "--format", "linkage", "-q").exit_code == 0
    assert sch.is_valid_linkage(np.load(out))


def test_help_does_not_import_numba():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from l2h_cli.main import cli\n"
        "for args in (['--help'], ['build', '--help'], ['--version']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0\n"
        "print(sorted(m for m in ('numba', 'scipy', 'torch', 'matplotlib') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_output_never_replaces_an_input(tmp_path, logits_file):
    before = logits_file.read_bytes()
    result = CliRunner().invoke(cli, ["build", str(logits_file), "--out", str(logits_file)])
    assert result.exit_code == 1
    assert "is the logits file; choose another output path" in result.stderr
    assert logits_file.read_bytes() == before
    names = tmp_path / "names.nwk"
    names.write_text("".join(f"c{i}\n" for i in range(8)))
    result = CliRunner().invoke(cli, ["build", str(logits_file), "--leaf-names", str(names), "--out", str(names)])
    assert result.exit_code == 1 and "is the --leaf-names file" in result.stderr
