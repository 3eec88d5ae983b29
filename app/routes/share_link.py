"""What every public link route needs: the token resolved to a live link, its password cookie checked,
and files served so that no shared cache keeps them. Clip links (share.py) and album links (shared_album.py)
both build on it, so both follow the same rules.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from app.deps import SessionDep, SettingsDep
from app.models import Share
from app.sharing import find_live_share

SHARE_COOKIE = "vivant_share"
# Shared files may be cached by the browser only, and re-checked so that a revoke takes effect.
SHARE_CACHE = "private, no-cache"
GONE = "this link does not exist, has expired or was revoked"


def unlock_value(share: Share, secret: str) -> str:
    # Bound to the password hash: changing the password locks every browser out again.
    message = f"{share.id}:{share.password_hash}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def is_locked(request: Request, share: Share, secret: str) -> bool:
    """True while the link has a password and this browser has not given it."""
    if share.password_hash is None:
        return False
    return not hmac.compare_digest(request.cookies.get(SHARE_COOKIE, ""), unlock_value(share, secret))


def live_share(token: str, session: SessionDep, settings: SettingsDep) -> Share:
    share = find_live_share(session=session, token=token, secret=settings.session_secret)
    if share is None:
        raise HTTPException(404, GONE)
    return share


LiveShare = Annotated[Share, Depends(live_share)]


def unlocked(request: Request, share: Share, secret: str) -> Share:
    if is_locked(request, share, secret):
        raise HTTPException(401, "this link needs its password")
    return share


def clip_share(request: Request, share: LiveShare, settings: SettingsDep) -> Share:
    """A clip link, unlocked. An album link is no key to these routes: 404, as for any unknown link."""
    if share.clip is None:
        raise HTTPException(404, GONE)
    return unlocked(request, share, settings.session_secret)


def album_share(request: Request, share: LiveShare, settings: SettingsDep) -> Share:
    """An album link, unlocked. A clip link is no key to these routes."""
    if share.album is None:
        raise HTTPException(404, GONE)
    return unlocked(request, share, settings.session_secret)


ClipShare = Annotated[Share, Depends(clip_share)]
AlbumShare = Annotated[Share, Depends(album_share)]


def shared_file(path: Path, media_type: str, filename: str, *, download: bool = False) -> FileResponse:
    """A file of a link: inline, or as an attachment named `filename` when it is a download."""
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


def public_page(response: HTMLResponse) -> HTMLResponse:
    """A link's page is never kept, and never tells the next site where the visitor came from."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
