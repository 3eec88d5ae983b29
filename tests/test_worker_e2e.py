"""A real Celery worker process, end to end: upload -> queued -> running -> ready, on both brokers; and an
album's film made from the clips it rendered."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient
from PIL import Image, ImageOps

from app.config import Settings
from app.main import create_app
from app.migrate import upgrade
from app.storage import MediaStore
from tests.conftest import REDIS_URL, set_up_admin, upload
from tests.fixture_paths import FIXTURES
from tests.workers import running_worker, wait_for
from worker.film_plan import FilmTiming
from worker.video import probe, read_frames

pytestmark = pytest.mark.slow


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def broker_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    broker_url = ""
    if request.param == "redis":
        # A database of its own, so parallel runs and leftovers cannot meet.
        broker_url = REDIS_URL.rsplit("/", 1)[0] + f"/{secrets.randbelow(14) + 1}"
        redis.Redis.from_url(broker_url).flushdb()
    settings = Settings(
        data_dir=tmp_path / "data", broker_url=broker_url, secret_key="e2e-secret-" + "y" * 20
    )
    settings.ensure_dirs()
    upgrade(settings.sqlalchemy_url)
    yield settings
    if broker_url:
        redis.Redis.from_url(broker_url).flushdb()


def test_uploaded_photo_becomes_a_clip_in_a_real_worker(broker_settings: Settings) -> None:
    photo_path = FIXTURES / "photos" / "einstein.jpg"
    with running_worker(broker_settings), TestClient(create_app(broker_settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        item = upload(client, csrf, photo_path).json()[0]
        clip_id = item["clip_id"]
        seen: set[str] = set()

        def ready() -> dict | None:
            clip = client.get(f"/api/clips/{clip_id}").json()
            seen.add(clip["status"])
            assert clip["status"] != "failed", clip["error"]
            return clip if clip["status"] == "ready" else None

        clip = wait_for(ready, timeout=120, what=f"clip {clip_id} to be ready", every=0.1)
    assert "ready" in seen
    video_path = MediaStore(broker_settings.media_dir).video(clip_id)
    info = probe(video_path)
    assert info.codec == "h264" and info.pix_fmt == "yuv420p"
    assert info.frames >= 48
    photo = ImageOps.exif_transpose(Image.open(photo_path)).convert("RGB")
    assert abs(info.width / info.height - photo.width / photo.height) < 0.01
    assert (clip["width"], clip["height"]) == (info.width, info.height)
    first = read_frames(video_path)[0]
    reference = np.asarray(photo.resize((info.width, info.height), Image.Resampling.LANCZOS))
    assert psnr(first, reference) >= 32
    # Written under a temporary name and renamed: nothing half-written is left behind.
    assert not list(broker_settings.media_dir.rglob("*.tmp"))


def test_a_photo_deleted_while_its_clip_renders_leaves_no_files_and_the_worker_goes_on(
    broker_settings: Settings,
) -> None:
    settings = broker_settings.model_copy(update={"auto_animate": False})
    media = settings.media_dir
    with running_worker(settings), TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        headers = {"X-CSRF-Token": csrf}
        doomed, kept = upload(
            client, csrf, FIXTURES / "photos" / "einstein.jpg", FIXTURES / "photos" / "dog.png"
        ).json()
        # Long enough (300 frames) to be deleted halfway; the next one short.
        long_clip = client.post(
            f"/api/photos/{doomed['id']}/clips", json={"seconds": 10, "fps": 30}, headers=headers
        )
        short_clip = client.post(f"/api/photos/{kept['id']}/clips", json={"seconds": 1}, headers=headers)
        clip_id, next_id = long_clip.json()["id"], short_clip.json()["id"]

        def rendering() -> bool:
            clip = client.get(f"/api/clips/{clip_id}").json()
            assert clip["status"] != "ready", "the render finished before it could be deleted"
            return clip["status"] == "running" and clip["progress"] > 0.05

        wait_for(rendering, timeout=120, what=f"clip {clip_id} to be halfway rendered", every=0.1)
        assert list(media.rglob(f".{clip_id}.*.tmp")), "the render writes under temporary names"
        assert client.delete(f"/api/photos/{doomed['id']}", headers=headers).status_code == 204

        def next_ready() -> bool:
            clip = client.get(f"/api/clips/{next_id}").json()
            assert clip["status"] != "failed", clip["error"]
            return clip["status"] == "ready"

        # One worker process with one slot: the next clip is rendered only after the deleted one stopped.
        wait_for(next_ready, timeout=120, what=f"the next clip {next_id} to be ready", every=0.2)
    assert list(media.rglob(f"*{clip_id}*")) == []
    assert MediaStore(media).video(next_id).is_file()


def test_an_albums_film_is_made_by_a_real_worker(broker_settings: Settings, tmp_path: Path) -> None:
    settings = broker_settings.model_copy(update={"default_seconds": 1.0, "clip_long_side": 160})
    photos = [FIXTURES / "photos" / name for name in ("einstein.jpg", "hopper.jpg", "dog.png")]
    with running_worker(settings), TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        headers = {"X-CSRF-Token": csrf}
        uploaded = upload(client, csrf, *photos).json()

        def clips_ready() -> bool:
            clips = [client.get(f"/api/clips/{item['clip_id']}").json() for item in uploaded]
            assert all(clip["status"] != "failed" for clip in clips), clips
            return all(clip["status"] == "ready" for clip in clips)

        wait_for(clips_ready, timeout=180, what="the clips to be ready", every=0.2)
        album = client.post("/api/albums", json={"title": "Summer"}, headers=headers).json()
        photo_ids = {"photo_ids": [item["id"] for item in uploaded]}
        assert client.post(f"/api/albums/{album['id']}/photos", json=photo_ids, headers=headers).is_success
        asked = client.post(f"/api/albums/{album['id']}/film", headers=headers)
        assert asked.status_code == 202, asked.text
        film_id = asked.json()["id"]
        progress: list[float] = []

        def film_ready() -> dict | None:  # type: ignore[type-arg]
            film = client.get(f"/api/films/{film_id}").json()
            assert film["status"] != "failed", film["error"]
            progress.append(film["progress"])
            return film if film["status"] == "ready" else None

        film = wait_for(film_ready, timeout=120, what=f"film {film_id} to be ready", every=0.1)
        assert progress == sorted(progress) and progress[-1] == 1.0
        video = client.get(film["video_url"])
        download = client.get(film["download_url"])
    assert video.status_code == 200 and download.content == video.content
    assert 'filename="Summer.mp4"' in download.headers["content-disposition"]
    served = tmp_path / "film.mp4"
    served.write_bytes(video.content)
    timing = FilmTiming()
    expected = 3 * (24 + timing.hold_frames) - 2 * timing.fade_frames
    info = probe(served)
    assert (info.codec, info.pix_fmt, info.frames) == ("h264", "yuv420p", expected)
    assert film["duration_s"] == pytest.approx(expected / timing.fps)
    assert max(info.width, info.height) == 160
    assert not list(settings.media_dir.rglob("*.tmp"))
