"""l2h.files.OutputSet and l2h.text on real file systems: symlinks, hard links, FIFOs, a full tmpfs."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from l2h.files import OutputSet, check_output_path, write_atomic
from l2h.io import InputError
from l2h.text import markup_safe, printable


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture()
def files(tmp_path):
    a = tmp_path / "a.npy"
    np.save(a, np.arange(4))
    b = tmp_path / "b.txt"
    b.write_text("old b\n")
    return tmp_path, a, b


def test_writes_all_files_on_success(tmp_path):
    x, y = tmp_path / "x.txt", tmp_path / "y.npy"
    with OutputSet(inputs={"--in": None}, outputs={"--out": x, "--arr": y, "--none": None}) as out:
        out.write_text(x, "hello\n")
        out.save_npy(y, np.arange(3))
        assert _listing(tmp_path) != ["x.txt", "y.npy"]  # staged, not yet in place
        assert not x.exists()
    assert x.read_text() == "hello\n"
    assert np.load(y).tolist() == [0, 1, 2]
    assert _listing(tmp_path) == ["x.txt", "y.npy"]


def test_write_with_gets_a_temp_path_with_the_outputs_suffix(tmp_path):
    out_path = tmp_path / "p.npy"
    seen = []
    with OutputSet(outputs={"--out": out_path}) as out:
        out.write_with(out_path, lambda tmp: (seen.append(tmp), np.save(tmp, np.ones(2))))
    assert seen[0].suffix == ".npy" and seen[0].parent == tmp_path
    assert np.load(out_path).tolist() == [1.0, 1.0]
    assert _listing(tmp_path) == ["p.npy"]


def test_unregistered_output_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="not registered"):
        with OutputSet(outputs={"--out": tmp_path / "a"}) as out:
            out.write_text(tmp_path / "b", "x")
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "relative"])
def test_output_that_is_an_input_is_refused(files, how, monkeypatch):
    folder, a, _ = files
    before = a.read_bytes()
    out = {
        "same": a,
        "symlink": folder / "link.npy",
        "hardlink": folder / "hard.npy",
        "relative": Path("a.npy"),
    }[how]
    if how == "symlink":
        out.symlink_to(a)
    elif how == "hardlink":
        os.link(a, out)
    elif how == "relative":
        monkeypatch.chdir(folder)
    with pytest.raises(InputError) as info:
        OutputSet(inputs={"--logits": a}, outputs={"--out": out})
    message = str(info.value)
    assert message.startswith(f"--out {out} is the --logits file")
    assert message.endswith("; choose another output path")
    assert {"symlink": "(through a symlink)", "hardlink": "(a hard link)"}.get(how, "") in message
    assert a.read_bytes() == before


def test_input_symlink_to_output_is_refused(files):
    folder, a, b = files
    link = folder / "in.txt"
    link.symlink_to(b)
    with pytest.raises(InputError, match=r"--out .*b\.txt is the --labels file \(through a symlink\)"):
        OutputSet(inputs={"--labels": link}, outputs={"--out": b})


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "new-same"])
def test_two_outputs_on_one_file_are_refused(files, how):
    folder, a, b = files
    second = {"same": b, "symlink": folder / "s.txt", "hardlink": folder / "h.txt", "new-same": folder / "n.txt"}[how]
    first = b
    if how == "symlink":
        second.symlink_to(b)
    elif how == "hardlink":
        os.link(b, second)
    elif how == "new-same":
        first = second  # neither exists yet
    with pytest.raises(InputError, match=r"^--assignments .* is the same file as --out .*; give each output its own"):
        OutputSet(outputs={"--out": first, "--assignments": second})


def test_symlinked_output_is_written_through(files):
    folder, _, b = files
    link = folder / "link.txt"
    link.symlink_to(b)
    with OutputSet(outputs={"--out": link}) as out:
        out.write_text(link, "new\n")
    assert link.is_symlink() and b.read_text() == "new\n"


def test_fifo_directory_and_loop_outputs_are_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"^--out .*pipe is a FIFO \(named pipe\); expected a regular file$"):
        OutputSet(outputs={"--out": fifo})
    with pytest.raises(InputError, match=r"is a directory; expected a file path$"):
        OutputSet(outputs={"--out": tmp_path})
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match=r"^--out .*loop: symlink loop$"):
        OutputSet(outputs={"--out": loop})
    with pytest.raises(InputError, match="symlink loop"):
        check_output_path(loop, name="--out")


def test_missing_folder_of_a_later_output_stops_everything_up_front(files):
    folder, _, b = files
    with pytest.raises(InputError, match=r"^--assignments folder does not exist: .*nodir$"):
        OutputSet(outputs={"--out": b, "--assignments": folder / "nodir" / "a.npy"})
    assert b.read_text() == "old b\n"


def test_exception_inside_the_block_leaves_everything_untouched(files):
    folder, a, b = files
    before = _listing(folder)
    with pytest.raises(RuntimeError, match="boom"):
        with OutputSet(outputs={"--out": b, "--new": folder / "new.txt"}) as out:
            out.write_text(b, "replaced\n")
            out.write_text(folder / "new.txt", "x")
            raise RuntimeError("boom")
    assert b.read_text() == "old b\n"
    assert _listing(folder) == before


def test_a_failed_rename_restores_the_outputs_already_replaced(files, monkeypatch):
    folder, _, b = files
    c = folder / "c.txt"
    before = _listing(folder)
    real_replace = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if Path(dst) == c:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(InputError) as info:
        with OutputSet(outputs={"--out": b, "--other": c}) as out:
            out.write_text(b, "new b\n")
            out.write_text(c, "new c\n")
    assert str(info.value) == f"cannot write --other {c}: No space left on device; no output was changed"
    assert b.read_text() == "old b\n"
    assert _listing(folder) == before


def test_a_failed_rename_over_an_existing_file_leaves_no_backup(files, monkeypatch):
    """The failed file's backup is a hard link of the file still in place; rename() between two links
    of one file does nothing, so the roll-back must remove the link itself (found by the iTOL bundle)."""
    folder, _, b = files
    c = folder / "c.txt"
    c.write_text("old c\n")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real_replace = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the second commit (c.txt); the roll-back's renames go through
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(InputError, match="no output was changed"):
        with OutputSet(outputs={"--out": b, "--other": c}) as out:
            out.write_text(b, "new b\n")
            out.write_text(c, "new c\n")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_remove_and_create_folder(tmp_path):
    bundle = tmp_path / "bundle"
    with OutputSet(outputs={"--out": [bundle / "t.nwk", bundle / "old.txt"]}, create_folders=[bundle]) as out:
        out.write_text(bundle / "t.nwk", "(a,b);\n")
    assert _listing(bundle) == ["t.nwk"]
    (bundle / "old.txt").write_text("stale")
    with OutputSet(outputs={"--out": [bundle / "t.nwk", bundle / "old.txt"]}) as out:
        out.write_text(bundle / "t.nwk", "(b,a);\n")
        out.remove(bundle / "old.txt")
    assert _listing(bundle) == ["t.nwk"]
    other = tmp_path / "never"
    with pytest.raises(RuntimeError):
        with OutputSet(outputs={"--out": [other / "t.nwk"]}, create_folders=[other]) as out:
            out.write_text(other / "t.nwk", "x")
            raise RuntimeError
    assert not other.exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_new_files_get_the_umask_mode_and_existing_files_keep_theirs(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "n.txt", "x")
        (tmp_path / "e.txt").write_text("y")
        os.chmod(tmp_path / "e.txt", 0o600)
        write_atomic(tmp_path / "e.txt", "z")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "n.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "e.txt").stat().st_mode) == 0o600


# ---------------------------------------------------------------------------------------------- real tmpfs
def _mount_tmpfs(folder: Path, options: str) -> None:
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")


@pytest.fixture()
def small_tmpfs(tmp_path):
    folder = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    _mount_tmpfs(folder, "size=64k")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_full_disk_keeps_the_old_first_output_and_no_temp_files(small_tmpfs):
    first, second = small_tmpfs / "tree.nwk", small_tmpfs / "assignments.npy"
    first.write_text("old tree\n")
    with pytest.raises(InputError) as info:
        with OutputSet(outputs={"--out": first, "--assignments": second}) as out:
            out.write_text(first, "new tree\n" * 100)
            out.save_npy(second, np.zeros(100_000))  # 800 kB: does not fit in 64 kB
    message = str(info.value)
    assert message == f"cannot write --assignments {second}: No space left on device"
    assert ".tmp" not in message
    assert first.read_text() == "old tree\n"
    assert _listing(small_tmpfs) == ["tree.nwk"]


def test_full_disk_error_of_write_atomic_names_the_output(small_tmpfs):
    target = small_tmpfs / "big.npy"
    with pytest.raises(InputError, match=rf"^cannot write output {target}: No space left on device$"):
        write_atomic(target, b"x" * 200_000)
    assert _listing(small_tmpfs) == []


def test_read_only_folder_names_the_output_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    _mount_tmpfs(folder, "size=64k,ro")
    try:
        with pytest.raises(InputError, match=rf"^--out folder is not writable \(read-only file system\): {folder}$"):
            OutputSet(outputs={"--out": folder / "t.nwk"})
    finally:
        subprocess.run(["umount", str(folder)], check=False)


# ---------------------------------------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("plain", "plain"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\", "\\x1b]8;;http://evil\\x1b\\x\\x1b]8;;\\x1b\\"),
        ("bell\x07", "bell\\x07"),
        ("csi\x9b31m", "csi\\x9b31m"),
        ("del\x7f", "del\\x7f"),
        ("line\nbreak\r", "line\\x0abreak\\x0d"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("iso\u2066x\u2069", "iso\\u2066x\\u2069"),
        ("Ünïcødé 猫", "Ünïcødé 猫"),
    ],
)
def test_printable(name, shown):
    assert printable(name) == shown


def test_markup_safe_prints_names_literally():
    from rich.console import Console

    console = Console(record=True, width=200, force_terminal=True)
    for name in ("[/]", "[link=https://evil.example]click[/link]", "[bold red]x", "a\\", "esc\x1b[31m"):
        console.print(f"[bold]{markup_safe(name)}[/]")  # as names are used: inside markup
    text = console.export_text()
    assert text.splitlines() == [
        "[/]",
        "[link=https://evil.example]click[/link]",
        "[bold red]x",
        "a\\",
        "esc\\x1b[31m",
    ]
    assert "\x1b]8" not in console.export_text(styles=True)
