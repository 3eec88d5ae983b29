"""Where a photo has sky, water, foliage and highlights: soft masks from colour, texture and position alone.

Each mask is float32 HxW in 0..1 at the size of the image given (the engine passes its working copy,
worker/engines/depth.py WORK_SIDE); each region also has a confidence in 0..1, so ambient motion
(worker/engines/ambient.py) can decline a region that is small or unsure. The cues are deliberately
conservative: a sky that does not drift costs nothing, a ceiling that drifts is a fault.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from worker.stats import percentile


@dataclass(frozen=True)
class Region:
    mask: np.ndarray  # float32 HxW, 0..1
    confidence: float  # 0..1: how sure the cues are that the masked area is what it is named

    @property
    def area(self) -> float:
        """The share of the photo the region covers."""
        return float(self.mask.mean())


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees (0..360), saturation and value in 0..1."""
    hsv = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
    return hsv[..., 0], hsv[..., 1], hsv[..., 2]


def _smooth_size(shape: tuple[int, ...], fraction: float) -> float:
    return max(1.0, fraction * max(shape[:2]))


def _texture(gray: np.ndarray, pool: float = 0.02) -> np.ndarray:
    """Local gradient energy (0..1 units of brightness per pixel), pooled over `pool` of the frame."""
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    energy = cv2.GaussianBlur((gx * gx + gy * gy).astype(np.float32), (0, 0), _smooth_size(gray.shape, pool))
    return np.sqrt(energy)


def _soft(mask: np.ndarray, fraction: float = 0.01) -> np.ndarray:
    return np.clip(
        cv2.GaussianBlur(mask.astype(np.float32), (0, 0), _smooth_size(mask.shape, fraction)), 0, 1
    )


def _touching_top(candidate: np.ndarray) -> np.ndarray:
    """The pieces of a 0/1 mask that reach the top rows: a sky comes down from the top of the frame."""
    count, labels = cv2.connectedComponents(candidate.astype(np.uint8), connectivity=4)
    if count <= 1:
        return np.zeros_like(candidate, dtype=bool)
    band = max(1, candidate.shape[0] // 20)
    # A lookup table of the labels seen in the band (np.unique and np.isin would import numpy.ma, 20 ms).
    reaches_top = np.zeros(count, bool)
    reaches_top[labels[:band].ravel()] = True
    reaches_top[0] = False
    return reaches_top[labels]


def _with_small_holes_filled(mask: np.ndarray, largest: float = 0.01) -> np.ndarray:
    """The mask with what it encloses added, where that is small: birds, a kite, a wisp of darker cloud
    belong to the sky they are in (left out, they would stay behind as it drifts)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    h, w = mask.shape
    filled = mask.copy()
    for label in range(1, count):
        x, y, bw, bh, area = stats[label]
        enclosed = x > 0 and y > 0 and x + bw < w and y + bh < h
        if enclosed and area <= largest * h * w:
            filled[labels == label] = True
    return filled


def sky_region(rgb: np.ndarray) -> Region:
    """Sky: bright, smooth, blue or cloud-grey, connected to the top edge, brighter than what is below.

    Confidence is high for a sky with some blue in it across the top of the frame; a white or grey
    region alone (an overcast sky, but also a ceiling or a wall) scores low."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    hue, sat, val = _hsv(rgb)
    h = rgb.shape[0]
    blue = (hue >= 185) & (hue <= 265) & (sat >= 0.12) & (val >= 0.35)
    cloud = (sat < 0.22) & (val >= 0.55)
    texture = _texture(gray)
    smooth = texture < 0.05
    candidate = (blue | cloud) & smooth
    # Only the pieces that come down from the top of the frame, and only above its lower fifth.
    candidate[int(0.8 * h) :] = False
    sky = _with_small_holes_filled(_touching_top(candidate))
    if not sky.any():
        return Region(np.zeros(gray.shape, np.float32), 0.0)
    rest = ~sky
    bluish = float(blue[sky].mean())
    across_top = float(sky[: max(1, h // 20)].mean())
    brighter = float(val[sky].mean() - val[rest].mean()) if rest.any() else 0.0
    # Each cue maps to 0..1 and they multiply: without blue a region needs every other cue at its strongest.
    confidence = (
        min(1.0, 0.35 + 1.3 * bluish) * min(1.0, 1.5 * across_top) * float(np.clip(4.0 * brighter, 0, 1))
    )
    return Region(_soft(sky), float(np.clip(confidence, 0.0, 1.0)))


# How sure the cues must be before a region is taken for a sky, by the depth (which sends it farthest) and
# by ambient motion (which lets it drift): a pale wall or a studio backdrop scores below.
SKY_CONFIDENT = 0.6


def sky_mask(rgb: np.ndarray) -> np.ndarray:
    """Where the sky is, float32 HxW in 0..1 at the size of `rgb` (an RGB uint8 image); zero everywhere
    unless the cues are sure of it."""
    sky = sky_region(rgb)
    return sky.mask if sky.confidence >= SKY_CONFIDENT else np.zeros_like(sky.mask)


def _orientation(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Structure tensor: how much more the brightness changes along y than along x (-1..1, +1 for horizontal
    bands), and the local gradient energy, both pooled over about 3% of the frame."""
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    sigma = _smooth_size(gray.shape, 0.03)
    jxx = cv2.GaussianBlur((gx * gx).astype(np.float32), (0, 0), sigma)
    jyy = cv2.GaussianBlur((gy * gy).astype(np.float32), (0, 0), sigma)
    return (jyy - jxx) / (jyy + jxx + 1e-6), np.sqrt(jxx + jyy)


def water_region(rgb: np.ndarray) -> Region:
    """Water: blue-green to grey-blue, rippled in horizontal bands, in the lower part of the frame.

    Ripples seen from the shore are foreshortened into horizontal streaks: brightness changes far more
    from row to row than along a row. Glass, stairs and floors have horizontal lines too, but rarely
    all three cues at once over a large area."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    hue, sat, val = _hsv(rgb)
    h = rgb.shape[0]
    banded, energy = _orientation(gray)
    watery = (hue >= 160) & (hue <= 250) & (sat >= 0.12) & (val >= 0.15)
    # Rippled at the pixel itself too: the banding is pooled widely, and would reach over the water's edge
    # into a smooth sky above a horizon.
    rippled = _texture(gray, 0.004) > 0.008
    candidate = watery & rippled & (banded > 0.45) & (energy > 0.01)
    candidate[: int(0.3 * h)] = False
    # Closed over small gaps, then pulled in a little: a region edge is no place for ripples.
    reach = max(3, round(0.015 * max(gray.shape)))
    closed = cv2.morphologyEx(candidate.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    candidate = cv2.erode(closed, np.ones((reach, reach), np.uint8)).astype(bool)
    if not candidate.any():
        return Region(np.zeros(gray.shape, np.float32), 0.0)
    # Water lies low: its centre well down the frame, and it fills the rows it is in.
    rows = np.nonzero(candidate.any(axis=1))[0]
    low = float(np.clip((rows.mean() / h - 0.4) / 0.25, 0.0, 1.0))
    row_fill = float(candidate[rows].mean())
    confidence = low * float(np.clip(float(banded[candidate].mean()) * 1.4, 0, 1)) * min(1.0, 1.5 * row_fill)
    return Region(_soft(candidate), float(np.clip(confidence, 0.0, 1.0)))


def foliage_region(rgb: np.ndarray) -> Region:
    """Foliage: yellow-green to green, saturated and finely textured (leaves), anywhere in the frame."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    hue, sat, val = _hsv(rgb)
    green = (hue >= 55) & (hue <= 165) & (sat >= 0.2) & (val >= 0.1)
    textured = _texture(gray) > 0.03
    candidate = cv2.morphologyEx(
        (green & textured).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
    ).astype(bool)
    if not candidate.any():
        return Region(np.zeros(gray.shape, np.float32), 0.0)
    # Saturated green is foliage's own colour; a washed-out green (a painted wall, a grey-green sky) is not.
    confidence = float(np.clip(float(sat[candidate].mean()) * 2.0, 0, 1))
    return Region(_soft(candidate, 0.015), confidence)


def highlight_region(rgb: np.ndarray) -> Region:
    """Highlights: the brightest parts of the photo, where light falls (a lit wall, a window, bright cloud).

    Declined (confidence 0) when the bright part is most of the frame: a swell there is an exposure
    flicker, not light moving."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    level = max(0.7, percentile(gray, 85))
    # A ramp, not a cut: the swell fades in with the brightness, so it has no edge of its own.
    mask = _soft(np.clip((gray - level + 0.08) / 0.08, 0.0, 1.0), 0.015)
    area = float(mask.mean())
    contrast = (
        float(gray[mask > 0.5].mean() - gray[mask < 0.1].mean())
        if (mask > 0.5).any() and (mask < 0.1).any()
        else 0.0
    )
    confidence = float(np.clip(contrast * 2.5, 0, 1)) * (1.0 if area <= 0.35 else 0.0)
    return Region(mask, confidence)
