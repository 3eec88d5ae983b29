"""Share links: an unguessable token in the URL, only its keyed hash in the database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from app.albums import AlbumSummary, summarise
from app.auth import hash_password, hash_token, verify_password
from app.errors import ServiceError
from app.models import Album, AlbumPhoto, Clip, Share, utcnow
from app.schemas import ShareOut, ShareRequest, ShareStatus
from app.urls import thumbnail_url

# 32 random bytes: 256 bits, far past guessing.
TOKEN_BYTES = 32


class ShareError(ServiceError):
    pass


def _new_share(
    *,
    session: Session,
    request: ShareRequest,
    secret: str,
    user_id: str,
    clip_id: str | None = None,
    album_id: str | None = None,
) -> tuple[Share, str]:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    share = Share(
        clip_id=clip_id,
        album_id=album_id,
        token_hash=hash_token(token, secret),
        created_by=user_id,
        allow_download=request.allow_download,
        password_hash=hash_password(request.password) if request.password else None,
        expires_at=utcnow() + timedelta(days=request.expires_in_days) if request.expires_in_days else None,
    )
    session.add(share)
    session.flush()
    return share, token


def create_share(
    *, session: Session, clip: Clip, request: ShareRequest, secret: str, user_id: str
) -> tuple[Share, str]:
    if clip.status != "ready":
        raise ShareError(409, f"this clip is {clip.status}; only a finished clip can be shared")
    return _new_share(session=session, request=request, secret=secret, user_id=user_id, clip_id=clip.id)


def create_album_share(
    *, session: Session, album: Album, request: ShareRequest, secret: str, user_id: str
) -> tuple[Share, str]:
    """A link to the whole album: whoever holds it sees the album's photos as they are when they open it."""
    if session.scalar(select(AlbumPhoto.photo_id).where(AlbumPhoto.album_id == album.id).limit(1)) is None:
        raise ShareError(409, "this album has no photos yet; add some, then share it")
    return _new_share(session=session, request=request, secret=secret, user_id=user_id, album_id=album.id)


def find_live_share(*, session: Session, token: str, secret: str) -> Share | None:
    """The share for this token if it exists, is not revoked and has not expired, and (for a clip link)
    its clip is ready. An album link lives as long as its album (the key cascades)."""
    if not 20 <= len(token) <= 100:
        return None
    share = session.scalar(select(Share).where(Share.token_hash == hash_token(token, secret)))
    if share is None or not share.is_live(utcnow()):
        return None
    if share.clip is not None and share.clip.status != "ready":
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
    *,
    session: Session,
    clip_id: str | None = None,
    photo_id: str | None = None,
    album_id: str | None = None,
) -> list[Share]:
    """The links a member is shown, newest first: every one not revoked. Expired links are listed too
    (as expired): a link that stopped working on its own is something the family wants to see."""
    query = (
        select(Share)
        .outerjoin(Share.clip)
        .where(Share.revoked_at.is_(None))
        # Each row names its photo or album: a few queries in all, not a few per link.
        .options(selectinload(Share.clip).selectinload(Clip.photo), selectinload(Share.album))
    )
    if clip_id is not None:
        query = query.where(Share.clip_id == clip_id)
    if photo_id is not None:
        query = query.where(Clip.photo_id == photo_id)
    if album_id is not None:
        query = query.where(Share.album_id == album_id)
    return list(session.scalars(query.order_by(Share.created_at.desc(), Share.id)))


def share_status(share: Share) -> ShareStatus:
    return "live" if share.is_live(utcnow()) else "expired"


def share_out(share: Share, url: str) -> ShareOut:
    """The one shape of a link in every answer, clip or album."""
    return ShareOut(
        id=share.id,
        url=url,
        kind=share.kind,
        clip_id=share.clip_id,
        photo_id=share.clip.photo_id if share.clip is not None else None,
        album_id=share.album_id,
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
    """A row of the Links page: the link, and what it shows, in words a family reads."""

    link: ShareOut
    title: str  # the photo's day ("21 February 2023"), or the album's title
    href: str  # the member page of what the link shows
    thumbnail_url: str | None
    detail: str  # "Clip 1 of 2" / "Album · 12 photos"


def _clip_row(share: Share, clip: Clip) -> LibraryLink:
    clips = clip.photo.clips
    number = next(i for i, c in enumerate(clips, start=1) if c.id == clip.id)
    detail = f"Clip {number} of {len(clips)}" if len(clips) > 1 else "Clip"
    return LibraryLink(
        link=share_out(share, url=""),
        title=clip.photo.taken.title,
        href=f"/photos/{clip.photo_id}",
        thumbnail_url=thumbnail_url(clip.photo_id),
        detail=detail,
    )


def _album_row(share: Share, summary: AlbumSummary) -> LibraryLink:
    count = summary.photo_count
    return LibraryLink(
        link=share_out(share, url=""),
        title=summary.album.title,
        href=f"/albums/{summary.album.id}",
        thumbnail_url=thumbnail_url(summary.cover_id) if summary.cover_id else None,
        detail=f"Album · {count} photo{'' if count == 1 else 's'}",
    )


def library_links(*, session: Session) -> list[LibraryLink]:
    shares = listed_shares(session=session)
    albums = {s.album.id: s.album for s in shares if s.album is not None}
    summaries = {a.album.id: a for a in summarise(session=session, albums=list(albums.values()))}
    return [
        _album_row(share, summaries[share.album_id])
        if share.album_id is not None
        else _clip_row(share, cast(Clip, share.clip))
        for share in shares
    ]
