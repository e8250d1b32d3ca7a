"""Benchmark ``l2h build`` on a logits file larger than memory, from a cold page cache (issue 11).

It makes (once, seeded, in chunks: ``make_logits`` of ``bench_build.py``) an N x K float32 ``.npy``
under ``benchmarks/_data/`` and then measures, each in a fresh child process started with the file
evicted from the page cache (``posix_fadvise(DONTNEED)``), optionally inside a memory cgroup of
``--memory`` bytes (cgroup v1, ``/sys/fs/cgroup/memory/l2h_bench_<pid>``, removed at the end; the
limit counts the page cache too, which is how a small file stands in for one larger than the RAM):

* ``floor``   : the honest cold sequential pass: the file read once, in 64 MB chunks, into a reused
                buffer (``preadv``), with an argmax per chunk; every ratio is against it;
* ``scratch`` : ``l2h build FILE --out T --scratch DIR`` (the out-of-core build, bucket-ordered copy);
* ``direct``  : ``l2h build FILE --out T --scratch none`` (the merges read the file in place).

Per run: wall time, bytes read from and written to the disk (``read_bytes``/``write_bytes`` of
``/proc/self/io``, which gains a child's counts when it is reaped), peak RSS of the child, the cgroup's
peak (RSS + page cache) when ``--memory`` is given, and for the builds the phase split from the
progress log (first pass with the copy, merges).  The table shows medians over ``--repeats``, and the
ratios the issue states: build wall / floor wall (target 4x) and bytes read / file size (target 3x).
Both builds must give the same tree (checked).

    python benchmarks/bench_outofcore.py --size 1281167x1000 --memory 3G           # development
    python benchmarks/bench_outofcore.py --size 6000000x1000 --scratch-dir /var/tmp  # the issue's target

Run it under ``flock /tmp/l2h-bench.lock`` on a shared machine.  The 6 M x 1000 file is 24 GB and the
copy another 24 GB: check ``df`` first (``--delete`` removes the generated file at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_build import make_logits  # noqa: E402

CGROUP_ROOT = Path("/sys/fs/cgroup/memory")

FLOOR = r"""
import os, sys
import numpy as np
path = sys.argv[1]
arr = np.load(path, mmap_mode="r")
n, k = arr.shape
row = k * arr.dtype.itemsize
rows = max(1, (64 << 20) // row)
buf = np.empty((rows, k), dtype=arr.dtype)
amax = np.empty(n, dtype=np.int64)
fd = os.open(path, os.O_RDONLY)
for s in range(0, n, rows):
    m = min(rows, n - s)
    view = memoryview(buf[:m]).cast("B")
    done = 0
    while done < view.nbytes:
        done += os.preadv(fd, [view[done:]], arr.offset + s * row + done)
    amax[s : s + m] = buf[:m].argmax(axis=1)
print(int(np.bincount(amax).argmax()))
"""


def parse_bytes(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]?)i?B?", text.strip(), re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4G, 3500M)")
    return int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " "))


def io_counts() -> dict[str, int]:
    out = {}
    with open("/proc/self/io") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            out[key] = int(value)
    return out


def evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


class Cgroup:
    """A cgroup v1 memory group with a limit; children join it before they exec."""

    def __init__(self, limit: int | None):
        self.path = None
        if limit is None:
            return
        self.path = CGROUP_ROOT / f"l2h_bench_{os.getpid()}"
        self.path.mkdir()
        (self.path / "memory.limit_in_bytes").write_text(str(limit))
        try:
            (self.path / "memory.memsw.limit_in_bytes").write_text(str(limit))
        except OSError:
            pass

    def join(self) -> None:  # runs in the child, before exec
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def reset_peak(self) -> None:
        if self.path is not None:
            (self.path / "memory.max_usage_in_bytes").write_text("0")
            (self.path / "memory.force_empty").write_text("0")

    def peak(self) -> int | None:
        return int((self.path / "memory.max_usage_in_bytes").read_text()) if self.path is not None else None

    def remove(self) -> None:
        if self.path is not None:
            for _ in range(50):
                try:
                    self.path.rmdir()
                    return
                except OSError:
                    time.sleep(0.1)


def run_child(cmd: list[str], group: Cgroup, path: Path, timeout: float | None = None) -> dict:
    """Run ``cmd`` cold (file evicted) in the cgroup: wall, I/O, peak RSS and its stderr.  Past
    ``timeout`` seconds the child is killed and the run marked as such (its counts so far kept)."""
    evict(path)
    group.reset_peak()
    before = io_counts()
    start = time.perf_counter()
    killed = False
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, preexec_fn=group.join)
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if timeout is not None and time.perf_counter() - start > timeout:
                    proc.kill()
                    killed = True
                    _, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.05)
        except BaseException:
            proc.kill()
            os.wait4(proc.pid, 0)
            raise
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        log = err.read().decode(errors="replace")
    after = io_counts()
    if proc.returncode != 0 and not killed:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{log[-3000:]}")
    return {
        "wall": wall,
        "killed": killed,
        "read": after["read_bytes"] - before["read_bytes"],
        "write": after["write_bytes"] - before["write_bytes"],
        "cancelled": after["cancelled_write_bytes"] - before["cancelled_write_bytes"],
        "rss": usage.ru_maxrss * 1024,
        "cgroup_peak": group.peak(),
        "phases": phase_ends(log),
    }


def phase_ends(log: str) -> dict[str, float]:
    """Seconds at which each progress phase last reported (the CLI's non-terminal milestone log)."""
    ends: dict[str, float] = {}
    for m in re.finditer(r"\[\s*([\d.]+)s\] (\w+): (\d+)/(\d+)", log):
        ends[m.group(2)] = float(m.group(1))
    return ends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="6000000x1000", help="NxK of the float32 logits (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory", type=parse_bytes, default=None, help="memory cgroup limit, e.g. 4G")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--modes", nargs="+", default=["floor", "scratch"], choices=["floor", "scratch", "direct"])
    parser.add_argument("--scratch-dir", type=Path, default=Path(tempfile.gettempdir()), help="folder of the copy")
    parser.add_argument("--delete", action="store_true", help="delete the generated logits file at the end")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw runs here")
    parser.add_argument("--timeout", type=float, default=None, help="kill a run after this many seconds")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (child, cgroup) on SIGTERM too
    n, k = (int(v) for v in args.size.lower().split("x"))

    path = make_logits(n, k, args.seed)
    size = path.stat().st_size
    need = size if "scratch" in args.modes else 0
    free = shutil.disk_usage(args.scratch_dir).free
    if need and free < need * 1.02:
        raise SystemExit(
            f"--scratch-dir {args.scratch_dir} has {free / 1e9:.1f} GB free; the copy needs {need / 1e9:.1f}"
        )
    l2h = [sys.executable, "-m", "l2h_cli.main", "build", str(path)]
    group = Cgroup(args.memory)
    runs: dict[str, list[dict]] = {mode: [] for mode in args.modes}
    trees = {}
    try:
        with tempfile.TemporaryDirectory(dir=args.scratch_dir) as tmp:
            for r in range(args.repeats):
                for mode in args.modes:
                    if mode == "floor":
                        cmd = [sys.executable, "-c", FLOOR, str(path)]
                    else:
                        tree = Path(tmp) / f"{mode}.npy"  # the scipy linkage
                        scratch = args.scratch_dir if mode == "scratch" else "none"
                        cmd = [*l2h, "--out", str(tree), "--scratch", str(scratch)]
                        trees[mode] = tree
                    run = run_child(cmd, group, path, args.timeout)
                    runs[mode].append(run)
                    print(
                        f"[{r + 1}/{args.repeats}] {mode:8s} {run['wall']:8.1f} s  read {run['read'] / 1e9:6.1f} GB  "
                        f"written {run['write'] / 1e9:6.1f} GB  phases {run['phases']}"
                        + (" (killed)" if run["killed"] else ""),
                        flush=True,
                    )
            if len(trees) == 2 and not any(r["killed"] for rs in runs.values() for r in rs):
                a, b = (np.load(t) for t in trees.values())
                print("same tree with and without the copy:", bool(np.array_equal(a, b)))
    finally:
        group.remove()
        if args.delete:
            path.unlink()

    floor = statistics.median(r["wall"] for r in runs["floor"]) if runs.get("floor") else None
    limit = f", memory cgroup {args.memory / 2**30:.1f} GiB" if args.memory else ""
    print(f"\n{n:,} x {k} float32, file {size / 1e9:.1f} GB, cold cache{limit}, median of {args.repeats}\n")
    header = (
        f"| {'run':8s} | {'wall s':>8s} | {'x floor':>7s} | {'read GB':>8s} | {'read / file':>11s} | "
        f"{'written GB':>10s} | {'peak RSS GB':>11s} | {'cgroup peak GB':>14s} | first pass s |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for mode, rs in runs.items():
        wall = statistics.median(r["wall"] for r in rs)
        read = statistics.median(r["read"] for r in rs)
        write = statistics.median(r["write"] for r in rs)
        rss = max(r["rss"] for r in rs)
        peak = max((r["cgroup_peak"] or 0) for r in rs)
        first = statistics.median(r["phases"].get("scratch", r["phases"].get("scan", float("nan"))) for r in rs)
        ratio = f"{wall / floor:7.2f}" if floor else "      -"
        if any(r["killed"] for r in rs):  # killed at --timeout: lower bounds
            ratio = f">{wall / floor:6.1f}" if floor else "      -"
        print(
            f"| {mode:8s} | {wall:8.1f} | {ratio} | {read / 1e9:8.1f} | {read / size:11.2f} | {write / 1e9:10.1f} | "
            f"{rss / 1e9:11.2f} | {peak / 1e9 if peak else float('nan'):14.2f} | {first:11.1f} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"size": args.size, "file_bytes": size, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
