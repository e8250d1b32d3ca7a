"""SimCLR-style augmentations applied to whole batches on the training device.

Every sample draws its own random parameters, but the work is a handful of batched tensor operations
(``affine_grid``/``grid_sample``, per-sample colour matrices, a grouped blur convolution), so the
augmentations run on the GPU with the model and cost no data-loader workers.  They draw from torch's
global generator, whose state the checkpoints save: a resumed run sees the same views.

One recipe per resolution (:func:`make_augmenter`):

* feature vectors ``(D,)``: random feature dropout and Gaussian noise;
* tiny images (≤ 16 px, e.g. the 8×8 digits): small random rotation, scaling and shift, contrast jitter,
  pixel noise (no flips: digits are not mirror-symmetric);
* small images (≤ 64 px, CIFAR): random resized crop (scale 0.2–1), horizontal flip, colour jitter
  (0.4, 0.4, 0.4, 0.1) with probability 0.8, grey-scale with probability 0.2;
* larger images (STL-10, image folders): the same plus Gaussian blur (σ ∈ [0.1, 2]) with probability 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["make_augmenter", "Augmenter"]

_RGB2YIQ = [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]]
_YIQ2RGB = np.linalg.inv(np.array(_RGB2YIQ)).tolist()  # computed once on the CPU (no linalg on every device)


def _uniform(n: int, low: float, high: float, device: torch.device) -> torch.Tensor:
    return torch.rand(n, device=device) * (high - low) + low


def _coin(n: int, p: float, device: torch.device) -> torch.Tensor:
    return torch.rand(n, device=device) < p


def _grey(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    w = x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


class Augmenter:
    """Callable ``x -> view``: ``x`` is a float batch in [0, 1] (images) or standardised features.

    Parameters
    ----------
    kind : {"features", "tiny", "small", "large"}
    mean, std : sequences of floats, optional
        Per-channel normalisation applied after augmenting (images only).
    """

    def __init__(self, kind: str, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        if kind not in ("features", "tiny", "small", "large"):
            raise ValueError(f"unknown augmentation kind {kind!r}")
        self.kind = kind
        self.mean, self.std = mean, std

    # ----------------------------------------------------------------------------- public
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "features":
            return self._features(x)
        if self.kind == "tiny":
            x = self._affine(x)
            x = self._contrast(x, 0.3)
            x = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
        else:
            x = self._crop_flip(x)
            x = self._colour(x)
            if self.kind == "large":
                x = self._blur(x)
        return self.normalise(x)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic part (used at inference): per-channel standardisation of images."""
        if self.kind == "features" or self.mean is None:
            return x
        mean = x.new_tensor(self.mean).view(1, -1, 1, 1)
        std = x.new_tensor(self.std).view(1, -1, 1, 1)
        return (x - mean) / std

    # ----------------------------------------------------------------------------- recipes
    @staticmethod
    def _features(x: torch.Tensor) -> torch.Tensor:
        keep = (torch.rand_like(x) > 0.2).to(x.dtype)
        return x * keep + 0.1 * torch.randn_like(x)

    @staticmethod
    def _affine(x: torch.Tensor) -> torch.Tensor:
        n, dev = x.shape[0], x.device
        angle = _uniform(n, -15, 15, dev) * math.pi / 180
        scale = _uniform(n, 0.85, 1.15, dev)
        shift = _uniform(2 * n, -0.15, 0.15, dev).view(n, 2)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack((torch.stack((cos, -sin, shift[:, 0]), 1), torch.stack((sin, cos, shift[:, 1]), 1)), 1)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    @staticmethod
    def _crop_flip(x: torch.Tensor) -> torch.Tensor:
        n, dev = x.shape[0], x.device
        area = _uniform(n, 0.2, 1.0, dev)
        log_ratio = _uniform(n, math.log(3 / 4), math.log(4 / 3), dev)
        w = torch.sqrt(area * torch.exp(log_ratio)).clamp(max=1.0)
        h = torch.sqrt(area / torch.exp(log_ratio)).clamp(max=1.0)
        cx = (torch.rand(n, device=dev) * 2 - 1) * (1 - w)
        cy = (torch.rand(n, device=dev) * 2 - 1) * (1 - h)
        flip = torch.where(_coin(n, 0.5, dev), -1.0, 1.0).to(w.dtype)
        zero = torch.zeros_like(w)
        theta = torch.stack((torch.stack((w * flip, zero, cx), 1), torch.stack((zero, h, cy), 1)), 1)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    @staticmethod
    def _contrast(x: torch.Tensor, strength: float, apply: torch.Tensor | None = None) -> torch.Tensor:
        n = x.shape[0]
        f = _uniform(n, 1 - strength, 1 + strength, x.device)
        if apply is not None:
            f = torch.where(apply, f, torch.ones_like(f))
        mean = _grey(x).mean(dim=(1, 2, 3), keepdim=True)
        return ((x - mean) * f.view(-1, 1, 1, 1) + mean).clamp(0, 1)

    def _colour(self, x: torch.Tensor) -> torch.Tensor:
        n, dev = x.shape[0], x.device
        jitter = _coin(n, 0.8, dev)
        ones = torch.ones(n, device=dev)
        bright = torch.where(jitter, _uniform(n, 0.6, 1.4, dev), ones).view(-1, 1, 1, 1)
        x = (x * bright).clamp(0, 1)
        x = self._contrast(x, 0.4, jitter)
        if x.shape[1] == 3:
            sat = torch.where(jitter, _uniform(n, 0.6, 1.4, dev), ones).view(-1, 1, 1, 1)
            grey = _grey(x)
            x = ((x - grey) * sat + grey).clamp(0, 1)
            x = self._hue(x, torch.where(jitter, _uniform(n, -0.1, 0.1, dev), torch.zeros(n, device=dev)))
            to_grey = _coin(n, 0.2, dev).view(-1, 1, 1, 1)
            x = torch.where(to_grey, _grey(x).expand_as(x), x)
        return x

    @staticmethod
    def _hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        # rotate the chroma plane of YIQ by 2π·shift: a per-sample 3×3 colour matrix
        rgb2yiq, yiq2rgb = x.new_tensor(_RGB2YIQ), x.new_tensor(_YIQ2RGB)
        a = 2 * math.pi * shift.to(x.dtype)
        cos, sin = torch.cos(a), torch.sin(a)
        rot = torch.zeros(x.shape[0], 3, 3, dtype=x.dtype, device=x.device)
        rot[:, 0, 0] = 1
        rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
        m = yiq2rgb @ rot @ rgb2yiq  # (B, 3, 3)
        return torch.einsum("bij,bjhw->bihw", m, x).clamp(0, 1)

    @staticmethod
    def _blur(x: torch.Tensor) -> torch.Tensor:
        n, c, hgt, _ = x.shape
        dev = x.device
        size = max(3, int(0.1 * hgt) // 2 * 2 + 1)
        sigma = torch.where(_coin(n, 0.5, dev), _uniform(n, 0.1, 2.0, dev), torch.full((n,), 1e-3, device=dev))
        r = torch.arange(size, device=dev, dtype=x.dtype) - size // 2
        k = torch.exp(-(r[None, :] ** 2) / (2 * sigma[:, None].to(x.dtype) ** 2))
        k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (B*C, size)
        flat = x.reshape(1, n * c, *x.shape[2:])
        pad = size // 2
        flat = F.conv2d(F.pad(flat, (pad, pad, 0, 0), mode="reflect"), k.view(n * c, 1, 1, size), groups=n * c)
        flat = F.conv2d(F.pad(flat, (0, 0, pad, pad), mode="reflect"), k.view(n * c, 1, size, 1), groups=n * c)
        return flat.view_as(x)


def make_augmenter(
    sample_shape: Sequence[int], mean: Sequence[float] | None = None, std: Sequence[float] | None = None
) -> Augmenter:
    """The augmentation recipe for samples of shape ``(D,)`` or ``(C, H, W)`` (see the module docstring)."""
    shape = tuple(sample_shape)
    if len(shape) != 3:
        return Augmenter("features")
    side = max(shape[1:])
    kind = "tiny" if side <= 16 else "small" if side <= 64 else "large"
    return Augmenter(kind, mean, std)


# ------------------------------------------------------------------------------------------ --augment paper
def paper_transform(sample_shape: Sequence[int], mean: Sequence[float] | None, std: Sequence[float] | None):
    """The papers' per-sample SimCLR recipe (``--augment paper``) as a ``torchvision.transforms.v2`` pipeline.

    Input: one uint8 ``(C, H, W)`` image tensor (or float in [0, 1]); output: a normalised float32 view.
    Both papers take the recipe from SimCLR (Chen et al., 2020) without listing its numbers; these are
    SimCLR's with colour strength s = 0.5, as the official CC code uses them:

    * ``RandomResizedCrop(H, scale=(0.08, 1.0), ratio=(3/4, 4/3))`` back to the image's own size (CoHiClust
      trains at each dataset's resolution; CC resized everything to 224 px first);
    * ``RandomHorizontalFlip(p=0.5)``;
    * ``ColorJitter(0.4, 0.4, 0.4, 0.1)`` with p = 0.8 (brightness and contrast only on one-channel images);
    * ``RandomGrayscale(p=0.2)``;
    * ``GaussianBlur`` (kernel ≈ 10 % of the side, odd; σ ∈ [0.1, 2.0]) with p = 0.5 only for
      ImageNet-sized images (side ≥ 128): CC leaves the blur out for CIFAR-10/100, STL-10 and
      Tiny-ImageNet, "as up-scaling already leads to blurred images".
    """
    from torchvision.transforms import v2

    shape = tuple(int(s) for s in sample_shape)
    if len(shape) != 3:
        raise ValueError(
            f"--augment paper needs images (C, H, W); the data has samples of shape {shape}: use --augment batch"
        )
    channels, side = shape[0], shape[1]
    jitter = v2.ColorJitter(0.4, 0.4, 0.4, 0.1) if channels == 3 else v2.ColorJitter(0.4, 0.4)
    steps = [
        v2.RandomResizedCrop((shape[1], shape[2]), scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
        v2.RandomHorizontalFlip(p=0.5),
        v2.RandomApply([jitter], p=0.8),
    ]
    if channels == 3:
        steps.append(v2.RandomGrayscale(p=0.2))
    if max(shape[1:]) >= 128:
        kernel = max(3, int(0.1 * side) // 2 * 2 + 1)
        steps.append(v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, 2.0))], p=0.5))
    steps.append(v2.ToDtype(torch.float32, scale=True))
    if mean is not None and std is not None:
        steps.append(v2.Normalize(list(mean), list(std)))
    return v2.Compose(steps)
