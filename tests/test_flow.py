"""worker/flow.py against OpenCV's own Farneback, and against motions whose answer is known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.images import load_photo_rgb
from tests.fixture_paths import FIXTURES
from worker.flow import POLY_N, POLY_SIGMA, WINDOW, expand, flow


def _opencv_one_level(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    result = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 0, WINDOW, 1, POLY_N, POLY_SIGMA, 0)
    return result[..., 0], result[..., 1]


def _photo_pair(shift: tuple[float, float], zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """einstein.jpg in grey at 240 px, and the same moved by `shift` px and zoomed about its centre."""
    photo = load_photo_rgb(FIXTURES / "photos" / "einstein.jpg", max_pixels=10_000_000)
    gray = cv2.resize(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), (180, 240), interpolation=cv2.INTER_AREA)
    matrix = cv2.getRotationMatrix2D((90, 120), 0.0, zoom)
    matrix[:, 2] += shift
    moved = cv2.warpAffine(gray, matrix, (180, 240), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return gray, moved


@pytest.mark.parametrize(("shift", "zoom"), [((0.0, 0.0), 1.0), ((0.7, -0.3), 1.0), ((0.0, 0.0), 1.01)])
def test_same_field_as_opencv_farneback_with_one_level(shift: tuple[float, float], zoom: float) -> None:
    a, b = _photo_pair(shift, zoom)
    ours = flow(expand(a), expand(b))
    theirs = _opencv_one_level(a, b)
    # All but the last rows and columns, where OpenCV leaves the next frame out (see worker/flow.py).
    inside = np.s_[:-WINDOW, :-WINDOW]
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine[inside], reference[inside], atol=1e-4)


def test_a_textured_shift_reads_its_size_and_direction() -> None:
    a, b = _photo_pair((0.8, -0.4), 1.0)
    dx, dy = flow(expand(a), expand(b))
    inner = np.s_[20:-20, 20:-20]  # away from the reflected border
    assert float(np.median(dx[inner])) == pytest.approx(0.8, abs=0.08)
    assert float(np.median(dy[inner])) == pytest.approx(-0.4, abs=0.08)


def test_identical_frames_have_no_flow_even_at_the_edges() -> None:
    a, _ = _photo_pair((0.0, 0.0), 1.0)
    expanded = expand(a)
    dx, dy = flow(expanded, expanded)
    assert float(np.abs(dx).max()) == 0.0 and float(np.abs(dy).max()) == 0.0
