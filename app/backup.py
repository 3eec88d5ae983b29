"""`vivant backup DEST`: a consistent snapshot of a running Vivant, copied incrementally.

The database is copied first, at one moment; then exactly the media files that copy refers to. Every
file is written before the row that promises it (an upload stores its files and then commits; a render
renames its video into place and then marks the clip ready), so each promised file exists when the copy
starts. A photo deleted in the meantime takes its files with it: the snapshot is then taken again. A
clip still being rendered promises nothing and is restored as queued, to be rendered again.

DEST holds:
  manifest.json           written last (a backup without it did not finish): sha256 and size of each file
  database-STAMP.sqlite3  the SQLite copy, or database-STAMP.pgdump (pg_dump's custom format)
  secret_key              the generated secret, unless it comes from VIVANT_SECRET_KEY
  media/...               the media store's own layout
A second backup into the same DEST copies only new and changed files, and removes the files of photos
and clips deleted since; until its manifest is written, the previous backup stays whole.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from app.config import Settings
from app.db_snapshot import DUMP_SUFFIX, DatabaseKind, database_kind, database_snapshot
from app.errors import CommandError
from app.inventory import MediaFile, library_counts, promised_files
from app.models import utcnow
from app.storage import MediaStore, copy_hashed, sha256_file, write_atomic

MANIFEST = "manifest.json"
MARKER = ".vivant-backup"
SECRET_FILE = "secret_key"
MEDIA = "media"
MB = 1024 * 1024
# Snapshots taken at most in one run while photos keep being deleted under it; the last one is kept, its
# vanished files named as missing.
SNAPSHOTS_AT_MOST = 5

Say = Callable[[str], None]
ProgressFactory = Callable[[str], Callable[[float], None]]


class FileEntry(BaseModel):
    sha256: str
    size: int
    # The source file's modification time when it was copied: same size and time, same file.
    mtime_ns: int = 0


class DatabaseEntry(BaseModel):
    kind: DatabaseKind
    file: str
    sha256: str
    size: int


class Manifest(BaseModel):
    format: Literal["vivant-backup"] = "vivant-backup"
    version: Literal[1] = 1
    created_at: datetime
    database: DatabaseEntry
    secret_key: FileEntry | None  # None: from VIVANT_SECRET_KEY, or none generated yet
    secret_in_environment: bool = False
    files: dict[str, FileEntry]  # by path in the backup: "media/originals/3f/3f2a....jpg"
    missing: list[str] = []  # promised by the database but absent from the media store
    counts: dict[str, int]  # accounts, photos, clips_ready, clips_to_render, share_links


def read_manifest(source: Path) -> Manifest:
    path = source / MANIFEST
    if not path.is_file():
        raise CommandError(
            f"{source} has no {MANIFEST}: it is not a Vivant backup, or that backup did not finish"
        )
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise CommandError(
            f"{path} is not a manifest this Vivant can read: {exc.errors()[0]['msg']}"
        ) from None


@dataclass
class BackupReport:
    dest: Path
    manifest: Manifest
    copied: int
    copied_bytes: int
    skipped: int
    removed: int
    seconds: float

    def lines(self) -> list[str]:
        counts = self.manifest.counts
        total = sum(entry.size for entry in self.manifest.files.values()) + self.manifest.database.size
        lines = [
            f"database: {counts['photos']} photos, {counts['clips_ready']} clips ready "
            f"({counts['clips_to_render']} still to render: a restore queues them again), "
            f"{counts['accounts']} accounts, {counts['share_links']} share links",
            f"media: {self.copied} files copied ({self.copied_bytes / MB:.1f} MB), {self.skipped} unchanged "
            f"and skipped, {self.removed} removed (deleted from Vivant since the last backup)",
        ]
        if self.manifest.secret_in_environment:
            lines.append(
                "WARNING: the secret key comes from VIVANT_SECRET_KEY and is not in this backup. Keep it "
                "with the backup: a restored Vivant needs the same VIVANT_SECRET_KEY, or every share link "
                "and every sign-in stops working."
            )
        if self.manifest.missing:
            lines.append(
                f"WARNING: {len(self.manifest.missing)} files the database refers to are missing from the "
                f"media folder and are not in this backup; `vivant check` tells what they are and "
                f"`vivant check --repair` makes what it can again. First: {self.manifest.missing[0]}"
            )
        lines.append(
            f"backup written to {self.dest}: {len(self.manifest.files)} media files, "
            f"{total / MB:.1f} MB in all, in {self.seconds:.1f} s"
        )
        return lines


@dataclass
class _Copied:
    """The media copy of one snapshot."""

    entries: dict[str, FileEntry] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    copied: set[str] = field(default_factory=set)
    copied_bytes: int = 0


def run_backup(settings: Settings, dest: Path, *, say: Say, progress: ProgressFactory) -> BackupReport:
    started = time.monotonic()
    store = MediaStore(settings.media_dir)
    kind = database_kind(settings)
    with _locked_backup_folder(dest):
        previous = _previous_manifest(dest)
        known = dict(previous.files) if previous else {}
        written: set[str] = set()
        copied_bytes = 0
        last_missing: list[str] | None = None
        for attempt in range(1, SNAPSHOTS_AT_MOST + 1):
            # 1. The database, at one moment, and the files it refers to.
            database_file = (
                dest / f"database-{utcnow():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}.{DUMP_SUFFIX[kind]}"
            )
            snapshot_started = time.monotonic()
            with database_snapshot(settings, database_file) as connection:
                promised = promised_files(connection, store)
                counts = library_counts(connection)
                created_at = utcnow()
            database_digest = sha256_file(database_file)
            say(
                f"database: snapshot taken ({database_digest.size / MB:.1f} MB, "
                f"{time.monotonic() - snapshot_started:.1f} s); {len(promised)} media files to back up"
            )
            # 2. Those files, where they changed since the last copy.
            copy = _copy_media(promised, settings.media_dir, dest, known, progress("media"))
            written |= copy.copied
            copied_bytes += copy.copied_bytes
            known |= copy.entries
            # Files that vanished since the snapshot belong to photos deleted meanwhile: a new snapshot
            # no longer promises them. Files still missing from the next one are missing for good.
            if not copy.missing or copy.missing == last_missing or attempt == SNAPSHOTS_AT_MOST:
                break
            say(
                f"{len(copy.missing)} files went away while copying (deleted meanwhile); "
                "taking the snapshot again"
            )
            database_file.unlink()
            last_missing = copy.missing
        # 3. The generated secret that keys share links and sessions.
        secret_entry = None
        if not settings.secret_key and settings.secret_key_path.is_file():
            secret_digest = copy_hashed(settings.secret_key_path, dest / SECRET_FILE)
            (dest / SECRET_FILE).chmod(0o600)
            secret_entry = FileEntry(sha256=secret_digest.sha256, size=secret_digest.size)
        manifest = Manifest(
            created_at=created_at,
            database=DatabaseEntry(
                kind=kind, file=database_file.name, sha256=database_digest.sha256, size=database_digest.size
            ),
            secret_key=secret_entry,
            secret_in_environment=bool(settings.secret_key),
            files=copy.entries,
            missing=copy.missing,
            counts=counts,
        )
        # 4. Everything on disk before the manifest that declares it; the manifest is the commit.
        os.sync()
        write_atomic(dest / MANIFEST, manifest.model_dump_json(indent=1).encode())
        os.sync()
        removed = _remove_stale(dest, previous, written, manifest)
    return BackupReport(
        dest=dest,
        manifest=manifest,
        copied=len(written & manifest.files.keys()),
        copied_bytes=copied_bytes,
        skipped=len(manifest.files.keys() - written),
        removed=removed,
        seconds=time.monotonic() - started,
    )


def _copy_media(
    promised: list[MediaFile],
    media_dir: Path,
    dest: Path,
    known: dict[str, FileEntry],
    progress: Callable[[float], None],
) -> _Copied:
    result = _Copied()
    to_copy: list[tuple[str, Path, os.stat_result]] = []
    for file in promised:
        name = f"{MEDIA}/{file.path.relative_to(media_dir).as_posix()}"
        try:
            stat = file.path.stat()
        except FileNotFoundError:
            result.missing.append(name)
            continue
        entry = known.get(name)
        if (
            entry
            and (entry.size, entry.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
            and _has_size(dest / name, entry.size)
        ):
            result.entries[name] = entry
        else:
            to_copy.append((name, file.path, stat))
    total = sum(stat.st_size for _, _, stat in to_copy) or 1
    done = 0
    for name, source, stat in to_copy:
        try:
            digest = copy_hashed(source, dest / name)
        except FileNotFoundError:
            result.missing.append(name)
            continue
        result.entries[name] = FileEntry(sha256=digest.sha256, size=digest.size, mtime_ns=stat.st_mtime_ns)
        result.copied.add(name)
        result.copied_bytes += digest.size
        done += stat.st_size
        progress(min(done / total, 1.0))
    progress(1.0)
    return result


def _has_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


@contextmanager
def _locked_backup_folder(dest: Path) -> Iterator[None]:
    if dest.exists() and not dest.is_dir():
        raise CommandError(f"{dest} is a file; give a folder to back up into")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MARKER).exists():
        raise CommandError(
            f"{dest} is not empty and holds no Vivant backup; choose an empty folder, or one that an "
            f"earlier `vivant backup` wrote"
        )
    # Private: the backup holds the secret key, password hashes and every photo.
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    (dest / MARKER).write_text(
        "A Vivant backup: restore it with `vivant restore THIS_FOLDER --data-dir NEW_DIR`.\n"
    )
    with open(dest / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CommandError(f"another backup into {dest} is running; wait for it to finish") from None
        # Copies cut short by an earlier run that was killed.
        for leftover in (dest / MEDIA).rglob(".*.tmp"):
            leftover.unlink(missing_ok=True)
        yield


def _previous_manifest(dest: Path) -> Manifest | None:
    if not (dest / MANIFEST).is_file():
        return None
    try:
        return read_manifest(dest)
    except CommandError:
        return None  # unreadable: everything is copied again, which is safe


def _remove_stale(dest: Path, previous: Manifest | None, written: set[str], manifest: Manifest) -> int:
    """Files no manifest needs any more: of photos and clips deleted since, and earlier database copies."""
    stale = ((previous.files.keys() if previous else set()) | written) - manifest.files.keys()
    for name in stale:
        (dest / name).unlink(missing_ok=True)
    for old in dest.glob("database-*"):
        if old.name != manifest.database.file:
            old.unlink()
    if manifest.secret_key is None:
        (dest / SECRET_FILE).unlink(missing_ok=True)
    return len(stale)
