"""The weight-free depth cues one by one (worker/engines/cues.py, regions.py), on drawn images whose
answer is known and on the scene photos, and the learned-depth hint of `estimate_scene`."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.images import load_photo_rgb
from tests.fixture_paths import FIXTURES
from worker.engines.cues import defocus, perspective_ramp, region_mean, superpixels, vanishing_point
from worker.engines.depth import Scene, estimate_scene, working_copy
from worker.engines.regions import sky_mask


def _scene_photo(name: str) -> np.ndarray:
    return working_copy(load_photo_rgb(FIXTURES / "scenes" / name, max_pixels=50_000_000))


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Grey noise with detail at a few scales, as RGB uint8."""
    rng = np.random.default_rng(seed)
    noise = sum(cv2.resize(rng.normal(0, 1, (h // s, w // s)).astype(np.float32), (w, h)) for s in (1, 2, 4))
    gray = np.clip(128 + 30 * noise, 0, 255).astype(np.uint8)
    return np.dstack([gray] * 3)


def _corridor(h: int = 170, w: int = 256, vp: tuple[int, int] = (150, 75)) -> np.ndarray:
    """A drawn one-point perspective: floor, wall and ceiling edges running from the frame into `vp`."""
    image = np.full((h, w, 3), 200, np.uint8)
    cv2.rectangle(image, (vp[0] - 20, vp[1] - 14), (vp[0] + 20, vp[1] + 14), (90, 90, 90), -1)
    ends = [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (0, h // 2), (w - 1, h // 3), (w // 3, h - 1)]
    ends += [(2 * w // 3, h - 1), (w // 4, 0), (3 * w // 4, 0)]
    for end in ends:
        # Lines stop short of the far wall, as real edges do where they meet it.
        stop = (round(vp[0] + 0.25 * (end[0] - vp[0])), round(vp[1] + 0.25 * (end[1] - vp[1])))
        cv2.line(image, end, stop, (30, 30, 30), 2, cv2.LINE_AA)
    return image


@pytest.fixture(scope="module")
def sunflowers() -> tuple[np.ndarray, Scene]:
    image = _scene_photo("sunflowers.jpg")
    return image, estimate_scene(image)


def test_sky_mask_finds_the_sky_over_the_sunflowers(sunflowers: tuple[np.ndarray, Scene]) -> None:
    image, _ = sunflowers
    sky = sky_mask(image)
    h = image.shape[0]
    assert sky.shape == image.shape[:2] and sky.dtype == np.float32
    assert 0.0 <= sky.min() and sky.max() <= 1.0
    # The top of the frame is sky, the field below is not.
    assert float(sky[: h // 7].mean()) > 0.8
    assert float(sky[h // 2 :].mean()) < 0.1


def test_sky_is_the_farthest_thing_in_the_sunflowers(sunflowers: tuple[np.ndarray, Scene]) -> None:
    image, scene = sunflowers
    sky = sky_mask(image) > 0.5
    assert float(scene.depth[sky].mean()) < 0.1
    assert float(scene.depth[sky].mean()) < float(np.percentile(scene.depth[~sky], 10))
    # The flowers at the bottom are the nearest.
    assert float(scene.depth[-image.shape[0] // 5 :].mean()) > float(scene.depth[sky].mean()) + 0.4


@pytest.mark.parametrize(
    "path",
    [FIXTURES / "scenes" / "interior.jpg", FIXTURES / "scenes" / "staircase.jpg"]
    + [FIXTURES / "photos" / name for name in ("einstein.jpg", "pug.heic", "child_reading_painting.jpg")],
    ids=lambda p: p.name,
)
def test_walls_and_ceilings_are_not_sky(path: object) -> None:
    image = working_copy(load_photo_rgb(path, max_pixels=50_000_000))  # type: ignore[arg-type]
    assert float(sky_mask(image).mean()) < 0.02


def test_sky_mask_keeps_the_size_it_is_given() -> None:
    photo = load_photo_rgb(FIXTURES / "scenes" / "sunflowers.jpg", max_pixels=50_000_000)
    sky = sky_mask(photo)
    assert sky.shape == photo.shape[:2]
    assert float(sky[: photo.shape[0] // 7].mean()) > 0.8


def test_vanishing_point_of_a_drawn_corridor_is_where_its_lines_meet() -> None:
    found = vanishing_point(cv2.cvtColor(_corridor(vp=(150, 75)), cv2.COLOR_RGB2GRAY))
    assert found is not None and found.confidence > 0.5
    assert abs(found.point[0] - 150) < 6 and abs(found.point[1] - 75) < 6


def test_far_is_towards_the_vanishing_point_of_a_corridor() -> None:
    image = _corridor(vp=(150, 75))
    scene = estimate_scene(image)
    far = scene.depth[65:86, 140:161].mean()
    for corner in (
        scene.depth[:15, :15],
        scene.depth[:15, -15:],
        scene.depth[-15:, :15],
        scene.depth[-15:, -15:],
    ):
        assert far < float(corner.mean()) - 0.2


def test_vanishing_point_of_the_interior_is_in_the_room() -> None:
    image = _scene_photo("interior.jpg")
    h, w = image.shape[:2]
    found = vanishing_point(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    assert found is not None and found.confidence > 0.3
    # The room recedes to the right of the middle, at about the height of the windows' sills.
    x, y = found.point
    assert 0.5 * w < x < w and 0.2 * h < y < 0.8 * h
    # And its depth is farthest there: the frame's left edge, by the camera, is nearer.
    depth = estimate_scene(image).depth
    near_vp = depth[max(0, round(y) - 10) : round(y) + 10, max(0, round(x) - 20) : round(x)]
    assert float(near_vp.mean()) < float(depth[:, :20].mean()) - 0.1


def test_a_photo_of_texture_has_no_vanishing_point() -> None:
    assert vanishing_point(cv2.cvtColor(_texture(170, 256), cv2.COLOR_RGB2GRAY)) is None


def test_perspective_ramp_is_zero_at_the_point_and_rises_away() -> None:
    ramp = perspective_ramp((100, 200), (50.0, 40.0))
    assert ramp[40, 50] == 0.0 and ramp.max() == pytest.approx(1.0)
    assert ramp[40, 100] > ramp[40, 60] and ramp[90, 50] > ramp[50, 50]


def test_defocus_finds_the_sharp_middle_of_a_shallow_depth_of_field() -> None:
    sharp = _texture(340, 512)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 4)
    image = blurred.copy()
    image[100:240, 180:330] = sharp[100:240, 180:330]
    focus = defocus(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), size=(256, 170))
    assert focus.sharp.shape == (170, 256)
    assert focus.confidence > 0.5
    assert float(focus.sharp[60:110, 100:155].mean()) > float(focus.sharp[:30, :40].mean()) + 0.5
    # All sharp: no shallow depth of field to read, so the cue does not claim one.
    assert defocus(cv2.cvtColor(sharp, cv2.COLOR_RGB2GRAY), size=(256, 170)).confidence < 0.3


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        # The glass ball in the moss, and the flower's seed head: in focus, against a blurred backdrop.
        ("glass_ball.jpg", (slice(0.45, 0.7), slice(0.3, 0.48))),
        ("flower.jpg", (slice(0.3, 0.5), slice(0.47, 0.62))),
    ],
)
def test_the_subject_in_focus_is_nearer_than_the_blurred_background(
    name: str, subject: tuple[slice, slice]
) -> None:
    image = _scene_photo(name)
    h, w = image.shape[:2]
    rows, cols = subject
    depth = estimate_scene(image).depth
    inside = depth[round(rows.start * h) : round(rows.stop * h), round(cols.start * w) : round(cols.stop * w)]
    # The top corners are out of focus in both photos.
    background = np.r_[depth[: h // 6, : w // 6].ravel(), depth[: h // 6, -w // 6 :].ravel()]
    assert float(inside.mean()) > float(background.mean()) + 0.3


@pytest.mark.parametrize("name", ["basketball.jpg", "glass_ball.jpg", "sunflowers.jpg"])
def test_depth_edges_follow_the_photos_edges(name: str) -> None:
    """Where depth changes fastest, the photo has an edge: depth steps at objects, not across them."""
    image = _scene_photo(name)
    depth = estimate_scene(image).depth
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0

    def gradient(values: np.ndarray) -> np.ndarray:
        return cv2.magnitude(cv2.Sobel(values, cv2.CV_32F, 1, 0), cv2.Sobel(values, cv2.CV_32F, 0, 1))

    # The photo's edges, widened by two pixels: the depth is smooth and sits on one side of an edge.
    photo_edges = cv2.dilate(gradient(cv2.GaussianBlur(gray, (0, 0), 1.0)), np.ones((5, 5), np.uint8))
    steps = gradient(depth)
    steepest = steps > np.percentile(steps, 95)
    assert float(photo_edges[steepest].mean()) > 1.5 * float(photo_edges.mean())


def test_superpixels_do_not_cross_a_colour_edge() -> None:
    image = np.zeros((120, 180, 3), np.uint8)
    image[:, :77] = (200, 60, 40)
    image[:, 77:] = (40, 90, 200)
    image = cv2.add(image, _texture(120, 180) // 8)
    labels = superpixels(image)
    assert labels.shape == (120, 180)
    left = set(np.unique(labels[:, :75]).tolist())
    right = set(np.unique(labels[:, 79:]).tolist())
    assert not left & right
    # And averaging over regions keeps the edge sharp.
    step = region_mean((np.arange(180)[None, :] >= 77).astype(np.float32) * np.ones((120, 1)), labels)
    assert float(step[:, :75].max()) < 0.05 and float(step[:, 79:].min()) > 0.95


def test_a_depth_hint_replaces_the_cues_but_not_the_subject() -> None:
    photo = load_photo_rgb(FIXTURES / "photos" / "einstein.jpg", max_pixels=50_000_000)
    image = working_copy(photo)
    h, w = image.shape[:2]
    plain = estimate_scene(image)
    # A hint at another size and shape: near on the left, far on the right.
    hint = np.tile(np.linspace(1.0, 0.0, 640, dtype=np.float32), (480, 1))
    scene = estimate_scene(image, depth_hint=hint)
    assert scene.depth.shape == (h, w) and scene.depth.dtype == np.float32
    expected = cv2.resize(hint, (w, h), interpolation=cv2.INTER_AREA)
    assert float(np.abs(scene.depth - expected)[5:-5, 5:-5].max()) < 0.05
    # Faces, subject and focus are still the photo's own; the camera's still plane is the hint's.
    assert scene.faces == plain.faces and np.array_equal(scene.subject, plain.subject)
    assert scene.focus == plain.focus
    inside = scene.subject > 0.5
    assert scene.focal_depth == pytest.approx(float(np.median(scene.depth[inside])))
    # Out-of-range values are clipped, not passed on to the warp.
    wild = estimate_scene(image, depth_hint=hint * 3.0 - 1.0).depth
    assert wild.min() >= 0.0 and wild.max() <= 1.0


def test_a_depth_hint_that_is_not_a_map_is_refused() -> None:
    image = _texture(64, 96)
    with pytest.raises(ValueError, match="2-D map"):
        estimate_scene(image, depth_hint=np.zeros((64, 96, 3), np.float32))
