"""Monocular depth cues that need no model weights, each cheap at the working size (about 256 px).

- defocus: with a shallow depth of field, what is sharp is the plane the photographer focused on,
  usually the nearest thing that matters; the blur of each edge is measured by re-blurring it (the
  gradient ratio of Zhuo and Sim, 2011) and spread to the whole frame along the photo's edges.
- perspective: straight edges that recede (floor boards, railings, ceilings) meet at a vanishing
  point, which is the farthest point of a room, a street or a staircase.
- superpixels: SLIC-like regions of similar colour and texture, so depth can be made constant-ish
  per region and its edges follow objects, not blur.
- the guided filter that snaps any map to the photo's edges.

Each cue says how sure it is (a confidence in 0..1); depth.py weighs them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from worker.stats import percentiles

# Re-blur of the gradient ratio, in pixels of the copy it runs on.
_REBLUR = 1.0
# Lines shorter than this fraction of the long side are texture, not structure.
_MIN_LINE = 0.08
# A line supports a vanishing point when it points at it within this angle.
_VP_TOLERANCE_DEG = 2.0
_HOUGH_SEED = 11


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter: `source` smoothed, except across the edges of `guide` (both float32)."""
    size = (2 * radius + 1, 2 * radius + 1)
    mean_i = cv2.blur(guide, size)
    mean_p = cv2.blur(source, size)
    cov = cv2.blur(guide * source, size) - mean_i * mean_p
    var = cv2.blur(guide * guide, size) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return cv2.blur(a, size) * guide + cv2.blur(b, size)


def normalise(values: np.ndarray) -> np.ndarray:
    """To 0..1 between the 2nd and 99th percentiles (a few outliers do not squash the rest)."""
    low, high = percentiles(values, (2, 99))
    return np.clip((values - low) / max(high - low, 1e-6), 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class Focus:
    """Sharpness (1 = in focus) over the frame, and how shallow the depth of field looks (0..1)."""

    sharp: np.ndarray
    confidence: float


def defocus(gray: np.ndarray, *, size: tuple[int, int]) -> Focus:
    """Focus map at `size` (w, h) from a grey copy, ideally larger than `size`: blur is measured in its
    pixels, and a downscale to 256 px hides the difference between sharp and slightly soft."""
    g = gray.astype(np.float32) / 255.0
    reblurred = cv2.GaussianBlur(g, (0, 0), _REBLUR)

    def grad(image: np.ndarray) -> np.ndarray:
        # np.hypot, not cv2.magnitude: OpenCV's differs in the last bit from one call to the next,
        # and the same photo must give the same clip.
        return np.hypot(cv2.Sobel(image, cv2.CV_32F, 1, 0), cv2.Sobel(image, cv2.CV_32F, 0, 1))

    g1, g2 = grad(g), grad(reblurred)
    # On edges only, at their crest (Canny's thin edges): in flat areas and on an edge's flanks the ratio
    # is noise. A sharp edge loses much of its gradient to the re-blur (ratio well above 1), an already
    # blurred one hardly any (ratio near 1).
    edges = (cv2.Canny(gray, 15, 40) > 0) & (g1 > 0.02) & (g2 > 1e-3)
    ratio = np.where(edges, g1 / np.maximum(g2, 1e-3), 1.0)
    sigma = _REBLUR / np.sqrt(np.maximum(ratio * ratio - 1.0, 1e-2))
    sigma = np.clip(sigma, 0.0, 8.0)
    weight = edges.astype(np.float32)
    # Spread the sparse edge estimates over the frame: normalised convolution over about a tenth of the
    # frame, on a 64-px copy (a wide blur at full size would cost more than every other cue together).
    coarse = (max(4, size[0] // 4), max(4, size[1] // 4))
    spread = 0.06 * max(coarse)
    weights = cv2.GaussianBlur(cv2.resize(weight, coarse, interpolation=cv2.INTER_AREA), (0, 0), spread)
    sums = cv2.GaussianBlur(cv2.resize(sigma * weight, coarse, interpolation=cv2.INTER_AREA), (0, 0), spread)
    spread_sigma = sums / np.maximum(weights, 1e-4)
    # Where no edge is near (a smooth sky, a blurred backdrop) there is nothing sharp: count it as blur.
    filled = np.where(weights > 0.02, spread_sigma, spread_sigma.max()).astype(np.float32)
    dense = cv2.resize(filled, size, interpolation=cv2.INTER_LINEAR)
    sharp = np.exp(-dense / 1.5).astype(np.float32)
    if int(edges.sum()) < 50:
        return Focus(sharp=sharp, confidence=0.0)
    # Shallow depth of field: parts of the frame with edges are much sharper than others. Read over
    # the area that has edges (a flat wall or a drawing's blank paper says nothing about focus).
    covered = dense[cv2.resize(weights, size, interpolation=cv2.INTER_LINEAR) > 0.02]
    low, high = percentiles(covered, (10, 90)) if covered.size else (0.0, 0.0)
    confidence = float(np.clip((high - low - 0.3) / 0.7, 0.0, 1.0))
    return Focus(sharp=normalise(sharp), confidence=confidence)


@dataclass(frozen=True)
class Vanishing:
    """A vanishing point (working-size pixels, may lie outside the frame) and the share of the photo's
    structural lines that point at it, as a confidence."""

    point: tuple[float, float]
    confidence: float


def vanishing_point(gray: np.ndarray) -> Vanishing | None:
    """The point most long oblique lines point at, or None when the photo has no such structure."""
    h, w = gray.shape
    # Structure, not texture: edges of a slightly smoothed copy, and straight runs a tenth of the frame long.
    edges = cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 60, 160)
    min_len = _MIN_LINE * max(h, w)
    # The probabilistic Hough transform samples edge points with OpenCV's shared random state: a fixed
    # seed makes the same photo give the same lines, whatever ran before in this worker.
    cv2.setRNGSeed(_HOUGH_SEED)
    found = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=30, minLineLength=min_len, maxLineGap=3)
    if found is None:
        return None
    seg = found.reshape(-1, 4).astype(np.float64)
    d = seg[:, 2:] - seg[:, :2]
    length = np.hypot(d[:, 0], d[:, 1])
    angle = np.degrees(np.arctan2(np.abs(d[:, 1]), np.abs(d[:, 0])))
    # Horizontal and vertical lines meet at infinity for a level camera: only oblique lines recede.
    oblique = (angle > 12.0) & (angle < 80.0)
    total = float(length.sum())
    seg, d, length = seg[oblique], d[oblique], length[oblique]
    if len(seg) < 4 or total <= 0:
        return None
    keep = np.argsort(-length)[:40]
    seg, d, length = seg[keep], d[keep], length[keep]
    # Candidates: every crossing of two lines, as homogeneous line intersections.
    lines = np.cross(np.c_[seg[:, :2], np.ones(len(seg))], np.c_[seg[:, 2:], np.ones(len(seg))])
    i, j = np.triu_indices(len(seg), 1)
    points = np.cross(lines[i], lines[j])
    finite = np.abs(points[:, 2]) > 1e-9
    points = points[finite, :2] / points[finite, 2:]
    # Only a point well inside the frame is taken: that is where a corridor, a street or a nave seen down
    # its length recedes to, and a depth ramp towards it is safe. Lines that meet outside the frame
    # (a staircase's railings, a table's edge seen at an angle) say less about what is far.
    near = (np.abs(points[:, 0] - w / 2) < 0.35 * w) & (np.abs(points[:, 1] - h / 2) < 0.35 * h)
    points = points[near]
    if not len(points):
        return None
    # Score: the length of the lines that point at a candidate (within the tolerance).
    mid = (seg[:, :2] + seg[:, 2:]) / 2
    towards = points[:, None, :] - mid[None, :, :]
    cos = np.abs((towards * d[None]).sum(-1)) / (np.hypot(*towards.transpose(2, 0, 1)) * length + 1e-9)
    support = (cos > np.cos(np.radians(_VP_TOLERANCE_DEG))) * length[None]
    score = support.sum(1)
    best = int(np.argmax(score))
    # Several lines must agree: any two lines cross somewhere.
    if int((support[best] > 0).sum()) < 5:
        return None
    # Sure when the lines that agree are a fair share of all the photo's structure and long in all:
    # a few short lines that happen to cross say little.
    share = score[best] / (0.3 * total)
    amount = score[best] / (3.5 * max(h, w))
    confidence = float(np.clip(min(share, amount), 0.0, 1.0))
    if confidence < 0.3:
        return None
    return Vanishing(point=(float(points[best, 0]), float(points[best, 1])), confidence=confidence)


def perspective_ramp(shape: tuple[int, int], point: tuple[float, float]) -> np.ndarray:
    """0 at the vanishing point rising to 1 at the farthest corner: things get nearer as they spread out
    from where the lines meet. The square root makes depth change fastest near the point, as it does."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    distance = np.hypot(x - point[0], y - point[1])
    return np.sqrt(distance / max(float(distance.max()), 1e-6)).astype(np.float32)


# sRGB to CIE XYZ (D65), each row divided by the white point's own X, Y or Z: OpenCV's Lab constants.
_RGB_TO_XYZ = (
    np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
    / np.array([[0.950456], [1.0], [1.088754]])
).astype(np.float32)
# Each 8-bit sRGB level, linearised.
_LINEAR = np.array(
    [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in np.arange(256) / 255.0], np.float32
)


def lab8(rgb: np.ndarray) -> np.ndarray:
    """Lab of an RGB uint8 image, float32 in OpenCV's 8-bit scaling (L 0..255, a and b offset by 128).

    Computed here rather than by OpenCV, whose Lab conversions build their tables on first use: 35 ms at the
    start of every `vivant animate`, for values that differ from these by rounding alone."""
    xyz = _LINEAR[rgb] @ _RGB_TO_XYZ.T
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + np.float32(16 / 116)).astype(np.float32)
    lightness = np.where(xyz[..., 1] > 0.008856, 116 * f[..., 1] - 16, 903.3 * xyz[..., 1])
    a = 500 * (f[..., 0] - f[..., 1]) + 128
    b = 200 * (f[..., 1] - f[..., 2]) + 128
    return np.dstack([lightness * np.float32(255 / 100), a, b]).astype(np.float32)


def superpixels(
    rgb: np.ndarray, *, count: int = 150, compactness: float = 12.0, rounds: int = 4
) -> np.ndarray:
    """SLIC-like labels (int32 HxW at the size of `rgb`): each pixel joins the nearest of the 9 grid
    centres around it in Lab, local texture and position, and the centres move to the mean of their
    pixels, a few rounds. Runs on a half-size copy: a region is tens of pixels wide either way."""
    full = rgb.shape[1], rgb.shape[0]
    rgb = cv2.resize(rgb, (max(8, full[0] // 2), max(8, full[1] // 2)), interpolation=cv2.INTER_AREA)
    h, w = rgb.shape[:2]
    step = max(4, round(np.sqrt(h * w / count)))
    lab = lab8(rgb)
    texture = np.sqrt(
        np.maximum(cv2.blur(lab[..., 0] ** 2, (5, 5)) - cv2.blur(lab[..., 0], (5, 5)) ** 2, 0.0)
    )
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    spatial = compactness / step
    features = np.dstack([lab, texture, y * spatial, x * spatial]).reshape(-1, 6)
    rows, cols = -(-h // step), -(-w // step)
    cell = (np.minimum(y // step, rows - 1) * cols + np.minimum(x // step, cols - 1)).astype(np.int32).ravel()
    # Start each centre at the mean of its grid cell.
    centres = _means(features, cell, rows * cols)
    cell_r, cell_c = cell // cols, cell % cols
    labels = cell
    for _ in range(rounds):
        best = np.full(len(features), np.inf, np.float32)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                candidate = np.clip(cell_r + dr, 0, rows - 1) * cols + np.clip(cell_c + dc, 0, cols - 1)
                distance = ((features - centres[candidate]) ** 2).sum(1)
                closer = distance < best
                best[closer], labels = distance[closer], np.where(closer, candidate, labels)
        centres = _means(features, labels, rows * cols, fallback=centres)
    return cv2.resize(labels.reshape(h, w).astype(np.int32), full, interpolation=cv2.INTER_NEAREST)


def _means(
    features: np.ndarray, labels: np.ndarray, count: int, fallback: np.ndarray | None = None
) -> np.ndarray:
    sizes = np.bincount(labels, minlength=count).astype(np.float32)
    sums = np.stack([np.bincount(labels, weights=f, minlength=count) for f in features.T], axis=1)
    means = (sums / np.maximum(sizes, 1.0)[:, None]).astype(np.float32)
    if fallback is not None:
        means[sizes == 0] = fallback[sizes == 0]
    return means


def region_mean(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each pixel replaced by the mean of its region."""
    flat = labels.ravel()
    count = int(flat.max()) + 1
    sums = np.bincount(flat, weights=values.ravel(), minlength=count)
    sizes = np.bincount(flat, minlength=count)
    return (sums / np.maximum(sizes, 1))[flat].reshape(values.shape).astype(np.float32)
