"""The weight-free depth and subject estimate, on the fixture photos and on drawn images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.images import load_photo_rgb
from tests.fixture_paths import FIXTURES
from worker.engines.camera import camera_path, choose_camera
from worker.engines.depth import Scene, estimate_scene, guided_filter, spectral_saliency, working_copy

PHOTOS = sorted((FIXTURES / "photos").iterdir())


def _photo(name: str) -> np.ndarray:
    return load_photo_rgb(FIXTURES / "photos" / name, max_pixels=50_000_000)


@pytest.fixture(scope="module")
def einstein() -> tuple[np.ndarray, Scene]:
    image = working_copy(_photo("einstein.jpg"))
    return image, estimate_scene(image)


def test_einstein_face_is_found_where_it_is(einstein: tuple[np.ndarray, Scene]) -> None:
    image, scene = einstein
    h, w = image.shape[:2]
    assert scene.has_person
    x, y, fw, fh = scene.faces[0]
    # The face sits centred in the upper half of the portrait and spans about a quarter of its width.
    assert 0.35 * w < x + fw / 2 < 0.65 * w
    assert 0.15 * h < y + fh / 2 < 0.5 * h
    assert 0.15 * w < fw < 0.5 * w
    assert scene.focus == pytest.approx(((x + fw / 2) / w, (y + fh / 2) / h))


def test_einstein_face_is_nearer_than_the_background(einstein: tuple[np.ndarray, Scene]) -> None:
    _, scene = einstein
    x, y, fw, fh = scene.faces[0]
    # The middle of the face box: the box's own corners hold hair and background.
    face = scene.depth[y + fh // 4 : y + 3 * fh // 4, x + fw // 4 : x + 3 * fw // 4]
    corner = scene.depth[: fh // 2, : fw // 2]
    assert face.mean() > corner.mean() + 0.5
    assert scene.subject[y + fh // 2, x + fw // 2] > 0.9
    assert scene.subject[: fh // 2, : fw // 2].max() < 0.1
    # The face is one flat layer: a bumpy face would turn rubbery as the camera moves.
    assert face.std() < 0.05
    assert scene.focal_depth == pytest.approx(float(np.median(face)), abs=0.05)


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.name)
def test_every_photo_gets_a_plausible_scene(path: Path) -> None:
    image = working_copy(load_photo_rgb(path, max_pixels=50_000_000))
    scene = estimate_scene(image)
    h, w = image.shape[:2]
    assert scene.depth.shape == scene.subject.shape == (h, w)
    assert scene.depth.dtype == np.float32 and 0.0 <= scene.depth.min() and scene.depth.max() <= 1.0
    assert 0.03 <= float((scene.subject > 0.5).mean()) <= 0.8
    # Nearer than the top of the frame on average: the subject and the ground stand in front of it.
    assert float(scene.depth[scene.subject > 0.5].mean()) > float(scene.depth[: h // 10].mean()) + 0.3
    # Smooth: no pixel-scale texture copied into the depth (that would make the photo shimmer).
    assert float(np.abs(np.diff(scene.depth, axis=1)).max()) < 0.35


def test_photos_without_a_face_find_no_face() -> None:
    for name in ("pug.heic", "xiaomi.heic"):
        assert not estimate_scene(working_copy(_photo(name))).has_person, name


def test_guided_filter_keeps_an_edge_that_a_blur_loses() -> None:
    guide = np.zeros((64, 64), np.float32)
    guide[:, 32:] = 1.0
    noisy = guide + np.random.default_rng(0).normal(0, 0.1, guide.shape).astype(np.float32)
    smoothed = guided_filter(guide, noisy, radius=4, eps=1e-3)
    blurred = cv2.blur(noisy, (9, 9))
    # Either side of the edge the guided result stays on its level; the box blur smears across it.
    assert abs(float(smoothed[:, 31].mean())) < 0.05 and abs(float(smoothed[:, 32].mean()) - 1.0) < 0.05
    assert abs(float(blurred[:, 31].mean())) > 0.3
    # And it removes the noise.
    assert float(smoothed[:, :28].std()) < 0.5 * float(noisy[:, :28].std())


def test_spectral_saliency_finds_the_odd_one_out() -> None:
    gray = np.full((128, 128), 120, np.uint8)
    cv2.circle(gray, (90, 40), 10, 250, -1)
    saliency = spectral_saliency(gray)
    assert saliency.shape == gray.shape
    y, x = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    assert abs(x - 90) < 16 and abs(y - 40) < 16


@pytest.mark.parametrize("camera", ["still", "drift", "push", "orbit"])
@pytest.mark.parametrize("loop", [False, True])
def test_camera_paths_start_at_rest_and_loops_close(camera: str, loop: bool) -> None:
    path = camera_path(camera, frames=96, fps=24, loop=loop, seed=3)  # type: ignore[arg-type]
    assert path.shift.shape == (96, 2) and path.push.shape == path.breath.shape == (96,)
    for curve in (path.shift[:, 0], path.shift[:, 1], path.push, path.breath):
        assert curve[0] == 0.0
        step = np.abs(np.diff(curve)).max(initial=0.0)
        # A loop's last frame is one ordinary step from the first; no step is a jump.
        if loop:
            assert abs(curve[-1] - curve[0]) <= step + 1e-9
        assert step < 0.1
    assert np.abs(path.shift).max() <= 1.0 and 0.0 <= path.push.min() and path.push.max() <= 1.0


def test_auto_camera_pushes_in_on_people_and_drifts_otherwise() -> None:
    assert choose_camera("auto", has_person=True) == "push"
    assert choose_camera("auto", has_person=False) == "drift"
    assert choose_camera("orbit", has_person=True) == "orbit"


def test_seed_picks_the_direction_of_a_drift() -> None:
    sides = {
        float(np.sign(camera_path("drift", frames=24, fps=24, loop=False, seed=s).shift[-1, 0]))
        for s in range(8)
    }
    assert sides == {-1.0, 1.0}


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.name)
def test_the_same_photo_gets_the_same_scene_whatever_ran_before(path: Path) -> None:
    """A worker renders clip after clip in one process: OpenCV's shared random state, which GrabCut
    draws on, must not make the same photo and seed give a different clip."""
    image = working_copy(_photo(path.name))
    first = estimate_scene(image)
    for seed in range(5):
        cv2.randu(np.empty((64, 64), np.float32), 0.0, 1.0)  # what any other OpenCV call may do
        again = estimate_scene(image)
        assert np.array_equal(again.subject, first.subject), seed
        assert np.array_equal(again.depth, first.depth), seed
