"""Issue 23 (10): every name, groups and paths reader ends a line at ``\\n`` only.

``str.splitlines`` also breaks at U+2028, U+2029, U+0085, VT, FF and FS/GS/RS: the taxonomy and
groups readers (``l2h.class_groups``, behind ``compare --reference``, ``--groups`` and iTOL) read a
class called ``sea<U+2028>lion`` as two lines, while the names reader kept it whole.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from l2h import Hierarchy
from l2h.arrays import read_names
from l2h.class_groups import content_lines, parse_groups
from l2h.taxonomy import read_taxonomy
from l2h.text import text_lines

ENTRY = [sys.executable, "-c", "from l2h_cli.main import main; main()"]
SEPARATORS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


@pytest.mark.parametrize("sep", SEPARATORS)
def test_a_separator_inside_a_name_is_part_of_it(tmp_path, sep):
    name = f"sea{sep}lion"
    assert text_lines(f"cat\r\n{name}\n") == ["cat", name]
    assert content_lines(f"# header\ncat\tmammal\n{name}\tmammal\n") == [(2, "cat\tmammal"), (3, f"{name}\tmammal")]
    rows = parse_groups(f"cat\tmammal\n{name}\tmammal\ntrout\tfish\n", "groups file g.tsv", ["cat", name, "trout"])
    assert list(rows.groups) == ["mammal", "mammal", "fish"]
    (tmp_path / "names.txt").write_text(f"cat\n{name}\ntrout\n", encoding="utf-8")
    assert read_names(tmp_path / "names.txt") == ["cat", name, "trout"]


@pytest.mark.parametrize("fmt", ["groups", "edges"])
def test_taxonomy_readers_keep_a_u2028_leaf_whole(tmp_path, fmt):
    name = "sea\u2028lion"
    path = tmp_path / "ref.txt"
    if fmt == "groups":
        path.write_text(f"cat\tmammal\n{name}\tmammal\ntrout\tfish\n", encoding="utf-8")
        tax = read_taxonomy(path, fmt)
    else:
        path.write_text(f"animal mammal\nanimal fish\nmammal cat\nmammal {name}\nfish trout\n", encoding="utf-8")
        (tmp_path / "leaves.txt").write_text(f"cat\n{name}\ntrout\n", encoding="utf-8")
        tax = read_taxonomy(path, fmt, leaves=read_names(tmp_path / "leaves.txt"))
    assert sorted(tax.leaf_names) == sorted(["cat", name, "trout"])


def test_compare_reads_a_u2028_class_the_same_in_every_file(tmp_path):
    """A real ``l2h compare``: class names (read_names) and the groups reference (content_lines)."""
    name = "sea\u2028lion"
    names = ["cat", name, "trout", "carp"]
    (tmp_path / "classes.txt").write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    (tmp_path / "ref.tsv").write_text(f"cat\tmammal\n{name}\tmammal\ntrout\tfish\ncarp\tfish\n", encoding="utf-8")
    (tmp_path / "t.json").write_text(Hierarchy.from_merges(np.array([[0, 1], [2, 3], [4, 5]])).to_json())
    args = ["compare", tmp_path / "t.json", "--reference", tmp_path / "ref.tsv", "--class-names",
            tmp_path / "classes.txt", "--leaves-are-classes", "--json"]  # fmt: skip
    done = subprocess.run([*ENTRY, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n_classes"] == 4
    assert result["rf_learned_only"] == 0.0 and result["rf_reference_only"] == 0.0
