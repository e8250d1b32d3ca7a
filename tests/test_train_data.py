"""Datasets read from disk (synthetic files in the official binary layouts) and the augmentations."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from cohiclust_extra.augment import make_augmenter  # noqa: E402
from cohiclust_extra.backbones import build_backbone  # noqa: E402
from cohiclust_extra.data import DatasetError, batches, load_dataset  # noqa: E402

pytestmark = pytest.mark.torch


def _cifar_records(n, n_label_bytes, rng):
    labels = rng.integers(0, 10, size=(n, n_label_bytes), dtype=np.uint8)
    pixels = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    return np.concatenate([labels, pixels], axis=1)


def test_cifar10_binary_layout(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    first = _cifar_records(3, 1, rng)
    first.tofile(folder / "data_batch_1.bin")
    for i in range(2, 6):
        _cifar_records(3, 1, rng).tofile(folder / f"data_batch_{i}.bin")
    _cifar_records(2, 1, rng).tofile(folder / "test_batch.bin")
    data = load_dataset("cifar10", tmp_path)
    assert data.x.shape == (17, 3, 32, 32) and data.x.dtype == torch.uint8
    assert data.labels[:3].tolist() == first[:, 0].tolist()
    assert data.x[0].numpy().reshape(-1).tolist() == first[0, 1:].tolist()


def test_cifar100_superclasses_and_fine_labels(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    train = _cifar_records(4, 2, rng)
    train.tofile(folder / "train.bin")
    _cifar_records(2, 2, rng).tofile(folder / "test.bin")
    data = load_dataset("cifar100", folder, split="train")
    assert len(data) == 4
    assert data.labels.tolist() == train[:, 0].tolist() and data.fine_labels.tolist() == train[:, 1].tolist()


def test_stl10_binary_layout(tmp_path):
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    img = np.arange(3 * 96 * 96, dtype=np.uint32).astype(np.uint8).reshape(3, 96, 96)
    for part, n in (("train", 2), ("test", 1)):
        np.stack([img] * n).transpose(0, 1, 3, 2).tofile(folder / f"{part}_X.bin")  # column-major on disk
        np.arange(1, n + 1, dtype=np.uint8).tofile(folder / f"{part}_y.bin")
    data = load_dataset("stl10", tmp_path)
    assert data.x.shape == (3, 3, 96, 96) and data.labels.tolist() == [0, 1, 0]
    assert torch.equal(data.x[0], torch.from_numpy(img))


def test_missing_and_malformed_datasets(tmp_path):
    with pytest.raises(DatasetError, match="stl10_binary.*--download"):
        load_dataset("stl10", tmp_path)
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("mnist", tmp_path)
    (tmp_path / "images" / "a").mkdir(parents=True)
    (tmp_path / "images" / "a" / "notes.txt").write_text("no image here")
    with pytest.raises(DatasetError, match="no images found"):
        load_dataset("folder", tmp_path / "images")
    np.save(tmp_path / "bad.npy", np.zeros(5))
    with pytest.raises(DatasetError, match="shape"):
        load_dataset("npy", tmp_path / "bad.npy")


def test_image_folder(tmp_path):
    from PIL import Image

    for cls, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (tmp_path / cls).mkdir()
        for i in range(2):
            Image.new("RGB", (40, 30), colour).save(tmp_path / cls / f"{i}.png")
    data = load_dataset("folder", tmp_path, image_size=16)
    assert data.x.shape == (4, 3, 16, 16) and data.class_names == ["blue", "red"]
    assert data.labels.tolist() == [0, 0, 1, 1] and int(data.x[0, 2].min()) == 255


def test_npy_features_with_labels(tmp_path):
    rng = np.random.default_rng(2)
    np.save(tmp_path / "f.npy", rng.normal(size=(20, 6)).astype(np.float32))
    np.save(tmp_path / "y.npy", np.arange(20) % 3)
    data = load_dataset("npy", tmp_path / "f.npy", labels_path=tmp_path / "y.npy")
    assert data.sample_shape == (6,) and data.n_classes == 3
    np.testing.assert_allclose(data.x.mean(0).numpy(), 0, atol=1e-5)


@pytest.mark.parametrize("shape", [(6,), (1, 8, 8), (3, 32, 32), (3, 96, 96)])
def test_augmentations_keep_shape_and_vary(shape):
    torch.manual_seed(0)
    aug = make_augmenter(
        shape, mean=(0.5,) * shape[0] if len(shape) == 3 else None, std=(0.25,) * shape[0] if len(shape) == 3 else None
    )
    x = torch.rand(4, *shape)
    a, b = aug(x), aug(x)
    assert a.shape == x.shape and torch.isfinite(a).all() and not torch.equal(a, b)


def test_batches_depend_only_on_seed_and_epoch():
    first = torch.cat(list(batches(10, 3, shuffle=True, seed=1, epoch=2)))
    assert torch.equal(first, torch.cat(list(batches(10, 3, shuffle=True, seed=1, epoch=2))))
    assert sorted(first.tolist()) == list(range(10))
    assert sum(len(b) for b in batches(10, 3, shuffle=True, drop_last=True)) == 9


@pytest.mark.parametrize(
    "name,shape,dim", [("resnet18", (3, 32, 32), 512), ("cnn", (1, 8, 8), 128), ("mlp", (5,), 256)]
)
def test_backbones(name, shape, dim):
    net = build_backbone(name, shape).eval()
    assert net(torch.rand(2, *shape)).shape == (2, dim) and net.out_dim == dim
    if name.startswith("resnet"):
        assert net.net.conv1.stride == (1, 1)  # CIFAR stem on 32-pixel images
