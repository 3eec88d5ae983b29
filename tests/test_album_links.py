"""Album links through the API and their public page, on SQLite and PostgreSQL: made, listed and revoked
like clip links; a page of the album's photos; files reached only through the token, only for the album's
photos, never with GPS; passwords, expiry, downloads and the album's deletion all close what they should.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select, update

from app.auth import hash_token
from app.config import Settings
from app.db import Database
from app.images import load_plugin
from app.main import create_app
from app.models import Share, utcnow
from app.storage import MediaStore
from tests.conftest import set_up_admin, upload
from tests.fixture_paths import FIXTURES
from tests.library import small_settings
from tests.test_film import ask_film, new_album, run_film
from worker.tasks import ClipRun

GPS_IFD = 0x8825
PASSWORD = "for the cousins"


@dataclass
class SharedAlbum:
    settings: Settings
    client: TestClient  # the admin
    csrf: str
    album_id: str
    photos: dict[str, str]  # file name -> photo id
    outsider_id: str  # a photo of the library that is not in the album, with a ready clip
    clip_id: str  # the clip of the outsider

    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}

    def share(self, album_id: str | None = None, **body: object) -> dict:  # type: ignore[type-arg]
        made = self.client.post(
            f"/api/albums/{album_id or self.album_id}/shares", json=body, headers=self.headers()
        )
        assert made.status_code == 201, made.text
        return made.json()  # type: ignore[no-any-return]

    def set_share(self, share_id: str, **values: object) -> None:
        database = Database(self.settings.sqlalchemy_url)
        with database.session() as session:
            session.execute(update(Share).where(Share.id == share_id).values(**values))
        database.dispose()


def token_of(share: dict) -> str:  # type: ignore[type-arg]
    return str(share["url"].rsplit("/", 1)[1])


def _upload_with_clip(client: TestClient, csrf: str, settings: Settings, name: str, *, clip: bool) -> str:
    photo_id = str(upload(client, csrf, FIXTURES / "photos" / name).json()[0]["id"])
    if clip:
        asked = client.post(f"/api/photos/{photo_id}/clips", json={}, headers={"X-CSRF-Token": csrf})
        assert asked.status_code == 202, asked.text
        database = Database(settings.sqlalchemy_url)
        try:
            run = ClipRun(database, settings, asked.json()["id"])
            assert run.run(MediaStore(settings.media_dir)) == "ready"
        finally:
            database.dispose()
    return photo_id


@pytest.fixture
def shared(settings: Settings) -> Iterator[SharedAlbum]:
    """An album of three photos: pug.heic (a phone photo with GPS, taken long ago) and hopper.jpg with
    clips, dog.png still; and outside it, einstein.jpg with a clip."""
    settings = small_settings(settings)
    with TestClient(create_app(settings, reconcile=False)) as client:
        csrf = set_up_admin(client)
        photos = {
            name: _upload_with_clip(client, csrf, settings, name, clip=name != "dog.png")
            for name in ("hopper.jpg", "pug.heic", "dog.png")
        }
        outsider = _upload_with_clip(client, csrf, settings, "einstein.jpg", clip=True)
        clip_id = client.get(f"/api/photos/{outsider}").json()["clips"][0]["id"]
        album_id = new_album(client, csrf, "Summer at Nana's", list(photos.values()))
        yield SharedAlbum(settings, client, csrf, album_id, photos, outsider, clip_id)


def media_paths(shared: SharedAlbum, photo_id: str) -> list[str]:
    return [f"/photos/{photo_id}/{kind}" for kind in ("video", "poster", "photo", "thumb")]


# --- made, listed, revoked ------------------------------------------------------------------------------


def test_an_album_link_is_made_listed_and_revoked_and_only_its_hash_is_kept(shared: SharedAlbum) -> None:
    made = shared.share(allow_download=True, expires_in_days=7)
    assert made["kind"] == "album" and made["album_id"] == shared.album_id
    assert made["clip_id"] is None and made["photo_id"] is None
    assert made["status"] == "live" and made["allow_download"] is True and made["expires_at"]
    assert made["url"].startswith("http://testserver/s/")
    token = token_of(made)
    assert len(token) >= 22  # at least 128 bits

    database = Database(shared.settings.sqlalchemy_url)
    with database.session() as session:
        row = session.scalars(select(Share).where(Share.id == made["id"])).one()
        assert row.token_hash == hash_token(token, shared.settings.session_secret)
        assert token not in {row.token_hash, row.id, row.password_hash}
    database.dispose()

    clip_link = shared.client.post(f"/api/clips/{shared.clip_id}/shares", json={}, headers=shared.headers())
    assert clip_link.status_code == 201 and clip_link.json()["kind"] == "clip"
    listed = shared.client.get(f"/api/albums/{shared.album_id}/shares").json()
    assert [s["id"] for s in listed] == [made["id"]] and listed[0]["url"] == ""  # the URL is shown once
    everything = {s["id"]: s["kind"] for s in shared.client.get("/api/shares").json()}
    assert everything == {made["id"]: "album", clip_link.json()["id"]: "clip"}

    visitor = TestClient(shared.client.app)
    hopper = shared.photos["hopper.jpg"]
    urls = ["", "/film", *media_paths(shared, hopper), f"/photos/{hopper}/download/photo"]
    assert visitor.get(f"/s/{token}").status_code == 200
    assert visitor.get(f"/s/{token}/photos/{hopper}/video").status_code == 200
    gone = shared.client.delete(f"/api/shares/{made['id']}", headers=shared.headers())
    assert gone.status_code == 204
    for url in urls:
        assert visitor.get(f"/s/{token}{url}").status_code == 404, url
    assert shared.client.get(f"/api/albums/{shared.album_id}/shares").json() == []


def test_an_empty_or_unknown_album_cannot_be_shared(shared: SharedAlbum) -> None:
    empty = new_album(shared.client, shared.csrf, "Nothing yet", [])
    refused = shared.client.post(f"/api/albums/{empty}/shares", json={}, headers=shared.headers())
    assert refused.status_code == 409 and "no photos" in refused.json()["detail"]
    unknown = shared.client.post("/api/albums/" + "0" * 32 + "/shares", json={}, headers=shared.headers())
    assert unknown.status_code == 404
    short = shared.client.post(
        f"/api/albums/{shared.album_id}/shares", json={"password": "abc"}, headers=shared.headers()
    )
    assert short.status_code == 422  # the same options, checked the same way, as a clip link's


# --- the public page ------------------------------------------------------------------------------------


def test_the_page_shows_the_albums_photos_by_date_with_a_preview(shared: SharedAlbum) -> None:
    token = token_of(shared.share())
    visitor = TestClient(shared.client.app)
    page = visitor.get(f"/s/{token}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert "<h1>Summer at Nana&#39;s</h1>" in html
    # Oldest first, as the album page: pug.heic's camera date comes before the other two's upload times.
    order = re.findall(r'<li class="tile-item shared-tile" data-photo-id="(\w+)"', html)
    album = shared.client.get(f"/api/albums/{shared.album_id}").json()
    assert order == [p["id"] for p in album["photos"]] and order[0] == shared.photos["pug.heic"]
    assert set(order) == set(shared.photos.values())
    # Each photo's shown clip, and the still alone for the photo that has none.
    for name, photo_id in shared.photos.items():
        tile = html.split(f'data-photo-id="{photo_id}"', 1)[1].split("</li>", 1)[0]
        assert f'src="/s/{token}/photos/{photo_id}/thumb"' in tile
        assert (f'src="/s/{token}/photos/{photo_id}/video"' in tile) is (name != "dog.png"), name
    # The preview a chat app shows: the album's title, its cover's display copy, how many photos.
    cover = album["cover_photo_id"]
    assert 'og:title" content="Summer at Nana&#39;s"' in html
    assert f'property="og:image" content="http://testserver/s/{token}/photos/{cover}/photo"' in html
    assert 'property="og:description" content="3 photos' in html
    # The player's script, and its items built from the link's own URLs (never the members' /media/).
    assert '<script src="/static/player.js" defer></script>' in html
    items = re.search(r'<script type="application/json" id="player-items">(.*?)</script>', html, re.S)
    assert items is not None and "/media/" not in items.group(1)
    assert f"/s/{token}/photos/{shared.photos['dog.png']}/photo" in items.group(1)
    assert "Watch the film" not in html and visitor.get(f"/s/{token}/film").status_code == 404
    assert shared.outsider_id not in html


def test_the_albums_film_is_watched_and_downloaded_only_when_allowed(shared: SharedAlbum) -> None:
    film_id = ask_film(shared.client, shared.csrf, shared.album_id)
    assert run_film(shared.settings, film_id) == "ready"
    store = MediaStore(shared.settings.media_dir)
    visitor = TestClient(shared.client.app)
    for allowed in (False, True):
        token = token_of(shared.share(allow_download=allowed))
        page = visitor.get(f"/s/{token}").text
        assert "Watch the film" in page and f'src="/s/{token}/film"' in page
        film = visitor.get(f"/s/{token}/film", headers={"Range": "bytes=0-99"})
        assert film.status_code == 206 and film.content == store.film(film_id).read_bytes()[:100]
        download = visitor.get(f"/s/{token}/film/download")
        photo = visitor.get(f"/s/{token}/photos/{shared.photos['hopper.jpg']}/download/video")
        assert ("Download film" in page) is allowed
        if allowed:
            assert download.status_code == 200 and download.headers["content-disposition"].startswith(
                "attachment"
            )
            assert "Summer%20at%20Nana" in download.headers["content-disposition"]
            assert photo.status_code == 200 and photo.headers["content-disposition"].startswith("attachment")
        else:
            assert download.status_code == 404 and photo.status_code == 404


# --- what closes a link ---------------------------------------------------------------------------------


def test_expired_links_and_deleted_albums_close_every_route(shared: SharedAlbum) -> None:
    visitor = TestClient(shared.client.app)
    hopper = shared.photos["hopper.jpg"]
    urls = ["", *media_paths(shared, hopper)]
    expired = shared.share(expires_in_days=1)
    shared.set_share(expired["id"], expires_at=utcnow() - timedelta(minutes=1))
    for url in urls:
        assert visitor.get(f"/s/{token_of(expired)}{url}").status_code == 404, url
    listed = shared.client.get(f"/api/albums/{shared.album_id}/shares").json()
    assert [s["status"] for s in listed] == ["expired"]

    token = token_of(shared.share())
    assert visitor.get(f"/s/{token}").status_code == 200
    assert shared.client.delete(f"/api/albums/{shared.album_id}", headers=shared.headers()).status_code == 204
    for url in urls:
        assert visitor.get(f"/s/{token}{url}").status_code == 404, url
    assert [s for s in shared.client.get("/api/shares").json() if s["kind"] == "album"] == []


def test_a_password_comes_before_any_photo_and_unlocks_the_album(shared: SharedAlbum) -> None:
    token = token_of(shared.share(password=PASSWORD))
    hopper = shared.photos["hopper.jpg"]
    visitor = TestClient(shared.client.app)
    locked = visitor.get(f"/s/{token}")
    assert locked.status_code == 401 and "This album is protected" in locked.text
    assert "Summer at Nana" not in locked.text and hopper not in locked.text  # nothing of it shows
    for url in media_paths(shared, hopper):
        assert visitor.get(f"/s/{token}{url}").status_code == 401, url
    wrong = visitor.post(f"/s/{token}/unlock", data={"password": "a guess"}, follow_redirects=False)
    assert wrong.status_code == 303 and wrong.headers["location"].endswith("?error=wrong-password")
    assert visitor.get(f"/s/{token}/photos/{hopper}/photo").status_code == 401

    right = visitor.post(f"/s/{token}/unlock", data={"password": PASSWORD}, follow_redirects=False)
    assert right.status_code == 303 and f"Path=/s/{token}" in right.headers["set-cookie"]
    assert visitor.get(f"/s/{token}").status_code == 200
    for url in media_paths(shared, hopper):
        assert visitor.get(f"/s/{token}{url}").status_code == 200, url
    assert [s["opens"] for s in shared.client.get(f"/api/albums/{shared.album_id}/shares").json()] == [1]


# --- a link reaches its album and nothing else ----------------------------------------------------------


def test_a_photo_outside_the_album_is_not_reached_through_its_link(shared: SharedAlbum) -> None:
    token = token_of(shared.share(allow_download=True))
    visitor = TestClient(shared.client.app)
    hopper = shared.photos["hopper.jpg"]
    outside = [*media_paths(shared, shared.outsider_id), f"/photos/{shared.outsider_id}/download/photo"]
    for url in [*outside, "/photos/" + "0" * 32 + "/photo", f"/photos/{shared.clip_id}/video"]:
        assert visitor.get(f"/s/{token}{url}").status_code == 404, url
    # Taken out of the album, a photo is out of the link's reach at once.
    assert visitor.get(f"/s/{token}/photos/{hopper}/photo").status_code == 200
    removed = shared.client.delete(f"/api/albums/{shared.album_id}/photos/{hopper}", headers=shared.headers())
    assert removed.status_code == 204
    for url in media_paths(shared, hopper):
        assert visitor.get(f"/s/{token}{url}").status_code == 404, url
    assert hopper not in visitor.get(f"/s/{token}").text
    # A photo with no clip has a still but no video.
    dog = shared.photos["dog.png"]
    assert visitor.get(f"/s/{token}/photos/{dog}/photo").status_code == 200
    assert visitor.get(f"/s/{token}/photos/{dog}/video").status_code == 404


def test_clip_and_album_links_each_open_only_their_own_routes(shared: SharedAlbum) -> None:
    album_token = token_of(shared.share(allow_download=True))
    made = shared.client.post(
        f"/api/clips/{shared.clip_id}/shares", json={"allow_download": True}, headers=shared.headers()
    )
    clip_token = token_of(made.json())
    visitor = TestClient(shared.client.app)
    hopper = shared.photos["hopper.jpg"]
    for url in ["/video", "/poster", "/photo", "/download/video", "/download/photo"]:
        assert visitor.get(f"/s/{clip_token}{url}").status_code == 200, url
        assert visitor.get(f"/s/{album_token}{url}").status_code == 404, url
    album_urls = [*media_paths(shared, hopper), f"/photos/{hopper}/download/photo", "/film"]
    for url in album_urls:
        assert visitor.get(f"/s/{clip_token}{url}").status_code == 404, url
    # A clip link's page stays the clip's page.
    assert 'property="og:video"' in visitor.get(f"/s/{clip_token}").text


# --- no location in anything served ---------------------------------------------------------------------


def test_served_files_carry_no_gps(shared: SharedAlbum) -> None:
    pug = shared.photos["pug.heic"]
    original = shared.client.get(f"/media/photos/{pug}/original").content
    load_plugin("heic")
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get_ifd(GPS_IFD), "the fixture should carry GPS (tests/fixtures/README.md)"

    token = token_of(shared.share(allow_download=True))
    visitor = TestClient(shared.client.app)
    base = f"/s/{token}/photos/{pug}"
    for kind in ("photo", "thumb", "poster", "download/photo"):
        served = visitor.get(f"{base}/{kind}")
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg", kind
        assert served.content != original and b"Exif" not in served.content, kind
        with Image.open(io.BytesIO(served.content)) as image:
            assert not image.getexif().get_ifd(GPS_IFD), kind
    for kind in ("video", "download/video"):
        video = visitor.get(f"{base}/{kind}").content
        # QuickTime's location atom, or any GPS tag, would say where the photo was taken.
        assert video[4:8] == b"ftyp" and b"\xa9xyz" not in video and b"GPS" not in video, kind
    # Nothing routes to an original, by any name.
    for kind in ("original", "download/original", "download/thumb"):
        assert visitor.get(f"{base}/{kind}").status_code == 404, kind
