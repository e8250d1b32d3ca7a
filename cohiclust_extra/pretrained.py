"""Logits of a pretrained classifier over a dataset: what ``l2h logits`` computes.

A model is named ``torchvision:NAME`` (any classification model of ``torchvision.models``) or
``timm:NAME`` (needs timm, the ``models`` extra).  Its weights are ``DEFAULT`` (the hub's weights:
torchvision's ``DEFAULT`` enum, timm's default pretrained tag; fetched once into the torch/HF cache,
so a machine without internet needs them cached or a file), another hub tag (``IMAGENET1K_V2``), or a
local file: a state dict (``.pt``/``.pth``/``.bin``, read with ``torch.load(weights_only=True)``, or
``.safetensors``), possibly wrapped in ``{"state_dict": ...}`` / ``{"model": ...}`` or saved from
``DataParallel``.  A state dict whose classifier has another number of classes builds the model with
that many.

Preprocessing is the model's own: ``weights.transforms()`` for torchvision (for a local file, the
``DEFAULT`` weights' transforms of the architecture: they are metadata, nothing is downloaded) and
``resolve_data_config`` + ``create_transform`` for timm; ``resize``/``crop`` override the resize and
the centre crop.

Rows are streamed: a DataLoader (``num_workers`` processes) reads and transforms the images batch by
batch, and each batch's logits go straight into a ``.npy`` memory map beside the output, with a small
JSON file that records how many rows are done; ``resume=True`` continues from there.  The finished
file is renamed into place with the other outputs (:class:`l2h.files.OutputSet`), so an interrupted
run never leaves a half-written ``logits.npy``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cohiclust_extra.data import IMAGE_SUFFIXES, DatasetError
from cohiclust_extra.device import resolve_device
from l2h.images import DEFAULT_MAX_PIXELS, ImageTooLarge, open_image
from l2h.text import printable

__all__ = ["ImageSource", "LoadedModel", "compute_logits", "image_source", "load_model"]

_WEIGHT_FILE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors")


class LogitsError(ValueError):
    """Bad model, weights or images (one-line message for the CLI)."""


class DiskFullError(LogitsError):
    """The output's folder has no room for the logits (one line naming the output)."""


#: Largest --resize / --crop side: far above any classifier's input (224-600 px), far below a side
#: whose one batch would fill the memory (a 100 000 px crop is 120 GB per image).
MAX_IMAGE_SIDE = 4096


def check_image_sides(resize: int | None, crop: int | None) -> None:
    """Refuse a ``--resize`` or ``--crop`` side outside 1..``MAX_IMAGE_SIDE`` before any work.

    Examples
    --------
    >>> check_image_sides(256, 224)
    >>> check_image_sides(None, 100_000)
    Traceback (most recent call last):
        ...
    cohiclust_extra.pretrained.LogitsError: --crop must be 1 to 4096 pixels; got 100000
    """
    for flag, side in (("--resize", resize), ("--crop", crop)):
        if side is not None and not 1 <= int(side) <= MAX_IMAGE_SIDE:
            raise LogitsError(f"{flag} must be 1 to {MAX_IMAGE_SIDE} pixels; got {side}")


def paths_text(paths: Sequence[str]) -> str:
    """``paths.txt``: one path per line, each line ending at ``\\n``; it reads back exactly.

    A path with a line break cannot be listed so: :class:`LogitsError` (image sources refuse such
    names before the model runs).

    Examples
    --------
    >>> paths_text(["a.png", "b c.png"])
    'a.png\\nb c.png\\n'
    """
    for path in paths:
        _check_listable(path)
    return "".join(f"{path}\n" for path in paths)


def _check_listable(path: str) -> None:
    if "\n" in path or "\r" in path:
        from l2h.text import printable

        raise LogitsError(
            f"--images: the file name {printable(path)} holds a line break, which paths.txt (one path per line) "
            "cannot list; rename the file"
        )


# ---------------------------------------------------------------------------------------------- images
@dataclass
class ImageSource:
    """What to run the model on, resolved before the model is loaded (bad inputs fail fast).

    ``make(transform)`` builds the torch dataset; ``paths`` names every row (written to paths.txt).
    """

    paths: list[str]
    make: Callable[[Callable[[Any], torch.Tensor]], torch.utils.data.Dataset]
    labels: np.ndarray | None = None
    class_names: list[str] | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    inputs: list[Path] = field(default_factory=list)  # files to guard against being overwritten

    def __len__(self) -> int:
        return len(self.paths)


class ImageFiles(torch.utils.data.Dataset):
    """Images read from files, transformed; item ``i`` is ``(tensor, i, error message or "")``."""

    def __init__(
        self, paths: Sequence[str], transform: Callable[[Any], torch.Tensor], max_pixels: int = DEFAULT_MAX_PIXELS
    ) -> None:
        self.paths = list(paths)
        self.transform = transform
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, str]:
        path = self.paths[index]
        try:  # the pixel budget is checked from the header, in this (maybe worker) process
            with open_image(path, self.max_pixels) as img:
                x = self.transform(img.convert("RGB"))
        except ImageTooLarge as exc:
            return torch.zeros(0), index, str(exc)
        except Exception as exc:  # noqa: BLE001 - a worker's exception would come back as a traceback
            return torch.zeros(0), index, f"cannot read image {printable(path)}: {exc}".splitlines()[0]
        return x, index, ""


class ImageArray(torch.utils.data.Dataset):
    """Images from an array (``(N, C, H, W)``, ``(N, H, W, C)`` or ``(N, H, W)``, uint8 or float in
    [0, 1]) or from a dataset's sample source (read on demand)."""

    def __init__(self, images: Any, transform: Callable[[Any], torch.Tensor]) -> None:
        self.images = images
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, str]:
        from PIL import Image

        if isinstance(self.images, (np.ndarray, torch.Tensor)):
            img = np.asarray(self.images[index])
        else:  # a cohiclust_extra.data Source: samples read on demand
            try:
                img = np.asarray(self.images.take(np.array([index]))[0])
            except (OSError, ValueError) as exc:
                return torch.zeros(0), index, str(exc).splitlines()[0]
        if img.dtype != np.uint8:
            img = np.clip(np.rint(img.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
        if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
            img = img.transpose(1, 2, 0)  # CHW -> HWC
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        pil = Image.fromarray(np.ascontiguousarray(img)).convert("RGB")
        return self.transform(pil), index, ""


def collate(batch: list[tuple[torch.Tensor, int, str]]) -> tuple[torch.Tensor | None, torch.Tensor, str]:
    """Stack a batch; the first read error, if any, replaces the tensor."""
    errors = [err for _, _, err in batch if err]
    index = torch.tensor([i for _, i, _ in batch], dtype=torch.int64)
    if errors:
        return None, index, errors[0]
    return torch.stack([x for x, _, _ in batch]), index, ""


def _list_images(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
        key=lambda p: p.relative_to(folder).as_posix(),
    )


def image_source(
    images: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    split: str = "all",
    labels_path: str | os.PathLike[str] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageSource:
    """Resolve ``--images`` (a class-folder tree, a flat folder, a text list of paths or an ``.npy``
    of images) or ``--dataset`` (any dataset ``l2h train`` reads) into an :class:`ImageSource`.

    Image files are opened with a pixel budget of ``max_pixels`` (checked from each header, see
    :func:`l2h.images.open_image`); a file name with a line break is refused (paths.txt lists them)."""
    if (images is None) == (dataset is None):
        raise LogitsError("give exactly one of --images and --dataset")
    if dataset is not None:
        return _dataset_source(dataset, data_dir, split, labels_path)
    path = Path(images)  # type: ignore[arg-type]
    if not path.exists():
        raise LogitsError(f"--images not found: {path}")
    if path.is_dir():
        classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
        per_class = [(c, _list_images(path / c)) for c in classes]
        per_class = [(c, files) for c, files in per_class if files]
        if per_class:  # ImageFolder layout: sub-folder names are the classes
            loose = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
            if loose:
                raise LogitsError(
                    f"--images {path} holds both class sub-folders and {len(loose)} loose images "
                    f"(e.g. {loose[0].name}); put every image in a class folder, or pass a list of paths"
                )
            names = [c for c, _ in per_class]
            files = [f for _, fs in per_class for f in fs]
            for file in files:
                _check_listable(str(file))
            labels = np.concatenate([np.full(len(fs), k, dtype=np.int64) for k, (_, fs) in enumerate(per_class)])
            paths = [str(f) for f in files]
            return ImageSource(
                paths, lambda t: ImageFiles(paths, t, max_pixels), labels=labels, class_names=names, inputs=list(files)
            )
        files = _list_images(path)
        if not files:
            raise LogitsError(f"--images {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        paths = [str(f) for f in files]
        for file_path in paths:
            _check_listable(file_path)
        return ImageSource(paths, lambda t: ImageFiles(paths, t, max_pixels), inputs=list(files))
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise LogitsError(f"--images {path} is not a readable .npy file: {exc}".splitlines()[0]) from None
        if array.ndim not in (3, 4) or not (np.issubdtype(array.dtype, np.number)):
            raise LogitsError(
                f"--images {path} must hold images (N, H, W), (N, H, W, C) or (N, C, H, W); "
                f"got {array.shape} {array.dtype}"
            )
        paths = [f"{path}[{i}]" for i in range(array.shape[0])]
        return ImageSource(paths, lambda t: ImageArray(array, t), inputs=[path])
    try:
        lines = path.read_text(encoding="utf-8").split("\n")  # "\n" only: U+2028 may be in a file name
    except (OSError, UnicodeDecodeError) as exc:
        raise LogitsError(f"--images {path} cannot be read as a text list of image paths: {exc}") from None
    base = path.parent
    paths = []
    for lineno, line in enumerate(lines, start=1):
        entry = line.removesuffix("\r").strip(" \t")
        if not entry or entry.startswith("#"):
            continue
        file = Path(entry) if Path(entry).is_absolute() else base / entry
        if not file.is_file():
            raise LogitsError(f"--images {path}, line {lineno}: no such image file: {file}")
        paths.append(str(file))
    if not paths:
        raise LogitsError(f"--images {path} lists no image paths")
    return ImageSource(paths, lambda t: ImageFiles(paths, t, max_pixels), inputs=[path, *map(Path, paths)])


def _dataset_source(name: str, data_dir: Any, split: str, labels_path: Any) -> ImageSource:
    from cohiclust_extra.data import load_dataset

    data = load_dataset(name, data_dir, split=split, labels_path=labels_path)
    if len(data.sample_shape) != 3:
        raise LogitsError(f"dataset {name} holds features of shape {data.sample_shape}, not images")
    paths = [f"{name}:{split}[{i}]" for i in range(len(data))]
    extra = {} if data.fine_labels is None else {"fine_labels": data.fine_labels}
    return ImageSource(
        paths,
        lambda t: ImageArray(data.source, t),
        labels=data.labels,
        class_names=data.class_names,
        extra=extra,
        inputs=[Path(labels_path)] if labels_path else [],
    )


# ---------------------------------------------------------------------------------------------- models
@dataclass
class LoadedModel:
    model: torch.nn.Module
    transform: Callable[[Any], torch.Tensor]
    class_names: list[str] | None
    description: str
    notes: list[str] = field(default_factory=list)


def _is_weight_file(weights: str) -> bool:
    return Path(weights).suffix.lower() in _WEIGHT_FILE_SUFFIXES or os.sep in weights or Path(weights).exists()


def load_model(
    spec: str, weights: str = "DEFAULT", *, resize: int | None = None, crop: int | None = None
) -> LoadedModel:
    """The model ``spec`` (``torchvision:NAME`` / ``timm:NAME``) with ``weights``, in eval mode, and its
    preprocessing (see the module docstring)."""
    library, _, name = spec.partition(":")
    if not name or library not in ("torchvision", "timm"):
        raise LogitsError(f"--model must be torchvision:NAME or timm:NAME; got {spec!r}")
    if library == "torchvision":
        loaded = _torchvision_model(name, weights, resize, crop)
    else:
        loaded = _timm_model(name, weights, resize, crop)
    loaded.model.eval()
    return loaded


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    import pickle
    import warnings

    if not path.is_file():
        raise LogitsError(f"--weights file not found: {path}")
    if path.suffix.lower() == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise LogitsError("reading .safetensors weights needs the safetensors package") from None
        try:
            return load_file(str(path))
        except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
            raise LogitsError(f"--weights {path} is not a readable safetensors file: {exc}".splitlines()[0]) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise LogitsError(
            f"--weights {path} holds pickled Python objects, which are never loaded (weights_only=True); "
            "save the model's state_dict() instead"
        ) from None
    except Exception as exc:  # noqa: BLE001
        raise LogitsError(f"--weights {path} cannot be loaded as a state dict: {exc}".splitlines()[0]) from None
    for key in ("state_dict", "model", "model_state_dict", "state_dict_ema"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise LogitsError(f"--weights {path} does not hold a state dict (a dict of tensors)")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def _fit_state_dict(
    spec: str, build: Callable[[int | None], torch.nn.Module], state: dict[str, torch.Tensor], path: Path
) -> torch.nn.Module:
    """Build the architecture (with the state dict's number of classes when it differs) and load it."""
    model = build(None)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        shown = (f"missing {missing[0]!r}" if missing else "") + (
            f"{', ' if missing else ''}unexpected {unexpected[0]!r}" if unexpected else ""
        )
        raise LogitsError(
            f"--weights {path} does not fit {spec}: {len(missing)} missing and {len(unexpected)} unexpected keys "
            f"({shown}); is it a state dict of this architecture?"
        )
    differ = [k for k in own if tuple(own[k].shape) != tuple(state[k].shape)]
    if differ:
        heads = {int(state[k].shape[0]) for k in differ if state[k].ndim >= 1}
        same_rest = all(state[k].shape[1:] == own[k].shape[1:] for k in differ)
        if len(heads) != 1 or not same_rest:
            k = differ[0]
            raise LogitsError(
                f"--weights {path} does not fit {spec}: {k!r} has shape {tuple(state[k].shape)}, "
                f"the model expects {tuple(own[k].shape)}"
            )
        model = build(heads.pop())
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise LogitsError(f"--weights {path} does not fit {spec}: {exc}".splitlines()[0]) from None
    return model


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Hold back what a hub download prints on stderr; show it only if the download succeeded."""
    import logging

    buffer = io.StringIO()
    hub_logger = logging.getLogger("huggingface_hub")  # logs each retry of an offline request
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(buffer):
            yield
    finally:
        hub_logger.setLevel(level)
    sys.stderr.write(buffer.getvalue())


@contextlib.contextmanager
def _hub_offline_unless_reachable() -> Iterator[None]:
    """Without a route to the Hugging Face hub, use its cache only (else each file is retried for ~25 s)."""
    import socket

    try:
        import huggingface_hub.constants as hub
    except ImportError:
        yield
        return
    previous = hub.HF_HUB_OFFLINE
    try:
        socket.getaddrinfo("huggingface.co", 443)
    except OSError:
        hub.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hub.HF_HUB_OFFLINE = previous


def _offline_message(spec: str, what: str, url: str, exc: BaseException) -> LogitsError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return LogitsError(
        f"cannot fetch the {what} weights of {spec} ({reason}); without internet, download {url} on a machine "
        "that has it and pass the file with --weights PATH"
    )


def _torchvision_model(name: str, weights: str, resize: int | None, crop: int | None) -> LoadedModel:
    import torchvision
    from torchvision.transforms._presets import ImageClassification

    spec = f"torchvision:{name}"
    available = set(torchvision.models.list_models(module=torchvision.models))
    if name not in available:
        import difflib

        close = difflib.get_close_matches(name, sorted(available), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise LogitsError(f"torchvision has no classification model {name!r}{hint}")
    enum = torchvision.models.get_model_weights(name)
    notes: list[str] = []
    if _is_weight_file(weights):
        path = Path(weights)
        state = _read_state_dict(path)

        def build(num_classes: int | None) -> torch.nn.Module:
            kwargs: dict[str, Any] = {} if num_classes is None else {"num_classes": num_classes}
            return torchvision.models.get_model(name, weights=None, **kwargs)

        model = _fit_state_dict(spec, build, state, path)
        meta_weights = enum.DEFAULT
        description = f"{spec} with {path}"
        class_names = None
    else:
        try:
            meta_weights = enum[weights] if weights != "DEFAULT" else enum.DEFAULT
        except KeyError:
            choices = ", ".join(["DEFAULT", *(w.name for w in enum)])
            raise LogitsError(f"{spec} has no weights {weights!r}; expected a file or one of {choices}") from None
        try:
            with _quiet_stderr():  # torch.hub's "Downloading: ..." line and bar would break the one-line error
                model = torchvision.models.get_model(name, weights=meta_weights)
        except Exception as exc:  # noqa: BLE001 - URLError, hub errors: offline
            raise _offline_message(spec, meta_weights.name, meta_weights.url, exc) from None
        description = f"{spec} with {meta_weights}"
        class_names = list(meta_weights.meta.get("categories") or []) or None
    base = meta_weights.transforms()
    transform = base
    if resize is not None or crop is not None:
        crop_size = crop if crop is not None else base.crop_size[0]
        resize_size = resize if resize is not None else round(base.resize_size[0] * crop_size / base.crop_size[0])
        transform = ImageClassification(
            crop_size=crop_size,
            resize_size=resize_size,
            mean=base.mean,
            std=base.std,
            interpolation=base.interpolation,
            antialias=base.antialias,
        )
    if _is_weight_file(weights):
        categories = meta_weights.meta.get("categories") or []
        out_features = _n_outputs(model)
        if categories and out_features == len(categories):
            class_names = list(categories)
            notes.append(
                f"class names taken from {meta_weights}: the file's {out_features} outputs are assumed to be "
                "the same classes"
            )
    return LoadedModel(model, transform, class_names, description, notes)


def _n_outputs(model: torch.nn.Module) -> int | None:
    for attr in ("num_classes",):
        if isinstance(getattr(model, attr, None), int):
            return int(getattr(model, attr))
    last = None
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            last = module
    return None if last is None else int(last.out_features)


def _timm_model(name: str, weights: str, resize: int | None, crop: int | None) -> LoadedModel:
    try:
        import timm
        from timm.data import create_transform, resolve_data_config
    except ImportError:
        raise LogitsError('timm models need timm: pip install "l2h[models]"') from None
    spec = f"timm:{name}"
    if not timm.is_model(name.split(".")[0]):
        import difflib

        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise LogitsError(f"timm has no model {name!r}{hint}")
    class_names = None
    if _is_weight_file(weights):
        path = Path(weights)
        state = _read_state_dict(path)

        def build(num_classes: int | None) -> torch.nn.Module:
            kwargs: dict[str, Any] = {} if num_classes is None else {"num_classes": num_classes}
            return timm.create_model(name, pretrained=False, **kwargs)

        model = _fit_state_dict(spec, build, state, path)
        description = f"{spec} with {path}"
    else:
        tagged = name if weights == "DEFAULT" else f"{name.split('.')[0]}.{weights}"
        try:
            with _quiet_stderr(), _hub_offline_unless_reachable():
                model = timm.create_model(tagged, pretrained=True)
        except Exception as exc:  # noqa: BLE001 - hub errors when offline
            cfg = timm.models.get_pretrained_cfg(tagged) if hasattr(timm.models, "get_pretrained_cfg") else None
            hub = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
            url = f"https://huggingface.co/{hub}" if hub else "the weights"
            raise _offline_message(spec, weights, url, exc) from None
        description = f"{spec} with {weights} weights"
        class_names = _timm_class_names(model)
    config = resolve_data_config({}, model=model)
    if resize is not None or crop is not None:
        side = crop if crop is not None else config["input_size"][-1]
        config["input_size"] = (config["input_size"][0], side, side)
        if resize is not None:
            config["crop_pct"] = side / resize
    transform = create_transform(**config, is_training=False)
    return LoadedModel(model, transform, class_names, description)


def _timm_class_names(model: torch.nn.Module) -> list[str] | None:
    try:
        from timm.data import ImageNetInfo, infer_imagenet_subset

        subset = infer_imagenet_subset(model)
        if not subset:
            return None
        names = ImageNetInfo(subset).label_descriptions()
    except Exception:  # noqa: BLE001 - names are a bonus
        return None
    names = [str(n) for n in names]
    return names if len(names) == _n_outputs(model) else None


# ---------------------------------------------------------------------------------------------- the run
def _partial_paths(out: Path) -> tuple[Path, Path]:
    return out.with_name(f".{out.name}.partial.npy"), out.with_name(f".{out.name}.partial.json")


def _fingerprint(spec: str, weights: str, source: ImageSource, transform: Any) -> str:
    digest = hashlib.sha256()
    weight_id = weights
    if _is_weight_file(weights) and Path(weights).is_file():
        st = Path(weights).stat()
        weight_id = f"{Path(weights).resolve()}:{st.st_size}:{st.st_mtime_ns}"
    for part in (spec, weight_id, repr(transform), str(len(source))):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    for p in source.paths:
        digest.update(p.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


@dataclass
class _Plan:
    """Where a run writes: the outputs (by label), its inputs, and the partial rows with their state."""

    out: Path
    files: dict[str, Path]
    inputs: dict[str, Any]
    partial: Path
    state_path: Path


def _plan_outputs(out: Path, source: ImageSource, weights: str) -> _Plan:
    """Every file of the run, checked (folders, clashes with the inputs) before the model is loaded."""
    from l2h.files import OutputSet

    folder = out.parent if str(out.parent) else Path(".")
    partial, state_path = _partial_paths(out)
    files = {"--out": out, "paths": folder / "paths.txt"}
    if source.labels is not None:
        files["labels"] = folder / "labels.npy"
    if source.class_names is not None:
        files["class names"] = folder / "class_names.txt"
    for key in source.extra:
        files[key] = folder / f"{key}.npy"
    files["model class names"] = folder / "model_class_names.txt"
    files["--out (rows written so far)"] = state_path
    inputs: dict[str, Any] = {"--images": source.inputs}
    if _is_weight_file(weights):
        inputs["--weights"] = Path(weights)
    OutputSet(inputs=inputs, outputs={**files, "partial rows": partial})
    return _Plan(out, files, inputs, partial, state_path)


def _resume_point(plan: _Plan, fingerprint: str, n: int, resume: bool, say: Callable[[str], None]) -> tuple[Any, int]:
    """The partial rows to continue (a memory map) and the first row to compute, or ``(None, 0)``."""
    partial, state_path = plan.partial, plan.state_path
    if not (partial.exists() and state_path.exists()):
        if resume:
            say("nothing to resume; starting from the first row")
        return None, 0
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        state = {}
    if not resume:
        say(f"starting over: {partial} holds rows of an earlier run (pass --resume to continue it)")
        return None, 0
    if state.get("fingerprint") != fingerprint:
        raise LogitsError(
            f"the rows in {partial} come from another run (model, weights, preprocessing or images differ); "
            "delete them or run without --resume"
        )
    try:
        memmap = np.lib.format.open_memmap(partial, mode="r+")
    except (OSError, ValueError):
        return None, 0
    if memmap.shape[0] != n or memmap.dtype != np.float32:
        return None, 0
    try:
        _reserve(partial, memmap.offset + memmap.nbytes, plan.out)
    except DiskFullError as exc:  # not a DiskFullError: the rows already written are the user's to keep
        raise LogitsError(f"{exc}; the rows written so far stay in {partial} for --resume") from None
    start = int(state.get("rows_done", 0))
    say(f"resuming at row {start:,} of {n:,}")
    return memmap, start


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _disk_full(out: Path, nbytes: int | None, exc: OSError) -> DiskFullError:
    folder = out.parent if str(out.parent) else Path(".")
    need = f" ({nbytes / 1e6:,.1f} MB)" if nbytes else ""
    return DiskFullError(f"--out {out}: no room for the logits{need} in {folder}: {exc.strerror or exc}")


def _reserve(path: Path, nbytes: int, out: Path) -> None:
    """Allocate ``nbytes`` of ``path`` on disk now (``posix_fallocate``), so that writing the memory
    map later can neither hit ENOSPC nor die from SIGBUS on a filesystem that fills."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, nbytes)
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise _disk_full(out, nbytes, exc) from None
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
        free = os.statvfs(path)  # no fallocate here: refuse when the free space is already too small
        if free.f_bavail * free.f_frsize < nbytes - os.fstat(fd).st_blocks * 512:
            raise _disk_full(out, nbytes, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) from None
    finally:
        os.close(fd)


def _new_rows(plan: _Plan, n: int, n_columns: int) -> Any:
    """A new float32 ``.npy`` memory map of ``n`` x ``n_columns`` rows, its space reserved on disk."""
    try:
        memmap = np.lib.format.open_memmap(plan.partial, mode="w+", dtype=np.float32, shape=(n, n_columns))
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise _disk_full(plan.out, n * n_columns * 4, exc) from None
        raise
    _reserve(plan.partial, memmap.offset + memmap.nbytes, plan.out)
    return memmap


def _drop_partial(plan: _Plan) -> None:
    for path in (plan.partial, plan.state_path, plan.state_path.with_name(plan.state_path.name + ".tmp")):
        with contextlib.suppress(OSError):
            path.unlink()


def _run_batches(
    model: torch.nn.Module,
    loader: Any,
    plan: _Plan,
    memmap: Any,
    n: int,
    spec: str,
    torch_device: torch.device,
    save_state: Callable[[int], None],
    progress: Callable[[str, int, int], None] | None,
) -> Any:
    """Run the model batch by batch, each batch's rows straight into the memory map; returns the map."""
    with torch.inference_mode():
        for x, index, error in loader:
            if error:
                raise LogitsError(error)
            assert x is not None
            logits = model(x.to(torch_device, non_blocking=True))
            if isinstance(logits, (tuple, list)):
                logits = logits[0]
            rows = logits.float().cpu().numpy()
            if rows.ndim != 2:
                raise LogitsError(f"{spec} returns outputs of shape {tuple(rows.shape)}; expected (batch, classes)")
            if memmap is None:
                memmap = _new_rows(plan, n, rows.shape[1])
            elif memmap.shape[1] != rows.shape[1]:
                raise LogitsError(f"{spec} returned {rows.shape[1]} columns; the resumed rows have {memmap.shape[1]}")
            first = int(index[0])
            if int(index[-1]) - first + 1 != rows.shape[0]:
                raise RuntimeError("the data loader returned rows out of order")
            memmap[first : first + rows.shape[0]] = rows
            done = first + rows.shape[0]
            memmap.flush()
            save_state(done)
            if progress is not None:
                progress("images", done, n)
    return memmap


def _commit(plan: _Plan, source: ImageSource, model_class_names: list[str] | None) -> list[str]:
    """Rename the rows into place with paths.txt and the other companions, all together."""
    from l2h.files import OutputSet

    files, out = plan.files, plan.out
    written = [out.name, "paths.txt"]
    with OutputSet(inputs=plan.inputs, outputs=files) as outputs:
        outputs.write_with(out, lambda tmp: os.replace(plan.partial, tmp))
        outputs.write_text(files["paths"], paths_text(source.paths))
        if source.labels is not None:
            outputs.save_npy(files["labels"], np.asarray(source.labels, dtype=np.int64))
            written.append("labels.npy")
        if source.class_names is not None:
            outputs.write_text(files["class names"], "".join(_one_line(c) + "\n" for c in source.class_names))
            written.append("class_names.txt")
        for key, values in source.extra.items():
            outputs.save_npy(files[key], values)
            written.append(f"{key}.npy")
        if model_class_names is not None:
            outputs.write_text(files["model class names"], "".join(_one_line(c) + "\n" for c in model_class_names))
            written.append("model_class_names.txt")
        outputs.remove(plan.state_path)
    return written


def compute_logits(
    spec: str,
    weights: str,
    source: ImageSource,
    out: str | os.PathLike[str],
    *,
    batch_size: int = 64,
    num_workers: int = 0,
    device: str = "auto",
    resize: int | None = None,
    crop: int | None = None,
    resume: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the model over ``source`` and write ``out`` (logits, float32 N x C) and its companions.

    Writes into ``out``'s folder: ``out`` itself, ``paths.txt`` (the row order), ``labels.npy`` and
    ``class_names.txt`` when the images carry classes (``fine_labels.npy`` for CIFAR-100), and
    ``model_class_names.txt`` when the weights name their outputs.  All are committed together.
    The rows' disk space is reserved before the first row is written: a disk that fills is one
    line naming ``out``, and then no partial rows are left behind.

    Returns a summary dict (rows, columns, files written, device, resumed rows).
    """
    out = Path(out)
    say = note or (lambda text: None)
    if batch_size < 1:
        raise LogitsError(f"--batch-size must be at least 1; got {batch_size}")
    if num_workers < 0:
        raise LogitsError(f"--num-workers must be at least 0; got {num_workers}")
    check_image_sides(resize, crop)
    torch_device = resolve_device(device)
    plan = _plan_outputs(out, source, weights)  # fail before loading the model

    loaded = load_model(spec, weights, resize=resize, crop=crop)
    for text in loaded.notes:
        say(text)
    model = loaded.model.to(torch_device)
    fingerprint = _fingerprint(spec, weights, source, loaded.transform)
    n = len(source)

    def save_state(rows: int) -> None:
        tmp = plan.state_path.with_name(plan.state_path.name + ".tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "rows_done": rows, "n_rows": n}))
        os.replace(tmp, plan.state_path)

    try:
        memmap, start = _resume_point(plan, fingerprint, n, resume, say)
        if start < n:
            loader = torch.utils.data.DataLoader(
                torch.utils.data.Subset(source.make(loaded.transform), range(start, n)),
                batch_size=batch_size,
                shuffle=False,
                num_workers=num_workers,
                collate_fn=collate,
                pin_memory=torch_device.type == "cuda",
            )
            memmap = _run_batches(model, loader, plan, memmap, n, spec, torch_device, save_state, progress)
    except DiskFullError:
        _drop_partial(plan)
        raise
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            _drop_partial(plan)
            raise _disk_full(out, None, exc) from None
        raise
    assert memmap is not None
    n_columns = int(memmap.shape[1])
    memmap.flush()
    del memmap
    class_names = loaded.class_names if loaded.class_names and len(loaded.class_names) == n_columns else None
    return {
        "out": str(out),
        "n_rows": n,
        "n_columns": n_columns,
        "resumed_rows": start,
        "model": loaded.description,
        "device": str(torch_device),
        "files": _commit(plan, source, class_names),
    }


def _one_line(text: str) -> str:
    """A name on one line of a text file (newlines would shift every later row)."""
    return str(text).replace("\r", " ").replace("\n", " ")


def dataset_error_types() -> tuple[type[Exception], ...]:
    return (LogitsError, DatasetError)
