"""Where the Numba kernels are cached (never inside the installed package), the first-run notice and
``l2h warmup``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from l2h import _numba
from tests._cli import run

PACKAGE_DIR = Path(_numba.__file__).resolve().parent


@pytest.fixture()
def clean_env(monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("L2H_KERNELS", raising=False)
    return monkeypatch


def test_numba_cache_dir_wins(clean_env, tmp_path):
    clean_env.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert _numba.cache_dir() == tmp_path / "mine"


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="the XDG rule is for Linux and other Unix")
def test_xdg_cache_home_then_home(clean_env, tmp_path):
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _numba.cache_dir() == tmp_path / "xdg" / "l2h" / "numba"
    assert (tmp_path / "xdg" / "l2h" / "numba").is_dir()
    clean_env.setenv("XDG_CACHE_HOME", "relative/path")  # the XDG spec says: ignore it
    clean_env.setenv("HOME", str(tmp_path / "home"))
    assert _numba.cache_dir() == tmp_path / "home" / ".cache" / "l2h" / "numba"


def test_unwritable_home_falls_back_to_temp(clean_env, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the home folder should be")
    clean_env.setenv("HOME", str(blocker))
    clean_env.setenv("XDG_CACHE_HOME", str(blocker / "cache"))
    folder = _numba.cache_dir()
    assert folder == _numba._fallback_dir() and folder.is_dir()


def test_kernels_cache_outside_the_package(tmp_path):
    """The kernels' cache locator points at the per-user folder, never at the package's __pycache__
    (which survived `pip uninstall` and shadowed a later editable install as a namespace package)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    code = (
        "from l2h.build.api import kernels\n"
        "k = kernels()\n"
        "caches = [getattr(f, '_cache', None) for f in vars(k).values()]\n"
        "paths = {c._cache_path for c in caches if hasattr(c, '_cache_path')}\n"
        "print('\\n'.join(sorted(paths)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    paths = out.split()
    assert paths, "no cached kernels found"
    expected = tmp_path / "xdg" / "l2h" / "numba"
    for path in paths:
        assert Path(path).is_relative_to(expected), path
        assert not Path(path).is_relative_to(PACKAGE_DIR), path


def test_marker_tracks_compiled_dtypes(clean_env, tmp_path):
    clean_env.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not _numba.kernels_compiled("float32")
    _numba.mark_kernels_compiled("float32")
    assert _numba.kernels_compiled("float32") and not _numba.kernels_compiled("float64")


def test_build_says_once_that_it_compiles(clean_env, tmp_path):
    """The first build with a dtype prints one line before compiling; later builds do not."""
    from l2h.build.api import kernels

    kernels()  # load the kernels from the usual cache first: this test only checks the message
    logits = tmp_path / "logits.npy"
    np.save(logits, np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32))
    clean_env.setenv("NUMBA_CACHE_DIR", str(tmp_path / "fresh"))
    clean_env.setenv("L2H_KERNELS", "numba")  # this input is small: without this it would not compile
    clean_env.setenv("FORCE_COLOR", "1")  # rich: stderr counts as a terminal (the notice is for terminals)
    (tmp_path / "fresh").mkdir()
    first = run("build", logits, "--out", tmp_path / "a.nwk")
    assert first.exit_code == 0, first.output
    assert "compiling kernels (float32): first run only" in first.stderr
    second = run("build", logits, "--out", tmp_path / "b.nwk")
    assert second.exit_code == 0 and "compiling" not in second.stderr
    clean_env.delenv("FORCE_COLOR")
    (tmp_path / "fresh2").mkdir()
    clean_env.setenv("NUMBA_CACHE_DIR", str(tmp_path / "fresh2"))
    piped = run("build", logits, "--out", tmp_path / "c.nwk")
    # not a terminal: a line only when a kernel truly compiles (loaded in this process already: none)
    assert piped.exit_code == 0 and "compiling" not in piped.stderr


def test_announce_compiles_says_once_and_only_on_a_compile():
    """The off-terminal notice listens to Numba's compile events: once per block, none for a function
    that is compiled already (a cache load fires no event either)."""
    import numba

    lines: list[str] = []

    @numba.njit(cache=False)
    def twice(x):
        return 2 * x

    with _numba.announce_compiles(lines.append, "float32"):
        assert twice(1) == 2 and twice(2.5) == 5.0  # two compiles (int, float), one line
    assert lines == [f"compiling kernels (float32): {_numba.COMPILE_NOTICE}"]
    with _numba.announce_compiles(lines.append, "float64"):
        assert twice(3) == 6  # compiled already
    assert len(lines) == 1


def test_build_off_a_terminal_says_it_compiles_when_it_does(clean_env, monkeypatch, tmp_path):
    """`l2h build` into a pipe or log: one stderr line when a kernel compiles, none with -q/--json."""
    import numba
    from l2h_cli import build as build_cli

    real = build_cli.build_hierarchy
    logits = tmp_path / "logits.npy"
    np.save(logits, np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32))
    clean_env.setenv("L2H_KERNELS", "numba")  # small input: the compiled path all the same

    def compiling_build(*args, **kwargs):
        numba.njit(cache=False)(lambda x: x + 1)(1)  # a kernel that is never in any cache
        return real(*args, **kwargs)

    monkeypatch.setattr(build_cli, "build_hierarchy", compiling_build)
    piped = run("build", logits, "--out", tmp_path / "a.nwk")
    assert piped.exit_code == 0, piped.output
    notes = [line for line in piped.stderr.splitlines() if "compiling" in line]
    assert notes == [f"compiling kernels (float32): {_numba.COMPILE_NOTICE}"]
    for flag in ("--quiet", "--json"):
        hushed = run("build", logits, "--out", tmp_path / f"b{flag}.nwk", flag)
        assert hushed.exit_code == 0 and "compiling" not in hushed.stderr, hushed.output


def test_watch_compiles_counts_a_nested_compile_once():
    import numba

    calls: list[str] = []

    @numba.njit(cache=False)
    def inner(x):
        return x + 1

    @numba.njit(cache=False)
    def outer(x):
        return inner(x) * 2  # compiling outer compiles inner inside it

    with _numba.watch_compiles(lambda: calls.append("start"), lambda: calls.append("end")):
        assert outer(1) == 4
        assert outer(2) == 6  # compiled already: no event
    assert calls == ["start", "end"]


def test_build_on_a_terminal_shows_a_compile_as_a_progress_line(clean_env, monkeypatch, tmp_path):
    """On a terminal, a kernel that compiles during the build (after the clock of the small build)
    gets a progress line of its own, opened with no total and completed when it is compiled."""
    import contextlib

    import numba
    from l2h_cli import build as build_cli

    real = build_cli.build_hierarchy
    logits = tmp_path / "logits.npy"
    np.save(logits, np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32))
    clean_env.setenv("L2H_KERNELS", "numba")
    clean_env.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    clean_env.setenv("FORCE_COLOR", "1")  # rich: stderr counts as a terminal
    (tmp_path / "cache").mkdir()
    _numba.mark_kernels_compiled("float32")  # no clock before the build: only the one inside it
    real(np.load(logits))  # the build's own kernels compiled (or loaded) before: only the new one compiles
    seen: list[tuple] = []

    @contextlib.contextmanager
    def recording(quiet=False):
        yield lambda phase, done, total: seen.append((phase, done, total))

    def compiling_build(*args, **kwargs):
        numba.njit(cache=False)(lambda x: x - 1)(1)  # a kernel that is never in any cache
        return real(*args, **kwargs)

    monkeypatch.setattr(build_cli, "progress_reporter", recording)
    monkeypatch.setattr(build_cli, "build_hierarchy", compiling_build)
    result = run("build", logits, "--out", tmp_path / "a.nwk")
    assert result.exit_code == 0, result.output
    compiling = [call for call in seen if call[0] == "compiling kernels (float32)"]
    assert compiling == [("compiling kernels (float32)", 0, None), ("compiling kernels (float32)", 1, 1)]
    assert seen.index(compiling[-1]) < len(seen) - 1  # the build's own phases follow


def test_small_build_neither_compiles_nor_says_so(clean_env, tmp_path):
    """A small input takes the interpreted kernels (l2h.build.small): no notice, no compiled marker."""
    logits = tmp_path / "logits.npy"
    np.save(logits, np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32))
    clean_env.setenv("NUMBA_CACHE_DIR", str(tmp_path / "fresh"))
    clean_env.setenv("FORCE_COLOR", "1")
    (tmp_path / "fresh").mkdir()
    result = run("build", logits, "--out", tmp_path / "a.nwk")
    assert result.exit_code == 0 and "compiling" not in result.stderr, result.output
    assert not _numba.kernels_compiled("float32")


def test_warmup_json(tmp_path):
    result = run("warmup", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["dtypes"] == ["float32", "float64"]
    assert Path(summary["cache_dir"]).is_dir()
    for flavour in ("float32", "float64"):
        assert _numba.kernels_compiled(flavour)


def test_registries_load_without_scipy_linalg():
    """Loading the kernels skips numba's scipy.linalg BLAS probe (start-up time), and leaves no
    placeholder behind: scipy.linalg and numba's np.dot work afterwards."""
    code = (
        "import sys, numpy as np, numba\n"
        "from l2h.build.api import kernels\n"
        "k = kernels()\n"
        "k.bucket_points(np.zeros(3, dtype=np.int64), 2)\n"
        "print('scipy.linalg' in sys.modules)\n"
        "import scipy.linalg\n"
        "print(scipy.linalg.norm(np.ones(4)))\n"
        "f = numba.njit(lambda a: np.dot(a, a))\n"
        "print(f(np.ones(3)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "2.0", "3.0"]


def test_the_public_module_is_the_cache_itself():
    from l2h import kernel_cache

    for name in kernel_cache.__all__:
        assert getattr(kernel_cache, name) is getattr(_numba, name)


def test_docs_and_notices_quote_one_measured_figure():
    """README, the docs and the notices quote the same measured compile times (the constants of
    l2h._numba, from benchmarks/bench_compile.py); no page says "about a minute" of its own."""
    root = PACKAGE_DIR.parent
    figures = {f"about {_numba.COMPILE_SECONDS} s", f"about {_numba.WARMUP_SECONDS} s"}
    assert f"about {_numba.COMPILE_SECONDS} s" in _numba.COMPILE_NOTICE
    assert f"about {_numba.WARMUP_SECONDS} s" in _numba.WARMUP_NOTICE
    for page in ("README.md", "docs/build.md", "docs/performance.md", "docs/install.md"):
        text = " ".join((root / page).read_text(encoding="utf-8").split())
        sentences = [s for s in re.split(r"(?<=[.;:])\s", text) if "compil" in s.lower()]
        quoted = {m.group(0) for s in sentences for m in re.finditer(r"about [\d ]+ s\b", s)}
        assert quoted <= figures, f"{page} quotes {sorted(quoted - figures)} for compiling; use {sorted(figures)}"
        vague = [s for s in sentences if re.search(r"about a minute|a few minutes|about \d+ min", s)]
        assert not vague, f"{page}: {vague[0]}"
    readme = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    assert all(figure in readme for figure in figures), "the README quotes the measured compile figures"
