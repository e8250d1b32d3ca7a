"""The torch device a run uses, chosen at run time: CUDA, then MPS, then the CPU."""

from __future__ import annotations

import torch

__all__ = ["DEVICES", "DeviceError", "resolve_device"]

#: What ``--device`` accepts.
DEVICES = ("auto", "cpu", "cuda", "mps")


class DeviceError(ValueError):
    """An unknown device name, or a device that this machine does not have."""


def _has_mps() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """The device ``name`` stands for.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda", "mps"}, default "auto"
        ``auto`` picks CUDA when it is available, then MPS, then the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    DeviceError
        An unknown name, or ``cuda``/``mps`` on a machine without it.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _has_mps() else "cpu")
    if name not in DEVICES:
        raise DeviceError(f"--device must be one of {', '.join(DEVICES)}; got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: no CUDA device is available")
    if name == "mps" and not _has_mps():
        raise DeviceError("--device mps: no MPS device is available")
    return torch.device(name)
