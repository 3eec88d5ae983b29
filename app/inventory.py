"""What the database promises the media store holds, and what the store holds that no row owns.

Backups copy the promised files of a snapshot; `vivant check` compares both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import ColumnElement, Connection, func, select
from sqlalchemy.orm import Session

from app.models import Base, Clip, Photo, Share, User
from app.storage import CLIP_AREA, MediaStore

FileKind = Literal["original", "display copy", "thumbnail", "clip video", "clip poster"]


@dataclass(frozen=True)
class MediaFile:
    path: Path
    kind: FileKind
    owner: str  # which photo or clip, in words: "photo hopper.jpg (3f2a...)"
    photo_id: str
    clip_id: str | None = None
    sha256: str | None = None  # known for originals: the photo row keeps the hash of the uploaded bytes


def promised_files(db: Connection | Session, store: MediaStore) -> list[MediaFile]:
    """Every file the rows promise: each photo's original and derivatives, each ready clip's video and
    poster. A clip not yet ready promises nothing: its files appear only when it is marked ready."""
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
    for clip_id, photo_id in db.execute(
        select(Clip.id, Clip.photo_id).where(Clip.status == "ready").order_by(Clip.id)
    ):
        owner = f"clip {clip_id[:8]} of {names.get(photo_id, 'a photo')}"
        files += [
            MediaFile(store.video(clip_id), "clip video", owner, photo_id, clip_id),
            MediaFile(store.poster(clip_id), "clip poster", owner, photo_id, clip_id),
        ]
    return files


def orphan_files(db: Connection | Session, store: MediaStore) -> list[Path]:
    """Files in the store whose photo or clip has no row."""
    photo_ids = set(db.scalars(select(Photo.id)))
    clip_ids = set(db.scalars(select(Clip.id)))
    return [
        stored.path
        for stored in store.stored_files()
        if stored.owner_id not in (clip_ids if stored.area == CLIP_AREA else photo_ids)
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
