"""Taking in one uploaded photo: decode by content, dedupe, store the original and its derivatives."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clips import create_clip
from app.config import Settings
from app.db import Database
from app.diskspace import DiskReserve, is_disk_full
from app.images import ReceivedFile, decode_upload, encode_jpeg
from app.models import Clip, Photo, User
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

    photo = Photo(
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
        # The original bytes untouched (it is the family's archive); derivatives re-encoded without metadata.
        move_into_place(received.path, paths[0])
        write_atomic(paths[1], encode_jpeg(decoded.image, long_side=DISPLAY_LONG_SIDE, quality=90))
        write_atomic(paths[2], encode_jpeg(decoded.image, long_side=THUMBNAIL_LONG_SIDE, quality=82))
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


def list_photos(*, session: Session, limit: int, cursor: str | None) -> tuple[list[Photo], str | None]:
    """Newest first, keyset-paginated so pages stay right while uploads arrive.

    The cursor is the id of the last photo of the previous page.
    """
    query = select(Photo).order_by(Photo.created_at.desc(), Photo.id.desc()).limit(limit + 1)
    if cursor:
        last = session.get(Photo, cursor)
        if last is None:
            raise LookupError("that cursor points at no photo (it may have been deleted); start again")
        query = query.where(
            or_(
                Photo.created_at < last.created_at,
                and_(Photo.created_at == last.created_at, Photo.id < last.id),
            )
        )
    photos = list(session.scalars(query))
    next_cursor = photos[limit - 1].id if len(photos) > limit else None
    return photos[:limit], next_cursor


def may_delete(user: User, photo: Photo) -> bool:
    """Deleting cannot be undone, so it is for the member who added the photo, or an admin; anyone in
    the family may still revoke a link, which loses nothing."""
    return user.is_admin or photo.owner_id == user.id


def delete_photo(*, session: Session, store: MediaStore, photo: Photo) -> None:
    clip_ids = [clip.id for clip in photo.clips]
    fmt, photo_id = photo.format, photo.id
    session.delete(photo)
    session.commit()
    store.delete_photo(photo_id, fmt, clip_ids)
