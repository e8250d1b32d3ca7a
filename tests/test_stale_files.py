"""Issue 23 (9): temporary files of a killed run are found and removed by the next run.

A run killed with SIGKILL while committing its outputs used to leave hidden ``.NAME.<hex>.bak`` and
``.NAME.<hex>.tmp.SUFFIX`` files that nothing removed.  Their names now carry the writer's process
id; a later run writing the same output removes those whose process is gone (or puts a moved-aside
old output back).  The writer here is a real child process killed in the middle of its commit.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np

from l2h.files import sweep_stale_siblings
from tests._cli import run

WRITER = """
import os, sys, time
from l2h.files import OutputSet

out = sys.argv[1]
if sys.argv[2] == "no-links":
    def no_link(src, dst):
        raise OSError(1, "no hard links here")
    os.link = no_link
with OutputSet(outputs={"--out": out}) as outputs:
    outputs.write_text(out, "(new);\\n")
    def stuck(src, dst):
        print("committing", flush=True)
        time.sleep(600)
    os.replace = stuck
"""


def _kill_while_committing(out, mode: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(out), mode], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "committing\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


def _hidden(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_the_next_run_removes_what_a_killed_run_left(tmp_path):
    np.save(tmp_path / "lg.npy", np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32))
    out = tmp_path / "t.nwk"
    assert run("build", tmp_path / "lg.npy", "--out", out, "-q").exit_code == 0
    before = out.read_text()
    _kill_while_committing(out, "links")
    left = _hidden(tmp_path)
    assert any(n.endswith(".bak") for n in left) and any(n.endswith(".tmp.nwk") for n in left), left
    assert out.read_text() == before  # the output itself stayed whole
    time.sleep(0.05)  # the leftovers are older than the next run
    assert run("build", tmp_path / "lg.npy", "--out", out, "-q").exit_code == 0
    assert _hidden(tmp_path) == []
    assert out.read_text() == before


def test_a_moved_aside_output_is_put_back(tmp_path):
    out = tmp_path / "t.nwk"
    out.write_text("(old);\n")
    _kill_while_committing(out, "no-links")
    assert not out.exists()  # moved aside when the run was killed
    removed = sweep_stale_siblings(out, time.time() + 1)
    assert len(removed) == 2
    assert out.read_text() == "(old);\n"
    assert _hidden(tmp_path) == []
