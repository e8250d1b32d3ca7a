"""CSV reading: today's reader (np.loadtxt, streaming) against the pure-Python reader it replaced.

Each reading runs in its own process; the parent reports wall time, CPU time (user + sys) and the
child's peak RSS (``wait4``), median of ``--repeat`` runs.  The floor is a bare ``np.loadtxt`` of the
same file in the same run.

    python benchmarks/bench_csv.py                 # ~170 MB CSV (100 000 x 100) and a 50 MB one-line CSV
    python benchmarks/bench_csv.py --rows 20000    # smaller
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def old_reader(path: Path) -> np.ndarray:
    """The reader l2h had before (l2h/io.py at 7babca2), verbatim apart from the errors."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    lines = path.read_text().splitlines()
    rows: list[list[float]] = []
    header_allowed = True
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        cells = [c.strip() for c in (stripped.split(delimiter) if delimiter in stripped else stripped.split())]
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if header_allowed:
                header_allowed = False
                continue
            raise
        header_allowed = False
        rows.append(values)
    return np.asarray(rows, dtype=np.float64)


def child(which: str, path: Path) -> None:
    start = time.perf_counter()
    if which == "old":
        arr = old_reader(path)
    elif which == "floor":
        arr = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1 if path.name == "logits.csv" else 0)
    else:
        from l2h.arrays import load_array

        arr = np.asarray(load_array(path))
    checksum = float(arr[:, :3].sum())
    print(f"{time.perf_counter() - start:.3f} {arr.shape} {checksum:.6g}")


def make(folder: Path, rows: int, cols: int, one_line_mb: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, cols)).astype(np.float32).astype(np.float64)
    header = ",".join(f"c{j}" for j in range(cols))
    np.savetxt(folder / "logits.csv", x, delimiter=",", fmt="%.9g", header=header, comments="")
    text = ",".join(f"{v:.9g}" for v in rng.normal(size=one_line_mb * 2**20 // 12))
    (folder / "one_line.csv").write_text(text[: one_line_mb * 2**20].rsplit(",", 1)[0] + "\n")


def measure(which: str, path: Path) -> tuple[float, float, float]:
    proc = subprocess.Popen([sys.executable, __file__, "--child", which, str(path)], stdout=subprocess.PIPE, text=True)
    start = time.perf_counter()
    _, _, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.stdout.read()  # type: ignore[union-attr]
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # KiB -> MiB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--one-line-mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("WHICH", "PATH"))
    parser.add_argument("--make", metavar="FOLDER")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    if args.make:
        make(Path(args.make), args.rows, args.cols, args.one_line_mb)
        return
    with tempfile.TemporaryDirectory() as folder:
        # Made by a child: a forked parent's memory would count in the readers' peak RSS.
        subprocess.run([sys.executable, __file__, "--make", folder, *sys.argv[1:]], check=True)
        table, one_line = Path(folder) / "logits.csv", Path(folder) / "one_line.csv"
        for path in (table, one_line):
            print(f"{path.name}: {path.stat().st_size / 2**20:.0f} MiB")
            for which in ("floor", "old", "new"):
                runs = [measure(which, path) for _ in range(args.repeat)]
                wall, cpu, rss = (statistics.median(r[i] for r in runs) for i in range(3))
                print(f"  {which:5s}  wall {wall:6.2f} s  cpu {cpu:6.2f} s  peak RSS {rss:7.0f} MiB")


if __name__ == "__main__":
    main()
