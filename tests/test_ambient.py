"""Ambient motion in the parallax engine: each kind where the scene has it, and stillness where it has not.

Each test renders the same photo, spec and seed with `ambient="auto"` and `ambient="off"` and compares
them: what differs is the ambient motion alone. Water and foliage have no fixture photo, so they are
drawn here: a sea under a sky, and a wall of leaves.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.images import load_photo_rgb
from tests.conftest import upload
from tests.fixture_paths import FIXTURES
from tests.test_api import _render_queued_clip
from tests.test_cli import vivant
from worker.engines.ambient import find_regions, plan_ambient
from worker.engines.base import EngineError, MotionSpec, output_size, resize_to
from worker.engines.camera import camera_path, choose_camera
from worker.engines.depth import estimate_scene, upsample, working_copy
from worker.engines.parallax import ParallaxEngine, _plan
from worker.engines.regions import foliage_region, sky_mask, sky_region, water_region
from worker.render import render_clip

SMALL = {"seconds": 2.0, "fps": 24, "long_side": 480}


def _photo(relative: str, max_side: int | None = 800) -> np.ndarray:
    return load_photo_rgb(FIXTURES / relative, max_pixels=50_000_000, max_side=max_side)


def _both(image: np.ndarray, **spec: object) -> tuple[list[np.ndarray], list[np.ndarray], tuple[str, ...]]:
    """Frames with ambient motion, frames without, and the kinds the engine applied."""
    engine = ParallaxEngine()
    alive_spec = MotionSpec(ambient="auto", **{**SMALL, **spec})  # type: ignore[arg-type]
    facts: dict[str, object] = {}
    alive = list(engine.render(image, alive_spec, facts=facts))
    still = list(engine.render(image, MotionSpec(ambient="off", **{**SMALL, **spec})))  # type: ignore[arg-type]
    return alive, still, tuple(facts["ambient"])  # type: ignore[arg-type]


def _kinds(image: np.ndarray, spec: MotionSpec) -> tuple[str, ...]:
    """The kinds of ambient motion a render of `image` records (the renderer keeps them in the metrics)."""
    facts: dict[str, object] = {}
    for _ in ParallaxEngine().render(image, spec, facts=facts):
        pass
    return tuple(facts["ambient"])  # type: ignore[arg-type]


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1)


def _region_at(region_mask: np.ndarray, frame: np.ndarray) -> np.ndarray:
    return upsample(region_mask, (frame.shape[1], frame.shape[0]))


def sea(width: int = 640, height: int = 426, seed: int = 0) -> np.ndarray:
    """A calm sea under a pale sky: horizontal ripples, streaked along the waves, below a smooth gradient."""
    rng = np.random.default_rng(seed)
    horizon = int(0.4 * height)
    image = np.zeros((height, width, 3), np.float32)
    t = np.linspace(0.0, 1.0, horizon)[:, None, None]
    image[:horizon] = np.array([110, 160, 225]) * (1 - t) + np.array([190, 215, 240]) * t
    y = np.arange(height - horizon, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    streaks = cv2.GaussianBlur(
        rng.normal(0, 1, (height - horizon, width)).astype(np.float32), (0, 0), sigmaX=12, sigmaY=1.2
    )
    bands = 0.5 + 0.25 * np.sin(y * (0.35 + y / 400) + 0.02 * x + 3 * streaks) + 2 * streaks
    image[horizon:] = np.array([30, 90, 140]) + bands[..., None] * np.array([60, 70, 80])
    return np.clip(image, 0, 255).astype(np.uint8)


def leaves(width: int = 640, height: int = 426, seed: int = 0) -> np.ndarray:
    """A wall of leaves: green, saturated, textured at several scales."""
    rng = np.random.default_rng(seed)
    texture = np.zeros((height, width), np.float32)
    for sigma, weight in ((2, 1.0), (5, 0.7), (12, 0.5)):
        noise = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), sigma)
        texture += weight * noise / noise.std()
    shade = np.clip(0.5 + 0.18 * texture, 0, 1)[..., None]
    return np.clip(np.array([40, 80, 20]) + shade * np.array([90, 130, 60]), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def sunflowers() -> np.ndarray:
    return _photo("scenes/sunflowers.jpg")


# --- regions ----------------------------------------------------------------------------------------


def test_sky_mask_is_a_soft_mask_at_the_size_it_is_given(sunflowers: np.ndarray) -> None:
    small = working_copy(sunflowers)
    mask = sky_mask(small)
    assert mask.shape == small.shape[:2] and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    # The sky is the top of this photo, the flowers its bottom.
    h = mask.shape[0]
    assert mask[: h // 8].mean() > 0.8 and mask[-h // 3 :].mean() < 0.05


@pytest.mark.parametrize(
    "name", ["photos/einstein.jpg", "photos/hopper.jpg", "scenes/staircase.jpg", "scenes/interior.jpg"]
)
def test_regions_decline_what_is_not_there(name: str) -> None:
    """A wall, a ceiling or a studio backdrop is not a sky; no fixture photo has water."""
    small = working_copy(_photo(name))
    assert sky_region(small).confidence < 0.6
    assert water_region(small).confidence < 0.5


def test_regions_find_what_is_there(sunflowers: np.ndarray) -> None:
    assert sky_region(working_copy(sunflowers)).confidence >= 0.9
    water = water_region(working_copy(sea()))
    assert water.confidence >= 0.9 and water.area > 0.4
    assert foliage_region(working_copy(leaves())).confidence >= 0.9


# --- each kind against the same clip without it -------------------------------------------------------


def test_the_sky_drifts_beyond_the_camera_while_the_foreground_moves_with_the_camera_alone(
    sunflowers: np.ndarray,
) -> None:
    alive, still, kinds = _both(sunflowers)
    assert "sky" in kinds
    assert np.array_equal(alive[0], still[0])
    last = len(alive) - 1  # a straight clip ends with the sky furthest drifted and the light at rest
    sky = _region_at(find_regions(working_copy(still[0]))["sky"].mask, still[0])
    # The sky has moved sideways against the clip without ambient motion...
    # (measured high in the sky and away from the sides, where the drift fades out)
    h, w = sky.shape
    high = slice(0, int(0.35 * np.nonzero((sky > 0.99).any(axis=1))[0].max()))
    middle = slice(int(0.15 * w), int(0.85 * w))
    gray = [
        cv2.cvtColor(f[last][high, middle], cv2.COLOR_RGB2GRAY).astype(np.float32) for f in (alive, still)
    ]
    (shift_x, shift_y), _ = cv2.phaseCorrelate(gray[1], gray[0])
    assert abs(shift_x) >= 1.0 and abs(shift_y) < 0.5, (shift_x, shift_y)
    # ...and slowly: a hundredth of the clip's width over the whole clip, at most.
    assert abs(shift_x) <= 0.012 * alive[0].shape[1]
    # The foreground, away from the sky, is the camera's move alone.
    away = cv2.dilate((sky > 0.01).astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
    assert away.mean() > 0.4
    assert _diff(alive[last], still[last])[away].mean() < 0.05


def test_water_shimmers_finely_where_there_is_water() -> None:
    image = sea()
    alive, still, kinds = _both(image)
    assert "water" in kinds
    assert np.array_equal(alive[0], still[0])
    h = alive[0].shape[0]
    water_rows = slice(int(0.55 * h), h)
    changes = [float(_diff(a[water_rows], s[water_rows]).mean()) for a, s in zip(alive, still, strict=True)]
    # The ripples move all through the clip (a straight clip's ripples come to rest only at its end)...
    assert min(changes[len(changes) // 8 : -len(changes) // 8]) > 0.3
    # ...and little.
    assert max(changes) < 12.0
    # No ripple reaches over the horizon: the sky there (a vertical gradient, so a sideways drift does not
    # show and the light's swell is the same all along a row) changes alike all along each row.
    horizon = int(0.4 * h)
    for frame in (len(alive) // 4, len(alive) // 3, len(alive) // 2):
        change = alive[frame][: horizon - 2].astype(np.int16) - still[frame][: horizon - 2].astype(np.int16)
        assert (change.max(axis=1) - change.min(axis=1)).max() <= 1, frame


def test_foliage_barely_stirs() -> None:
    alive, still, kinds = _both(leaves())
    assert kinds == ("foliage",)
    assert np.array_equal(alive[0], still[0])
    middle = len(alive) // 2
    change = _diff(alive[middle], still[middle])
    assert 0.3 < change.mean() < 6.0
    # Under a pixel of motion: the stirred frame is the still one moved by less than a pixel, so its
    # difference from the still one is less than the still one's difference from itself moved by a pixel.
    moved = np.roll(still[middle], 1, axis=1)
    assert change.mean() < 0.8 * _diff(moved, still[middle]).mean()


def test_light_breathes_in_the_highlights_mid_clip_and_not_at_frame_0(sunflowers: np.ndarray) -> None:
    alive, still, kinds = _both(sunflowers, camera="still")
    assert "light" in kinds
    assert np.array_equal(alive[0], still[0])
    highlights = _region_at(find_regions(working_copy(still[0]))["light"].mask, still[0]) > 0.9
    luma = [
        [float(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)[highlights].mean()) for f in frames]
        for frames in (alive, still)
    ]
    middle = len(alive) // 2
    assert luma[0][middle] > luma[1][middle] + 1.5  # a swell of a few percent in the highlights...
    assert luma[0][middle] < 1.06 * luma[1][middle]  # ...and no more
    assert abs(luma[0][-1] - luma[1][-1]) < 0.2  # settled again by the end of a straight clip


def _face_on_sky(sunflowers: np.ndarray) -> np.ndarray:
    """Einstein's portrait pasted into the sunflowers' sky: a face right where the sky drifts and the light
    breathes."""
    portrait = cv2.resize(_photo("photos/einstein.jpg", None), (180, 240), interpolation=cv2.INTER_AREA)
    image = sunflowers.copy()
    left = image.shape[1] // 2 - 90
    image[40:280, left : left + 180] = portrait
    return image


@pytest.mark.parametrize("name", ["einstein", "hopper", "face on sky"])
def test_nothing_changes_on_a_face(sunflowers: np.ndarray, name: str) -> None:
    image = _face_on_sky(sunflowers) if name == "face on sky" else _photo(f"photos/{name}.jpg")
    alive, still, kinds = _both(image)
    if name == "face on sky":
        assert {"sky", "light"} <= set(kinds)  # there is ambient motion right round the face
    scene = estimate_scene(still[0])
    assert scene.faces, "the face must be found for this test to mean anything"
    sy, sx = still[0].shape[0] / scene.depth.shape[0], still[0].shape[1] / scene.depth.shape[1]
    for x, y, w, h in scene.faces:
        box = np.s_[int(y * sy) : int((y + h) * sy), int(x * sx) : int((x + w) * sx)]
        for index, (a, s) in enumerate(zip(alive, still, strict=True)):
            assert np.array_equal(a[box], s[box]), f"frame {index} changed the face"


def test_nothing_moves_inside_a_keep_still_region(sunflowers: np.ndarray) -> None:
    h, w = sunflowers.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[: h // 3, : w // 2] = True  # the left half of the sky
    spec = MotionSpec(keep_still=mask, **SMALL)  # type: ignore[arg-type]
    base = resize_to(sunflowers, output_size(w, h, spec.long_side))
    held = (
        cv2.resize(mask.astype(np.uint8), (base.shape[1], base.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    )
    # The ambient fields themselves are zero there (the engine's final copy is not what keeps it still)...
    ambient = plan_ambient(
        base=base,
        scene=estimate_scene(base),
        spec=spec,
        regions=find_regions(working_copy(base)),
        strength=1.0,
    )
    assert "sky" in ambient.kinds
    assert all(not field[held].any() for field, _ in ambient.x_terms + ambient.y_terms)
    if ambient.light is not None:
        assert not ambient.light.glow[held[ambient.light.rows, ambient.light.cols]].any()
    # ...and every frame is the photo there, while the rest of the sky drifts.
    frames = list(ParallaxEngine().render(sunflowers, spec))
    for index, frame in enumerate(frames):
        assert np.array_equal(frame[held], base[held]), f"frame {index} moved inside the keep-still mask"


def test_off_is_the_engine_without_ambient_motion(sunflowers: np.ndarray) -> None:
    spec = MotionSpec(ambient="off", **SMALL)  # type: ignore[arg-type]
    frames = list(ParallaxEngine().render(sunflowers, spec))
    base = resize_to(sunflowers, output_size(sunflowers.shape[1], sunflowers.shape[0], spec.long_side))
    scene = estimate_scene(base)
    camera = choose_camera(spec.camera, has_person=scene.has_person)
    path = camera_path(camera, frames=spec.frame_count, fps=spec.fps, loop=spec.loop, seed=spec.seed)
    plan = _plan(base, scene, spec, path)  # the plan as it was made before ambient motion existed
    assert all(np.array_equal(frames[i], plan.frame(i)) for i in range(1, spec.frame_count))
    assert _kinds(sunflowers, spec) == ()


def test_a_loop_with_ambient_motion_flows_back_into_its_first_frame() -> None:
    frames, _, kinds = _both(sea(), loop=True)
    assert {"sky", "water", "light"} <= set(kinds)
    steps = [float(_diff(a, b).mean()) for a, b in zip(frames, frames[1:], strict=False)]
    assert float(_diff(frames[-1], frames[0]).mean()) <= 1.5 * max(steps)


def test_light_does_not_breathe_in_a_clip_too_short_for_a_breath(sunflowers: np.ndarray) -> None:
    assert _kinds(sunflowers, MotionSpec(seconds=1.0, long_side=480)) == ("sky",)
    assert _kinds(sunflowers, MotionSpec(seconds=2.0, long_side=480)) == ("sky", "light")


def test_ambient_must_be_auto_or_off() -> None:
    with pytest.raises(EngineError, match="ambient must be one of auto, off"):
        MotionSpec(ambient="lively")  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("loop", [False, True], ids=["clip", "loop"])
def test_sunflowers_with_ambient_motion_meet_the_motion_targets(loop: bool, tmp_path: Path) -> None:
    image = _photo("scenes/sunflowers.jpg", None)
    result = render_clip(
        ParallaxEngine(),
        image,
        MotionSpec(loop=loop),
        video_path=tmp_path / "clip.mp4",
        poster_path=tmp_path / "clip.jpg",
        progress=lambda _: None,
    )
    m = result.metrics
    assert m["ambient"] == ["sky", "light"]
    assert m["gate"] == "in_band", m
    assert 0.05 <= m["flow_mean"] <= 2.0 and m["flow_max"] <= 4.0
    assert m["steadiness"] <= 0.15 and m["parallax_p75"] >= 0.6
    assert m["flicker"] >= 0.985 and m["smoothness"] >= 0.995
    assert m["edges_ok"], m["edge_faults"]
    assert m["psnr_first"] >= 36.0
    if loop:
        assert m["loop_seam"] <= 3.0


# --- the control: API and command line ------------------------------------------------------------


def test_the_api_records_ambient_and_the_kinds_applied_and_refuses_other_values(
    client: TestClient, csrf: str
) -> None:
    settings = client.app.state.services.settings
    photo_id = upload(client, csrf, FIXTURES / "scenes" / "sunflowers.jpg").json()[0]["id"]
    headers = {"X-CSRF-Token": csrf}
    made = {}
    for asked in ({"seconds": 2}, {"seconds": 2, "ambient": "off"}):
        created = client.post(f"/api/photos/{photo_id}/clips", json=asked, headers=headers)
        assert created.status_code == 202
        made[asked.get("ambient", "auto")] = created.json()["id"]
    for ambient, clip_id in made.items():
        assert _render_queued_clip(settings, clip_id) == "ready"
        clip = client.get(f"/api/clips/{clip_id}").json()
        assert clip["settings"]["ambient"] == ambient  # recorded with the other settings
        assert clip["metrics"]["ambient"] == (["sky", "light"] if ambient == "auto" else [])
    for wrong in ("on", "sky", True, 1):
        refused = client.post(f"/api/photos/{photo_id}/clips", json={"ambient": wrong}, headers=headers)
        assert refused.status_code == 422, wrong


def test_the_command_line_applies_ambient_and_says_which(tmp_path: Path) -> None:
    photo = FIXTURES / "scenes" / "sunflowers.jpg"
    said = {}
    for ambient in ("auto", "off"):
        made = vivant("animate", str(photo), "-o", str(tmp_path / f"{ambient}.mp4"), "--seconds", "2",
                      "--long-side", "320", "--ambient", ambient)  # fmt: skip
        assert made.returncode == 0, made.stderr
        found = re.search(r"ambient: ([a-z, ]+)", made.stderr)
        assert found is not None, made.stderr
        said[ambient] = found[1]
    assert said == {"auto": "sky, light", "off": "none"}
    wrong = vivant("animate", str(photo), "--ambient", "sometimes")
    assert wrong.returncode == 2 and "sometimes" in wrong.stderr
