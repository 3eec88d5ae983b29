"""Share links: made for a clip or a whole album, listed, revoked."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from app.deps import CurrentUser, SessionDep, SettingsDep, album_or_404, clip_or_404, photo_or_404
from app.models import Share
from app.schemas import ShareOut, ShareRequest
from app.sharing import create_album_share, create_share, listed_shares, revoke_share, share_out
from app.urls import absolute_url

router = APIRouter()


def _with_url(made: tuple[Share, str], request: Request, settings: SettingsDep) -> ShareOut:
    """The new link with its URL, the only time the URL is shown."""
    share, token = made
    return share_out(share, absolute_url(request, settings, f"/s/{token}"))


@router.post("/clips/{clip_id}/shares", status_code=201, responses={409: {"description": "clip not ready"}})
def add_share(
    clip_id: str,
    body: ShareRequest,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> ShareOut:
    """Create a share link. The URL is shown once: only a hash of its token is kept."""
    clip = clip_or_404(session, clip_id)
    secret = settings.session_secret
    made = create_share(session=session, clip=clip, request=body, secret=secret, user_id=user.id)
    return _with_url(made, request, settings)


@router.get("/clips/{clip_id}/shares")
def clip_shares(clip_id: str, user: CurrentUser, session: SessionDep) -> list[ShareOut]:
    """Links to a clip that are not revoked, live or expired (their URLs cannot be shown again)."""
    clip = clip_or_404(session, clip_id)
    return [share_out(s, url="") for s in listed_shares(session=session, clip_id=clip.id)]


@router.get("/photos/{photo_id}/shares")
def photo_shares(photo_id: str, user: CurrentUser, session: SessionDep) -> list[ShareOut]:
    """Links to any clip of a photo, older clips' included, that are not revoked, live or expired."""
    photo = photo_or_404(session, photo_id)
    return [share_out(s, url="") for s in listed_shares(session=session, photo_id=photo.id)]


@router.post(
    "/albums/{album_id}/shares",
    status_code=201,
    responses={404: {"description": "no such album"}, 409: {"description": "the album has no photos"}},
)
def add_album_share(
    album_id: str,
    body: ShareRequest,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> ShareOut:
    """Create a link to a whole album (any member, as for a clip). The URL is shown once."""
    album = album_or_404(session, album_id)
    secret = settings.session_secret
    made = create_album_share(session=session, album=album, request=body, secret=secret, user_id=user.id)
    return _with_url(made, request, settings)


@router.get("/albums/{album_id}/shares", responses={404: {"description": "no such album"}})
def album_shares(album_id: str, user: CurrentUser, session: SessionDep) -> list[ShareOut]:
    """Links to the album that are not revoked, live or expired (their URLs cannot be shown again)."""
    album = album_or_404(session, album_id)
    return [share_out(s, url="") for s in listed_shares(session=session, album_id=album.id)]


@router.delete("/shares/{share_id}", status_code=204)
def delete_share(share_id: str, user: CurrentUser, session: SessionDep) -> None:
    share = session.get(Share, share_id)
    if share is None:
        raise HTTPException(404, "no such share")
    revoke_share(session=session, share=share)


@router.get("/shares")
def all_shares(user: CurrentUser, session: SessionDep) -> list[ShareOut]:
    """Every link in the library, to clips and albums, that is not revoked, live or expired, newest first."""
    return [share_out(s, url="") for s in listed_shares(session=session)]
