"""The one task: animate(clip_id). Load the clip row, render, write atomically, mark the state.

Claiming is a conditional UPDATE, so the same clip sent twice (a duplicate message, a re-delivery after a
worker died) is rendered by one live worker at a time and ends as one clip.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import replace
from datetime import timedelta
from functools import cache
from typing import Any

import numpy as np
from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import or_, update

from app.config import Settings
from app.db import Database
from app.images import load_photo_rgb
from app.models import Clip, Photo, utcnow
from app.storage import MediaStore
from worker.celery_app import ANIMATE_TASK, settings_of
from worker.engines import get_engine
from worker.engines.base import Engine, EngineError, MotionSpec
from worker.masks import load_keep_still_mask
from worker.render import render_clip

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.5


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
        loop=bool(s.get("loop", False)),
        seed=int(s.get("seed", 0)),
        long_side=int(s.get("long_side", 1280)),
        preset=s.get("preset"),
    )


class ClipLost(Exception):
    """This run no longer owns its clip: the row was deleted (the family deleted the clip or its photo),
    or another run took the clip over."""


def _device_name(engine: Engine) -> str:
    """Where the clip was made, for "About this clip": "cpu" or the GPU's model name."""
    if engine.queue != "gpu":
        return "cpu"
    import torch  # only GPU engines run where torch is installed

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


class ClipRun:
    """One attempt at one clip by this worker, identified by a claim token."""

    def __init__(self, database: Database, settings: Settings, clip_id: str):
        self.database = database
        self.settings = settings
        self.clip_id = clip_id
        self.token = secrets.token_hex(16)
        self._last_progress = 0.0
        self._stop_heartbeat = threading.Event()

    def _mine(self) -> Any:
        return (Clip.id == self.clip_id) & (Clip.claim_token == self.token)

    def claim(self) -> bool:
        """Take the clip if it waits, or if the worker that had it stopped beating."""
        now = utcnow()
        stale = now - timedelta(seconds=self.settings.stale_after_s)
        with self.database.session() as session:
            result = session.execute(
                update(Clip)
                .where(
                    Clip.id == self.clip_id,
                    or_(Clip.status == "queued", (Clip.status == "running") & (Clip.heartbeat_at < stale)),
                    Clip.attempts < self.settings.max_attempts,
                )
                .values(
                    status="running",
                    claim_token=self.token,
                    attempts=Clip.attempts + 1,
                    progress=0.0,
                    started_at=now,
                    heartbeat_at=now,
                    error=None,
                )
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    def progress(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_EVERY_S and fraction < 1.0:
            return
        self._last_progress = now
        with self.database.session() as session:
            result = session.execute(
                update(Clip)
                .where(self._mine())
                .values(progress=min(max(fraction, 0.0), 0.99), heartbeat_at=utcnow())
            )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            # Raised inside the engine's frame loop, so a deleted clip stops within a progress interval.
            raise ClipLost(self.clip_id)

    def _heartbeat(self) -> None:
        # Engines may sit in one long step (loading a model) without reporting progress.
        interval = self.settings.stale_after_s / 4
        while not self._stop_heartbeat.wait(interval):
            with self.database.session() as session:
                session.execute(update(Clip).where(self._mine()).values(heartbeat_at=utcnow()))

    def finish(self, **values: Any) -> bool:
        """Write the outcome; False when the clip is no longer this run's (see ClipLost)."""
        with self.database.session() as session:
            result = session.execute(
                update(Clip).where(self._mine()).values(claim_token=None, finished_at=utcnow(), **values)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    def _gone(self) -> bool:
        with self.database.session() as session:
            return session.get(Clip, self.clip_id) is None

    def _let_go(self, store: MediaStore) -> str:
        """Stop without writing: a deleted clip's files (which the delete may have missed, being written
        just then) are removed; a clip taken over by another run keeps its files, which that run writes."""
        if self._gone():
            store.delete_clip(self.clip_id)
            return "cancelled"
        return "superseded"

    def _mask(self, store: MediaStore, size: tuple[int, int]) -> np.ndarray:
        path = store.keep_still_mask(self.clip_id)
        if not path.is_file():
            raise EngineError("the keep-still area of this clip is gone from the media folder; make it again")
        return load_keep_still_mask(path, size, fit=True)

    def run(self, store: MediaStore) -> str:
        if not self.claim():
            return "skipped"
        heartbeat = threading.Thread(target=self._heartbeat, name=f"heartbeat-{self.clip_id}", daemon=True)
        heartbeat.start()
        try:
            with self.database.session() as session:
                clip = session.get(Clip, self.clip_id)
                if clip is None:  # deleted between the claim and here
                    raise ClipLost(self.clip_id)
                photo = session.get(Photo, clip.photo_id)
                engine_name, spec = clip.engine, _spec(clip)
                masked = bool(clip.settings.get("keep_still"))
            if photo is None:
                raise EngineError("the photo of this clip was deleted")
            display = store.display(photo.id)
            if not display.is_file():
                # Said plainly: the raw FileNotFoundError would show members a path on the server.
                raise EngineError("this photo's working copy is gone from the media folder; upload it again")
            image = load_photo_rgb(display, max_pixels=self.settings.max_pixels)
            if masked:
                spec = replace(spec, keep_still=self._mask(store, (image.shape[1], image.shape[0])))
            engine = get_engine(engine_name)
            result = render_clip(
                engine,
                np.ascontiguousarray(image),
                spec,
                video_path=store.video(self.clip_id),
                poster_path=store.poster(self.clip_id),
                progress=self.progress,
            )
            metrics = result.metrics | {"device": _device_name(engine)}
            if not self.finish(
                status="ready", progress=1.0, width=result.width, height=result.height, metrics=metrics
            ):
                return self._let_go(store)
            return "ready"
        except ClipLost:
            return self._let_go(store)
        except EngineError as exc:
            self.finish(status="failed", error=str(exc))
            return "failed"
        except SoftTimeLimitExceeded:
            limit = self.settings.task_time_limit_s
            self.finish(
                status="failed", error=f"rendering took longer than {limit} s (VIVANT_TASK_TIME_LIMIT_S)"
            )
            return "failed"
        except Exception as exc:
            log.exception("clip %s failed", self.clip_id)
            self.finish(status="failed", error=f"internal error while rendering: {type(exc).__name__}: {exc}")
            return "failed"
        finally:
            self._stop_heartbeat.set()


@shared_task(bind=True, name=ANIMATE_TASK)
def animate(self: Task, clip_id: str) -> str:
    """Render one clip. Carries only the id: the database row says everything else."""
    settings = settings_of(self.app)
    store = MediaStore(settings.media_dir)
    return ClipRun(_database(settings.sqlalchemy_url), settings, clip_id).run(store)
