"""Faithfulness post-processing for generated clips (numpy and OpenCV only, no torch).

A video model works at its own size, length and colour balance. These steps bring its output back to the
photo: the photo is letterboxed into the model's frame and cut back out, the clip is resampled in time to
the requested length, colours are matched back to the photo frame by frame, the clip starts on the photo
itself and blends into the motion, and can fade back into the photo to loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from worker.engines.base import MotionSpec, output_size, resize_to

# Colour transfer may stretch or shrink a channel's contrast only this far: enough to undo a model's
# drift, not enough to amplify noise in a nearly flat channel.
_STD_RATIO = (0.7, 1.4)


@dataclass(frozen=True)
class Box:
    """Where the photo sits inside the model's frame, in pixels of that frame."""

    x: int
    y: int
    width: int
    height: int


def smoothstep(t: float) -> float:
    t = min(1.0, max(0.0, t))
    return t * t * (3.0 - 2.0 * t)


def letterbox(image: np.ndarray, width: int, height: int) -> tuple[np.ndarray, Box]:
    """Fit the whole photo inside width x height, centred, with nothing cropped.

    The borders are a blurred mirror of the photo's own edges rather than black bars: a model animates
    hard bars as objects, and a soft continuation keeps its attention on the photo. They are cut away after.
    """
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    fit_w, fit_h = min(width, max(2, round(w * scale))), min(height, max(2, round(h * scale)))
    x, y = (width - fit_w) // 2, (height - fit_h) // 2
    fitted = resize_to(image, (fit_w, fit_h))
    if (fit_w, fit_h) == (width, height):
        return fitted, Box(0, 0, width, height)
    canvas = cv2.copyMakeBorder(
        fitted, y, height - fit_h - y, x, width - fit_w - x, borderType=cv2.BORDER_REFLECT_101
    )
    blurred = cv2.GaussianBlur(canvas, (0, 0), sigmaX=max(width, height) / 64)
    blurred[y : y + fit_h, x : x + fit_w] = fitted
    return blurred, Box(x, y, fit_w, fit_h)


def _lab_stats(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = lab.reshape(-1, 3)
    return flat.mean(axis=0), flat.std(axis=0) + 1e-3


def match_colours(frame: np.ndarray, reference_stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Per-channel mean and spread in Lab moved to the photo's, so the clip keeps the photo's colours."""
    lab = cv2.cvtColor(frame.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    mean, std = _lab_stats(lab)
    ref_mean, ref_std = reference_stats
    ratio = np.clip(ref_std / std, *_STD_RATIO)
    lab = (lab - mean) * ratio + ref_mean
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _mix(a: np.ndarray, b: np.ndarray, weight_b: float | np.ndarray) -> np.ndarray:
    out = a.astype(np.float32) * (1.0 - weight_b) + b.astype(np.float32) * weight_b
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """A pipeline's float frames in [0, 1] as uint8."""
    return (np.clip(frames, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class _Timeline:
    """Generated frames cut out of the model's frame and resized, on demand, at fractional positions."""

    def __init__(self, frames: np.ndarray, box: Box, width: int, height: int):
        self._frames, self._box, self._size = frames, box, (width, height)
        self._cache: dict[int, np.ndarray] = {}

    def _frame(self, index: int) -> np.ndarray:
        if index not in self._cache:
            # Only the two neighbours of the current position are ever needed again.
            self._cache = {k: v for k, v in self._cache.items() if k >= index - 1}
            b = self._box
            crop = self._frames[index, b.y : b.y + b.height, b.x : b.x + b.width]
            self._cache[index] = resize_to(crop, self._size)
        return self._cache[index]

    def at(self, position: float) -> np.ndarray:
        """Linear blend of the two nearest frames: for subtle motion, close enough to true in-betweens."""
        last = len(self._frames) - 1
        position = min(float(last), max(0.0, position))
        lower = int(position)
        frac = position - lower
        if frac < 1e-3 or lower == last:
            return self._frame(lower)
        return _mix(self._frame(lower), self._frame(lower + 1), frac)


def finish(
    generated: np.ndarray,
    *,
    photo: np.ndarray,
    box: Box,
    spec: MotionSpec,
    time_span: float = 1.0,
) -> Iterator[np.ndarray]:
    """Yield spec.frame_count frames at output_size(photo): the first is the photo itself.

    `generated` is the model's clip, uint8 (frames, height, width, 3), with the photo at `box` in each frame.
    `time_span` below 1 plays only that share of the generated motion over the whole clip.
    """
    out_w, out_h = output_size(photo.shape[1], photo.shape[0], spec.long_side)
    reference = resize_to(photo, (out_w, out_h))
    reference_stats = _lab_stats(cv2.cvtColor(reference.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab))
    timeline = _Timeline(generated, box, out_w, out_h)
    n = spec.frame_count
    span = (len(generated) - 1) * min(1.0, max(0.0, time_span))
    # The photo blends into the motion over a quarter second; a loop fades back into it over the last
    # three quarters, so the jump from the last frame to the first is invisible.
    head = max(1, min(n // 4, round(spec.fps * 0.25)))
    tail = max(1, min(n // 3, round(spec.fps * 0.75))) if spec.loop else 0
    still = None
    if spec.keep_still is not None:
        mask = cv2.resize(spec.keep_still.astype(np.float32), (out_w, out_h), interpolation=cv2.INTER_AREA)
        # Feathered, so the boundary between still and moving parts does not show as a seam.
        still = cv2.GaussianBlur(mask, (0, 0), sigmaX=max(1.0, max(out_w, out_h) / 200))[..., None]
    for i in range(n):
        if i == 0:
            yield reference.copy()
            continue
        frame = match_colours(timeline.at(span * i / (n - 1)), reference_stats)
        towards_photo = 1.0 - smoothstep(i / head)
        if tail and i >= n - tail:
            towards_photo = max(towards_photo, smoothstep((i - (n - tail) + 1) / (tail + 1)))
        if towards_photo > 0:
            frame = _mix(frame, reference, towards_photo)
        if still is not None:
            frame = _mix(frame, reference, still)
        yield frame
