"""Member-only media files. Starlette's FileResponse answers HTTP Range requests (browsers seek with them)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from app.deps import CurrentUser, ServicesDep, SessionDep, clip_or_404, film_or_404, photo_or_404
from app.films import film_file_name
from app.models import Album

router = APIRouter(prefix="/media")

# Browsers may keep member media a while; ids never get new content.
PRIVATE_CACHE = "private, max-age=86400"


def _file(path: Path, media_type: str, filename: str | None = None) -> FileResponse:
    if not path.is_file():
        raise HTTPException(404, "file not found")
    return FileResponse(
        path, media_type=media_type, filename=filename, headers={"Cache-Control": PRIVATE_CACHE}
    )


@router.get("/photos/{photo_id}/thumb.jpg")
def thumbnail(photo_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> FileResponse:
    return _file(services.store.thumbnail(photo_or_404(session, photo_id).id), "image/jpeg")


@router.get("/photos/{photo_id}/display.jpg")
def display(photo_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> FileResponse:
    return _file(services.store.display(photo_or_404(session, photo_id).id), "image/jpeg")


@router.get("/photos/{photo_id}/original")
def original(photo_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> FileResponse:
    """The uploaded bytes, untouched (metadata included: members only)."""
    photo = photo_or_404(session, photo_id)
    path = services.store.original(photo.id, photo.format)
    return _file(path, f"image/{photo.format}", filename=photo.original_name)


@router.get("/clips/{clip_id}.mp4")
def clip_video(clip_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> FileResponse:
    return _file(services.store.video(clip_or_404(session, clip_id, ready=True).id), "video/mp4")


@router.get("/clips/{clip_id}/download")
def clip_download(
    clip_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> FileResponse:
    """The video as an attachment named by the day the photo was taken (vivant-2023-02-21.mp4)."""
    clip = clip_or_404(session, clip_id, ready=True)
    name = f"vivant-{clip.photo.taken_at:%Y-%m-%d}.mp4"
    return _file(services.store.video(clip.id), "video/mp4", filename=name)


@router.get("/clips/{clip_id}.jpg")
def clip_poster(clip_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> FileResponse:
    return _file(services.store.poster(clip_or_404(session, clip_id, ready=True).id), "image/jpeg")


@router.get("/films/{film_id}.mp4")
def film_video(film_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep) -> FileResponse:
    return _file(services.store.film(film_or_404(session, film_id, ready=True).id), "video/mp4")


@router.get("/films/{film_id}/download")
def film_download(
    film_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> FileResponse:
    """The film as a file named after its album."""
    film = film_or_404(session, film_id, ready=True)
    name = film_file_name(session.get(Album, film.album_id))
    return _file(services.store.film(film.id), "video/mp4", filename=name)
