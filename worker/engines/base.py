"""The one interface every motion engine implements.

An engine turns an RGB photo into frames of subtle motion. It knows nothing of Celery, the
database or the encoder: the renderer (worker/render.py) feeds its frames to the encoder and the
metrics, and re-renders with less strength when the motion leaves the strength's band.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import cv2
import numpy as np

from worker.choices import AMBIENTS, CAMERAS, STRENGTHS, Ambient, Camera, Strength

ProgressFn = Callable[[float], None]


def _no_progress(_: float) -> None:
    return None


class EngineError(Exception):
    """An expected failure a person can act on; its message is shown as the clip's error."""


@dataclass(frozen=True)
class MotionSpec:
    """What the clip should look like, independent of the engine that makes it."""

    seconds: float = 4.0
    fps: int = 24
    strength: Strength = "gentle"
    camera: Camera = "auto"
    ambient: Ambient = "auto"
    loop: bool = False
    seed: int = 0
    long_side: int = 1280
    preset: str | None = None
    # Multiplies the strength's amplitude; the renderer lowers it when measured motion is too large.
    amplitude: float = 1.0
    # Boolean HxW mask at the photo's size: True pixels must not move at all.
    keep_still: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.strength not in STRENGTHS:
            raise EngineError(f"strength must be one of {', '.join(STRENGTHS)}, not {self.strength!r}")
        if self.camera not in CAMERAS:
            raise EngineError(f"camera must be one of {', '.join(CAMERAS)}, not {self.camera!r}")
        if self.ambient not in AMBIENTS:
            raise EngineError(f"ambient must be one of {', '.join(AMBIENTS)}, not {self.ambient!r}")
        if not 0.5 <= self.seconds <= 30:
            raise EngineError(f"seconds must be between 0.5 and 30, not {self.seconds}")
        if not 6 <= self.fps <= 60:
            raise EngineError(f"fps must be between 6 and 60, not {self.fps}")

    @property
    def frame_count(self) -> int:
        return max(2, round(self.seconds * self.fps))

    def scaled(self, amplitude: float) -> MotionSpec:
        return replace(self, amplitude=amplitude)


def output_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The clip's size: the photo's aspect ratio at `long_side` on its long side, with even sides.

    Small photos are enlarged too. Motion of a fraction of a pixel per frame needs pixels to move
    through: rendered at 128 px and enlarged by the browser, a slow push steps and shimmers, while
    rendered at the size it is watched it glides. H.264 in yuv420p needs even dimensions; rounding
    each side to even keeps the ratio within a pixel.
    """
    scale = long_side / max(width, height)
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h


def resize_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` at `size` (width, height): area-averaged when shrinking, bicubic when enlarging.

    Engines make their first frame with it and the metrics compare that frame against the photo
    with it, so the two agree to the last bit."""
    if (image.shape[1], image.shape[0]) == size:
        return image.copy()
    shrinking = size[0] * size[1] < image.shape[0] * image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


class Engine(ABC):
    """Public `render()` validates and wraps; subclasses implement `_frames()`."""

    name: ClassVar[str]
    # Celery queue whose workers can run this engine.
    queue: ClassVar[str] = "cpu"

    def render(
        self,
        image: np.ndarray,
        spec: MotionSpec,
        progress: ProgressFn = _no_progress,
        *,
        facts: dict[str, Any] | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield `spec.frame_count` RGB uint8 frames at `output_size(...)` of the image.

        The first frame is the photo itself (resized to the output size). The engine writes into `facts`
        how it made the clip (which depth it used, which kinds of ambient motion it gave the scene); the
        renderer keeps them with the clip's metrics.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise EngineError(f"engine expects an RGB uint8 image, got shape {image.shape} {image.dtype}")
        if spec.keep_still is not None and spec.keep_still.shape != image.shape[:2]:
            h, w = image.shape[:2]
            mh, mw = spec.keep_still.shape
            raise EngineError(f"keep-still mask is {mw}x{mh} but the photo is {w}x{h}; they must match")
        return self._frames(image, spec, progress, {} if facts is None else facts)

    def prepare(self, image: np.ndarray, spec: MotionSpec) -> None:
        """Read the photo ahead of `render` (`vivant animate` does it while the encoder loads). An engine
        may keep what it read for the renders of this photo that follow; by default there is nothing."""
        return None

    @abstractmethod
    def _frames(
        self, image: np.ndarray, spec: MotionSpec, progress: ProgressFn, facts: dict[str, Any]
    ) -> Iterator[np.ndarray]: ...
