"""``l2h --help`` and the verb groups' help: one full line of help per command, never cut off."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from l2h_cli.main import cli


def _command_rows(output: str) -> list[str]:
    lines = output.split("Commands:\n", 1)[1].split("Examples:", 1)[0].splitlines()
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


# ---------------------------------------------------------------------------------------------- issue 21 item 3
def _all_commands():
    import click

    ctx = click.Context(cli)

    def walk(group, prefix):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            yield [*prefix, name], command
            if isinstance(command, click.Group):
                yield from walk(command, [*prefix, name])

    return list(walk(cli, []))


ALL = _all_commands()


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(p) for p, _ in ALL])
def test_help_ends_with_examples_of_this_command(path, command):
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    tail = result.output.rstrip().split("Examples:\n", 1)
    assert len(tail) == 2, f"l2h {' '.join(path)} --help has no examples"
    lines = [line.strip() for line in tail[1].splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, lines
    head = "l2h " + " ".join(path)
    for line in lines:
        assert line.startswith(head) or (command.__class__.__name__ == "Group" and line.startswith(head + " ")), line


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_option_is_described(path, command):
    import click

    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert (param.help or "").strip(), f"l2h {' '.join(path)} {param.opts[0]} has no description"


def test_cc_epochs_are_described_in_cc_terms():
    cc = CliRunner().invoke(cli, ["train", "cc", "--help"], terminal_width=200).output
    cohiclust = CliRunner().invoke(cli, ["train", "cohiclust", "--help"], terminal_width=200).output
    epochs = next(line for line in cc.splitlines() if "--epochs" in line)
    assert "CoHiClust" not in epochs and "Contrastive Clustering" in epochs
    assert "pretrain" in next(line for line in cohiclust.splitlines() if "--epochs" in line)
