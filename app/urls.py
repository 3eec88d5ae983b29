"""URLs of things, relative for our own pages and absolute for previews in other apps."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from app.albums import AlbumSummary, may_edit
from app.clips import clip_out, clip_to_show
from app.config import Settings
from app.favourites import favourite_ids
from app.models import Photo, User
from app.schemas import AlbumOut, PhotoOut


def absolute_url(request: Request, settings: Settings, path: str) -> str:
    base = settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return base + path


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def only_this_computer(request: Request, settings: Settings) -> bool:
    """True when links made now would point at this computer alone: the page was asked for on a loopback
    name and no public address is configured, so nobody else could open them."""
    return not settings.public_url and (request.url.hostname or "").lower() in LOCAL_HOSTS


def photo_out(photo: Photo, *, favourite: bool = False) -> PhotoOut:
    base = f"/media/photos/{photo.id}"
    return PhotoOut(
        id=photo.id,
        sha256=photo.sha256,
        width=photo.width,
        height=photo.height,
        format=photo.format,
        original_name=photo.original_name,
        created_at=photo.created_at,
        taken_at=photo.taken.isoformat(),
        taken_at_source=photo.taken.source,
        thumbnail_url=thumbnail_url(photo.id),
        display_url=f"{base}/display.jpg",
        original_url=f"{base}/original",
        clips=[clip_out(c) for c in photo.clips],
        favourite=favourite,
        chosen_clip_id=photo.chosen_clip_id,
        shown_clip_id=shown.id if (shown := clip_to_show(photo)) else None,
    )


def photos_out(session: Session, user: User, photos: list[Photo]) -> list[PhotoOut]:
    """Photo items as the signed-in member sees them (their own favourites marked)."""
    marked = favourite_ids(session=session, user_id=user.id, photo_ids=(p.id for p in photos))
    return [photo_out(p, favourite=p.id in marked) for p in photos]


def thumbnail_url(photo_id: str) -> str:
    return f"/media/photos/{photo_id}/thumb.jpg"


def album_out(summary: AlbumSummary, user: User) -> AlbumOut:
    album = summary.album
    return AlbumOut(
        id=album.id,
        title=album.title,
        description=album.description,
        cover_photo_id=summary.cover_id,
        cover_url=thumbnail_url(summary.cover_id) if summary.cover_id else None,
        photo_count=summary.photo_count,
        created_by=album.creator.email if album.creator else None,
        can_edit=may_edit(user, album),
        created_at=album.created_at,
    )
