"""An album's film: every photo's clip in turn, each ending on a held frame and fading into the next,
as one H.264 MP4 (yuv420p, faststart) written by the project's encoder (worker/video.py).

Frames are streamed: one item is decoded at a time and at most one fade's worth of frames is kept, so
an album of any length is made in the same memory. The film is written under a temporary name and
renamed into place, so a reader never finds half of one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from app.storage import sweep_temporaries, temporary_name
from worker.film_plan import FilmEntry, FilmTiming
from worker.video import Mp4Writer

ProgressFn = Callable[[float], None]

# A film is watched full screen: 16:9 fits televisions and laptops, and held upright, phones.
WIDE = (16, 9)


class FilmError(Exception):
    """A film that cannot be made, with a reason a person can act on."""


@dataclass(frozen=True)
class FilmResult:
    frames: int
    duration_s: float
    width: int
    height: int


@dataclass(frozen=True)
class _Item:
    """One entry, planned: how many frames it lasts and how to make them."""

    frames: int
    make: Callable[[], Iterator[np.ndarray]]


def film_size(entries: Sequence[FilmEntry], long_side: int) -> tuple[int, int]:
    """16:9 when most photos are landscape (or square), 9:16 when most are portrait.

    The majority's orientation leaves the fewest photos in bars; a tie goes to landscape, the shape of
    the screens a family gathers round. Sides are even, as H.264 4:2:0 needs."""
    portrait = 0
    for entry in entries:
        width, height = _still_size(entry.still)
        portrait += height > width
    short_side = round(long_side * WIDE[1] / WIDE[0] / 2) * 2
    long_side -= long_side % 2
    return (short_side, long_side) if portrait * 2 > len(entries) else (long_side, short_side)


def _still_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:  # reads the header only
            return image.size
    except (OSError, ValueError) as exc:
        raise FilmError(f"a photo's working copy cannot be read ({path.name}): {exc}") from None


def _fit(width: int, height: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest size of the same shape inside `size` (never stretched), and where it sits, centred."""
    scale = min(size[0] / width, size[1] / height)
    fit_w, fit_h = max(1, round(width * scale)), max(1, round(height * scale))
    return fit_w, fit_h, (size[0] - fit_w) // 2, (size[1] - fit_h) // 2


def _letterboxed(picture: np.ndarray, size: tuple[int, int], x: int, y: int) -> np.ndarray:
    canvas = np.zeros((size[1], size[0], 3), np.uint8)
    canvas[y : y + picture.shape[0], x : x + picture.shape[1]] = picture
    return canvas


def _still_frame(path: Path, size: tuple[int, int]) -> np.ndarray:
    # Stills are display copies: upright already, without metadata.
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    fit_w, fit_h, x, y = _fit(image.width, image.height, size)
    if (fit_w, fit_h) != image.size:
        image = image.resize((fit_w, fit_h), Image.Resampling.LANCZOS)
    return _letterboxed(np.asarray(image), size, x, y)


def _still_item(entry: FilmEntry, size: tuple[int, int], frames: int) -> _Item:
    def make() -> Iterator[np.ndarray]:
        # The same array every time: holding a still costs one frame of memory however long it lasts.
        frame = _still_frame(entry.still, size)
        for _ in range(frames):
            yield frame

    return _Item(frames, make)


def _clip_item(index: int, clip: Path, size: tuple[int, int], timing: FilmTiming) -> _Item:
    try:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            source_frames, source_fps = stream.frames, float(stream.average_rate or 0)
            source_size = (stream.codec_context.width, stream.codec_context.height)
    except (OSError, av.FFmpegError, IndexError) as exc:
        raise FilmError(f"the clip of photo {index + 1} cannot be read: {exc}") from None
    if source_frames <= 0 or source_fps <= 0:
        raise FilmError(f"the clip of photo {index + 1} has no frames; make its clip again")
    # At the film's rate, whatever the clip's: output frame k shows the source frame on screen at k/fps.
    motion = max(1, round(source_frames / source_fps * timing.fps))
    # Long enough to fade in and out without the two fades meeting, however short the clip.
    hold = max(timing.hold_frames, 2 * timing.fade_frames - motion)
    fit_w, fit_h, x, y = _fit(*source_size, size)

    def make() -> Iterator[np.ndarray]:
        made = 0
        frame: np.ndarray | None = None
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for source_index, decoded in enumerate(container.decode(stream)):
                picture = decoded.to_ndarray(width=fit_w, height=fit_h, format="rgb24", interpolation="AREA")
                frame = _letterboxed(picture, size, x, y)
                while made < motion and made * source_fps / timing.fps < source_index + 1:
                    yield frame
                    made += 1
        if frame is None:
            raise FilmError(f"the clip of photo {index + 1} has no frames; make its clip again")
        # A clip that decodes shorter than its header said ends on its last frame, like any clip.
        for _ in range(motion + hold - made):
            yield frame

    return _Item(motion + hold, make)


def _plan(entries: Sequence[FilmEntry], size: tuple[int, int], timing: FilmTiming) -> list[_Item]:
    return [
        _clip_item(index, entry.clip, size, timing)
        if entry.clip is not None
        else _still_item(entry, size, timing.still_frames)
        for index, entry in enumerate(entries)
    ]


def _blend(old: np.ndarray, new: np.ndarray, weight: float) -> np.ndarray:
    mixed = old.astype(np.float32) * (1.0 - weight) + new.astype(np.float32) * weight
    return np.asarray(np.rint(mixed), np.uint8)


def frames_of(items: Sequence[_Item], fade: int) -> Iterator[np.ndarray]:
    """The film's frames in order: each item's last `fade` frames mixed with the next one's first.

    Only the fading-out frames of one item are kept while the next begins; they lie in its hold, which
    repeats one array, so they cost one frame."""
    tail: list[np.ndarray] = []
    for position, item in enumerate(items):
        keep = 0 if position == len(items) - 1 else fade
        incoming, tail = tail, []
        for made, frame in enumerate(item.make()):
            if made < len(incoming):
                yield _blend(incoming[made], frame, (made + 1) / (len(incoming) + 1))
            elif made >= item.frames - keep:
                tail.append(frame)
            else:
                yield frame


def compose_film(
    entries: Sequence[FilmEntry],
    output: Path,
    *,
    long_side: int = 1280,
    timing: FilmTiming | None = None,
    progress: ProgressFn = lambda fraction: None,
) -> FilmResult:
    """Write the film of `entries` to `output`; raises FilmError when it cannot be made."""
    if not entries:
        raise FilmError("there are no photos to make a film of; add some to the album first")
    timing = timing or FilmTiming()
    size = film_size(entries, long_side)
    items = _plan(entries, size, timing)
    fade = timing.fade_frames
    total = sum(item.frames for item in items) - fade * (len(items) - 1)
    output.parent.mkdir(parents=True, exist_ok=True)
    # A worker killed mid-film leaves its temporary file; the run that takes over sweeps it.
    sweep_temporaries(output)
    tmp = temporary_name(output)
    try:
        with Mp4Writer(tmp, width=size[0], height=size[1], fps=timing.fps) as writer:
            for frame in frames_of(items, fade):
                writer.write(frame)
                if writer.frames_written % timing.fps == 0:
                    progress(writer.frames_written / total)
            written = writer.frames_written
        if written != total:
            raise FilmError(f"the film came out {written} frames long instead of {total}")
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    progress(1.0)
    return FilmResult(frames=written, duration_s=written / timing.fps, width=size[0], height=size[1])
