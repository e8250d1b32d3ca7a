"""Make the group palette of :mod:`l2h.annotate` (run once; the result is pasted into the module).

Greedy max-min selection, as in Glasbey et al. (2007) "Colour displays for categorical images": start
from the Okabe-Ito colours (without black, grey and the yellow that vanishes on white), then add, one
by one, the candidate whose smallest CIEDE2000 distance to the colours already chosen, to the white
page and to the grey of mixed branches is largest, the distance being the minimum over normal vision
and simulated protanopia, deuteranopia and tritanopia (Machado, Oliveira & Fernandes 2009, severity
1).  Candidates are an sRGB grid without greys (chroma >= 40, RGB range > 0.3) and with lightness 35-75 so that text
and thin lines in every colour stay readable on white.

    python benchmarks/make_palette.py [N]
"""

from __future__ import annotations

import sys

import numpy as np

START = ("#0072b2", "#e69f00", "#009e73", "#d55e00", "#56b4e9", "#cc79a7")
NEUTRAL = "#555555"

# Machado et al. 2009, severity 1.0, applied to linear RGB.
CVD = {
    "normal": np.eye(3),
    "protan": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deutan": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
    "tritan": np.array(
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
    ),
}


def hex_to_rgb(colours: list[str]) -> np.ndarray:
    return np.array([[int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)] for c in colours])


def to_linear(rgb: np.ndarray) -> np.ndarray:
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def linear_to_lab(lin: np.ndarray) -> np.ndarray:
    m = np.array(
        [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
    )
    xyz = np.clip(lin, 0, 1) @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def lab_views(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """CIELAB of the colours as seen with normal vision and the three dichromacies."""
    lin = to_linear(rgb)
    return {name: linear_to_lab(lin @ m.T) for name, m in CVD.items()}


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between rows of ``lab1`` (n, 3) and ``lab2`` (m, 3): shape (n, m)."""
    L1, a1, b1 = (lab1[:, None, i] for i in range(3))
    L2, a2, b2 = (lab2[None, :, i] for i in range(3))
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    cbar = (c1 + c2) / 2
    g = 0.5 * (1 - np.sqrt(cbar**7 / (cbar**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dl, dc = L2 - L1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0, dh)
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    lbar, cbarp = (L1 + L2) / 2, (c1p + c2p) / 2
    hsum = h1p + h2p
    hbar = np.where(np.abs(h1p - h2p) > 180, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2), hsum / 2)
    hbar = np.where(c1p * c2p == 0, hsum, hbar)
    t = (
        1
        - 0.17 * np.cos(np.radians(hbar - 30))
        + 0.24 * np.cos(np.radians(2 * hbar))
        + 0.32 * np.cos(np.radians(3 * hbar + 6))
        - 0.20 * np.cos(np.radians(4 * hbar - 63))
    )
    sl = 1 + 0.015 * (lbar - 50) ** 2 / np.sqrt(20 + (lbar - 50) ** 2)
    sc = 1 + 0.045 * cbarp
    sh = 1 + 0.015 * cbarp * t
    rt = -2 * np.sqrt(cbarp**7 / (cbarp**7 + 25**7)) * np.sin(np.radians(60 * np.exp(-(((hbar - 275) / 25) ** 2))))
    return np.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dH / sh) ** 2 + rt * (dc / sc) * (dH / sh))


def min_distance(colours: list[str]) -> float:
    """Smallest CIEDE2000 difference between two of ``colours`` over normal and dichromat vision."""
    views = lab_views(hex_to_rgb(colours))
    best = np.inf
    for lab in views.values():
        d = ciede2000(lab, lab)
        d[np.diag_indices_from(d)] = np.inf
        best = min(best, float(d.min()))
    return best


def make(n: int) -> list[str]:
    grid = np.linspace(0, 1, 18)
    cand = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), axis=-1).reshape(-1, 3)
    lab = linear_to_lab(to_linear(cand))
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    keep = (chroma >= 40) & (lab[:, 0] >= 35) & (lab[:, 0] <= 75) & (np.ptp(cand, axis=1) > 0.3)
    cand = cand[keep]
    cand_views = lab_views(cand)
    chosen = list(START)
    fixed = hex_to_rgb([*chosen, "#ffffff", NEUTRAL])
    dist = np.full(len(cand), np.inf)
    for name, lab_c in cand_views.items():
        ref = lab_views(fixed)[name]
        dist = np.minimum(dist, ciede2000(lab_c, ref).min(axis=1))
    while len(chosen) < n:
        i = int(np.argmax(dist))
        r, g, b = (round(v * 255) for v in cand[i])
        chosen.append(f"#{r:02x}{g:02x}{b:02x}")
        for lab_c in cand_views.values():
            dist = np.minimum(dist, ciede2000(lab_c, lab_c[i : i + 1])[:, 0])
    return chosen


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    colours = make(n)
    print("(" + ", ".join(f'"{c}"' for c in colours) + ")")
    for m in (8, 10, 12, 16, 20, 24, 32):
        if m <= n:
            d = min_distance(colours[:m])
            print(f"first {m:2d}: smallest CIEDE2000 difference over normal + 3 dichromacies = {d:.1f}")
