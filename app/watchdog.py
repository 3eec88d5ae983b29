"""Noticing a worker that takes no clips, from the database (the truth), for `vivant serve` to restart it.

A worker can stay alive yet do nothing: its consumer wedged, or its pool process stopped or hung with a
message handed to it. Nothing about the process shows it; the clips do. They wait, sent, while no clip
starts, reports progress or finishes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from app.db import Database
from app.models import Clip, utcnow


class Watchdog:
    def __init__(self, database: Database, bound_s: float):
        self.database = database
        self.bound_s = bound_s

    def stuck(self, *, up_since: datetime) -> str | None:
        """Why the worker up since `up_since` looks stuck, or None while it does not."""
        cutoff = utcnow() - timedelta(seconds=self.bound_s)
        if up_since > cutoff:
            return None  # not up long enough to be judged (it may have just been restarted)
        with self.database.session() as session:
            waiting = session.scalar(
                select(func.count()).select_from(Clip).where(Clip.status == "queued", Clip.sent_at < cutoff)
            )
            if not waiting:
                return None
            # A render reports progress twice a second and beats at least every heartbeat interval, which
            # the settings keep shorter than the bound: any sign of life since the cutoff shows up here.
            active = session.scalar(
                select(Clip.id).where(or_(Clip.heartbeat_at >= cutoff, Clip.finished_at >= cutoff)).limit(1)
            )
        if active is not None:
            return None
        return (
            f"{waiting} clip(s) sent over {self.bound_s:.0f} s ago still wait, and no clip has started, "
            f"progressed or finished since (VIVANT_WATCHDOG_S)"
        )

    def resend_waiting(self) -> None:
        """The stopped worker may have held their messages: the reconciler sends every waiting clip again."""
        with self.database.session() as session:
            session.execute(update(Clip).where(Clip.status == "queued").values(sent_at=None))
