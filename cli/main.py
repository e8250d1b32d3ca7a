"""The ``l2h`` command: a click group whose verbs live in their own modules and load on demand."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

import click

from l2h import __version__

# verb -> "module:attribute"; a verb whose module is absent is simply not offered.
COMMANDS: dict[str, str] = {
    "build": "l2h_cli.build:build",
    "metrics": "l2h_cli.metrics:metrics",
    "cut": "l2h_cli.cut:cut",
    "export": "l2h_cli.export:export",
    "show": "l2h_cli.show:show",
    "plot": "l2h_cli.plot:plot",
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
        return getattr(importlib.import_module(module_name), attr)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the CLI's one place that turns errors into messages
            if (ctx.obj or {}).get("debug") or os.environ.get("L2H_DEBUG"):
                raise
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise click.ClickException(message) from None


def _module_exists(target: str) -> bool:
    return importlib.util.find_spec(target.split(":")[0]) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="l2h")
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
