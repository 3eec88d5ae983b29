"""The media store: where originals, derivatives and clips live on disk.

Every name on disk is generated from a random id, never from what a user sent, and every write goes
to a temporary name first and is renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

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


class MediaStore:
    def __init__(self, root: Path):
        self.root = root

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

    def keep_still_mask(self, clip_id: str) -> Path:
        """The PNG a clip was asked with: white where the picture must not move."""
        return self._path("masks", clip_id, "png")

    def delete_clip(self, clip_id: str) -> None:
        for path in (self.video(clip_id), self.poster(clip_id), self.keep_still_mask(clip_id)):
            path.unlink(missing_ok=True)

    def delete_photo(self, photo_id: str, fmt: str, clip_ids: list[str]) -> None:
        for path in (self.original(photo_id, fmt), self.display(photo_id), self.thumbnail(photo_id)):
            path.unlink(missing_ok=True)
        for clip_id in clip_ids:
            self.delete_clip(clip_id)
