"""CPU engine: a slow, eased push-in on the photo. No model weights.

The first frame is the photo itself; the camera only ever zooms in, so no edge is ever empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import cv2
import numpy as np

from worker.engines.base import Engine, MotionSpec, ProgressFn, output_size

# Total zoom over the clip, per strength: a few percent is enough to feel alive.
_ZOOM = {"whisper": 0.02, "gentle": 0.04, "lively": 0.08}


def ease_in_out(t: float) -> float:
    """Smoothstep: zero velocity at both ends, so the motion starts and settles softly."""
    return t * t * (3.0 - 2.0 * t)


class ParallaxEngine(Engine):
    name: ClassVar[str] = "parallax"
    queue: ClassVar[str] = "cpu"

    def _frames(self, image: np.ndarray, spec: MotionSpec, progress: ProgressFn) -> Iterator[np.ndarray]:
        w, h = output_size(image.shape[1], image.shape[0], spec.long_side)
        base = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        still = None
        if spec.keep_still is not None:
            still = cv2.resize(spec.keep_still.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        n = spec.frame_count
        zoom = _ZOOM[spec.strength] * spec.amplitude
        cx, cy = w / 2.0, h / 2.0
        for i in range(n):
            t = i / (n - 1)
            # A loop goes in and comes back out; otherwise the push-in settles at the end.
            phase = ease_in_out(1.0 - abs(2.0 * t - 1.0)) if spec.loop else ease_in_out(t)
            scale = 1.0 + zoom * phase
            if i == 0 or scale == 1.0:
                frame = base.copy()
            else:
                matrix = np.array([[scale, 0.0, cx * (1 - scale)], [0.0, scale, cy * (1 - scale)]])
                frame = cv2.warpAffine(base, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            if still is not None:
                frame[still] = base[still]
            progress((i + 1) / n)
            yield frame
