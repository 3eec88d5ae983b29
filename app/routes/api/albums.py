"""Albums: making, filling, renaming and deleting them, and animating every photo in one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException

from app.albums import (
    UnknownPhotos,
    add_photos,
    album_photos,
    albums_of,
    create_album,
    list_albums,
    may_edit,
    remove_photo,
    set_cover,
    summarise,
)
from app.deps import CurrentUser, ServicesDep, SessionDep, album_or_404, photo_or_404, queue_clips
from app.films import album_film_ids, film_out, request_film
from app.models import Album, User
from app.schemas import AlbumAdded, AlbumDetail, AlbumIn, AlbumOut, AlbumPatch, FilmOut, PhotoIds, Queued
from app.urls import album_out, photos_out

router = APIRouter()

NOT_YOURS: dict[int | str, dict[str, Any]] = {403: {"description": "made by someone else"}}


def _out(session: SessionDep, album: Album, user: User) -> AlbumOut:
    return album_out(summarise(session=session, albums=[album])[0], user)


def _editable(session: SessionDep, album_id: str, user: User) -> Album:
    album = album_or_404(session, album_id)
    if not may_edit(user, album):
        raise HTTPException(403, "only the person who made this album, or an admin, can rename or delete it")
    return album


@router.post("/albums", status_code=201)
def new_album(body: AlbumIn, user: CurrentUser, session: SessionDep) -> AlbumOut:
    album = create_album(session=session, user=user, title=body.title, description=body.description)
    return _out(session, album, user)


@router.get("/albums")
def get_albums(user: CurrentUser, session: SessionDep) -> list[AlbumOut]:
    """Every album of the family, newest first, with its cover and photo count."""
    return [album_out(summary, user) for summary in list_albums(session=session)]


@router.get("/photos/{photo_id}/albums")
def get_photo_albums(photo_id: str, user: CurrentUser, session: SessionDep) -> list[AlbumOut]:
    """The albums this photo is in, by title."""
    photo = photo_or_404(session, photo_id)
    return [album_out(summary, user) for summary in albums_of(session=session, photo_id=photo.id)]


@router.get("/albums/{album_id}")
def get_album(album_id: str, user: CurrentUser, session: SessionDep) -> AlbumDetail:
    """The album with its photos by date taken, oldest first (the photo items of GET /api/photos)."""
    album = album_or_404(session, album_id)
    photos = album_photos(session=session, album_id=album.id)
    return AlbumDetail(**_out(session, album, user).model_dump(), photos=photos_out(session, user, photos))


@router.patch("/albums/{album_id}", responses={**NOT_YOURS, 422: {"description": "cover not in the album"}})
def edit_album(album_id: str, body: AlbumPatch, user: CurrentUser, session: SessionDep) -> AlbumOut:
    """Rename, describe or choose the cover: for whoever made the album, or an admin."""
    album = _editable(session, album_id, user)
    if body.title is not None:
        album.title = body.title
    if body.description is not None:
        album.description = body.description
    if "cover_photo_id" in body.model_fields_set:
        try:
            set_cover(session=session, album=album, photo_id=body.cover_photo_id)
        except LookupError as exc:
            raise HTTPException(422, str(exc)) from None
    session.flush()
    return _out(session, album, user)


@router.delete("/albums/{album_id}", status_code=204, responses=NOT_YOURS)
def delete_album(
    album_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep, background: BackgroundTasks
) -> None:
    """Delete the album and its films; its photos stay in the library."""
    album = _editable(session, album_id, user)
    film_ids = album_film_ids(session, album.id)
    session.delete(album)
    # After the response, once the rows are gone: a file removed first would be missing from a ready film.
    background.add_task(services.store.delete_films, film_ids)


@router.post(
    "/albums/{album_id}/photos",
    responses={404: {"description": "no such album, or unknown photo ids, named"}},
)
def add_to_album(album_id: str, body: PhotoIds, user: CurrentUser, session: SessionDep) -> AlbumAdded:
    """Add photos (any member); photos already in the album are left as they are."""
    album = album_or_404(session, album_id)
    try:
        return AlbumAdded(added=add_photos(session=session, album=album, photo_ids=body.photo_ids))
    except UnknownPhotos as exc:
        raise HTTPException(404, str(exc)) from None


@router.delete("/albums/{album_id}/photos/{photo_id}", status_code=204)
def remove_from_album(album_id: str, photo_id: str, user: CurrentUser, session: SessionDep) -> None:
    """Take a photo out of the album (any member); the photo stays in the library."""
    remove_photo(session=session, album=album_or_404(session, album_id), photo_id=photo_id)


@router.post("/albums/{album_id}/animate", responses={404: {"description": "no such album"}})
def animate_album(
    album_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep, background: BackgroundTasks
) -> Queued:
    """A default clip for each photo of the album that has none queued, running or ready."""
    album = album_or_404(session, album_id)
    photo_ids = [photo.id for photo in album_photos(session=session, album_id=album.id)]
    return queue_clips(session, services, background, photo_ids)


@router.post("/albums/{album_id}/film", status_code=202, responses={404: {"description": "no such album"}})
def make_album_film(
    album_id: str, user: CurrentUser, session: SessionDep, services: ServicesDep, background: BackgroundTasks
) -> FilmOut:
    """Make the album's film: its photos by date taken, each one's clip (or the photo, still) fading into
    the next. Follow it at GET /api/films/{id}."""
    film = request_film(session, album_or_404(session, album_id), user)
    background.add_task(services.dispatcher.send_film, film.id)
    return film_out(film)
