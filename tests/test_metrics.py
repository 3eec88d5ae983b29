"""Metrics on synthetic clips whose answer is known, and the strength gate through the real encoder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest

from worker.engines.base import Engine, MotionSpec, ProgressFn, output_size, resize_to
from worker.metrics import FLOW_BANDS, MetricsAccumulator, measure, measure_file, metrics_command
from worker.render import render_clip
from worker.video import probe

H, W = 540, 720  # the measuring size, so pixels here are pixels at 720


class Texture:
    """A periodic, band-limited colour texture with a natural 1/f spectrum. Being band-limited, it can
    be shifted by any fraction of a pixel exactly (a phase ramp in frequency), where interpolating
    warps blur each fractional shift differently and that change reads as jitter in the flow."""

    def __init__(self, height: int = H, width: int = W, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.fy = np.fft.fftfreq(height).astype(np.float32)[:, None, None]
        self.fx = np.fft.rfftfreq(width).astype(np.float32)[None, :, None]
        self.width = width
        radius = np.maximum(np.hypot(self.fx, self.fy), 1.0 / max(height, width))
        noise = rng.normal(size=(height, width, 3)).astype(np.float32)
        self.spectrum = np.fft.rfft2(noise, axes=(0, 1)) / radius * np.exp(-((radius / 0.15) ** 2))
        plain = self._image(self.spectrum)
        self.offset, self.scale = plain.mean(), 40.0 / plain.std()

    def _image(self, spectrum: np.ndarray) -> np.ndarray:
        return np.fft.irfft2(spectrum, s=(spectrum.shape[0], self.width), axes=(0, 1))

    def shifted(self, dx: float, dy: float = 0.0) -> np.ndarray:
        """The texture moved right by dx and down by dy pixels (wrapping round)."""
        ramp = np.exp(-2j * np.pi * (self.fx * dx + self.fy * dy)).astype(np.complex64)
        image = self._image(self.spectrum * ramp)
        return np.clip(128 + (image - self.offset) * self.scale, 0, 255).round().astype(np.uint8)


def texture(height: int = H, width: int = W, seed: int = 0) -> np.ndarray:
    return Texture(height, width, seed).shifted(0.0)


def pan(offsets: list[float], seed: int = 0) -> list[np.ndarray]:
    source = Texture(seed=seed)
    return [source.shifted(dx) for dx in offsets]


def zoom(scales: list[float]) -> list[np.ndarray]:
    big = texture(H, W)
    frames = []
    for s in scales:
        matrix = np.float32([[s, 0, W / 2 * (1 - s)], [0, s, H / 2 * (1 - s)]])
        frames.append(
            cv2.warpAffine(big, matrix, (W, H), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        )
    return frames


def test_still_clip_has_no_motion_and_no_flicker() -> None:
    photo = texture(H, W)
    metrics = measure([photo] * 12, photo, fps=24)
    assert metrics.flow_mean < 1e-3 and metrics.flow_max < 1e-3
    assert metrics.flicker == 1.0
    assert metrics.smoothness == 1.0
    assert metrics.psnr_first == 100.0
    assert metrics.edges_ok
    assert metrics.loop_seam == 0.0
    json.dumps(metrics.to_dict(), allow_nan=False)


def test_pan_of_one_pixel_per_frame_measures_one_pixel_of_flow() -> None:
    metrics = measure(pan([float(i) for i in range(16)]), fps=24)
    assert metrics.flow_mean == pytest.approx(1.0, abs=0.15)
    assert metrics.flow_max == pytest.approx(1.0, abs=0.15)
    # A constant speed is perfectly steady, and a flat pan has no parallax.
    assert metrics.steadiness < 0.05
    assert metrics.parallax_p75 is not None and metrics.parallax_p75 < 0.2


def test_flow_is_in_pixels_at_720_whatever_the_clip_size() -> None:
    # The same pan at half size moves half the pixels, which is one pixel at 720 again.
    half = [cv2.resize(f, (W // 2, H // 2), interpolation=cv2.INTER_AREA) for f in pan(list(range(16)))]
    assert measure(half, fps=24).flow_mean == pytest.approx(1.0, abs=0.15)


def test_a_clip_smaller_than_the_flow_size_is_measured_in_pixels_at_720_too() -> None:
    # 0.2 px a frame on a 128-px clip is 0.2 * 720 / 128 = 1.125 px at 720.
    small = Texture(96, 128, seed=4)
    metrics = measure([small.shifted(0.2 * i) for i in range(16)], fps=24)
    assert metrics.flow_mean == pytest.approx(1.125, abs=0.2)


def test_one_flashing_frame_lowers_flicker_and_smoothness() -> None:
    frames = pan([0.5 * i for i in range(24)])
    steady = measure(frames, fps=24)
    frames[12] = cv2.add(frames[12], np.full_like(frames[12], 40))
    flashing = measure(frames, fps=24)
    assert steady.flicker > 0.985
    assert flashing.flicker < steady.flicker - 0.005
    assert flashing.smoothness < steady.smoothness - 0.002


def test_jittery_speed_is_unsteady_and_eased_speed_is_steady() -> None:
    n = 48
    eased = [(3 * t**2 - 2 * t**3) * 24 for t in np.linspace(0, 1, n)]
    jitter = [0.5 * i + (0.4 if i % 2 else 0.0) for i in range(n)]
    assert measure(pan(eased), fps=24).steadiness < 0.1
    assert measure(pan(jitter), fps=24).steadiness > 0.3


def test_pure_zoom_has_little_parallax() -> None:
    metrics = measure(zoom([1 + 0.003 * i for i in range(24)]), fps=24)
    assert metrics.flow_mean > 0.3
    assert metrics.parallax_p75 is not None and metrics.parallax_p75 < 0.4


def test_two_layers_moving_apart_have_parallax() -> None:
    background, foreground = Texture(seed=1), Texture(seed=2)
    frames = []
    for i in range(24):
        # The background drifts right by 0.5 px a frame; a foreground block drifts left by 0.5.
        frame = background.shifted(0.5 * i)
        frame[100:400, 150:500] = foreground.shifted(-0.5 * i)[100:400, 150:500]
        frames.append(frame)
    metrics = measure(frames, fps=24)
    assert metrics.parallax_p75 is not None and metrics.parallax_p75 > 0.6


def test_loop_seam_is_small_for_a_loop_and_large_for_a_one_way_move() -> None:
    there_and_back = [6 * (1 - np.cos(2 * np.pi * i / 24)) for i in range(25)]
    one_way = [0.25 * i for i in range(25)]
    assert measure(pan(there_and_back), fps=24).loop_seam < 1.0
    assert measure(pan(one_way), fps=24).loop_seam > 10


@pytest.mark.parametrize(
    ("border", "fault"), [(cv2.BORDER_CONSTANT, "black"), (cv2.BORDER_REPLICATE, "smeared")]
)
def test_a_frame_whose_edge_lost_the_photo_is_flagged(border: int, fault: str) -> None:
    # A zoom out past the photo: its edges fill with black, or with the clamped last row and column.
    photo = texture(H, W)
    frames = [photo]
    for s in (0.995, 0.99, 0.985, 0.98):
        matrix = np.float32([[s, 0, W / 2 * (1 - s)], [0, s, H / 2 * (1 - s)]])
        frames.append(cv2.warpAffine(photo, matrix, (W, H), flags=cv2.INTER_LINEAR, borderMode=border))
    metrics = measure(frames, photo, fps=24)
    assert not metrics.edges_ok
    assert any(f.startswith(f"{fault} left edge") for f in metrics.edge_faults), metrics.edge_faults
    assert measure(pan([0, 1, 2, 3, 4]), fps=24).edges_ok


def test_a_photo_with_its_own_black_frame_is_no_edge_fault() -> None:
    framed = texture(H, W)
    framed[:20], framed[-20:], framed[:, :20], framed[:, -20:] = 0, 0, 0, 0
    assert measure([framed] * 5, fps=24).edges_ok


def test_first_frame_psnr_is_against_the_photo_resized_to_the_clip() -> None:
    photo = texture(2 * H, 2 * W)
    first = cv2.resize(photo, (W, H), interpolation=cv2.INTER_AREA)
    assert measure([first, first], photo, fps=24).psnr_first == 100.0
    noisy = cv2.add(first, np.random.default_rng(3).integers(0, 16, first.shape, dtype=np.uint8))
    psnr = measure([noisy, noisy], photo, fps=24).psnr_first
    assert psnr is not None and 20 < psnr < 36


def test_accumulator_refuses_a_clip_of_the_wrong_length() -> None:
    accumulator = MetricsAccumulator(fps=24, frame_count=4)
    for frame in pan([0, 1, 2]):
        accumulator.add(frame)
    with pytest.raises(ValueError, match="4 frames but 3 came"):
        accumulator.result()


class PanEngine(Engine):
    """Pans the photo sideways by `amplitude * speed` output pixels a frame (reflecting at the edge)."""

    name: ClassVar[str] = "test-pan"

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.amplitudes: list[float] = []

    def _frames(
        self, image: np.ndarray, spec: MotionSpec, progress: ProgressFn, facts: dict[str, Any]
    ) -> Iterator[np.ndarray]:
        self.amplitudes.append(spec.amplitude)
        w, h = output_size(image.shape[1], image.shape[0], spec.long_side)
        base = resize_to(image, (w, h))
        for i in range(spec.frame_count):
            matrix = np.float32([[1, 0, spec.amplitude * self.speed * i], [0, 1, 0]])
            yield cv2.warpAffine(base, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            progress((i + 1) / spec.frame_count)


def _render(engine: Engine, spec: MotionSpec, tmp_path: Path) -> tuple[dict, list[float], Path]:
    reported: list[float] = []
    result = render_clip(
        engine,
        texture(H, W),
        spec,
        video_path=tmp_path / "clip.mp4",
        poster_path=tmp_path / "clip.jpg",
        progress=reported.append,
    )
    assert result.frames == spec.frame_count
    return result.metrics, reported, tmp_path / "clip.mp4"


def test_gate_renders_too_much_motion_again_with_less_amplitude(tmp_path: Path) -> None:
    # 360-px clip: 1.5 px a frame there is 3 px at 720, three times the top of "gentle".
    engine = PanEngine(speed=1.5)
    spec = MotionSpec(seconds=1, fps=24, strength="gentle", long_side=360)
    metrics, reported, video = _render(engine, spec, tmp_path)

    band = FLOW_BANDS["gentle"]
    assert metrics["attempts"] > 1 and metrics["gate"] == "adjusted"
    assert engine.amplitudes[0] == 1.0 and engine.amplitudes[-1] < 0.5
    assert metrics["amplitude"] == pytest.approx(engine.amplitudes[-1], abs=1e-4)
    assert band.low <= metrics["flow_mean"] <= band.high
    # Fidelity is of the encoded first frame (H.264 on a busy texture), not of the frame before encoding.
    assert 25 < metrics["psnr_first"] < 100
    assert reported == sorted(reported) and reported[-1] == 1.0
    # The kept file is the last, gentler render: decoded back, it measures inside the band too.
    info = probe(video)
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 360, 270)
    decoded = measure_file(video, None, max_pixels=10**8)
    assert band.low <= decoded.flow_mean <= band.high
    assert decoded.flow_mean == pytest.approx(metrics["flow_mean"], rel=0.2)
    assert not list(tmp_path.glob(".*.tmp"))


def test_gate_raises_amplitude_when_too_little_moves(tmp_path: Path) -> None:
    engine = PanEngine(speed=0.01)  # 0.02 px a frame at 720, under whisper's 0.05
    spec = MotionSpec(seconds=1, fps=24, strength="whisper", long_side=360)
    metrics, _, _ = _render(engine, spec, tmp_path)
    assert metrics["gate"] == "adjusted" and engine.amplitudes[-1] > 1.0
    assert FLOW_BANDS["whisper"].contains(metrics["flow_mean"])


def test_gate_keeps_a_still_render_and_says_it_is_out_of_band(tmp_path: Path) -> None:
    engine = PanEngine(speed=0.0)
    metrics, _, video = _render(engine, MotionSpec(seconds=1, fps=12, long_side=360), tmp_path)
    # Nothing moved, so no amplitude can help: one render, kept, and marked.
    assert (metrics["gate"], metrics["attempts"]) == ("out_of_band", 1)
    assert video.exists() and (tmp_path / "clip.jpg").exists()


def test_metrics_command_prints_the_measures_of_a_clip_file(tmp_path: Path) -> None:
    photo_path = tmp_path / "photo.png"
    photo = texture(H, W)
    cv2.imwrite(str(photo_path), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    _, _, video = _render(PanEngine(speed=0.25), MotionSpec(seconds=1, fps=24, long_side=720), tmp_path)
    data = json.loads(metrics_command(video, photo_path, max_pixels=10**8))
    assert data["frames"] == 24 and data["width"] == 720
    assert 30 < data["psnr_first"] < 100  # H.264 noise on a busy texture; a wrong photo reads ~15
    assert data["flow_mean"] == pytest.approx(0.25, abs=0.1)
