"""Farneback's dense optical flow, one pyramid level, with each frame's expansion computed once.

The same arithmetic as OpenCV's `calcOpticalFlowFarneback(prev, next, None, 0.5, 0, winsize, 1, 5,
1.1, 0)` (one level, one iteration, box window; tests/test_flow.py holds them to 1e-4 px), split in
two so a clip's frames are expanded once each rather than twice, once per pair they belong to. One
difference: OpenCV leaves the next frame out of the equations on the last row and column (it has no
neighbour there to interpolate with), so two identical frames read up to half a pixel of motion along
those edges; here the next frame is used there too, and identical frames read exactly zero.

- `expand(gray)`: the frame, lightly blurred, approximated around every pixel by a quadratic
  polynomial (Farneback 2003): five coefficient images, from separable Gaussian-weighted filters.
- `flow(expanded_prev, expanded_next)`: the displacement that best maps one polynomial onto the
  other, averaged over a window. Without a pyramid it reads motions up to about 2 px well; the
  metrics measure at 240 px, where the largest move any clip may make is 1.3 px.

At 240 px this costs 1.2-1.7 ms a pair, about a third of OpenCV's single-level call (3.4-4.5 ms),
which itself costs two thirds of its three-level one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

POLY_N = 5
POLY_SIGMA = 1.1
WINDOW = 9
_REPLICATE = cv2.BORDER_REPLICATE
# OpenCV fades the equations out over the outer five pixels, so edges trust their neighbours.
_EDGE_WEIGHTS = np.array([0.14, 0.14, 0.4472, 0.4472, 0.4472], np.float32)


@dataclass(frozen=True)
class _Kernels:
    g: np.ndarray
    xg: np.ndarray
    xxg: np.ndarray
    ig11: float
    ig03: float
    ig33: float
    ig55: float


@cache
def _kernels(n: int = POLY_N, sigma: float = POLY_SIGMA) -> _Kernels:
    """The Gaussian applicability and the inverse moments that turn filter outputs into coefficients."""
    x = np.arange(-n, n + 1, dtype=np.float64)
    g = np.exp(-x * x / (2 * sigma * sigma)).astype(np.float32)
    g = (g / g.astype(np.float64).sum()).astype(np.float32)
    gg = np.outer(g, g).astype(np.float64)
    yy, xx = np.meshgrid(x, x, indexing="ij")
    moments = np.zeros((6, 6))
    moments[0, 0] = gg.sum()
    moments[1, 1] = (gg * xx**2).sum()
    moments[3, 3] = (gg * xx**4).sum()
    moments[5, 5] = (gg * xx**2 * yy**2).sum()
    moments[2, 2] = moments[0, 3] = moments[0, 4] = moments[3, 0] = moments[4, 0] = moments[1, 1]
    moments[4, 4] = moments[3, 3]
    moments[3, 4] = moments[4, 3] = moments[5, 5]
    inverse = np.linalg.inv(moments)
    return _Kernels(
        g=g,
        xg=(x * g).astype(np.float32),
        xxg=(x * x * g).astype(np.float32),
        ig11=float(inverse[1, 1]),
        ig03=float(inverse[0, 3]),
        ig33=float(inverse[3, 3]),
        ig55=float(inverse[5, 5]),
    )


@cache
def _edge_fade(height: int, width: int) -> np.ndarray:
    fade_x, fade_y = np.ones(width, np.float32), np.ones(height, np.float32)
    for fade in (fade_x, fade_y):
        fade[:5] *= _EDGE_WEIGHTS
        fade[-5:] *= _EDGE_WEIGHTS[::-1]
    return fade_y[:, None] * fade_x[None, :]


Expansion = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def expand(gray: np.ndarray) -> Expansion:
    """A uint8 or float grey frame as its polynomial coefficients (y, x, yy, xx, xy terms)."""
    k = _kernels()
    # OpenCV smooths every pyramid level first; at the finest one that is a 3x3 Gaussian.
    image = cv2.GaussianBlur(gray.astype(np.float32), (3, 3), 0)
    one = np.ones(1, np.float32)

    def rows(src: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(src, -1, one, kernel, borderType=_REPLICATE)

    def cols(src: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(src, -1, kernel, one, borderType=_REPLICATE)

    v0, v1, v2 = rows(image, k.g), rows(image, k.xg), rows(image, k.xxg)
    b1 = cols(v0, k.g)
    return (
        cols(v1, k.g) * np.float32(k.ig11),
        cols(v0, k.xg) * np.float32(k.ig11),
        b1 * np.float32(k.ig03) + cols(v2, k.g) * np.float32(k.ig33),
        b1 * np.float32(k.ig03) + cols(v0, k.xxg) * np.float32(k.ig33),
        cols(v1, k.xg) * np.float32(k.ig55),
    )


def flow(prev: Expansion, nxt: Expansion, window: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel displacement (dx, dy) from the frame expanded as `prev` to the one expanded as `nxt`."""
    half = np.float32(0.5)
    yy = (prev[2] + nxt[2]) * half
    xx = (prev[3] + nxt[3]) * half
    xy = (prev[4] + nxt[4]) * np.float32(0.25)
    dy = (prev[0] - nxt[0]) * half
    dx = (prev[1] - nxt[1]) * half
    fade = _edge_fade(*dy.shape)
    for term in (yy, xx, xy, dy, dx):
        term *= fade
    size = (window, window)
    g11 = cv2.blur(yy * yy + xy * xy, size, borderType=_REPLICATE)
    g12 = cv2.blur((yy + xx) * xy, size, borderType=_REPLICATE)
    g22 = cv2.blur(xx * xx + xy * xy, size, borderType=_REPLICATE)
    h1 = cv2.blur(yy * dy + xy * dx, size, borderType=_REPLICATE)
    h2 = cv2.blur(xy * dy + xx * dx, size, borderType=_REPLICATE)
    inverse_det = 1.0 / (g11 * g22 - g12 * g12 + np.float32(1e-3))
    return (g11 * h2 - g12 * h1) * inverse_det, (g22 * h1 - g12 * h2) * inverse_det
