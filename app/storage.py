"""The media store: where originals, derivatives and clips live on disk.

Every name on disk is generated from a random id, never from what a user sent, and every write goes
to a temporary name first and is renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.diskspace import MB, DiskReserve, is_disk_full
from app.images import ReceivedFile, upload_too_large

_ID = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 1 << 20

# The folders of the store: a photo's files are kept under the first three, a clip's under the last.
PHOTO_AREAS = ("originals", "display", "thumbs")
CLIP_AREA = "clips"
# Albums' films, and the keep-still masks clips were asked with (named by the clip's id).
FILM_AREA = "films"
MASK_AREA = "masks"

# format name (from content sniffing) -> extension of the stored original
ORIGINAL_EXTENSIONS = {
    "jpeg": "jpg",
    "png": "png",
    "webp": "webp",
    "gif": "gif",
    "heic": "heic",
    "avif": "avif",
}


def _checked(item_id: str) -> str:
    # Ids come from URLs too: refusing anything but our own id shape makes traversal impossible.
    if not _ID.match(item_id):
        raise ValueError(f"not a valid id: {item_id!r}")
    return item_id


def temporary_name(path: Path) -> Path:
    """Where `path` is written before it is renamed into place: the same directory, so the rename is
    atomic on one filesystem; hidden (stored_files() skips it) and named by process, so writers never
    share one."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def sweep_temporaries(path: Path) -> None:
    """Remove what a writer of `path` that was killed left behind (the run that takes over calls it)."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def move_into_place(source: Path, path: Path) -> None:
    """Rename a finished temporary file (in the same store, so on the same filesystem) to its final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    source.replace(path)


class IncomingFile:
    """One uploaded file on its way in, never whole in memory: written under a temporary name inside the
    store, so keeping it is a rename, and counted against the size limit, the disk reserve and hashed as it
    arrives. Raises ImageRejected (413) past `max_bytes` and DiskFull below the reserve or on ENOSPC."""

    # The reserve is checked once per this many bytes: a statvfs per network read would be wasted.
    CHECK_EVERY = 4 * MB

    def __init__(self, directory: Path, *, max_bytes: int, reserve: DiskReserve):
        directory.mkdir(parents=True, exist_ok=True)
        reserve.check()
        self.path = directory / f"{secrets.token_hex(16)}.part"
        self.size = 0
        self._max_bytes = max_bytes
        self._reserve = reserve
        self._unchecked = 0
        self._hash = hashlib.sha256()
        self._file: BinaryIO = open(self.path, "xb")  # noqa: SIM115 (closed by finish or discard)

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._max_bytes:
            raise upload_too_large(self._max_bytes)
        self._unchecked += len(chunk)
        if self._unchecked >= self.CHECK_EVERY:
            self._unchecked = 0
            self._reserve.check(needed=self.CHECK_EVERY)
        self._hash.update(chunk)
        try:
            self._file.write(chunk)
        except OSError as exc:
            if is_disk_full(exc):
                raise self._reserve.full() from exc
            raise

    def finish(self) -> ReceivedFile:
        """Flush it to disk (it becomes the family's archive copy) and say what arrived."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            if is_disk_full(exc):
                raise self._reserve.full() from exc
            raise
        finally:
            self._file.close()
        return ReceivedFile(path=self.path, size=self.size, sha256=self._hash.hexdigest())

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Digest:
    sha256: str
    size: int


class ChecksumMismatch(Exception):
    def __init__(self, expected: str, found: Digest):
        super().__init__(f"sha256 is {found.sha256}, {expected} was expected")
        self.found = found


def sha256_file(path: Path) -> Digest:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return Digest(digest.hexdigest(), size)


def copy_hashed(source: Path, target: Path, *, expected_sha256: str | None = None) -> Digest:
    """Copy `source` to `target`, hashing the bytes as they pass: one read serves both.

    The copy goes to a temporary name and is renamed into place only when whole and, given
    `expected_sha256`, only when it matches (ChecksumMismatch otherwise, and nothing is left behind).
    The caller syncs the filesystem once at the end: a sync per file would cost more than the copy.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(target)
    digest, size = hashlib.sha256(), 0
    try:
        with open(source, "rb") as src, open(tmp, "wb") as out:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        found = Digest(digest.hexdigest(), size)
        if expected_sha256 is not None and found.sha256 != expected_sha256:
            raise ChecksumMismatch(expected_sha256, found)
        tmp.replace(target)
        return found
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class StoredFile:
    area: str  # one of PHOTO_AREAS, CLIP_AREA, MASK_AREA or FILM_AREA
    owner_id: str  # the photo's, clip's or film's id, as the name says
    path: Path


class MediaStore:
    # Uploads being received; inside the store so that keeping one is a rename on the same filesystem.
    INCOMING = ".incoming"

    def __init__(self, root: Path):
        self.root = root

    def incoming(self, *, max_bytes: int, reserve: DiskReserve) -> IncomingFile:
        return IncomingFile(self.root / self.INCOMING, max_bytes=max_bytes, reserve=reserve)

    def sweep_incoming(self, *, older_than_s: float) -> None:
        """Remove what a process that died while receiving left behind (live uploads are younger)."""
        cutoff = time.time() - older_than_s
        for leftover in (self.root / self.INCOMING).glob("*.part"):
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
            except FileNotFoundError:
                pass

    def _path(self, kind: str, item_id: str, ext: str) -> Path:
        item_id = _checked(item_id)
        return self.root / kind / item_id[:2] / f"{item_id}.{ext}"

    def original(self, photo_id: str, fmt: str) -> Path:
        return self._path(PHOTO_AREAS[0], photo_id, ORIGINAL_EXTENSIONS.get(fmt, "bin"))

    def display(self, photo_id: str) -> Path:
        """Upright sRGB JPEG without metadata: the worker's input and what share pages show."""
        return self._path(PHOTO_AREAS[1], photo_id, "jpg")

    def thumbnail(self, photo_id: str) -> Path:
        return self._path(PHOTO_AREAS[2], photo_id, "jpg")

    def video(self, clip_id: str) -> Path:
        return self._path(CLIP_AREA, clip_id, "mp4")

    def poster(self, clip_id: str) -> Path:
        return self._path(CLIP_AREA, clip_id, "jpg")

    def film(self, film_id: str) -> Path:
        return self._path(FILM_AREA, film_id, "mp4")

    def delete_films(self, film_ids: list[str]) -> None:
        for film_id in film_ids:
            self.film(film_id).unlink(missing_ok=True)

    def stored_files(self) -> Iterator[StoredFile]:
        """Every whole file in the store; writes still in progress (hidden temporary names) are skipped."""
        for area in (*PHOTO_AREAS, CLIP_AREA, MASK_AREA, FILM_AREA):
            for path in sorted((self.root / area).glob("*/*")):
                if path.is_file() and not path.name.startswith("."):
                    yield StoredFile(area, path.name.split(".", 1)[0], path)

    def keep_still_mask(self, clip_id: str) -> Path:
        """The PNG a clip was asked with: white where the picture must not move."""
        return self._path(MASK_AREA, clip_id, "png")

    def delete_clip(self, clip_id: str) -> None:
        for path in (self.video(clip_id), self.poster(clip_id), self.keep_still_mask(clip_id)):
            path.unlink(missing_ok=True)

    def delete_photo(self, photo_id: str, fmt: str, clip_ids: list[str]) -> None:
        for path in (self.original(photo_id, fmt), self.display(photo_id), self.thumbnail(photo_id)):
            path.unlink(missing_ok=True)
        for clip_id in clip_ids:
            self.delete_clip(clip_id)
