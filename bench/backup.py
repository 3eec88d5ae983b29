"""Backup, restore and check on a library of N photos: time and size, first run and incremental runs.

`python -m bench.backup [--photos 200] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]`

The library is built quickly but holds what a family's would: one 12-megapixel JPEG (about 5 MB) is
taken in through the upload path and its clip rendered at the default settings; every other photo is
those bytes made unique (a JPEG comment), with its own rows, display copy, thumbnail, clip video and
poster. So the backup reads, hashes and writes as many bytes as on a real library of that size.
With --postgres, the same is measured on two new PostgreSQL databases (source and restore target),
dropped at the end. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import io
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
from PIL import Image

from app.auth import create_user
from app.backup import run_backup
from app.check import run_check
from app.config import Settings
from app.db import Database
from app.migrate import upgrade
from app.models import Clip, Photo, new_id
from app.photos import add_photo
from app.restore import run_restore
from app.storage import MediaStore, write_atomic
from worker.tasks import ClipRun

REPO = Path(__file__).resolve().parents[1]
BASE_PHOTO = REPO / "tests" / "fixtures" / "photos" / "seated_lady_painting.jpg"
ADDED_LATER = 10
MB = 1024 * 1024


def _quiet(_: str) -> None:
    pass


def _no_progress(_: str) -> Callable[[float], None]:
    return lambda _fraction: None


def twelve_megapixels() -> bytes:
    """A 4032x3024 JPEG at quality 92 with sensor-like noise: the size of a phone's photo."""
    image = Image.open(BASE_PHOTO).convert("RGB").resize((4032, 3024), Image.Resampling.BICUBIC)
    noise = np.random.default_rng(0).normal(0, 4, (3024, 4032, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=92)
    return out.getvalue()


def unique(jpeg: bytes, n: int) -> bytes:
    """The same picture under other bytes: a comment segment right after the start-of-image marker."""
    comment = f"bench photo {n}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


class Library:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.database = Database(settings.sqlalchemy_url)
        self.store = MediaStore(settings.media_dir)
        self.jpeg = twelve_megapixels()
        with self.database.session() as session:
            self.owner_id = create_user(
                session=session, email="bench@example.com", password="a long password", is_admin=True
            ).id
        added = add_photo(
            database=self.database, store=self.store, settings=settings, data=unique(self.jpeg, 0),
            filename="0.jpg", owner_id=self.owner_id, animate=True,
        )  # fmt: skip
        assert added.clip is not None
        assert ClipRun(self.database, settings, added.clip.id).run(self.store) == "ready"
        self.base_photo, self.base_clip = added.photo.id, added.clip.id
        self.count = 1

    def grow(self, n: int) -> None:
        """n more photos, each with a ready clip: rows written, files copied from the first."""
        import hashlib

        with self.database.session() as session:
            base_clip = session.get(Clip, self.base_clip)
            assert base_clip is not None
            for _ in range(n):
                data = unique(self.jpeg, self.count)
                photo = Photo(
                    id=new_id(), owner_id=self.owner_id, sha256=hashlib.sha256(data).hexdigest(),
                    original_name=f"{self.count}.jpg", format="jpeg", width=4032, height=3024,
                    size_bytes=len(data),
                )  # fmt: skip
                clip = Clip(
                    id=new_id(), photo_id=photo.id, status="ready", progress=1.0, engine=base_clip.engine,
                    settings=base_clip.settings, metrics=base_clip.metrics, width=base_clip.width,
                    height=base_clip.height, attempts=1,
                )  # fmt: skip
                write_atomic(self.store.original(photo.id, "jpeg"), data)
                for path in (self.store.display, self.store.thumbnail):
                    shutil.copyfile(path(self.base_photo), _made(path(photo.id)))
                for path in (self.store.video, self.store.poster):
                    shutil.copyfile(path(self.base_clip), _made(path(clip.id)))
                session.add_all([photo, clip])
                self.count += 1


def _made(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _timed(work: Callable[[], object]) -> tuple[float, object]:
    started = time.monotonic()
    result = work()
    return time.monotonic() - started, result


@contextmanager
def _databases(admin_url: str | None) -> Iterator[tuple[str, str]]:
    """("", "") for SQLite in the data dirs; two new PostgreSQL databases with --postgres."""
    if not admin_url:
        yield "", ""
        return
    names = [f"vivant_bench_{secrets.token_hex(4)}" for _ in range(2)]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        base = admin_url.rsplit("/", 1)[0]
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench(photos: int, postgres: str | None) -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, _databases(postgres) as (source_url, target_url):
        root = Path(tmp)
        settings = Settings(data_dir=root / "data", database_url=source_url)
        settings.ensure_dirs()
        upgrade(settings.sqlalchemy_url)
        settings.session_secret  # noqa: B018 (generated into the data dir, as `vivant serve` does)
        library = Library(settings)
        library.grow(photos - 1)
        dest = root / "backup"
        kind = "PostgreSQL" if postgres else "SQLite"

        def backup() -> str:
            seconds, report = _timed(lambda: run_backup(settings, dest, say=_quiet, progress=_no_progress))
            return f"{seconds:.1f} s ({report.copied} files copied, {report.skipped} skipped)"  # type: ignore[attr-defined]

        first = backup()
        size = _size(dest)
        unchanged = backup()
        library.grow(ADDED_LATER)
        incremental = backup()
        check_s, _ = _timed(lambda: run_check(settings, repair=False, progress=lambda _f: None))
        target = Settings(data_dir=root / "restored", database_url=target_url)
        restore_s, _ = _timed(lambda: run_restore(dest, target, say=_quiet, progress=_no_progress))
        per_photo = _size(settings.media_dir) / library.count / MB
        rows.append(
            f"| {kind} | {photos} ({per_photo:.1f} MB each) | {size / MB:.0f} MB | {first} | {unchanged} "
            f"| {incremental} | {restore_s:.1f} s | {check_s:.1f} s |"
        )
        library.database.dispose()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--postgres", default=None, help="admin URL: also measure on PostgreSQL")
    args = parser.parse_args(argv)
    rows = bench(args.photos, None)
    if args.postgres:
        rows += bench(args.photos, args.postgres)
    print(
        "| database | photos (original, derivatives, clip) | backup size | first backup | again, unchanged | "
        f"again, {ADDED_LATER} photos added | restore (+{ADDED_LATER}) | check (+{ADDED_LATER}) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
