"""Issue 23 (2): every wait on a Dask scheduler after the handshake has a deadline and yields to Ctrl-C.

A real ``dask scheduler`` process answers the handshake, then goes silent (SIGSTOP) or dies at a
chosen later message (``tests/_freeze_scheduler.py``).  ``build``/``metrics --scheduler`` used to
wait for it forever (``scheduler_info``, ``submit().result()``, ``gather``); now each fails within
about ``--timeout`` seconds with one line naming the scheduler's address and what it waited for,
exit 1, nothing written.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._system_fixtures import cluster_case

pytest.importorskip("distributed")
ENTRY = [sys.executable, "-c", "from l2h_cli.main import main; main()"]
PRELOAD = Path(__file__).with_name("_freeze_scheduler.py")
SLACK = 25.0  # interpreter start and imports on a loaded machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_line(log: Path, text: str, process: subprocess.Popen, limit: float = 90.0) -> None:
    started = time.monotonic()
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() - started > limit:
            raise RuntimeError(f"no {text!r} from {process.args}: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
            process.kill()
    process.wait(30)


@contextlib.contextmanager
def scheduler(tmp_path: Path, freeze_on: str, how: str = "stop", worker: bool = False) -> Iterator[tuple[str, Path]]:
    """A real Dask scheduler (and optionally one worker) that misbehaves at ``freeze_on``; yields its
    address and its log (which says ``l2h-test: frozen`` once it did)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "L2H_FREEZE_ON": freeze_on, "L2H_FREEZE_HOW": how}
    log = tmp_path / "scheduler.log"
    args = ["--host", "127.0.0.1", "--port", str(port), "--no-dashboard", "--preload", str(PRELOAD)]
    with open(log, "w") as out:
        sched = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", *args], stdout=out, stderr=out, env=env
        )
    processes = [sched]
    try:
        _wait_for_line(log, "Scheduler at:", sched)
        if worker:
            worker_log = tmp_path / "worker.log"
            with open(worker_log, "w") as out:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny"],
                        stdout=out,
                        stderr=out,
                    )
                )
            _wait_for_line(log, "Register worker", sched)
        yield address, log
    finally:
        for process in reversed(processes):
            _stop(process)


@pytest.fixture
def case(tmp_path):
    return cluster_case(tmp_path)


def _args(case: Path, command: str) -> list[object]:
    if command == "build":
        return ["build", case / "lg.npy", "--out", case / "out.nwk"]
    return [
        "metrics",
        case / "t.nwk",
        "--logits",
        case / "lg.npy",
        "--labels",
        case / "lb.npy",
        "--class-distances",
        case / "d.csv",
    ]


def _one_line(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout + done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("command", "freeze_on", "how", "worker", "waited_for"),
    [
        ("build", "identity:2", "stop", False, "did not answer within 2 s (asking for its workers)"),
        ("build", "identity:2", "exit", False, "(asking for its workers): "),
        ("build", "update-graph:1", "stop", True, "did not answer within 2 s (starting the build on worker tcp://"),
        ("metrics", "identity:2", "stop", False, "did not answer within 2 s (asking for its workers)"),
        ("metrics", "update-graph:1", "stop", True, "did not answer within 2 s (counting the (leaf, label) pairs)"),
    ],
)
def test_a_scheduler_that_goes_silent_or_dies_after_the_handshake_is_one_line(
    case, tmp_path, command, freeze_on, how, worker, waited_for
):
    with scheduler(tmp_path, freeze_on, how, worker) as (address, log):
        started = time.monotonic()
        done = subprocess.run(
            [*ENTRY, *map(str, _args(case, command)), "--scheduler", address, "--timeout", "2"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        took = time.monotonic() - started
        assert "l2h-test: frozen" in log.read_text(), log.read_text()[-2000:]  # it answered the handshake
    assert done.returncode == 1, done.stderr
    line = _one_line(done)
    assert line.startswith("Error: "), line
    assert address in line and waited_for in line, line
    if how == "exit":
        assert f"lost the Dask scheduler at {address}" in line, line
    assert took < 2 * 2 + SLACK
    assert not (case / "out.nwk").exists() and not (case / "d.csv").exists()
    assert [p.name for p in case.iterdir() if p.name.startswith(".")] == []


def test_ctrl_c_stops_a_wait_after_the_handshake(case, tmp_path):
    with scheduler(tmp_path, "identity:2") as (address, log):
        args = [*ENTRY, *map(str, _args(case, "build")), "--scheduler", address, "--timeout", "600"]
        child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for_line(log, "l2h-test: frozen", child)
            time.sleep(0.5)
            assert child.poll() is None
            child.send_signal(signal.SIGINT)
            started = time.monotonic()
            out, err = child.communicate(timeout=30)
            took = time.monotonic() - started
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert child.returncode == 130, err
    assert [line for line in (out + err).splitlines() if line.strip()] == ["Interrupted."], err
    assert took < 15.0
    assert not (case / "out.nwk").exists()
