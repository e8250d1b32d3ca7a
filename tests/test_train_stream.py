"""Streamed datasets: bounded memory whatever the number of images, every sample at most once per epoch
across ranks (exactly once when the batches divide the data), workers, and the papers' augmentation recipe."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from cohiclust_extra.data import ArraySource, Dataset, load_dataset  # noqa: E402
from cohiclust_extra.loader import train_loader  # noqa: E402

pytestmark = pytest.mark.torch


def _indexed(n: int) -> Dataset:
    """Sample i is the number i, so a batch tells which samples it holds."""
    return Dataset("indexed", ArraySource(np.arange(n, dtype=np.float32)[:, None]))


def _seen(data: Dataset, world: int, batch: int, epoch: int, workers: int = 0) -> list[int]:
    seen: list[int] = []
    for rank in range(world):
        for x in train_loader(data, batch, seed=3, epoch=epoch, world_size=world, rank=rank, workers=workers):
            assert x.shape == (batch, 1)
            seen += x[:, 0].long().tolist()
    return seen


@pytest.mark.parametrize("world", [1, 2])
def test_every_sample_once_per_epoch_across_ranks(world):
    data = _indexed(96)  # 96 = 6 global batches of 16
    for epoch in (0, 1):
        seen = _seen(data, world, 16 // world, epoch, workers=2 if epoch else 0)
        assert sorted(seen) == list(range(96))
    assert _seen(data, world, 16 // world, 0) != _seen(data, world, 16 // world, 1)  # reshuffled each epoch
    # 100 samples: the last incomplete global batch is dropped, nothing is seen twice
    seen = _seen(_indexed(100), world, 16 // world, 0)
    assert len(seen) == len(set(seen)) == 96


def test_global_batches_do_not_depend_on_the_number_of_ranks():
    data = _indexed(64)
    one = [set(x[:, 0].long().tolist()) for x in train_loader(data, 16, seed=1, epoch=2)]
    two = [
        [set(x[:, 0].long().tolist()) for x in train_loader(data, 8, seed=1, epoch=2, world_size=2, rank=r)]
        for r in range(2)
    ]
    assert one == [a | b for a, b in zip(*two, strict=True)]


_RSS_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from PIL import Image
    from pathlib import Path
    from cohiclust_extra.data import load_dataset
    from cohiclust_extra.loader import train_loader

    root = Path(sys.argv[1])
    def make(n):
        folder = root / f"n{n}"
        rng = np.random.default_rng(n)
        for c in range(2):
            (folder / f"class{c}").mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"class{i % 2}" / f"{i}.png")
        return folder

    def epoch(folder):
        data = load_dataset("folder", folder, image_size=96)
        count = 0
        for x in train_loader(data, 50, seed=0, epoch=0):
            count += x.shape[0]
        return count

    small, large = make(300), make(3000)
    assert epoch(small) == 300
    peak_small = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert epoch(large) == 3000
    peak_large = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(peak_small, peak_large)
    """
)


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_number_of_images(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    small, large = (int(v) for v in done.stdout.split())  # KiB
    decoded = 2700 * 3 * 96 * 96 / 1024  # what holding the 2,700 extra decoded images would add: 73 MiB
    assert large - small < 8 * 1024, (small, large, decoded)


def test_binary_readers_stream_the_same_samples_as_the_cache(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name, n in [(f"data_batch_{i}.bin", 5) for i in range(1, 6)] + [("test_batch.bin", 4)]:
        labels = rng.integers(0, 10, size=(n, 1), dtype=np.uint8)
        np.concatenate([labels, rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)], 1).tofile(folder / name)
    streamed = load_dataset("cifar10", tmp_path, split="test")
    cached = load_dataset("cifar10", tmp_path, split="test", cache=True)
    assert not streamed.in_memory and cached.in_memory and len(streamed) == 4
    assert torch.equal(streamed.x, cached.x)
    got = torch.cat(list(train_loader(streamed, 2, seed=0, epoch=0, workers=2)))
    want = torch.cat(list(train_loader(cached, 2, seed=0, epoch=0)))
    assert torch.equal(got, want)


def test_npy_images_are_memory_mapped(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, size=(10, 3, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    data = load_dataset("npy", tmp_path / "x.npy")
    assert isinstance(data.source.array, np.memmap) and not data.in_memory
    assert np.array_equal(data.x.numpy(), images)


@pytest.mark.parametrize("shape,blur", [((3, 32, 32), False), ((3, 96, 96), False), ((3, 128, 128), True)])
def test_paper_recipe(shape, blur):
    from torchvision.transforms import v2

    from cohiclust_extra.augment import paper_transform

    pipeline = paper_transform(shape, (0.5,) * 3, (0.25,) * 3)
    kinds = [type(t).__name__ for t in pipeline.transforms]
    assert kinds[:4] == ["RandomResizedCrop", "RandomHorizontalFlip", "RandomApply", "RandomGrayscale"]
    crop = pipeline.transforms[0]
    assert crop.scale == (0.08, 1.0) and tuple(crop.size) == shape[1:]
    jitter = pipeline.transforms[2]
    assert jitter.p == 0.8 and isinstance(jitter.transforms[0], v2.ColorJitter)
    assert jitter.transforms[0].brightness == (0.6, 1.4) and jitter.transforms[0].hue == (-0.1, 0.1)
    assert pipeline.transforms[3].p == 0.2
    assert ("GaussianBlur" in str(pipeline)) == blur
    torch.manual_seed(0)
    image = torch.randint(0, 256, shape, dtype=torch.uint8)
    a, b = pipeline(image), pipeline(image)
    assert a.shape == shape and a.dtype == torch.float32 and not torch.equal(a, b)
    with pytest.raises(ValueError, match="--augment paper needs images"):
        paper_transform((6,), None, None)
