"""Engine frames -> encoded clip on disk, written under temporary names and renamed into place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from worker.engines.base import Engine, MotionSpec, ProgressFn, output_size
from worker.video import Mp4Writer, save_poster


@dataclass
class RenderResult:
    width: int
    height: int
    frames: int
    metrics: dict[str, Any] = field(default_factory=dict)


def _tmp_name(path: Path) -> Path:
    # Same directory as the target, so the final rename is atomic on one filesystem.
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def render_clip(
    engine: Engine,
    image: np.ndarray,
    spec: MotionSpec,
    *,
    video_path: Path,
    poster_path: Path,
    progress: ProgressFn,
) -> RenderResult:
    """Render, encode and store one clip. Files appear whole or not at all."""
    width, height = output_size(image.shape[1], image.shape[0], spec.long_side)
    video_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_video, tmp_poster = _tmp_name(video_path), _tmp_name(poster_path)
    try:
        with Mp4Writer(tmp_video, width=width, height=height, fps=spec.fps) as writer:
            for index, frame in enumerate(engine.render(image, spec, progress)):
                if index == 0:
                    save_poster(frame, tmp_poster)
                writer.write(frame)
            frames = writer.frames_written
        tmp_poster.replace(poster_path)
        tmp_video.replace(video_path)
    finally:
        tmp_video.unlink(missing_ok=True)
        tmp_poster.unlink(missing_ok=True)
    return RenderResult(width=width, height=height, frames=frames)
