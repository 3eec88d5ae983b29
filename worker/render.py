"""Engine frames -> encoded clip on disk, written under temporary names and renamed into place.

The strength gate: every clip is measured while it is encoded, and a clip whose motion leaves its
strength's band is rendered again with a scaled amplitude, so "subtle" is enforced by measurement.
Clips the web app stores get every measure (they are shown on the clip's page); `vivant animate`
measures only the motion the gate acts on, unless asked for the rest.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from worker.engines.base import Engine, MotionSpec, ProgressFn, output_size
from worker.metrics import (
    FLOW_BANDS,
    MAX_PAIR_FLOW,
    ClipMetrics,
    FlowBand,
    FlowMeter,
    FlowStats,
    MetricsAccumulator,
    first_frame,
    psnr_against_photo,
)
from worker.video import Mp4Writer, save_poster

MAX_ATTEMPTS = 3
# Progress span of each attempt: a re-render moves the bar on instead of sending it back to zero.
_ATTEMPT_SPANS = ((0.0, 0.9), (0.9, 0.96), (0.96, 0.99))
# Corrections aim inside the band rather than at its edge: motion does not scale exactly with amplitude.
_AIM_BELOW_TOP = 0.8
_AIM_ABOVE_BOTTOM = 1.5
_MAX_STEP = 4.0
# Below this mean flow (px/frame at 720) nothing moved at all and no amplitude will change that.
_NOTHING_MOVED = 0.01


@dataclass
class RenderResult:
    width: int
    height: int
    frames: int
    metrics: dict[str, Any] = field(default_factory=dict)


def _tmp_name(path: Path) -> Path:
    # Same directory as the target, so the final rename is atomic on one filesystem.
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


Measured = ClipMetrics | FlowStats


def in_band(metrics: Measured, band: FlowBand) -> bool:
    return band.contains(metrics.flow_mean) and metrics.flow_max <= MAX_PAIR_FLOW


def amplitude_factor(metrics: Measured, band: FlowBand) -> float:
    """What to multiply the amplitude by to bring the motion into the band, taking motion as
    proportional to amplitude (true of a camera move, roughly true of the rest)."""
    too_much = max(metrics.flow_mean / band.high, metrics.flow_max / MAX_PAIR_FLOW)
    if too_much > 1.0:
        factor = _AIM_BELOW_TOP / too_much
    else:
        # Raise towards the bottom of the band, never so far that the largest pair breaks the cap.
        factor = min(
            _AIM_ABOVE_BOTTOM * band.low / max(metrics.flow_mean, 1e-6),
            _AIM_BELOW_TOP * MAX_PAIR_FLOW / max(metrics.flow_max, 1e-6),
        )
    return min(_MAX_STEP, max(1.0 / _MAX_STEP, factor))


def _attempt_progress(progress: ProgressFn, attempt: int) -> ProgressFn:
    low, high = _ATTEMPT_SPANS[attempt - 1]
    return lambda fraction: progress(low + (high - low) * fraction)


def _encode_measured(
    engine: Engine,
    image: np.ndarray,
    spec: MotionSpec,
    *,
    size: tuple[int, int],
    tmp_video: Path,
    tmp_poster: Path,
    progress: ProgressFn,
    all_metrics: bool,
    facts: dict[str, Any],
) -> tuple[int, Measured]:
    """One render streamed into the encoder and the metrics together; no frame is kept whole.

    Motion is measured on the frames as rendered; the first frame's fidelity on the encoded file,
    since H.264 costs a few dB and that is what people see."""
    meter: MetricsAccumulator | FlowMeter = (
        MetricsAccumulator(fps=spec.fps, frame_count=spec.frame_count) if all_metrics else FlowMeter()
    )
    # Measuring runs beside encoding (OpenCV and x264 release the GIL); the queue is short, so at
    # most a few frames wait and a fault on either side ends the render.
    pending: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=4)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="measure") as pool:
        measuring = pool.submit(_measure_from, pending, meter)
        try:
            with Mp4Writer(tmp_video, width=size[0], height=size[1], fps=spec.fps) as writer:
                for index, frame in enumerate(engine.render(image, spec, progress, facts=facts)):
                    if index == 0:
                        save_poster(frame, tmp_poster)
                    writer.write(frame)
                    _put_unless_failed(pending, frame, measuring)
                frames = writer.frames_written
        finally:
            _put_unless_failed(pending, None, measuring)
        measuring.result()
    if isinstance(meter, FlowMeter):
        return frames, meter.result()
    return frames, replace(meter.result(), psnr_first=psnr_against_photo(first_frame(tmp_video), image))


def _measure_from(pending: queue.Queue[np.ndarray | None], meter: MetricsAccumulator | FlowMeter) -> None:
    while (frame := pending.get()) is not None:
        meter.add(frame)


def _put_unless_failed(
    pending: queue.Queue[np.ndarray | None], item: np.ndarray | None, measuring: Future[None]
) -> None:
    while not measuring.done():
        try:
            pending.put(item, timeout=0.1)
            return
        except queue.Full:
            continue
    measuring.result()  # re-raises what stopped the measuring thread


@dataclass
class RenderedClip:
    """A finished render still under its temporary names: `move_into_place` publishes it."""

    result: RenderResult
    tmp_video: Path
    tmp_poster: Path
    video_path: Path
    poster_path: Path

    def move_into_place(self) -> None:
        self.tmp_poster.replace(self.poster_path)
        self.tmp_video.replace(self.video_path)

    def remove_placed(self) -> None:
        """Undo `move_into_place`, for a caller whose record of the clip could not be kept."""
        self.video_path.unlink(missing_ok=True)
        self.poster_path.unlink(missing_ok=True)


@contextmanager
def rendered_clip(
    engine: Engine,
    image: np.ndarray,
    spec: MotionSpec,
    *,
    video_path: Path,
    poster_path: Path,
    progress: ProgressFn,
    all_metrics: bool = True,
) -> Iterator[RenderedClip]:
    """Render, measure and encode one clip into temporary files next to its final names, and yield it.

    The caller decides, while the block runs, whether to `move_into_place`; whatever was not moved is
    removed on the way out, also when the render or the caller fails, so files appear whole or not at all.

    With `all_metrics` false only the motion is measured (FlowStats): the gate works the same, and
    the clip is ready sooner.

    A render whose mean flow leaves the strength's band (or any pair of frames passes the cap) is
    rendered again with the amplitude scaled by measured/target, up to MAX_ATTEMPTS renders. The last
    render is kept either way; `metrics["gate"]` says "in_band", "adjusted" or "out_of_band".
    """
    width, height = output_size(image.shape[1], image.shape[0], spec.long_side)
    band = FLOW_BANDS[spec.strength]
    video_path.parent.mkdir(parents=True, exist_ok=True)
    # A worker killed mid-render leaves its temporary files; the run that takes over sweeps them.
    for target in (video_path, poster_path):
        for leftover in target.parent.glob(f".{target.name}.*.tmp"):
            leftover.unlink(missing_ok=True)
    tmp_video, tmp_poster = _tmp_name(video_path), _tmp_name(poster_path)
    try:
        attempt_spec = spec
        facts: dict[str, Any] = {}  # how the engine made the clip, e.g. which depth; kept in the metrics
        for attempt in range(1, MAX_ATTEMPTS + 1):
            frames, metrics = _encode_measured(
                engine,
                image,
                attempt_spec,
                size=(width, height),
                tmp_video=tmp_video,
                tmp_poster=tmp_poster,
                progress=_attempt_progress(progress, attempt),
                all_metrics=all_metrics,
                facts=facts,
            )
            fits = in_band(metrics, band)
            if fits or attempt == MAX_ATTEMPTS or metrics.flow_mean < _NOTHING_MOVED:
                break
            attempt_spec = spec.scaled(attempt_spec.amplitude * amplitude_factor(metrics, band))
        progress(1.0)
        gate = "out_of_band" if not fits else "in_band" if attempt == 1 else "adjusted"
        result = RenderResult(
            width=width,
            height=height,
            frames=frames,
            # An engine that does not move the scene itself gives it no ambient motion.
            metrics=metrics.to_dict()
            | {"ambient": []}
            | facts
            | {
                "gate": gate,
                "attempts": attempt,
                "amplitude": round(attempt_spec.amplitude, 4),
                "band": [band.low, band.high],
            },
        )
        yield RenderedClip(result, tmp_video, tmp_poster, video_path, poster_path)
    finally:
        tmp_video.unlink(missing_ok=True)
        tmp_poster.unlink(missing_ok=True)


def render_clip(
    engine: Engine,
    image: np.ndarray,
    spec: MotionSpec,
    *,
    video_path: Path,
    poster_path: Path,
    progress: ProgressFn,
    all_metrics: bool = True,
) -> RenderResult:
    """Render one clip and store it at once (see `rendered_clip`): for callers with no record to check."""
    with rendered_clip(
        engine, image, spec, video_path=video_path, poster_path=poster_path, progress=progress,
        all_metrics=all_metrics,
    ) as rendered:  # fmt: skip
        rendered.move_into_place()
    return rendered.result
