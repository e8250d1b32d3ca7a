"""Input files: text that never changes data silently, non-regular files, zip bombs, streaming."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

import l2h.arrays as arrays
from l2h import InputError, L2HWarning, _system, load_array, read_tree
from l2h.arrays import read_names
from tests._cli import error_line, run


def load_quietly(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", L2HWarning)
        return load_array(path, **kwargs)


def test_bom_does_not_eat_the_first_row(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf1,2\n3,4\n")
    assert load_quietly(path).tolist() == [[1, 2], [3, 4]]
    tsv = tmp_path / "bom.tsv"
    tsv.write_bytes(b"\xef\xbb\xbf1\t2\n")
    assert load_quietly(tsv).tolist() == [[1, 2]]


def test_bom_in_labels_and_names_files(tmp_path):
    names = tmp_path / "names.txt"
    names.write_bytes("\ufeffcat\ndog\n".encode())
    assert read_names(names) == ["cat", "dog"]
    labels = tmp_path / "labels.csv"
    labels.write_bytes(b"\xef\xbb\xbf2\n0\n2\n")
    assert load_quietly(labels).ravel().tolist() == [2, 0, 2]


def test_header_only_when_no_cell_is_a_number(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("c0,c1\n1,2\n")
    with pytest.warns(L2HWarning, match=r"h.csv: line 1 has no number, skipped as a header: 'c0,c1'$"):
        assert load_array(path).tolist() == [[1, 2]]
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("1,2x,3\n4,5,6\n")
    with pytest.raises(InputError, match=r"mixed.csv, line 1, column 2: non-numeric cell '2x'$"):
        load_array(mixed)
    bom_mixed = tmp_path / "bom_mixed.csv"
    bom_mixed.write_bytes(b"\xef\xbb\xbf1.5,abc\n1,2\n")
    with pytest.raises(InputError, match=r"line 1, column 2: non-numeric cell 'abc'$"):
        load_array(bom_mixed)


def test_cli_reports_the_skipped_header(tmp_path):
    """The library warns (L2HWarning); the CLI prints l2h warnings on stderr (one line each)."""
    from l2h import Hierarchy, write_tree

    write_tree(Hierarchy.from_merges([[0, 1]]), tmp_path / "t.nwk")
    (tmp_path / "l.csv").write_text("a,b\n0.1,2\n3,0.5\n")
    code = "import sys\nfrom l2h_cli.main import main\nsys.argv = ['l2h'] + sys.argv[1:]\nmain()\n"
    args = ["cut", tmp_path / "t.nwk", "--k", "1", "--logits", tmp_path / "l.csv"]
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "l.csv: line 1 has no number, skipped as a header: 'a,b'" in out.stderr


def test_text_errors_name_line_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("# comment\n\n1,2\n3,4\n5,nan\n6,x\n")
    with pytest.raises(InputError, match=r"bad.csv, line 6, column 2: non-numeric cell 'x'$"):
        load_array(path)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("1,2\n3,4\n5,6,7\n")
    with pytest.raises(InputError, match=r"ragged.csv, line 3: expected 2 columns, found 3$"):
        load_array(ragged)
    spaces = tmp_path / "s.txt"
    spaces.write_text("1 2 3\n4  5\t6\n")
    assert load_quietly(spaces).tolist() == [[1, 2, 3], [4, 5, 6]]


def test_large_files_stream_into_a_memory_map(tmp_path, monkeypatch):
    monkeypatch.setattr(arrays, "STREAM_BYTES", 100)
    monkeypatch.setattr(arrays, "STREAM_CHUNK_LINES", 7)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    path = tmp_path / "big.csv"
    path.write_text("a,b,c\n" + "\n".join(",".join(repr(float(v)) for v in row) for row in x) + "\n")
    with pytest.warns(L2HWarning):
        got = load_array(path)
    assert isinstance(got, np.memmap) and not got.flags.writeable
    np.testing.assert_array_equal(got, x)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(["1,2"] * 20 + ["1,2,3"]) + "\n")
    with pytest.raises(InputError, match=r"bad.csv, line 21: expected 2 columns, found 3$"):
        load_array(bad)


def test_non_regular_files_are_refused_before_reading(tmp_path):
    fifo = tmp_path / "logits.csv"
    os.mkfifo(fifo)
    # In a child process with a timeout: a reader that opened the FIFO would block forever.
    code = (
        "import sys\nfrom l2h import load_array, InputError\n"
        "try:\n    load_array(sys.argv[1], name='logits')\nexcept InputError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == f"logits file {fifo} is a FIFO (named pipe); l2h reads only regular files"
    with pytest.raises(InputError, match="is a FIFO"):
        read_names(fifo)
    with pytest.raises(InputError, match="tree file .* is a FIFO"):
        read_tree(tmp_path / "logits.csv", fmt="newick")
    with pytest.raises(InputError, match="is a character device"):
        load_array("/dev/null", name="labels")


def test_cli_refuses_a_fifo_with_one_line(tmp_path):
    fifo = tmp_path / "t.nwk"
    os.mkfifo(fifo)
    code = "import sys\nfrom l2h_cli.main import main\nsys.argv = ['l2h', 'cut', sys.argv[1], '--k', '1']\nmain()\n"
    out = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "is a FIFO (named pipe); l2h reads only regular files" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_symlink_loop_and_dangling_symlink(tmp_path):
    loop = tmp_path / "loop.npy"
    os.symlink(loop, loop)
    with pytest.raises(InputError, match=r"^logits file .*loop.npy is a symlink loop$"):
        load_array(loop, name="logits")
    dangling = tmp_path / "gone.npy"
    os.symlink(tmp_path / "missing.npy", dangling)
    with pytest.raises(InputError, match="is a dangling symlink"):
        load_array(dangling)
    result = run("cut", loop, "--k", 1)
    assert result.exit_code == 1 and "symlink loop" in error_line(result)


def test_npz_zip_bomb_is_refused_before_inflating(tmp_path, monkeypatch):
    path = tmp_path / "bomb.npz"
    n = 64 << 20  # 64 MiB of zeros compress to ~64 KiB
    header = tmp_path / "h.npy"
    np.lib.format.open_memmap(header, mode="w+", dtype=np.uint8, shape=(n,)).flush()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(header, "logits.npy")
    header.unlink()
    assert path.stat().st_size < 1 << 20
    monkeypatch.setattr(_system, "available_memory", lambda: 32 << 20)
    with pytest.raises(InputError, match=r"bomb.npz: array 'logits' inflates to 0.1 GiB but only 0.0 GiB"):
        load_array(path)
    monkeypatch.setattr(_system, "available_memory", lambda: 1 << 34)
    assert load_array(path).shape == (n,)


@pytest.mark.parametrize("rows", [1, 3, 7, 100])
def test_row_blocks_cover_every_row_once_in_order(tmp_path, rows):
    from l2h.arrays import row_blocks

    array = np.arange(40, dtype=np.float32).reshape(20, 2)
    np.save(tmp_path / "a.npy", array)
    for source in (array, np.load(tmp_path / "a.npy", mmap_mode="r")):
        blocks = list(row_blocks(source, rows))
        assert [start for start, _ in blocks] == list(range(0, 20, rows))
        assert all(len(block) <= rows and not isinstance(block, np.memmap) for _, block in blocks)
        assert np.array_equal(np.concatenate([block for _, block in blocks]), array)
