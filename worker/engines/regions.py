"""Regions of a photo that behave in a known way: the sky.

Sky is what a depth estimate can be surest of: it is the farthest thing in any photo it appears in.
It is found from what it looks like (bright, smooth, blue or grey-white) and where it is (a region that
reaches the top edge); colour alone would take a white shirt or a blue car for sky.
"""

from __future__ import annotations

import cv2
import numpy as np

from worker.engines.cues import guided_filter

# Long side the sky is looked for at: sky is large and smooth, so a small copy sees it whole.
_SKY_SIDE = 160


def sky_mask(rgb: np.ndarray) -> np.ndarray:
    """Where the sky is, float32 HxW in 0..1 at the size of `rgb` (RGB uint8); 0 everywhere without one.

    A pixel is sky when it is bright for this photo, has little texture, is blue or an unsaturated
    grey-white, and is connected to the top edge through such pixels.
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, _SKY_SIDE / max(h, w))
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    light = lab[..., 0] / 255.0
    a, b = lab[..., 1] - 128.0, lab[..., 2] - 128.0
    # 1. Colour: blue (b < 0, a about 0) or a pale grey or white (clouds, overcast).
    blue = (b < -4.0) & (np.abs(a) < 25.0)
    pale = np.hypot(a, b) < 12.0
    # 2. Brightness, relative to the photo: an overcast sky is the brightest thing in it.
    bright = light > max(0.45, float(np.percentile(light, 45)))
    # 3. Smoothness: gradient energy pooled over a few pixels. Clouds in a blue sky have soft texture
    # of their own; a pale region must be smoother, or a white wall's plaster would do.
    gx, gy = cv2.Sobel(light, cv2.CV_32F, 1, 0), cv2.Sobel(light, cv2.CV_32F, 0, 1)
    texture = cv2.GaussianBlur(np.hypot(gx, gy), (0, 0), 1.5)
    candidate = ((blue & (texture < 0.3)) | (pale & (texture < 0.15))) & bright
    # 4. Connected to the top edge, holding a fair share of the top row (a pale patch that only grazes
    # the top is a lamp or a wall's corner), lying mostly high in the frame, and, as a whole, blue or
    # nearly white: a cream or grey wall behind a sitter is pale too, but neither.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate.astype(np.uint8), connectivity=4)
    sky = np.zeros(light.shape, np.float32)
    top = labels[:2].ravel()
    for label in range(1, count):
        region = labels == label
        if (
            float((top == label).mean()) >= 0.15
            and stats[label, cv2.CC_STAT_AREA] >= 0.02 * region.size
            and float(np.median(np.nonzero(region)[0])) < 0.55 * region.shape[0]
            and (float(b[region].mean()) < -3.0 or float(light[region].mean()) > 0.88)
        ):
            sky[region] = 1.0
    if not sky.any():
        return np.zeros((h, w), np.float32)
    # Soft edges that follow the skyline: a guided filter on the photo's lightness.
    soft = np.clip(guided_filter(light, sky, radius=2, eps=1e-3), 0.0, 1.0)
    return cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
