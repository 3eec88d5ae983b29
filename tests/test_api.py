"""The JSON API against real databases (SQLite and PostgreSQL) and the real embedded broker."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.models import Clip, Photo
from app.storage import MediaStore
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, set_up_admin, upload
from tests.fixture_paths import FIXTURES
from worker.tasks import ClipRun
from worker.video import probe

ACCEPTED = sorted(
    p for folder in ("photos", "orientation", "edge") for p in (FIXTURES / folder).iterdir() if p.is_file()
)
REFUSED = sorted(p for p in (FIXTURES / "bad").iterdir() if p.is_file())


def _count(settings: Settings, model: type) -> int:
    database = Database(settings.sqlalchemy_url)
    with database.session() as session:
        count = session.scalar(select(func.count()).select_from(model)) or 0
    database.dispose()
    return count


def _stored_files(settings: Settings) -> list[Path]:
    return [p for p in settings.media_dir.rglob("*") if p.is_file()]


def _render_queued_clip(settings: Settings, clip_id: str) -> str:
    """Run the worker's own code for one clip, in this process (the subprocess tests run real workers)."""
    database = Database(settings.sqlalchemy_url)
    try:
        return ClipRun(database, settings, clip_id).run(MediaStore(settings.media_dir))
    finally:
        database.dispose()


# --- accounts ---------------------------------------------------------------------------------------


def test_setup_creates_the_first_admin_once(client: TestClient) -> None:
    assert client.get("/setup", follow_redirects=False).status_code == 200
    csrf = set_up_admin(client)
    assert len(csrf) >= 32
    me = client.get("/api/me").json()
    assert me["email"] == ADMIN_EMAIL and me["is_admin"] is True
    again = client.post("/api/setup", json={"email": "other@example.com", "password": "another password"})
    assert again.status_code == 409
    assert client.get("/setup", follow_redirects=False).status_code == 303


def test_setup_refuses_a_short_password(client: TestClient) -> None:
    response = client.post("/api/setup", json={"email": ADMIN_EMAIL, "password": "short"})
    assert response.status_code == 422
    assert "at least 8" in response.json()["detail"]


def test_login_logout_and_wrong_password(client: TestClient, csrf: str) -> None:
    client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert client.get("/api/me").status_code == 401
    wrong = client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": "not the password"})
    assert wrong.status_code == 401
    ok = client.post("/api/auth/login", json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD})
    assert ok.status_code == 200
    cookie = ok.cookies.get("vivant_session")
    assert cookie
    set_cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    assert client.get("/api/me").json()["email"] == ADMIN_EMAIL
    token = ok.json()["csrf_token"]
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": token}).status_code == 204
    # The server forgot the session: the old cookie no longer opens anything.
    client.cookies.set("vivant_session", cookie)
    assert client.get("/api/me").status_code == 401


def test_writes_without_csrf_token_are_refused(client: TestClient, csrf: str) -> None:
    photo = FIXTURES / "photos" / "hopper.jpg"
    files = [("files", ("hopper.jpg", photo.read_bytes(), "image/jpeg"))]
    assert client.post("/api/photos", files=files).status_code == 403
    assert client.post("/api/photos", files=files, headers={"X-CSRF-Token": "forged"}).status_code == 403
    foreign = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    assert client.post("/api/photos", files=files, headers=foreign).status_code == 403
    assert _count(client.app.state.services.settings, Photo) == 0
    assert client.post("/api/photos", files=files, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_admin_adds_a_member(client: TestClient, csrf: str) -> None:
    response = client.post(
        "/api/users",
        json={"email": "cousin@example.com", "password": "a long password"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 201 and response.json()["is_admin"] is False


# --- uploads ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_accepted_fixture_is_stored_upright(client: TestClient, csrf: str, path: Path) -> None:
    response = upload(client, csrf, path)
    assert response.status_code == 201, response.text
    (item,) = response.json()
    assert item["duplicate"] is False and len(item["sha256"]) == 64
    photo = client.get(f"/api/photos/{item['id']}").json()
    assert (photo["width"], photo["height"]) == (item["width"], item["height"])
    thumb = client.get(photo["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    if path.parent.name == "orientation":
        # Every orientation of the same portrait must look like the upright one.
        upright = np.asarray(Image.open(FIXTURES / "photos" / "hopper.jpg").convert("RGB"), dtype=np.float32)
        display = client.get(photo["display_url"])
        shown = np.asarray(Image.open(io.BytesIO(display.content)).convert("RGB"), dtype=np.float32)
        assert shown.shape == upright.shape
        assert np.abs(shown - upright).mean() < 12


@pytest.mark.parametrize("path", REFUSED, ids=lambda p: p.name)
def test_refused_fixture_gets_a_reason_and_nothing_is_stored(
    client: TestClient, csrf: str, path: Path
) -> None:
    settings = client.app.state.services.settings
    before = _stored_files(settings)
    response = upload(client, csrf, path)
    assert 400 <= response.status_code < 500, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and len(detail) > 10
    assert _count(settings, Photo) == 0 and _count(settings, Clip) == 0
    assert _stored_files(settings) == before


def test_mixed_upload_stores_the_good_and_explains_the_bad(client: TestClient, csrf: str) -> None:
    good, bad = FIXTURES / "photos" / "dog.png", FIXTURES / "bad" / "text_named_as.jpg"
    response = upload(client, csrf, good, bad)
    assert response.status_code == 201
    first, second = response.json()
    assert first["duplicate"] is False and "id" in first
    assert second["filename"] == "text_named_as.jpg" and second["error"]
    assert _count(client.app.state.services.settings, Photo) == 1


def test_same_bytes_twice_is_one_photo(client: TestClient, csrf: str) -> None:
    path = FIXTURES / "photos" / "einstein.jpg"
    first = upload(client, csrf, path).json()[0]
    second = upload(client, csrf, path, names=["copy of einstein.jpg"]).json()[0]
    assert second["duplicate"] is True and second["id"] == first["id"]
    settings = client.app.state.services.settings
    assert _count(settings, Photo) == 1
    assert _count(settings, Clip) == 1  # the duplicate does not queue a second clip


def test_list_is_newest_first_and_paginates(client: TestClient, csrf: str) -> None:
    names = ["hopper.jpg", "dog.png", "einstein.jpg"]
    ids = [upload(client, csrf, FIXTURES / "photos" / n).json()[0]["id"] for n in names]
    page = client.get("/api/photos", params={"limit": 2}).json()
    assert [p["id"] for p in page["items"]] == ids[::-1][:2]
    rest = client.get("/api/photos", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [p["id"] for p in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    assert all(p["clips"][0]["status"] == "queued" for p in page["items"])


def test_upload_over_the_size_limit_is_413(settings: Settings, tmp_path: Path) -> None:
    from app.main import create_app

    small = settings.model_copy(update={"max_upload_mb": 1})
    with TestClient(create_app(small, reconcile=False)) as client:
        csrf = set_up_admin(client)
        big = np.random.default_rng(0).integers(0, 255, (2000, 2000, 3), dtype=np.uint8)
        path = tmp_path / "big.png"
        Image.fromarray(big).save(path)
        response = upload(client, csrf, path)
        assert response.status_code == 413
        assert "VIVANT_MAX_UPLOAD_MB" in response.json()["detail"]
        assert _count(small, Photo) == 0


def test_delete_photo_removes_rows_and_files(client: TestClient, csrf: str) -> None:
    item = upload(client, csrf, FIXTURES / "photos" / "hopper.jpg").json()[0]
    settings = client.app.state.services.settings
    assert _stored_files(settings)
    assert client.delete(f"/api/photos/{item['id']}", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get(f"/api/photos/{item['id']}").status_code == 404
    assert _count(settings, Clip) == 0
    assert _stored_files(settings) == []


# --- clips and shares -------------------------------------------------------------------------------


def test_clip_lifecycle_share_and_revoke(client: TestClient, csrf: str) -> None:
    settings = client.app.state.services.settings
    item = upload(client, csrf, FIXTURES / "photos" / "hopper.jpg").json()[0]
    clip_id = item["clip_id"]
    clip = client.get(f"/api/clips/{clip_id}").json()
    assert clip["status"] == "queued" and clip["video_url"] is None
    # Not ready yet: no video, and no share.
    assert client.get(f"/media/clips/{clip_id}.mp4").status_code == 404
    share_early = client.post(f"/api/clips/{clip_id}/shares", json={}, headers={"X-CSRF-Token": csrf})
    assert share_early.status_code == 409

    assert _render_queued_clip(settings, clip_id) == "ready"
    # Running the same task again does nothing more: one clip, one video.
    assert _render_queued_clip(settings, clip_id) == "skipped"
    clip = client.get(f"/api/clips/{clip_id}").json()
    assert clip["status"] == "ready" and clip["progress"] == 1.0
    video = client.get(clip["video_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    ranged = client.get(clip["video_url"], headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100
    assert ranged.headers["content-range"].startswith("bytes 0-99/")
    assert len(list((settings.media_dir / "clips").rglob("*.mp4"))) == 1
    info = probe(MediaStore(settings.media_dir).video(clip_id))
    assert info.codec == "h264" and info.frames >= 48

    more = client.post(
        f"/api/photos/{item['id']}/clips",
        json={"strength": "whisper", "loop": True},
        headers={"X-CSRF-Token": csrf},
    )
    assert more.status_code == 202 and more.json()["status"] == "queued"
    assert more.json()["settings"]["strength"] == "whisper"

    created = client.post(
        f"/api/clips/{clip_id}/shares", json={"allow_download": False}, headers={"X-CSRF-Token": csrf}
    )
    assert created.status_code == 201
    share = created.json()
    token = share["url"].rsplit("/", 1)[1]
    assert len(token) >= 22  # at least 128 bits in URL-safe base64
    public = TestClient(client.app)
    page = public.get(f"/s/{token}")
    assert page.status_code == 200
    assert 'property="og:video"' in page.text and "http://testserver/s/" in page.text
    assert public.get(f"/s/{token}/video", headers={"Range": "bytes=0-9"}).status_code == 206
    assert public.get(f"/s/{token}/poster").status_code == 200
    shared_photo = public.get(f"/s/{token}/photo")
    assert shared_photo.status_code == 200 and b"Exif" not in shared_photo.content
    assert public.get(f"/s/{token}/download/video").status_code == 404  # download not allowed
    # The link opens its clip and nothing else.
    assert public.get(f"/api/clips/{clip_id}").status_code == 401
    assert public.get(clip["video_url"]).status_code == 401

    assert client.delete(f"/api/shares/{share['id']}", headers={"X-CSRF-Token": csrf}).status_code == 204
    for path in ("", "/video", "/poster", "/photo"):
        assert public.get(f"/s/{token}{path}").status_code == 404


def test_public_url_makes_absolute_preview_links(settings: Settings) -> None:
    from app.main import create_app

    configured = settings.model_copy(update={"public_url": "https://photos.example.org"})
    # The public URL is https, so the session cookie is Secure: the client must speak https too.
    with TestClient(create_app(configured, reconcile=False), base_url="https://photos.example.org") as client:
        csrf = set_up_admin(client)
        item = upload(client, csrf, FIXTURES / "photos" / "hopper.jpg").json()[0]
        assert _render_queued_clip(configured, item["clip_id"]) == "ready"
        share = client.post(
            f"/api/clips/{item['clip_id']}/shares", json={}, headers={"X-CSRF-Token": csrf}
        ).json()
        assert share["url"].startswith("https://photos.example.org/s/")
        page = client.get("/s/" + share["url"].rsplit("/", 1)[1]).text
        assert 'content="https://photos.example.org/s/' in page


# --- who may see what -------------------------------------------------------------------------------


def test_anonymous_requests_get_nothing_private(client: TestClient, csrf: str) -> None:
    item = upload(client, csrf, FIXTURES / "photos" / "hopper.jpg").json()[0]
    photo_id, clip_id = item["id"], item["clip_id"]
    anonymous = TestClient(client.app)
    for method, path in [
        ("GET", "/api/photos"),
        ("GET", f"/api/photos/{photo_id}"),
        ("DELETE", f"/api/photos/{photo_id}"),
        ("POST", f"/api/photos/{photo_id}/clips"),
        ("GET", f"/api/clips/{clip_id}"),
        ("POST", f"/api/clips/{clip_id}/shares"),
        ("GET", "/api/me"),
        ("POST", "/api/photos"),
        ("GET", f"/media/photos/{photo_id}/thumb.jpg"),
        ("GET", f"/media/photos/{photo_id}/original"),
        ("GET", f"/media/photos/{photo_id}/display.jpg"),
        ("GET", f"/media/clips/{clip_id}.mp4"),
        ("DELETE", "/api/shares/" + "0" * 32),
        ("POST", "/api/users"),
    ]:
        response = anonymous.request(method, path, json={} if method == "POST" else None)
        assert response.status_code in (401, 404), (method, path, response.status_code)
    for page in ("/", "/upload", f"/photos/{photo_id}"):
        response = anonymous.get(page, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert anonymous.get("/healthz").json()["status"] == "ok"
    assert anonymous.get("/s/" + "A" * 43).status_code == 404
