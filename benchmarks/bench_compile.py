"""How long a new user waits for Numba: cold first build, warm build, ``l2h warmup``, every path after it.

``python benchmarks/bench_compile.py [--repeats 3]`` runs each measurement in a fresh process:

* ``l2h --help`` (median of the repeats);
* cold first build: ``l2h build examples/digits_logits.npy`` with a fresh, empty kernel cache
  (``NUMBA_CACHE_DIR``);
* warm build: the same command again with that cache (median of the repeats);
* the same two with ``L2H_KERNELS=numba`` (the digits are small enough for the interpreted path,
  which compiles nothing; every input above 100 000 entries gets the compiled kernels);
* ``l2h warmup`` with another fresh cache;
* every path of ``benchmarks/compile_paths.py`` after that warmup (with ``L2H_KERNELS=numba``), each
  in its own process, with the kernels Numba compiled on the way (none, when warmup is complete).

It prints wall seconds and the ratios the issue asks for (cold / warm, warmup / warm).  Say how loaded
the machine was: compile time is CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DIGITS = REPO / "examples" / "digits_logits.npy"
L2H = [sys.executable, "-m", "l2h_cli.main"]


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-paths", action="store_true", help="Only cold, warm and warmup.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="l2h-bench-compile-"))
    try:
        build = [*L2H, "build", str(DIGITS), "--out", str(work / "t.nwk"), "--quiet"]
        env = dict(os.environ, NUMBA_CACHE_DIR=str(work / "cache-build"))
        env.pop("L2H_KERNELS", None)  # what a newcomer gets: the interpreted path for the digits
        helps = [_timed([*L2H, "--help"], env, work)[0] for _ in range(args.repeats)]
        cold = _timed(build, env, work)[0]
        warm = statistics.median(_timed(build, env, work)[0] for _ in range(args.repeats))
        # the compiled kernels on the same input (what every input above 100 000 entries gets)
        env_n = dict(env, NUMBA_CACHE_DIR=str(work / "cache-numba"), L2H_KERNELS="numba")
        cold_n = _timed(build, env_n, work)[0]
        warm_n = statistics.median(_timed(build, env_n, work)[0] for _ in range(args.repeats))
        env_w = dict(env, NUMBA_CACHE_DIR=str(work / "cache-warmup"), L2H_KERNELS="numba")
        warmup = _timed([*L2H, "warmup", "--quiet"], env_w, work)[0]
        print(f"l2h --help                          {statistics.median(helps):8.2f} s")
        print(f"cold first build (digits)           {cold:8.2f} s   {cold / warm:6.1f}x warm")
        print(f"warm build (digits)                 {warm:8.2f} s")
        print(f"cold first build, L2H_KERNELS=numba {cold_n:8.2f} s   {cold_n / warm_n:6.1f}x warm")
        print(f"warm build, L2H_KERNELS=numba       {warm_n:8.2f} s")
        print(f"l2h warmup                          {warmup:8.2f} s   {warmup / warm_n:6.1f}x warm numba build")
        if not args.skip_paths:
            script = [sys.executable, str(REPO / "benchmarks" / "compile_paths.py"), "--json"]
            for name in _names():
                seconds, out = _timed([*script, "--only", name], env_w, work)
                result = json.loads(out)[name]
                what = ", ".join(result["compiled"]) or "nothing compiled"
                print(f"after warmup: {name:28s} {seconds:6.2f} s ({result['seconds']:.2f} s in the path)  {what}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _names() -> list[str]:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import compile_paths

    with tempfile.TemporaryDirectory() as tmp:
        return list(compile_paths.paths(Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
