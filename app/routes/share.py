"""Public share links: `/s/{token}`, its password, and a clip link's files. Nothing here needs an account.

Every route resolves the token itself, so a link reaches its own clip (or album, shared_album.py) and
nothing else, and a revoked or expired link is a plain 404 everywhere.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from app.deps import ServicesDep, SessionDep, SettingsDep
from app.login_throttle import check_throttle, record_failure
from app.models import Share
from app.routes.share_link import (
    SHARE_COOKIE,
    ClipShare,
    LiveShare,
    is_locked,
    public_page,
    shared_file,
    unlock_value,
)
from app.routes.shared_album import album_page
from app.sharing import count_open, password_ok
from app.urls import absolute_url

router = APIRouter(prefix="/s", include_in_schema=False)

SHARE_PASSWORD_TRIES = 10
# Per address, across links. Counted apart from sign-ins: guessing at a link must not lock the family out.
SHARE_PASSWORD_TRIES_PER_ADDRESS = 20


@router.get("/{token}", response_model=None)
def share_page(
    token: str, request: Request, share: LiveShare, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    locked = is_locked(request, share, settings.session_secret)
    if not locked and request.method == "GET":
        count_open(session=session, share=share)
    if share.album is not None:
        return album_page(request, share, session, settings, token=token, locked=locked)
    templates = request.app.state.templates
    base = f"/s/{token}"
    context = {
        "locked": locked,
        "share": share,
        "clip": share.clip,
        "base": base,
        "page_url": absolute_url(request, settings, base),
        "video_url": absolute_url(request, settings, f"{base}/video"),
        "poster_url": absolute_url(request, settings, f"{base}/poster"),
        "error": request.query_params.get("error"),
    }
    return public_page(
        templates.TemplateResponse(request, "share.html", context, status_code=401 if locked else 200)
    )


@router.post("/{token}/unlock", response_model=None)
def unlock(
    token: str,
    request: Request,
    share: LiveShare,
    session: SessionDep,
    settings: SettingsDep,
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    """The password travels in the POST body, never in a URL. The same for clip and album links."""
    address = request.client.host if request.client else "unknown"
    keys = [f"share:{share.id}", f"share-address:{address}"]
    check_throttle(session, keys, limits=[SHARE_PASSWORD_TRIES, SHARE_PASSWORD_TRIES_PER_ADDRESS])
    if not password_ok(share, password):
        record_failure(session, keys)
        return RedirectResponse(f"/s/{token}?error=wrong-password", status_code=303)
    response = RedirectResponse(f"/s/{token}", status_code=303)
    response.set_cookie(
        SHARE_COOKIE,
        unlock_value(share, settings.session_secret),
        httponly=True,
        samesite="lax",
        path=f"/s/{token}",
        secure=request.url.scheme == "https",
    )
    return response


def _clip_file(path_kind: str, share: Share, services: ServicesDep, download: bool = False) -> FileResponse:
    store = services.store
    clip = share.clip
    assert clip is not None  # ClipShare lets only clip links through
    paths = {
        "video": (store.video(clip.id), "video/mp4", "clip.mp4"),
        "poster": (store.poster(clip.id), "image/jpeg", "poster.jpg"),
        # The metadata-free display copy: never the original bytes, which may carry GPS.
        "photo": (store.display(clip.photo_id), "image/jpeg", "photo.jpg"),
    }
    path, media_type, filename = paths[path_kind]
    return shared_file(path, media_type, filename, download=download)


@router.get("/{token}/video")
def shared_video(share: ClipShare, services: ServicesDep) -> FileResponse:
    return _clip_file("video", share, services)


@router.get("/{token}/poster")
def shared_poster(share: ClipShare, services: ServicesDep) -> FileResponse:
    return _clip_file("poster", share, services)


@router.get("/{token}/photo")
def shared_photo(share: ClipShare, services: ServicesDep) -> FileResponse:
    return _clip_file("photo", share, services)


@router.get("/{token}/download/{kind}")
def shared_download(kind: str, share: ClipShare, services: ServicesDep) -> FileResponse:
    if not share.allow_download or kind not in ("video", "photo"):
        raise HTTPException(404, "downloads are not allowed for this link")
    return _clip_file(kind, share, services, download=True)
