"""The parallax engine: frames straight from `engine.render`, and whole clips through `render_clip`."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.images import load_photo_rgb
from tests.fixture_paths import FIXTURES
from worker.engines import get_engine
from worker.engines.base import MotionSpec, output_size, resize_to
from worker.engines.camera import camera_path, choose_camera
from worker.engines.depth import estimate_scene
from worker.engines.parallax import ParallaxEngine, _plan
from worker.metrics import measure
from worker.render import render_clip
from worker.video import probe

PHOTOS = sorted((FIXTURES / "photos").iterdir())
# Small clips keep the fast tests fast; the slow tests below render the defaults.
SMALL = {"seconds": 1.0, "fps": 24, "long_side": 320}


def _photo(name: str) -> np.ndarray:
    return load_photo_rgb(FIXTURES / "photos" / name, max_pixels=50_000_000)


def _resized(image: np.ndarray, spec: MotionSpec) -> np.ndarray:
    return resize_to(image, output_size(image.shape[1], image.shape[0], spec.long_side))


def _render(image: np.ndarray, spec: MotionSpec) -> list[np.ndarray]:
    return list(ParallaxEngine().render(image, spec))


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.fixture(scope="module")
def einstein() -> np.ndarray:
    return _photo("einstein.jpg")


def test_engine_is_registered_on_the_cpu_queue() -> None:
    engine = get_engine("parallax")
    assert isinstance(engine, ParallaxEngine)
    assert engine.queue == "cpu"


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.name)
def test_frame_count_size_and_first_frame_is_the_photo(path: Path) -> None:
    image = load_photo_rgb(path, max_pixels=50_000_000)
    spec = MotionSpec(**SMALL)
    frames = _render(image, spec)
    expected = _resized(image, spec)
    assert len(frames) == spec.frame_count == 24
    assert all(f.shape == expected.shape and f.dtype == np.uint8 for f in frames)
    assert np.array_equal(frames[0], expected)
    # ...and it moves: the last frame is not the photo.
    assert _mean_abs_diff(frames[-1], expected) > 0.5


@pytest.mark.parametrize("camera", ["auto", "drift", "push", "orbit"])
def test_keep_still_region_is_identical_to_the_photo_in_every_frame(
    einstein: np.ndarray, camera: str
) -> None:
    h, w = einstein.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[:, : w // 3] = True  # the left third, background and shoulder
    mask[h // 8 : h // 3, w // 2 : 3 * w // 4] = True  # the right half of the face
    spec = MotionSpec(camera=camera, seconds=2.0, keep_still=mask)  # type: ignore[arg-type]
    frames = _render(einstein, spec)
    base = _resized(einstein, spec)
    size = (base.shape[1], base.shape[0])
    still = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    for index, frame in enumerate(frames):
        assert np.array_equal(frame[still], base[still]), f"frame {index} moved inside the keep-still mask"
    # Outside the mask the clip still moves (mid-clip: an orbit comes back round to its start).
    assert _mean_abs_diff(frames[len(frames) // 2][~still], base[~still]) > 1.0


def test_keep_still_mask_of_the_wrong_size_is_refused(einstein: np.ndarray) -> None:
    from worker.engines.base import EngineError

    with pytest.raises(EngineError, match="keep-still mask is 10x10"):
        ParallaxEngine().render(einstein, MotionSpec(keep_still=np.zeros((10, 10), bool)))


@pytest.mark.parametrize("camera", ["push", "drift", "orbit"])
def test_loop_last_frame_flows_into_the_first(einstein: np.ndarray, camera: str) -> None:
    looped = _render(einstein, MotionSpec(loop=True, camera=camera))  # type: ignore[arg-type]
    steps = [_mean_abs_diff(a, b) for a, b in zip(looped, looped[1:], strict=False)]
    assert _mean_abs_diff(looped[-1], looped[0]) <= 3 * max(steps)


def test_without_loop_the_clip_settles_away_from_the_photo(einstein: np.ndarray) -> None:
    looped = _render(einstein, MotionSpec(loop=True, camera="push"))
    straight = _render(einstein, MotionSpec(camera="push"))
    assert _mean_abs_diff(straight[-1], straight[0]) > 3 * _mean_abs_diff(looped[-1], looped[0])
    # Eased: the last step of a straight clip is far smaller than its middle step.
    middle = len(straight) // 2
    assert _mean_abs_diff(straight[-1], straight[-2]) < 0.25 * _mean_abs_diff(
        straight[middle], straight[middle - 1]
    )


def test_still_camera_without_a_person_gives_still_frames() -> None:
    image = _photo("xiaomi.heic")
    frames = _render(image, MotionSpec(camera="still", **SMALL))
    assert all(np.array_equal(frame, frames[0]) for frame in frames)


def test_still_camera_on_a_portrait_only_breathes(einstein: np.ndarray) -> None:
    frames = _render(einstein, MotionSpec(camera="still"))
    metrics = measure(frames, einstein, fps=24)
    # A breath moves, slowly (a camera move measures 0.1 px/frame and more)...
    assert 0.005 < metrics.flow_mean < 0.06
    # ...the sitter only: the wall in the top corners does not move at all...
    h, w = frames[0].shape[:2]
    corners = np.s_[: h // 6, np.r_[: w // 6, w - w // 6 : w]]
    assert all(np.array_equal(frame[corners], frames[0][corners]) for frame in frames)
    # ...and whole breaths end at rest.
    changes = [_mean_abs_diff(frame, frames[0]) for frame in frames]
    assert changes[-1] < 0.2 * max(changes)


def test_zero_amplitude_is_the_photo_throughout(einstein: np.ndarray) -> None:
    frames = _render(einstein, MotionSpec(amplitude=0.0, **SMALL))
    assert all(np.array_equal(frame, frames[0]) for frame in frames)


def test_strength_orders_the_amount_of_motion(einstein: np.ndarray) -> None:
    moved = []
    for strength in ("whisper", "gentle", "lively"):
        frames = _render(einstein, MotionSpec(strength=strength, **SMALL))  # type: ignore[arg-type]
        moved.append(_mean_abs_diff(frames[-1], frames[0]))
    assert moved[0] < moved[1] < moved[2]


def test_same_seed_same_clip(einstein: np.ndarray) -> None:
    spec = MotionSpec(camera="drift", seed=7, **SMALL)
    first, second = _render(einstein, spec), _render(einstein, spec)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("camera", ["drift", "push", "orbit"])
@pytest.mark.parametrize("name", ["einstein.jpg", "pug.heic"])
def test_every_source_coordinate_stays_inside_the_photo(name: str, camera: str) -> None:
    """The border guarantee itself: no frame samples outside the photo, so no edge is clamped or black."""
    spec = MotionSpec(camera=camera, strength="lively", long_side=480)  # type: ignore[arg-type]
    base = _resized(_photo(name), spec)
    scene = estimate_scene(base)
    path = camera_path(
        choose_camera(spec.camera, has_person=scene.has_person), frames=96, fps=24, loop=False, seed=1
    )
    plan = _plan(base, scene, spec, path)
    h, w = base.shape[:2]
    for index in range(1, spec.frame_count):
        map_x, map_y = plan.maps(index)
        assert map_x.min() >= 0 and map_x.max() <= w - 1, f"frame {index} samples outside horizontally"
        assert map_y.min() >= 0 and map_y.max() <= h - 1, f"frame {index} samples outside vertically"


def test_progress_rises_to_one_and_closing_early_stops_the_render_thread(einstein: np.ndarray) -> None:
    seen: list[float] = []
    spec = MotionSpec(**SMALL)
    for _ in ParallaxEngine().render(einstein, spec, seen.append):
        pass
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == spec.frame_count

    frames = ParallaxEngine().render(einstein, MotionSpec())
    next(frames), next(frames), next(frames)
    frames.close()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5.0
    while any(t.name.startswith("parallax") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the render-ahead thread outlived its clip"
        time.sleep(0.01)


# Every photo plain and looped; the scenes looped, the harder case (twice the speed over fine textures):
# their plain clips are shown by `vivant bench`.
TARGET_CASES = [(path, loop) for path in PHOTOS for loop in (False, True)] + [
    (path, True) for path in sorted((FIXTURES / "scenes").iterdir())
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "loop"), TARGET_CASES, ids=[f"{p.name}-{'loop' if loop else 'clip'}" for p, loop in TARGET_CASES]
)
def test_default_clip_meets_the_motion_targets(path: Path, loop: bool, tmp_path: Path) -> None:
    image = load_photo_rgb(path, max_pixels=50_000_000)
    spec = MotionSpec(loop=loop)
    video = tmp_path / "clip.mp4"
    result = render_clip(
        ParallaxEngine(),
        image,
        spec,
        video_path=video,
        poster_path=tmp_path / "clip.jpg",
        progress=lambda _: None,
    )
    m = result.metrics
    assert m["gate"] == "in_band", m  # the engine's own amplitude is right first time
    assert 0.05 <= m["flow_mean"] <= 2.0 and m["flow_max"] <= 4.0
    assert m["steadiness"] <= 0.15
    assert m["parallax_p75"] is not None and m["parallax_p75"] >= 0.6
    assert m["flicker"] >= 0.985 and m["smoothness"] >= 0.995
    assert m["edges_ok"], m["edge_faults"]
    if loop:
        assert m["loop_seam"] <= 3.0
    info = probe(video)
    assert (info.codec, info.pix_fmt, info.frames) == ("h264", "yuv420p", spec.frame_count)
    assert (info.width, info.height) == output_size(image.shape[1], image.shape[0], spec.long_side)
    # Last: the first frame as decoded from the file, against the photo.
    assert m["psnr_first"] >= 36.0


def test_a_photo_is_read_once_for_every_render_of_it_and_reading_ahead_changes_no_pixel(
    einstein: np.ndarray,
) -> None:
    spec = MotionSpec(**SMALL)  # type: ignore[arg-type]
    fresh = _render(einstein, spec)
    engine = ParallaxEngine()
    engine.prepare(einstein, spec)
    read = engine.scene(_resized(einstein, spec))[0]

    prepared = list(engine.render(einstein, spec))
    assert all(np.array_equal(a, b) for a, b in zip(fresh, prepared, strict=True))
    list(engine.render(einstein, spec.scaled(0.5)))  # the strength gate's second render
    assert engine.scene(_resized(einstein, spec))[0] is read, "a render read the photo again"

    mirrored = np.ascontiguousarray(einstein[:, ::-1])
    list(engine.render(mirrored, spec))
    assert engine.scene(_resized(mirrored, spec))[0] is not read
