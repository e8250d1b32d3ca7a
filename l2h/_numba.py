"""Where l2h's compiled Numba kernels are cached, and whether they are compiled yet.

Numba's default is to cache next to the source file, that is inside the installed package
(``site-packages/l2h/__pycache__``).  A folder written there outlives ``pip uninstall`` and later
shadows an editable install of the same package as a namespace package, so l2h never caches there.
The cache goes, in this order, to

1. ``$NUMBA_CACHE_DIR`` when set (Numba's own variable: the user decides);
2. the per-user cache folder: ``$XDG_CACHE_HOME/l2h/numba`` (default ``~/.cache/l2h/numba``) on
   Linux and other Unix systems, ``~/Library/Caches/l2h/numba`` on macOS,
   ``%LOCALAPPDATA%\\l2h\\Cache\\numba`` on Windows;
3. ``<tempdir>/l2h-numba-cache-<uid>`` when that folder cannot be created or written (a read-only
   or missing home, e.g. in a container).

The first run compiles the kernels (:data:`COMPILE_NOTICE`; float32 and float64 logits each have
their own); :func:`kernels_compiled` tells the CLI whether to say so before it starts, and
``l2h warmup`` compiles everything ahead of time (for Docker images).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

_SUBDIR = ("l2h", "numba")

#: Seconds the first compiled ``l2h build`` of the digits example spends compiling, and seconds of
#: ``l2h warmup`` (both dtypes, every kernel, the metrics), measured with
#: ``python benchmarks/bench_compile.py`` on the project's 2-core VM, load average about 1
#: (2026-12-08 at ecfe8a9: cold first build with L2H_KERNELS=numba 13.96 s against 0.86 s warm;
#: warmup 46.7 s); the notices and the docs quote these.
COMPILE_SECONDS = 13
WARMUP_SECONDS = 47
#: What ``l2h build`` says when it compiles.
COMPILE_NOTICE = f"first run only, about {COMPILE_SECONDS} s per dtype on 2 cores (l2h warmup does it ahead of time)"
#: What ``l2h warmup`` says when it compiles.
WARMUP_NOTICE = f"every kernel for float32 and float64 logits and the metrics, about {WARMUP_SECONDS} s on 2 cores"


def user_cache_dir() -> Path:
    """The per-user cache folder for l2h's kernels (rule 2 of the module docstring); not created."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base.joinpath("l2h", "Cache", "numba")
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        # The XDG spec says to ignore a relative XDG_CACHE_HOME.
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base.joinpath(*_SUBDIR)


def _fallback_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"l2h-numba-cache-{uid}"


def _usable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def cache_dir() -> Path:
    """The folder Numba caches l2h's kernels in, created if needed (see the module docstring)."""
    chosen = os.environ.get("NUMBA_CACHE_DIR")
    if chosen:
        return Path(chosen)
    try:
        folder = user_cache_dir()
    except (RuntimeError, KeyError):  # Path.home() without HOME or a passwd entry
        folder = None
    if folder is None or not _usable(folder):
        folder = _fallback_dir()
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def ensure_cache_dir() -> Path:
    """Point Numba's cache at :func:`cache_dir` before the kernels are compiled or loaded.

    Sets ``NUMBA_CACHE_DIR`` for Numba imported later, and Numba's live config when it is imported
    already (its cache locator reads the config when a ``cache=True`` function is defined).
    """
    folder = cache_dir()
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.config.CACHE_DIR = str(folder)
    return folder


def load_numba_registries() -> None:
    """Load Numba's CPU implementation registries once, without its BLAS probe.

    Numba loads its registries at the first compile or cache load in a process, and one of them
    (``numba.np.arraymath``) imports ``scipy.linalg`` only to learn whether BLAS exists for
    ``np.dot``, which no l2h kernel uses.  That import takes 0.3-0.5 s, a third of ``l2h build``'s
    start-up.  When SciPy is installed (a dependency of l2h, so BLAS does exist) the probe is answered
    with placeholder modules that are removed right after, so a later ``import scipy.linalg`` loads
    the real one.  Idempotent; a no-op when ``scipy.linalg`` is imported already.
    """
    global _REGISTRIES_LOADED
    if _REGISTRIES_LOADED:
        return
    _REGISTRIES_LOADED = True
    import importlib.util
    import types

    from numba.core.registry import cpu_target

    names = ("scipy.linalg", "scipy.linalg.cython_blas")
    if "scipy.linalg" in sys.modules or importlib.util.find_spec("scipy") is None:
        cpu_target.target_context.refresh()
        return
    placeholders = {name: types.ModuleType(name) for name in names}
    sys.modules.update(placeholders)
    try:
        cpu_target.target_context.refresh()
    finally:
        for name, module in placeholders.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
        scipy = sys.modules.get("scipy")
        if scipy is not None and vars(scipy).get("linalg") is placeholders["scipy.linalg"]:  # no lazy import
            delattr(scipy, "linalg")


_REGISTRIES_LOADED = False


def _kernel_sources() -> list[Path]:
    here = Path(__file__).resolve().parent
    return [here / "build" / "_kernels.py"]


def _marker(dtype_name: str) -> Path:
    """A file whose presence says the kernels were compiled for ``dtype_name`` with these sources.

    Its name hashes what Numba's cache index depends on (the kernel sources' path, size and mtime),
    the Numba and Python versions and the dtype, so an upgrade or an edit invalidates it as it
    invalidates Numba's own cache.
    """
    digest = hashlib.sha256()
    try:
        import importlib.metadata as metadata

        numba_version = metadata.version("numba")
    except Exception:  # noqa: BLE001 - numba missing or without metadata: the marker just never matches
        numba_version = "?"
    digest.update(f"{numba_version}|{sys.version}|{dtype_name}".encode())
    for source in _kernel_sources():
        st = source.stat()
        digest.update(f"|{source}|{st.st_size}|{st.st_mtime_ns}".encode())
    return cache_dir() / f"l2h-kernels-{digest.hexdigest()[:20]}.ok"


def kernels_compiled(dtype_name: str = "float32") -> bool:
    """Whether the kernels for float32 or float64 logits are in the cache already (best effort)."""
    try:
        return _marker(dtype_name).exists()
    except OSError:
        return False


def mark_kernels_compiled(dtype_name: str = "float32") -> None:
    """Record that a build with ``dtype_name`` logits finished, so its kernels are cached."""
    try:
        _marker(dtype_name).touch()
    except OSError:
        pass


def import_kernels(module: str) -> ModuleType:
    """Import a Numba kernel module (``"l2h.build._kernels"``, ``"l2h._metrics_kernels"``) with the
    cache pointed at :func:`cache_dir` and Numba's registries loaded (:func:`load_numba_registries`)."""
    ensure_cache_dir()  # never inside the installed package: see the module docstring
    load_numba_registries()
    return importlib.import_module(module)


@contextlib.contextmanager
def compiled_functions() -> Iterator[list[Callable[..., object]]]:
    """The Python functions whose kernels Numba compiled inside the block, in order, filled in when
    it ends (Numba's ``numba:compile`` events: a kernel loaded from the cache is none).  Imports
    Numba."""
    from numba.core import event

    functions: list[Callable[..., object]] = []
    with event.install_recorder("numba:compile") as recorder:
        yield functions
    functions.extend(ev.data["dispatcher"].py_func for _, ev in recorder.buffer if ev.is_start)


@contextlib.contextmanager
def watch_compiles(started: Callable[[], None], finished: Callable[[], None]) -> Iterator[None]:
    """Inside the block, ``started()`` when Numba begins compiling a kernel (not when it loads one
    from the cache) and ``finished()`` when that compilation ends; a kernel compiled as part of
    another counts once (Numba's nested ``numba:compile`` events).  Imports Numba."""
    from numba.core import event

    depth = [0]
    lock = threading.Lock()

    class _Compiles(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            with lock:
                depth[0] += 1
                first = depth[0] == 1
            if first:
                started()

        def on_end(self, ev: event.Event) -> None:
            with lock:
                depth[0] -= 1
                last = depth[0] == 0
            if last:
                finished()

    with event.install_listener("numba:compile", _Compiles()):
        yield


@contextlib.contextmanager
def announce_compiles(say: Callable[[str], None], what: str) -> Iterator[None]:
    """Inside the block, the first kernel that Numba compiles (not one it loads from the cache) calls
    ``say`` once, with the line ``"compiling kernels (<what>): <COMPILE_NOTICE>"``.

    For output that is not a terminal (CI, SLURM logs): one line says why the build waits, and only
    when it truly compiles (:func:`watch_compiles`).
    """
    said = threading.Event()

    def first() -> None:
        if not said.is_set():
            said.set()
            say(f"compiling kernels ({what}): {COMPILE_NOTICE}")

    with watch_compiles(first, lambda: None):
        yield
