"""The CPU engine on photos against the motion targets, beside ffmpeg's zoompan Ken Burns recipe.

`vivant bench [PHOTO|FOLDER ...] [--out DIR] [--repeat N]`; in a checkout, without photos, the test photos
and scenes.
For each photo: a whole `vivant animate` process at default settings, once plain and once with --loop,
then the zoompan recipe people use today on the same photo at the same size; every clip is decoded back
and measured by worker/metrics.py. The `ambient` column names the kinds of ambient motion the photo got
(worker/engines/ambient.py) and how far they move the scene beyond the camera (px at 720). Prints one
table with the targets each row misses, and writes a contact sheet per clip (frames at 0, 25, 50, 75 and
100%, and 1:1 crops of the first and last).

Each timing is the best of N runs (3 by default), ours and zoompan's alike: on a shared machine the
slowest runs measure the neighbours. `full s` is `vivant animate --metrics`, which measures everything
a stored clip's page shows, as the web app's worker does for every clip. The zoompan column needs an
ffmpeg (imageio-ffmpeg's, from the `dev` extra, or one on PATH); without one it is left out.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.config import Settings
from app.images import load_photo_rgb
from worker.choices import Ambient
from worker.engines.base import MotionSpec, output_size
from worker.engines.parallax import ParallaxEngine
from worker.metrics import ClipMetrics, MetricsAccumulator, decoded_frames, video_timing
from worker.video import probe

# Photos a checkout carries, relative to the working directory: an installed wheel has none.
CHECKOUT_PHOTOS = Path("tests") / "fixtures" / "photos"
# With them by default: scenes with no person in front, where the depth cues do the work.
CHECKOUT_SCENES = Path("tests") / "fixtures" / "scenes"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".heic", ".heif", ".webp", ".avif", ".gif", ".tif", ".tiff"}
SPEC = MotionSpec()  # the defaults `vivant animate` uses: 4 s at 24 fps, 1280 long side, gentle

# Targets from the issue. Each returns True when the clip meets it.
MIN_PSNR_DB = 36.0
FLOW_RANGE = (0.05, 2.0)
MAX_PAIR = 4.0
MAX_STEADINESS = 0.15
MIN_PARALLAX = 0.6
MIN_FLICKER = 0.985
MIN_SMOOTHNESS = 0.995
MAX_LOOP_SEAM = 3.0
MAX_SECONDS = 2.0


@dataclass(frozen=True)
class Timing:
    """Wall seconds (the target) and CPU seconds of the process: on a busy machine the wall time
    says more about the neighbours than about us, and the CPU time still compares fairly."""

    wall: float
    cpu: float


class _Stopwatch:
    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), self._cpu_now()

    @staticmethod
    def _cpu_now() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return children.ru_utime + children.ru_stime + time.process_time()

    def stop(self) -> Timing:
        return Timing(time.perf_counter() - self._wall, self._cpu_now() - self._cpu)


def best_of(runs: int, run: Callable[[], Timing]) -> Timing:
    return min((run() for _ in range(runs)), key=lambda timing: timing.wall)


@dataclass
class Row:
    photo: str
    variant: str  # "clip", "loop" or "zoompan"
    size: str
    timing: Timing
    zoompan: Timing | None  # None without an ffmpeg to run it
    full: Timing | None  # with every measure (the plain clip only)
    metrics: ClipMetrics
    container_ok: bool  # H.264, yuv420p, the photo's aspect ratio
    ambient: str = ""  # the plain clip only: kinds of ambient motion and how far they move

    def failures(self) -> list[str]:
        m = self.metrics
        checks = {
            "psnr": m.psnr_first is not None and m.psnr_first >= MIN_PSNR_DB,
            "format": self.container_ok,
            "flow": FLOW_RANGE[0] <= m.flow_mean <= FLOW_RANGE[1] and m.flow_max <= MAX_PAIR,
            "steadiness": m.steadiness <= MAX_STEADINESS,
            "parallax": m.parallax_p75 is not None and m.parallax_p75 >= MIN_PARALLAX,
            "flicker": m.flicker >= MIN_FLICKER,
            "smoothness": m.smoothness >= MIN_SMOOTHNESS,
            "edges": m.edges_ok,
        }
        if self.variant == "loop":
            checks["seam"] = m.loop_seam <= MAX_LOOP_SEAM
        if self.variant != "zoompan":
            bar = MAX_SECONDS if self.zoompan is None else min(MAX_SECONDS, self.zoompan.wall / 2)
            checks["speed"] = self.timing.wall <= bar
        return [name for name, ok in checks.items() if not ok]


def _vivant_command() -> list[str] | None:
    """The installed `vivant` beside this interpreter (a venv), else on PATH; None in a bare checkout."""
    beside = Path(sys.executable).with_name("vivant")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("vivant")
    return [found] if found else None


def time_animate(photo: Path, output: Path, *, loop: bool, all_metrics: bool = False) -> Timing:
    """Wall time of one whole `vivant animate` process (start-up, decode, render, measure, encode).

    Without an installed CLI, the same work in this process, which leaves out the start-up."""
    command = _vivant_command()
    watch = _Stopwatch()
    if command is not None:
        flags = (["--loop"] if loop else []) + (["--metrics"] if all_metrics else [])
        subprocess.run(
            [*command, "animate", str(photo), "-o", str(output), *flags], check=True, capture_output=True
        )
    else:
        from worker.standalone import animate_file

        animate_file(
            photo,
            output,
            loop=loop,
            all_metrics=all_metrics,
            progress=lambda _: None,
            max_pixels=Settings().max_pixels,
        )
    return watch.stop()


def find_ffmpeg() -> str | None:
    """imageio-ffmpeg's binary (the `dev` extra), else an ffmpeg on PATH."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return shutil.which("ffmpeg")
    return imageio_ffmpeg.get_ffmpeg_exe()


def time_zoompan(ffmpeg: str, image: np.ndarray, output: Path, workdir: Path) -> Timing:
    """ffmpeg's zoompan Ken Burns at our clip's size and length: upscaled 4x first, as people do, to
    tame the jitter of zoompan's whole-pixel crop. The photo goes in as a lossless PNG, already upright."""
    width, height = output_size(image.shape[1], image.shape[0], SPEC.long_side)
    still = workdir / "photo.png"
    cv2.imwrite(str(still), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    frames = SPEC.frame_count
    zoompan = (
        f"scale={4 * width}:-2,"
        f"zoompan=z='min(zoom+0.0015,1.5)':d={frames}:x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'"
        f":s={width}x{height}:fps={SPEC.fps}"
    )
    args = [ffmpeg, "-v", "error", "-y", "-i", str(still), "-vf", zoompan]
    args += ["-frames:v", str(frames), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(output)]
    watch = _Stopwatch()
    subprocess.run(args, check=True, capture_output=True)
    return watch.stop()


def measure_clip(video: Path, photo: np.ndarray) -> tuple[ClipMetrics, dict[int, np.ndarray]]:
    """The clip's metrics, and the frames the contact sheet shows (kept as they stream past)."""
    fps, count = video_timing(video)
    picks = {0, count // 4, count // 2, (3 * count) // 4, count - 1}
    accumulator = MetricsAccumulator(photo, fps=fps, frame_count=count)
    kept: dict[int, np.ndarray] = {}
    for index, frame in enumerate(decoded_frames(video)):
        accumulator.add(frame)
        if index in picks:
            kept[index] = frame
    return accumulator.result(), kept


def ambient_motion(image: np.ndarray) -> str:
    """The kinds of ambient motion a default clip of `image` gets, and how far they move the scene beyond
    the camera's own move: the 99th percentile of the flow from the clip without ambient motion to the
    clip with it, over the pixels that differ, at a quarter, half and three quarters of the clip, the
    largest (px at 720)."""
    engine = ParallaxEngine()
    picks = {SPEC.frame_count // 4, SPEC.frame_count // 2, (3 * SPEC.frame_count) // 4}

    def frames(ambient: Ambient, facts: dict[str, Any]) -> dict[int, np.ndarray]:
        rendered = engine.render(image, replace(SPEC, ambient=ambient), facts=facts)
        return {i: frame for i, frame in enumerate(rendered) if i in picks}

    facts: dict[str, Any] = {}
    alive_frames = frames("auto", facts)
    kinds = facts.get("ambient", [])
    if not kinds:
        return "-"
    clips = [frames("off", {}), alive_frames]
    moved = 0.0
    for index in picks:
        still, alive = (cv2.cvtColor(_to_720(clip[index]), cv2.COLOR_RGB2GRAY) for clip in clips)
        differs = cv2.absdiff(still, alive) > 1
        if differs.any():
            # None: no first guess of the flow (not in OpenCV's stubs).
            flow = cv2.calcOpticalFlowFarneback(still, alive, None, 0.5, 3, 15, 3, 5, 1.2, 0)  # type: ignore[call-overload]
            moved = max(moved, float(np.percentile(np.linalg.norm(flow, axis=2)[differs], 99)))
    return f"{','.join(kinds)} {moved:.2f}"


def _to_720(frame: np.ndarray) -> np.ndarray:
    scale = 720 / max(frame.shape[:2])
    return cv2.resize(
        frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA
    )


def contact_sheet(frames: dict[int, np.ndarray], title: str, path: Path) -> None:
    """Five frames in a row, and below them 1:1 crops of the centre of the first and last frames,
    where softness, jitter or a warped face shows at the clip's real resolution."""
    ordered = [frames[i] for i in sorted(frames)]
    thumb_h = 240
    thumbs = []
    for index, frame in zip(sorted(frames), ordered, strict=True):
        thumb = cv2.resize(
            frame, (round(frame.shape[1] * thumb_h / frame.shape[0]), thumb_h), interpolation=cv2.INTER_AREA
        )
        thumbs.append(_label(thumb, f"frame {index}"))
    top = np.hstack(thumbs)
    crops = []
    for name, frame in (("first 1:1", ordered[0]), ("last 1:1", ordered[-1])):
        h, w = frame.shape[:2]
        ch, cw = min(h, 360), min(w, 640)
        y, x = (h - ch) // 2, (w - cw) // 2
        crops.append(_label(frame[y : y + ch, x : x + cw].copy(), name))
    bottom = np.hstack(crops)
    width = max(top.shape[1], bottom.shape[1])
    sheet = np.vstack([_pad(_label(np.zeros((28, width, 3), np.uint8), title), width), _pad(top, width)])
    sheet = np.vstack([sheet, _pad(bottom, width)])
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def _label(image: np.ndarray, text: str) -> np.ndarray:
    cv2.putText(image, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def _pad(image: np.ndarray, width: int) -> np.ndarray:
    return cv2.copyMakeBorder(image, 0, 0, 0, width - image.shape[1], cv2.BORDER_CONSTANT, value=(24, 24, 24))


def bench_photo(photo_path: Path, out: Path, workdir: Path, repeat: int, ffmpeg: str | None) -> list[Row]:
    image = load_photo_rgb(photo_path, max_pixels=Settings().max_pixels)
    stem = photo_path.stem
    videos: dict[str, tuple[Path, Timing]] = {}
    zoompan = None
    if ffmpeg is not None:
        zoompan_video = out / f"{stem}_zoompan.mp4"
        zoompan = best_of(repeat, lambda: time_zoompan(ffmpeg, image, zoompan_video, workdir))
        videos["zoompan"] = (zoompan_video, zoompan)
    full = None
    for variant, loop in (("clip", False), ("loop", True)):
        video = out / (f"{stem}_loop.mp4" if loop else f"{stem}.mp4")
        try:
            if not loop:
                full = best_of(repeat, partial(time_animate, photo_path, video, loop=False, all_metrics=True))
            videos[variant] = (video, best_of(repeat, partial(time_animate, photo_path, video, loop=loop)))
        except subprocess.CalledProcessError as exc:
            # One broken render should not hide the figures of every other photo.
            reason = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            print(f"{photo_path.name} {variant}: vivant animate failed: {reason[0]}", file=sys.stderr)
    rows = []
    for variant in ("clip", "loop", "zoompan"):
        if variant not in videos:
            continue
        video, timing = videos[variant]
        metrics, frames = measure_clip(video, image)
        info = probe(video)
        # The photo's aspect ratio, to the even rounding yuv420p needs.
        expected = ("h264", "yuv420p", output_size(image.shape[1], image.shape[0], SPEC.long_side))
        container_ok = (info.codec, info.pix_fmt, (info.width, info.height)) == expected
        size = f"{info.width}x{info.height}"
        rows.append(
            Row(
                stem,
                variant,
                size,
                timing,
                zoompan,
                full if variant == "clip" else None,
                metrics,
                container_ok,
                ambient_motion(image) if variant == "clip" else "",
            )
        )
        contact_sheet(frames, f"{photo_path.name} {variant}", out / f"{video.stem}.png")
    return rows


def _cell(value: float | None, ok: bool, digits: int) -> str:
    text = "-" if value is None else f"{value:.{digits}f}"
    return text if ok else text + "!"


def print_table(rows: list[Row]) -> None:
    header = (
        "photo", "variant", "size", "s/clip", "cpu s", "full s", "zoompan s", "zp cpu s", "PSNR0", "flow",
        "max", "steady", "parallax", "flicker", "smooth", "edges", "seam", "ambient", "verdict",
    )  # fmt: skip
    lines = []
    for row in rows:
        m, failed = row.metrics, set(row.failures())
        lines.append(
            (
                row.photo,
                row.variant,
                row.size if row.container_ok else row.size + "!",
                _cell(row.timing.wall, "speed" not in failed, 2),
                f"{row.timing.cpu:.2f}",
                "" if row.full is None else f"{row.full.wall:.2f}",
                "-" if row.zoompan is None else f"{row.zoompan.wall:.2f}",
                "-" if row.zoompan is None else f"{row.zoompan.cpu:.2f}",
                _cell(m.psnr_first, "psnr" not in failed, 1),
                _cell(m.flow_mean, "flow" not in failed, 3),
                _cell(m.flow_max, "flow" not in failed, 3),
                _cell(m.steadiness, "steadiness" not in failed, 3),
                _cell(m.parallax_p75, "parallax" not in failed, 2),
                _cell(m.flicker, "flicker" not in failed, 4),
                _cell(m.smoothness, "smoothness" not in failed, 4),
                "ok" if m.edges_ok else "FAIL",
                _cell(m.loop_seam, "seam" not in failed, 2),
                row.ambient,
                "PASS" if not failed else "FAIL " + ",".join(sorted(failed)),
            )
        )
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    for line in [header, *lines]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))
    print(
        f"\ntargets: PSNR0 >= {MIN_PSNR_DB} dB, H.264 yuv420p at the photo's aspect; mean flow "
        f"{FLOW_RANGE[0]}-{FLOW_RANGE[1]} px/frame at 720 and no pair above {MAX_PAIR}; steadiness <= "
        f"{MAX_STEADINESS}; parallax p75 >= {MIN_PARALLAX} px; flicker >= {MIN_FLICKER}; smoothness >= "
        f"{MIN_SMOOTHNESS}; edges intact; loop seam <= {MAX_LOOP_SEAM}; a whole `vivant animate` in at "
        f"most half the zoompan time and under {MAX_SECONDS} s (wall; CPU seconds beside it). '!' marks a "
        "missed target; zoompan rows "
        "are the baseline, judged by the same targets but for speed. ambient: the kinds of ambient motion "
        "and how far they move the scene beyond the camera (p99 px at 720)."
    )
    for row in rows:
        for fault in row.metrics.edge_faults:
            print(f"edge fault: {row.photo} {row.variant}: {fault}")


def photos_in(paths: list[Path]) -> list[Path]:
    """The photo files named, and those directly inside the folders named, in name order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
        else:
            found.append(path)
    return found


def run(photos: list[Path], out: Path, repeat: int) -> list[Row]:
    """Bench each photo, print the table, and return its rows."""
    out.mkdir(parents=True, exist_ok=True)
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        print("no ffmpeg found: the zoompan baseline is left out", file=sys.stderr)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as workdir:
        for photo in photos:
            print(f"{photo.name} ...", file=sys.stderr, flush=True)
            rows += bench_photo(photo, out, Path(workdir), max(1, repeat), ffmpeg)
    print_table(rows)
    print(f"\nclips and contact sheets in {out}")
    return rows
