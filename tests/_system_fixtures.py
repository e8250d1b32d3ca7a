"""Real-system helpers for the safety tests: a memory cgroup, a small tmpfs, a silent TCP server.

Each needs root (and a kernel that allows it); the tests that use them skip with the reason otherwise.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest


def _own_cgroup(version: str) -> Path | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hid, controllers, path = line.split(":", 2)
        if version == "v1" and "memory" in controllers.split(","):
            base = Path("/sys/fs/cgroup/memory")
            return base / path.lstrip("/") if base.is_dir() else None
        if version == "v2" and hid == "0" and controllers == "":
            for base in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
                if (base / "cgroup.controllers").is_file() and "memory" in (base / "cgroup.controllers").read_text():
                    return base / path.lstrip("/")
    return None


@contextlib.contextmanager
def memory_cgroup(limit_bytes: int) -> Iterator[Path]:
    """A new memory cgroup (v1, else v2) below this process's own, limited to ``limit_bytes``.

    Yields its ``cgroup.procs`` file: a child that writes its pid there runs inside the limit.
    """
    if os.geteuid() != 0:
        pytest.skip("a memory cgroup needs root")
    for version, limit_file in (("v1", "memory.limit_in_bytes"), ("v2", "memory.max")):
        parent = _own_cgroup(version)
        if parent is None or not parent.is_dir():
            continue
        folder = parent / f"l2h-test-{uuid.uuid4().hex[:8]}"
        try:
            folder.mkdir()
            (folder / limit_file).write_text(str(limit_bytes))
        except OSError:
            with contextlib.suppress(OSError):
                folder.rmdir()
            continue
        try:
            yield folder / "cgroup.procs"
        finally:
            with contextlib.suppress(OSError):
                folder.rmdir()
        return
    pytest.skip("no writable memory cgroup (v1 or v2) here")


@contextlib.contextmanager
def pids_cgroup(max_pids: int) -> Iterator[Path]:
    """A new pids cgroup (v1) allowing ``max_pids`` tasks (threads count); yields its ``cgroup.procs``."""
    if os.geteuid() != 0:
        pytest.skip("a pids cgroup needs root")
    try:
        rel = next(
            line.split(":", 2)[2]
            for line in Path("/proc/self/cgroup").read_text().splitlines()
            if "pids" in line.split(":", 2)[1].split(",")
        )
    except (OSError, StopIteration):
        pytest.skip("no pids cgroup (v1) here")
    folder = Path("/sys/fs/cgroup/pids") / rel.lstrip("/") / f"l2h-test-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir()
        (folder / "pids.max").write_text(str(max_pids))
    except OSError as exc:
        with contextlib.suppress(OSError):
            folder.rmdir()
        pytest.skip(f"cannot create a pids cgroup: {exc}")
    try:
        yield folder / "cgroup.procs"
    finally:
        for _ in range(50):  # the children of a failed start may take a moment to leave
            try:
                folder.rmdir()
                break
            except OSError:
                import time

                time.sleep(0.2)


def run_in_cgroup(procs: Path, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``args`` as a child process that joins the cgroup of ``procs`` before it starts."""

    def join() -> None:
        with open(procs, "w") as handle:
            handle.write(str(os.getpid()))

    return subprocess.run(args, preexec_fn=join, capture_output=True, text=True, **kwargs)  # noqa: PLW1509


@contextlib.contextmanager
def small_tmpfs(size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` (e.g. ``"2m"``) mounted on a fresh folder, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = Path(tempfile.mkdtemp(prefix="l2h-tmpfs-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        with contextlib.suppress(OSError):
            folder.rmdir()


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""

    def __init__(self, port: int, connections: list[socket.socket]) -> None:
        self.port = port
        self.connections = connections  # accepted so far (a client is waiting once one is here)


@contextlib.contextmanager
def silent_server() -> Iterator[SilentServer]:
    """A :class:`SilentServer` for the duration of the block."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield SilentServer(server.getsockname()[1], held)
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


def cluster_case(folder: Path) -> Path:
    """Small inputs for the Dask commands' deadline tests: ``lg.npy`` (40 x 4 logits), ``lb.npy``
    (labels) and ``t.nwk`` (a tree over the 4 clusters), written into ``folder``."""
    rng = np.random.default_rng(1)
    np.save(folder / "lg.npy", rng.normal(size=(40, 4)).astype(np.float32))
    np.save(folder / "lb.npy", rng.integers(0, 3, size=40))
    (folder / "t.nwk").write_text("((0,1),(2,3));\n")
    return folder
