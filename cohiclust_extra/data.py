"""Datasets read from disk (never downloaded unless asked), streamed sample by sample.

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

Only the labels (and, for ``folder``, the list of file names) are held in memory.  Samples are read
when they are asked for: CIFAR/STL-10 records with ``os.pread`` from their *binary* distributions
(nothing is unpickled), ``.npy`` arrays through a memory map, folder images decoded with PIL and
resized on the fly, so memory stays bounded whatever the dataset size.  ``cache=True``
(``--cache-decoded``) decodes everything once into memory instead (small datasets; digits always).
``split="all"`` joins train and test, as the papers do.  ``download=True`` fetches the archives with
torchvision's downloader (machines with internet only).

:data:`LOADERS` maps each dataset name to its reader; :data:`DATASETS` is its keys, and the CLI
imports it.  This module imports neither torch nor PIL at import time (``l2h train --help`` needs
neither).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["DATASETS", "LOADERS", "Dataset", "DatasetError", "load_dataset", "batches"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_URLS = {
    "cifar10": ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "cifar-10-batches-bin"),
    "cifar100": ("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz", "cifar-100-binary"),
}
_CIFAR_MEAN, _CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_CHUNK = 4096  # rows per chunk when a pass over a whole file is needed (labels, statistics)


class DatasetError(ValueError):
    """A dataset is missing, empty or malformed (one-line message for the CLI)."""


# --------------------------------------------------------------------------------------------- sources
class Source:
    """Random access to the samples of a dataset: ``read(i)`` gives sample ``i`` as a NumPy array.

    Sources are picklable and hold no open file across a fork, so DataLoader worker processes
    each read on their own.  Subclasses set ``shape`` (one sample) and ``dtype``.
    """

    shape: tuple[int, ...]
    dtype: np.dtype

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self, i: int) -> np.ndarray:
        raise NotImplementedError

    def take(self, index: Any) -> np.ndarray:
        """Several samples stacked (``index``: a sequence of ints)."""
        index = [int(i) for i in index]
        out = np.empty((len(index), *self.shape), dtype=self.dtype)
        for row, i in enumerate(index):
            out[row] = self.read(i)
        return out

    def cached(self) -> ArraySource:
        """Every sample decoded into memory (``--cache-decoded``)."""
        return ArraySource(self.take(range(len(self))))


class ArraySource(Source):
    """Samples held in a NumPy array (digits, cached datasets) or a memory map (``npy``).

    ``shift``/``scale`` (per feature) standardise feature rows on reading; ``dtype`` casts on reading.
    """

    def __init__(
        self,
        array: np.ndarray,
        shift: np.ndarray | None = None,
        scale: np.ndarray | None = None,
        dtype: Any = None,
    ) -> None:
        self.array = array
        self.shift, self.scale = shift, scale
        self.shape = tuple(int(s) for s in array.shape[1:])
        self.dtype = np.dtype(np.float32) if shift is not None else np.dtype(dtype or array.dtype)

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def _fix(self, rows: np.ndarray) -> np.ndarray:
        if self.shift is not None:
            return ((rows.astype(np.float32) - self.shift) / self.scale).astype(np.float32)
        return np.ascontiguousarray(rows, dtype=self.dtype)

    def read(self, i: int) -> np.ndarray:
        return self._fix(np.asarray(self.array[i]))

    def take(self, index: Any) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64)
        return self._fix(np.asarray(self.array[index]))

    def cached(self) -> ArraySource:
        if isinstance(self.array, np.memmap):
            return ArraySource(self.take(np.arange(len(self))))
        return self


class _PreadSource(Source):
    """Fixed-size records in one or more binary files, read with ``os.pread`` (no file held across forks)."""

    def __init__(self, files: list[Path], counts: list[int], record: int, skip: int, rows: np.ndarray) -> None:
        self.files = [str(f) for f in files]
        self.starts = np.cumsum([0, *counts])  # global record index where each file starts
        self.record, self.skip = record, skip
        self.rows = rows  # dataset sample -> global record index (the split)
        self._fds: dict[int, int] = {}
        self._pid = -1

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_fds"], state["_pid"] = {}, -1
        return state

    def __len__(self) -> int:
        return int(self.rows.size)

    def _raw(self, i: int) -> np.ndarray:
        if self._pid != os.getpid():  # a forked worker: open our own descriptors
            self._fds, self._pid = {}, os.getpid()
        g = int(self.rows[i])
        f = int(np.searchsorted(self.starts, g, side="right")) - 1
        fd = self._fds.get(f)
        if fd is None:
            fd = self._fds[f] = os.open(self.files[f], os.O_RDONLY)
        size = self.record - self.skip
        data = os.pread(fd, size, (g - int(self.starts[f])) * self.record + self.skip)
        if len(data) != size:
            raise DatasetError(f"{self.files[f]} ended early (record {g - int(self.starts[f])})")
        return np.frombuffer(data, dtype=np.uint8)


class CifarSource(_PreadSource):
    shape = (3, 32, 32)
    dtype = np.dtype(np.uint8)

    def read(self, i: int) -> np.ndarray:
        return self._raw(i).reshape(3, 32, 32)


class StlSource(_PreadSource):
    shape = (3, 96, 96)
    dtype = np.dtype(np.uint8)

    def read(self, i: int) -> np.ndarray:
        return np.ascontiguousarray(self._raw(i).reshape(3, 96, 96).transpose(0, 2, 1))  # stored column-major


class FolderSource(Source):
    """Image files decoded with PIL on reading: centre square crop, then resized to ``size``."""

    dtype = np.dtype(np.uint8)

    def __init__(self, files: list[str], size: int) -> None:
        self.files = files
        self.size = int(size)
        self.shape = (3, self.size, self.size)

    def __len__(self) -> int:
        return len(self.files)

    def read(self, i: int) -> np.ndarray:
        from l2h.images import ImageTooLarge, open_image

        path = self.files[i]
        try:
            with open_image(path) as img:  # the default pixel budget, checked from the header
                img = img.convert("RGB")
                side = min(img.size)
                left, top = (img.width - side) // 2, (img.height - side) // 2
                img = img.crop((left, top, left + side, top + side)).resize((self.size, self.size))
                return np.asarray(img).transpose(2, 0, 1).copy()
        except ImageTooLarge as exc:
            raise DatasetError(str(exc)) from None
        except OSError as exc:
            raise DatasetError(f"cannot read image {path}: {exc}") from None


# --------------------------------------------------------------------------------------------- dataset
@dataclass
class Dataset:
    """A dataset: its labels in memory and a :class:`Source` of its samples.

    Attributes
    ----------
    name : str
    source : Source
        uint8 images ``(C, H, W)`` (scaled to [0, 1] by :meth:`to_float`) or float32 samples.
    labels : ndarray of int64 or None
    fine_labels : ndarray of int64 or None
        CIFAR-100's 100 classes (``labels`` holds the 20 superclasses).
    class_names : list of str or None
    mean, std : per-channel normalisation of images (None for features)
    """

    name: str
    source: Source
    labels: np.ndarray | None = None
    fine_labels: np.ndarray | None = None
    class_names: list[str] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.source)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.source.shape)

    @property
    def n_classes(self) -> int | None:
        return None if self.labels is None else int(np.unique(self.labels).size)

    @property
    def in_memory(self) -> bool:
        return isinstance(self.source, ArraySource) and not isinstance(self.source.array, np.memmap)

    def batch(self, index: Any) -> torch.Tensor:
        """Samples ``index`` as one tensor (uint8 images or float32 features)."""
        import torch

        return torch.from_numpy(self.source.take(index))

    @cached_property
    def x(self) -> torch.Tensor:
        """Every sample as one tensor, read once and kept (the whole dataset in memory: small datasets only)."""
        return self.batch(np.arange(len(self)))

    @staticmethod
    def to_float(batch: torch.Tensor) -> torch.Tensor:
        """A batch as float32 (uint8 images to [0, 1])."""
        import torch

        return batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch.float()


def _missing(name: str, expected: Path, hint: str) -> DatasetError:
    return DatasetError(
        f"{name} not found: expected {expected} ({hint}); put it there, or pass --download on a machine with internet"
    )


@dataclass
class _Request:
    root: Path
    data_dir: str | os.PathLike[str] | None
    split: str
    labels_path: str | os.PathLike[str] | None
    image_size: int
    download: bool


def _split_indices(n_train: int, n_total: int, split: str) -> slice:
    return {"all": slice(0, n_total), "train": slice(0, n_train), "test": slice(n_train, n_total)}[split]


def _digits(req: _Request) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8) in [0, 1]
    labels = bunch.target.astype(np.int64)
    part = _split_indices(1500, len(labels), req.split)  # no official split: first 1,500 / last 297
    return Dataset("digits", ArraySource(np.ascontiguousarray(x[part])), labels[part], class_names=list("0123456789"))


def _npy(req: _Request) -> Dataset:
    if req.data_dir is None:
        raise DatasetError("dataset npy needs --data-dir pointing at an .npy file of shape (N, D) or (N, C, H, W)")
    path = Path(req.data_dir)
    if not path.is_file():
        raise DatasetError(f"features file not found: {path}")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a data error
        raise DatasetError(f"cannot read {path} as .npy: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    if arr.ndim not in (2, 4) or arr.shape[0] < 2:
        raise DatasetError(f"features must have shape (N, D) or (N, C, H, W) with N >= 2; got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise DatasetError(f"features must be real numbers; got dtype {arr.dtype}")
    labels = None
    if req.labels_path is not None:
        labels = np.load(req.labels_path, allow_pickle=False).reshape(-1).astype(np.int64)
        if labels.shape[0] != arr.shape[0]:
            raise DatasetError(f"labels has {labels.shape[0]} entries but the features have {arr.shape[0]} rows")
    floating = not (arr.dtype == np.uint8)
    if arr.ndim == 2:
        # standardise every feature (so the noise augmentation has a fixed scale): one chunked pass, float64 sums
        total = np.zeros(arr.shape[1])
        squares = np.zeros(arr.shape[1])
        for start in range(0, arr.shape[0], _CHUNK):
            chunk = np.asarray(arr[start : start + _CHUNK], dtype=np.float64)
            if not np.all(np.isfinite(chunk)):
                raise DatasetError(f"features in {path} contain NaN or infinite values")
            total += chunk.sum(0)
            squares += (chunk * chunk).sum(0)
        mean = total / arr.shape[0]
        std = np.sqrt(np.maximum(squares / arr.shape[0] - mean * mean, 0.0))
        source = ArraySource(arr, mean.astype(np.float32), (std + 1e-6).astype(np.float32))
    else:
        if floating:
            for start in range(0, arr.shape[0], _CHUNK):
                if not np.all(np.isfinite(arr[start : start + _CHUNK])):
                    raise DatasetError(f"images in {path} contain NaN or infinite values")
        source = ArraySource(arr, dtype=np.uint8 if arr.dtype == np.uint8 else np.float32)
    return Dataset("npy", source, labels, info={"path": str(path)})


def _download(name: str, root: Path) -> None:
    if name == "stl10":
        import torchvision

        torchvision.datasets.STL10(str(root), split="train", download=True)
        return
    from torchvision.datasets.utils import download_and_extract_archive

    url, _ = _URLS[name]
    download_and_extract_archive(url, str(root))


def _label_column(path: Path, record: int, column: int, n: int) -> np.ndarray:
    """Byte ``column`` of every record, read in chunks (the pixels are not kept)."""
    out = np.empty(n, dtype=np.int64)
    for start in range(0, n, _CHUNK):
        count = min(_CHUNK, n - start)
        chunk = np.fromfile(path, dtype=np.uint8, count=count * record, offset=start * record)
        out[start : start + count] = chunk.reshape(count, record)[:, column]
    return out


def _cifar(name: str, req: _Request) -> Dataset:
    root = req.root
    folder_name = _URLS[name][1]
    folder = root if root.name == folder_name else root / folder_name
    if name == "cifar10":
        files = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        n_label_bytes = 1
    else:
        files = ["train.bin", "test.bin"]
        n_label_bytes = 2
    if req.download and not all((folder / f).is_file() for f in files):
        _download(name, root)
    for f in files:
        if not (folder / f).is_file():
            raise _missing(name, folder / f, "the binary version from https://www.cs.toronto.edu/~kriz/cifar.html")
    record = n_label_bytes + 3072
    counts = []
    for f in files:
        size = (folder / f).stat().st_size
        if size % record:
            raise DatasetError(f"{folder / f} is not a {name} binary file ({size} bytes)")
        counts.append(size // record)
    coarse = np.concatenate([_label_column(folder / f, record, 0, c) for f, c in zip(files, counts, strict=True)])
    n_total = int(sum(counts))
    part = _split_indices(n_total - counts[-1], n_total, req.split)  # the last file is the test set
    rows = np.arange(n_total)[part]
    source = CifarSource([folder / f for f in files], counts, record, n_label_bytes, rows)
    if name == "cifar10":
        return Dataset(name, source, coarse[part], mean=_CIFAR_MEAN, std=_CIFAR_STD)
    fine = np.concatenate([_label_column(folder / f, record, 1, c) for f, c in zip(files, counts, strict=True)])
    return Dataset(
        name, source, coarse[part], fine_labels=fine[part], mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762)
    )


def _stl10(req: _Request) -> Dataset:
    root = req.root
    folder = root if root.name == "stl10_binary" else root / "stl10_binary"
    parts = {"train": ("train_X.bin", "train_y.bin"), "test": ("test_X.bin", "test_y.bin")}
    wanted = ["train", "test"] if req.split == "all" else [req.split]
    if req.download and not all((folder / parts[w][0]).is_file() for w in wanted):
        _download("stl10", root)
    files, counts, ys = [], [], []
    record = 3 * 96 * 96
    for w in wanted:
        xf, yf = folder / parts[w][0], folder / parts[w][1]
        for f in (xf, yf):
            if not f.is_file():
                raise _missing("stl10", f, "the binary version from https://cs.stanford.edu/~acoates/stl10/")
        size = xf.stat().st_size
        if size % record:
            raise DatasetError(f"{xf} is not an STL-10 image file ({size} bytes)")
        y = np.fromfile(yf, dtype=np.uint8).astype(np.int64) - 1
        if y.size != size // record:
            raise DatasetError(f"{yf} has {y.size} labels for {size // record} images in {xf}")
        files.append(xf)
        counts.append(size // record)
        ys.append(y)
    source = StlSource(files, counts, record, 0, np.arange(sum(counts)))
    return Dataset("stl10", source, np.concatenate(ys), mean=_IMAGENET_MEAN, std=_IMAGENET_STD)


def _folder(req: _Request) -> Dataset:
    root = req.root
    if not root.is_dir():
        raise DatasetError(f"image folder not found: {root}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files: list[str] = []
    labels: list[int] = []
    for c, cls in enumerate(classes):
        for f in sorted((root / cls).rglob("*")):
            if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file():
                files.append(str(f))
                labels.append(c)
    if not files:
        raise DatasetError(
            f"no images found in {root}: expected one sub-folder per class holding {', '.join(IMAGE_SUFFIXES)} files"
        )
    return Dataset(
        "folder",
        FolderSource(files, req.image_size),
        np.asarray(labels, dtype=np.int64),
        class_names=classes,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        info={"root": str(root), "n_files": len(files)},
    )


# The datasets, declared once: name -> reader.  The CLI offers exactly these keys.
LOADERS: dict[str, Callable[[_Request], Dataset]] = {
    "digits": _digits,
    "cifar10": lambda req: _cifar("cifar10", req),
    "cifar100": lambda req: _cifar("cifar100", req),
    "stl10": _stl10,
    "folder": _folder,
    "npy": _npy,
}
DATASETS = tuple(LOADERS)


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    split: str = "all",
    labels_path: str | os.PathLike[str] | None = None,
    image_size: int = 96,
    download: bool = False,
    cache: bool = False,
) -> Dataset:
    """Open dataset ``name`` (see the module table): labels in memory, samples read on demand.

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
    cache : bool
        Decode every sample into memory once (``--cache-decoded``).
    """
    loader = LOADERS.get(name)
    if loader is None:
        raise DatasetError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    if split not in ("all", "train", "test"):
        raise DatasetError(f"split must be all, train or test; got {split!r}")
    root = Path(data_dir) if data_dir is not None else Path("data")
    data = loader(_Request(root, data_dir, split, labels_path, image_size, download))
    if cache:
        data.source = data.source.cached()
    return data


def batches(
    n: int, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0, drop_last: bool = False
) -> Iterator[Any]:
    """Index batches over ``range(n)``; the order depends only on ``(seed, epoch)`` (resumable)."""
    import torch

    if shuffle:
        g = torch.Generator().manual_seed(int(seed) * 100_003 + int(epoch))
        order = torch.randperm(n, generator=g)
    else:
        order = torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]
