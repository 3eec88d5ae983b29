"""A photo's clips: all listed, one chosen to show, one deleted (files, links, a running render), the
keep-still mask painted on the photo page (accepted, refused with reasons, honoured by the engine)."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Clip, Share
from app.storage import MediaStore
from tests.conftest import set_up_admin, upload
from tests.fixture_paths import FIXTURES
from tests.workers import wait_for
from worker.tasks import ClipRun
from worker.video import read_frames

EINSTEIN = FIXTURES / "photos" / "einstein.jpg"  # 375 x 500


@pytest.fixture
def small(settings: Settings) -> Settings:
    # Clips small and short: these tests are about which clip, not how it looks.
    return settings.model_copy(update={"clip_long_side": 160, "default_seconds": 1.0, "default_fps": 12})


@pytest.fixture
def family(small: Settings) -> Iterator[tuple[TestClient, str]]:
    with TestClient(create_app(small, reconcile=False), base_url="http://testserver") as client:
        yield client, set_up_admin(client)


def _render(settings: Settings, clip_id: str) -> str:
    database = Database(settings.sqlalchemy_url)
    try:
        return ClipRun(database, settings, clip_id).run(MediaStore(settings.media_dir))
    finally:
        database.dispose()


def _ask(client: TestClient, csrf: str, photo_id: str, **body: object) -> dict:  # type: ignore[type-arg]
    response = client.post(f"/api/photos/{photo_id}/clips", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def mask_png(width: int, height: int, box: tuple[int, int, int, int] | None) -> str:
    """A canvas the way the photo page sends it: transparent, opaque where painted."""
    pixels = np.zeros((height, width, 4), np.uint8)
    if box is not None:
        x0, y0, x1, y1 = box
        pixels[y0:y1, x0:x1] = (255, 80, 80, 255)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _files(settings: Settings, clip_id: str) -> list[Path]:
    return [p for p in settings.media_dir.rglob(f"{clip_id}.*") if p.is_file()]


def test_versions_are_listed_chosen_downloaded_and_deleted(small: Settings, family: tuple) -> None:  # type: ignore[type-arg]
    client, csrf = family
    headers = {"X-CSRF-Token": csrf}
    photo_id, first = (lambda item: (item["id"], item["clip_id"]))(upload(client, csrf, EINSTEIN).json()[0])
    second = _ask(client, csrf, photo_id, strength="whisper", camera="push", loop=True)["id"]
    assert _render(small, first) == "ready" and _render(small, second) == "ready"

    photo = client.get(f"/api/photos/{photo_id}").json()
    assert [c["id"] for c in photo["clips"]] == [first, second]  # every version, oldest first
    assert photo["chosen_clip_id"] is None and photo["shown_clip_id"] == second  # newest ready

    chose = client.put(f"/api/photos/{photo_id}/chosen-clip", json={"clip_id": first}, headers=headers)
    assert chose.status_code == 200 and chose.json()["shown_clip_id"] == first
    listed = client.get("/api/photos").json()["items"][0]
    assert listed["chosen_clip_id"] == first and listed["shown_clip_id"] == first

    # A clip still being made, or another photo's, cannot be chosen: said why.
    queued = _ask(client, csrf, photo_id)["id"]
    refused = client.put(f"/api/photos/{photo_id}/chosen-clip", json={"clip_id": queued}, headers=headers)
    assert refused.status_code == 409 and "not made yet" in refused.json()["detail"]
    stranger = client.put(f"/api/photos/{photo_id}/chosen-clip", json={"clip_id": "f" * 32}, headers=headers)
    assert stranger.status_code == 409 and "not one of this photo's" in stranger.json()["detail"]

    download = client.get(photo["clips"][0]["download_url"])
    assert download.status_code == 200 and download.content[4:8] == b"ftyp"
    assert download.headers["content-disposition"].startswith('attachment; filename="vivant-')

    # Deleting the chosen clip takes its files and links, and the photo falls back to the newest ready.
    share = client.post(f"/api/clips/{first}/shares", json={}, headers=headers).json()
    token = share["url"].rsplit("/", 1)[1]
    assert _files(small, first)
    assert client.delete(f"/api/clips/{first}", headers=headers).status_code == 204
    assert client.get(f"/api/clips/{first}").status_code == 404
    assert _files(small, first) == []
    assert TestClient(client.app).get(f"/s/{token}").status_code == 404
    database = Database(small.sqlalchemy_url)
    with database.session() as session:
        assert session.scalars(select(Share).where(Share.clip_id == first)).all() == []
    database.dispose()
    photo = client.get(f"/api/photos/{photo_id}").json()
    assert [c["id"] for c in photo["clips"]] == [second, queued]
    assert photo["chosen_clip_id"] is None and photo["shown_clip_id"] == second


def test_download_is_named_by_the_day_the_photo_was_taken(small: Settings, family: tuple) -> None:  # type: ignore[type-arg]
    client, csrf = family
    item = upload(client, csrf, FIXTURES / "photos" / "pug.heic").json()[0]
    assert _render(small, item["clip_id"]) == "ready"
    photo = client.get(f"/api/photos/{item['id']}").json()
    day = photo["taken_at"][:10]
    download = client.get(photo["clips"][0]["download_url"])
    assert download.headers["content-disposition"] == f'attachment; filename="vivant-{day}.mp4"'


def test_a_clip_being_made_stops_when_deleted(small: Settings, family: tuple) -> None:  # type: ignore[type-arg]
    client, csrf = family
    photo_id = upload(client, csrf, EINSTEIN).json()[0]["id"]
    # Long enough that the render is still going when the delete comes.
    clip_id = _ask(client, csrf, photo_id, seconds=10, fps=30, keep_still=mask_png(75, 100, (0, 0, 30, 100)))[
        "id"
    ]
    slow = small.model_copy(update={"clip_long_side": 480})
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(_render(slow, clip_id)))
    worker.start()
    database = Database(small.sqlalchemy_url)

    def progressing() -> bool:
        with database.session() as session:
            clip = session.get(Clip, clip_id)
            return clip is not None and clip.status == "running" and clip.progress > 0

    wait_for(progressing, timeout=60, what="the clip to be rendering", every=0.05)
    database.dispose()
    assert client.delete(f"/api/clips/{clip_id}", headers={"X-CSRF-Token": csrf}).status_code == 204
    worker.join(timeout=60)
    assert not worker.is_alive() and outcome == ["gone"]
    assert _files(small, clip_id) == []  # neither the video, the poster nor the mask is left
    assert not [p for p in small.media_dir.rglob(f".{clip_id}*") if p.is_file()]  # nor a half-written file


@pytest.mark.parametrize(
    ("mask", "reason"),
    [
        ("data:image/jpeg;base64,AAAA", "must be a PNG"),
        ("not base64 at all!", "not valid base64"),
        (base64.b64encode(b"GIF89a" + b"\0" * 20).decode(), "not a PNG"),
        (mask_png(100, 100, (0, 0, 50, 50)), "not the shape of the photo"),
        (mask_png(6, 8, (0, 0, 3, 3)), "sides must be"),
        (mask_png(75, 100, None), "empty"),
        (mask_png(75, 100, (0, 0, 75, 100)), "nothing would move"),
        ("data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode(), "damaged"),
    ],
    ids=["jpeg", "base64", "gif", "aspect", "tiny", "empty", "all", "damaged"],
)
def test_a_bad_mask_is_refused_with_the_reason(
    small: Settings,
    family: tuple,
    mask: str,
    reason: str,  # type: ignore[type-arg]
) -> None:
    client, csrf = family
    photo_id = upload(client, csrf, EINSTEIN).json()[0]["id"]
    response = client.post(
        f"/api/photos/{photo_id}/clips", json={"keep_still": mask}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 422 and reason in response.json()["detail"]
    assert len(client.get(f"/api/photos/{photo_id}").json()["clips"]) == 1  # only the upload's own clip
    assert list(small.media_dir.glob("masks/**/*.png")) == []


def test_the_engine_keeps_the_painted_area_still(small: Settings, family: tuple) -> None:  # type: ignore[type-arg]
    client, csrf = family
    photo_id = upload(client, csrf, EINSTEIN).json()[0]["id"]
    # Painted at a quarter of the display size, as a phone would: the left half of the photo.
    clip = _ask(
        client,
        csrf,
        photo_id,
        camera="push",
        strength="lively",
        keep_still=mask_png(94, 125, (0, 0, 47, 125)),
    )
    assert clip["settings"]["keep_still"] is True
    assert MediaStore(small.media_dir).keep_still_mask(clip["id"]).is_file()
    assert _render(small, clip["id"]) == "ready"

    frames = np.stack(read_frames(MediaStore(small.media_dir).video(clip["id"]))).astype(np.float32)
    motion = np.abs(frames - frames[0]).mean(axis=(0, 3))  # per pixel, over the clip
    w = motion.shape[1]
    inside = motion[:, : w // 2 - 8].mean()  # away from the feathered edge of the mask
    outside = motion[:, w // 2 + 8 :].mean()
    assert inside < 1.5, f"the keep-still area moved: {inside:.2f} levels on average"
    assert outside > 4 * inside, f"outside {outside:.2f} vs inside {inside:.2f}"
