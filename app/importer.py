"""`vivant import DIR`: add a folder of photos without going through the browser."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from app.auth import user_by_email
from app.config import Settings
from app.db import Database
from app.diskspace import DiskReserve
from app.images import ImageRejected
from app.migrate import upgrade
from app.models import User
from app.photos import Added, add_photo
from app.storage import MediaStore
from worker.celery_app import create_celery

# Names worth trying; content decides in the end, but this skips sidecar files and videos.
CHUNK_BYTES = 1024 * 1024
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".heic", ".heif", ".avif"}


@dataclass
class ImportReport:
    added: int = 0
    duplicates: int = 0
    queued: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)


def _add_file(
    path: Path,
    *,
    database: Database,
    store: MediaStore,
    settings: Settings,
    reserve: DiskReserve,
    owner_id: str,
    animate: bool,
) -> Added:
    """Copied into the store the way an upload streams in (sized, hashed, a chunk at a time), then added."""
    incoming = store.incoming(max_bytes=settings.max_upload_bytes, reserve=reserve)
    try:
        with path.open("rb") as source:
            while chunk := source.read(CHUNK_BYTES):
                incoming.write(chunk)
        received = incoming.finish()
        return add_photo(
            database=database, store=store, settings=settings, received=received,
            filename=path.name, owner_id=owner_id, animate=animate,
        )  # fmt: skip
    finally:
        incoming.discard()


def import_directory(
    directory: Path,
    *,
    settings: Settings,
    owner_email: str | None,
    animate: bool,
    progress: Callable[[float], None],
) -> ImportReport:
    from app.dispatch import Dispatcher

    settings.ensure_dirs()
    upgrade(settings.sqlalchemy_url, settings.media_dir)
    database = Database(settings.sqlalchemy_url)
    store = MediaStore(settings.media_dir)
    dispatcher = Dispatcher(create_celery(settings), database, settings)
    report = ImportReport()
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    try:
        with database.session() as session:
            if owner_email:
                owner = user_by_email(session, owner_email)
            else:
                owner = session.scalars(select(User).where(User.is_admin).order_by(User.created_at)).first()
            if owner is None:
                raise LookupError(
                    f"no account {owner_email}"
                    if owner_email
                    else "no account yet: run `vivant createuser EMAIL --admin`"
                )
            owner_id = owner.id
        reserve = DiskReserve.for_media(settings)
        for index, path in enumerate(files):
            try:
                added = _add_file(path, database=database, store=store, settings=settings,
                                  reserve=reserve, owner_id=owner_id, animate=animate)  # fmt: skip
            except ImageRejected as exc:
                report.refused.append((str(path.relative_to(directory)), exc.message))
            else:
                report.duplicates += added.duplicate
                report.added += not added.duplicate
                if added.clip is not None:
                    # Queued even if no worker runs now: `vivant serve` or a worker picks it up later.
                    dispatcher.send(added.clip.id, added.clip.engine)
                    report.queued += 1
            progress((index + 1) / len(files))
    finally:
        database.dispose()
    if not files:
        progress(1.0)
    return report
