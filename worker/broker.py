"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file, safe when processes start together.

kombu guards creating its tables and queue rows with a lock inside one process only. `vivant serve`
starts the web app and a worker at once, and `vivant import` or a second worker may join them; on a
fresh data dir two of them can both find no table (or no queue row) and both create it, and the loser's
IntegrityError or "table already exists" would stop a worker for good. Here the loser looks again and
finds what the winner made.
"""

from __future__ import annotations

from typing import Any

import kombu.transport.sqlalchemy as sqla
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
