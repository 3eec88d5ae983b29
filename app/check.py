"""`vivant check [--repair]`: do the rows and the files of the media store agree?

Every original is hashed against the sha256 its photo row took at upload; every file a row promises must
be there; every file in the store must belong to a row. `--repair` makes again what can be made again
(display copies and thumbnails from a sound original; clips, by queueing them to be rendered again; a lost
film is marked failed, so its album can export another) and deletes nothing: an original is the family's
archive, and a file without a row is left for a person to decide about.

On a running Vivant, a photo uploaded or deleted at that very moment may show as a file without a row
or a row without a file: check again once it is quiet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.backup import MB
from app.clips import requeue
from app.config import Settings
from app.db import Database
from app.db_snapshot import require_database
from app.dispatch import Dispatcher
from app.films import mark_film_lost
from app.images import ImageRejected
from app.inventory import MediaFile, library_counts, orphan_files, promised_files
from app.models import Clip, Film, Photo
from app.photos import regenerate_derivatives
from app.storage import MediaStore, sha256_file
from worker.celery_app import create_celery


@dataclass(frozen=True)
class Problem:
    sentence: str
    file: MediaFile | None  # None: a file that no row owns


@dataclass
class CheckReport:
    photos: int = 0
    clips_ready: int = 0
    hashed_bytes: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    left: list[Problem] = field(default_factory=list)  # problems still there after --repair

    @property
    def ok(self) -> bool:
        return not self.left

    def lines(self) -> list[str]:
        lines = [
            f"checked {self.photos} photos ({self.hashed_bytes / MB:.1f} MB of originals hashed) and "
            f"{self.clips_ready} ready clips in {self.seconds:.1f} s"
        ]
        if not self.problems:
            return [*lines, "no problems found"]
        lines.append(f"{len(self.problems)} problems:")
        lines += [f"  - {problem.sentence}" for problem in self.problems]
        if self.repaired:
            lines.append("repaired:")
            lines += [f"  - {done}" for done in self.repaired]
        if self.left and self.repaired:
            lines.append(f"{len(self.left)} problems remain (see above)")
        return lines


def run_check(settings: Settings, *, repair: bool, progress: Callable[[float], None]) -> CheckReport:
    started = time.monotonic()
    require_database(settings)
    database = Database(settings.sqlalchemy_url)
    store = MediaStore(settings.media_dir)
    report = CheckReport()
    try:
        with database.session() as session:
            promised = promised_files(session, store)
            orphans = orphan_files(session, store)
            counts = library_counts(session)
        report.photos, report.clips_ready = counts["photos"], counts["clips_ready"]
        _check_files(promised, settings.media_dir, report, progress)
        report.problems += [
            Problem(
                f"{path.relative_to(settings.media_dir)}: no photo, clip or film owns this file. --repair "
                "leaves it: delete it yourself, or if it is a photo you want, add it with `vivant import`",
                None,
            )
            for path in orphans
        ]
        report.left = list(report.problems)
        if repair and report.problems:
            report.left = _repair(settings, database, store, report)
    finally:
        database.dispose()
    report.seconds = time.monotonic() - started
    return report


def _check_files(
    promised: list[MediaFile], media_dir: Path, report: CheckReport, progress: Callable[[float], None]
) -> None:
    originals = sum(_size(file.path) for file in promised if file.sha256)
    for file in promised:
        where = file.path.relative_to(media_dir)
        if not file.path.is_file():
            report.problems.append(
                Problem(f"{file.owner}: its {file.kind} is missing ({where}); {_REMEDY[file.kind]}", file)
            )
        elif file.sha256:
            digest = sha256_file(file.path)
            report.hashed_bytes += digest.size
            progress(report.hashed_bytes / max(originals, 1))
            if digest.sha256 != file.sha256:
                report.problems.append(
                    Problem(
                        f"{file.owner}: its original ({where}) does not match the sha256 taken at upload; "
                        f"{_REMEDY['original']}",
                        file,
                    )
                )
    progress(1.0)


_REMEDY = {
    "original": "it cannot be made again: copy it back from a backup (the same path under media/ there, "
    "its sha256 in the backup's manifest.json)",
    "display copy": "--repair makes it again from the original",
    "thumbnail": "--repair makes it again from the original",
    "clip video": "--repair queues the clip to be rendered again",
    "clip poster": "--repair queues the clip to be rendered again",
    "keep-still mask": "it cannot be made again: copy it back from a backup (the same path under media/ "
    "there); the clip's video is unaffected, but it cannot be rendered again with its still area",
    "film": "--repair marks the film as lost, so the album can export it again",
}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _repair(settings: Settings, database: Database, store: MediaStore, report: CheckReport) -> list[Problem]:
    """Does what can be done; returns the problems left."""
    bad_originals = {p.file.photo_id for p in report.problems if p.file and p.file.kind == "original"}
    left: list[Problem] = []
    # photo or clip id -> (who, in words; its problems)
    regenerate: dict[str, tuple[str, list[Problem]]] = {}
    rerender: dict[str, tuple[str, list[Problem]]] = {}
    lost_films: dict[str, str] = {}  # film id -> who, in words
    for problem in report.problems:
        file = problem.file
        if (
            file is None
            or file.kind in ("original", "keep-still mask")
            or (file.photo_id in bad_originals and not file.clip_id)
        ):
            # Nothing to make it from (a display copy from a damaged original would be wrong too).
            left.append(problem)
        elif file.film_id is not None:
            lost_films[file.film_id] = file.owner
        elif file.clip_id is not None:
            rerender.setdefault(file.clip_id, (file.owner, []))[1].append(problem)
        elif file.photo_id is not None:
            regenerate.setdefault(file.photo_id, (file.owner, []))[1].append(problem)

    # 1. Display copies and thumbnails, from their originals.
    with database.session() as session:
        for photo_id, (owner, problems) in regenerate.items():
            photo = session.get(Photo, photo_id)
            if photo is None:
                continue  # deleted meanwhile: nothing to make
            try:
                regenerate_derivatives(store=store, settings=settings, photo=photo)
            except ImageRejected as exc:
                left += problems
                report.repaired.append(f"{owner}: could not be made again: {exc.message}")
            else:
                report.repaired.append(f"{owner}: display copy and thumbnail made again")
    # 2. Films whose file is gone: marked failed, with the reason, so that the album exports a new one.
    with database.session() as session:
        for film_id, owner in lost_films.items():
            film = session.get(Film, film_id)
            if film is not None and film.status == "ready":
                mark_film_lost(film)
                report.repaired.append(f"{owner}: marked as lost; export the album's film again")
    # 3. Clips whose files are gone: queued again and sent to the workers.
    engines: dict[str, str] = {}
    with database.session() as session:
        for clip_id in rerender:
            clip = session.get(Clip, clip_id)
            if clip is not None and clip.status == "ready":
                requeue(clip)
                engines[clip_id] = clip.engine
    dispatcher = Dispatcher(create_celery(settings), database, settings)
    for clip_id, engine in engines.items():
        owner = rerender[clip_id][0]
        if dispatcher.send(clip_id, engine):
            report.repaired.append(f"{owner}: queued to be rendered again")
        else:
            report.repaired.append(
                f"{owner}: queued to be rendered again; the broker is not reachable now, so `vivant serve` "
                f"sends it when it runs"
            )
    return left
