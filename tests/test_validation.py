"""The one validation entry point: dtype policy, messages naming the argument, one non-finite message."""

from __future__ import annotations

import re

import numpy as np
import pytest

from l2h import Hierarchy
from l2h._validation import check_array, check_logits_array, nonfinite_message
from l2h.agglomerative import agglomerative_hierarchy
from l2h.io import InputError, load_array
from l2h.metrics import contingency_table, evaluate, nmi

REFUSED = {
    "bool": np.array([[True, False], [False, True]]),
    "complex": np.array([[1 + 1j, 0], [0, 1]]),
    "object": np.array([[1, None], [0, 1]], dtype=object),
    "str": np.array([["a", "b"], ["c", "d"]]),
    "bytes": np.array([[b"a", b"b"], [b"c", b"d"]]),
    "datetime": np.array([["2020-01-01", "2020-01-02"]] * 2, dtype="datetime64[D]"),
}


@pytest.mark.parametrize("kind", ["real", "integer", "count"])
@pytest.mark.parametrize("dtype_name", sorted(REFUSED))
def test_refused_dtypes_every_kind(kind, dtype_name):
    with pytest.raises(TypeError, match=rf"^thing must hold .*; got dtype {re.escape(str(REFUSED[dtype_name].dtype))}"):
        check_array(REFUSED[dtype_name], "thing", kind=kind)


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int64, np.float16, np.float32, np.float64])
def test_real_accepts_ints_and_floats_without_copy(dtype):
    arr = np.arange(6, dtype=dtype).reshape(3, 2)
    assert check_array(arr, "logits", ndim=2) is arr


def test_real_keeps_memory_maps(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((4, 3), np.float32))
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert check_array(mm, "logits", ndim=2, finite=True) is mm


def test_integer_kind_accepts_integer_valued_floats():
    out = check_array(np.array([0.0, 2.0, 5.0]), "labels", kind="integer", ndim=1)
    assert out.dtype == np.int64 and out.tolist() == [0, 2, 5]
    with pytest.raises(ValueError, match=r"^labels must be integers; found the non-integer value 2.5 at index 1$"):
        check_array([0.0, 2.5], "labels", kind="integer")


def test_count_kind_refuses_negative():
    with pytest.raises(ValueError, match=r"^table must hold non-negative counts; found -1 at index \(1, 0\)$"):
        check_array([[1, 2], [-1, 0]], "table", kind="count", ndim=2)


def test_one_nonfinite_message_everywhere():
    x = np.zeros((6, 3))
    x[[2, 4], 1] = [np.nan, np.inf]
    expected = "embeddings contain NaN or ±inf in 2 rows; first bad row is 2 (0-based)"
    assert expected == nonfinite_message("embeddings", 2, 2)
    with pytest.raises(ValueError) as info:
        check_array(x, "embeddings", finite=True)
    assert str(info.value) == expected
    with pytest.raises(ValueError) as info:
        agglomerative_hierarchy(x, 2, backend="scipy")
    assert str(info.value) == expected
    with pytest.raises(ValueError) as info:
        check_array([1.0, np.nan], "labels", kind="integer")
    assert str(info.value) == "labels contain NaN or ±inf in 1 entry; first bad entry is 1 (0-based)"
    with pytest.raises(ValueError) as info:
        Hierarchy.from_merges([[0, 1]]).assign(np.array([[0.0, 1.0], [np.nan, 0.0]]))
    assert str(info.value) == "logits contain NaN or ±inf in 1 row; first bad row is 1 (0-based)"


def test_shape_and_type_messages_name_the_argument():
    with pytest.raises(ValueError, match=r"^embeddings must be 2-D \(n_points, n_dims\); got shape \(5,\)$"):
        agglomerative_hierarchy(np.zeros(5), 2)
    with pytest.raises(TypeError, match=r"^logits must be a 2-D numpy array; got str$"):
        check_logits_array("logits.npy")
    with pytest.raises(ValueError, match=r"^logits must be a rectangular array of numbers"):
        check_array([[1.0, 2.0], [3.0]], "logits")


def test_bool_refused_in_every_entry_point(tmp_path):
    """Bool was refused by metrics but accepted by io and agglomerative: now refused everywhere."""
    tree = Hierarchy.from_merges([[0, 1]])
    with pytest.raises(TypeError, match="^embeddings must hold real numbers; got dtype bool"):
        agglomerative_hierarchy(np.ones((4, 2), bool), 2)
    with pytest.raises(TypeError, match="^logits must hold real numbers; got dtype bool"):
        tree.assign(np.ones((4, 2), bool))
    with pytest.raises(TypeError, match="^assignments must hold integers; got dtype bool"):
        contingency_table(np.array([True, False]), [0, 1])
    with pytest.raises(TypeError, match="^labels must hold integers; got dtype bool"):
        evaluate(tree, np.array([True, False]), assignments=[0, 1])
    with pytest.raises(TypeError, match="^table must hold non-negative integer counts; got dtype bool"):
        nmi(np.eye(2, dtype=bool))
    np.save(tmp_path / "b.npy", np.ones((3, 2), bool))
    with pytest.raises(InputError, match=r"^logits file .*b.npy must hold real numbers; got dtype bool"):
        load_array(tmp_path / "b.npy", name="logits")
