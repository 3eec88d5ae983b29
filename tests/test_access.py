"""Who may see what: every route against every kind of caller, CSRF, sessions, sign-in and share passwords.

The rule table below must name every route the app has: a new route without a rule fails
`test_every_route_has_a_rule`, so nobody adds a door without saying who may open it.
"""

from __future__ import annotations

import io
import re
import socket
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import ColumnElement, func, select, update

from app.auth import MAX_FAILURES_PER_ADDRESS
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.migrate import upgrade
from app.models import AuthSession, Photo, Share, User, utcnow
from app.routes.share import SHARE_PASSWORD_TRIES, SHARE_PASSWORD_TRIES_PER_ADDRESS
from app.storage import MediaStore
from app.templating import local_path
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, set_up_admin
from tests.processes import running_server
from tests.test_film import ask_film, new_album, run_film
from worker.tasks import ClipRun

MEMBER_EMAIL, MEMBER_PASSWORD = "member@example.com", "member password 1"
# For checks the database cannot change (cookies, timing, redirects): once, on SQLite, to save time.
SQLITE_ONLY = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)

# Who may call a route: anyone; a signed-in member; the member who added the photo (or made the album), or an
# administrator;
# an administrator; whoever holds a live share link.
PUBLIC, MEMBER, OWNER, ADMIN, LINK = "public", "member", "owner", "admin", "link"

RULES: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("POST", "/api/setup"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/logout"): MEMBER,
    ("GET", "/api/me"): MEMBER,
    ("POST", "/api/me/password"): MEMBER,
    ("POST", "/api/users"): ADMIN,
    ("POST", "/api/users/{user_id}/password"): ADMIN,
    ("DELETE", "/api/users/{user_id}"): ADMIN,
    ("POST", "/api/photos"): MEMBER,
    ("GET", "/api/photos"): MEMBER,
    ("GET", "/api/photos/years"): MEMBER,
    ("GET", "/api/photos/{photo_id}"): MEMBER,
    ("DELETE", "/api/photos/{photo_id}"): OWNER,
    ("POST", "/api/photos/{photo_id}/clips"): MEMBER,
    ("GET", "/api/clips/{clip_id}"): MEMBER,
    ("DELETE", "/api/clips/{clip_id}"): OWNER,
    ("PUT", "/api/photos/{photo_id}/chosen-clip"): MEMBER,
    ("POST", "/api/clips/{clip_id}/shares"): MEMBER,
    ("GET", "/api/clips/{clip_id}/shares"): MEMBER,
    ("GET", "/api/photos/{photo_id}/shares"): MEMBER,
    ("POST", "/api/albums/{album_id}/shares"): MEMBER,
    ("GET", "/api/albums/{album_id}/shares"): MEMBER,
    ("POST", "/api/photos/animate"): MEMBER,
    ("PUT", "/api/photos/{photo_id}/favourite"): MEMBER,
    ("DELETE", "/api/photos/{photo_id}/favourite"): MEMBER,
    ("POST", "/api/albums"): MEMBER,
    ("GET", "/api/photos/{photo_id}/albums"): MEMBER,
    ("GET", "/api/albums"): MEMBER,
    ("GET", "/api/albums/{album_id}"): MEMBER,
    ("PATCH", "/api/albums/{album_id}"): OWNER,
    ("DELETE", "/api/albums/{album_id}"): OWNER,
    ("POST", "/api/albums/{album_id}/photos"): MEMBER,
    ("DELETE", "/api/albums/{album_id}/photos/{photo_id}"): MEMBER,
    ("POST", "/api/albums/{album_id}/animate"): MEMBER,
    ("POST", "/api/albums/{album_id}/film"): MEMBER,
    ("GET", "/api/films/{film_id}"): MEMBER,
    ("DELETE", "/api/shares/{share_id}"): MEMBER,
    ("GET", "/api/shares"): MEMBER,
    ("GET", "/media/photos/{photo_id}/thumb.jpg"): MEMBER,
    ("GET", "/media/photos/{photo_id}/display.jpg"): MEMBER,
    ("GET", "/media/photos/{photo_id}/original"): MEMBER,
    ("GET", "/media/clips/{clip_id}.mp4"): MEMBER,
    ("GET", "/media/clips/{clip_id}.jpg"): MEMBER,
    ("GET", "/media/clips/{clip_id}/download"): MEMBER,
    ("GET", "/media/films/{film_id}.mp4"): MEMBER,
    ("GET", "/media/films/{film_id}/download"): MEMBER,
    ("GET", "/s/{token}"): LINK,
    ("POST", "/s/{token}/unlock"): LINK,
    ("GET", "/s/{token}/video"): LINK,
    ("GET", "/s/{token}/poster"): LINK,
    ("GET", "/s/{token}/photo"): LINK,
    ("GET", "/s/{token}/download/{kind}"): LINK,
    ("GET", "/s/{token}/photos/{photo_id}/video"): LINK,
    ("GET", "/s/{token}/photos/{photo_id}/poster"): LINK,
    ("GET", "/s/{token}/photos/{photo_id}/photo"): LINK,
    ("GET", "/s/{token}/photos/{photo_id}/thumb"): LINK,
    ("GET", "/s/{token}/photos/{photo_id}/download/{kind}"): LINK,
    ("GET", "/s/{token}/film"): LINK,
    ("GET", "/s/{token}/film/download"): LINK,
    ("GET", "/"): MEMBER,
    ("GET", "/upload"): MEMBER,
    ("GET", "/family"): MEMBER,
    ("GET", "/links"): MEMBER,
    ("GET", "/photos/{photo_id}"): MEMBER,
    ("GET", "/albums"): MEMBER,
    ("GET", "/albums/{album_id}"): MEMBER,
    ("GET", "/setup"): PUBLIC,
    ("GET", "/login"): PUBLIC,
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app answers, routers included; HEAD rides along with GET."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list, prefix: str) -> None:  # type: ignore[type-arg]
        for route in routes:
            original = getattr(route, "original_router", None)
            if original is not None:
                # A router included into a router: the outer one's prefix is applied when it is included.
                walk(original.routes, prefix + route.include_context.prefix)
                continue
            methods = getattr(route, "methods", None) or {"GET"}  # a Mount serves files: GET
            found.update((method, prefix + route.path) for method in methods if method != "HEAD")

    walk(app.routes, "")
    return found


def test_every_route_has_a_rule(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, secret_key="rules-secret-" + "r" * 20), reconcile=False)
    routes = app_routes(app)
    assert routes - RULES.keys() == set(), "routes without an access rule: add them to RULES"
    assert RULES.keys() - routes == set(), "rules for routes that no longer exist"


# --- a family with photos, a clip and share links -----------------------------------------------------


def small_png(seed: int) -> bytes:
    """A distinct little photo each time (same bytes would be de-duplicated)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Family:
    settings: Settings
    app: FastAPI
    admin: TestClient
    admin_csrf: str
    member: TestClient
    member_csrf: str
    photo_id: str
    clip_id: str
    token: str  # a live link to clip_id, downloads allowed
    share_id: str
    other_clip_id: str  # ready, with a live link of its own that the first link must not reach
    other_token: str
    revoked_token: str
    expired_token: str
    film_id: str = ""  # a ready film of an album holding photo_id
    album_id: str = ""  # that album
    # For the routes of album links: the album link standing in for each clip link a caller holds (live,
    # downloads allowed; revoked; expired), so each caller holds the same kind of album link.
    album_twins: dict[str, str] = field(default_factory=dict)
    seeds: Iterator[int] = field(default_factory=lambda: iter(range(1000, 100000)))

    def anonymous(self) -> TestClient:
        return TestClient(self.app)

    def upload(self, client: TestClient, csrf: str) -> dict:  # type: ignore[type-arg]
        files = [("files", ("family.png", small_png(next(self.seeds)), "image/png"))]
        response = client.post("/api/photos", files=files, headers={"X-CSRF-Token": csrf})
        assert response.status_code == 201, response.text
        return response.json()[0]  # type: ignore[no-any-return]

    def new_account(self) -> str:
        """A member made for a test to act on, so no caller's own account is touched."""
        email = f"extra{next(self.seeds)}@example.com"
        json = {"email": email, "password": "an extra password"}
        response = self.admin.post("/api/users", json=json, headers={"X-CSRF-Token": self.admin_csrf})
        assert response.status_code == 201, response.text
        return response.json()["id"]  # type: ignore[no-any-return]

    def ready_clip(self, photo_id: str | None = None) -> str:
        """A finished clip: of a new photo, or another clip of `photo_id`."""
        if photo_id is None:
            clip_id = self.upload(self.admin, self.admin_csrf)["clip_id"]
        else:
            asked = self.admin.post(
                f"/api/photos/{photo_id}/clips", json={}, headers={"X-CSRF-Token": self.admin_csrf}
            )
            assert asked.status_code == 202, asked.text
            clip_id = asked.json()["id"]
        database = Database(self.settings.sqlalchemy_url)
        try:
            assert (
                ClipRun(database, self.settings, clip_id).run(MediaStore(self.settings.media_dir)) == "ready"
            )
        finally:
            database.dispose()
        return clip_id

    def share(self, clip_id: str, **body: object) -> tuple[str, str]:
        response = self.admin.post(
            f"/api/clips/{clip_id}/shares", json=body, headers={"X-CSRF-Token": self.admin_csrf}
        )
        assert response.status_code == 201, response.text
        return response.json()["id"], response.json()["url"].rsplit("/", 1)[1]

    def share_album(self, album_id: str, **body: object) -> tuple[str, str]:
        response = self.admin.post(
            f"/api/albums/{album_id}/shares", json=body, headers={"X-CSRF-Token": self.admin_csrf}
        )
        assert response.status_code == 201, response.text
        return response.json()["id"], response.json()["url"].rsplit("/", 1)[1]

    def set_share(self, share_id: str, **values: object) -> None:
        database = Database(self.settings.sqlalchemy_url)
        with database.session() as session:
            session.execute(update(Share).where(Share.id == share_id).values(**values))
        database.dispose()


def sign_in(app: FastAPI, email: str, password: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return client, response.json()["csrf_token"]


@pytest.fixture
def family(settings: Settings) -> Iterator[Family]:
    settings = settings.model_copy(update={"default_seconds": 1.0, "clip_long_side": 128})
    app = create_app(settings, reconcile=False)
    with TestClient(app) as admin:
        admin_csrf = set_up_admin(admin)
        added = admin.post(
            "/api/users",
            json={"email": MEMBER_EMAIL, "password": MEMBER_PASSWORD},
            headers={"X-CSRF-Token": admin_csrf},
        )
        assert added.status_code == 201
        member, member_csrf = sign_in(app, MEMBER_EMAIL, MEMBER_PASSWORD)
        family = Family(settings, app, admin, admin_csrf, member, member_csrf, "", "", "", "", "", "", "", "")
        family.clip_id = family.ready_clip()
        family.photo_id = admin.get(f"/api/clips/{family.clip_id}").json()["photo_id"]
        family.share_id, family.token = family.share(family.clip_id, allow_download=True)
        family.other_clip_id = family.ready_clip()
        _, family.other_token = family.share(family.other_clip_id)
        revoked_id, family.revoked_token = family.share(family.clip_id)
        family.set_share(revoked_id, revoked_at=utcnow())
        expired_id, family.expired_token = family.share(family.clip_id, expires_in_days=1)
        family.set_share(expired_id, expires_at=utcnow() - timedelta(minutes=1))
        album_id = new_album(admin, admin_csrf, "Films", [family.photo_id])
        family.album_id = album_id
        family.film_id = ask_film(admin, admin_csrf, album_id)
        assert run_film(settings, family.film_id) == "ready"
        _, album_token = family.share_album(album_id, allow_download=True)
        revoked_album, revoked_album_token = family.share_album(album_id)
        family.set_share(revoked_album, revoked_at=utcnow())
        expired_album, expired_album_token = family.share_album(album_id, expires_in_days=1)
        family.set_share(expired_album, expires_at=utcnow() - timedelta(minutes=1))
        family.album_twins = {
            family.token: album_token,
            family.revoked_token: revoked_album_token,
            family.expired_token: expired_album_token,
        }
        yield family


# --- the matrix ---------------------------------------------------------------------------------------

Call = tuple[str, str, dict]  # type: ignore[type-arg]


def requests_for(family: Family, route: tuple[str, str], csrf: str, token: str) -> Call:
    """A well-formed request for the route, so only the caller decides the answer.

    Writes that destroy something get an object made for them, so each caller finds one; the admin
    adds the photos and makes the albums, so for OWNER routes the member is not the owner."""
    method, path = route
    headers = {"X-CSRF-Token": csrf}
    photo_id, clip_id = family.photo_id, family.clip_id
    body: dict = {}  # type: ignore[type-arg]
    if "{album_id}" in path:
        made = family.admin.post(
            "/api/albums", json={"title": "Matrix"}, headers={"X-CSRF-Token": family.admin_csrf}
        )
        assert made.status_code == 201, made.text
        body["album_id"] = made.json()["id"]
    if route == ("POST", "/api/albums"):
        body["json"] = {"title": "A new album"}
    elif route in (("POST", "/api/albums/{album_id}/photos"), ("POST", "/api/photos/animate")):
        body["json"] = {"photo_ids": [family.photo_id]}
    elif route == ("POST", "/api/albums/{album_id}/shares"):
        # An album needs a photo to be shared: the admin adds one, so only the caller decides.
        added = family.admin.post(
            f"/api/albums/{body['album_id']}/photos",
            json={"photo_ids": [family.photo_id]},
            headers={"X-CSRF-Token": family.admin_csrf},
        )
        assert added.status_code == 200, added.text
        body["json"] = {}
    elif route == ("PATCH", "/api/albums/{album_id}"):
        body["json"] = {"title": "Renamed"}
    elif route == ("DELETE", "/api/photos/{photo_id}"):
        photo_id = family.upload(family.admin, family.admin_csrf)["id"]
    elif route == ("DELETE", "/api/clips/{clip_id}"):
        clip_id = family.upload(family.admin, family.admin_csrf)["clip_id"]
    elif route == ("PUT", "/api/photos/{photo_id}/chosen-clip"):
        body["json"] = {"clip_id": clip_id}
    elif route == ("DELETE", "/api/shares/{share_id}"):
        body["share_id"] = family.share(family.clip_id)[0]
    elif route in (("POST", "/api/users/{user_id}/password"), ("DELETE", "/api/users/{user_id}")):
        body["user_id"] = family.new_account()
        if method == "POST":
            body["json"] = {"password": "a new long password"}
    elif route == ("POST", "/api/users"):
        body["json"] = {"email": f"new{next(family.seeds)}@example.com", "password": "long enough 1"}
    elif route == ("POST", "/api/photos"):
        body["files"] = [("files", ("new.png", small_png(next(family.seeds)), "image/png"))]
    elif route == ("POST", "/api/me/password"):
        # The caller's own password, set again: a real change, and the credentials stay the same.
        password = ADMIN_PASSWORD if csrf == family.admin_csrf else MEMBER_PASSWORD
        body["json"] = {"current_password": password, "new_password": password}
    elif route in (("POST", "/api/setup"), ("POST", "/api/auth/login")):
        body["json"] = {"email": MEMBER_EMAIL, "password": MEMBER_PASSWORD}
    elif route == ("POST", "/s/{token}/unlock"):
        body["data"] = {"password": "not needed"}
    elif method == "POST":
        body["json"] = {}
    if path.startswith(("/s/{token}/photos/", "/s/{token}/film")):
        token = family.album_twins.get(token, token)  # routes of album links: the caller's album link
    url = (
        path.replace("{photo_id}", photo_id)
        .replace("{clip_id}", clip_id)
        .replace("{share_id}", body.pop("share_id", ""))
        .replace("{user_id}", body.pop("user_id", ""))
        .replace("{album_id}", body.pop("album_id", ""))
        .replace("{film_id}", family.film_id)
        .replace("{token}", token)
        .replace("{kind}", "video")
    )
    if path == "/static":
        url = "/static/app.css"
    return method, url, body | {"headers": headers}


# What a successful call answers, where it is not 200.
SUCCESS = {
    ("POST", "/api/setup"): {409},  # already set up: refused for everyone alike, never a second admin
    ("POST", "/api/auth/logout"): {204},
    ("POST", "/api/me/password"): {204},
    ("POST", "/api/users/{user_id}/password"): {204},
    ("DELETE", "/api/users/{user_id}"): {204},
    ("POST", "/api/users"): {201},
    ("POST", "/api/photos"): {201},
    ("DELETE", "/api/photos/{photo_id}"): {204},
    ("DELETE", "/api/clips/{clip_id}"): {204},
    ("POST", "/api/photos/{photo_id}/clips"): {202},
    ("POST", "/api/clips/{clip_id}/shares"): {201},
    ("POST", "/api/albums/{album_id}/shares"): {201},
    ("POST", "/api/albums/{album_id}/film"): {202},
    ("POST", "/api/albums"): {201},
    ("DELETE", "/api/albums/{album_id}"): {204},
    ("DELETE", "/api/albums/{album_id}/photos/{photo_id}"): {204},
    ("PUT", "/api/photos/{photo_id}/favourite"): {204},
    ("DELETE", "/api/photos/{photo_id}/favourite"): {204},
    ("DELETE", "/api/shares/{share_id}"): {204},
    ("POST", "/s/{token}/unlock"): {303},
    ("GET", "/setup"): {303},
    ("GET", "/login"): {200, 303},  # the form, or on to the gallery when already signed in
}


def expected(route: tuple[str, str], rule: str, caller: str) -> set[int]:
    """The statuses a caller may get: the route's success, or the refusal its rule gives that caller."""
    ok = SUCCESS.get(route, {200})
    page = not route[1].startswith(("/api/", "/media/"))
    if rule == PUBLIC:
        return ok
    if rule == LINK:
        return ok if caller == "link" else {404}
    if caller in ("anonymous", "link", "revoked", "expired"):
        return {303} if page else {401}  # a page sends the visitor to /login
    if rule in (ADMIN, OWNER) and caller == "member":
        return {403}
    return ok


def test_authorization_matrix(family: Family) -> None:
    anonymous = family.anonymous()
    # caller -> (client, csrf token, share token it holds)
    callers = {
        "anonymous": (anonymous, "", "A" * 43),
        "member": (family.member, family.member_csrf, family.token),
        "admin": (family.admin, family.admin_csrf, family.token),
        "link": (anonymous, "", family.token),
        "revoked": (anonymous, "", family.revoked_token),
        "expired": (anonymous, "", family.expired_token),
    }
    wrong: list[str] = []
    for route, rule in sorted(RULES.items()):
        for caller, (client, csrf, token) in callers.items():
            if rule == LINK and caller in ("member", "admin"):
                continue  # a member with the link is a link holder; the link rules are the same
            if route == ("POST", "/api/auth/logout") and caller in ("member", "admin"):
                client, csrf = sign_in(family.app, *_credentials(caller))
            elif route == ("POST", "/api/auth/login"):
                client = family.anonymous()  # signing in must not turn the shared visitor into a member
            method, url, kwargs = requests_for(family, route, csrf, token)
            response = client.request(method, url, follow_redirects=False, **kwargs)
            allowed = expected(route, rule, caller)
            if response.status_code not in allowed:
                wrong.append(f"{caller} {method} {url}: {response.status_code}, expected {sorted(allowed)}")
            elif response.status_code == 303 and rule == MEMBER:
                assert response.headers["location"].startswith("/login?next=")
    assert wrong == []


def test_a_photo_is_deleted_by_whoever_added_it_or_an_admin(family: Family) -> None:
    admins = family.upload(family.admin, family.admin_csrf)["id"]
    members = family.upload(family.member, family.member_csrf)["id"]
    store = MediaStore(family.settings.media_dir)

    def delete_button_shown(client: TestClient, photo_id: str) -> bool:
        page = client.get(f"/photos/{photo_id}")
        assert page.status_code == 200
        return "data-delete-photo" in page.text

    assert delete_button_shown(family.admin, members) and delete_button_shown(family.member, members)
    assert not delete_button_shown(family.member, admins)
    # Whoever may not delete is told who may, and every page says who added the photo.
    page = family.member.get(f"/photos/{admins}").text
    assert f"Only {ADMIN_EMAIL} or an admin can delete this photo." in page
    assert f"added by {MEMBER_EMAIL}" in family.admin.get(f"/photos/{members}").text

    refused = family.member.delete(f"/api/photos/{admins}", headers={"X-CSRF-Token": family.member_csrf})
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    assert family.member.get(f"/api/photos/{admins}").status_code == 200
    assert store.thumbnail(admins).is_file()

    own = family.member.delete(f"/api/photos/{members}", headers={"X-CSRF-Token": family.member_csrf})
    assert own.status_code == 204
    again = family.upload(family.member, family.member_csrf)["id"]
    by_admin = family.admin.delete(f"/api/photos/{again}", headers={"X-CSRF-Token": family.admin_csrf})
    assert by_admin.status_code == 204
    assert family.admin.get(f"/api/photos/{members}").status_code == 404
    assert family.admin.get(f"/api/photos/{again}").status_code == 404


def test_the_family_page_lists_everyone_and_lets_only_an_admin_add(family: Family) -> None:
    as_admin = family.admin.get("/family").text
    as_member = family.member.get("/family").text
    for page in (as_admin, as_member):
        assert f'data-member="{ADMIN_EMAIL}"' in page and f'data-member="{MEMBER_EMAIL}"' in page
    assert "data-add-member" in as_admin and "data-add-member" not in as_member
    assert "data-change-password" in as_admin and "data-change-password" in as_member
    assert "An admin can add more of the family here." in as_member
    # What the form sends, as the form sends it: the new account is listed and can sign in.
    added = family.admin.post(
        "/api/users",
        json={"email": "Cousin@Example.com", "password": "a long password", "is_admin": False},
        headers={"X-CSRF-Token": family.admin_csrf},
    )
    assert added.status_code == 201
    assert 'data-member="cousin@example.com"' in family.member.get("/family").text
    sign_in(family.app, "cousin@example.com", "a long password")


def test_a_member_changes_their_password_and_other_sessions_end(family: Family) -> None:
    elsewhere, _ = sign_in(family.app, MEMBER_EMAIL, MEMBER_PASSWORD)  # the same account on a phone
    headers = {"X-CSRF-Token": family.member_csrf}

    def change(current: str, new: str) -> int:
        body = {"current_password": current, "new_password": new}
        return family.member.post("/api/me/password", json=body, headers=headers).status_code

    assert change("not my password", "a new long password") == 403
    assert change(MEMBER_PASSWORD, "short") == 422
    assert elsewhere.get("/api/me").status_code == 200  # nothing changed yet
    assert change(MEMBER_PASSWORD, "a new long password") == 204
    assert family.member.get("/api/me").status_code == 200  # this browser stays signed in
    assert elsewhere.get("/api/me").status_code == 401  # the phone is signed out
    old = {"email": MEMBER_EMAIL, "password": MEMBER_PASSWORD}
    assert family.anonymous().post("/api/auth/login", json=old).status_code == 401
    sign_in(family.app, MEMBER_EMAIL, "a new long password")


def test_wrong_current_passwords_are_throttled_like_sign_ins(family: Family) -> None:
    body = {"current_password": "a guess", "new_password": "a new long password"}
    headers = {"X-CSRF-Token": family.member_csrf}
    answers = [
        family.member.post("/api/me/password", json=body, headers=headers).status_code for _ in range(6)
    ]
    assert answers == [403] * 5 + [429]
    right = {"current_password": MEMBER_PASSWORD, "new_password": "a new long password"}
    assert family.member.post("/api/me/password", json=right, headers=headers).status_code == 429


def test_an_admin_sets_a_forgotten_password_and_removes_an_account(family: Family) -> None:
    admin = {"X-CSRF-Token": family.admin_csrf}
    member_id = family.member.get("/api/me").json()["id"]
    photo_id = family.upload(family.member, family.member_csrf)["id"]
    phone, _ = sign_in(family.app, MEMBER_EMAIL, MEMBER_PASSWORD)

    new = {"password": "set by grandma"}
    assert family.admin.post(f"/api/users/{member_id}/password", json=new, headers=admin).status_code == 204
    assert family.member.get("/api/me").status_code == 401 and phone.get("/api/me").status_code == 401
    member, _ = sign_in(family.app, MEMBER_EMAIL, "set by grandma")
    short = {"password": "short"}
    assert family.admin.post(f"/api/users/{member_id}/password", json=short, headers=admin).status_code == 422

    own_id = family.admin.get("/api/me").json()["id"]
    refused = family.admin.delete(f"/api/users/{own_id}", headers=admin)
    assert refused.status_code == 409 and "your own account" in refused.json()["detail"]
    assert family.admin.delete(f"/api/users/{member_id}", headers=admin).status_code == 204
    assert member.get("/api/me").status_code == 401
    gone = {"email": MEMBER_EMAIL, "password": "set by grandma"}
    assert family.anonymous().post("/api/auth/login", json=gone).status_code == 401
    assert 'data-member="member@example.com"' not in family.admin.get("/family").text
    # Their photo stays, and is now the admins' to delete.
    page = family.admin.get(f"/photos/{photo_id}")
    assert page.status_code == 200 and "added by" not in page.text and "data-delete-photo" in page.text
    assert family.admin.delete(f"/api/users/{member_id}", headers=admin).status_code == 404


def _credentials(caller: str) -> tuple[str, str]:
    return (ADMIN_EMAIL, ADMIN_PASSWORD) if caller == "admin" else (MEMBER_EMAIL, MEMBER_PASSWORD)


def test_a_link_reaches_its_own_clip_and_nothing_else(family: Family) -> None:
    public = family.anonymous()
    store = MediaStore(family.settings.media_dir)
    base = f"/s/{family.token}"
    assert public.get(f"{base}/video").content == store.video(family.clip_id).read_bytes()
    assert public.get(f"{base}/poster").content == store.poster(family.clip_id).read_bytes()
    photo = public.get(f"{base}/photo")
    assert photo.content == store.display(family.photo_id).read_bytes()
    assert public.get(f"{base}/download/video").headers["content-disposition"].startswith("attachment")
    # Downloads: only the clip and the metadata-free photo, never the original by any name. (Paths with
    # dots are sent raw in test_static_and_media_never_traverse: this client would normalise them away.)
    for kind in (
        "original",
        "poster",
        "thumb",
        "display",
        "original.jpg",
        family.photo_id,
        family.other_clip_id,
    ):
        assert public.get(f"{base}/download/{kind}").status_code == 404, kind
    # Other ids in the query or the path change nothing: the token alone says which clip.
    other = public.get(f"{base}/video", params={"clip_id": family.other_clip_id})
    assert other.content == store.video(family.clip_id).read_bytes()
    for path in (
        f"/s/{family.token}{family.other_clip_id}",
        f"/s/{family.token[:-1]}",
        f"/s/{family.token}/video/{family.other_clip_id}",
        f"/media/clips/{family.clip_id}.mp4",
        f"/api/clips/{family.clip_id}",
        f"/api/photos/{family.photo_id}",
    ):
        assert public.get(path).status_code in (401, 404), path
    # A link without downloads refuses them.
    assert public.get(f"/s/{family.other_token}/download/video").status_code == 404


# --- traversal, sent raw to a real server -------------------------------------------------------------


def raw_get(base: str, target: str, cookie: str = "") -> tuple[int, bytes]:
    """GET with the request target exactly as given (HTTP clients would normalise the dots away)."""
    host, port = base.removeprefix("http://").split(":")
    request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    if cookie:
        request += f"Cookie: {cookie}\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((request + "\r\n").encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


TRAVERSALS = [
    "/static/../app/config.py",
    "/static/%2e%2e/app/config.py",
    "/static/%2E%2E/%2E%2E/data/secret_key",
    "/static/..%2fapp%2fconfig.py",
    "/static/..%2f..%2fdata%2fsecret_key",
    "/static/%2e%2e%2f%2e%2e%2fdata%2fsecret_key",
    "/static/....//....//data/secret_key",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/..\\app\\config.py",
    "/static/%5c..%5capp%5cconfig.py",
    "/static/app.css%00.py",
    "/media/../data/secret_key",
    "/media/%2e%2e/data/secret_key",
    "/media/photos/..%2f..%2f..%2fdata%2fsecret_key/original",
    "/media/photos/%2e%2e%2f%2e%2e%2fsecret_key/display.jpg",
    "/media/clips/..%2f..%2fvivant.db.mp4",
    "/media/clips/%2e%2e%2fsecret_key.jpg",
    "/s/..%2f..%2fapi%2fphotos",
    "/s/%2e%2e/%2e%2e/api/photos",
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
]


def test_static_and_media_never_traverse(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="traversal-secret-" + "t" * 20)
    settings.ensure_dirs()
    upgrade(settings.sqlalchemy_url)
    (settings.data_dir / "secret_key").write_text(settings.secret_key)
    secrets_on_disk = [settings.secret_key.encode(), b"class Settings", b"root:x:0:0", b"SQLite format"]
    with running_server(settings, "--no-worker") as (_, base):
        with TestClient(create_app(settings, reconcile=False)) as client:
            set_up_admin(client)
            cookie = f"vivant_session={client.cookies['vivant_session']}"
        status, _ = raw_get(base, "/static/app.css")
        assert status == 200  # the raw requests reach the server
        for target in TRAVERSALS:
            for session_cookie in ("", cookie):
                status, body = raw_get(base, target, session_cookie)
                assert status in (400, 401, 404, 405), (target, status)
                assert not any(secret in body for secret in secrets_on_disk), target


# --- 9. CSRF and the session cookie -------------------------------------------------------------------


@SQLITE_ONLY
def test_cookie_writes_need_the_token_and_our_origin(family: Family) -> None:
    writes = [route for route, rule in RULES.items() if route[0] != "GET" and rule in (MEMBER, OWNER, ADMIN)]
    assert len(writes) >= 7
    host = "http://testserver"
    for route in writes:
        for headers in (
            {},
            {"X-CSRF-Token": "forged"},
            {"X-CSRF-Token": family.member_csrf},  # the member's token with the admin's cookie
            {"X-CSRF-Token": family.admin_csrf, "Origin": "https://evil.example"},
            {"X-CSRF-Token": family.admin_csrf, "Origin": "null"},
            {"X-CSRF-Token": family.admin_csrf, "Referer": "https://evil.example/page"},
        ):
            method, url, kwargs = requests_for(family, route, "", "")
            kwargs["headers"] = headers
            response = family.admin.request(method, url, **kwargs)
            assert response.status_code == 403, (route, headers, response.status_code)
        method, url, kwargs = requests_for(family, route, family.admin_csrf, "")
        kwargs["headers"] |= {"Origin": host, "Referer": f"{host}/"}
        if route == ("POST", "/api/auth/logout"):
            continue  # it would end the session the loop rides on; the matrix covers it
        assert family.admin.request(method, url, **kwargs).status_code < 400, route


@SQLITE_ONLY
def test_behind_a_proxy_that_rewrites_host_the_public_origin_is_ours(settings: Settings) -> None:
    proxied = settings.model_copy(update={"public_url": "https://photos.example.org/"})
    # The proxy hands the request on to vivant:8000: that is the Host the app sees, never the public name.
    with TestClient(create_app(proxied, reconcile=False), base_url="https://vivant:8000") as client:
        csrf = set_up_admin(client)
        emails = (f"person{n}@example.com" for n in range(10))

        def write(**headers: str) -> int:
            body = {"email": next(emails), "password": "long enough 1"}
            return client.post("/api/users", json=body, headers={"X-CSRF-Token": csrf} | headers).status_code

        assert write(Origin="https://photos.example.org") == 201
        assert write(Referer="https://photos.example.org/family") == 201
        assert write(Origin="https://vivant:8000") == 201  # straight to the app, as before
        for foreign in (
            {"Origin": "http://photos.example.org"},  # our name, but not our scheme
            {"Origin": "https://photos.example.org.evil.example"},
            {"Origin": "https://evil.example"},
            {"Referer": "https://evil.example/photos.example.org"},
        ):
            assert write(**foreign) == 403, foreign


def _session_cookie(response: object) -> str:
    return next(
        header
        for header in response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
        if header.startswith("vivant_session=")
    ).lower()


@SQLITE_ONLY
def test_session_cookie_flags(settings: Settings) -> None:
    credentials = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    with TestClient(create_app(settings, reconcile=False)) as client:
        set_up_admin(client)
        plain = _session_cookie(client.post("/api/auth/login", json=credentials))
        assert "httponly" in plain and "samesite=lax" in plain and "path=/" in plain
        assert "secure" not in [attribute.strip() for attribute in plain.split(";")]
        proxied = client.post("/api/auth/login", json=credentials, headers={"X-Forwarded-Proto": "https"})
        assert "; secure" in _session_cookie(proxied)
    https = settings.model_copy(update={"public_url": "https://photos.example.org"})
    with TestClient(create_app(https, reconcile=False)) as client:
        cookie = _session_cookie(client.post("/api/auth/login", json=credentials))
        assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def _sessions(settings: Settings) -> int:
    database = Database(settings.sqlalchemy_url)
    with database.session() as session:
        count = session.scalar(select(func.count()).select_from(AuthSession)) or 0
    database.dispose()
    return count


def test_sign_in_makes_a_new_session_and_sign_out_ends_it(settings: Settings) -> None:
    credentials = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    app = create_app(settings, reconcile=False)
    with TestClient(app) as setup:
        first = setup.post("/api/setup", json=credentials).cookies["vivant_session"]
    # A cookie planted before sign-in (session fixation) never becomes a signed-in one.
    browser = TestClient(app, cookies={"vivant_session": "planted-by-someone-else"})
    second_login = browser.post("/api/auth/login", json=credentials)
    second = second_login.cookies["vivant_session"]
    assert second not in ("planted-by-someone-else", first)
    planted = TestClient(app, cookies={"vivant_session": "planted-by-someone-else"})
    assert planted.get("/api/me").status_code == 401
    # Signing in again from the same browser gives a new id and ends the session it replaces.
    browser = TestClient(app, cookies={"vivant_session": second})
    third_login = browser.post("/api/auth/login", json=credentials)
    third = third_login.cookies["vivant_session"]
    assert third != second
    assert TestClient(app, cookies={"vivant_session": second}).get("/api/me").status_code == 401
    signed_in = TestClient(app, cookies={"vivant_session": third})
    assert signed_in.get("/api/me").status_code == 200
    # Signing out ends the session on the server: the cookie, replayed, opens nothing.
    before = _sessions(settings)
    out = signed_in.post("/api/auth/logout", headers={"X-CSRF-Token": third_login.json()["csrf_token"]})
    assert out.status_code == 204
    assert _sessions(settings) == before - 1
    assert TestClient(app, cookies={"vivant_session": third}).get("/api/me").status_code == 401


# --- 10. sign-in ---------------------------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id(family: Family) -> None:
    database = Database(family.settings.sqlalchemy_url)
    with database.session() as session:
        hashes = list(session.scalars(select(User.password_hash)))
    database.dispose()
    assert len(hashes) == 2
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not any(MEMBER_PASSWORD in h or ADMIN_PASSWORD in h for h in hashes)


def test_repeated_failures_are_throttled_per_account(client: TestClient, csrf: str) -> None:
    wrong = {"email": ADMIN_EMAIL, "password": "not the password"}
    statuses = [client.post("/api/auth/login", json=wrong).status_code for _ in range(5)]
    assert statuses == [401] * 5
    # Now even the right password waits: a guesser cannot tell when it found it.
    right = client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert right.status_code == 429
    assert "wait" in right.json()["detail"]


@SQLITE_ONLY
def test_repeated_failures_are_throttled_per_address(client: TestClient, csrf: str) -> None:
    for i in range(20):
        guess = {"email": f"nobody{i}@example.com", "password": "guess guess"}
        assert client.post("/api/auth/login", json=guess).status_code == 401
    right = client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert right.status_code == 429


@SQLITE_ONLY
def test_known_and_unknown_accounts_take_about_the_same_time(client: TestClient, csrf: str) -> None:
    def median_seconds(email: str) -> float:
        times = []
        for _ in range(4):  # below the per-account limit of 5
            started = time.perf_counter()
            response = client.post("/api/auth/login", json={"email": email, "password": "wrong password"})
            times.append(time.perf_counter() - started)
            assert response.status_code == 401
        return statistics.median(times)

    known, unknown = median_seconds(ADMIN_EMAIL), median_seconds("stranger@example.com")
    # Both verify an Argon2 hash; without the dummy hash the unknown account would answer ~100x faster.
    assert 1 / 3 < known / unknown < 3, (known, unknown)


@pytest.mark.parametrize(
    ("target", "expected_target"),
    [
        ("/photos/abc", "/photos/abc"),
        ("/upload?x=1", "/upload?x=1"),
        (None, "/"),
        ("", "/"),
        ("//evil.example", "/"),
        ("///evil.example", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("/path\\..\\..", "/"),
    ],
)
def test_redirects_after_sign_in_stay_on_this_site(target: str | None, expected_target: str) -> None:
    assert local_path(target) == expected_target


@SQLITE_ONLY
@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "/\\evil.example", "/upload"])
def test_login_page_next_is_local(client: TestClient, csrf: str, target: str) -> None:
    signed_in = client.get("/login", params={"next": target}, follow_redirects=False)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == local_path(target)
    visitor = TestClient(client.app).get("/login", params={"next": target})
    assert visitor.status_code == 200
    assert f'data-next="{local_path(target)}"' in visitor.text


# --- 11. share-link passwords ---------------------------------------------------------------------------

SHARE_PASSWORD = "open sesame"


def test_share_password_is_hashed_enforced_everywhere_and_throttled(family: Family) -> None:
    share_id, token = family.share(family.clip_id, password=SHARE_PASSWORD, allow_download=True)
    database = Database(family.settings.sqlalchemy_url)
    with database.session() as session:
        stored = session.get(Share, share_id)
        assert stored is not None and stored.password_hash is not None
        assert stored.password_hash.startswith("$argon2id$") and SHARE_PASSWORD not in stored.password_hash
    database.dispose()

    visitor = family.anonymous()
    base = f"/s/{token}"
    files = ["/video", "/poster", "/photo", "/download/video", "/download/photo"]
    locked = visitor.get(base)
    assert locked.status_code == 401
    assert f"{base}/video" not in locked.text and "og:video" not in locked.text
    for suffix in files:
        assert visitor.get(base + suffix).status_code == 401, suffix
    # The password goes in a POST body, never in a URL.
    assert visitor.get(f"{base}/unlock", params={"password": SHARE_PASSWORD}).status_code == 405
    wrong = visitor.post(f"{base}/unlock", data={"password": "sesame open"}, follow_redirects=False)
    assert wrong.status_code == 303 and "error=wrong-password" in wrong.headers["location"]
    assert "set-cookie" not in wrong.headers
    right = visitor.post(f"{base}/unlock", data={"password": SHARE_PASSWORD}, follow_redirects=False)
    assert right.status_code == 303
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie and f"path=/s/{token}".lower() in cookie and "samesite=lax" in cookie
    assert visitor.get(base).status_code == 200
    for suffix in files:
        assert visitor.get(base + suffix).status_code == 200, suffix

    # The key to one link opens no other, even when sent along to it.
    other_id, other_token = family.share(family.other_clip_id, password=SHARE_PASSWORD)
    unlocked_value = right.cookies.get("vivant_share")
    stranger = TestClient(family.app, cookies={"vivant_share": unlocked_value})
    assert stranger.get(f"/s/{other_token}/video").status_code == 401

    # Guessing is throttled per link: after 10 failures even the right password waits.
    guesser = family.anonymous()
    for i in range(10):
        guess = guesser.post(
            f"/s/{other_token}/unlock", data={"password": f"guess {i}"}, follow_redirects=False
        )
        assert guess.status_code == 303
    throttled = guesser.post(f"/s/{other_token}/unlock", data={"password": SHARE_PASSWORD})
    assert throttled.status_code == 429
    assert other_id


def test_share_password_is_optional_and_revoking_locks_every_route(family: Family) -> None:
    visitor = family.anonymous()
    base = f"/s/{family.token}"
    for suffix in ("", "/video", "/poster", "/photo", "/download/video", "/download/photo"):
        assert visitor.get(base + suffix).status_code == 200, suffix
    assert (
        family.admin.delete(
            f"/api/shares/{family.share_id}", headers={"X-CSRF-Token": family.admin_csrf}
        ).status_code
        == 204
    )
    for suffix in ("", "/video", "/poster", "/photo", "/download/video", "/download/photo"):
        assert visitor.get(base + suffix).status_code == 404, suffix


def test_guessing_share_passwords_never_locks_out_sign_in(family: Family) -> None:
    """Share passwords and sign-ins are counted apart: each throttle works, neither trips the other."""
    guesser = family.anonymous()  # one address for every request below

    def guesses(token: str, count: int) -> list[int]:
        url = f"/s/{token}/unlock"
        return [
            guesser.post(url, data={"password": "a guess"}, follow_redirects=False).status_code
            for _ in range(count)
        ]

    tokens = [family.share(family.clip_id, password=SHARE_PASSWORD)[1] for _ in range(3)]
    # Per link: the 11th try at one link waits, even with the right password.
    assert guesses(tokens[0], SHARE_PASSWORD_TRIES) == [303] * SHARE_PASSWORD_TRIES
    assert guesser.post(f"/s/{tokens[0]}/unlock", data={"password": SHARE_PASSWORD}).status_code == 429
    # Per address, across links: 20 wrong passwords, then even a fresh link waits.
    assert guesses(tokens[1], SHARE_PASSWORD_TRIES_PER_ADDRESS - SHARE_PASSWORD_TRIES) == [303] * 10
    assert guesses(tokens[2], 1) == [429]

    # Sign-in from the same address is untouched by all that guessing...
    right = {"email": MEMBER_EMAIL, "password": MEMBER_PASSWORD}
    assert guesser.post("/api/auth/login", json=right).status_code == 200
    # ...and its own throttle still counts sign-ins: 20 failures, then 429.
    for i in range(MAX_FAILURES_PER_ADDRESS):
        wrong = {"email": f"nobody{i}@example.com", "password": "wrong password"}
        assert guesser.post("/api/auth/login", json=wrong).status_code == 401
    assert guesser.post("/api/auth/login", json=right).status_code == 429


# --- 12. the links of the library ---------------------------------------------------------------------


def test_listings_show_the_links_of_every_clip_and_mark_expired_ones(family: Family) -> None:
    """A new clip of a photo must not hide the older clip's links: a link nobody sees cannot be revoked."""
    newer_clip = family.ready_clip(family.photo_id)
    newer_share, _ = family.share(newer_clip)
    clip_links = Share.clip_id.is_not(None)
    revoked = _share_ids(family, Share.revoked_at.is_not(None), clip_links)
    expired = _share_ids(family, Share.expires_at < utcnow(), clip_links)
    assert len(revoked) == 1 and len(expired) == 1

    listed = family.member.get(f"/api/photos/{family.photo_id}/shares").json()
    by_id = {share["id"]: share for share in listed}
    assert set(by_id) == {family.share_id, newer_share} | expired
    assert by_id[family.share_id]["clip_id"] == family.clip_id and by_id[newer_share]["clip_id"] == newer_clip
    assert {share["photo_id"] for share in listed} == {family.photo_id}
    statuses = [by_id[s]["status"] for s in (family.share_id, newer_share, *expired)]
    assert statuses == ["live", "live", "expired"]

    # The same links, the same way, in every listing.
    everything = {share["id"]: share["status"] for share in family.member.get("/api/shares").json()}
    of_clip = {
        share["id"]: share["status"]
        for share in family.member.get(f"/api/clips/{family.clip_id}/shares").json()
    }
    assert of_clip == {family.share_id: "live"} | dict.fromkeys(expired, "expired")
    assert everything.items() >= of_clip.items() and newer_share in everything
    of_album = {
        share["id"]: share for share in family.member.get(f"/api/albums/{family.album_id}/shares").json()
    }
    assert {s["kind"] for s in of_album.values()} == {"album"} and len(of_album) == 2  # live and expired
    assert all(s["album_id"] == family.album_id and s["clip_id"] is None for s in of_album.values())
    assert {s: everything[s] for s in of_album} == {s: of_album[s]["status"] for s in of_album}
    assert not revoked & (everything.keys() | of_clip.keys() | by_id.keys())


def _share_ids(family: Family, *where: ColumnElement[bool]) -> set[str]:
    database = Database(family.settings.sqlalchemy_url)
    with database.session() as session:
        ids = set(session.scalars(select(Share.id).where(*where)))
    database.dispose()
    return ids


def test_the_links_page_lists_every_link_with_what_it_shows_and_how_often_it_was_opened(
    family: Family,
) -> None:
    visitor = family.anonymous()
    for _ in range(2):
        assert visitor.get(f"/s/{family.token}").status_code == 200
    assert visitor.get(f"/s/{family.token}/video").status_code == 200  # a file is no new visit
    locked_id, locked_token = family.share(family.other_clip_id, password=SHARE_PASSWORD)
    assert visitor.get(f"/s/{locked_token}").status_code == 401  # the clip was not shown: not counted

    page = family.member.get("/links")
    assert page.status_code == 200
    rows = dict(re.findall(r'data-share-id="(\w+)"\s+data-status="(\w+)"', page.text))
    expired = _share_ids(family, Share.expires_at < utcnow())
    assert len(expired) == 2 and {family.share_id, locked_id} < rows.keys()  # a clip's and an album's
    not_revoked = _share_ids(family, Share.revoked_at.is_(None))
    assert rows == {s: "expired" if s in expired else "live" for s in not_revoked}
    row = page.text.split(f'data-share-id="{family.share_id}"', 1)[1].split('<li class="link-row', 1)[0]
    database = Database(family.settings.sqlalchemy_url)
    with database.session() as session:
        photo = session.get(Photo, family.photo_id)
        assert photo is not None
        day = photo.taken.title  # titled by the day, as the photo page is: never by the file's name
    database.dispose()
    assert "family.png" not in row
    for fact in (
        f'src="/media/photos/{family.photo_id}/thumb.jpg"',
        f'data-title="{day}"',
        f">{day}</a>",
        "Opened 2 times",
        "Never expires",
        "No password",
        "Downloads allowed",
        f"Made by {ADMIN_EMAIL}",
        "Revoke",
    ):
        assert fact in row, fact
    locked_row = page.text.split(f'data-share-id="{locked_id}"', 1)[1].split('<li class="link-row', 1)[0]
    assert "Not opened yet" in locked_row and "Password" in locked_row and "View only" in locked_row
    # An album link is listed by the album's title and cover.
    album_row = page.text.split('data-status="live" data-kind="album"', 1)[1]
    album_row = album_row.split('<li class="link-row', 1)[0]
    for fact in (
        'data-title="Films"',
        ">Films</a>",
        f'href="/albums/{family.album_id}"',
        f'src="/media/photos/{family.photo_id}/thumb.jpg"',
        "Album · 1 photo",
        "Downloads allowed",
    ):
        assert fact in album_row, fact
    opens = {share["id"]: share["opens"] for share in family.member.get("/api/shares").json()}
    assert opens[family.share_id] == 2 and opens[locked_id] == 0

    # Revoked there (the page's button sends this), the link leaves the page and stops opening.
    headers = {"X-CSRF-Token": family.member_csrf}
    assert family.member.delete(f"/api/shares/{family.share_id}", headers=headers).status_code == 204
    assert f'data-share-id="{family.share_id}"' not in family.member.get("/links").text
    assert visitor.get(f"/s/{family.token}").status_code == 404
    assert 'href="/links"' in family.member.get("/").text


# --- 13. what browsers and proxies may keep -----------------------------------------------------------


def test_member_pages_and_api_answers_are_never_stored(family: Family) -> None:
    """Back after Sign out must not show the gallery: no signed-in page or API answer may be kept."""
    checked = 0
    for route, rule in sorted(RULES.items()):
        if route[0] != "GET" or rule not in (MEMBER, OWNER, ADMIN):
            continue
        method, url, kwargs = requests_for(family, route, family.admin_csrf, family.token)
        for client in (family.admin, family.anonymous()):
            response = client.request(method, url, follow_redirects=False, **kwargs)
            cache = response.headers.get("cache-control", "")
            if route[1].startswith("/media/") and response.status_code == 200:
                # Browsers may keep the member's media a while; shared caches may not keep them at all.
                assert "private" in cache and "public" not in cache, (url, cache)
            else:
                assert "no-store" in cache, (url, response.status_code, cache)
            checked += 1
    assert checked >= 2 * 15
    write = family.admin.post(
        f"/api/photos/{family.photo_id}/clips", json={}, headers={"X-CSRF-Token": family.admin_csrf}
    )
    assert write.status_code == 202 and write.headers["cache-control"] == "no-store"
    visitor = family.anonymous()
    assert visitor.get(f"/s/{family.token}").headers["cache-control"] == "no-store"
    for suffix in ("/video", "/poster", "/photo"):
        cache = visitor.get(f"/s/{family.token}{suffix}").headers["cache-control"]
        assert "private" in cache and "no-cache" in cache, suffix  # rechecked, so a revoke takes effect
    assert "no-store" not in visitor.get("/static/app.css").headers.get("cache-control", "")


def test_only_the_maker_or_an_admin_renames_or_deletes_an_album_but_anyone_fills_it(family: Family) -> None:
    member, member_h = family.member, {"X-CSRF-Token": family.member_csrf}
    admin_h = {"X-CSRF-Token": family.admin_csrf}
    admins = _post_json(family.admin, family.admin_csrf, "/api/albums", {"title": "Admin's"})
    url = f"/api/albums/{admins['id']}"
    assert member.get(url).json()["can_edit"] is False
    assert member.patch(url, json={"title": "Mine now"}, headers=member_h).status_code == 403
    assert member.delete(url, headers=member_h).status_code == 403
    added = member.post(f"{url}/photos", json={"photo_ids": [family.photo_id]}, headers=member_h)
    assert added.status_code == 200
    assert member.delete(f"{url}/photos/{family.photo_id}", headers=member_h).status_code == 204

    members = _post_json(member, family.member_csrf, "/api/albums", {"title": "Member's"})
    own = f"/api/albums/{members['id']}"
    assert member.get(own).json()["can_edit"] is True
    assert member.patch(own, json={"description": "ours"}, headers=member_h).status_code == 200
    assert member.delete(own, headers=member_h).status_code == 204
    assert family.admin.delete(url, headers=admin_h).status_code == 204


def test_favourites_belong_to_each_member(family: Family) -> None:
    photo = f"/api/photos/{family.photo_id}"
    for _ in range(2):  # idempotent
        response = family.member.put(f"{photo}/favourite", headers={"X-CSRF-Token": family.member_csrf})
        assert response.status_code == 204
    assert family.member.get(photo).json()["favourite"] is True
    assert family.admin.get(photo).json()["favourite"] is False

    def favourites(client: TestClient) -> list[str]:
        return [p["id"] for p in client.get("/api/photos", params={"favourites": "true"}).json()["items"]]

    assert favourites(family.member) == [family.photo_id]
    assert favourites(family.admin) == []
    assert len(family.admin.get("/api/photos").json()["items"]) >= 2  # the plain timeline keeps them all

    for _ in range(2):
        response = family.member.delete(f"{photo}/favourite", headers={"X-CSRF-Token": family.member_csrf})
        assert response.status_code == 204
    assert family.member.get(photo).json()["favourite"] is False
    assert favourites(family.member) == []


def _post_json(client: TestClient, csrf: str, url: str, json: object) -> dict:  # type: ignore[type-arg]
    response = client.post(url, json=json, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
