"""``l2h logits``: random-initialised small models over generated images equal a direct forward pass."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from PIL import Image  # noqa: E402
from torchvision.transforms._presets import ImageClassification  # noqa: E402

from tests._cli import error_line, run  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("logits")
    rng = np.random.default_rng(0)
    folder = root / "classes"
    for name in ("cat", "dog", "eel"):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            array = rng.integers(0, 256, (30 + 5 * i, 40, 3), dtype=np.uint8)
            Image.fromarray(array).save(folder / name / f"img{i}.png")
    flat = root / "flat"
    flat.mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (24, 24), dtype=np.uint8)).save(flat / f"{i}.jpg")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=5)
    weights = root / "resnet18.pt"
    torch.save(model.state_dict(), weights)
    return {"root": root, "classes": folder, "flat": flat, "weights": weights}


def forward(model, paths: list[str], transform) -> np.ndarray:
    """A direct forward pass of ``model`` on the images, preprocessed with ``transform``."""
    images = []
    for p in paths:
        with Image.open(p) as img:
            images.append(transform(img.convert("RGB")))
    model.eval()
    with torch.inference_mode():
        return model(torch.stack(images)).numpy()


SMALL = ImageClassification(crop_size=32, resize_size=36)  # resnet18's DEFAULT transforms, smaller sides


def test_class_folders_equal_a_direct_forward_pass(data, tmp_path) -> None:
    state = torch.load(data["weights"], weights_only=True)
    model = torchvision.models.resnet18(weights=None, num_classes=5)
    model.load_state_dict(state)
    expected = None
    for batch_size, workers in ((1, 0), (4, 2)):
        out = tmp_path / f"b{batch_size}" / "logits.npy"
        out.parent.mkdir()
        result = run(
            "logits", "--model", "torchvision:resnet18", "--weights", data["weights"], "--images", data["classes"],
            "--out", out, "--resize", 36, "--crop", 32, "--batch-size", batch_size, "--num-workers", workers, "-q",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        logits = np.load(out)
        assert logits.dtype == np.float32 and logits.shape == (9, 5)
        paths = (out.parent / "paths.txt").read_text().splitlines()
        assert [Path(p).parent.name for p in paths] == ["cat"] * 3 + ["dog"] * 3 + ["eel"] * 3
        assert np.load(out.parent / "labels.npy").tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
        assert (out.parent / "class_names.txt").read_text() == "cat\ndog\neel\n"
        if expected is None:
            expected = forward(model, paths, SMALL)
        np.testing.assert_allclose(logits, expected, atol=1e-5, rtol=0)
        assert not list(out.parent.glob(".*"))  # no partial rows left behind


def test_default_preprocessing_and_flat_folder(data, tmp_path) -> None:
    out = tmp_path / "logits.npy"
    result = run(
        "logits", "--model", "torchvision:resnet18", "--weights", data["weights"], "--images", data["flat"],
        "--out", out, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["n_rows"] == 4 and summary["n_columns"] == 5
    paths = (tmp_path / "paths.txt").read_text().splitlines()
    assert len(paths) == 4 and not (tmp_path / "labels.npy").exists()
    model = torchvision.models.resnet18(weights=None, num_classes=5)
    model.load_state_dict(torch.load(data["weights"], weights_only=True))
    default = torchvision.models.ResNet18_Weights.DEFAULT.transforms()  # resize 256, crop 224
    np.testing.assert_allclose(np.load(out), forward(model, paths, default), atol=1e-5, rtol=0)


def test_list_of_paths_and_npy_dataset(data, tmp_path) -> None:
    listing = tmp_path / "list.txt"
    files = sorted(data["classes"].rglob("*.png"))[:4]
    listing.write_text("# images\n" + "\n".join(str(f) for f in files) + "\n")
    out = tmp_path / "a" / "logits.npy"
    out.parent.mkdir()
    args = ("--model", "torchvision:resnet18", "--weights", data["weights"], "--resize", 36, "--crop", 32, "-q")
    assert run("logits", *args, "--images", listing, "--out", out).exit_code == 0
    want = np.load(out)
    assert (out.parent / "paths.txt").read_text().splitlines() == [str(f) for f in files]
    # the same images as an (N, H, W, C) array of a labelled npy dataset
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (5, 3, 20, 20), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", np.arange(5) % 2)
    out2 = tmp_path / "b" / "logits.npy"
    out2.parent.mkdir()
    result = run(
        "logits", *args, "--dataset", "npy", "--data-dir", tmp_path / "x.npy", "--labels", tmp_path / "y.npy",
        "--out", out2,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert np.load(out2.parent / "labels.npy").tolist() == [0, 1, 0, 1, 0]
    pil = [Image.fromarray(np.ascontiguousarray(im.transpose(1, 2, 0))) for im in images]
    model = torchvision.models.resnet18(weights=None, num_classes=5)
    model.load_state_dict(torch.load(data["weights"], weights_only=True))
    with torch.inference_mode():
        expected = model.eval()(torch.stack([SMALL(p) for p in pil])).numpy()
    np.testing.assert_allclose(np.load(out2), expected, atol=1e-5, rtol=0)
    assert want.shape == (4, 5)


def test_resume_continues_from_rows_written(data, tmp_path) -> None:
    from cohiclust_extra.pretrained import compute_logits, image_source

    out = tmp_path / "logits.npy"
    source = image_source(data["classes"])
    calls = []

    def interrupt(phase: str, done: int, total: int) -> None:
        calls.append(done)
        if done >= 4:
            raise KeyboardInterrupt

    kwargs = {"batch_size": 2, "resize": 36, "crop": 32, "device": "cpu"}
    with pytest.raises(KeyboardInterrupt):
        compute_logits("torchvision:resnet18", str(data["weights"]), source, out, progress=interrupt, **kwargs)
    assert not out.exists() and (tmp_path / ".logits.npy.partial.npy").exists()
    notes: list[str] = []
    summary = compute_logits(
        "torchvision:resnet18", str(data["weights"]), source, out, resume=True, note=notes.append, **kwargs
    )
    assert summary["resumed_rows"] == 4 and notes == ["resuming at row 4 of 9"]
    model = torchvision.models.resnet18(weights=None, num_classes=5)
    model.load_state_dict(torch.load(data["weights"], weights_only=True))
    np.testing.assert_allclose(np.load(out), forward(model, source.paths, SMALL), atol=1e-5, rtol=0)
    assert not (tmp_path / ".logits.npy.partial.npy").exists()


def test_timm_tiny_model(data, tmp_path) -> None:
    timm = pytest.importorskip("timm")
    from timm.data import create_transform, resolve_data_config

    torch.manual_seed(0)
    model = timm.create_model("test_resnet", pretrained=False, num_classes=4)
    weights = tmp_path / "tiny.pth"
    torch.save(model.state_dict(), weights)
    out = tmp_path / "logits.npy"
    result = run(
        "logits", "--model", "timm:test_resnet", "--weights", weights, "--images", data["flat"], "--out", out,
        "--batch-size", 3, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    transform = create_transform(**resolve_data_config({}, model=model), is_training=False)
    paths = (tmp_path / "paths.txt").read_text().splitlines()
    np.testing.assert_allclose(np.load(out), forward(model, paths, transform), atol=1e-5, rtol=0)


def test_bad_inputs(data, tmp_path, monkeypatch) -> None:
    out = tmp_path / "logits.npy"
    base = ("logits", "--images", data["flat"], "--out", out)
    cases = [
        (("--model", "resnet18"), "must be torchvision:NAME or timm:NAME"),
        (("--model", "torchvision:resnet17"), "did you mean"),
        (("--model", "torchvision:resnet18", "--weights", tmp_path / "none.pt"), "not found"),
    ]
    pickled = tmp_path / "pickled.pt"
    torch.save({"fc.weight": object()}, pickled)
    cases.append((("--model", "torchvision:resnet18", "--weights", pickled), "never loaded"))
    other = tmp_path / "other.pt"
    torch.save(torchvision.models.mobilenet_v3_small(weights=None).state_dict(), other)
    cases.append((("--model", "torchvision:resnet18", "--weights", other), "does not fit torchvision:resnet18"))

    def offline(*args, **kwargs):
        import urllib.error

        raise urllib.error.URLError("no internet")

    from torchvision.models import _api

    monkeypatch.setattr(_api, "load_state_dict_from_url", offline)
    cases.append((("--model", "torchvision:resnet18"), "pass the file with --weights PATH"))
    for extra, message in cases:
        result = run(*base, *extra)
        assert result.exit_code == 1, result.output
        assert message in error_line(result)
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"not a png")
    result = run(
        "logits", "--model", "torchvision:resnet18", "--weights", data["weights"], "--images", bad, "--out", out
    )
    assert result.exit_code == 1 and "cannot read image" in error_line(result)
    result = run("logits", "--model", "torchvision:resnet18", "--images", tmp_path / "nowhere", "--out", out)
    assert result.exit_code == 1 and "--images not found" in error_line(result)
    assert not out.exists()


def test_timm_hub_name_offline_is_one_line(data, tmp_path, monkeypatch) -> None:
    pytest.importorskip("timm")
    import socket

    def no_network(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)  # the hub is then read from its cache only
    result = run("logits", "--model", "timm:test_resnet", "--images", data["flat"], "--out", tmp_path / "l.npy")
    assert result.exit_code == 1
    assert "pass the file with --weights PATH" in error_line(result)
