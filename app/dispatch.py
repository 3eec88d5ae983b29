"""Ringing the queue's doorbell for clips and films, and the reconciler that rings again when a bell
was lost.

The database is the truth: a clip is `queued` until a worker claims it. Sending can fail (broker down);
the clip stays queued and the reconciler sends it again later, so an upload never fails for that.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import redis
from celery import Celery
from sqlalchemy import or_, select, update

from app.clips import take_back
from app.config import Settings
from app.db import Database
from app.models import Clip, Film, utcnow
from worker.celery_app import ANIMATE_TASK, FILM_TASK
from worker.choices import ENGINE_QUEUES

log = logging.getLogger(__name__)

# A queued clip not picked up within this long is sent again (duplicates are harmless: claiming is atomic).
RESEND_AFTER = timedelta(minutes=10)
# Kombu's retry policy covers lost connections only; the embedded broker can also fail a first send when
# a worker declares the same queue at that moment (a unique-name race in its SQLite tables).
SEND_ATTEMPTS = 2


class Dispatcher:
    def __init__(self, celery: Celery, database: Database, settings: Settings):
        self.celery = celery
        self.database = database
        self.settings = settings
        # The broker instance last seen, and whether contact was lost since: a broker that restarts (or
        # that we meet for the first time) may hold none of the messages sent before.
        self._broker_seen: str | None = None
        self._lost_contact = False

    def send(self, clip_id: str, engine: str) -> bool:
        """Send one clip's task; True when the broker took it."""
        if not self._send(ANIMATE_TASK, clip_id, ENGINE_QUEUES.get(engine, "cpu")):
            log.warning("could not queue clip %s; the reconciler will retry", clip_id)
            return False
        with self.database.session() as session:
            session.execute(update(Clip).where(Clip.id == clip_id).values(sent_at=utcnow()))
        return True

    def send_film(self, film_id: str) -> bool:
        """Send one film's task to the cpu queue (composing is decoding and encoding); True when taken."""
        if not self._send(FILM_TASK, film_id, "cpu"):
            log.warning("could not queue film %s; the reconciler will retry", film_id)
            return False
        with self.database.session() as session:
            session.execute(update(Film).where(Film.id == film_id).values(sent_at=utcnow()))
        return True

    def _send(self, task: str, item_id: str, queue: str) -> bool:
        for attempt in range(SEND_ATTEMPTS):
            try:
                self.celery.send_task(
                    task,
                    args=[item_id],
                    queue=queue,
                    retry=True,
                    retry_policy={"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5},
                )
                return True
            except Exception as exc:  # kombu raises many kinds; all mean "not sent now"
                if attempt + 1 < SEND_ATTEMPTS:
                    continue
                log.warning("sending %s %s failed: %s", task, item_id, exc)
                self._lost_contact = True
        return False

    def _broker_instance(self) -> str | None:
        """What identifies the running broker (Redis's run_id changes at every restart); None if down."""
        url = self.settings.celery_broker_url
        try:
            if url.startswith(("redis://", "rediss://")):
                with redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3) as client:
                    return str(client.info("server")["run_id"])
            with self.celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)
            return url
        except Exception:  # redis and kombu raise many kinds; all mean "not reachable now"
            return None

    def reconcile(self) -> int:
        """Re-send lost clips and films, take them back from dead workers; returns how many were sent."""
        broker = self._broker_instance()
        now = utcnow()
        stale = now - timedelta(seconds=self.settings.stale_after_s)
        with self.database.session() as session:
            if broker is None:
                self._lost_contact = True
            elif broker != self._broker_seen or self._lost_contact:
                # A restart, even one too short to notice, empties a broker without persistence.
                for model in (Clip, Film):
                    session.execute(update(model).where(model.status == "queued").values(sent_at=None))
                self._broker_seen, self._lost_contact = broker, False
            # 1. Running clips and films whose worker stopped beating: back to the queue, or failed for good.
            stalled: list[Clip | Film] = [
                *session.scalars(select(Clip).where(Clip.status == "running", Clip.heartbeat_at < stale)),
                *session.scalars(select(Film).where(Film.status == "running", Film.heartbeat_at < stale)),
            ]
            for row in stalled:
                take_back(row, max_attempts=self.settings.max_attempts, now=now)
            session.flush()
            if broker is None:
                return 0
            # 2. Queued clips and films never sent, or sent long ago and still waiting.
            lost = or_(Clip.sent_at.is_(None), Clip.sent_at < now - RESEND_AFTER)
            clips = session.execute(select(Clip.id, Clip.engine).where(Clip.status == "queued", lost)).all()
            lost_film = or_(Film.sent_at.is_(None), Film.sent_at < now - RESEND_AFTER)
            films = session.scalars(select(Film.id).where(Film.status == "queued", lost_film)).all()
        sent = sum(self.send(clip_id, engine) for clip_id, engine in clips)
        return sent + sum(self.send_film(film_id) for film_id in films)
