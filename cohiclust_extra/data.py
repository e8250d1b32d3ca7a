"""Datasets read from disk (never downloaded unless asked) and the batches that feed the training loop.

=============  ==========================================================  ======================
name           expected under ``--data-dir``                               labels
=============  ==========================================================  ======================
``digits``     nothing: scikit-learn's bundled 8×8 digits (1,797 images)    10 digits
``cifar10``    ``cifar-10-batches-bin/{data,test}_batch*.bin``              10 classes
``cifar100``   ``cifar-100-binary/{train,test}.bin``                        20 superclasses (the
                                                                            paper's protocol); the 100
                                                                            fine classes too
``stl10``      ``stl10_binary/{train,test}_{X,y}.bin``                      10 classes
``folder``     one sub-folder of images per class (``ImageFolder``)         the sub-folder
``npy``        ``--data-dir`` is an ``.npy`` file (N, D) or (N, C, H, W)     ``--labels FILE.npy``
=============  ==========================================================  ======================

CIFAR and STL-10 are read from their *binary* distributions with ``numpy.fromfile`` (nothing is
unpickled).  ``split="all"`` joins train and test, as the papers do.  ``download=True`` fetches the
archives with torchvision's downloader (machines with internet only).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

__all__ = ["DATASETS", "Dataset", "load_dataset", "batches"]

DATASETS = ("digits", "cifar10", "cifar100", "stl10", "folder", "npy")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_URLS = {
    "cifar10": ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "cifar-10-batches-bin"),
    "cifar100": ("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz", "cifar-100-binary"),
}
_CIFAR_MEAN, _CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class DatasetError(ValueError):
    """A dataset is missing, empty or malformed (one-line message for the CLI)."""


@dataclass
class Dataset:
    """An in-memory dataset.

    Attributes
    ----------
    name : str
    x : tensor
        uint8 images ``(N, C, H, W)`` (scaled to [0, 1] per batch) or float32 samples.
    labels : ndarray of int64 or None
    fine_labels : ndarray of int64 or None
        CIFAR-100's 100 classes (``labels`` holds the 20 superclasses).
    class_names : list of str or None
    mean, std : per-channel normalisation of images (None for features)
    """

    name: str
    x: torch.Tensor
    labels: np.ndarray | None = None
    fine_labels: np.ndarray | None = None
    class_names: list[str] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.x.shape[1:])

    @property
    def n_classes(self) -> int | None:
        return None if self.labels is None else int(np.unique(self.labels).size)

    def to_float(self, batch: torch.Tensor) -> torch.Tensor:
        """A batch of ``x`` as float32 (uint8 images to [0, 1])."""
        return batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch.float()


def _missing(name: str, expected: Path, hint: str) -> DatasetError:
    return DatasetError(
        f"{name} not found: expected {expected} ({hint}); put it there, or pass --download on a machine with internet"
    )


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    split: str = "all",
    labels_path: str | os.PathLike[str] | None = None,
    image_size: int = 96,
    download: bool = False,
) -> Dataset:
    """Read dataset ``name`` (see the module table) into memory.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    data_dir : path, optional
        Where the files are (default ``./data``); for ``npy`` the ``.npy`` file itself.
    split : {"all", "train", "test"}
    labels_path : path, optional
        Labels for ``npy`` features (an ``.npy`` of N integers).
    image_size : int
        Side to which ``folder`` images are resized.
    download : bool
        Fetch CIFAR / STL-10 first when missing.
    """
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    if split not in ("all", "train", "test"):
        raise DatasetError(f"split must be all, train or test; got {split!r}")
    root = Path(data_dir) if data_dir is not None else Path("data")
    if name == "digits":
        return _digits(split)
    if name == "npy":
        return _npy(data_dir, labels_path)
    if name == "folder":
        return _folder(root, image_size)
    if name in ("cifar10", "cifar100"):
        return _cifar(name, root, split, download)
    return _stl10(root, split, download)


def _split_indices(n_train: int, n_total: int, split: str) -> slice:
    return {"all": slice(0, n_total), "train": slice(0, n_train), "test": slice(n_train, n_total)}[split]


def _digits(split: str) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy((bunch.images / 16.0).astype(np.float32)).unsqueeze(1)  # (1797, 1, 8, 8) in [0, 1]
    labels = bunch.target.astype(np.int64)
    part = _split_indices(1500, len(labels), split)  # no official split: first 1,500 / last 297
    return Dataset("digits", x[part], labels[part], class_names=[str(d) for d in range(10)])


def _npy(path: str | os.PathLike[str] | None, labels_path: str | os.PathLike[str] | None) -> Dataset:
    if path is None:
        raise DatasetError("dataset npy needs --data-dir pointing at an .npy file of shape (N, D) or (N, C, H, W)")
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"features file not found: {path}")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a data error
        raise DatasetError(f"cannot read {path} as .npy: {exc}") from None
    if arr.ndim not in (2, 4) or arr.shape[0] < 2:
        raise DatasetError(f"features must have shape (N, D) or (N, C, H, W) with N >= 2; got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise DatasetError(f"features must be numeric; got dtype {arr.dtype}")
    if arr.ndim == 2:
        x = arr.astype(np.float32)
        if not np.all(np.isfinite(x)):
            raise DatasetError(f"features in {path} contain NaN or infinite values")
        x = (x - x.mean(0)) / (x.std(0) + 1e-6)  # standardise so the noise augmentation has a fixed scale
        tensor = torch.from_numpy(np.ascontiguousarray(x))
    else:
        tensor = torch.from_numpy(
            np.ascontiguousarray(arr.astype(np.uint8) if arr.dtype == np.uint8 else arr.astype(np.float32))
        )
    labels = None
    if labels_path is not None:
        labels = np.load(labels_path, allow_pickle=False).reshape(-1).astype(np.int64)
        if labels.shape[0] != arr.shape[0]:
            raise DatasetError(f"labels has {labels.shape[0]} entries but the features have {arr.shape[0]} rows")
    return Dataset("npy", tensor, labels, info={"path": str(path)})


def _download(name: str, root: Path) -> None:
    if name == "stl10":
        import torchvision

        torchvision.datasets.STL10(str(root), split="train", download=True)
        return
    from torchvision.datasets.utils import download_and_extract_archive

    url, _ = _URLS[name]
    download_and_extract_archive(url, str(root))


def _cifar(name: str, root: Path, split: str, download: bool) -> Dataset:
    folder_name = _URLS[name][1]
    folder = root if root.name == folder_name else root / folder_name
    if name == "cifar10":
        files = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        n_label_bytes = 1
    else:
        files = ["train.bin", "test.bin"]
        n_label_bytes = 2
    if download and not all((folder / f).is_file() for f in files):
        _download(name, root)
    for f in files:
        if not (folder / f).is_file():
            raise _missing(name, folder / f, "the binary version from https://www.cs.toronto.edu/~kriz/cifar.html")
    record = n_label_bytes + 3072
    raw = []
    for f in files:
        data = np.fromfile(folder / f, dtype=np.uint8)
        if data.size % record:
            raise DatasetError(f"{folder / f} is not a {name} binary file ({data.size} bytes)")
        raw.append(data.reshape(-1, record))
    table = np.concatenate(raw)
    n_train = table.shape[0] - raw[-1].shape[0]  # the last file is the test set
    images = table[:, n_label_bytes:].reshape(-1, 3, 32, 32)
    part = _split_indices(n_train, table.shape[0], split)
    x = torch.from_numpy(np.ascontiguousarray(images[part]))
    if name == "cifar10":
        labels = table[part, 0].astype(np.int64)
        return Dataset(name, x, labels, mean=_CIFAR_MEAN, std=_CIFAR_STD)
    return Dataset(
        name,
        x,
        table[part, 0].astype(np.int64),
        fine_labels=table[part, 1].astype(np.int64),
        mean=(0.5071, 0.4865, 0.4409),
        std=(0.2673, 0.2564, 0.2762),
    )


def _stl10(root: Path, split: str, download: bool) -> Dataset:
    folder = root if root.name == "stl10_binary" else root / "stl10_binary"
    parts = {"train": ("train_X.bin", "train_y.bin"), "test": ("test_X.bin", "test_y.bin")}
    wanted = ["train", "test"] if split == "all" else [split]
    if download and not all((folder / parts[w][0]).is_file() for w in wanted):
        _download("stl10", root)
    xs, ys = [], []
    for w in wanted:
        xf, yf = folder / parts[w][0], folder / parts[w][1]
        for f in (xf, yf):
            if not f.is_file():
                raise _missing("stl10", f, "the binary version from https://cs.stanford.edu/~acoates/stl10/")
        data = np.fromfile(xf, dtype=np.uint8)
        if data.size % (3 * 96 * 96):
            raise DatasetError(f"{xf} is not an STL-10 image file ({data.size} bytes)")
        xs.append(data.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2))  # stored column-major
        ys.append(np.fromfile(yf, dtype=np.uint8).astype(np.int64) - 1)
    x = torch.from_numpy(np.ascontiguousarray(np.concatenate(xs)))
    return Dataset("stl10", x, np.concatenate(ys), mean=_IMAGENET_MEAN, std=_IMAGENET_STD)


def _folder(root: Path, image_size: int) -> Dataset:
    if not root.is_dir():
        raise DatasetError(f"image folder not found: {root}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files: list[tuple[Path, int]] = []
    for c, cls in enumerate(classes):
        for f in sorted((root / cls).rglob("*")):
            if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file():
                files.append((f, c))
    if not files:
        raise DatasetError(
            f"no images found in {root}: expected one sub-folder per class holding {', '.join(IMAGE_SUFFIXES)} files"
        )
    from PIL import Image

    out = np.empty((len(files), 3, image_size, image_size), dtype=np.uint8)
    for i, (f, _) in enumerate(files):
        try:
            with Image.open(f) as img:
                img = img.convert("RGB")
                side = min(img.size)  # centre square crop, then resize
                left, top = (img.width - side) // 2, (img.height - side) // 2
                img = img.crop((left, top, left + side, top + side)).resize((image_size, image_size))
                out[i] = np.asarray(img).transpose(2, 0, 1)
        except OSError as exc:
            raise DatasetError(f"cannot read image {f}: {exc}") from None
    labels = np.array([c for _, c in files], dtype=np.int64)
    return Dataset(
        "folder",
        torch.from_numpy(out),
        labels,
        class_names=classes,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        info={"root": str(root), "n_files": len(files)},
    )


def batches(
    n: int, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0, drop_last: bool = False
) -> Iterator[torch.Tensor]:
    """Index batches over ``range(n)``; the order depends only on ``(seed, epoch)`` (resumable)."""
    if shuffle:
        g = torch.Generator().manual_seed(int(seed) * 100_003 + int(epoch))
        order = torch.randperm(n, generator=g)
    else:
        order = torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]
