"""What this process may use of the machine: memory (memory cgroups included), cores and time.

Every guard that sizes work by memory (the ``.npz`` inflation check, the out-of-core scratch
chunks, the in-memory conversion of the merge, the agglomerative backend choice) asks
:func:`available_memory`; every worker count is checked against :func:`usable_cores`.  A container
whose memory cgroup allows 3 GiB on a 64 GiB host therefore gets 3 GiB-sized decisions, not an
OOM kill.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["available_memory", "cgroup_memory_room", "usable_cores", "watched_wait", "within_deadline"]

_T = TypeVar("_T")

_UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a huge page-aligned number


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _proc_lines(path: str) -> list[str]:
    """The lines of a /proc file (split at ``\n`` only); none when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().split("\n")
    except OSError:
        return []


def _memory_mounts() -> list[tuple[str, str, str]]:
    """``(version, root, mount point)`` of the memory cgroup hierarchies ("v1" or "v2")."""
    mounts: list[tuple[str, str, str]] = []
    for line in _proc_lines("/proc/self/mountinfo"):
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(" "), right.split(" ")
        if len(fields) < 5 or len(tail) < 3:
            continue
        if tail[0] == "cgroup2":
            mounts.append(("v2", fields[3], fields[4]))
        elif tail[0] == "cgroup" and "memory" in tail[2].split(","):
            mounts.append(("v1", fields[3], fields[4]))
    return mounts


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per hierarchy: ``{"v1": path, "v2": path}``."""
    paths: dict[str, str] = {}
    for line in _proc_lines("/proc/self/cgroup"):
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if "memory" in controllers.split(","):
            paths["v1"] = path
        elif controllers == "" and parts[0] == "0":
            paths["v2"] = path
    return paths


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _reclaimable(stat_file: Path, keys: tuple[str, ...]) -> int:
    try:
        rows = stat_file.read_text(encoding="ascii").split("\n")
    except (OSError, UnicodeDecodeError):
        return 0
    total = 0
    for row in rows:
        key, _, value = row.partition(" ")
        if key in keys:
            try:
                total += int(value)
            except ValueError:
                pass
    return total


def _level_room(folder: Path, version: str) -> int | None:
    """Limit minus non-reclaimable use of one cgroup folder (page cache of files counts as free)."""
    if version == "v1":
        limit, usage = _read_int(folder / "memory.limit_in_bytes"), _read_int(folder / "memory.usage_in_bytes")
        keys = ("total_active_file", "total_inactive_file")
    else:
        limit, usage = _read_int(folder / "memory.max"), _read_int(folder / "memory.current")
        keys = ("active_file", "inactive_file")
    if limit is None or limit >= _UNLIMITED:
        return None
    used = (usage or 0) - _reclaimable(folder / "memory.stat", keys)
    return max(0, limit - max(0, used))


def cgroup_memory_room() -> int | None:
    """Bytes the memory cgroups of this process still allow (cgroup v1 and v2), or None if unlimited.

    The tightest of the process's own cgroup and of every ancestor: its limit minus its use, file
    cache not counted (the kernel reclaims it before an OOM kill).

    Examples
    --------
    >>> room = cgroup_memory_room()
    >>> room is None or room >= 0
    True
    """
    own = _own_cgroups()
    best: int | None = None
    for version, root, mount in _memory_mounts():
        path = own.get(version)
        if path is None:
            continue
        if root != "/" and (path == root or path.startswith(root.rstrip("/") + "/")):
            path = path[len(root.rstrip("/")) :]
        folder = Path(mount) / path.lstrip("/")
        top = Path(mount)
        while True:
            room = _level_room(folder, version)
            if room is not None:
                best = room if best is None else min(best, room)
            if folder == top or top not in folder.parents:
                break
            folder = folder.parent
    return best


def available_memory() -> int | None:
    """Bytes of memory this process can still fill, or None when unknown.

    The host's ``MemAvailable``, capped by :func:`cgroup_memory_room` (the memory cgroup's limit
    minus its use, cgroup v1 and v2): the one number every memory guard of l2h asks.

    Examples
    --------
    >>> memory = available_memory()
    >>> memory is None or memory >= 0
    True
    """
    found = [value for value in (_meminfo_available(), cgroup_memory_room()) if value is not None]
    return min(found) if found else None


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota (at least 1).

    Examples
    --------
    >>> usable_cores() >= 1
    True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cpu_quota()
    if quota is not None:
        cores = min(cores, quota)
    return max(1, cores)


def _cpu_quota() -> int | None:
    """Whole cores a cgroup CPU quota allows (rounded up), or None without a quota."""
    candidates = [Path("/sys/fs/cgroup/cpu.max"), Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")]
    try:
        text = candidates[0].read_text(encoding="ascii").split()
        if len(text) == 2 and text[0] != "max":
            return max(1, -(-int(text[0]) // int(text[1])))
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    quota = _read_int(candidates[1])
    period = _read_int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))
    if quota is not None and quota > 0 and period:
        return max(1, -(-quota // period))
    return None


def _in_background(call: Callable[[], Any]) -> tuple[threading.Event, dict[str, Any]]:
    """Start ``call()`` in a daemon thread; the event is set when it returned (``box["value"]``) or
    raised (``box["error"]``)."""
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="l2h-deadline", daemon=True).start()
    return done, box


def _outcome(box: dict[str, Any]) -> Any:
    if "error" in box:
        raise box["error"]
    return box["value"]


def within_deadline(call: Callable[[], _T], seconds: float) -> _T:
    """``call()`` in a helper thread; :class:`TimeoutError` if it has not returned after ``seconds``.

    The caller's thread waits in short slices, so Ctrl-C (``KeyboardInterrupt``) stops the wait at
    once; a call that never returns is left behind in its daemon thread.

    Examples
    --------
    >>> within_deadline(lambda: 42, 1.0)
    42
    """
    done, box = _in_background(call)
    deadline = time.monotonic() + seconds
    while not done.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no answer within {seconds:g} s")
    return _outcome(box)


def watched_wait(call: Callable[[], _T], every: float, check: Callable[[], None]) -> _T:
    """``call()`` in a helper thread, for as long as it takes while ``check()`` passes.

    For waits that may rightly be long (the workers compute) on a peer that may go silent:
    ``check()`` runs every ``every`` seconds without an answer and raises to give up (it should
    itself have a deadline).  Ctrl-C stops the wait at once, as in :func:`within_deadline`.

    Examples
    --------
    >>> watched_wait(lambda: 42, 1.0, lambda: None)
    42
    """
    done, box = _in_background(call)
    next_check = time.monotonic() + every
    while not done.wait(min(0.1, max(0.0, next_check - time.monotonic()))):
        if time.monotonic() >= next_check:
            check()
            next_check = time.monotonic() + every
    return _outcome(box)
