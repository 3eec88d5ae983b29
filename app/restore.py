"""`vivant restore SRC --data-dir DIR`: a backup back into an empty data dir (and empty database).

Every file is checked against the manifest's sha256 as it is copied; a file that does not match is not
written. Clips that were being rendered when the backup was taken, and clips whose files did not come
back, are queued to be rendered again: `vivant serve` sends them to a worker when it starts.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from app.backup import MB, MEDIA, SECRET_FILE, Manifest, ProgressFactory, Say, read_manifest
from app.clips import requeue
from app.config import Settings
from app.db import Database
from app.db_snapshot import database_kind, ensure_empty_database, load_snapshot, sqlite_path
from app.errors import CommandError
from app.films import mark_film_lost, requeue_film
from app.inventory import PHOTO_KINDS, promised_files
from app.migrate import upgrade
from app.models import Clip, Film
from app.storage import ChecksumMismatch, MediaStore, copy_hashed, sha256_file


@dataclass
class RestoreReport:
    data_dir: Path
    manifest: Manifest
    verified: int = 0
    verified_bytes: int = 0
    bad: list[str] = field(default_factory=list)  # "path: why", not restored
    requeued: int = 0
    films_requeued: int = 0
    films_lost: int = 0
    photo_files_missing: int = 0
    masks_missing: int = 0
    secret_note: str = ""
    seconds: float = 0.0

    def lines(self) -> list[str]:
        counts = self.manifest.counts
        lines = [
            f"restored {counts['accounts']} accounts, {counts['photos']} photos, {counts['clips_ready']} "
            f"clips and {counts['share_links']} share links from the backup of "
            f"{self.manifest.created_at:%Y-%m-%d %H:%M} UTC",
            f"media: {self.verified} files copied and verified against the manifest "
            f"({self.verified_bytes / MB:.1f} MB) in {self.seconds:.1f} s",
        ]
        if self.requeued:
            lines.append(f"{self.requeued} clips will be rendered again when Vivant starts")
        if self.films_requeued:
            lines.append(f"{self.films_requeued} album films will be made again when Vivant starts")
        if self.films_lost:
            lines.append(
                f"{self.films_lost} album films did not come back and are marked lost; export them again"
            )
        if self.masks_missing:
            lines.append(
                f"{self.masks_missing} keep-still masks are missing: their clips keep their videos, but "
                "cannot be rendered again with their still areas"
            )
        for problem in self.bad:
            lines.append(f"NOT RESTORED: {problem}")
        if self.photo_files_missing:
            lines.append(
                f"{self.photo_files_missing} photo files are missing; run `vivant check --repair` to make "
                f"the display copies and thumbnails again (a missing original cannot be made again)"
            )
        if self.secret_note:
            lines.append(self.secret_note)
        lines.append(f"start it with: vivant serve --data-dir {self.data_dir}")
        return lines


def run_restore(source: Path, settings: Settings, *, say: Say, progress: ProgressFactory) -> RestoreReport:
    started = time.monotonic()
    manifest = read_manifest(source)
    data_dir = settings.data_dir
    # 1. Nothing is overwritten: the data dir and the database must be empty, and of the backup's kind.
    _ensure_empty_dir(data_dir)
    kind = database_kind(settings)
    if kind != manifest.database.kind:
        raise CommandError(
            f"this backup holds a {manifest.database.kind} database but Vivant is configured for {kind} "
            f"(VIVANT_DATABASE_URL); restore it into the same kind of database"
        )
    ensure_empty_database(settings)
    dump = source / manifest.database.file
    report = RestoreReport(data_dir=data_dir, manifest=manifest)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # 2. The database first, whole and verified: without it the rest is of no use.
        say(f"database: checking the {kind} snapshot ({manifest.database.size / MB:.1f} MB)")
        if kind == "sqlite":
            _copy_verified(dump, sqlite_path(settings), manifest.database.sha256)
        else:
            _verify(dump, manifest.database.sha256)
        # 3. Media, each file verified as it is copied.
        _copy_media(source, manifest, settings.media_dir, report, progress("media"))
        # 4. The secret that keys share links and sessions.
        report.secret_note = _restore_secret(source, manifest, settings)
        # 5. The database loaded (PostgreSQL, in one transaction) and brought to this version's schema.
        if kind == "postgresql":
            say("database: loading it with pg_restore")
            load_snapshot(settings, dump)
        upgrade(settings.sqlalchemy_url)
        _requeue_unfinished(settings, report)
    except BaseException:
        # The data dir was empty: leave it so, and the restore can simply be run again.
        for child in data_dir.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        raise
    os.sync()
    report.seconds = time.monotonic() - started
    return report


def _ensure_empty_dir(data_dir: Path) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise CommandError(f"{data_dir} is a file; give a new, empty folder as --data-dir")
    if data_dir.is_dir() and (entries := sorted(p.name for p in data_dir.iterdir())):
        shown = ", ".join(entries[:4]) + (", ..." if len(entries) > 4 else "")
        raise CommandError(
            f"{data_dir} is not empty (it holds {shown}); a restore never overwrites: give a new, empty "
            f"folder as --data-dir"
        )


def _copy_media(
    source: Path,
    manifest: Manifest,
    media_dir: Path,
    report: RestoreReport,
    progress: Callable[[float], None],
) -> None:
    total = sum(entry.size for entry in manifest.files.values()) or 1
    done = 0
    for name, entry in manifest.files.items():
        if not name.startswith(f"{MEDIA}/") or ".." in Path(name).parts:
            raise CommandError(f"the manifest names a file outside the media folder: {name!r}")
        target = media_dir / name.removeprefix(f"{MEDIA}/")
        try:
            copy_hashed(source / name, target, expected_sha256=entry.sha256)
        except FileNotFoundError:
            report.bad.append(f"{name}: not in the backup")
        except ChecksumMismatch:
            report.bad.append(f"{name}: its bytes do not match the manifest's sha256 (damaged in the backup)")
        else:
            report.verified += 1
            report.verified_bytes += entry.size
        done += entry.size
        progress(done / total)
    progress(1.0)


def _restore_secret(source: Path, manifest: Manifest, settings: Settings) -> str:
    """Restores the generated secret; returns what the person must know about the secret, if anything."""
    if manifest.secret_key is None:
        if not manifest.secret_in_environment:
            return ""  # none was generated yet: no share link or session depended on one
        return (
            "this backup has no secret key (it came from VIVANT_SECRET_KEY when the backup was made): set "
            "the same VIVANT_SECRET_KEY before `vivant serve`, or share links and sign-ins stop working"
        )
    _copy_verified(source / SECRET_FILE, settings.secret_key_path, manifest.secret_key.sha256)
    settings.secret_key_path.chmod(0o600)
    if settings.secret_key:
        return (
            f"VIVANT_SECRET_KEY is set and would be used instead of the restored {settings.secret_key_path}: "
            "unset it, or share links made before the backup will not open"
        )
    return ""


def _copy_verified(source: Path, target: Path, sha256: str) -> None:
    try:
        copy_hashed(source, target, expected_sha256=sha256)
    except FileNotFoundError:
        raise CommandError(f"{source} is missing from the backup; it cannot be restored") from None
    except ChecksumMismatch:
        raise CommandError(
            f"{source} does not match its sha256 in the manifest: the backup is damaged"
        ) from None


def _verify(path: Path, sha256: str) -> None:
    try:
        found = sha256_file(path)
    except FileNotFoundError:
        raise CommandError(f"{path} is missing from the backup; it cannot be restored") from None
    if found.sha256 != sha256:
        raise CommandError(f"{path} does not match its sha256 in the manifest: the backup is damaged")


def _requeue_unfinished(settings: Settings, report: RestoreReport) -> None:
    """Clips and films caught being made, and ready clips whose files did not come back, are made again; a
    ready film whose file did not come back is marked lost, for its album to export again."""
    database = Database(settings.sqlalchemy_url)
    store = MediaStore(settings.media_dir)
    try:
        with database.session() as session:
            absent = [file for file in promised_files(session, store) if not file.path.is_file()]
            lost_clips = {file.clip_id for file in absent if file.kind in ("clip video", "clip poster")}
            report.photo_files_missing = sum(1 for file in absent if file.kind in PHOTO_KINDS)
            report.masks_missing = sum(1 for file in absent if file.kind == "keep-still mask")
            unfinished = select(Clip).where(Clip.status.in_(("queued", "running")) | Clip.id.in_(lost_clips))
            for clip in session.scalars(unfinished):
                requeue(clip)
                report.requeued += 1
            for film in session.scalars(select(Film).where(Film.status.in_(("queued", "running")))):
                requeue_film(film)
                report.films_requeued += 1
            lost_films = [file.film_id for file in absent if file.film_id]
            for film in session.scalars(select(Film).where(Film.id.in_(lost_films))):
                mark_film_lost(film)
                report.films_lost += 1
    finally:
        database.dispose()
