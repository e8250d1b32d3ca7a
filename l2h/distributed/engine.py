"""The L2H build on a Dask cluster: the workers hold the points, the driver makes the decisions.

Layout
------
* A :class:`Host` (one Dask actor per worker) holds the shards given to it.  For each shard it
  keeps a single-machine build state over the shard's rows (the same kernels), whose group
  bookkeeping follows the merges made so far.
* The driver (:class:`_Driver`) holds only a :class:`~l2h.build.groups.Groups` (the group
  bookkeeping), built from the per-cluster first-pass sums of all shards, and runs the
  single-machine decision code (:func:`l2h.build.api.decide`).  Per merge it sends ``G*`` (and
  the merges made since that host's last call) to the hosts that hold points of ``G*`` (all of
  them for a soft-membership group) and gets back each shard's per-cluster partial sums ``rp`` in
  double-double, sparse.  It adds them in shard order and chooses ``G†``.
* Fetching ahead: in the same round trip the driver also asks for the ``rp`` of the next
  lowest-scored groups (``AHEAD_GROUPS``, ``AHEAD_POINTS``, ``AHEAD_SOFT``), which are usually G*
  of the next merges; those merges then need no round trip.  This changes no value: ``rp`` of a
  group depends only on its clusters and on the state of its own points, which only visits of
  that group change, and groups are disjoint (a soft-membership pass reads only first-pass
  values).  A group fetched ahead but merged as G† before its turn was never G*: each shard saved
  the state of its points before that visit and puts it back when it applies that merge, so
  later visits see exactly the single-machine state.
* Faults: the driver logs every ``rp`` request.  When a host is lost (its worker died) its shards
  are reloaded by another host, which rebuilds their state by replaying the merges and the logged
  requests (the per-point state depends only on the sequence of visits), and the request is
  re-sent.  The tree is unchanged.

Exactness: every per-point computation is the single-machine one, on the same rows with the same
group structure.  The sums over points are double-double, so (as in the single-machine build,
whose per-thread chunk sums are added the same way) the correctly rounded float64 value does not
depend on where the shard boundaries fall, except when that value lies within about 2^-100
relative of a rounding boundary (never seen in the tests; see docs/algorithm.md "Float ties").
With one shard the computation is the single-machine one, bit for bit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from l2h._system import within_deadline
from l2h._validation import InputError, check_leaf_names, check_logits_array, nonfinite_message
from l2h.build.api import check_options, decide, kernels
from l2h.build.exact import dd_add
from l2h.build.groups import Groups
from l2h.build.inputs import INPUTS, clip_log_zeros, default_chunk_rows, warn_if_probabilities
from l2h.build.points import Points
from l2h.distributed.cluster import ClusterError, SchedulerWaits, require_distributed
from l2h.distributed.shards import Shard, open_shards, split_shards
from l2h.hierarchy import Hierarchy

__all__ = ["WORKER_WAIT_S", "Host", "InProcessCluster", "build_distributed"]

WORKER_WAIT_S = 10.0  # how long a build waits for a worker to (re)appear when none is left
# Per round trip, the driver also asks for the rp of up to this many of the next lowest-scored
# groups (together at most this many points), which are likely G* of the next merges.  At
# 100 000 x 1 000: 32 groups, 40 round trips for 999 merges (207 groups fetched but merged as G†
# first); 64: 24 (334); 128: 16 (454).
AHEAD_GROUPS = 64
AHEAD_POINTS = 1 << 17
AHEAD_SOFT = 1 << 22  # exponentials per worker of the soft-membership groups fetched ahead


# ---------------------------------------------------------------------------------------------- worker side
def _shard_points(arr: np.ndarray, chunk_rows: int, input: str) -> tuple[Points, int, object]:
    """A single-machine build state over one shard's rows: ``(points, clipped zeros, keep-alive)``.
    Raises ``ValueError`` on NaN/inf rows (like the single build)."""
    work, keep, n_clipped = INPUTS[input](arr, chunk_rows)
    try:
        points = Points(kernels(), work, chunk_rows, None)
    except ValueError:
        if input != "log-probs":
            raise
        work, keep, n_clipped = clip_log_zeros(arr, chunk_rows)
        points = Points(kernels(), work, chunk_rows, None)
    return points, int(n_clipped), keep


def _save_visited(points: Points, node: int) -> tuple[np.ndarray, ...]:
    """The per-point state that a visit of ``node`` changes, for the node's points (bucket positions
    first), so that :func:`_restore_visited` can undo a visit that was made ahead and never used."""
    pts = points.kern.gather_positions(points.groups.members(node), points.offsets)
    return (pts, *(arr[pts] for arr in _visited_arrays(points)))


def _restore_visited(points: Points, saved: tuple[np.ndarray, ...]) -> None:
    """Put back the state saved by :func:`_save_visited`."""
    pts = saved[0]
    for arr, old in zip(_visited_arrays(points), saved[1:], strict=True):
        arr[pts] = old


def _visited_arrays(points: Points) -> tuple[np.ndarray, ...]:
    """The per-point arrays (bucket order) that ``kernels.visit_group`` writes besides its outputs."""
    return (points.out_hi, points.out_lo, points.known, points.ptr, points.top_idx, points.base)


class _ShardState:
    """One shard's per-point state (a single-machine build state over its rows) and its own counts."""

    def __init__(self, shard: Shard, options: dict):
        arr = shard.read()
        self.n = arr.shape[0]
        self.n_clusters = int(arr.shape[1])
        self.bad = (0, -1)
        self.clipped, self.probs = 0, False
        self.run: Any = None  # the shard's Points (None: it holds NaN/inf rows)
        chunk_rows = options.get("chunk_rows")
        if chunk_rows is None:
            chunk_rows = default_chunk_rows(self.n_clusters, arr.dtype.itemsize)
        try:
            self.run, self.clipped, self._keep = _shard_points(arr, chunk_rows, options.get("input", "logits"))
            self.probs = self.run.looks_like_probs
        except ValueError:  # NaN/inf rows: count them here, the driver names the first one overall
            n_bad, first = 0, -1
            for start in range(0, self.n, chunk_rows):
                rows = ~np.isfinite(np.asarray(arr[start : start + chunk_rows], dtype=np.float64)).all(axis=1)
                if first < 0 and rows.any():
                    first = start + int(np.argmax(rows))
                n_bad += int(rows.sum())
            if n_bad == 0:
                raise
            self.bad = (n_bad, first)
            self.run = None
            return
        n_nodes = 2 * self.n_clusters - 1
        self.local_count = np.zeros(n_nodes, dtype=np.int64)
        self.local_count[: self.n_clusters] = self.run.groups.counts
        self.applied = 0
        # Speculative visits not yet settled: node -> the per-point state of its points before the visit.
        self.pending: dict[int, Any] = {}

    def summary(self) -> dict:
        if self.run is None:
            return {"rows": self.n, "bad": self.bad}
        groups, k = self.run.groups, self.n_clusters
        counts, conf_hi, conf_lo = groups.counts.copy(), groups.node_conf[0, :k].copy(), groups.node_conf[1, :k].copy()
        return {
            "rows": self.n,
            "bad": self.bad,
            "counts": counts,
            "conf_hi": conf_hi,
            "conf_lo": conf_lo,
            "clipped": self.clipped,
            "probs": self.probs,
        }

    def start(self, global_counts: np.ndarray) -> None:
        # Soft membership is decided by the whole input's counts, not by this shard's.
        self.run.groups.node_count[: self.n_clusters] = global_counts

    def advance(self, merges: Sequence[tuple[int, int, int]], upto: int) -> None:
        for a, b, new in merges[self.applied : upto]:
            # A speculative visit of G* was used; one of G† never was: its points get back their state.
            self.pending.pop(a, None)
            saved = self.pending.pop(b, None)
            if saved is not None:
                _restore_visited(self.run, saved)
            self.run.merge(a, b, new)
            self.local_count[new] = self.local_count[a] + self.local_count[b]
        self.applied = max(self.applied, upto)

    def wants(self, node: int, soft: bool) -> bool:
        return self.n > 0 and (soft or self.local_count[node] > 0)

    def rp(self, node: int, speculative: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The shard's sparse ``rp`` partial sums for ``node``.  A ``speculative`` visit (``node`` is
        not G* yet) first saves the state of the node's points, restored if it is merged as G†."""
        if speculative:
            self.pending[node] = _save_visited(self.run, node)
        return self.run.rp_sparse(node)


class Host:
    """The shards held by one worker (a Dask actor; also used in-process by the tests)."""

    def __init__(self) -> None:
        self.shards: dict[int, _ShardState] = {}
        self.merges: list[tuple[int, int, int]] = []

    def load(self, items: Sequence[tuple[int, Shard]], options: dict) -> list[tuple[int, dict]]:
        out = []
        for idx, shard in items:
            state = _ShardState(shard, options)
            self.shards[idx] = state
            out.append((idx, state.summary()))
        return out

    def start(self, global_counts: np.ndarray) -> None:
        for state in self.shards.values():
            state.start(global_counts)

    def _extend(self, first: int, delta: Sequence[tuple[int, int, int]] | np.ndarray) -> None:
        # ``delta`` holds merges first, first+1, ... (rows ``(a, b, new)``); a repeated delivery is harmless
        rows = np.asarray(delta, dtype=np.int64).reshape(-1, 3).tolist()
        have = len(self.merges)
        if first + len(rows) > have:
            self.merges.extend((a, b, c) for a, b, c in rows[have - first :])

    def step(
        self, first: int, delta: np.ndarray, requests: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        """Apply the merges ``delta`` (int64 rows ``(a, b, new)``, merge numbers ``first, first + 1,
        ...``), then, for each row ``(node, shard, speculative)`` of ``requests`` (int64) in order,
        compute the non-zero entries of that shard's ``rp`` partial sums for ``node`` (the driver asks
        the shards holding points of ``node``, all of them for a soft-membership group, in shard
        order).  Speculative requests are groups that may be G* of a later merge (see
        :meth:`_ShardState.rp`).  Both arguments are arrays: Dask pickles a list of tuples element by
        element, about 7 ms for 64 requests on this project's VM, an array in one frame.

        The reply is packed into four arrays, whatever the number of requests: ``meta`` (int64,
        one row ``(node, shard, nnz)`` per answered request and shard, in order), and the
        concatenated clusters (int32), ``hi`` and ``lo`` (float64) of their sparse sums; then this
        host's compute time in seconds (for the benchmark).  :func:`_unpack` splits it.  One frame per
        array instead of three per (group, shard): 128 answers took 7 ms packed against 26-30 ms as
        tuples of arrays, an empty call 3.5-3.9 ms (2 local workers; see docs/dask.md)."""
        started = time.perf_counter()
        self._extend(first, delta)
        meta: list[tuple[int, int, int]] = []
        nzs: list[np.ndarray] = []
        his: list[np.ndarray] = []
        los: list[np.ndarray] = []
        for node, idx, speculative in np.asarray(requests, dtype=np.int64).reshape(-1, 3).tolist():
            state = self.shards[idx]
            state.advance(self.merges, len(self.merges))
            nz, hi, lo = state.rp(node, bool(speculative))
            meta.append((node, idx, int(nz.size)))
            nzs.append(nz)
            his.append(hi)
            los.append(lo)
        packed = (
            np.array(meta, dtype=np.int64).reshape(-1, 3),
            np.concatenate(nzs) if nzs else np.zeros(0, dtype=np.int32),
            np.concatenate(his) if his else np.zeros(0),
            np.concatenate(los) if los else np.zeros(0),
        )
        return (*packed, time.perf_counter() - started)

    def adopt(
        self,
        items: Sequence[tuple[int, Shard]],
        options: dict,
        global_counts: np.ndarray | None,
        merges: Sequence[tuple[int, int, int]],
        log: Sequence[tuple[int, int, bool, bool]],
    ) -> list[tuple[int, dict]]:
        """Take over shards of a lost host: load them, then replay every logged ``rp`` request
        ``(merges applied before it, node, soft, speculative)`` so that their per-point state is the
        one the lost host had (soft requests and shards without points of the node change nothing;
        a speculative visit is undone again when its node is merged as G†).
        ``global_counts`` is None while the first pass is still running (nothing to replay)."""
        self._extend(0, merges)
        out = []
        for idx, shard in items:
            state = _ShardState(shard, options)
            out.append((idx, state.summary()))
            if global_counts is not None:
                if state.run is None:
                    raise ClusterError(f"shard {shard.source} changed while the build ran (NaN/inf rows appeared)")
                state.start(global_counts)
                for n_applied, node, soft, speculative in log:
                    if not soft:
                        state.advance(self.merges, n_applied)
                        if state.wants(node, False):
                            state.rp(node, speculative)
            self.shards[idx] = state
        return out

    def ping(self) -> int:
        return len(self.shards)


# ---------------------------------------------------------------------------------------------- backends
class _Lost(Exception):
    """A host was lost (its worker died or became unreachable)."""


class InProcessCluster:
    """A stand-in for a Dask client that keeps ``n_hosts`` hosts in this process (tests, benchmarks).

    ``fail`` maps a merge count to a host index that is "lost" at the first ``rp`` request made
    after that many merges (fault-injection for the tests); a lost host's shards go to the next
    live one.
    """

    def __init__(self, n_hosts: int = 2, fail: dict[int, int] | None = None):
        self.n_hosts = int(n_hosts)
        self.fail = dict(fail or {})


class _InProcessBackend:
    def __init__(self, cluster: InProcessCluster):
        self.cluster = cluster
        self.hosts: dict[int, Host] = {i: Host() for i in range(cluster.n_hosts)}
        self.dead: set[int] = set()

    def n_workers(self) -> int:
        return len(self.hosts)

    def initial_hosts(self) -> list[int]:
        return list(self.hosts)

    def call(self, host: int, method: str, *args):
        return (host, method, args)

    def result(self, call):
        host, method, args = call
        if host in self.dead:
            raise _Lost(f"host {host}")
        return getattr(self.hosts[host], method)(*args)

    def maybe_fail(self, n_merges: int) -> None:
        # at the first request at or after that merge count (requests skip the merges they prefetched)
        for count in sorted(self.cluster.fail):
            if count <= n_merges:
                self.dead.add(self.cluster.fail.pop(count))

    def mark_dead(self, host: int) -> None:
        self.dead.add(host)

    def replacement(self, exclude: set[int]) -> int:
        live = [h for h in self.hosts if h not in self.dead and h not in exclude]
        if not live:
            raise ClusterError("no Dask worker left to hold the lost shards; the build stopped (nothing written)")
        return live[0]

    def describe(self, host: int) -> str:
        return f"in-process host {host}"

    def close(self) -> None:
        self.hosts.clear()


class _DaskBackend:
    """Hosts as Dask actors, one per worker.  Every wait has a deadline (:class:`SchedulerWaits`):
    questions to the scheduler get ``timeout`` seconds; a step's result is waited for as long as
    the scheduler answers and still lists the host's worker."""

    def __init__(self, client, worker_wait: float, timeout: float | None = None):
        self.client = client
        self.waits = SchedulerWaits(client, timeout)
        self.worker_wait = worker_wait
        self.actors: dict[int, object] = {}
        self.address: dict[int, str] = {}
        self.dead_addresses: set[str] = set()
        self.futures: list[Any] = []

    def _workers(self) -> list[str]:
        return [a for a in self.waits.workers() if a not in self.dead_addresses]

    def n_workers(self) -> int:
        return len(self._wait_for_workers())

    def _wait_for_workers(self) -> list[str]:
        deadline = time.monotonic() + self.worker_wait
        while True:
            workers = self._workers()
            if workers or time.monotonic() > deadline:
                return workers
            time.sleep(0.2)

    def _new_actor(self, address: str) -> int:
        future = self.client.submit(Host, actor=True, workers=[address], allow_other_workers=False, pure=False)
        cap = max(self.worker_wait, 30.0, self.waits.timeout)  # a live scheduler that never places it
        try:
            actor = self.waits.wait(f"starting the build on worker {address}", lambda: future.result(timeout=cap))
        except TimeoutError:
            raise _Lost(f"worker {address} did not start the build within {cap:g} s") from None
        host = len(self.address)
        self.futures.append(future)
        self.actors[host] = actor
        self.address[host] = address
        return host

    def initial_hosts(self) -> list[int]:
        workers = self._wait_for_workers()
        if not workers:
            raise ClusterError(f"the Dask cluster has no worker (waited {self.worker_wait:g} s)")
        try:
            return [self._new_actor(address) for address in workers]
        except _Lost as exc:
            raise ClusterError(f"could not start the build on the Dask cluster: {exc}") from None

    def call(self, host: int, method: str, *args):
        try:
            return (host, getattr(self.actors[host], method)(*args))
        except Exception as exc:  # noqa: BLE001
            return _Failed(exc)

    def result(self, call):
        if isinstance(call, _Failed):
            exc = call.exc
        else:
            host, future = call
            address = self.address.get(host, "?")

            def worker_listed(workers: list[str]) -> None:
                if address not in workers:  # the scheduler gave it up (no heartbeat): lost
                    raise _Lost(f"worker {address} left the cluster")

            try:
                return self.waits.wait(f"waiting for worker {address}", future.result, worker_listed)
            except (InputError, ValueError, TypeError, ClusterError, _Lost):
                raise
            except Exception as exc2:  # noqa: BLE001 - comm errors, cancelled actors, lost workers
                exc = exc2
        raise _Lost(f"{type(exc).__name__}: {exc}")

    def maybe_fail(self, n_merges: int) -> None:
        return None

    def mark_dead(self, host: int) -> None:
        self.dead_addresses.add(self.address[host])
        self.actors.pop(host, None)

    def replacement(self, exclude: set[int]) -> int:
        for host, address in self.address.items():
            if host in self.actors and host not in exclude and address not in self.dead_addresses:
                if address in self._workers():
                    return host
        workers = self._wait_for_workers()
        for address in workers:
            try:
                return self._new_actor(address)
            except ClusterError:
                raise
            except Exception:  # noqa: BLE001 - that worker is gone too: try the next
                self.dead_addresses.add(address)
        raise ClusterError(
            f"no Dask worker left to hold the lost shards (waited {self.worker_wait:g} s); "
            "the build stopped (nothing written)"
        )

    def describe(self, host: int) -> str:
        return f"worker {self.address.get(host, '?')}"

    def close(self) -> None:
        for future in self.futures:
            try:  # a silent scheduler must not hold the exit
                within_deadline(future.release, 1.0)
            except Exception:  # noqa: BLE001, S110
                pass
        self.actors.clear()


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


# ---------------------------------------------------------------------------------------------- driver
class _Cluster:
    """The driver's view of the hosts: which host holds which shard, the merges and the request log,
    and the moves that keep a build alive when a host is lost."""

    def __init__(self, backend, shards: list[Shard], options: dict):
        self.backend = backend
        self.shards = shards
        self.n_rows = sum(s.rows for s in shards)
        self.options = options
        self.owner: dict[int, int] = {}
        self.merges: list[tuple[int, int, int]] = []
        self.sent: dict[int, int] = {}
        self.log: list[tuple[int, int, bool, bool]] = []  # (merges before it, node, soft, speculative)
        self.global_counts: np.ndarray | None = None
        self.lost_hosts: list[str] = []
        self.work_seconds: list[float] = []  # per request: the slowest host's compute time
        self.step_seconds: list[float] = []  # per request: the driver's wait
        self.has = np.zeros((0, 0), dtype=bool)
        # Speculation: ``propose(node)`` names groups that may be G* of the next merges (the driver
        # state's lowest scores); their rp comes back with G*'s in the same round trip and waits in
        # ``ahead`` until they are G* (or are dropped when merged as G†; the shards undo the visit).
        self.propose: Any = None
        self.ahead: dict[int, dict[int, tuple]] = {}
        self.n_fetched = 0
        self.n_ahead_used = 0
        self.n_ahead_dropped = 0

    # first pass -------------------------------------------------------------------------------------
    def load(self, progress) -> dict[int, dict]:
        hosts = self.backend.initial_hosts()
        live = [i for i, s in enumerate(self.shards) if s.rows > 0]
        total = max(1, self.n_rows)
        for i in live:  # contiguous row ranges per host, balanced by rows
            mid = self.shards[i].offset + self.shards[i].rows / 2
            self.owner[i] = hosts[min(len(hosts) - 1, int(mid * len(hosts) / total))]
        for host in hosts:
            self.sent[host] = 0
        summaries: dict[int, dict] = {}
        todo = self._by_host(live)
        while todo:
            calls = {
                h: self.backend.call(h, "load", [(i, self.shards[i]) for i in ids], self.options)
                for h, ids in todo.items()
            }
            todo = {}
            for host, call in calls.items():
                try:
                    for idx, info in self.backend.result(call):
                        summaries[idx] = info
                        if progress is not None:
                            progress("scan", sum(summaries[j]["rows"] for j in summaries), total)
                except _Lost:
                    for i in self._move(host, with_state=False):
                        summaries.pop(i, None)
                        todo.setdefault(self.owner[i], []).append(i)
        return summaries

    def start(self) -> None:
        hosts = sorted(set(self.owner.values()))
        calls = {h: self.backend.call(h, "start", self.global_counts) for h in hosts}
        for host, call in calls.items():
            try:
                self.backend.result(call)
            except _Lost:
                self._move(host, with_state=True)

    def first_pass(self, summaries: dict[int, dict], n_clusters: int):
        """Whole-input counts and confidence sums (added in shard order) and per-cluster shard lists."""
        counts = np.zeros(n_clusters, dtype=np.int64)
        conf_hi = np.zeros(n_clusters)
        conf_lo = np.zeros(n_clusters)
        self.has = np.zeros((2 * n_clusters - 1, len(self.shards)), dtype=bool)  # node -> shards with points
        for idx in sorted(summaries):
            info = summaries[idx]
            counts += info["counts"]
            conf_hi, conf_lo = dd_add(conf_hi, conf_lo, info["conf_hi"], info["conf_lo"])
            self.has[:n_clusters, idx] = info["counts"] > 0
        self.global_counts = counts
        return counts, conf_hi, conf_lo

    def fetch(self, node: int, soft: bool) -> dict[int, tuple]:
        """The driver state's ``rp``: the shards' sparse partial sums for ``node``, from the groups
        fetched ahead when it is one of them, else in one round trip that also fetches ``propose``'s."""
        self.n_fetched += 1
        if node in self.ahead:
            self.n_ahead_used += 1
            return self.ahead.pop(node)
        started = time.perf_counter()
        nodes = [(node, soft, False)]
        if self.propose is not None:
            nodes += [(int(g), bool(s), True) for g, s in self.propose(node) if int(g) not in self.ahead]
        parts = self.request(nodes)
        self.step_seconds.append(time.perf_counter() - started)
        for g, _, _ in nodes[1:]:
            self.ahead[g] = parts[g]
        return parts[node]

    def on_merge(self, a: int, b: int, new: int) -> None:
        self.merges.append((int(a), int(b), int(new)))
        self.has[new] = self.has[a] | self.has[b]
        if self.ahead.pop(int(b), None) is not None:  # fetched ahead, merged as G†: never used
            self.n_ahead_dropped += 1

    # merges -----------------------------------------------------------------------------------------
    def _wanted(self, node: int, soft: bool) -> list[int]:
        if soft:
            return [i for i, s in enumerate(self.shards) if s.rows > 0]
        return np.flatnonzero(self.has[node]).tolist()

    def request(self, nodes: list[tuple[int, bool, bool]]) -> dict[int, dict[int, tuple]]:
        """For each ``(node, soft, speculative)``, in one round trip per host, each wanted shard's
        sparse ``rp`` partial sums (``{node: {shard: (shard, nz, hi, lo)}}``); lost hosts' shards are
        moved (state replayed up to the request before this one) and asked again."""
        self.backend.maybe_fail(len(self.merges))
        parts: dict[int, dict[int, tuple]] = {node: {} for node, _, _ in nodes}
        work = 0.0
        todo: dict[int, list[tuple[int, list[int], bool]]] = {}
        for node, soft, speculative in nodes:
            for host, ids in self._by_host(self._wanted(node, soft)).items():
                todo.setdefault(host, []).append((node, ids, speculative))
        while todo:
            calls = {}
            for host, requests in todo.items():
                first = self.sent.get(host, 0)
                delta = np.array(self.merges[first:], dtype=np.int64).reshape(-1, 3)
                rows = [(node, i, int(speculative)) for node, ids, speculative in requests for i in sorted(ids)]
                calls[host] = self.backend.call(host, "step", first, delta, np.array(rows, dtype=np.int64))
            todo = {}
            for host, call in calls.items():
                try:
                    *packed, seconds = self.backend.result(call)
                    work = max(work, seconds)
                    for node, idx, part in _unpack(*packed):
                        parts[node][idx] = part
                    self.sent[host] = len(self.merges)
                except _Lost:
                    moved = set(self._move(host, with_state=True))
                    for node, soft, speculative in nodes:
                        again = [i for i in self._wanted(node, soft) if i in moved]
                        for i in again:
                            parts[node].pop(i, None)
                        for target, ids in self._by_host(again).items():
                            todo.setdefault(target, []).append((node, ids, speculative))
        for node, soft, speculative in nodes:
            self.log.append((len(self.merges), node, soft, speculative))
        self.work_seconds.append(work)
        return parts

    def _by_host(self, ids) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for i in ids:
            out.setdefault(self.owner[int(i)], []).append(int(i))
        return out

    def _move(self, host: int, with_state: bool) -> list[int]:
        """Give the shards of a lost host to a live one (loading them and, once the first pass is
        done, replaying the logged requests); returns every shard that changed host."""
        self.lost_hosts.append(self.backend.describe(host))
        self.backend.mark_dead(host)
        moving = [i for i, h in self.owner.items() if h == host]
        tried = {host}
        while moving:
            target = self.backend.replacement(tried)
            items = [(i, self.shards[i]) for i in moving]
            counts = self.global_counts if with_state else None
            call = self.backend.call(target, "adopt", items, self.options, counts, self.merges, self.log)
            try:
                self.backend.result(call)
            except _Lost:
                tried.add(target)
                self.lost_hosts.append(self.backend.describe(target))
                self.backend.mark_dead(target)
                moving += [i for i, h in self.owner.items() if h == target and i not in moving]
                continue
            for i in moving:
                self.owner[i] = target
            self.sent.setdefault(target, 0)
            break
        return moving


def _unpack(meta: np.ndarray, nz: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> list[tuple[int, int, tuple]]:
    """:meth:`Host.step`'s packed reply as ``(node, shard, (shard, nz, hi, lo))`` per answered
    request and shard (views into the packed arrays)."""
    out: list[tuple[int, int, tuple]] = []
    start = 0
    for node, idx, size in meta.tolist():
        stop = start + size
        out.append((node, idx, (idx, nz[start:stop], hi[start:stop], lo[start:stop])))
        start = stop
    return out


def _proposer(groups: Groups, rows_per_worker: int) -> Callable[[int], list[tuple[int, bool]]]:
    """The cluster's ``propose``: the groups worth fetching ahead with ``node``, ``(group, soft)``."""

    def propose(node: int) -> list[tuple[int, bool]]:
        found = _lowest_groups(groups, node, AHEAD_GROUPS, AHEAD_POINTS, AHEAD_SOFT, rows_per_worker)
        return [(g, bool(groups.node_count[g] == 0)) for g in found]

    return propose


def _lowest_groups(
    groups: Groups, node: int, max_groups: int, max_points: int, max_soft: int, rows_per_worker: int
) -> list[int]:
    """Groups other than ``node``, lowest score first (the likely G* of the next merges; ties in
    list order), at most ``max_groups`` of them: groups with points holding at most ``max_points``
    points together, and groups without (soft membership: one pass over every row per member
    cluster) costing at most ``max_soft`` exponentials per worker together."""
    n_nodes = groups.node_score.size
    leaves = groups.seg.size // 2
    scores = groups.seg[leaves : leaves + n_nodes]  # alive nodes' scores, +inf elsewhere
    look = min(n_nodes, 4 * max_groups + 1)
    low = np.argpartition(scores, look - 1)[:look] if look < n_nodes else np.arange(n_nodes)
    low = low[np.lexsort((low, scores[low]))]
    out: list[int] = []
    points = soft = 0
    for g in low.tolist():
        if not np.isfinite(scores[g]) or len(out) == max_groups:
            break
        count = int(groups.node_count[g])
        if g == node:
            continue
        if count > 0 and points + count <= max_points:
            points += count
        elif count == 0 and soft + rows_per_worker * int(groups.size[g]) <= max_soft:
            soft += rows_per_worker * int(groups.size[g])
        else:
            continue
        out.append(g)
    return out


class _Driver:
    """The driver's build (see :mod:`l2h.build.strategies`): group bookkeeping and decisions without
    points; ``rp`` asks the shards for their sparse partial sums and adds them in shard order."""

    def __init__(self, groups: Groups, cluster: _Cluster):
        self.groups = groups
        self.cluster = cluster

    def rp(self, node: int) -> int:
        groups = self.groups
        soft = bool(groups.node_count[node] == 0)
        hi = np.zeros(groups.n_clusters)
        lo = np.zeros(groups.n_clusters)
        parts = self.cluster.fetch(node, soft)
        for idx in sorted(parts):  # shard order: the same sums whatever host holds a shard
            nz, p_hi, p_lo = parts[idx][1:4]
            hi[nz], lo[nz] = dd_add(hi[nz], lo[nz], p_hi, p_lo)
        return groups.load_rp(hi, lo)

    def merge(self, a: int, b: int, new: int) -> None:
        self.groups.merge(a, b, new)
        self.cluster.on_merge(a, b, new)

    def batch(self, t: int, t_end: int, merges: np.ndarray, scores: np.ndarray, rels: np.ndarray) -> int:
        return t  # its rp comes from the shards: no batched merges


# ---------------------------------------------------------------------------------------------- API
def build_distributed(
    source: object,
    client: object,
    *,
    aggregation: str = "cluster-mean",
    strategy: str = "lowest-score",
    leaf_names: Sequence[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    chunk_rows: int | None = None,
    input: str = "logits",
    max_shard_rows: int | None = None,
    key: str | None = None,
    worker_wait: float | None = None,
    timeout: float | None = None,
    stats: dict | None = None,
) -> Hierarchy:
    """The L2H build of :func:`l2h.build_hierarchy` on a Dask cluster; the same tree, bit for bit.

    Parameters
    ----------
    source : path, URL, list of paths, ndarray, dask.array or list of Shard
        The logits: see :func:`l2h.distributed.open_shards` (only headers are read here).
    client : distributed.Client
        A client of the cluster (:func:`l2h.distributed.connect` makes one).  Each worker gets one
        actor holding the state of its shards; workers must be able to read the shards' paths.
    aggregation, strategy, leaf_names, progress, chunk_rows, input
        As in :func:`l2h.build_hierarchy`.
    max_shard_rows : int, optional
        Cut longer shards into row ranges (default: the input's rows over the number of workers,
        so that one big file is spread over all workers).
    key : str, optional
        Array name inside a Zarr group.
    worker_wait : float, optional
        Seconds to wait for a worker when none is left (a nanny may be restarting one) before
        failing with :class:`~l2h.distributed.ClusterError` (default ``WORKER_WAIT_S``, 10 s).
    timeout : float, optional
        Seconds each question to the scheduler may take (default 10 s); a step the workers compute
        is waited for as long as the scheduler answers within this.  See
        :class:`~l2h.distributed.cluster.SchedulerWaits`.
    stats : dict, optional
        Filled with ``step_seconds`` (driver time per round trip, transfers included),
        ``work_seconds`` (per round trip, the slowest host's compute time), ``lost_hosts``,
        ``n_shards``, ``n_hosts``, ``n_rp`` (groups whose ``rp`` the decisions used),
        ``n_rp_ahead_used`` (of those, fetched ahead in an earlier round trip) and
        ``n_rp_ahead_dropped`` (fetched ahead, never used) (for the benchmark).

    Returns
    -------
    Hierarchy
        Equal to ``l2h.build_hierarchy`` of the concatenated rows (merges, scores, relatedness,
        info).

    Raises
    ------
    InputError, ValueError, TypeError
        Bad shards (see :func:`~l2h.distributed.open_shards`), a shard a worker cannot read, NaN/inf
        rows (the first is named by its row in the concatenated input), bad options.
    ClusterError
        No worker left to hold the shards of a lost one; the scheduler went silent (no answer within
        ``timeout``) or was lost.

    Examples
    --------
    >>> import numpy as np
    >>> from l2h.distributed.engine import InProcessCluster, build_distributed
    >>> logits = np.random.default_rng(0).normal(size=(300, 5))
    >>> tree = build_distributed(logits, InProcessCluster(n_hosts=3), max_shard_rows=100)
    >>> from l2h import build_hierarchy
    >>> bool((tree.linkage == build_hierarchy(logits).linkage).all())
    True
    """
    check_options(aggregation, strategy, input, chunk_rows)
    shards = _shards(source, key)
    n = sum(s.rows for s in shards)
    n_clusters = int(shards[0].cols or 0)
    # the single-machine checks and messages, on a zero-byte stand-in of the concatenated array
    check_logits_array(np.lib.stride_tricks.as_strided(np.zeros(1, np.dtype(shards[0].dtype)), (n, n_clusters), (0, 0)))
    names = check_leaf_names(leaf_names, n_clusters)
    backend = _backend(client, worker_wait, timeout)
    try:
        n_workers = max(1, backend.n_workers())
        if max_shard_rows is None:
            max_shard_rows = max(1, math.ceil(n / n_workers))
        shards = split_shards(shards, int(max_shard_rows))
        cluster = _Cluster(backend, shards, {"chunk_rows": chunk_rows, "input": input})
        summaries = cluster.load(progress)
        _check_finite(shards, summaries)
        counts, conf_hi, conf_lo = cluster.first_pass(summaries, n_clusters)
        driver = _Driver(Groups(kernels(), counts, conf_hi, conf_lo, aggregation), cluster)
        if strategy == "lowest-score":  # all-pairs asks for every group's rp anyway
            cluster.propose = _proposer(driver.groups, math.ceil(n / n_workers))
        cluster.start()
        clipped = sum(int(info.get("clipped", 0)) for info in summaries.values())
        warn_if_probabilities(input, bool(summaries) and all(info.get("probs", False) for info in summaries.values()))
        tree = decide(driver, n, strategy, names, progress, {"input": input, "clipped_zeros": clipped})
        if stats is not None:
            stats.update(
                step_seconds=cluster.step_seconds,
                work_seconds=cluster.work_seconds,
                lost_hosts=list(cluster.lost_hosts),
                n_shards=len(shards),
                n_hosts=len(set(cluster.owner.values())),
                n_rp=cluster.n_fetched,
                n_rp_ahead_used=cluster.n_ahead_used,
                n_rp_ahead_dropped=cluster.n_ahead_dropped,
            )
        return tree
    finally:
        backend.close()


def _shards(source: object, key: str | None) -> list[Shard]:
    """``source`` as shards (a list of shards is taken as it is)."""
    if isinstance(source, (list, tuple)) and source and all(isinstance(s, Shard) for s in source):
        return list(source)
    return open_shards(source, key=key)


def _backend(client: object, worker_wait: float | None, timeout: float | None = None) -> Any:
    """The hosts behind ``client``: in-process for an :class:`InProcessCluster`, Dask actors otherwise."""
    if isinstance(client, InProcessCluster):
        return _InProcessBackend(client)
    require_distributed()
    return _DaskBackend(client, WORKER_WAIT_S if worker_wait is None else float(worker_wait), timeout)


def _check_finite(shards: list[Shard], summaries: dict[int, dict]) -> None:
    """The single build's ``ValueError`` for NaN/inf rows, naming the first by its row in the
    concatenated input."""
    n_bad = sum(info["bad"][0] for info in summaries.values())
    if n_bad:
        first = min(shards[i].offset + info["bad"][1] for i, info in summaries.items() if info["bad"][0])
        raise ValueError(nonfinite_message("logits", n_bad, first))
