"""URLs of things, relative for our own pages and absolute for previews in other apps."""

from __future__ import annotations

from fastapi import Request

from app.clips import clip_out, clip_to_show
from app.config import Settings
from app.models import Photo
from app.schemas import PhotoOut


def absolute_url(request: Request, settings: Settings, path: str) -> str:
    base = settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return base + path


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def only_this_computer(request: Request, settings: Settings) -> bool:
    """True when links made now would point at this computer alone: the page was asked for on a loopback
    name and no public address is configured, so nobody else could open them."""
    return not settings.public_url and (request.url.hostname or "").lower() in LOCAL_HOSTS


def photo_out(photo: Photo) -> PhotoOut:
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
        thumbnail_url=f"{base}/thumb.jpg",
        display_url=f"{base}/display.jpg",
        original_url=f"{base}/original",
        clips=[clip_out(c) for c in photo.clips],
        chosen_clip_id=photo.chosen_clip_id,
        shown_clip_id=shown.id if (shown := clip_to_show(photo)) else None,
    )
