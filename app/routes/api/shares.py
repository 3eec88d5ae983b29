"""Share links: made for a clip, listed, revoked."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from app.deps import CurrentUser, SessionDep, SettingsDep, clip_or_404
from app.models import Share
from app.schemas import ShareOut, ShareRequest
from app.sharing import create_share, revoke_share, share_out
from app.urls import absolute_url

router = APIRouter()


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
    share, token = create_share(
        session=session,
        clip=clip_or_404(session, clip_id),
        request=body,
        secret=settings.session_secret,
        user_id=user.id,
    )
    return share_out(share, absolute_url(request, settings, f"/s/{token}"))


@router.get("/clips/{clip_id}/shares")
def list_shares(clip_id: str, user: CurrentUser, session: SessionDep) -> list[ShareOut]:
    """Live links of a clip (their URLs cannot be shown again)."""
    clip = clip_or_404(session, clip_id)
    return [share_out(s, url="") for s in clip.shares if s.revoked_at is None]


@router.delete("/shares/{share_id}", status_code=204)
def delete_share(share_id: str, user: CurrentUser, session: SessionDep) -> None:
    share = session.get(Share, share_id)
    if share is None:
        raise HTTPException(404, "no such share")
    revoke_share(session=session, share=share)


@router.get("/shares")
def all_shares(user: CurrentUser, session: SessionDep) -> list[ShareOut]:
    shares = session.scalars(
        select(Share).where(Share.revoked_at.is_(None)).order_by(Share.created_at.desc())
    )
    return [share_out(s, url="") for s in shares]
