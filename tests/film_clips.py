"""Small clips for film tests, encoded with the project's own encoder: a colour field with a bright bar
that sweeps across it, so every frame differs from the one before and each clip from the others."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from worker.film_plan import FilmEntry
from worker.video import Mp4Writer


def clip_frame(width: int, height: int, colour: tuple[int, int, int], index: int) -> np.ndarray:
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = colour
    bar = index * 3 % max(1, width - 4)
    frame[:, bar : bar + 4] = 255
    return frame


def make_entry(
    folder: Path,
    name: str,
    *,
    size: tuple[int, int],
    colour: tuple[int, int, int],
    frames: int = 24,
    fps: int = 24,
    with_clip: bool = True,
) -> FilmEntry:
    """A still (JPEG, like a display copy) and, unless `with_clip` is off, its clip."""
    folder.mkdir(parents=True, exist_ok=True)
    still = folder / f"{name}.jpg"
    Image.fromarray(clip_frame(*size, colour, 0)).save(still, quality=95)
    if not with_clip:
        return FilmEntry(still=still, clip=None)
    clip = folder / f"{name}.mp4"
    with Mp4Writer(clip, width=size[0], height=size[1], fps=fps) as writer:
        for index in range(frames):
            writer.write(clip_frame(*size, colour, index))
    return FilmEntry(still=still, clip=clip)
