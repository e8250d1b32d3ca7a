"""Connecting to a Dask cluster: an existing scheduler, or a local cluster of worker processes."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from typing import IO, Any, TypeVar

from l2h._system import usable_cores, watched_wait, within_deadline
from l2h._validation import InputError
from l2h.distributed.shards import INSTALL_HINT

__all__ = [
    "CONNECT_TIMEOUT_S",
    "ClusterError",
    "SchedulerWaits",
    "check_scheduler_address",
    "connect",
    "require_distributed",
]

CONNECT_TIMEOUT_S = 10.0
LOCAL_START_TIMEOUT_S = 60.0  # a local cluster's start (--workers N): its worker processes import l2h
_T = TypeVar("_T")


class ClusterError(RuntimeError):
    """The Dask cluster cannot do the work: unreachable scheduler, no worker left, a worker error."""


def require_distributed():
    """Import ``distributed``, or raise ``InputError`` with the install hint (one line)."""
    try:
        import distributed
    except ImportError:
        raise InputError(f"running on a Dask cluster needs dask[distributed]: {INSTALL_HINT}") from None
    return distributed


def connect(
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    timeout: float | None = None,
    threads_per_worker: int = 1,
    force_workers: bool = False,
) -> tuple[object, Callable[[], None]]:
    """A ``distributed.Client`` and a function that closes it (and the local cluster it started).

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://HOST:8786``).
    workers : int, optional
        Start a local cluster of this many worker processes instead (one machine).  Each worker
        gets ``threads_per_worker`` task threads and as many Numba threads as its share of the
        machine's cores.
    timeout : float, optional
        Seconds to wait for the scheduler (default ``CONNECT_TIMEOUT_S``, 10 s), or for a local
        cluster to start (default ``LOCAL_START_TIMEOUT_S``, 60 s).
    threads_per_worker : int, default 1
        Task threads of each worker of a local cluster (``workers``); unused with ``scheduler``.
    force_workers : bool, default False
        Start more local workers than this process has cores (refused otherwise).

    Returns
    -------
    (client, close)
        ``close()`` is idempotent and never raises.

    Raises
    ------
    ClusterError
        The scheduler cannot be reached within ``timeout`` (one line naming the address), or the
        local cluster did not start within it (its worker processes are then killed).
    InputError
        Both or neither of ``scheduler`` and ``workers``, a bad worker count, or dask[distributed]
        missing (with the install hint).
    """
    if (scheduler is None) == (workers is None):
        raise InputError("give either --scheduler ADDRESS or --workers N (not both)")
    distributed = require_distributed()
    import dask

    if workers is not None:
        if int(workers) < 1:
            raise InputError(f"--workers must be at least 1; got {workers}")
        cores = usable_cores()
        if int(workers) > cores and not force_workers:
            raise InputError(
                f"--workers {workers} is more than the {cores} cores this process may use; "
                "give --force-workers to start them anyway"
            )
        limit = LOCAL_START_TIMEOUT_S if timeout is None else float(timeout)
        return _start_local(distributed, dask, int(workers), threads_per_worker, max(1, cores // int(workers)), limit)

    timeout = CONNECT_TIMEOUT_S if timeout is None else float(timeout)
    address = check_scheduler_address(str(scheduler))

    def start() -> object:
        with dask.config.set({"distributed.comm.timeouts.connect": f"{timeout}s"}):
            return distributed.Client(address, timeout=timeout)

    try:  # the client's own timeout first (nothing listening), then ours (a peer that never replies)
        client = within_deadline(start, 1.5 * timeout + 1.0)
    except TimeoutError:
        raise ClusterError(
            f"the Dask scheduler at {address} did not answer within {timeout:g} s "
            "(a scheduler that accepts connections but never replies; raise the wait with --timeout)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, bad address...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({reason})") from None
    return client, _closer(client, None, wait=min(timeout, CONNECT_TIMEOUT_S))


def _start_local(
    distributed: Any, dask: Any, workers: int, threads_per_worker: int, numba_threads: int, limit: float
) -> tuple[object, Callable[[], None]]:
    """A local cluster of ``workers`` worker processes and a client on it, started within ``limit``
    seconds (a worker that cannot start, e.g. under a process limit, could keep the start waiting
    forever).  On failure or Ctrl-C the cluster is closed and every worker process it started is
    killed, so none keeps this interpreter from exiting; their tracebacks go to an unnamed log of
    which the error quotes the last line."""
    import multiprocessing

    log = tempfile.TemporaryFile(mode="w+b")  # unnamed: gone when closed, however l2h ends
    before = {child.pid for child in multiprocessing.active_children()}
    before_clusters = {id(c) for c in getattr(distributed.deploy.spec.SpecCluster, "_instances", ())}
    made: dict[str, Any] = {}

    def start() -> object:
        made["cluster"] = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            dashboard_address=None,
            env={"NUMBA_NUM_THREADS": str(numba_threads), "OMP_NUM_THREADS": "1"},
            silence_logs=50,
        )
        made["client"] = distributed.Client(made["cluster"], timeout=max(limit, 60.0))
        return made["client"]

    with dask.config.set({"distributed.worker.daemon": False}), _stderr_of_children(log):
        try:
            client = within_deadline(start, limit)
        except BaseException as exc:
            _abandon_local(made, before, before_clusters, distributed)
            if not isinstance(exc, Exception):  # Ctrl-C: cleaned up, now stop
                raise
            if isinstance(exc, TimeoutError):
                why = _last_error_line(log) or f"its workers did not start within {limit:g} s (raise it with --timeout)"
            else:
                why = _last_error_line(log) or str(exc).strip().split("\n")[0] or type(exc).__name__
            log.close()
            raise ClusterError(f"could not start a local Dask cluster of {workers} workers: {why}") from None
    return client, _closer(client, made["cluster"], log)


def _abandon_local(made: dict[str, Any], before: set[int | None], before_clusters: set[int], distributed: Any) -> None:
    """Close what a failed local start made (within a few seconds), then kill the worker processes
    it started (and theirs) and reap them: a non-daemon child left alive would hold the exit."""
    import multiprocessing

    for name in ("client", "cluster"):
        if name in made:
            with contextlib.suppress(Exception):
                within_deadline(made[name].close, 5.0)
    for _ in range(2):  # a nanny may have restarted a worker while we killed the first
        for child in multiprocessing.active_children():
            if child.pid in before or child.pid is None:
                continue
            _kill_tree(child.pid)
            child.join(5.0)
    with contextlib.suppress(Exception):  # distributed's exit hook would wait for it again
        instances = distributed.deploy.spec.SpecCluster._instances
        for cluster in [c for c in instances if id(c) not in before_clusters]:
            instances.discard(cluster)


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants (processes this start made)."""
    import signal

    try:
        import psutil  # type: ignore[import-untyped]  # a dependency of distributed

        family = [*psutil.Process(pid).children(recursive=True), psutil.Process(pid)]
        pids = [proc.pid for proc in family]
    except Exception:  # noqa: BLE001 - gone already, or no psutil: the process itself
        pids = [pid]
    for each in pids:
        with contextlib.suppress(OSError):
            os.kill(each, signal.SIGKILL)


class SchedulerWaits:
    """Every wait on a Dask cluster after the handshake, each with a deadline that Ctrl-C cuts short.

    A scheduler can accept the connection, answer the handshake and then go silent (stopped,
    wedged) or die; without a deadline each later call (``scheduler_info``, ``submit().result()``,
    ``gather``) would wait forever.  A question to the scheduler (:meth:`ask`) gets ``timeout``
    seconds; a result the workers may rightly take long to compute (:meth:`wait`) is waited for as
    long as the scheduler still answers, asked every ``timeout`` seconds.  Each failure is a
    :class:`ClusterError` of one line naming the scheduler's address and what was waited for.

    Parameters
    ----------
    client : distributed.Client
        A connected client (:func:`connect`).
    timeout : float, optional
        Seconds per question (default ``CONNECT_TIMEOUT_S``, 10 s; the CLI's ``--timeout``).
    """

    def __init__(self, client: Any, timeout: float | None = None) -> None:
        self.client = client
        self.timeout = CONNECT_TIMEOUT_S if timeout is None else float(timeout)
        scheduler = getattr(client, "scheduler", None)
        self.address = str(getattr(scheduler, "address", None) or "(unknown address)")

    def silent(self, what: str, seconds: float) -> ClusterError:
        return ClusterError(
            f"the Dask scheduler at {self.address} did not answer within {seconds:g} s ({what}); "
            "raise the wait with --timeout"
        )

    def lost(self, what: str, exc: BaseException) -> ClusterError:
        reason = str(exc).strip().split("\n")[0] or type(exc).__name__
        return ClusterError(f"lost the Dask scheduler at {self.address} ({what}): {reason}")

    def ask(self, what: str, call: Callable[[], _T], seconds: float | None = None) -> _T:
        """``call()`` within ``seconds`` (default ``timeout``); a silent or lost scheduler is a
        :class:`ClusterError` naming ``what`` was asked."""
        limit = self.timeout if seconds is None else float(seconds)
        try:
            return within_deadline(call, limit)
        except TimeoutError:  # ours, or the client's own (also an OSError)
            raise self.silent(what, limit) from None
        except (OSError, CancelledError) as exc:  # the connection closed: the scheduler died
            raise self.lost(what, exc) from None

    def workers(self, what: str = "asking for its workers") -> list[str]:
        """The addresses of the scheduler's workers (all of them), within the deadline."""

        def identity() -> dict:
            return self.client.sync(self.client.scheduler.identity)

        info = self.ask(what, identity)
        return sorted(info.get("workers", {}))

    def wait(self, what: str, call: Callable[[], _T], check: Callable[[list[str]], None] | None = None) -> _T:
        """``call()``, however long it takes while the scheduler answers :meth:`workers` (asked
        every ``timeout`` seconds without a result; ``check(workers)`` may then raise to give up).
        ``call``'s own exceptions pass through, except a cancellation (the client lost the
        scheduler), which is reported as such."""

        def still_there() -> None:
            workers = self.workers(what)
            if check is not None:
                check(workers)

        try:
            return watched_wait(call, self.timeout, still_there)
        except CancelledError as exc:
            still_there()  # names a silent or lost scheduler when that is why
            raise self.lost(what, exc) from None


def check_scheduler_address(address: str) -> str:
    """``address`` if it names a scheduler that could exist, else :class:`InputError` at once.

    Refused without a connection attempt: a port outside 1..65535, a missing host or port.

    Parameters
    ----------
    address : str
        The ``--scheduler`` value (``tcp://HOST:PORT``).

    Returns
    -------
    str
        ``address``, unchanged.

    Raises
    ------
    InputError
        One line naming the address and what is wrong with it.

    Examples
    --------
    >>> check_scheduler_address("tcp://127.0.0.1:8786")
    'tcp://127.0.0.1:8786'
    >>> check_scheduler_address("tcp://127.0.0.1:99999")
    Traceback (most recent call last):
        ...
    l2h._validation.InputError: --scheduler tcp://127.0.0.1:99999: the port must be 1 to 65535; got 99999
    """
    scheme, sep, rest = address.rpartition("://")
    if sep and scheme not in ("tcp", "tls", "inproc", "ws", "wss", "ucx"):
        raise InputError(f"--scheduler {address}: unknown protocol {scheme!r}; expected tcp://HOST:PORT")
    if scheme == "inproc":
        return address
    host, colon, port = rest.rpartition(":")
    if colon and port.isdigit():
        if not 1 <= int(port) <= 65535:
            raise InputError(f"--scheduler {address}: the port must be 1 to 65535; got {port}")
    elif colon:
        raise InputError(f"--scheduler {address}: the port must be a number; got {port!r}")
    if colon and not host.strip("[]"):
        raise InputError(f"--scheduler {address}: no host; expected tcp://HOST:PORT")
    return address


@contextlib.contextmanager
def _stderr_of_children(log: IO[bytes]) -> Iterator[None]:
    """Processes started inside the block write their stderr (tracebacks of workers that fail to
    start, their logs) into ``log`` instead of the user's terminal; this process keeps its own."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _last_error_line(log: IO[bytes]) -> str:
    """The last ``SomethingError: message`` line the children wrote (why they failed), or ""."""
    try:
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return ""
    lines = [line.strip() for line in text.split("\n") if re.match(r"^[A-Za-z_.]*(Error|Exception):", line.strip())]
    return lines[-1] if lines else ""


def _closer(client, cluster, log: IO[bytes] | None = None, wait: float = CONNECT_TIMEOUT_S) -> Callable[[], None]:
    """``close()``: closes the client, the local cluster and the log, each within ``wait`` seconds
    (a silent scheduler must not hold the exit), idempotent, never raises."""
    done: list[bool] = []

    def close() -> None:
        if done:
            return
        done.append(True)
        for thing in (client, cluster, log):
            if thing is None:
                continue
            try:
                within_deadline(thing.close, wait)
            except Exception:  # noqa: BLE001, S110 - closing must not mask the real error
                pass

    return close
