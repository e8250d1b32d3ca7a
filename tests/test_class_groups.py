"""The one groups-file reader (l2h.class_groups) behind the views' --groups and the groups taxonomies."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2h._validation import InputError
from l2h.class_groups import parse_groups
from l2h.itol import read_class_groups
from l2h.taxonomy import read_taxonomy

NAMES = ["cat", "lynx", "car", "van"]


@pytest.mark.parametrize(
    "text",
    [
        "cat\tanimal\nlynx\tanimal\ncar\tvehicle\nvan\tvehicle\n",
        "# header\n0\tanimal\n\n1\tanimal\r\n2\tvehicle\n3\tvehicle\n",
        "animal\nanimal\nvehicle\nvehicle\n",
        "car\tvehicle\nlynx\tanimal\nvan\tvehicle\ncat\tanimal\n",
    ],
)
def test_views_and_taxonomies_read_the_same_groups(tmp_path: Path, text: str) -> None:
    path = tmp_path / "groups.tsv"
    path.write_text(text)
    by_class = read_class_groups(path, NAMES, [0, 1, 2, 3])
    assert by_class == ("animal", "animal", "vehicle", "vehicle")
    tax = read_taxonomy(path, "groups", class_names=NAMES)
    group_of = {tax.leaf_names[leaf]: tax.names[int(tax.parent[leaf])] for leaf in range(tax.n_leaves)}
    assert group_of == dict(zip(NAMES, by_class, strict=True))


def test_rows_in_file_order_without_class_names() -> None:
    rows = parse_groups("b\tg2\na\tg1\n", "g.tsv")
    assert (rows.names, rows.groups, rows.ids) == (("b", "a"), ("g2", "g1"), None)
    rows = parse_groups("g1\ng2\n", "g.txt")
    assert (rows.names, rows.groups, rows.ids) == (("0", "1"), ("g1", "g2"), None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\n# nothing\n", "g.tsv is empty: it holds no classes"),
        ("cat\tanimal\nlynx\n", "g.tsv, line 2: expected 'class<TAB>group' like the other lines"),
        ("cat\tanimal\tx\n", "g.tsv, line 1: expected 'class<TAB>group'; got 'cat\\tanimal\\tx'"),
        ("cat\tanimal\nbus\tvehicle\n", "g.tsv, line 2: unknown class 'bus' (not in the class names)"),
        ("cat\tanimal\n0\tanimal\n", "g.tsv, line 2: class 'cat' is listed twice"),
        ("animal\nvehicle\n", "g.tsv has 2 lines but there are 4 classes"),
        ("\u00b2\tanimal\n", "g.tsv, line 1: unknown class '\u00b2'"),  # a digit that int() refuses
    ],
)
def test_bad_files_give_one_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_groups(text, "g.tsv", NAMES)
    assert str(info.value).startswith(message)
