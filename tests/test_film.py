"""Album films: the compositor on clips made by the project's encoder, and the film task and its routes
on a real database, in-process (the end-to-end run with a real worker is in tests/test_worker_e2e.py)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.config import Settings
from app.db import Database
from app.dispatch import Dispatcher
from app.films import film_entries
from app.main import create_app
from app.models import Film, utcnow
from app.storage import MediaStore
from bench.film import album, run_compose, sources
from tests.conftest import set_up_admin, upload
from tests.film_clips import clip_frame, make_entry
from tests.fixture_paths import FIXTURES
from tests.test_worker_e2e import psnr
from worker.celery_app import create_celery
from worker.film import FilmError, compose_film, film_size
from worker.film_plan import FilmEntry, FilmTiming
from worker.tasks import ClipRun, FilmRun
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


def uploaded_with_clip(client: TestClient, csrf: str, settings: Settings, name: str, *, render: bool) -> str:
    """One photo uploaded on its own (so that its date taken, its upload time, comes after the last);
    its clip rendered here by the worker's own code when `render`."""
    photo = upload(client, csrf, FIXTURES / "photos" / name).json()[0]
    if render:
        database = Database(settings.sqlalchemy_url)
        try:
            run = ClipRun(database, settings, photo["clip_id"])
            assert run.run(MediaStore(settings.media_dir)) == "ready"
        finally:
            database.dispose()
    return str(photo["id"])


def run_film(settings: Settings, film_id: str) -> str:
    """Run the film's task here, as a worker would."""
    database = Database(settings.sqlalchemy_url)
    try:
        return FilmRun(database, settings, film_id).run(MediaStore(settings.media_dir))
    finally:
        database.dispose()


def new_album(client: TestClient, csrf: str, title: str, photo_ids: list[str]) -> str:
    headers = {"X-CSRF-Token": csrf}
    album = client.post("/api/albums", json={"title": title}, headers=headers).json()
    if photo_ids:
        added = client.post(
            f"/api/albums/{album['id']}/photos", json={"photo_ids": photo_ids}, headers=headers
        )
        assert added.status_code == 200, added.text
    return str(album["id"])


def ask_film(client: TestClient, csrf: str, album_id: str) -> str:
    asked = client.post(f"/api/albums/{album_id}/film", headers={"X-CSRF-Token": csrf})
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "queued"
    return str(asked.json()["id"])


def test_an_albums_film_is_made_served_and_downloaded(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"default_seconds": 1.0, "clip_long_side": 128})
    with TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        first = uploaded_with_clip(client, csrf, settings, "einstein.jpg", render=True)
        # A photo whose clip is not ready (never rendered here) is shown still.
        still = uploaded_with_clip(client, csrf, settings, "hopper.jpg", render=False)
        last = uploaded_with_clip(client, csrf, settings, "dog.png", render=True)
        album_id = new_album(client, csrf, "Grandpa's 80th: the party", [last, first, still])

        film_id = ask_film(client, csrf, album_id)
        store = MediaStore(settings.media_dir)
        database = Database(settings.sqlalchemy_url)
        with database.session() as session:
            film = session.get(Film, film_id)
            assert film is not None
            entries = film_entries(session, film, store)
        database.dispose()
        # The album's order, by date taken, whatever order the photos were added in.
        assert [entry.still for entry in entries] == [store.display(p) for p in (first, still, last)]
        assert [entry.clip is None for entry in entries] == [False, True, False]

        assert run_film(settings, film_id) == "ready"
        made = client.get(f"/api/films/{film_id}").json()
        assert made["status"] == "ready" and made["progress"] == 1.0 and made["error"] is None
        assert made["album_id"] == album_id
        expected = 2 * (24 + HOLD) + STILL - 2 * FADE
        assert made["duration_s"] == pytest.approx(expected / TIMING.fps)

        video = client.get(made["video_url"])
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        served = tmp_path / "served.mp4"
        served.write_bytes(video.content)
        info = probe(served)
        assert (info.codec, info.pix_fmt, info.frames) == ("h264", "yuv420p", expected)
        assert max(info.width, info.height) == 128
        part = client.get(made["video_url"], headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == video.content[100:200]
        download = client.get(made["download_url"])
        assert download.content == video.content
        disposition = download.headers["content-disposition"]
        assert disposition.startswith("attachment")
        assert (
            "Grandpa%27s%2080th%20the%20party.mp4" in disposition or "Grandpa's 80th the party" in disposition
        )

        # A film is made once: sent again, it is not made again.
        assert run_film(settings, film_id) == "skipped"

        # Deleting the album deletes its films, files included.
        assert client.delete(f"/api/albums/{album_id}", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert client.get(f"/api/films/{film_id}").status_code == 404
        assert not store.film(film_id).exists()


def test_an_empty_albums_film_fails_with_a_reason(settings: Settings) -> None:
    with TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        film_id = ask_film(client, csrf, new_album(client, csrf, "Nothing yet", []))
        assert run_film(settings, film_id) == "failed"
        empty = client.get(f"/api/films/{film_id}").json()
        assert empty["status"] == "failed" and "add some to the album" in empty["error"]
        assert empty["video_url"] is None and empty["download_url"] is None
        assert client.get(f"/media/films/{film_id}.mp4").status_code == 404
        assert client.get(f"/api/films/{'c' * 32}").status_code == 404
        assert client.post(f"/api/albums/{'c' * 32}/film", headers={"X-CSRF-Token": csrf}).status_code == 404


def test_a_film_whose_album_is_deleted_while_it_is_made_leaves_no_file(settings: Settings) -> None:
    settings = settings.model_copy(update={"default_seconds": 1.0, "clip_long_side": 128})
    with TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        photo = uploaded_with_clip(client, csrf, settings, "einstein.jpg", render=True)
        album_id = new_album(client, csrf, "Short-lived", [photo])
        film_id = ask_film(client, csrf, album_id)
        database = Database(settings.sqlalchemy_url)
        run = FilmRun(database, settings, film_id)
        deleted = False

        def progress(fraction: float) -> None:
            nonlocal deleted
            if not deleted:  # the album goes while the film is being written
                deleted = True
                assert (
                    client.delete(f"/api/albums/{album_id}", headers={"X-CSRF-Token": csrf}).status_code
                    == 204
                )
            FilmRun.progress(run, fraction)

        run.progress = progress  # type: ignore[method-assign]
        try:
            assert run.run(MediaStore(settings.media_dir)) == "gone"
        finally:
            database.dispose()
        film_dir = MediaStore(settings.media_dir).film(film_id).parent
        assert deleted and not (film_dir.exists() and list(film_dir.iterdir()))


def test_the_film_shows_the_clip_the_family_chose(settings: Settings) -> None:
    settings = settings.model_copy(update={"default_seconds": 1.0, "clip_long_side": 128})
    with TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        headers = {"X-CSRF-Token": csrf}
        photo_id = uploaded_with_clip(client, csrf, settings, "einstein.jpg", render=True)
        again = client.post(f"/api/photos/{photo_id}/clips", json={"seed": 3}, headers=headers)
        assert again.status_code == 202, again.text
        database = Database(settings.sqlalchemy_url)
        try:
            run = ClipRun(database, settings, again.json()["id"])
            assert run.run(MediaStore(settings.media_dir)) == "ready"
        finally:
            database.dispose()
        first, newest = (clip["id"] for clip in client.get(f"/api/photos/{photo_id}").json()["clips"])
        album_id = new_album(client, csrf, "Chosen", [photo_id])
        store = MediaStore(settings.media_dir)

        def film_clip() -> Path | None:
            database = Database(settings.sqlalchemy_url)
            try:
                with database.session() as session:
                    film = session.get(Film, ask_film(client, csrf, album_id))
                    assert film is not None
                    return film_entries(session, film, store)[0].clip
            finally:
                database.dispose()

        assert film_clip() == store.video(newest)
        chose = client.put(f"/api/photos/{photo_id}/chosen-clip", json={"clip_id": first}, headers=headers)
        assert chose.status_code == 200, chose.text
        assert film_clip() == store.video(first)


def _queued_film_messages(settings: Settings, film_id: str) -> int:
    """How many messages for this film the embedded broker holds (kombu's SQLAlchemy transport table)."""
    broker = sqlite3.connect(settings.data_dir / "broker.sqlite")
    try:
        rows = broker.execute("SELECT payload FROM kombu_message WHERE visible = 1").fetchall()
    finally:
        broker.close()
    return sum(film_id in str(payload) for (payload,) in rows)


def test_the_reconciler_sends_lost_films_and_takes_back_stalled_ones(settings: Settings) -> None:
    with TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        photo = uploaded_with_clip(client, csrf, settings, "einstein.jpg", render=False)
        album_id = new_album(client, csrf, "Lost and found", [photo])
        film_id = ask_film(client, csrf, album_id)
    database = Database(settings.sqlalchemy_url)
    dispatcher = Dispatcher(create_celery(settings), database, settings)
    try:

        def film() -> Film:
            with database.session() as session:
                row = session.get(Film, film_id)
                assert row is not None
                return row

        assert film().sent_at is not None and _queued_film_messages(settings, film_id) == 1
        dispatcher.reconcile()  # the first pass meets the broker: every queued item is sent again
        assert _queued_film_messages(settings, film_id) == 2
        dispatcher.reconcile()  # sent moments ago: left alone
        assert _queued_film_messages(settings, film_id) == 2

        # A film whose worker stopped beating goes back to the queue and is sent again...
        long_ago = utcnow() - timedelta(seconds=settings.stale_after_s + 60)
        with database.session() as session:
            session.execute(
                update(Film)
                .where(Film.id == film_id)
                .values(status="running", attempts=1, heartbeat_at=long_ago)
            )
        dispatcher.reconcile()
        assert (film().status, film().attempts) == ("queued", 1)
        assert _queued_film_messages(settings, film_id) == 3
        # ...until it has had every try, when it fails with the reason.
        with database.session() as session:
            session.execute(
                update(Film)
                .where(Film.id == film_id)
                .values(status="running", attempts=settings.max_attempts, heartbeat_at=long_ago)
            )
        dispatcher.reconcile()
        failed = film()
        assert (
            failed.status == "failed" and "stopped" in (failed.error or "") and "film" in (failed.error or "")
        )
    finally:
        database.dispose()
