"""Public share links: `/s/{token}` and its files. Nothing here needs an account.

Every route resolves the token itself, so a link reaches its own clip and photo and nothing else, and a
revoked or expired link is a plain 404 everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from app.deps import ServicesDep, SessionDep, SettingsDep
from app.login_throttle import check_throttle, record_failure
from app.models import Share
from app.sharing import count_open, find_live_share, password_ok
from app.urls import absolute_url

router = APIRouter(prefix="/s", include_in_schema=False)

SHARE_COOKIE = "vivant_share"
# Shared files may be cached by the browser only, and re-checked so that a revoke takes effect.
SHARE_CACHE = "private, no-cache"
SHARE_PASSWORD_TRIES = 10
# Per address, across links. Counted apart from sign-ins: guessing at a link must not lock the family out.
SHARE_PASSWORD_TRIES_PER_ADDRESS = 20


def _unlock_value(share: Share, secret: str) -> str:
    # Bound to the password hash: changing the password locks every browser out again.
    message = f"{share.id}:{share.password_hash}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def live_share(token: str, session: SessionDep, settings: SettingsDep) -> Share:
    share = find_live_share(session=session, token=token, secret=settings.session_secret)
    if share is None:
        raise HTTPException(404, "this link does not exist, has expired or was revoked")
    return share


LiveShare = Annotated[Share, Depends(live_share)]


def unlocked_share(request: Request, share: LiveShare, settings: SettingsDep) -> Share:
    if share.password_hash is not None:
        given = request.cookies.get(SHARE_COOKIE, "")
        if not hmac.compare_digest(given, _unlock_value(share, settings.session_secret)):
            raise HTTPException(401, "this link needs its password")
    return share


UnlockedShare = Annotated[Share, Depends(unlocked_share)]


@router.get("/{token}", response_model=None)
def share_page(
    token: str, request: Request, share: LiveShare, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    templates = request.app.state.templates
    locked = share.password_hash is not None and not hmac.compare_digest(
        request.cookies.get(SHARE_COOKIE, ""), _unlock_value(share, settings.session_secret)
    )
    if not locked and request.method == "GET":
        count_open(session=session, share=share)
    clip = share.clip
    base = f"/s/{token}"
    context = {
        "locked": locked,
        "share": share,
        "clip": clip,
        "base": base,
        "page_url": absolute_url(request, settings, base),
        "video_url": absolute_url(request, settings, f"{base}/video"),
        "poster_url": absolute_url(request, settings, f"{base}/poster"),
        "error": request.query_params.get("error"),
    }
    response = templates.TemplateResponse(request, "share.html", context, status_code=401 if locked else 200)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.post("/{token}/unlock", response_model=None)
def unlock(
    token: str,
    request: Request,
    share: LiveShare,
    session: SessionDep,
    settings: SettingsDep,
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    """The password travels in the POST body, never in a URL."""
    address = request.client.host if request.client else "unknown"
    keys = [f"share:{share.id}", f"share-address:{address}"]
    check_throttle(session, keys, limits=[SHARE_PASSWORD_TRIES, SHARE_PASSWORD_TRIES_PER_ADDRESS])
    if not password_ok(share, password):
        record_failure(session, keys)
        return RedirectResponse(f"/s/{token}?error=wrong-password", status_code=303)
    response = RedirectResponse(f"/s/{token}", status_code=303)
    response.set_cookie(
        SHARE_COOKIE,
        _unlock_value(share, settings.session_secret),
        httponly=True,
        samesite="lax",
        path=f"/s/{token}",
        secure=request.url.scheme == "https",
    )
    return response


def _shared_file(path_kind: str, share: Share, services: ServicesDep, download: bool = False) -> FileResponse:
    store = services.store
    clip = share.clip
    paths = {
        "video": (store.video(clip.id), "video/mp4", "clip.mp4"),
        "poster": (store.poster(clip.id), "image/jpeg", "poster.jpg"),
        # The metadata-free display copy: never the original bytes, which may carry GPS.
        "photo": (store.display(clip.photo_id), "image/jpeg", "photo.jpg"),
    }
    path, media_type, filename = paths[path_kind]
    if not path.is_file():
        raise HTTPException(404, "file not found")
    headers = {"Cache-Control": SHARE_CACHE, "Referrer-Policy": "no-referrer"}
    return FileResponse(
        path,
        media_type=media_type,
        headers=headers,
        filename=filename if download else None,
        content_disposition_type="attachment" if download else "inline",
    )


@router.get("/{token}/video")
def shared_video(share: UnlockedShare, services: ServicesDep) -> FileResponse:
    return _shared_file("video", share, services)


@router.get("/{token}/poster")
def shared_poster(share: UnlockedShare, services: ServicesDep) -> FileResponse:
    return _shared_file("poster", share, services)


@router.get("/{token}/photo")
def shared_photo(share: UnlockedShare, services: ServicesDep) -> FileResponse:
    return _shared_file("photo", share, services)


@router.get("/{token}/download/{kind}")
def shared_download(kind: str, share: UnlockedShare, services: ServicesDep) -> FileResponse:
    if not share.allow_download or kind not in ("video", "photo"):
        raise HTTPException(404, "downloads are not allowed for this link")
    return _shared_file(kind, share, services, download=True)
