"""Motion and fidelity measures of a clip against its photo (numpy and OpenCV only, no torch).

Every clip is measured, so measuring streams: `MetricsAccumulator.add()` takes one frame at a time,
keeps a copy at a 720-pixel long side only as long as it needs it, and `result()` gives the figures.
Distances are in pixels at a 720-pixel long side whatever the clip's size, so one band of motion
means the same thing for a 128-pixel portrait and a 4K phone photo.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from app.images import load_photo_rgb
from worker import flow as dense_flow
from worker.engines.base import Strength, resize_to
from worker.stats import percentile

MEASURE_LONG_SIDE = 720
# Flow is measured at 240 px and scaled to 720-px units. OpenCV's Farneback with its usual settings costs
# 90-110 ms a pair at 720 (9-10 s a clip on two cores); Farneback at 240 with one pyramid level
# (worker/flow.py) costs 1.2-1.7 ms. On the fixture clips the two agree within 6% on textured photos;
# on smooth ones (a phone photo of a wall, a 128-px portrait enlarged) the 240 reading is higher, its
# window reaching more texture, and no reading is lower. Three levels at 240 read 5-40% higher still.
FLOW_LONG_SIDE = 240
BORDER_PX = 8
MAX_CORNERS = 300
_LK: dict[str, Any] = {"winSize": (21, 21), "maxLevel": 4}


@dataclass(frozen=True)
class FlowBand:
    """Allowed mean optical flow per neighbouring pair of frames, px/frame at 720."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


# One table for the renderer's gate, chosen from measurement (worker/bench.py and the parallax engine at
# each strength on the fixture photos, as rendered): whisper 0.06-0.10 plain and 0.12-0.18 looped,
# gentle 0.12-0.18 and 0.22-0.33, lively 0.20-0.32 and 0.38-0.59; ffmpeg's zoompan recipe 0.25-0.7.
# Tops leave about 3x room above that; bottoms sit under the lowest reading, because a photo with large
# flat areas (a wall, a sky) reads low: flow cannot be seen where there is no texture.
FLOW_BANDS: dict[Strength, FlowBand] = {
    "whisper": FlowBand(0.05, 0.5),
    "gentle": FlowBand(0.08, 1.0),
    "lively": FlowBand(0.12, 2.0),
}
# No pair of neighbouring frames may move more than this (px/frame at 720), whatever the strength.
MAX_PAIR_FLOW = 4.0
# Identical frames give an infinite PSNR; JSON has no infinity.
PSNR_CAP_DB = 100.0


@dataclass(frozen=True)
class ClipMetrics:
    width: int
    height: int
    frames: int
    fps: float
    # First frame against the photo resized to the clip's size, in dB; None without a photo.
    psnr_first: float | None
    # Mean Farneback flow magnitude per neighbouring pair: mean over pairs, largest pair, and the
    # largest 99th percentile of per-pixel magnitudes (local motion the mean hides).
    flow_mean: float
    flow_max: float
    flow_p99_max: float
    # Mean |change of per-pair mean flow| over max(flow_mean, 0.2): jitter, 0 for a constant speed.
    steadiness: float
    # VBench temporal flickering: (255 - mean abs diff of neighbouring frames) / 255.
    flicker: float
    # (255 - mean abs diff between a frame and the mean of its two neighbours) / 255.
    smoothness: float
    # Largest mean abs change (0-255) of the 8-px border band of any frame against the first.
    edge_change: float
    edges_ok: bool
    edge_faults: tuple[str, ...]
    # 75th percentile distance (px at 720) of tracked corners from one affine motion fitted to all
    # of them, first frame to middle and to last frame, the larger; None when too few corners.
    parallax_p75: float | None
    # Mean abs diff of last and first frames over the largest neighbouring-pair mean abs diff.
    loop_seam: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, float):
                data[key] = round(value, 4)
        data["edge_faults"] = list(self.edge_faults)
        return data


def _to_long_side(frame: np.ndarray, long_side: int) -> np.ndarray:
    h, w = frame.shape[:2]
    scale = long_side / max(w, h)
    if scale == 1.0:
        return frame
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # Area averaging only where linear would skip whole pixels: between 1/2 and 1 it costs 8x more
    # (12 ms for a 1280 frame) for no difference the measures can see.
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR)


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.norm(a, b, cv2.NORM_L1)) / a.size


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(cv2.norm(a, b, cv2.NORM_L2SQR)) / a.size
    return PSNR_CAP_DB if mse == 0 else min(PSNR_CAP_DB, float(10.0 * np.log10(255.0**2 / mse)))


def _fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 affine move that best maps src to dst points in the least-squares sense."""
    design = np.hstack([src, np.ones((len(src), 1))])
    solution, *_ = np.linalg.lstsq(design, dst, rcond=None)
    return solution.T


def psnr_against_photo(frame: np.ndarray, photo: np.ndarray) -> float:
    """PSNR in dB of a frame against the photo resized to the frame's size."""
    if photo.shape != frame.shape:
        photo = resize_to(photo, (frame.shape[1], frame.shape[0]))
    return _psnr(frame, photo)


def _edge_lines(gray: np.ndarray) -> dict[str, np.ndarray]:
    """The border band of each side as float lines ordered from the edge inwards (lines x length)."""
    b = BORDER_PX
    return {
        "top": gray[:b].astype(np.float32),
        "bottom": gray[-b:][::-1].astype(np.float32),
        "left": gray[:, :b].T.astype(np.float32),
        "right": gray[:, -b:][:, ::-1].T.astype(np.float32),
    }


@dataclass(frozen=True)
class _EdgeStats:
    """What an edge looks like: the outermost line's brightness and spread along the edge, and how
    much the first lines differ from their inner neighbours (near zero when a border was clamped)."""

    mean: float
    spread: float
    line_step: float

    @classmethod
    def of(cls, lines: np.ndarray) -> _EdgeStats:
        return cls(
            mean=float(lines[0].mean()),
            spread=float(lines[0].std()),
            line_step=float(np.abs(np.diff(lines[:4], axis=0)).mean()),
        )


def _edge_fault(stats: _EdgeStats, first: _EdgeStats) -> str | None:
    """A fault only where the edge lost detail it had in the photo: a photo's own black frame is no fault."""
    if stats.spread < 2.0 and first.spread >= 8.0:
        return "black" if stats.mean < 16.0 else "flat"
    if stats.line_step < 1.0 and first.line_step >= 3.0:
        return "smeared"
    return None


@dataclass(frozen=True)
class FlowStats:
    """The motion of a clip, pair by pair: what the strength gate acts on (px/frame at 720)."""

    flow_mean: float
    flow_max: float
    flow_p99_max: float
    steadiness: float

    def to_dict(self) -> dict[str, Any]:
        return {key: round(value, 4) for key, value in asdict(self).items()}


class FlowMeter:
    """Farneback flow of each neighbouring pair of frames, streamed (worker/flow.py).

    On its own it is all the strength gate needs (`vivant animate` measures only this); the
    MetricsAccumulator feeds it the grey copies it makes anyway."""

    def __init__(self) -> None:
        self._prev_small: np.ndarray | None = None
        self._prev_expanded: dense_flow.Expansion | None = None
        self._scale = 1.0
        self._pair_flow: list[float] = []
        self._pair_p99: list[float] = []

    def add(self, frame: np.ndarray) -> None:
        """An RGB frame at any size."""
        # Grey first, then shrink: a third of the pixels to resize (a quarter of this meter's time).
        self.add_gray(_to_long_side(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), MEASURE_LONG_SIDE))

    def add_gray(self, gray: np.ndarray) -> None:
        """A grey frame at MEASURE_LONG_SIDE."""
        # Small clips too are measured at 240: at their own size (128 px) H.264 noise reads as jitter.
        small = _to_long_side(gray, FLOW_LONG_SIDE)
        previous, self._prev_small = self._prev_small, small
        if previous is None:
            self._scale = max(gray.shape) / max(small.shape)
            self._prev_expanded = dense_flow.expand(small)
            return
        if cv2.norm(previous, small, cv2.NORM_INF) == 0:
            # A repeated frame did not move (flow() would say so too, at the cost of an expansion).
            self._pair_flow.append(0.0)
            self._pair_p99.append(0.0)
            return
        expanded = dense_flow.expand(small)
        assert self._prev_expanded is not None
        dx, dy = dense_flow.flow(self._prev_expanded, expanded)
        self._prev_expanded = expanded
        magnitude = cv2.magnitude(dx, dy) * self._scale
        self._pair_flow.append(float(magnitude.mean()))
        # Every 4th pixel is plenty for a percentile and costs a quarter.
        self._pair_p99.append(percentile(magnitude.ravel()[::4], 99))

    def result(self) -> FlowStats:
        if not self._pair_flow:
            raise ValueError("a clip needs at least 2 frames to measure its motion")
        flows = np.array(self._pair_flow)
        flow_mean = float(flows.mean())
        steadiness = float(np.abs(np.diff(flows)).mean()) / max(flow_mean, 0.2) if len(flows) > 1 else 0.0
        return FlowStats(
            flow_mean=flow_mean,
            flow_max=float(flows.max()),
            flow_p99_max=float(max(self._pair_p99)),
            steadiness=steadiness,
        )


class MetricsAccumulator:
    """Measures a clip frame by frame, keeping a few 720-pixel copies, never the whole clip."""

    def __init__(
        self,
        photo: np.ndarray | None = None,
        *,
        fps: float,
        frame_count: int,
    ):
        # The count is known up front so the middle frame can be measured as it passes, not kept.
        self._frame_count = frame_count
        self._photo = photo
        self._fps = fps
        self._count = 0
        self._size = (0, 0)
        self._psnr: float | None = None
        self._first: np.ndarray | None = None
        self._first_gray: np.ndarray | None = None
        self._prev: np.ndarray | None = None
        self._prev_gray: np.ndarray | None = None
        self._prev2: np.ndarray | None = None
        self._flow = FlowMeter()
        self._pair_diff: list[float] = []
        self._smooth_err: list[float] = []
        self._edge_change = 0.0
        self._first_edges: dict[str, np.ndarray] = {}
        self._first_edge_stats: dict[str, _EdgeStats] = {}
        self._faults: dict[tuple[str, str], tuple[int, int]] = {}
        self._corners: np.ndarray | None = None
        self._middle_parallax: float | None = None

    def add(self, frame: np.ndarray) -> None:
        index = self._count
        self._count += 1
        if index == 0:
            self._size = (frame.shape[1], frame.shape[0])
            if self._photo is not None:
                self._psnr = psnr_against_photo(frame, self._photo)
                self._photo = None  # the full-size photo is not needed any more
        elif (frame.shape[1], frame.shape[0]) != self._size:
            raise ValueError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, the clip is {self._size}")
        rgb = _to_long_side(frame, MEASURE_LONG_SIDE)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        self._flow.add_gray(gray)
        if index == 0:
            self._start(rgb, gray)
        else:
            self._pair(rgb)
            self._edges(index, gray)
            if index == self._frame_count // 2:
                self._middle_parallax = self._parallax_at(gray)
        self._prev2, self._prev, self._prev_gray = self._prev, rgb, gray

    def _start(self, rgb: np.ndarray, gray: np.ndarray) -> None:
        self._first, self._first_gray = rgb, gray
        self._first_edges = _edge_lines(gray)
        self._first_edge_stats = {side: _EdgeStats.of(lines) for side, lines in self._first_edges.items()}
        corners = cv2.goodFeaturesToTrack(gray, MAX_CORNERS, qualityLevel=0.01, minDistance=10, blockSize=7)
        if corners is not None and len(corners) >= 8:
            self._corners = corners.astype(np.float32)

    def _pair(self, rgb: np.ndarray) -> None:
        assert self._prev is not None
        self._pair_diff.append(_mean_abs_diff(self._prev, rgb))
        if self._prev2 is not None:
            # The middle frame of three against the mean of its neighbours: zero for steady motion
            # of smooth content, large for a stutter or a frame that jumps out.
            # In int16 as |2b - (a + c)| / 2: exact, and four times cheaper than in float.
            neighbours = cv2.add(self._prev2, rgb, dtype=cv2.CV_16S)
            doubled = cv2.add(self._prev, self._prev, dtype=cv2.CV_16S)
            self._smooth_err.append(_mean_abs_diff(doubled, neighbours) / 2.0)

    def _edges(self, index: int, gray: np.ndarray) -> None:
        for side, lines in _edge_lines(gray).items():
            self._edge_change = max(self._edge_change, _mean_abs_diff(lines, self._first_edges[side]))
            fault = _edge_fault(_EdgeStats.of(lines), self._first_edge_stats[side])
            if fault is not None:
                first, count = self._faults.get((fault, side), (index, 0))
                self._faults[(fault, side)] = (first, count + 1)

    def _tracked(self, gray: np.ndarray, guess: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Where the first frame's corners are in `gray`, and which to trust: tracking back must land
        within half a pixel of the start, which drops corners lost or hidden. Five pyramid levels
        reach moves of about 150 px."""
        assert self._corners is not None and self._first_gray is not None
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW if guess is not None else 0
        moved, found, _ = cv2.calcOpticalFlowPyrLK(
            self._first_gray,
            gray,
            self._corners,
            None if guess is None else guess.copy(),  # type: ignore[arg-type]  # None: no guess; not in the stubs
            flags=flags,
            **_LK,
        )
        back, found_back, _ = cv2.calcOpticalFlowPyrLK(
            gray, self._first_gray, moved, self._corners.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **_LK
        )
        round_trip = np.linalg.norm((back - self._corners).reshape(-1, 2), axis=1)
        return moved.reshape(-1, 2), (found.ravel() == 1) & (found_back.ravel() == 1) & (round_trip < 0.5)

    def _parallax_at(self, gray: np.ndarray) -> float | None:
        """How far this frame's motion from the first is from one flat affine move (p75, px).

        A zoom or pan of a flat picture is one affine move; layers moving at different speeds are not.
        Two passes: corners tracked straight across a zoom of several percent come back with errors
        of their own (a 21-px window no longer matches a scaled patch), so the frame is first warped
        back by the affine fit, then the corners are tracked again and fitted again. Plain least
        squares, not a robust fit: a robust fit would follow the largest layer and hide the others.
        """
        if self._corners is None:
            return None
        corners = self._corners.reshape(-1, 2).astype(np.float64)
        moved, ok = self._tracked(gray, None)
        if ok.sum() < 8:
            return None
        rough = _fit_affine(corners[ok], moved[ok])
        h, w = gray.shape
        steadied = cv2.warpAffine(
            gray,
            rough,
            (w, h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        moved, ok = self._tracked(steadied, self._corners)
        if ok.sum() < 8:
            return None
        fine = _fit_affine(corners[ok], moved[ok])
        fitted = corners[ok] @ fine[:, :2].T + fine[:, 2]
        return percentile(np.linalg.norm(fitted - moved[ok], axis=1), 75)

    def _parallax(self) -> float | None:
        """The larger of the middle and the last frame's: a loop ends where it began."""
        assert self._prev_gray is not None
        found = [p for p in (self._middle_parallax, self._parallax_at(self._prev_gray)) if p is not None]
        return max(found) if found else None

    def result(self) -> ClipMetrics:
        if self._count != self._frame_count:
            raise ValueError(f"the clip was to have {self._frame_count} frames but {self._count} came")
        if self._count < 2 or self._first is None or self._prev is None:
            raise ValueError(f"a clip needs at least 2 frames to measure, got {self._count}")
        motion = self._flow.result()
        diffs = np.array(self._pair_diff)
        smooth = (255.0 - float(np.mean(self._smooth_err))) / 255.0 if self._smooth_err else 1.0
        faults = tuple(
            f"{kind} {side} edge in {count} frames from frame {first}"
            for (kind, side), (first, count) in sorted(self._faults.items())
        )
        return ClipMetrics(
            width=self._size[0],
            height=self._size[1],
            frames=self._count,
            fps=float(self._fps),
            psnr_first=self._psnr,
            flow_mean=motion.flow_mean,
            flow_max=motion.flow_max,
            flow_p99_max=motion.flow_p99_max,
            steadiness=motion.steadiness,
            flicker=(255.0 - float(diffs.mean())) / 255.0,
            smoothness=smooth,
            edge_change=self._edge_change,
            edges_ok=not faults,
            edge_faults=faults,
            parallax_p75=self._parallax(),
            # A floor on the divisor: a still clip is a perfect loop, not a division by zero.
            loop_seam=_mean_abs_diff(self._prev, self._first) / max(float(diffs.max()), 0.05),
        )


def measure(frames: Sequence[np.ndarray], photo: np.ndarray | None = None, *, fps: float) -> ClipMetrics:
    """Measure RGB uint8 frames against the photo they came from."""
    accumulator = MetricsAccumulator(photo, fps=fps, frame_count=len(frames))
    for frame in frames:
        accumulator.add(frame)
    return accumulator.result()


def decoded_frames(video_path: Path) -> Iterator[np.ndarray]:
    """A video's frames as RGB uint8 arrays, decoded one at a time."""
    with av.open(str(video_path)) as container:
        for frame in container.decode(container.streams.video[0]):
            yield frame.to_ndarray(format="rgb24")


def first_frame(video_path: Path) -> np.ndarray:
    with av.open(str(video_path)) as container:
        return next(container.decode(container.streams.video[0])).to_ndarray(format="rgb24")


def video_timing(video_path: Path) -> tuple[float, int]:
    """Frame rate and frame count, counted from the packets (no decoding): a header's count can be absent."""
    with av.open(str(video_path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for packet in container.demux(stream) if packet.size)
        return float(stream.average_rate or 0), count


def measure_file(video_path: Path, photo_path: Path | None, *, max_pixels: int) -> ClipMetrics:
    """Measure an encoded clip, decoded back, against the photo file it was made from."""
    photo = load_photo_rgb(photo_path, max_pixels=max_pixels) if photo_path is not None else None
    fps, count = video_timing(video_path)
    accumulator = MetricsAccumulator(photo, fps=fps, frame_count=count)
    for frame in decoded_frames(video_path):
        accumulator.add(frame)
    return accumulator.result()


def metrics_command(video: Path, photo: Path | None, *, max_pixels: int) -> str:
    """JSON text of `vivant metrics CLIP.mp4 --photo PHOTO`; the photo is read within `max_pixels`."""
    return json.dumps(measure_file(video, photo, max_pixels=max_pixels).to_dict(), indent=2)
