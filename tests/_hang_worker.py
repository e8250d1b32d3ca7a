"""A Dask worker preload that never returns: the worker never joins its cluster.

Each worker appends its pid to the file named by ``L2H_HANG_PIDS`` (so a test can check that it was
killed), then sleeps.  Loaded through ``DASK_DISTRIBUTED__WORKER__PRELOAD='["tests/_hang_worker.py"]'``.
"""

from __future__ import annotations

import os
import time
from typing import Any


def dask_setup(worker: Any) -> None:
    with open(os.environ["L2H_HANG_PIDS"], "a") as handle:
        handle.write(f"{os.getpid()}\n")
    time.sleep(3600)
