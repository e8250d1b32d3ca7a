"""The backbone networks (torch modules); :mod:`cohiclust_extra.backbones` chooses among them by name."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ResNetBackbone", "SmallCNN", "MLP"]


class ResNetBackbone(nn.Module):
    """A torchvision ResNet without its classifier.

    Parameters
    ----------
    name : {"resnet18", "resnet34", "resnet50"}
    in_channels : int
        Image channels (3 for colour; 1 for grey images).
    cifar_stem : bool
        Replace the 7×7/2 convolution and the max-pool by one 3×3/1 convolution, the usual change for
        32×32 inputs (keeps the spatial resolution the residual stages expect).
    """

    def __init__(self, name: str = "resnet18", in_channels: int = 3, cifar_stem: bool = False) -> None:
        super().__init__()
        import torchvision

        factory = {
            "resnet18": torchvision.models.resnet18,
            "resnet34": torchvision.models.resnet34,
            "resnet50": torchvision.models.resnet50,
        }
        if name not in factory:
            raise ValueError(f"unknown ResNet {name!r}; expected one of {sorted(factory)}")
        net = factory[name](weights=None)
        if cifar_stem:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.out_dim = net.fc.in_features
        net.fc = nn.Identity()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SmallCNN(nn.Module):
    """Three 3×3 conv blocks (BatchNorm, ReLU), global average pooling: for small images (8–64 px)."""

    def __init__(self, in_channels: int = 1, widths: Sequence[int] = (32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for i, width in enumerate(widths):
            layers += [nn.Conv2d(prev, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            prev = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        self.out_dim = prev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLP(nn.Module):
    """Fully connected layers with BatchNorm and ReLU: for precomputed feature vectors or tiny images
    (inputs of any shape are flattened)."""

    def __init__(self, in_dim: int, hidden: Sequence[int] = (512, 512), out_dim: int = 256) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        prev = in_dim
        for width in hidden:
            layers += [nn.Linear(prev, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True)]
            prev = width
        layers.append(nn.Linear(prev, out_dim))
        self.net = nn.Sequential(*layers)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
