"""Shared CLI plumbing: consoles, summary tables, progress reporting, JSON output."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from l2h import L2HWarning
from l2h.files import OutputSet
from l2h.hierarchy import Hierarchy
from l2h.io import tree_bytes
from l2h.text import printable

ProgressFn = Callable[[str, int, int], None]


def stdout_console() -> Console:
    return Console(soft_wrap=True)


def stderr_console() -> Console:
    return Console(stderr=True, soft_wrap=True)


def summary_table(title: str | Text) -> Table:
    """The two-column "what / value" table a command prints its result in (rows added by the caller)."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    return table


def score_text(value: float | None) -> str:
    """A score in a table: four decimals, ``n/a`` when there is none (None, NaN or infinite)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.4f}"


@contextmanager
def quiet_library_warnings(quiet: bool) -> Iterator[None]:
    """With ``quiet``, warnings of the libraries l2h runs on (PyTorch's DataLoader, Pillow, Dask) are
    dropped, here and in child processes; l2h's own warnings (:class:`l2h.L2HWarning`, about the
    user's data) still print."""
    if not quiet:
        yield
        return
    saved = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = "ignore"  # DataLoader workers and other children started meanwhile
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("default", L2HWarning)
            yield
    finally:
        if saved is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = saved


def silence_dask_logs() -> None:
    """Dask's own log lines (a client reconnecting to a lost scheduler logs its tracebacks from a
    background thread) never reach the user: the CLI reports the failure in one line.  Called by
    the verbs that start a Dask client; for the rest of the process (a CLI run)."""
    names = [name for name in logging.root.manager.loggerDict if name.split(".")[0] == "distributed"]
    for name in ["distributed", *names]:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def print_line(text: object, *, err: bool = False) -> None:
    """One line for the user (success lines, notes), printed the one safe way.

    Control and bidirectional characters (an ESC in a file name) become visible escapes
    (:func:`l2h.text.printable`), as in error lines, and Rich neither interprets markup (``[/]``,
    ``[link=...]``) nor highlights anything.
    """
    console = stderr_console() if err else stdout_console()
    console.print(printable(text), markup=False, highlight=False)


def echo_json(payload: Any) -> None:
    """Machine-readable result on stdout (one JSON document)."""
    sys.stdout.write(json.dumps(payload, indent=2, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


@contextmanager
def progress_reporter(quiet: bool = False) -> Iterator[ProgressFn]:
    """Yield a ``progress(phase, done, total)`` callback.

    On a terminal it drives a rich progress bar on stderr (one task per phase); when stderr is not a
    terminal it logs quarter milestones of each phase, once the job has run for over a second, instead
    of an animation.  ``quiet`` silences it.
    """
    if quiet:
        yield lambda phase, done, total: None
        return
    err = stderr_console()
    if err.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        tasks: dict[str, Any] = {}
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:

            def update(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=total)
                bar.update(tasks[phase], completed=done, total=total)

            yield update
        return

    start = time.perf_counter()
    logged: dict[str, int] = {}

    def log(phase: str, done: int, total: int) -> None:
        if time.perf_counter() - start < 1.0:
            return  # short jobs stay silent: milestones only for work that takes over a second
        quarter = 4 if total <= 0 else min(4, (4 * done) // max(total, 1))
        if logged.get(phase, -1) >= quarter:
            return
        if phase not in logged and quarter > 0 and done < total:
            logged[phase] = 0
        logged[phase] = quarter
        if quarter in (0, 4) or done < total:
            elapsed = time.perf_counter() - start
            err.print(f"[{elapsed:7.2f}s] {phase}: {done}/{total}", highlight=False)

    yield log


def stage_tree(outputs: OutputSet, path: Path, tree: Hierarchy, kind: str) -> None:
    """Stage ``tree`` in ``outputs`` as ``kind`` (newick, json, linkage): the bytes of :func:`l2h.io.write_tree`."""
    outputs.write_bytes(path, tree_bytes(tree, kind))
