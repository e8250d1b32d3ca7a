"""The ``l2h`` command: a click group whose verbs live in their own modules and load on demand."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import stat
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import click

# verb -> "module:attribute"; a verb whose module is absent is simply not offered.
COMMANDS: dict[str, str] = {
    "build": "l2h_cli.build:build",
    "metrics": "l2h_cli.metrics:metrics",
    "cut": "l2h_cli.cut:cut",
    "export": "l2h_cli.export:export",
    "show": "l2h_cli.show:show",
    "plot": "l2h_cli.plot:plot",
    "report": "l2h_cli.report:report",
    "gallery": "l2h_cli.gallery:gallery",
    "agglomerative": "l2h_cli.agglomerative:agglomerative",
    "compare": "l2h_cli.compare:compare",
    "logits": "l2h_cli.logits:logits",
    "train": "l2h_cli.train:train",
    "predict": "l2h_cli.train:predict",
    "warmup": "l2h_cli.warmup:warmup",
}


class LazyGroup(click.Group):
    """Imports a verb's module only when that verb runs (keeps ``l2h --help`` instant), and turns
    library errors into one-line messages with exit code 1 (``--debug`` shows the traceback)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, target in COMMANDS.items() if _module_exists(target))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None or not _module_exists(target):
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        _refuse_special_files(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``l2h --help`` from the verbs' sources, without importing them (an
        import would load NumPy and more: ``l2h --help`` stays well under half a second)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(name) for name in names), default=0)
        rows = [(name, _short_help(COMMANDS[name], limit)) for name in names]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _quiet_library_warnings():
                return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            raise click.exceptions.Abort() from None
        except Exception as exc:  # noqa: BLE001 - the CLI's one place that turns errors into messages
            if (ctx.obj or {}).get("debug") or os.environ.get("L2H_DEBUG"):
                raise
            raise click.ClickException(_first_line(exc)) from None

    def main(self, args: Any = None, prog_name: str | None = None, *a: Any, **kw: Any) -> Any:  # type: ignore[override]
        """Every user error, click's usage errors included, is one line ``Error: ...`` and exit code 1."""
        standalone = kw.pop("standalone_mode", True)
        try:
            result = super().main(args, prog_name, *a, standalone_mode=False, **kw)
        except click.exceptions.NoArgsIsHelpError as exc:  # `l2h` (or `l2h export`) alone: the help
            click.echo(exc.ctx.get_help() if exc.ctx else "")
            result = 0
        except click.ClickException as exc:
            if isinstance(exc, click.exceptions.NoSuchOption):
                _suggest_visible_options(exc)
            if not standalone:
                raise
            from l2h.text import printable

            # file names and values in the message are the user's: they must not drive the terminal
            click.echo(f"Error: {printable(_one_line(exc.format_message()))}", err=True)
            sys.exit(1)
        except click.exceptions.Abort:  # Ctrl-C (click turns KeyboardInterrupt into Abort)
            if not standalone:
                raise
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        if not standalone:
            return result
        sys.exit(result if isinstance(result, int) else 0)


def _suggest_visible_options(exc: click.exceptions.NoSuchOption) -> None:
    """ "Did you mean" names only options that ``--help`` shows: never a hidden, deprecated spelling."""
    import difflib

    if exc.ctx is None:
        return
    visible = [
        opt
        for param in exc.ctx.command.get_params(exc.ctx)
        if isinstance(param, click.Option) and not param.hidden
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--")
    ]
    exc.possibilities = difflib.get_close_matches(exc.option_name, visible) or None  # type: ignore[misc]


def _one_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return " ".join(lines) if lines else "unknown error"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def _quiet_library_warnings() -> Iterator[None]:
    """NumPy and matplotlib warnings (overflow in a score, a missing glyph) would add lines to the
    one-line contract; l2h's own warnings (``L2HWarning``) are printed by the commands themselves."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        warnings.filterwarnings("ignore", module=r"matplotlib(\..*)?")
        warnings.filterwarnings("ignore", category=UserWarning, module=r"numpy(\..*)?")
        warnings.showwarning = _show_warning_on_one_line
        import numpy as np  # here, not at the top: `l2h --help` loads no NumPy

        with np.errstate(all="ignore"):
            yield


def _show_warning_on_one_line(
    message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    from l2h.text import printable

    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get("l2h.quiet"):
        return
    text = " ".join(str(message).split())
    click.echo(f"warning: {printable(text)}", err=True)


class _RegularPath(click.Path):
    """``click.Path`` that also refuses a FIFO, socket or device: reading a FIFO blocks until some
    other process writes to it (a hang, not an error), and none of them is a file to read or replace."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError):
            return path  # missing, a symlink loop...: the readers and the output guard say so
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            from l2h.files import describe_file_type

            self.fail(f"{os.fsdecode(path)} is {describe_file_type(mode)}; l2h reads only regular files", param, ctx)
        return path


def _refuse_special_files(command: click.Command) -> None:
    """Every path option and argument of ``command`` (and of its sub-commands) refuses special files."""
    for param in command.params:
        if type(param.type) is click.Path:
            param.type.__class__ = _RegularPath  # same attributes; only convert() gains the check
    for sub in getattr(command, "commands", {}).values():
        _refuse_special_files(sub)


def _short_help(target: str, limit: int) -> str:
    """What click would show for the command ``target`` in a command list (its ``short_help``, else
    its docstring shortened), read from the module's source."""
    import ast
    import inspect

    module_name, attr = target.split(":")
    spec = importlib.util.find_spec(module_name)
    source = spec.origin if spec is not None else None
    if source is None:
        return ""
    with open(source, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == attr:
            for decorator in node.decorator_list:
                for keyword in getattr(decorator, "keywords", ()):
                    if keyword.arg == "short_help" and isinstance(keyword.value, ast.Constant):
                        return str(keyword.value.value)
            doc = ast.get_docstring(node, clean=False)
            return click.Command(attr, help=inspect.cleandoc(doc)).get_short_help_str(limit) if doc else ""
    return getattr(importlib.import_module(module_name), attr).get_short_help_str(limit)


def _module_exists(target: str) -> bool:
    return importlib.util.find_spec(target.split(":")[0]) is not None


@click.group(cls=LazyGroup, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(None, "--version", package_name="l2h", prog_name="l2h")  # read when asked: --help imports no l2h
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """l2h: hierarchies of clusters from the logits of trained models."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main() -> None:
    """Console-script entry point."""
    cli(obj={})


if __name__ == "__main__":
    main()
