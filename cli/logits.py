"""``l2h logits``: the logits of a pretrained torchvision or timm model over a dataset (train extra)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from l2h_cli._common import echo_json, print_line, progress_reporter, quiet_library_warnings, stderr_console
from l2h_cli._inputs import examples, images_option, json_option, labels_option, max_pixels_option, quiet_option

from cohiclust_extra.data import DATASETS  # declared where dispatched (data.LOADERS); importing it needs no torch
from l2h.text import markup_safe

DEVICES = ("auto", "cpu", "cuda", "mps")


@click.command(
    "logits",
    short_help="Logits of a pretrained torchvision or timm model.",
    epilog=examples("l2h logits --model torchvision:resnet50 --images photos/ -o logits.npy"),
)
@click.option(
    "--model",
    "spec",
    required=True,
    metavar="torchvision:NAME|timm:NAME",
    help="The classifier, e.g. torchvision:resnet50 or timm:convnext_tiny.",
)
@click.option(
    "--weights",
    default="DEFAULT",
    show_default=True,
    metavar="DEFAULT|TAG|PATH",
    help="Hub weights (DEFAULT, or a tag such as IMAGENET1K_V2), or a local state dict file.",
)
@images_option(
    help="A folder of class sub-folders (labels from their names), a flat folder, a text list of paths, or an .npy.",
    dest="images",
)
@click.option(
    "--dataset",
    metavar="[" + "|".join(DATASETS) + "]",
    default=None,
    help="Instead of --images: any dataset `l2h train` reads (from --data-dir).",
)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Where --dataset lies.")
@click.option(
    "--split", type=click.Choice(["all", "train", "test"]), default="all", show_default=True, help="Part of --dataset."
)
@labels_option(help="Labels (.npy) for --dataset npy.")
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The logits file (.npy); paths.txt, labels.npy, class names go beside it.",
)
@click.option("--resize", type=click.IntRange(min=1), default=None, help="Resize side (default: the model's).")
@click.option("--crop", type=click.IntRange(min=1), default=None, help="Centre-crop side (default: the model's).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="Images per batch.")
@click.option(
    "--num-workers", type=click.IntRange(min=0), default=0, show_default=True, help="Image-loading processes."
)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True, help="Where the model runs.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from the rows already written.")
@quiet_option()
@json_option("Print a machine-readable summary on stdout.")
@max_pixels_option
def logits(
    spec: str,
    weights: str,
    images: Path | None,
    dataset: str | None,
    data_dir: Path | None,
    split: str,
    labels_path: Path | None,
    out: Path,
    resize: int | None,
    crop: int | None,
    batch_size: int,
    num_workers: int,
    device: str,
    resume: bool,
    quiet: bool,
    as_json: bool,
    max_pixels: int,
) -> None:
    """Write the logits of a pretrained classifier over a set of images.

    The model's own preprocessing (resize, centre crop, normalisation) is applied unless --resize or
    --crop override it. Rows follow paths.txt; labels.npy and class_names.txt are written when the
    images come in class folders or from a labelled dataset, model_class_names.txt when the weights
    name their classes (feed it to `l2h build --leaf-names`).
    """
    if out.suffix.lower() != ".npy":
        raise click.ClickException(f"--out must be a .npy file; got {out}")
    if dataset is not None and dataset not in DATASETS:
        raise click.ClickException(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError:
        raise click.ClickException('l2h logits needs PyTorch: pip install "l2h[train]"') from None
    from cohiclust_extra.pretrained import compute_logits, image_source

    started = time.perf_counter()
    source = image_source(
        images, dataset, data_dir=data_dir, split=split, labels_path=labels_path, max_pixels=max_pixels
    )
    err = stderr_console()

    def note(text: str) -> None:
        if not quiet:
            err.print(f"[yellow]note:[/] {markup_safe(text)}", highlight=False)

    with quiet_library_warnings(quiet), progress_reporter(quiet or as_json) as progress:
        summary = compute_logits(
            spec,
            weights,
            source,
            out,
            batch_size=batch_size,
            num_workers=num_workers,
            device=device,
            resize=resize,
            crop=crop,
            resume=resume,
            progress=progress,
            note=note,
        )
    summary["seconds"] = round(time.perf_counter() - started, 2)
    if as_json:
        echo_json(summary)
    elif not quiet:
        print_line(
            f"{summary['n_rows']:,} images x {summary['n_columns']} logits ({summary['model']}, "
            f"{summary['device']}, {summary['seconds']:.1f} s) -> {out}; also " + ", ".join(summary["files"][1:])
        )
