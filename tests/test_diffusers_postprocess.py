"""Faithfulness post-processing and preset planning of the diffusers engine (numpy only, no models)."""

from __future__ import annotations

import numpy as np
import pytest

from worker.engines.base import MotionSpec, output_size, resize_to
from worker.engines.postprocess import Box, finish, letterbox
from worker.engines.presets import NEGATIVE_PROMPT, PRESETS, get_preset

GREY = 110


def _photo(width: int = 120, height: int = 160) -> np.ndarray:
    """A soft gradient with a bright square: enough structure for colour statistics and a position."""
    yy, xx = np.mgrid[0:height, 0:width]
    photo = np.stack([GREY + xx * 0.2, GREY + yy * 0.2, np.full_like(xx, GREY, dtype=float)], axis=-1)
    photo[40:60, 30:50] = 240
    return photo.astype(np.uint8)


def _moving_clip(photo: np.ndarray, frames: int, shift: int, cast: int = 0) -> np.ndarray:
    """The photo with its square sliding right by `shift` pixels a frame (a stand-in for model output)."""
    clip = []
    for i in range(frames):
        frame = np.roll(photo, i * shift, axis=1).astype(np.int16)
        frame[..., 0] += cast
        clip.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(clip)


def _square_x(frame: np.ndarray) -> float:
    bright = frame.min(axis=-1) > 200
    return float(np.nonzero(bright)[1].mean())


def test_diffusers_letterbox_keeps_the_whole_photo_centred() -> None:
    photo = _photo(120, 160)
    canvas, box = letterbox(photo, 192, 128)
    assert canvas.shape == (128, 192, 3)
    assert (box.height, box.width) == (128, 96) and box.x == 48 and box.y == 0
    np.testing.assert_array_equal(canvas[:, 48:144], resize_to(photo, (96, 128)))
    # The borders continue the photo, softly, instead of black bars.
    assert abs(float(canvas[:, :40].mean()) - float(photo.mean())) < 40


def test_diffusers_finish_starts_on_the_photo_at_its_aspect_and_length() -> None:
    photo = _photo()
    spec = MotionSpec(seconds=1.0, fps=12, long_side=100)
    frames = list(finish(_moving_clip(photo, 9, 2), photo=photo, box=Box(0, 0, 120, 160), spec=spec))
    width, height = output_size(120, 160, 100)
    assert len(frames) == spec.frame_count == 12
    assert all(f.shape == (height, width, 3) and f.dtype == np.uint8 for f in frames)
    np.testing.assert_array_equal(frames[0], resize_to(photo, (width, height)))

    # The photo blends into the motion: the second frame is still close to it, the last has moved on.
    def away(frame: np.ndarray) -> float:
        return float(np.abs(frame.astype(int) - frames[0].astype(int)).mean())

    assert away(frames[1]) < away(frames[-1]) / 4
    assert _square_x(frames[-1]) - _square_x(frames[0]) > 3


def test_diffusers_time_span_shortens_the_distance_travelled() -> None:
    photo = _photo()
    spec = MotionSpec(seconds=1.0, fps=12, long_side=160)
    clip, box = _moving_clip(photo, 9, 2), Box(0, 0, 120, 160)
    full = list(finish(clip, photo=photo, box=box, spec=spec))
    half = list(finish(clip, photo=photo, box=box, spec=spec, time_span=0.5))
    start = _square_x(full[0])
    assert _square_x(full[-1]) - start == pytest.approx(16, abs=1)
    assert _square_x(half[-1]) - start == pytest.approx(8, abs=1)


def test_diffusers_colours_are_matched_back_to_the_photo() -> None:
    photo = _photo()
    spec = MotionSpec(seconds=1.0, fps=12, long_side=160)
    frames = list(finish(_moving_clip(photo, 9, 0, cast=40), photo=photo, box=Box(0, 0, 120, 160), spec=spec))
    # Without matching, the red channel of every generated frame would sit 40 levels above the photo's.
    assert abs(float(frames[6][..., 0].mean()) - float(photo[..., 0].mean())) < 4


def test_diffusers_loop_fades_back_into_the_photo() -> None:
    photo = _photo()
    clip, box = _moving_clip(photo, 9, 2), Box(0, 0, 120, 160)
    looped = list(
        finish(clip, photo=photo, box=box, spec=MotionSpec(seconds=2.0, fps=12, long_side=160, loop=True))
    )
    open_ended = list(finish(clip, photo=photo, box=box, spec=MotionSpec(seconds=2.0, fps=12, long_side=160)))
    start = _square_x(looped[0])
    assert abs(_square_x(looped[-1]) - start) < abs(_square_x(open_ended[-1]) - start) / 4
    # ...and the middle still moves.
    assert abs(_square_x(looped[len(looped) // 2]) - start) > 5


def test_diffusers_keep_still_mask_is_honoured() -> None:
    photo = _photo()
    mask = np.zeros(photo.shape[:2], bool)
    mask[:, :60] = True  # the square's half of the photo
    spec = MotionSpec(seconds=1.0, fps=12, long_side=160, keep_still=mask)
    frames = list(finish(_moving_clip(photo, 9, 2), photo=photo, box=Box(0, 0, 120, 160), spec=spec))
    reference = frames[0].astype(int)
    for frame in frames[1:]:
        assert np.abs(frame[:, :50].astype(int) - reference[:, :50]).max() <= 2


def test_diffusers_presets_map_seconds_to_valid_frame_counts() -> None:
    assert PRESETS["ltx"].frame_count(4.0) == 97  # 8k + 1 at 24 fps
    assert PRESETS["wan"].frame_count(4.0) == 97  # 4k + 1 at 24 fps
    assert PRESETS["wan"].frame_count(30.0) == 121  # its longest clip
    assert PRESETS["cogvideox"].frame_count(2.0) == 49  # fixed length
    assert PRESETS["svd-xt"].frame_count(4.0) == 25


def test_diffusers_presets_pick_the_orientation_of_the_photo() -> None:
    assert PRESETS["wan"].generation_size(3024, 4032) == (704, 1280)
    assert PRESETS["wan"].generation_size(4032, 3024) == (1280, 704)
    assert PRESETS["cogvideox"].generation_size(3024, 4032) == (720, 480)
    assert PRESETS["ltx"].generation_size(512, 512) == (640, 640)


def test_diffusers_lower_amplitude_turns_each_pipelines_motion_knob_down() -> None:
    spec = MotionSpec(strength="gentle")
    svd = get_preset("svd-xt")
    assert (
        svd.plan(640, 480, spec.scaled(0.5)).kwargs["motion_bucket_id"]
        < svd.plan(640, 480, spec).kwargs["motion_bucket_id"]
    )
    ltx = get_preset("ltx")
    assert ltx.plan(640, 480, spec.scaled(0.5)).end_pin > ltx.plan(640, 480, spec).end_pin
    assert ltx.plan(640, 480, MotionSpec(loop=True)).end_pin == 1.0
    wan = get_preset("wan")
    assert wan.plan(640, 480, spec.scaled(0.5)).time_span == 0.5
    assert wan.plan(640, 480, spec).time_span == 1.0


def test_diffusers_prompts_ask_for_subtle_motion_and_never_push_away_from_stillness() -> None:
    plan = get_preset("wan").plan(640, 480, MotionSpec(strength="whisper", camera="still"))
    assert "still" in plan.kwargs["prompt"]
    assert plan.kwargs["negative_prompt"] == NEGATIVE_PROMPT
    assert not any(word in NEGATIVE_PROMPT for word in ("static", "still", "motionless"))
    assert "prompt" not in get_preset("svd-xt").plan(640, 480, MotionSpec()).kwargs
