"""The tasks: animate(clip_id), and make_film(film_id) (FilmRun, at the end). Load the row, do the work,
write atomically, mark the state.

Claiming is a conditional UPDATE, so the same clip sent twice (a duplicate message, a re-delivery after a
worker died) is rendered by one live worker at a time and ends as one clip. A clip deleted while it renders
(its photo removed) stops the render at the next progress update; one deleted in the last moments is
caught when its files are published, in the transaction that marks it ready, so no file outlives its row.
When a pool process dies mid-clip, the worker's main process gives its clip back before Celery puts the
message back in the queue, so the clip is rendered again at once rather than after its heartbeat goes stale.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import replace
from datetime import timedelta
from functools import cache
from typing import Any

import numpy as np
from billiard.einfo import ExceptionInfo, ExceptionWithTraceback
from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, WorkerLostError
from celery.worker.request import Request
from sqlalchemy import or_, select, update

from app.clips import take_back
from app.config import Settings
from app.db import Database
from app.diskspace import DiskFull, DiskReserve, is_disk_full
from app.films import film_entries
from app.images import load_photo_rgb
from app.models import Clip, Film, Photo, utcnow
from app.storage import MediaStore
from worker.celery_app import ANIMATE_TASK, FILM_TASK, settings_of
from worker.engines import get_engine
from worker.engines.base import Engine, EngineError, MotionSpec
from worker.film import FilmError, compose_film
from worker.masks import load_keep_still_mask
from worker.render import RenderedClip, rendered_clip

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.5

# Made once in the worker's main process and inherited by every pool process it forks. A claim token begins
# with this and the pid of the pool process that claimed, so that the main process, told that a pool process
# died, finds the claim that process held and no other. (Were a pool process ever started otherwise than by
# fork, its claims would not match: its clip would come back the slow way, when its heartbeat went stale.)
_WORKER_ID = secrets.token_hex(4)


def claim_prefix(pid: int) -> str:
    """How every claim made by pool process `pid` of this worker begins."""
    return f"{_WORKER_ID}{pid:08x}"


@cache
def _database(url: str) -> Database:
    # One engine per worker process, made after the fork (tasks run in the child).
    return Database(url)


def _spec(clip: Clip) -> MotionSpec:
    s = clip.settings
    return MotionSpec(
        seconds=float(s.get("seconds", 4.0)),
        fps=int(s.get("fps", 24)),
        strength=s.get("strength", "gentle"),
        camera=s.get("camera", "auto"),
        ambient=s.get("ambient", "auto"),
        loop=bool(s.get("loop", False)),
        seed=int(s.get("seed", 0)),
        long_side=int(s.get("long_side", 1280)),
        preset=s.get("preset"),
    )


class ClipGone(Exception):
    """The clip's row is no longer this run's: deleted with its photo, or taken over after a stall."""


def _device_name(engine: Engine) -> str:
    """Where the clip was made, for "About this clip": "cpu" or the GPU's model name."""
    if engine.queue != "gpu":
        return "cpu"
    import torch  # only GPU engines run where torch is installed

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def claim_row(
    database: Database, settings: Settings, model: type[Clip] | type[Film], row_id: str, token: str
) -> bool:
    """Take a clip's or film's row for `token` if it waits, or if the worker that had it stopped beating.

    A conditional UPDATE: the same item sent twice is taken by one run only."""
    now = utcnow()
    stale = now - timedelta(seconds=settings.stale_after_s)
    with database.session() as session:
        result = session.execute(
            update(model)
            .where(
                model.id == row_id,
                or_(model.status == "queued", (model.status == "running") & (model.heartbeat_at < stale)),
                model.attempts < settings.max_attempts,
            )
            .values(
                status="running",
                claim_token=token,
                attempts=model.attempts + 1,
                progress=0.0,
                started_at=now,
                heartbeat_at=now,
                error=None,
            )
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


class ClipRun:
    """One attempt at one clip by this worker, identified by a claim token."""

    def __init__(self, database: Database, settings: Settings, clip_id: str):
        self.database = database
        self.settings = settings
        self.clip_id = clip_id
        self.token = claim_prefix(os.getpid()) + secrets.token_hex(8)
        self.reserve = DiskReserve.for_media(settings)
        self._last_progress = 0.0
        self._stop_heartbeat = threading.Event()

    def _mine(self) -> Any:
        return (Clip.id == self.clip_id) & (Clip.claim_token == self.token)

    def claim(self) -> bool:
        """Take the clip if it waits, or if the worker that had it stopped beating."""
        return claim_row(self.database, self.settings, Clip, self.clip_id, self.token)

    def progress(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_EVERY_S and fraction < 1.0:
            return
        self._last_progress = now
        # Stopping at the reserve, not at ENOSPC, leaves room for the database and the system.
        self.reserve.check()
        with self.database.session() as session:
            result = session.execute(
                update(Clip)
                .where(self._mine())
                .values(progress=min(max(fraction, 0.0), 0.99), heartbeat_at=utcnow())
            )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            # Raised inside the engine's frame loop, so a deleted clip stops within a progress interval.
            raise ClipGone

    def _heartbeat(self) -> None:
        # Engines may sit in one long step (loading a model) without reporting progress.
        while not self._stop_heartbeat.wait(self.settings.heartbeat_interval_s):
            with self.database.session() as session:
                session.execute(update(Clip).where(self._mine()).values(heartbeat_at=utcnow()))

    def finish(self, **values: Any) -> bool:
        """Write the outcome; False when the clip is no longer this run's."""
        with self.database.session() as session:
            result = session.execute(
                update(Clip).where(self._mine()).values(claim_token=None, finished_at=utcnow(), **values)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    def _mask(self, store: MediaStore, size: tuple[int, int]) -> np.ndarray:
        path = store.keep_still_mask(self.clip_id)
        if not path.is_file():
            raise EngineError("the keep-still area of this clip is gone from the media folder; make it again")
        return load_keep_still_mask(path, size, fit=True)

    def publish(self, rendered: RenderedClip, *, device: str) -> bool:
        """Mark the clip ready and move its files into place in one transaction; False if its row is gone.

        The UPDATE takes the row's lock (the database's write lock on SQLite) before any file moves, so a
        delete either came first (nothing is updated, the caller drops the files) or waits until the files
        are in place and then removes them with the row.
        """
        result = rendered.result
        with self.database.session() as session:
            updated = session.execute(
                update(Clip)
                .where(self._mine())
                .values(
                    status="ready",
                    progress=1.0,
                    width=result.width,
                    height=result.height,
                    metrics=result.metrics | {"device": device},
                    claim_token=None,
                    finished_at=utcnow(),
                )
            )
            if updated.rowcount == 0:  # type: ignore[attr-defined]
                return False
            rendered.move_into_place()
            try:
                session.commit()
            except BaseException:
                rendered.remove_placed()
                raise
        return True

    def run(self, store: MediaStore) -> str:
        if not self.claim():
            return "skipped"
        heartbeat = threading.Thread(target=self._heartbeat, name=f"heartbeat-{self.clip_id}", daemon=True)
        heartbeat.start()
        try:
            with self.database.session() as session:
                clip = session.get(Clip, self.clip_id)
                if clip is None:  # deleted between the claim and here
                    raise ClipGone
                photo = session.get(Photo, clip.photo_id)
                engine_name, spec = clip.engine, _spec(clip)
                masked = bool(clip.settings.get("keep_still"))
            if photo is None:
                raise EngineError("the photo of this clip was deleted")
            display = store.display(photo.id)
            if not display.is_file():
                # Said plainly: the raw FileNotFoundError would show members a path on the server.
                raise EngineError("this photo's working copy is gone from the media folder; upload it again")
            self.reserve.check()
            image = load_photo_rgb(display, max_pixels=self.settings.max_pixels)
            if masked:
                spec = replace(spec, keep_still=self._mask(store, (image.shape[1], image.shape[0])))
            engine = get_engine(engine_name)
            with rendered_clip(
                engine,
                np.ascontiguousarray(image),
                spec,
                video_path=store.video(self.clip_id),
                poster_path=store.poster(self.clip_id),
                progress=self.progress,
            ) as rendered:
                if not self.publish(rendered, device=_device_name(engine)):
                    raise ClipGone
            return "ready"
        except ClipGone:
            # Nothing to mark: the row is gone (or another worker's), and leaving rendered_clip removed
            # the temporary files.
            log.info("clip %s was deleted or taken over while rendering; its files are removed", self.clip_id)
            return "gone"
        except EngineError as exc:
            self.finish(status="failed", error=str(exc))
            return "failed"
        except DiskFull as exc:
            self.finish(status="failed", error=exc.detail)
            return "failed"
        except SoftTimeLimitExceeded:
            limit = self.settings.task_time_limit_s
            self.finish(
                status="failed", error=f"rendering took longer than {limit} s (VIVANT_TASK_TIME_LIMIT_S)"
            )
            return "failed"
        except Exception as exc:
            if is_disk_full(exc):
                self.finish(status="failed", error=self.reserve.full().detail)
                return "failed"
            log.exception("clip %s failed", self.clip_id)
            self.finish(status="failed", error=f"internal error while rendering: {type(exc).__name__}: {exc}")
            return "failed"
        finally:
            self._stop_heartbeat.set()


def give_back_lost(settings: Settings, clip_id: str, pid: int) -> None:
    """Pool process `pid` of this worker died: the clip it was rendering waits again, or fails for good."""
    # An engine of its own, closed at once: pool processes forked later must not inherit its connections.
    database = Database(settings.sqlalchemy_url)
    try:
        with database.session() as session:
            clip = session.scalars(
                select(Clip)
                .where(
                    Clip.id == clip_id,
                    Clip.status == "running",
                    Clip.claim_token.startswith(claim_prefix(pid)),
                )
                .with_for_update()
            ).first()
            if clip is None:
                return  # it died before claiming the clip, or after finishing it
            now = utcnow()
            take_back(clip, max_attempts=settings.max_attempts, now=now)
            if clip.status == "queued":
                clip.sent_at = now  # Celery puts the message back in the queue next
            log.warning("the process rendering clip %s died; the clip is %s", clip_id, clip.status)
    finally:
        database.dispose()


class AnimateRequest(Request):
    """An animate message as the worker's main process handles it."""

    def on_failure(
        self, exc_info: ExceptionInfo, send_failed_event: bool = True, return_ok: bool = False
    ) -> None:
        # Celery learns at once that the pool process died (the OOM killer, kill -9) and puts the message
        # back, but its clip would stay claimed until the heartbeat went stale. Given back first, the clip
        # is taken by the message's next delivery.
        exc = exc_info.exception
        if isinstance(exc, ExceptionWithTraceback):
            exc = exc.exc
        if isinstance(exc, WorkerLostError) and self.worker_pid is not None:
            try:
                give_back_lost(settings_of(self.task.app), self.args[0], self.worker_pid)
            except Exception:  # e.g. the database is away; the clip comes back when its heartbeat goes stale
                log.exception("could not give back clip %s", self.args[0])
        super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)


@shared_task(bind=True, name=ANIMATE_TASK, Request=AnimateRequest)
def animate(self: Task, clip_id: str) -> str:
    """Render one clip. Carries only the id: the database row says everything else."""
    settings = settings_of(self.app)
    store = MediaStore(settings.media_dir)
    return ClipRun(_database(settings.sqlalchemy_url), settings, clip_id).run(store)


class FilmGone(Exception):
    """The film's row is no longer this run's: deleted with its album, or taken over after a stall."""


class FilmRun:
    """One attempt at one album's film, claimed like a clip (see ClipRun) but with less at stake: nothing
    is published beside the film, and a film whose pool process died comes back when its heartbeat is
    stale."""

    def __init__(self, database: Database, settings: Settings, film_id: str):
        self.database = database
        self.settings = settings
        self.film_id = film_id
        self.token = claim_prefix(os.getpid()) + secrets.token_hex(8)
        self.reserve = DiskReserve.for_media(settings)
        self._last_progress = 0.0
        self._stop_heartbeat = threading.Event()

    def _mine(self) -> Any:
        return (Film.id == self.film_id) & (Film.claim_token == self.token)

    def claim(self) -> bool:
        """Take the film if it waits, or if the worker that had it stopped beating."""
        return claim_row(self.database, self.settings, Film, self.film_id, self.token)

    def _update(self, **values: Any) -> bool:
        with self.database.session() as session:
            result = session.execute(update(Film).where(self._mine()).values(**values))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def progress(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_EVERY_S and fraction < 1.0:
            return
        self._last_progress = now
        self.reserve.check()
        if not self._update(progress=min(max(fraction, 0.0), 0.99), heartbeat_at=utcnow()):
            raise FilmGone

    def _heartbeat(self) -> None:
        # Opening the first clip or photo can take a while before the first progress report.
        while not self._stop_heartbeat.wait(self.settings.heartbeat_interval_s):
            self._update(heartbeat_at=utcnow())

    def _fail(self, reason: str) -> str:
        self._update(status="failed", error=reason, claim_token=None, finished_at=utcnow())
        return "failed"

    def run(self, store: MediaStore) -> str:
        if not self.claim():
            return "skipped"
        heartbeat = threading.Thread(target=self._heartbeat, name=f"heartbeat-{self.film_id}", daemon=True)
        heartbeat.start()
        output = store.film(self.film_id)
        try:
            with self.database.session() as session:
                film = session.get(Film, self.film_id)
                if film is None:
                    raise FilmGone
                entries = film_entries(session, film, store)
            self.reserve.check()
            result = compose_film(
                entries, output, long_side=self.settings.clip_long_side, progress=self.progress
            )
            ready = self._update(
                status="ready",
                progress=1.0,
                duration_s=result.duration_s,
                claim_token=None,
                finished_at=utcnow(),
            )
            if not ready:
                raise FilmGone
            return "ready"
        except FilmGone:
            # Its album was deleted meanwhile (or another worker has it): no row keeps this file.
            output.unlink(missing_ok=True)
            log.info("film %s was deleted or taken over while being made", self.film_id)
            return "gone"
        except FilmError as exc:
            return self._fail(str(exc))
        except DiskFull as exc:
            return self._fail(exc.detail)
        except SoftTimeLimitExceeded:
            limit = self.settings.task_time_limit_s
            return self._fail(f"making the film took longer than {limit} s (VIVANT_TASK_TIME_LIMIT_S)")
        except Exception as exc:
            if is_disk_full(exc):
                return self._fail(self.reserve.full().detail)
            log.exception("film %s failed", self.film_id)
            return self._fail(f"internal error while making the film: {type(exc).__name__}: {exc}")
        finally:
            self._stop_heartbeat.set()


@shared_task(bind=True, name=FILM_TASK)
def make_film(self: Task, film_id: str) -> str:
    """Compose one album's film. Carries only the id, like `animate`."""
    settings = settings_of(self.app)
    store = MediaStore(settings.media_dir)
    return FilmRun(_database(settings.sqlalchemy_url), settings, film_id).run(store)
