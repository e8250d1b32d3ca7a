"""Issue 23 (smaller): files of a shard folder that are not ``.npy`` are named, not silently ignored."""

from __future__ import annotations

import numpy as np
import pytest

from l2h import L2HWarning
from l2h.distributed import open_shards
from l2h.io import InputError


def test_other_files_are_named_in_a_warning(tmp_path):
    np.save(tmp_path / "part-0.npy", np.zeros((3, 2), np.float32))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "part-1.npz").write_bytes(b"")
    with pytest.warns(L2HWarning, match=r"logits folder .*: notes.txt, part-1.npz are not .npy, ignored"):
        shards = open_shards(tmp_path)
    assert [s.rows for s in shards] == [3]


def test_a_folder_without_shards_names_what_it_holds(tmp_path):
    (tmp_path / "logits.npz").write_bytes(b"")
    with pytest.raises(InputError, match=r"holds no .npy shards \(it holds logits.npz\)$"):
        open_shards(tmp_path)
