"""``l2h train cohiclust|cc`` and ``l2h predict``: the training extra's commands (torch is imported lazily)."""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from l2h_cli._common import (
    echo_json,
    print_line,
    quiet_library_warnings,
    score_text,
    stderr_console,
    stdout_console,
    summary_table,
)
from l2h_cli._inputs import examples, json_option, labels_option, quiet_option
from rich.text import Text

from cohiclust_extra.backbones import BACKBONES  # declared where dispatched; importing them needs no torch
from cohiclust_extra.config import AUGMENTS, TrainConfig, defaults_for
from cohiclust_extra.data import DATASETS
from l2h.text import markup_safe, printable

DEVICES = ("auto", "cpu", "cuda", "mps")
INSTALL_HINT = 'the training extra needs PyTorch: pip install "l2h[train]"'


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError:
        raise click.ClickException(INSTALL_HINT) from None


_DATASET_METAVAR = "[" + "|".join(DATASETS) + "]"


def _check_dataset(name: str | None) -> None:
    """An unknown dataset is bad input (exit 1, one line), not a usage error with the usage text."""
    if name is not None and name not in DATASETS:
        raise click.ClickException(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")


def _common_options(epochs_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options both models take; ``--epochs`` is described in each model's terms."""
    return functools.partial(_add_common_options, epochs_help=epochs_help)


def _add_common_options(func: Callable[..., Any], epochs_help: str) -> Callable[..., Any]:
    options = [
        click.option(
            "--dataset",
            metavar=_DATASET_METAVAR,
            required=False,
            default=None,
            help="Dataset to train on (read from --data-dir).",
        ),
        click.option(
            "--data-dir",
            type=click.Path(path_type=Path),
            default=None,
            help="Where the dataset lies (default ./data; for npy: the .npy file).",
        ),
        labels_option(help="Labels (.npy) for npy features, for metrics."),
        click.option(
            "--out",
            "-o",
            "out",
            type=click.Path(path_type=Path, file_okay=False),
            required=True,
            help="Run folder (created): config, checkpoint, history, logits, tree, metrics.",
        ),
        click.option("--epochs", type=click.IntRange(min=0), default=None, help=epochs_help),
        click.option(
            "--batch-size",
            type=int,
            default=None,
            help="Global batch of one optimiser step, split across the processes of torchrun. [default: per dataset]",
        ),
        click.option("--backbone", type=click.Choice(BACKBONES), default=None, help="Backbone. [default: per dataset]"),
        click.option("--lr", type=float, default=None, help="Adam learning rate. [default: per dataset]"),
        click.option(
            "--split",
            type=click.Choice(["all", "train", "test"]),
            default="all",
            show_default=True,
            help="Which part of the dataset to train on (papers: all).",
        ),
        click.option(
            "--image-size",
            type=click.IntRange(min=8),
            default=96,
            show_default=True,
            help="Side of folder images after resizing.",
        ),
        click.option(
            "--device",
            type=click.Choice(DEVICES),
            default="auto",
            show_default=True,
            help="Where to train (auto: CUDA, then MPS, then CPU).",
        ),
        click.option("--seed", type=int, default=0, show_default=True, help="Random seed."),
        click.option(
            "--augment",
            type=click.Choice(AUGMENTS),
            default=None,
            help="paper: the papers' per-sample torchvision recipe in the loader workers; batch: batched "
            "augmentations on the training device (fast). [default: batch for digits and features, paper for images]",
        ),
        click.option(
            "--accumulate",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Micro-batches per optimiser step (--batch-size is split into this many).",
        ),
        click.option(
            "--num-workers",
            type=click.IntRange(min=0),
            default=None,
            help="DataLoader worker processes per training process. [default: 0 in memory, else 4]",
        ),
        click.option(
            "--cache-decoded",
            is_flag=True,
            help="Decode the whole dataset into memory once (small datasets); default: read samples on the fly.",
        ),
        click.option(
            "--resume",
            is_flag=True,
            help="Continue the run in --out from its last checkpoint, with its saved settings (--epochs extends it).",
        ),
        click.option("--download", is_flag=True, help="Download CIFAR/STL-10 when missing (needs internet)."),
        quiet_option(),
        json_option("Print the metrics as JSON on stdout."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(
    "train",
    epilog=examples(
        "l2h train cc --dataset cifar10 -o runs/cc", "l2h train cohiclust --dataset digits -o runs/cohiclust"
    ),
)
def train() -> None:
    """Train a CoHiClust or CC model (needs the train extra)."""


@train.command(
    "cohiclust",
    short_help="Train CoHiClust: a soft binary tree head with CoHiLoss.",
    epilog=examples(
        "l2h train cohiclust --dataset digits -o runs/cohiclust", "l2h train cohiclust -o runs/cohiclust --resume"
    ),
)
@_common_options("Epochs of the tree head (CoHiLoss, R1, R2), after --pretrain-epochs. [default: per dataset]")
@click.option(
    "--pretrain-epochs",
    type=click.IntRange(min=0),
    default=None,
    help="Epochs of R2-only pre-training before the tree. [default: per dataset]",
)
@click.option("--depth", type=int, default=None, help="Tree depth T (2^T leaves). [default: per dataset]")
@click.option("--leaves", type=int, default=None, help="Prune to this many leaves. [default: number of classes]")
@click.option(
    "--prune-start",
    type=click.IntRange(min=0),
    default=None,
    help="Tree epoch at which pruning starts (one leaf per epoch). [default: per dataset]",
)
def cohiclust(**kwargs: Any) -> None:
    """Train CoHiClust: a soft binary tree head trained with CoHiLoss (+ R1, R2)."""
    _run("cohiclust", kwargs)


@train.command(
    "cc",
    short_help="Train Contrastive Clustering; its tree is L2H over its logits.",
    epilog=examples("l2h train cc --dataset cifar10 --epochs 100 -o runs/cc"),
)
@_common_options(
    "Epochs of Contrastive Clustering: instance and cluster heads trained together. [default: per dataset]"
)
@click.option("--clusters", type=int, default=None, help="Number of clusters M. [default: number of classes]")
def cc(**kwargs: Any) -> None:
    """Train Contrastive Clustering (instance + cluster heads); its tree is L2H over its logits."""
    _run("cc", kwargs)


def _run(model: str, opts: dict[str, Any]) -> None:
    _require_torch()
    if opts["dataset"] is None and not opts["resume"]:
        raise click.UsageError("Missing option '--dataset'.")
    _check_dataset(opts["dataset"])
    quiet, as_json = opts["quiet"], opts["as_json"]
    if opts["resume"]:
        # the run's saved configuration wins: only --epochs (to extend it) and --data-dir (moved data) apply;
        # the note waits for train() to find a checkpoint to resume, so a missing one is the only line printed
        ignored = _given_on_command_line(set(opts) - _RESUME_OPTIONS)
        note = f"--resume keeps the run's saved settings; ignoring {', '.join(ignored)}" if ignored else None
        config = TrainConfig(
            model=model,
            epochs=opts["epochs"] or 0,
            data_dir=str(opts["data_dir"]) if opts["data_dir"] else None,
            num_workers=opts["num_workers"],
            cache_decoded=opts["cache_decoded"],
        )
        _train_and_report(model, config, opts, quiet, as_json, resume_note=note)
        return
    dataset = opts["dataset"]
    settings = defaults_for(model, dataset)
    mapping = {
        "epochs": "epochs",
        "batch_size": "batch_size",
        "backbone": "backbone",
        "lr": "lr",
        "pretrain_epochs": "pretrain_epochs",
        "depth": "depth",
        "leaves": "leaves",
        "prune_start": "prune_start",
        "clusters": "clusters",
        "augment": "augment",
        "num_workers": "num_workers",
    }
    for opt, field in mapping.items():
        if opts.get(opt) is not None:
            settings[field] = opts[opt]
    if "depth" in settings and opts.get("depth") is not None and opts.get("leaves") is None:
        settings["leaves"] = None  # the per-dataset leaf count may not fit a user-chosen depth: use the classes
    config = TrainConfig(
        model=model,
        dataset=dataset,
        data_dir=str(opts["data_dir"]) if opts["data_dir"] else None,
        labels_path=str(opts["labels_path"]) if opts["labels_path"] else None,
        split=opts["split"],
        image_size=opts["image_size"],
        seed=opts["seed"],
        accumulate=opts["accumulate"],
        cache_decoded=opts["cache_decoded"],
        **settings,
    )
    config.validate()  # a clear message before any data is read
    _train_and_report(model, config, opts, quiet, as_json)


# options that still apply with --resume
_RESUME_OPTIONS = {
    "out",
    "epochs",
    "data_dir",
    "device",
    "resume",
    "download",
    "quiet",
    "as_json",
    "num_workers",
    "cache_decoded",
}


def _given_on_command_line(names: set[str]) -> list[str]:
    ctx = click.get_current_context()
    given = [
        p
        for p in ctx.command.params
        if p.name in names and ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE
    ]
    return [p.opts[0] for p in given]


def _rank() -> int:
    try:
        return int(os.environ.get("RANK", "0") or 0)
    except ValueError:
        return 0


def _train_and_report(
    model: str, config: Any, opts: dict[str, Any], quiet: bool, as_json: bool, resume_note: str | None = None
) -> None:
    from cohiclust_extra.training import train as run_training

    rank = _rank()
    started = time.perf_counter()
    try:
        with quiet_library_warnings(quiet), _EpochProgress(quiet or as_json or rank != 0, resume_note) as progress:
            result = run_training(
                config,
                opts["out"],
                device=opts["device"],
                resume=opts["resume"],
                progress=progress,
                download=opts["download"],
            )
    except ValueError:
        if rank != 0:  # a setting every rank refuses alike: rank 0 alone says so (one line)
            sys.exit(1)
        raise
    if rank != 0:
        return  # only rank 0 reports
    elapsed = time.perf_counter() - started
    metrics = result["metrics"]
    if as_json:
        echo_json({"out_dir": result["out_dir"], "seconds": round(elapsed, 2), "metrics": metrics})
    elif not quiet:
        _print_summary(model, result, elapsed)


class _EpochProgress:
    """A rich bar per epoch with the running losses on a terminal; one log line per milestone otherwise."""

    def __init__(self, quiet: bool, resume_note: str | None = None) -> None:
        self.quiet = quiet
        self.resume_note = resume_note  # printed once train() has found the checkpoint to resume
        self.err = stderr_console()
        self.bar = None
        self.task = None
        self.start = time.perf_counter()
        self.total = 0

    def __enter__(self):
        if not self.quiet and self.err.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[losses]}"),
                TimeElapsedColumn(),
                console=self.err,
                transient=True,
            )
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, event: str, payload: dict) -> None:
        if self.quiet:
            return
        if event == "message" or (event == "resume" and self.resume_note):
            text = payload["text"] if event == "message" else self.resume_note
            self.err.print(f"[yellow]note:[/] {markup_safe(text)}", highlight=False)
        elif event == "epoch_start":
            self.total = payload["total"]
            if self.bar is not None:
                if self.task is not None:
                    self.bar.remove_task(self.task)
                self.task = self.bar.add_task(
                    f"epoch {payload['epoch']}/{payload['total']} {payload['phase']}", total=payload["steps"], losses=""
                )
        elif event == "step" and self.bar is not None and self.task is not None:
            losses = "  ".join(f"{k} {v:.4f}" for k, v in payload["losses"].items())
            self.bar.update(self.task, completed=payload["step"], losses=losses)
        elif event == "epoch_end":
            row = payload["row"]
            every = max(1, self.total // 10)
            if self.bar is not None or row["epoch"] % every == 0 or row["epoch"] == self.total or row["epoch"] == 1:
                skip = {"epoch", "phase", "seconds", "pruned_leaf"}
                text = "  ".join(
                    f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items() if k not in skip
                )
                elapsed = time.perf_counter() - self.start
                self.err.print(
                    f"[{elapsed:7.1f}s] epoch {row['epoch']}/{self.total} {row['phase']}: {text}", highlight=False
                )


def _print_summary(model: str, result: dict, elapsed: float) -> None:

    out = result["out_dir"]
    title = Text(printable(f"{model} run -> {out} ({elapsed:.1f} s)"))  # Text: no markup in a path
    table = summary_table(title)
    metrics = result["metrics"]
    if metrics:
        table.add_row("points / leaves", f"{metrics['n_points']:,} / {metrics['n_leaves']}")
        for key in ("acc", "nmi", "ari", "lp", "dp", "lhd"):
            value = metrics.get(key)
            table.add_row(key.upper(), score_text(value))
    else:
        table.add_row("metrics", "none (the dataset has no labels)")
    table.add_row("files", "logits.npy leaf_probs.npy assignments.npy tree.nwk tree.json history.csv checkpoint.pt")
    stdout_console().print(table)


@click.command("predict", epilog=examples("l2h predict runs/cc --dataset cifar10 --split test -o runs/cc/test"))
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--dataset", metavar=_DATASET_METAVAR, default=None, help="Data to score (default: the run's).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Where that dataset lies.")
@labels_option(help="Labels (.npy) for npy features.")
@click.option(
    "--split",
    type=click.Choice(["all", "train", "test"]),
    default="all",
    show_default=True,
    help="Which part of the dataset to score.",
)
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Output folder (default RUN_DIR/predict-<dataset>-<split>).",
)
@click.option(
    "--device",
    type=click.Choice(DEVICES),
    default="auto",
    show_default=True,
    help="Where to run the model (auto: CUDA, then MPS, then CPU).",
)
@click.option(
    "--num-workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="DataLoader worker processes that read and decode the data.",
)
@click.option("--download", is_flag=True, help="Download CIFAR/STL-10 when missing (needs internet).")
@json_option()
@quiet_option("No summary line.")
def predict(
    run_dir: Path,
    dataset: str | None,
    data_dir: Path | None,
    labels_path: Path | None,
    split: str,
    out: Path | None,
    device: str,
    num_workers: int,
    download: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Write logits of a trained model (l2h train) for new data."""
    _check_dataset(dataset)
    _require_torch()
    from cohiclust_extra.training import predict as run_predict

    target = out or run_dir / f"predict-{dataset or 'data'}-{split}"
    summary = run_predict(
        run_dir,
        target,
        dataset=dataset,
        data_dir=str(data_dir) if data_dir else None,
        split=split,
        labels_path=str(labels_path) if labels_path else None,
        device=device,
        download=download,
        num_workers=num_workers,
    )
    if as_json:
        echo_json(summary)
    elif not quiet:
        print_line(f"{summary['n_points']:,} points x {summary['n_columns']} logits -> {summary['out_dir']}/logits.npy")
