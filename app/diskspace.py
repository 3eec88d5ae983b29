"""The disk reserve: Vivant stops writing before the disk is full, so the database and the system keep room.

Below VIVANT_MIN_FREE_MB free on the media folder's filesystem, uploads are refused (507) and renders fail
with the reason; a write that still meets a full disk (ENOSPC) is reported the same way.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from app.config import Settings
from app.errors import ServiceError

MB = 1024 * 1024
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class DiskFull(ServiceError):
    """507 Insufficient Storage, with how much is free and how much Vivant keeps."""

    def __init__(self, free_bytes: int, reserve_bytes: int):
        super().__init__(
            507,
            f"the server's disk is nearly full: {free_bytes / MB:.1f} MB free, Vivant keeps "
            f"{reserve_bytes / MB:.0f} MB (VIVANT_MIN_FREE_MB); free some space on the server "
            "(or delete photos), then try again",
        )


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    # f_bavail, not f_bfree: what an unprivileged writer may still use.
    return stats.f_bavail * stats.f_frsize


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _FULL


class DiskReserve:
    """The free space to keep on the filesystem of `path`."""

    def __init__(self, path: Path, reserve_bytes: int):
        self.path = path
        self.reserve_bytes = reserve_bytes

    @classmethod
    def for_media(cls, settings: Settings) -> DiskReserve:
        return cls(settings.media_dir, settings.min_free_bytes)

    def check(self, *, needed: int = 0) -> None:
        """Raise DiskFull unless `needed` more bytes still leave the reserve free."""
        free = free_bytes(self.path)
        if free - needed < self.reserve_bytes:
            raise DiskFull(free, self.reserve_bytes)

    def full(self) -> DiskFull:
        """The error for a write that met a full disk (ENOSPC) all the same."""
        return DiskFull(free_bytes(self.path), self.reserve_bytes)
