"""Albums: named sets of photos shown by date taken, with a cover, and clips asked for all at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.clips import create_clip
from app.config import Settings
from app.models import Album, AlbumPhoto, Clip, Photo, User
from app.schemas import ClipRequest

# A photo with a clip in one of these states needs no other when a whole album or selection is animated.
HAS_CLIP = ("queued", "running", "ready")


class UnknownPhotos(LookupError):
    def __init__(self, photo_ids: list[str]):
        super().__init__(f"no such photo: {', '.join(photo_ids)}; reload the page and choose again")
        self.photo_ids = photo_ids


@dataclass(frozen=True)
class AlbumSummary:
    album: Album
    photo_count: int
    cover_id: str | None


def may_edit(user: User, album: Album) -> bool:
    """Renaming or deleting an album is for whoever made it, or an admin; any member may fill it."""
    return user.is_admin or album.created_by == user.id


def create_album(*, session: Session, user: User, title: str, description: str = "") -> Album:
    album = Album(title=title, description=description, created_by=user.id)
    session.add(album)
    session.flush()
    return album


def album_photos(*, session: Session, album_id: str) -> list[Photo]:
    """The album's photos by date taken, oldest first: an album tells its story in order."""
    query = (
        select(Photo)
        .join(AlbumPhoto, AlbumPhoto.photo_id == Photo.id)
        .where(AlbumPhoto.album_id == album_id)
        .order_by(Photo.taken_at, Photo.id)
    )
    return list(session.scalars(query))


def summarise(*, session: Session, albums: list[Album]) -> list[AlbumSummary]:
    """Each album with its photo count and cover, in two queries whatever the number of albums."""
    ids = [album.id for album in albums]
    counts = dict(
        session.execute(
            select(AlbumPhoto.album_id, func.count())
            .where(AlbumPhoto.album_id.in_(ids))
            .group_by(AlbumPhoto.album_id)
        ).all()
    )
    # The first photo by date taken of each album, for those without a cover of their own.
    first = (
        select(
            AlbumPhoto.album_id,
            Photo.id,
            func.row_number()
            .over(partition_by=AlbumPhoto.album_id, order_by=(Photo.taken_at, Photo.id))
            .label("rank"),
        )
        .join(Photo, Photo.id == AlbumPhoto.photo_id)
        .where(AlbumPhoto.album_id.in_([a.id for a in albums if a.cover_photo_id is None]))
        .subquery()
    )
    firsts = dict(session.execute(select(first.c.album_id, first.c.id).where(first.c.rank == 1)).all())
    return [
        AlbumSummary(album, int(counts.get(album.id, 0)), album.cover_photo_id or firsts.get(album.id))
        for album in albums
    ]


def list_albums(*, session: Session) -> list[AlbumSummary]:
    """Every album of the family, newest first."""
    albums = list(session.scalars(select(Album).order_by(Album.created_at.desc(), Album.id)))
    return summarise(session=session, albums=albums)


def albums_of(*, session: Session, photo_id: str) -> list[AlbumSummary]:
    """The albums a photo is in, by title."""
    query = (
        select(Album)
        .join(AlbumPhoto, AlbumPhoto.album_id == Album.id)
        .where(AlbumPhoto.photo_id == photo_id)
        .order_by(Album.title, Album.id)
    )
    return summarise(session=session, albums=list(session.scalars(query)))


def _known_photos(session: Session, photo_ids: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(photo_ids))
    found = set(session.scalars(select(Photo.id).where(Photo.id.in_(wanted))))
    missing = [photo_id for photo_id in wanted if photo_id not in found]
    if missing:
        raise UnknownPhotos(missing)
    return wanted


def add_photos(*, session: Session, album: Album, photo_ids: list[str]) -> int:
    """Adds the photos not in the album yet; returns how many were new. Raises UnknownPhotos, adding none."""
    wanted = _known_photos(session, photo_ids)
    present = set(
        session.scalars(
            select(AlbumPhoto.photo_id).where(
                AlbumPhoto.album_id == album.id, AlbumPhoto.photo_id.in_(wanted)
            )
        )
    )
    new = [photo_id for photo_id in wanted if photo_id not in present]
    session.add_all(AlbumPhoto(album_id=album.id, photo_id=photo_id) for photo_id in new)
    session.flush()
    return len(new)


def remove_photo(*, session: Session, album: Album, photo_id: str) -> None:
    """Takes the photo out of the album (if it was in it); the photo itself stays in the library."""
    session.execute(
        delete(AlbumPhoto).where(AlbumPhoto.album_id == album.id, AlbumPhoto.photo_id == photo_id)
    )
    if album.cover_photo_id == photo_id:
        album.cover_photo_id = None
    session.flush()


def set_cover(*, session: Session, album: Album, photo_id: str | None) -> None:
    """Raises LookupError when the photo is not in the album (a cover from elsewhere would mislead)."""
    if photo_id is not None and session.get(AlbumPhoto, (album.id, photo_id)) is None:
        raise LookupError("that photo is not in this album; add it first, then make it the cover")
    album.cover_photo_id = photo_id


def animate_photos(*, session: Session, settings: Settings, photo_ids: list[str]) -> list[Clip]:
    """A default clip for each photo that has none queued, running or ready (a failed one is retried);
    asking again queues nothing more. Raises UnknownPhotos. The clips still have to be sent."""
    wanted = _known_photos(session, photo_ids)
    animated = set(
        session.scalars(select(Clip.photo_id).where(Clip.photo_id.in_(wanted), Clip.status.in_(HAS_CLIP)))
    )
    photos = session.scalars(select(Photo).where(Photo.id.in_([p for p in wanted if p not in animated])))
    return [
        create_clip(session=session, photo=photo, request=ClipRequest(), settings=settings)
        for photo in photos
    ]
