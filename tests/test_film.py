"""Album films: the compositor on clips made by the project's encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.film import album, run_compose, sources
from tests.film_clips import clip_frame, make_entry
from tests.test_worker_e2e import psnr
from worker.film import FilmError, compose_film, film_size
from worker.film_plan import FilmEntry, FilmTiming
from worker.video import probe, read_frames

RED, GREEN, BLUE = (200, 40, 40), (40, 190, 60), (40, 60, 200)
TIMING = FilmTiming()
FADE, HOLD, STILL = TIMING.fade_frames, TIMING.hold_frames, TIMING.still_frames


def test_a_film_plays_each_clip_holds_its_end_and_fades_into_the_next(tmp_path: Path) -> None:
    entries = [
        make_entry(tmp_path, "a", size=(160, 90), colour=RED, frames=24),
        make_entry(tmp_path, "b", size=(160, 90), colour=GREEN, frames=30),
        make_entry(tmp_path, "c", size=(160, 90), colour=BLUE, with_clip=False),
    ]
    seen: list[float] = []
    film = tmp_path / "out" / "film.mp4"
    result = compose_film(entries, film, long_side=160, progress=seen.append)

    expected = (24 + HOLD) + (30 + HOLD) + STILL - 2 * FADE
    info = probe(film)
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 160, 90)
    assert info.frames == result.frames == expected
    assert result.duration_s == pytest.approx(expected / TIMING.fps)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 3
    assert not list(film.parent.glob("*.tmp")) and not list(film.parent.glob(".*"))

    frames = read_frames(film)
    first, second = read_frames(entries[0].clip), read_frames(entries[1].clip)  # type: ignore[arg-type]
    # Begins on the first clip's first frame, plays it frame by frame, then holds its last frame. (Encoded
    # twice, a sharp bar keeps about 31 dB; the neighbouring frame, 3 px away, would score under 20.)
    assert psnr(frames[0], first[0]) > 30
    assert all(psnr(frames[i], first[i]) > 30 for i in range(24))
    assert all(psnr(frames[i], first[-1]) > 30 for i in range(24, 24 + HOLD - FADE))
    # The fade: both pictures mixed, the old one fading out and the new one in.
    start = 24 + HOLD - FADE
    middle = frames[start + FADE // 2][45, 100].astype(int)  # a pixel the bars never cross
    assert abs(middle[0] - (RED[0] + GREEN[0]) / 2) < 25 and abs(middle[1] - (RED[1] + GREEN[1]) / 2) < 25
    reds = [int(frames[start + k][45, 100, 0]) for k in range(FADE)]
    assert reds == sorted(reds, reverse=True) and reds[0] > 150 and reds[-1] < 90
    # After the fade, the second clip goes on where the fade left it.
    assert psnr(frames[start + FADE], second[FADE]) > 30
    # The photo without a clip ends the film, still.
    assert psnr(frames[-1], clip_frame(160, 90, BLUE, 0)) > 30
    assert np.abs(frames[-1].astype(int) - frames[-STILL + FADE].astype(int)).max() <= 3


def test_pictures_of_another_shape_are_letterboxed_never_stretched(tmp_path: Path) -> None:
    portrait = make_entry(tmp_path, "p", size=(90, 160), colour=GREEN)
    landscape = [make_entry(tmp_path, f"l{i}", size=(160, 90), colour=RED) for i in range(2)]
    film = tmp_path / "film.mp4"
    assert compose_film([portrait, *landscape], film, long_side=160).width == 160
    first = read_frames(film)[0]
    lit = np.flatnonzero(first.max(axis=(0, 2)) > 40)
    # 90x160 fitted into 90 rows is about 51 columns wide, centred, with black bars either side.
    assert abs(len(lit) - 51) <= 2 and abs(lit[0] - (160 - 51) / 2) <= 2
    assert first[:, : lit[0] - 1].max() < 20 and first[:, lit[-1] + 2 :].max() < 20
    assert np.all(first[:, lit[0] + 2 : lit[-1] - 1].max(axis=2) > 40)


def test_the_film_takes_the_orientation_of_most_photos(tmp_path: Path) -> None:
    tall = [make_entry(tmp_path, f"t{i}", size=(90, 160), colour=BLUE, with_clip=False) for i in range(2)]
    wide = [make_entry(tmp_path, f"w{i}", size=(160, 90), colour=RED, with_clip=False) for i in range(2)]
    assert film_size(tall + wide[:1], 1280) == (720, 1280)
    assert film_size(tall + wide, 1280) == (1280, 720)  # a tie: landscape
    assert film_size(wide, 1280) == (1280, 720)


def test_a_clip_at_another_frame_rate_keeps_its_length(tmp_path: Path) -> None:
    slow = make_entry(tmp_path, "slow", size=(160, 90), colour=RED, frames=12, fps=12)
    result = compose_film([slow], tmp_path / "film.mp4", long_side=160)
    assert result.frames == 24 + HOLD  # one second of clip at 24 fps, then the hold


def test_films_that_cannot_be_made_say_why(tmp_path: Path) -> None:
    with pytest.raises(FilmError, match="no photos"):
        compose_film([], tmp_path / "film.mp4")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    good = make_entry(tmp_path, "g", size=(160, 90), colour=RED)
    with pytest.raises(FilmError, match="clip of photo 2 cannot be read"):
        compose_film([good, FilmEntry(good.still, broken)], tmp_path / "film.mp4", long_side=160)
    assert not (tmp_path / "film.mp4").exists() and not list(tmp_path.glob(".*tmp"))


@pytest.mark.slow
def test_a_long_film_is_made_in_bounded_memory(tmp_path: Path) -> None:
    """30 items at 640x360: the film's frames decoded would be over 300 MiB; composing adds a few frames."""
    figures = run_compose(album(sources(tmp_path, 640, 1.0), 30), tmp_path, 640)
    assert figures["frames"] == 30 * 60 - 29 * FADE + 10 * (STILL - 60)
    assert figures["decoded_mib"] > 300
    assert figures["peak_mib"] - figures["peak_before_mib"] < 60, figures


# --- the task and the routes, in-process on SQLite and PostgreSQL -----------------------------------------
