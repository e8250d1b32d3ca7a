"""Issue 10: no command overwrites its own inputs, multi-file outputs are all-or-nothing, names cannot
drive the terminal, and every user error is one line with exit code 1."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from l2h_cli.main import cli

from l2h import Hierarchy, write_tree
from tests._cli import error_line, run
from tests._trees import random_merges

K, N, C = 6, 120, 3


@pytest.fixture()
def case(tmp_path):
    rng = np.random.default_rng(1)
    tree = Hierarchy.from_merges(random_merges(K, rng))
    labels = rng.integers(0, C, N)
    logits = rng.normal(size=(N, K)).astype(np.float32)
    paths = {
        "tree": tmp_path / "tree.nwk",
        "logits": tmp_path / "X.npy",
        "labels": tmp_path / "L.csv",
        "emb": tmp_path / "E.npy",
    }
    write_tree(tree, paths["tree"])
    np.save(paths["logits"], logits)
    paths["labels"].write_text("".join(f"{v}\n" for v in labels))
    np.save(paths["emb"], rng.normal(size=(40, 3)))
    return paths


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(result, start: str) -> None:
    assert result.exit_code == 1, result.output
    line = error_line(result)
    assert line.startswith(start), line


# ---------------------------------------------------------------------------------------------- item 1
def test_cut_out_equal_to_logits_is_refused(case, tmp_path):
    before = _snapshot(tmp_path)
    result = run("cut", case["tree"], "--k", 3, "--logits", case["logits"], "--out", case["logits"])
    _refused(result, f"Error: --out {case['logits']} is the --logits file; choose another output path")
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_cut_out_linked_to_logits_is_refused(case, tmp_path, link):
    other = tmp_path / "other.npy"
    (other.symlink_to if link == "symlink" else lambda p: os.link(p, other))(case["logits"])
    before = _snapshot(tmp_path)
    result = run("cut", case["tree"], "--k", 3, "--logits", case["logits"], "--out", other)
    how = "(through a symlink)" if link == "symlink" else "(a hard link)"
    _refused(result, f"Error: --out {other} is the --logits file {how}")
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("out", "assignments", "message"),
    [
        ("a.nwk", "E.npy", "Error: --assignments-out {d}/E.npy is the embeddings file"),
        ("E.npy", "a.npy", "Error: --out {d}/E.npy is the embeddings file"),
        ("s.npy", "s.npy", "Error: --assignments-out {d}/s.npy is the same file as --out {d}/s.npy"),
    ],
)
def test_agglomerative_outputs_never_replace_inputs_or_each_other(case, tmp_path, out, assignments, message):
    (tmp_path / "s.npy").write_bytes(b"tree")  # an earlier tree that must survive
    before = _snapshot(tmp_path)
    result = run(
        "agglomerative",
        case["emb"],
        "--clusters",
        4,
        "--out",
        tmp_path / out,
        "--assignments-out",
        tmp_path / assignments,
    )
    _refused(result, message.format(d=tmp_path))
    assert _snapshot(tmp_path) == before


def test_metrics_class_distances_equal_to_labels_is_refused(case, tmp_path):
    before = _snapshot(tmp_path)
    result = run(
        "metrics",
        case["tree"],
        "--logits",
        case["logits"],
        "--labels",
        case["labels"],
        "--class-distances",
        case["labels"],
    )
    _refused(result, f"Error: --class-distances {case['labels']} is the --labels file")
    assert _snapshot(tmp_path) == before


def test_export_itol_refuses_an_input_tree_inside_the_bundle(case, tmp_path):
    bundle = tmp_path / "B"
    bundle.mkdir()
    tree = bundle / "tree.nwk"
    tree.write_bytes(case["tree"].read_bytes())
    before = _snapshot(tmp_path)
    result = run("export", "itol", tree, "--out", bundle)
    _refused(result, f"Error: --out {tree} is the tree file; choose another output path")
    assert _snapshot(tmp_path) == before
    stale = bundle / "itol_labels.txt"  # a file the bundle would remove is an output too
    stale.write_text("1\n2\n")
    result = run("export", "itol", case["tree"], "--out", bundle, "--logits", case["logits"], "--labels", stale)
    _refused(result, f"Error: --out {stale} is the --labels file")


def test_plot_out_equal_to_class_distances_is_refused(case, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "s.png"
    result = run(
        "plot", case["tree"], "--logits", case["logits"], "--labels", case["labels"], "--out", out,
        "--class-distances", out,
    )  # fmt: skip
    _refused(result, f"Error: --class-distances {out} is the same file as --out {out}")
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- item 2
def test_agglomerative_missing_folder_of_the_second_output_writes_nothing(case, tmp_path):
    before = _snapshot(tmp_path)
    out = tmp_path / "agg.json"
    result = run(
        "agglomerative", case["emb"], "--clusters", 4, "--out", out, "--assignments-out", tmp_path / "nodir" / "a.npy"
    )
    _refused(result, f"Error: --assignments-out folder does not exist: {tmp_path / 'nodir'}")
    assert _snapshot(tmp_path) == before


def test_plot_missing_folder_of_the_heatmap_writes_nothing_and_claims_nothing(case, tmp_path):
    pytest.importorskip("matplotlib")
    before = _snapshot(tmp_path)
    result = run(
        "plot", case["tree"], "--logits", case["logits"], "--labels", case["labels"], "--out", tmp_path / "p.png",
        "--class-distances", tmp_path / "nodir" / "cd.png",
    )  # fmt: skip
    _refused(result, "Error: --class-distances folder does not exist")
    assert "dendrogram ->" not in result.stdout
    assert _snapshot(tmp_path) == before


def test_full_disk_leaves_every_output_as_it_was(case, tmp_path):
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.decode().strip()}")
    try:
        emb = tmp_path / "big.npy"
        np.save(emb, np.random.default_rng(0).normal(size=(20_000, 2)))  # 160 kB of assignments: too big
        (disk / "agg.nwk").write_text("old tree\n")
        (disk / "a.npy").write_text("old assignments\n")
        result = run(
            "agglomerative", emb, "--clusters", 3, "--out", disk / "agg.nwk", "--assignments-out", disk / "a.npy",
        )  # fmt: skip
        _refused(result, f"Error: cannot write --assignments-out {disk / 'a.npy'}: No space left on device")
        assert (disk / "agg.nwk").read_text() == "old tree\n"
        assert (disk / "a.npy").read_text() == "old assignments\n"
        assert sorted(p.name for p in disk.iterdir()) == ["a.npy", "agg.nwk"]  # no temporary files
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# ---------------------------------------------------------------------------------------------- item 3
HOSTILE = ["[/]", "[link=https://evil.example]click[/link]", "\x1b]0;owned\x07", "\x1b[2J", "rtl\u202eevil", "ok"]


@pytest.fixture()
def hostile_tree(tmp_path):
    k = len(HOSTILE)
    tree = Hierarchy.from_merges(random_merges(k, np.random.default_rng(2)), leaf_names=HOSTILE)
    path = tmp_path / "hostile.json"
    write_tree(tree, path)
    return path


@pytest.mark.parametrize("terminal", [False, True])
def test_cut_prints_hostile_leaf_names_literally(hostile_tree, terminal):
    env = {"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"} if terminal else {"NO_COLOR": "1"}
    result = CliRunner().invoke(cli, ["cut", str(hostile_tree), "--k", "2"], env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b]" not in out and "\x1b[2J" not in out and "\x07" not in out and "\u202e" not in out
    for shown in ("[/]", "[link=https://evil.example]click[/link]", "\\x1b]0;owned\\x07", "\\x1b[2J", "rtl\\u202eevil"):
        assert shown in out, (shown, out)


def test_cut_json_keeps_the_names_exact(hostile_tree):
    import json

    result = run("cut", hostile_tree, "--k", 1, "--json")
    assert result.exit_code == 0
    assert sorted(json.loads(result.stdout)["groups"][0]["leaves"]) == sorted(HOSTILE)


# ---------------------------------------------------------------------------------------------- item 8
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["metrics", "{tree}", "--logits", "{logits}", "--labels", "{labels}", "--k", "abc"], "'--k'"),
        (["plot", "{tree}", "--out", "{tmp}/p.png", "--dpi", "100000"], "'--dpi': 100000 is not in the range"),
        (["cut", "{tree}", "--k", "2", "--logits", "{logits}", "--out", "."], "is a directory"),
        (["cut", "{tree}", "--k", "2", "--logits", "{logits}", "--assignments", "{logits}"], "at most one of"),
        (["metrics", "{tree}", "--logits", "{logits}", "--assignments", "{logits}", "--labels", "{labels}"], "exactly"),
        (["cut", "{tree}"], "Missing option '--k'"),
        (["cut", "--k", "2"], "Missing argument 'TREE'"),
        (["build", "{logits}"], "Missing option '--out'"),
        (["cut", "{tree}", "--k", "2", "--bogus"], "No such option"),
        (["nosuchverb"], "No such command"),
        (
            ["agglomerative", "{tmp}/E.npy", "--clusters", "2", "--out", "a.nwk", "--assignments-out", "a.txt"],
            "expected a .npy",
        ),
        (["build", "{logits}", "--out", "{tmp}/t.nwk", "--aggregation", "max"], "'--aggregation'"),
    ],
)
def test_every_usage_error_is_one_line_with_exit_code_1(case, tmp_path, args, message):
    values = {"tree": case["tree"], "logits": case["logits"], "labels": case["labels"], "tmp": tmp_path}
    result = run(*[a.format(**values) for a in args])
    assert result.exit_code == 1, result.output
    line = error_line(result)
    assert line.startswith("Error: ") and message in line, line
    assert result.stdout == ""


def test_help_version_and_bare_l2h(case):
    for args in (["--help"], ["cut", "--help"], ["export", "itol", "--help"], ["--version"], [], ["export"]):
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
        assert result.stdout.strip()
    assert run().stdout.startswith("Usage: ")


def test_symlink_loops_are_called_symlink_loops(case, tmp_path):
    loop = tmp_path / "loop.npy"
    loop.symlink_to(loop)
    result = run("cut", case["tree"], "--k", 2, "--logits", case["logits"], "--out", loop)
    assert error_line(result) == f"Error: --out {loop}: symlink loop"
    tree_loop = tmp_path / "loop.nwk"
    tree_loop.symlink_to(tree_loop)
    assert error_line(run("cut", tree_loop, "--k", 2)) == f"Error: tree file {tree_loop}: symlink loop"
    result = run("metrics", case["tree"], "--logits", loop, "--labels", case["labels"])
    assert error_line(result) == f"Error: logits file {loop}: symlink loop"


def test_stray_library_warnings_add_no_lines(case, monkeypatch):
    from l2h.hierarchy import Hierarchy as H

    real_cut = H.cut

    def noisy_cut(self, k):
        np.exp(np.array([1000.0]))  # overflow: a NumPy RuntimeWarning
        np.array([1.0]) / 0.0
        warnings.warn_explicit("glyph missing", UserWarning, "font_manager.py", 1, module="matplotlib.font_manager")
        return real_cut(self, k)

    monkeypatch.setattr(H, "cut", noisy_cut)
    result = run("cut", case["tree"], "--k", 2, "--logits", case["logits"], "--json")
    assert result.exit_code == 0
    assert result.stderr == ""


def test_l2h_warnings_are_one_line(case, monkeypatch):
    from l2h import L2HWarning
    from l2h.hierarchy import Hierarchy as H

    real_cut = H.cut

    def warn_cut(self, k):
        warnings.warn("something odd\nover two lines", L2HWarning, stacklevel=2)
        return real_cut(self, k)

    monkeypatch.setattr(H, "cut", warn_cut)
    result = run("cut", case["tree"], "--k", 2, "--json")
    assert result.exit_code == 0
    assert result.stderr == "warning: something odd over two lines\n"


def test_interrupt_is_one_line_and_exit_130(case, monkeypatch):
    from l2h.hierarchy import Hierarchy as H

    def interrupted(self, k):
        raise KeyboardInterrupt

    monkeypatch.setattr(H, "cut", interrupted)
    result = run("cut", case["tree"], "--k", 2)
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines()[-1] == "Interrupted."


def test_console_script_exit_codes(case):
    """The installed entry point, not only click's runner: one line and exit 1 for a usage error."""
    code = "import sys; from l2h_cli.main import main; sys.argv = ['l2h', 'cut', sys.argv[1]]; main()"
    done = subprocess.run([sys.executable, "-c", code, str(case["tree"])], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr == "Error: Missing option '--k'.\n"


# ---------------------------------------------------------------------------------------------- item 7
@pytest.mark.slow
def test_agglomerative_warns_up_front_and_stops_on_a_real_sigint(tmp_path):
    pytest.importorskip("fastcluster")
    import signal
    import time

    emb = tmp_path / "big.npy"
    np.save(emb, np.random.default_rng(0).normal(size=(20_000, 24)))  # minutes of O(N^2 D) linkage
    code = "import sys; from l2h_cli.main import main; sys.argv[0] = 'l2h'; main()"
    args = ["agglomerative", str(emb), "--clusters", "5", "--out", str(tmp_path / "t.nwk"), "--assignments-out"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args, str(tmp_path / "a.npy")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stderr.readline()  # the warning comes before the linkage starts
        assert first.startswith("note: ward linkage of 20,000 points takes roughly "), first
        assert first.rstrip().endswith("(time grows as N^2); Ctrl-C stops it")
        time.sleep(1.0)
        assert proc.poll() is None  # still linking
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        proc.wait(timeout=20)
        waited = time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, rest
    assert rest.strip().splitlines()[-1] == "Interrupted."
    assert waited < 5.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npy"]


@pytest.fixture()
def fifo(tmp_path):
    """A named pipe; a reader that blocks on it is released after a few seconds (a failure, not a hang)."""
    import threading

    path = tmp_path / "pipe"
    os.mkfifo(path)

    def release() -> None:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass  # nobody is reading: nothing to release

    timer = threading.Timer(5.0, release)
    timer.start()
    yield path
    timer.cancel()


@pytest.mark.parametrize(
    "args",
    [
        ["build", "{fifo}.npy", "--out", "{tmp}/t.nwk"],
        ["build", "{logits}", "--out", "{tmp}/t.nwk", "--leaf-names", "{fifo}"],
        ["cut", "{fifo}.nwk", "--k", "2"],
        ["metrics", "{tree}", "--logits", "{logits}", "--labels", "{fifo}.csv"],
        ["show", "{tree}", "--logits", "{logits}", "--labels", "{labels}", "--class-names", "{fifo}"],
        ["plot", "{tree}", "--out", "{tmp}/p.png", "--logits", "{logits}", "--labels", "{labels}", "--groups"]
        + ["{fifo}"],
        ["export", "itol", "{fifo}.nwk", "--out", "{tmp}/b"],
        ["compare", "{tree}", "--reference", "{fifo}.nwk"],
        ["agglomerative", "{fifo}.npy", "--clusters", "2", "--out", "{tmp}/a.nwk", "--assignments-out", "{tmp}/a.npy"],
    ],
    ids=lambda args: " ".join(a for a in args if not a.startswith("{")),
)
def test_fifo_inputs_are_refused_in_one_line_not_read(case, tmp_path, fifo, args):
    """Issue 10 item 7: reading a FIFO blocks forever; every path option refuses one up front."""
    for suffix in (".npy", ".nwk", ".csv"):
        os.symlink(fifo, f"{fifo}{suffix}")
    values = {"tree": case["tree"], "logits": case["logits"], "labels": case["labels"], "tmp": tmp_path, "fifo": fifo}
    before = _snapshot(tmp_path)
    result = run(*[a.format(**values) for a in args])
    assert result.exit_code == 1, result.output
    line = error_line(result)
    assert (
        line.startswith("Error: Invalid value for ") and "is a FIFO (named pipe); l2h reads only regular files" in line
    )
    assert _snapshot(tmp_path) == before


def test_every_path_parameter_refuses_special_files():
    """The FIFO check covers every command's path options, present and future (not only those above)."""
    import click
    from l2h_cli.main import COMMANDS, LazyGroup, _RegularPath

    group = LazyGroup()
    ctx = click.Context(cli)
    checked = 0
    for name in COMMANDS:
        stack = [group.get_command(ctx, name)]
        while stack:
            command = stack.pop()
            if command is None:
                continue
            stack.extend(getattr(command, "commands", {}).values())
            for param in command.params:
                if isinstance(param.type, click.Path):
                    assert type(param.type) is _RegularPath, (name, param.name)
                    checked += 1
    assert checked > 30


def test_required_options_are_required():
    """click 8.5 takes an explicit ``default=None`` as a given value: ``required=True`` then never fires
    (``l2h metrics TREE --logits X`` crashed on the missing --labels)."""
    import click
    from l2h_cli.main import COMMANDS, LazyGroup

    ctx = click.Context(cli)
    for name in COMMANDS:
        stack = [LazyGroup().get_command(ctx, name)]
        while stack:
            command = stack.pop()
            if command is None:
                continue
            stack.extend(getattr(command, "commands", {}).values())
            for param in command.params:
                if param.required and isinstance(param, click.Option):
                    assert param.default is not None, (name, param.name)


def test_metrics_without_labels_is_a_missing_option(case):
    result = run("metrics", case["tree"], "--logits", case["logits"])
    assert result.exit_code == 1
    assert error_line(result) == "Error: Missing option '--labels'."


def test_error_lines_cannot_drive_the_terminal(case, tmp_path):
    """Issue 10 item 3: a file name (or any value) quoted in an error is shown with visible escapes."""
    evil = tmp_path / "\x1b]0;pwned\x07\x1b[2J.nwk"
    result = run("cut", evil, "--k", 2)
    assert result.exit_code == 1
    line = error_line(result)
    assert "\x1b" not in line and "\x07" not in line
    assert line.endswith("\\x1b]0;pwned\\x07\\x1b[2J.nwk")
