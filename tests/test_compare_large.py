"""Issue 23: ``compare`` of many classes without the L x L matrices (100 000 classes asked for 37 GiB).

Above ``_DENSE_CLASSES_MAX`` classes the pair scores (cophenetic correlations, sampled triplets) are
computed one leaf row at a time; both paths must give the same bits on random trees of any arity.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import l2h.compare as cmp
from l2h.hierarchy import Hierarchy
from l2h.taxonomy import Taxonomy
from tests._trees import random_merges
from tests.test_compare import random_taxonomy

ENTRY = [sys.executable, "-c", "from l2h_cli.main import main; main()"]


def _same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("seed", range(12))
def test_row_by_row_scores_are_the_dense_ones_bit_for_bit(seed: int, monkeypatch) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.choice([2, 3, 4, 7, 30, 299, 301, 450, 700]))
    names = [f"c{i}" for i in range(n)]
    learned = Taxonomy.from_hierarchy(Hierarchy.from_merges(random_merges(n, rng), leaf_names=names))
    ref = random_taxonomy(rng, names).restrict(names)
    monkeypatch.setattr(cmp, "N_TRIPLET_SAMPLES", 20_000)
    dense = cmp._pair_scores(ref, learned, seed, dense=True)
    rows = cmp._pair_scores(ref, learned, seed, dense=False)
    assert _same(dense, rows), (n, dense, rows)
    assert _same(cmp._pair_scores(learned, ref, seed, dense=True), cmp._pair_scores(learned, ref, seed, dense=False))


@pytest.mark.parametrize("seed", range(4))
def test_pair_depths_are_the_matrix(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 200))
    names = [f"c{i}" for i in range(n)]
    tax = random_taxonomy(rng, names).restrict(names)
    matrix = cmp.lca_depths(tax)
    pairs = cmp._PairDepths(tax)
    for a in range(n):
        assert (pairs.row(a)[pairs.pos] == matrix[a]).all()
    i = rng.integers(0, n, 5000)
    j = (i + 1 + rng.integers(0, n - 1, 5000)) % n
    assert (pairs.pairs(i, j) == matrix[i, j]).all()


def test_many_classes_run_in_modest_memory(tmp_path) -> None:
    """20 000 classes: the dense path's matrices would take gigabytes (2 x 1.6 GB of LCA depths alone)."""
    time_v = "/usr/bin/time"
    if not Path(time_v).exists():
        pytest.skip("needs GNU time (/usr/bin/time -v)")
    n = 20_000
    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(n)]
    tree = Hierarchy.from_merges(random_merges(n, rng), leaf_names=names)
    (tmp_path / "t.nwk").write_text(tree.to_newick())
    (tmp_path / "ref.tsv").write_text("".join(f"c{i}\tg{i % 97}\n" for i in range(n)))
    done = subprocess.run(
        [time_v, "-v", *ENTRY, "compare", str(tmp_path / "t.nwk"), "--reference", str(tmp_path / "ref.tsv"), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    assert peak_kib < 600 * 1024, peak_kib
    assert '"n_classes": 20000' in done.stdout
