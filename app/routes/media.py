"""Member-only media files. Starlette's FileResponse answers HTTP Range requests (browsers seek with them)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from app.deps import CurrentUser, ServicesDep, SessionDep
from app.models import Clip, Photo

router = APIRouter(prefix="/media")

# Browsers may keep member media a while; ids never get new content.
PRIVATE_CACHE = "private, max-age=86400"


def _file(path: Path, media_type: str, filename: str | None = None) -> FileResponse:
    if not path.is_file():
        raise HTTPException(404, "file not found")
    response = FileResponse(
        path, media_type=media_type, filename=filename, headers={"Cache-Control": PRIVATE_CACHE}
    )
    return response


def _photo(session: SessionDep, photo_id: str) -> Photo:
    photo = session.get(Photo, photo_id)
    if photo is None:
        raise HTTPException(404, "no such photo")
    return photo


def _ready_clip(session: SessionDep, clip_id: str) -> Clip:
    clip = session.get(Clip, clip_id)
    if clip is None or clip.status != "ready":
        raise HTTPException(404, "no such clip")
    return clip


@router.get("/photos/{photo_id}/thumb.jpg")
def thumbnail(photo_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> FileResponse:
    return _file(services.store.thumbnail(_photo(session, photo_id).id), "image/jpeg")


@router.get("/photos/{photo_id}/display.jpg")
def display(photo_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> FileResponse:
    return _file(services.store.display(_photo(session, photo_id).id), "image/jpeg")


@router.get("/photos/{photo_id}/original")
def original(photo_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> FileResponse:
    """The uploaded bytes, untouched (metadata included: members only)."""
    photo = _photo(session, photo_id)
    path = services.store.original(photo.id, photo.format)
    return _file(path, f"image/{photo.format}", filename=photo.original_name)


@router.get("/clips/{clip_id}.mp4")
def clip_video(clip_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> FileResponse:
    return _file(services.store.video(_ready_clip(session, clip_id).id), "video/mp4")


@router.get("/clips/{clip_id}.jpg")
def clip_poster(clip_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> FileResponse:
    return _file(services.store.poster(_ready_clip(session, clip_id).id), "image/jpeg")
