"""Albums and favourites through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import set_up_admin
from tests.test_dates import photo_bytes, send


def _post(client: TestClient, csrf: str, url: str, json: object) -> dict:  # type: ignore[type-arg]
    response = client.post(url, json=json, headers={"X-CSRF-Token": csrf})
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def test_an_album_is_made_filled_in_date_order_renamed_and_deleted_without_its_photos(
    client: TestClient, csrf: str
) -> None:
    headers = {"X-CSRF-Token": csrf}
    newest = send(client, csrf, "c.jpg", photo_bytes("JPEG", "2021:06:01 10:00:00", colour=(1, 2, 3)))
    oldest = send(client, csrf, "a.jpg", photo_bytes("JPEG", "1999:12:24 18:00:00", colour=(4, 5, 6)))
    middle = send(client, csrf, "b.jpg", photo_bytes("JPEG", "2010:03:05 09:00:00", colour=(7, 8, 9)))

    album = _post(client, csrf, "/api/albums", {"title": "Christmases", "description": "Every year"})
    assert (album["title"], album["description"], album["photo_count"], album["cover_url"]) == (
        "Christmases", "Every year", 0, None,
    )  # fmt: skip
    assert album["created_by"] == "admin@example.com"
    url = f"/api/albums/{album['id']}"
    ids = [newest["id"], oldest["id"], middle["id"]]
    assert _post(client, csrf, f"{url}/photos", {"photo_ids": ids}) == {"added": 3}
    assert _post(client, csrf, f"{url}/photos", {"photo_ids": ids[:2]}) == {"added": 0}  # idempotent

    shown = client.get(url).json()
    assert [p["id"] for p in shown["photos"]] == [oldest["id"], middle["id"], newest["id"]]
    assert shown["photo_count"] == 3
    assert shown["cover_url"] == oldest["thumbnail_url"]  # the first photo by date taken
    assert {"taken_at", "clips", "favourite"} <= shown["photos"][0].keys()

    blank = client.patch(url, json={"title": "   "}, headers=headers)
    assert blank.status_code == 422 and client.get(url).json()["title"] == "Christmases"
    unknown = client.post(f"{url}/photos", json={"photo_ids": [ids[0], "f" * 32]}, headers=headers)
    assert unknown.status_code == 404 and "f" * 32 in unknown.json()["detail"]

    patched = client.patch(url, json={"title": "Winters", "cover_photo_id": newest["id"]}, headers=headers)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["title"], patched.json()["description"]) == ("Winters", "Every year")
    assert patched.json()["cover_url"] == newest["thumbnail_url"]

    # Deleting the cover photo takes it out of the album, and the cover falls back to the first photo.
    assert client.delete(f"/api/photos/{newest['id']}", headers=headers).status_code == 204
    after = client.get(url).json()
    assert [p["id"] for p in after["photos"]] == [oldest["id"], middle["id"]]
    assert after["cover_url"] == oldest["thumbnail_url"]

    for _ in range(2):  # removing is idempotent too
        assert client.delete(f"{url}/photos/{oldest['id']}", headers=headers).status_code == 204
    assert [p["id"] for p in client.get(url).json()["photos"]] == [middle["id"]]
    assert client.get(f"/api/photos/{oldest['id']}").status_code == 200

    assert [a["title"] for a in client.get(f"/api/photos/{middle['id']}/albums").json()] == ["Winters"]
    assert client.get(f"/api/photos/{oldest['id']}/albums").json() == []
    listed = client.get("/api/albums").json()
    assert [(a["title"], a["photo_count"], a["cover_url"]) for a in listed] == [
        ("Winters", 1, middle["thumbnail_url"])
    ]
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url).status_code == 404
    assert client.get("/api/albums").json() == []
    for photo in (oldest, middle):
        assert client.get(f"/api/photos/{photo['id']}").status_code == 200


def test_animating_an_album_queues_one_clip_per_photo_without_one_and_only_once(settings: Settings) -> None:
    # Uploads here queue no clip of their own, so the album has photos with and without one.
    app = create_app(settings.model_copy(update={"auto_animate": False}), reconcile=False)
    with TestClient(app) as client:
        _animate_album_twice(client, set_up_admin(client))


def _animate_album_twice(client: TestClient, csrf: str) -> None:
    headers = {"X-CSRF-Token": csrf}
    photos = [send(client, csrf, f"{i}.png", photo_bytes("PNG", None, colour=(i, 40, 90))) for i in range(3)]
    asked = client.post(f"/api/photos/{photos[0]['id']}/clips", json={}, headers=headers)
    assert asked.status_code == 202
    album = _post(client, csrf, "/api/albums", {"title": "Summer"})
    _post(client, csrf, f"/api/albums/{album['id']}/photos", {"photo_ids": [p["id"] for p in photos]})

    assert _post(client, csrf, f"/api/albums/{album['id']}/animate", None) == {"queued": 2}
    assert _post(client, csrf, f"/api/albums/{album['id']}/animate", None) == {"queued": 0}
    clips = [len(client.get(f"/api/photos/{p['id']}").json()["clips"]) for p in photos]
    assert clips == [1, 1, 1]

    # The timeline's selection asks the same way.
    other = send(client, csrf, "x.png", photo_bytes("PNG", None, colour=(200, 1, 1)))
    chosen = {"photo_ids": [photos[1]["id"], other["id"]]}
    assert _post(client, csrf, "/api/photos/animate", chosen) == {"queued": 1}
    assert _post(client, csrf, "/api/photos/animate", chosen) == {"queued": 0}
