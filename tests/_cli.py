"""Shared helpers for the CLI tests: run ``l2h`` in-process and read its one-line errors."""

from __future__ import annotations

from click.testing import CliRunner, Result
from l2h_cli.main import cli


def run(*args: object) -> Result:
    """``l2h ARGS...`` through click's runner (arguments are turned into strings)."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def error_line(result: Result) -> str:
    """The output's only non-blank line; fails when there are more (a traceback, usage text)."""
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]
