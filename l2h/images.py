"""Image files opened with a pixel budget, checked from the header before any pixel is decoded.

A PNG of a few hundred kilobytes can declare 13 000 x 13 000 pixels: decoded, it takes gigabytes.
Pillow only refuses images above about 179 megapixels; :func:`open_image` refuses anything above
``max_pixels`` (default :data:`DEFAULT_MAX_PIXELS`, 64 megapixels: 192 MB as RGB) with one line
naming the file, before decoding.  ``report``, ``gallery`` and ``logits`` (its DataLoader workers
included) open every image through it; ``--max-pixels`` raises the budget.
"""

from __future__ import annotations

import os
from typing import Any

from l2h._validation import InputError
from l2h.text import printable

__all__ = ["DEFAULT_MAX_PIXELS", "ImageTooLarge", "check_max_pixels", "check_pixels", "open_image"]

#: Largest image (width x height, all frames together) decoded by default: 64 megapixels.
DEFAULT_MAX_PIXELS = 64_000_000


class ImageTooLarge(InputError):
    """An image declares more pixels than the budget (one line naming the file)."""


def check_pixels(path: object, width: int, height: int, max_pixels: int) -> None:
    """Raise :class:`ImageTooLarge` when ``width x height`` exceeds ``max_pixels``.

    Parameters
    ----------
    path : object
        The image, as the message names it.
    width, height : int
        The size its header declares.
    max_pixels : int
        Largest ``width x height`` accepted.

    Raises
    ------
    ImageTooLarge
        One line naming the file, its size and the budget.

    Examples
    --------
    >>> check_pixels("a.png", 640, 480, DEFAULT_MAX_PIXELS)
    >>> try:
    ...     check_pixels("bomb.png", 13000, 13000, DEFAULT_MAX_PIXELS)
    ... except ImageTooLarge as exc:
    ...     print(str(exc).split(";")[0])
    image bomb.png is 13000 x 13000 pixels (169.0 megapixels), over the budget of 64.0 megapixels
    """
    total = int(width) * int(height)
    if total > max_pixels:
        shown = printable(os.fspath(path) if isinstance(path, os.PathLike) else path)
        raise ImageTooLarge(
            f"image {shown} is {width} x {height} pixels ({total / 1e6:.1f} megapixels), over the budget of "
            f"{max_pixels / 1e6:.1f} megapixels; raise it with --max-pixels if the file is trusted"
        )


def open_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> Any:
    """``PIL.Image.open(path)`` after its header passed the pixel budget (nothing decoded yet).

    Parameters
    ----------
    path : str or os.PathLike
        The image file.
    max_pixels : int
        Largest width x height accepted (of the first frame: the one decoded).

    Returns
    -------
    PIL.Image.Image
        The lazily opened image; use it as a context manager.

    Raises
    ------
    ImageTooLarge
        The header declares more than ``max_pixels`` pixels (also for Pillow's own bomb check).
    OSError
        The file cannot be read or is not an image.
    """
    from PIL import Image

    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels  # the caller's budget, raised on purpose, wins over Pillow's
    try:
        image = Image.open(path)
    except Image.DecompressionBombError:
        raise ImageTooLarge(
            f"image {printable(os.fspath(path))} declares more pixels than Pillow allows (a decompression bomb?); "
            "raise --max-pixels only if the file is trusted"
        ) from None
    try:
        check_pixels(path, image.size[0], image.size[1], max_pixels)
    except ImageTooLarge:
        image.close()
        raise
    return image


def check_max_pixels(max_pixels: int) -> int:
    """``max_pixels`` as a positive int, else :class:`ValueError` (for the API's callers).

    Parameters
    ----------
    max_pixels : int
        A pixel budget (e.g. the ``max_pixels`` argument of :func:`l2h.report.load_images`).

    Returns
    -------
    int
    """
    value = int(max_pixels)
    if value < 1:
        raise ValueError(f"max_pixels must be positive; got {max_pixels}")
    return value
