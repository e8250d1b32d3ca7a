"""``l2h --help`` and the verb groups' help: one full line of help per command, never cut off."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from l2h_cli.main import cli


def _command_rows(output: str) -> list[str]:
    lines = output.split("Commands:\n", 1)[1].splitlines()
    return [line for line in lines if line.strip()]


@pytest.mark.parametrize("args", [["--help"], ["export", "--help"], ["train", "--help"]])
def test_command_lists_show_whole_one_line_help(args):
    # click cuts a command's first docstring sentence to fit 80 columns and ends it with "..."
    result = CliRunner().invoke(cli, args, terminal_width=80)
    assert result.exit_code == 0, result.output
    rows = _command_rows(result.output)
    assert rows, result.output
    for row in rows:
        assert not row.startswith("    "), f"help wraps onto a second line: {row!r}"
        assert not row.rstrip().endswith("..."), f"help cut off: {row!r}"
        assert row.rstrip().endswith("."), row


def test_every_verb_is_listed():
    rows = _command_rows(CliRunner().invoke(cli, ["--help"], terminal_width=80).output)
    names = {row.split()[0] for row in rows}
    assert {"build", "metrics", "cut", "export", "show", "plot", "agglomerative"} <= names
