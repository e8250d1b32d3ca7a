"""A Dask scheduler preload that makes a real scheduler misbehave after the client's handshake.

``L2H_FREEZE_ON=OP:N``: at the N-th message ``OP`` (an RPC such as ``identity``, or a stream
message such as ``update-graph``) the scheduler stops itself with SIGSTOP before it answers
(``L2H_FREEZE_HOW=stop``, a scheduler gone silent) or exits at once (``exit``, a scheduler that
died).  The client's handshake asks ``identity`` once, so ``identity:2`` is the first question
after it.  Loaded with ``dask scheduler --preload tests/_freeze_scheduler.py``.
"""

from __future__ import annotations

import os
import signal
from typing import Any


def dask_setup(scheduler: Any) -> None:
    op, _, nth = os.environ["L2H_FREEZE_ON"].partition(":")
    how = os.environ.get("L2H_FREEZE_HOW", "stop")
    table = scheduler.handlers if op in scheduler.handlers else scheduler.stream_handlers
    inner = table[op]
    seen = [0]

    def handler(*args: Any, **kwargs: Any) -> Any:
        seen[0] += 1
        if seen[0] >= int(nth or 1):
            print(f"l2h-test: frozen at {op} ({how})", flush=True)
            if how == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGSTOP)
        return inner(*args, **kwargs)

    table[op] = handler
