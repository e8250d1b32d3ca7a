"""Issue 23 (2, 3): every network wait has a deadline and yields to Ctrl-C.

A peer that accepts TCP connections and never sends a byte (a real server on 127.0.0.1) used to
hang ``build``/``metrics --scheduler`` forever, and an ``http://`` input for more than 300 s; a port
of 99999 waited the whole timeout.  Each case runs the real console entry point in a child process.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests._system_fixtures import cluster_case, silent_server

pytest.importorskip("distributed")
ENTRY = [sys.executable, "-c", "from l2h_cli.main import main; main()"]
SLACK = 20.0  # interpreter start and imports on a loaded machine


@pytest.fixture
def case(tmp_path):
    return cluster_case(tmp_path)


def _l2h(*args: object, limit: float = 120.0) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([*ENTRY, *map(str, args)], capture_output=True, text=True, timeout=limit)
    return done, time.monotonic() - started


def _one_line(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["build", "metrics"])
def test_a_silent_scheduler_fails_in_one_line_within_the_timeout(case, command):
    with silent_server() as server:
        address = f"tcp://127.0.0.1:{server.port}"
        if command == "build":
            args = ["build", case / "lg.npy", "--out", case / "out.nwk"]
        else:
            args = ["metrics", case / "t.nwk", "--logits", case / "lg.npy", "--labels", case / "lb.npy"]
        done, took = _l2h(*args, "--scheduler", address, "--timeout", 2, limit=60)
    assert done.returncode == 1, done.stderr
    assert f"the Dask scheduler at {address} did not answer within 2 s" in _one_line(done)
    assert took < 2 + SLACK
    assert not (case / "out.nwk").exists()


def test_an_impossible_port_is_refused_at_once(case):
    done, took = _l2h("build", case / "lg.npy", "--out", case / "out.nwk", "--scheduler", "tcp://127.0.0.1:99999")
    assert done.returncode == 1
    assert "--scheduler tcp://127.0.0.1:99999: the port must be 1 to 65535; got 99999" in _one_line(done)
    assert took < 9.0  # the connect timeout is 10 s: no connection was tried


def test_ctrl_c_stops_the_wait_for_a_silent_scheduler(case):
    with silent_server() as server:
        args = ["build", case / "lg.npy", "--out", case / "out.nwk", "--scheduler", f"tcp://127.0.0.1:{server.port}"]
        child = subprocess.Popen([*ENTRY, *map(str, args), "--timeout", "600"], stderr=subprocess.PIPE, text=True)
        waited = time.monotonic()
        while not server.connections and time.monotonic() - waited < 120:  # connected: waiting for a reply
            time.sleep(0.1)
        time.sleep(0.5)
        assert server.connections and child.poll() is None
        child.send_signal(signal.SIGINT)
        try:
            _, err = child.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            pytest.fail("Ctrl-C did not stop the wait")
    assert child.returncode == 130
    assert [line for line in err.splitlines() if line.strip()] == ["Interrupted."], err


@pytest.mark.parametrize("where", ["logits", "labels"])
def test_a_silent_http_server_fails_in_one_line_within_the_timeout(case, where):
    pytest.importorskip("fsspec")
    pytest.importorskip("aiohttp")
    with silent_server() as server:
        url = f"http://127.0.0.1:{server.port}/x.npy"
        if where == "logits":
            args = ["build", url, "--out", case / "out.nwk"]
        else:
            args = ["metrics", case / "t.nwk", "--logits", case / "lg.npy", "--labels", url]
        done, took = _l2h(*args, "--workers", 1, "--timeout", 2, limit=60)
    assert done.returncode == 1, done.stderr
    assert f"cannot read {where} {url}: no answer within 2 s" in _one_line(done)
    assert took < 2 + SLACK


def test_a_url_without_a_cluster_is_named_as_typed(case):
    done, _ = _l2h("build", "http://127.0.0.1:9/lg.npy", "--out", case / "out.nwk")
    line = _one_line(done)
    assert "http://127.0.0.1:9/lg.npy" in line and "--scheduler or --workers" in line, line
