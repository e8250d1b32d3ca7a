"""Backbone networks ``g``: torchvision ResNets (optionally with the CIFAR stem), a small CNN, an MLP.

Every backbone maps a batch to a ``(B, out_dim)`` feature matrix and exposes ``out_dim``.  No pretrained
weights are ever downloaded (``weights=None``): the models are trained from scratch, as in the papers.

:data:`BUILDERS` maps each backbone name to its builder; :data:`BACKBONES` is its keys, and the CLI
imports it.  The modules themselves live in :mod:`cohiclust_extra.nets`, so importing this module needs
no torch (``l2h train --help``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["BACKBONES", "BUILDERS", "build_backbone"]


def _images(name: str, shape: tuple[int, ...]) -> None:
    if len(shape) != 3:
        raise ValueError(f"backbone {name!r} needs images (C, H, W); the data has samples of shape {shape}")


def _resnet(name: str) -> Callable[[tuple[int, ...], bool | None], Any]:
    def build(shape: tuple[int, ...], cifar_stem: bool | None = None) -> Any:
        from cohiclust_extra.nets import ResNetBackbone

        _images(name, shape)
        stem = cifar_stem if cifar_stem is not None else max(shape[1:]) <= 64
        return ResNetBackbone(name, in_channels=shape[0], cifar_stem=stem)

    return build


def _cnn(shape: tuple[int, ...], cifar_stem: bool | None = None) -> Any:
    from cohiclust_extra.nets import SmallCNN

    _images("cnn", shape)
    return SmallCNN(shape[0])


def _mlp(shape: tuple[int, ...], cifar_stem: bool | None = None) -> Any:
    from cohiclust_extra.nets import MLP

    size = 1
    for s in shape:
        size *= s
    return MLP(size)


# The backbones, declared once: name -> builder(sample shape, cifar_stem).  The CLI offers exactly these keys.
BUILDERS: dict[str, Callable[..., Any]] = {
    "resnet18": _resnet("resnet18"),
    "resnet34": _resnet("resnet34"),
    "resnet50": _resnet("resnet50"),
    "cnn": _cnn,
    "mlp": _mlp,
}
BACKBONES = tuple(BUILDERS)


def build_backbone(name: str, input_shape: Sequence[int], cifar_stem: bool | None = None) -> Any:
    """Backbone ``name`` for inputs of shape ``input_shape`` (one sample: ``(C, H, W)`` or ``(D,)``).

    ``cifar_stem`` defaults to ``True`` for ResNets on images of at most 64 pixels a side.
    """
    builder = BUILDERS.get(name)
    if builder is None:
        raise ValueError(f"unknown backbone {name!r}; expected one of {', '.join(BACKBONES)}")
    return builder(tuple(int(s) for s in input_shape), cifar_stem)


def __getattr__(name: str) -> Any:  # the modules, importable from here as before
    if name in ("ResNetBackbone", "SmallCNN", "MLP"):
        from cohiclust_extra import nets

        return getattr(nets, name)
    raise AttributeError(name)
