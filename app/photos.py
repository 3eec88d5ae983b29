"""Taking in one uploaded photo: decode by content, dedupe, store the original and its derivatives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PIL import Image
from sqlalchemy import and_, extract, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clips import create_clip
from app.config import Settings
from app.dates import exif_taken_at, uploaded_at
from app.db import Database
from app.diskspace import DiskReserve, is_disk_full
from app.images import ReceivedFile, decode_upload, encode_jpeg
from app.models import Clip, Favourite, Photo, User, utcnow
from app.schemas import ClipRequest
from app.storage import MediaStore, move_into_place, write_atomic

DISPLAY_LONG_SIDE = 2560
THUMBNAIL_LONG_SIDE = 480


@dataclass(frozen=True)
class Ingested:
    photo: Photo
    duplicate: bool


def safe_display_name(filename: str | None) -> str:
    """The uploaded name, kept only as a label: path parts and control characters removed."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:255] or "photo"


def ingest_photo(
    *,
    session: Session,
    store: MediaStore,
    settings: Settings,
    received: ReceivedFile,
    filename: str | None,
    owner_id: str,
) -> Ingested:
    """Store a new photo, or return the one already stored with the same bytes.

    The received file (a temporary file inside the store) becomes the original by a rename; the caller
    removes it when it is a duplicate. Raises app.images.ImageRejected (with a 4xx status and a reason)
    before anything is written, and DiskFull (with nothing written) when the disk fills meanwhile.
    """
    decoded = decode_upload(received, max_pixels=settings.max_pixels, max_bytes=settings.max_upload_bytes)
    existing = session.scalar(select(Photo).where(Photo.sha256 == decoded.sha256))
    if existing is not None:
        return Ingested(existing, duplicate=True)

    taken = exif_taken_at(received.path, decoded.format) or uploaded_at(utcnow())
    photo = Photo(
        taken_at=taken.local,
        taken_offset_minutes=taken.offset_minutes,
        taken_at_source=taken.source,
        sha256=decoded.sha256,
        original_name=safe_display_name(filename),
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        size_bytes=received.size,
        owner_id=owner_id,
    )
    session.add(photo)
    session.flush()  # assigns the id
    paths = [store.original(photo.id, photo.format), store.display(photo.id), store.thumbnail(photo.id)]
    try:
        # The original bytes untouched (it is the family's archive).
        move_into_place(received.path, paths[0])
        write_derivatives(store, photo.id, decoded.image)
        session.commit()
    except IntegrityError:
        # The same photo arrived twice at once; the other request stored it first.
        session.rollback()
        for path in paths:
            path.unlink(missing_ok=True)
        winner = session.scalar(select(Photo).where(Photo.sha256 == decoded.sha256))
        if winner is None:
            raise
        return Ingested(winner, duplicate=True)
    except BaseException as exc:
        session.rollback()
        for path in paths:
            path.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskReserve.for_media(settings).full() from exc
        raise
    return Ingested(photo, duplicate=False)


def write_derivatives(store: MediaStore, photo_id: str, image: Image.Image) -> None:
    """The display copy and the thumbnail, re-encoded without metadata from the decoded original."""
    write_atomic(store.display(photo_id), encode_jpeg(image, long_side=DISPLAY_LONG_SIDE, quality=90))
    write_atomic(store.thumbnail(photo_id), encode_jpeg(image, long_side=THUMBNAIL_LONG_SIDE, quality=82))


def regenerate_derivatives(*, store: MediaStore, settings: Settings, photo: Photo) -> None:
    """Make the display copy and thumbnail again from the stored original (`vivant check --repair`)."""
    data = store.original(photo.id, photo.format).read_bytes()
    write_derivatives(store, photo.id, decode_upload(data, max_pixels=settings.max_pixels).image)


@dataclass(frozen=True)
class Added:
    photo: Photo
    duplicate: bool
    clip: Clip | None  # the default clip queued for a new photo, when asked


def add_photo(
    *,
    database: Database,
    store: MediaStore,
    settings: Settings,
    received: ReceivedFile,
    filename: str | None,
    owner_id: str,
    animate: bool,
) -> Added:
    """One photo in its own transaction, with a default clip row for a new one when `animate`.

    Raises app.images.ImageRejected before anything is written. The clip still has to be sent.
    """
    with database.session() as session:
        ingested = ingest_photo(
            session=session,
            store=store,
            settings=settings,
            received=received,
            filename=filename,
            owner_id=owner_id,
        )
        clip = None
        if animate and not ingested.duplicate:
            clip = create_clip(
                session=session, photo=ingested.photo, request=ClipRequest(), settings=settings
            )
    return Added(ingested.photo, ingested.duplicate, clip)


_CURSOR_TIME = "%Y%m%dT%H%M%S%f"


def _cursor(photo: Photo) -> str:
    return f"{photo.taken_at.strftime(_CURSOR_TIME)}.{photo.id}"


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    taken, _, photo_id = cursor.partition(".")
    try:
        return datetime.strptime(taken, _CURSOR_TIME), photo_id
    except ValueError:
        raise LookupError("that cursor is not one this server gave; start from the first page") from None


def list_photos(
    *,
    session: Session,
    limit: int,
    cursor: str | None,
    year: int | None = None,
    favourites_of: str | None = None,
) -> tuple[list[Photo], str | None]:
    """By date taken, newest first, keyset-paginated on (taken_at, id): pages stay right while uploads
    arrive, and a deep page costs what the first does (the timeline index serves both).

    The cursor holds the date and id of the last photo of the previous page, so it outlives that photo.
    `year` starts the timeline at the newest photo taken in that year (or before it); `favourites_of`
    keeps only the photos that member marked as favourites.
    """
    query = select(Photo).order_by(Photo.taken_at.desc(), Photo.id.desc()).limit(limit + 1)
    if favourites_of is not None:
        query = query.join(
            Favourite, and_(Favourite.photo_id == Photo.id, Favourite.user_id == favourites_of)
        )
    if year is not None:
        query = query.where(Photo.taken_at < datetime(year + 1, 1, 1))
    if cursor:
        taken, photo_id = _parse_cursor(cursor)
        query = query.where(or_(Photo.taken_at < taken, and_(Photo.taken_at == taken, Photo.id < photo_id)))
    photos = list(session.scalars(query))
    next_cursor = _cursor(photos[limit - 1]) if len(photos) > limit else None
    return photos[:limit], next_cursor


def photo_years(*, session: Session) -> list[tuple[int, int]]:
    """(year, photos taken that year), newest year first."""
    year = extract("year", Photo.taken_at)
    rows = session.execute(select(year, func.count()).group_by(year).order_by(year.desc()))
    return [(int(found), int(count)) for found, count in rows]


def may_delete(user: User, photo: Photo) -> bool:
    """Deleting cannot be undone, so it is for the member who added the photo, or an admin; anyone in
    the family may still revoke a link, which loses nothing."""
    return user.is_admin or photo.owner_id == user.id


def delete_photo(*, session: Session, store: MediaStore, photo: Photo) -> None:
    """The photo with its clips, links and every file of theirs; a worker rendering one of its clips
    notices and stops."""
    clip_ids = [clip.id for clip in photo.clips]
    fmt, photo_id = photo.format, photo.id
    session.delete(photo)
    session.commit()
    store.delete_photo(photo_id, fmt, clip_ids)
