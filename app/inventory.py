"""What the database promises the media store holds, and what the store holds that no row owns.

Backups copy the promised files of a snapshot; `vivant check` compares both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import ColumnElement, Connection, func, select
from sqlalchemy.orm import Session

from app.models import Album, Base, Clip, Film, Photo, Share, User
from app.storage import CLIP_AREA, FILM_AREA, MASK_AREA, MediaStore

FileKind = Literal[
    "original", "display copy", "thumbnail", "clip video", "clip poster", "keep-still mask", "film"
]
PHOTO_KINDS: tuple[FileKind, ...] = ("original", "display copy", "thumbnail")


@dataclass(frozen=True)
class MediaFile:
    path: Path
    kind: FileKind
    owner: str  # which photo, clip or film, in words: "photo hopper.jpg (3f2a...)"
    photo_id: str | None  # None for a film, which belongs to an album
    clip_id: str | None = None
    film_id: str | None = None
    sha256: str | None = None  # known for originals: the photo row keeps the hash of the uploaded bytes


def promised_files(db: Connection | Session, store: MediaStore) -> list[MediaFile]:
    """Every file the rows promise: each photo's original and derivatives, each ready clip's video and
    poster, each keep-still mask a clip was asked with, each ready film. A clip or film not yet ready
    promises nothing else: its files appear only when it is marked ready."""
    files: list[MediaFile] = []
    names: dict[str, str] = {}
    for photo_id, fmt, sha256, name in db.execute(
        select(Photo.id, Photo.format, Photo.sha256, Photo.original_name).order_by(Photo.id)
    ):
        owner = names[photo_id] = f"photo {name} ({photo_id[:8]})"
        files += [
            MediaFile(store.original(photo_id, fmt), "original", owner, photo_id, sha256=sha256),
            MediaFile(store.display(photo_id), "display copy", owner, photo_id),
            MediaFile(store.thumbnail(photo_id), "thumbnail", owner, photo_id),
        ]
    for clip_id, photo_id, status, settings in db.execute(
        select(Clip.id, Clip.photo_id, Clip.status, Clip.settings).order_by(Clip.id)
    ):
        owner = f"clip {clip_id[:8]} of {names.get(photo_id, 'a photo')}"
        if status == "ready":
            files += [
                MediaFile(store.video(clip_id), "clip video", owner, photo_id, clip_id),
                MediaFile(store.poster(clip_id), "clip poster", owner, photo_id, clip_id),
            ]
        # The mask is written with the row, whatever the clip's state: rendering (again) needs it.
        if (settings or {}).get("keep_still"):
            files.append(
                MediaFile(store.keep_still_mask(clip_id), "keep-still mask", owner, photo_id, clip_id)
            )
    for film_id, title in db.execute(
        select(Film.id, Album.title).join(Album, Album.id == Film.album_id).where(Film.status == "ready")
    ):
        owner = f"film {film_id[:8]} of the album {title!r}"
        files.append(MediaFile(store.film(film_id), "film", owner, None, film_id=film_id))
    return files


def orphan_files(db: Connection | Session, store: MediaStore) -> list[Path]:
    """Files in the store whose photo, clip or film has no row."""
    photo_ids = set(db.scalars(select(Photo.id)))
    clip_ids = set(db.scalars(select(Clip.id)))
    owners = {CLIP_AREA: clip_ids, MASK_AREA: clip_ids, FILM_AREA: set(db.scalars(select(Film.id)))}
    return [
        stored.path
        for stored in store.stored_files()
        if stored.owner_id not in owners.get(stored.area, photo_ids)
    ]


def library_counts(db: Connection | Session) -> dict[str, int]:
    """What a library holds, in the words a backup and a check report it."""

    def count(model: type[Base], *where: ColumnElement[bool]) -> int:
        return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return {
        "accounts": count(User),
        "photos": count(Photo),
        "clips_ready": count(Clip, Clip.status == "ready"),
        "clips_to_render": count(Clip, Clip.status.in_(("queued", "running"))),
        "share_links": count(Share),
    }
