"""``l2h build --input logits|probs|log-probs`` end to end (the library side is in test_merge.py)."""

from __future__ import annotations

import json

import numpy as np

from l2h import read_tree
from tests._cli import run


def _probs(seed: int = 0) -> np.ndarray:
    probs = np.random.default_rng(seed).dirichlet(np.ones(7) * 0.5, size=400)
    probs[::9, 2] = 0.0
    return probs / probs.sum(axis=1, keepdims=True)


def test_build_input_probs_clips_zeros_and_reports_them(tmp_path):
    probs = _probs()
    np.save(tmp_path / "p.npy", probs)
    result = run("build", tmp_path / "p.npy", "--input", "probs", "--out", tmp_path / "t.json", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["input"] == "probs"
    assert summary["clipped_zeros"] == int(np.count_nonzero(probs == 0))
    with np.errstate(divide="ignore"):
        logs = np.log(probs)
    logs[probs == 0] = np.log(np.finfo(np.float64).tiny)
    np.save(tmp_path / "l.npy", logs)
    assert run("build", tmp_path / "l.npy", "--out", tmp_path / "l.json", "--quiet").exit_code == 0
    np.testing.assert_array_equal(read_tree(tmp_path / "t.json").linkage, read_tree(tmp_path / "l.json").linkage)
    text = run("build", tmp_path / "p.npy", "--input", "probs", "--out", tmp_path / "t2.nwk")
    assert "zero probabilities clipped" in text.output


def test_build_warns_once_when_logits_look_like_probabilities(tmp_path):
    np.save(tmp_path / "p.npy", _probs(1))
    result = run("build", tmp_path / "p.npy", "--out", tmp_path / "t.nwk")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "look like probabilities" in line]
    assert len(lines) == 1 and "--input probs" in lines[0]
