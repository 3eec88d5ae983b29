"""When the watchdog calls a worker stuck, read from the clip rows alone; and the bound it may be given."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from pydantic import ValidationError

from app.config import Settings
from app.db import Database
from app.models import Clip, Photo, utcnow
from app.watchdog import Watchdog

BOUND_S = 60


def _clip(database: Database, **values: object) -> str:
    with database.session() as session:
        photo = Photo(sha256=secrets.token_hex(32), format="jpeg", width=4, height=4, size_bytes=1)
        session.add(photo)
        session.flush()
        clip = Clip(photo_id=photo.id, engine="parallax", settings={}, **values)
        session.add(clip)
        session.flush()
        return clip.id


def test_stuck_only_when_sent_clips_wait_and_nothing_moves_for_the_bound(settings: Settings) -> None:
    database = Database(settings.sqlalchemy_url)
    watchdog = Watchdog(database, BOUND_S)
    now = utcnow()
    long_ago, just_now = now - timedelta(seconds=2 * BOUND_S), now - timedelta(seconds=1)
    try:
        # Nothing waits: not stuck.
        assert watchdog.stuck(up_since=long_ago) is None
        waiting = _clip(database, status="queued", sent_at=long_ago)
        # A clip sent long ago waits and nothing moved since: stuck, and the reason says so.
        reason = watchdog.stuck(up_since=long_ago)
        assert reason is not None and "1 clip(s) sent over 60 s ago still wait" in reason
        assert "VIVANT_WATCHDOG_S" in reason
        # A worker just (re)started is given its chance first.
        assert watchdog.stuck(up_since=just_now) is None
        # A clip finished, or a render beating, within the bound: the worker is alive and busy.
        finished = _clip(database, status="ready", finished_at=just_now)
        assert watchdog.stuck(up_since=long_ago) is None
        with database.session() as session:
            session.get(Clip, finished).finished_at = long_ago  # type: ignore[union-attr]
        assert watchdog.stuck(up_since=long_ago) is not None
        _clip(database, status="running", heartbeat_at=just_now)
        assert watchdog.stuck(up_since=long_ago) is None
        # After a restart every waiting clip is sent again by the reconciler.
        watchdog.resend_waiting()
        with database.session() as session:
            assert session.get(Clip, waiting).sent_at is None  # type: ignore[union-attr]
    finally:
        database.dispose()


def test_a_watchdog_bound_within_the_heartbeat_interval_is_refused() -> None:
    with pytest.raises(ValidationError, match="VIVANT_WATCHDOG_S \\(30\\) must be longer"):
        Settings(stale_after_s=120, watchdog_s=30)
    Settings(stale_after_s=120, watchdog_s=31)
