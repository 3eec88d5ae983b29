"""Share links: an unguessable token in the URL, only its keyed hash in the database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from app.auth import hash_password, hash_token, verify_password
from app.errors import ServiceError
from app.models import Clip, Share, utcnow
from app.schemas import PhotoOut, ShareOut, ShareRequest, ShareStatus
from app.urls import photo_out

# 32 random bytes: 256 bits, far past guessing.
TOKEN_BYTES = 32


class ShareError(ServiceError):
    pass


def create_share(
    *, session: Session, clip: Clip, request: ShareRequest, secret: str, user_id: str
) -> tuple[Share, str]:
    if clip.status != "ready":
        raise ShareError(409, f"this clip is {clip.status}; only a finished clip can be shared")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    share = Share(
        clip_id=clip.id,
        token_hash=hash_token(token, secret),
        created_by=user_id,
        allow_download=request.allow_download,
        password_hash=hash_password(request.password) if request.password else None,
        expires_at=utcnow() + timedelta(days=request.expires_in_days) if request.expires_in_days else None,
    )
    session.add(share)
    session.flush()
    return share, token


def find_live_share(*, session: Session, token: str, secret: str) -> Share | None:
    """The share for this token if it exists, is not revoked, has not expired and its clip is ready."""
    if not 20 <= len(token) <= 100:
        return None
    share = session.scalar(select(Share).where(Share.token_hash == hash_token(token, secret)))
    if share is None or not share.is_live(utcnow()) or share.clip.status != "ready":
        return None
    return share


def password_ok(share: Share, password: str | None) -> bool:
    if share.password_hash is None:
        return True
    return password is not None and verify_password(share.password_hash, password)


def count_open(*, session: Session, share: Share) -> None:
    # In SQL, so that visitors opening the link at the same moment are each counted.
    session.execute(update(Share).where(Share.id == share.id).values(opens=Share.opens + 1))


def revoke_share(*, session: Session, share: Share) -> None:
    if share.revoked_at is None:
        share.revoked_at = utcnow()


def listed_shares(
    *, session: Session, clip_id: str | None = None, photo_id: str | None = None
) -> list[Share]:
    """The links a member is shown, newest first: every one not revoked. Expired links are listed too
    (as expired): a link that stopped working on its own is something the family wants to see."""
    query = (
        select(Share)
        .join(Share.clip)
        .where(Share.revoked_at.is_(None))
        # Each row names its photo: load clips and photos in two queries, not two per link.
        .options(selectinload(Share.clip).selectinload(Clip.photo))
    )
    if clip_id is not None:
        query = query.where(Share.clip_id == clip_id)
    if photo_id is not None:
        query = query.where(Clip.photo_id == photo_id)
    return list(session.scalars(query.order_by(Share.created_at.desc(), Share.id)))


def share_status(share: Share) -> ShareStatus:
    return "live" if share.is_live(utcnow()) else "expired"


def share_out(share: Share, url: str) -> ShareOut:
    return ShareOut(
        id=share.id,
        url=url,
        clip_id=share.clip_id,
        photo_id=share.clip.photo_id,
        status=share_status(share),
        allow_download=share.allow_download,
        expires_at=share.expires_at,
        has_password=share.password_hash is not None,
        created_at=share.created_at,
        created_by=share.creator.email if share.creator else None,
        opens=share.opens,
    )


@dataclass(frozen=True)
class LibraryLink:
    """A row of the Links page: the link, and what it shows."""

    link: ShareOut
    photo: PhotoOut
    clip_number: int  # the clip's place among its photo's clips, 1 for the first
    clip_count: int


def library_links(*, session: Session) -> list[LibraryLink]:
    rows = []
    for share in listed_shares(session=session):
        clips = share.clip.photo.clips
        number = next(i for i, clip in enumerate(clips, start=1) if clip.id == share.clip_id)
        rows.append(
            LibraryLink(
                link=share_out(share, url=""),
                photo=photo_out(share.clip.photo),
                clip_number=number,
                clip_count=len(clips),
            )
        )
    return rows
