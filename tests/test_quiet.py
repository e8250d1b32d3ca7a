"""Issue 23 (10): ``-q`` silences the warnings of the libraries l2h runs on.

``train -q`` printed PyTorch's DataLoader warning (more loader workers than cores) anyway.  The run
is a real child process pinned to one core with two loader workers, so the warning is due.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.torch
ENTRY = [sys.executable, "-c", "from l2h_cli.main import main; main()"]
TINY = ["--dataset", "digits", "--split", "test", "--epochs", "1", "--pretrain-epochs", "0", "--batch-size", "256"]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity")
def test_train_quiet_prints_nothing(tmp_path):
    one_core = {min(os.sched_getaffinity(0))}
    args = ["train", "cohiclust", "--out", str(tmp_path / "run"), *TINY, "--num-workers", "2", "-q"]
    done = subprocess.run(
        [*ENTRY, *args],
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=lambda: os.sched_setaffinity(0, one_core),  # noqa: PLW1509
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == "" and done.stderr == "", (done.stdout, done.stderr)
    assert (tmp_path / "run" / "logits.npy").is_file()
