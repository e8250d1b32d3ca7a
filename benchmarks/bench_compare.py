"""Time ``l2h compare`` on C classes (default 1000) against a reference taxonomy.

Usage: ``python benchmarks/bench_compare.py [--classes 1000] [--repeats 5]``

Makes a seeded random reference taxonomy of any arity (2-8 children per node, about 5 levels, like
WordNet above ImageNet's classes) and two learned binary trees over the same classes: a uniformly
random one (depth about 2 ln C) and a caterpillar (depth C - 1, the worst case for the LCA tables);
and, as the worst case for the per-depth level scores, a caterpillar reference (C - 2 levels).
For each it times, medians of ``--repeats`` runs (wall clock, and CPU time of the process and its
children, which a machine busy with other jobs inflates less):

* ``library``: ``l2h.compare.compare(tree, reference)`` (all scores; triplets sampled above 300
  classes), with its peak traced allocation;
* ``cli``: ``l2h compare TREE --reference REF --json`` end to end in a fresh process (interpreter
  start, imports, reading both files, scores, JSON);
* ``floor``: ``scipy.cluster.hierarchy.cophenet`` of the learned tree's linkage: the C (C - 1) / 2
  tree distances that any comparison of two trees has to produce once.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np


def random_reference(names: list[str], rng: np.random.Generator) -> str:
    """Newick of a random taxonomy: groups of 2-8 nodes joined level by level (about log_5 C levels)."""
    nodes = list(names)
    rng.shuffle(nodes)
    while len(nodes) > 1:
        out = []
        i = 0
        while i < len(nodes):
            m = int(rng.integers(2, 9))
            chunk = nodes[i : i + m]
            out.append("(" + ",".join(chunk) + ")" if len(chunk) > 1 else chunk[0])
            i += m
        nodes = out
    return nodes[0] + ";"


def median_time(func, repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time (this process and its children) of ``func()``."""
    walls, cpus = [], []
    for _ in range(repeats):
        cpu0 = _cpu()
        start = time.perf_counter()
        func()
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu0)
    return statistics.median(walls), statistics.median(cpus)


def _cpu() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from scipy.cluster.hierarchy import cophenet

    import l2h.compare as cmp
    from l2h.hierarchy import Hierarchy
    from l2h.io import write_tree
    from l2h.taxonomy import parse_newick_taxonomy

    c = args.classes
    rng = np.random.default_rng(0)
    names = [f"class{i}" for i in range(c)]
    ref_text = random_reference(names, rng)
    reference = parse_newick_taxonomy(ref_text)
    random_tree = cmp.random_hierarchy(names, rng)
    caterpillar = Hierarchy.from_merges(
        np.array([[0, 1]] + [[i + 1, c + i - 1] for i in range(1, c - 1)]), leaf_names=names
    )
    deep_text = "(" * (c - 1) + names[0] + "".join(f",{name})" for name in names[1:]) + ";"
    runs = [
        ("random binary tree", "random, depth " + str(int(reference.depth.max())), random_tree, ref_text),
        ("caterpillar", "random, depth " + str(int(reference.depth.max())), caterpillar, ref_text),
        ("random binary tree", f"caterpillar, depth {c - 1}", random_tree, deep_text),
    ]
    print(
        f"C = {c} classes; random reference: {reference.n_nodes - reference.n_leaves} internal nodes, "
        f"depth {int(reference.depth.max())}; medians of {args.repeats} runs"
    )
    print(
        "| learned tree | reference | `l2h compare` CLI: wall (CPU) | library: wall (CPU) | floor (cophenet) "
        "| library / floor | peak alloc |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for label, ref_label, tree, text in runs:
            ref_path = Path(folder) / "reference.nwk"
            ref_path.write_text(text + "\n")
            ref = parse_newick_taxonomy(text)
            tree_path = Path(folder) / "tree.json"
            write_tree(tree, tree_path)
            cmp.compare(tree, ref)  # warm up imports
            library = median_time(lambda tree=tree, ref=ref: cmp.compare(tree, ref), args.repeats)
            floor = median_time(lambda tree=tree: cophenet(tree.linkage), args.repeats)
            tracemalloc.start()
            cmp.compare(tree, ref)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            command = [
                sys.executable,
                "-c",
                "from l2h_cli.main import main; main()",
                "compare",
                str(tree_path),
                "--reference",
                str(ref_path),
                "--json",
            ]

            def cli(command=command) -> None:
                subprocess.run(command, check=True, capture_output=True)

            cli_time = median_time(cli, args.repeats)
            print(
                f"| {label} (depth {int(tree.depth.max())}) | {ref_label} | {cli_time[0]:.2f} s ({cli_time[1]:.2f} s) "
                f"| {library[0]:.2f} s ({library[1]:.2f} s) | {floor[0]:.3f} s | {library[0] / floor[0]:.0f}x "
                f"| {peak / 2**20:.0f} MiB |"
            )


if __name__ == "__main__":
    main()
