"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file, mended in two ways.

1. Safe when processes start together. kombu guards creating its tables and queue rows with a lock
   inside one process only. `vivant serve` starts the web app and a worker at once, and `vivant import`
   or a second worker may join them; on a fresh data dir two of them can both find no table (or no queue
   row) and both create it, and the loser's IntegrityError or "table already exists" would stop a worker
   for good. Here the loser looks again and finds what the winner made.
2. Polled from Celery's event loop. kombu calls this transport synchronous, and for such a transport
   Celery runs its fallback pool, whose children all take their tasks from one pipe behind one lock. An
   idle child waits for a task holding that lock, so a child killed while idle (what the OOM killer does)
   takes the lock with it: its replacement waits on the lock for ever, the task handed to the pool is
   never run, and the worker renders nothing more. Declared asynchronous, the transport is polled by
   Celery's event loop, which runs the pool that Redis gets too: a pipe per child, so a dead child's
   pipes go with it.
"""

from __future__ import annotations

from typing import Any

import kombu.transport.sqlalchemy as sqla
from kombu.asynchronous import Hub
from sqlalchemy.exc import IntegrityError, OperationalError

# How often a worker looks for new messages (kombu's default is once a second).
POLL_INTERVAL_S = 0.25


class EmbeddedChannel(sqla.Channel):
    def _open(self) -> Any:
        try:
            return super()._open()
        except OperationalError as exc:
            if "already exists" not in str(exc):
                raise
            # Another process created the tables between the check and the CREATE TABLE. Nothing was kept
            # of this attempt, so the second one checks again and finds them.
            return super()._open()

    def _get_or_create(self, queue: str) -> Any:
        try:
            return super()._get_or_create(queue)
        except IntegrityError:
            # Another process inserted the queue's row between the look and the insert: use theirs.
            self.session.rollback()
            return super()._get_or_create(queue)


class EmbeddedTransport(sqla.Transport):
    Channel = EmbeddedChannel
    polling_interval = POLL_INTERVAL_S
    implements = sqla.Transport.implements.extend(asynchronous=True)

    def register_with_event_loop(self, connection: Any, loop: Hub) -> None:
        # A table has nothing to wait on, so the loop polls it; Celery cancels this timer when it drops
        # the connection.
        loop.call_repeatedly(self.polling_interval, self._deliver_waiting, connection)

    def _deliver_waiting(self, connection: Any) -> None:
        """Hand Celery every message its consumers may take now (prefetch allowing), without waiting."""
        try:
            while True:
                self.drain_events(connection, timeout=0)
        except TimeoutError:  # kombu's way of saying nothing is waiting
            return
