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
from pathlib import Path
from typing import BinaryIO

from app.diskspace import MB, DiskReserve, is_disk_full
from app.images import ReceivedFile, upload_too_large

_ID = re.compile(r"^[0-9a-f]{32}$")

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


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
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
        return self._path("originals", photo_id, ORIGINAL_EXTENSIONS.get(fmt, "bin"))

    def display(self, photo_id: str) -> Path:
        """Upright sRGB JPEG without metadata: the worker's input and what share pages show."""
        return self._path("display", photo_id, "jpg")

    def thumbnail(self, photo_id: str) -> Path:
        return self._path("thumbs", photo_id, "jpg")

    def video(self, clip_id: str) -> Path:
        return self._path("clips", clip_id, "mp4")

    def poster(self, clip_id: str) -> Path:
        return self._path("clips", clip_id, "jpg")

    def delete_photo(self, photo_id: str, fmt: str, clip_ids: list[str]) -> None:
        paths = [self.original(photo_id, fmt), self.display(photo_id), self.thumbnail(photo_id)]
        for clip_id in clip_ids:
            paths += [self.video(clip_id), self.poster(clip_id)]
        for path in paths:
            path.unlink(missing_ok=True)
