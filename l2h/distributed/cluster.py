"""Connecting to a Dask cluster: an existing scheduler, or a local cluster of worker processes."""

from __future__ import annotations

import os
from collections.abc import Callable

from l2h._validation import InputError
from l2h.distributed.shards import INSTALL_HINT

__all__ = ["CONNECT_TIMEOUT_S", "ClusterError", "connect", "require_distributed"]

CONNECT_TIMEOUT_S = 10.0


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
        Seconds to wait for the scheduler (default ``CONNECT_TIMEOUT_S``, 10 s).
    threads_per_worker : int, default 1
        Task threads of each worker of a local cluster (``workers``); unused with ``scheduler``.

    Returns
    -------
    (client, close)
        ``close()`` is idempotent and never raises.

    Raises
    ------
    ClusterError
        The scheduler cannot be reached within ``timeout`` (one line naming the address).
    InputError
        Both or neither of ``scheduler`` and ``workers``, a bad worker count, or dask[distributed]
        missing (with the install hint).
    """
    if (scheduler is None) == (workers is None):
        raise InputError("give either --scheduler ADDRESS or --workers N (not both)")
    distributed = require_distributed()
    import dask

    timeout = CONNECT_TIMEOUT_S if timeout is None else float(timeout)
    if workers is not None:
        if int(workers) < 1:
            raise InputError(f"--workers must be at least 1; got {workers}")
        cores = os.cpu_count() or 1
        numba_threads = max(1, cores // int(workers))
        with dask.config.set({"distributed.worker.daemon": False}):
            try:
                cluster = distributed.LocalCluster(
                    n_workers=int(workers),
                    threads_per_worker=threads_per_worker,
                    processes=True,
                    dashboard_address=None,
                    env={"NUMBA_NUM_THREADS": str(numba_threads), "OMP_NUM_THREADS": "1"},
                    silence_logs=50,
                )
                client = distributed.Client(cluster, timeout=max(timeout, 60.0))
            except Exception as exc:  # noqa: BLE001
                raise ClusterError(f"could not start a local Dask cluster of {workers} workers: {exc}") from None
        return client, _closer(client, cluster)

    address = str(scheduler)
    with dask.config.set({"distributed.comm.timeouts.connect": f"{timeout}s"}):
        try:
            client = distributed.Client(address, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, bad address...
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({reason})"
            ) from None
    return client, _closer(client, None)


def _closer(client, cluster) -> Callable[[], None]:
    done: list[bool] = []

    def close() -> None:
        if done:
            return
        done.append(True)
        for thing in (client, cluster):
            if thing is None:
                continue
            try:
                thing.close()
            except Exception:  # noqa: BLE001, S110 - closing must not mask the real error
                pass

    return close
