"""Counting recent failures (sign-ins, share passwords) per key, to answer 429 past a limit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.errors import ServiceError
from app.models import LoginFailure, utcnow

WINDOW = timedelta(minutes=15)


class Throttled(ServiceError):
    def __init__(self) -> None:
        super().__init__(429, f"too many failed attempts; wait {WINDOW.seconds // 60} minutes and try again")


def check_throttle(session: Session, keys: list[str], *, limits: list[int]) -> None:
    """Raise Throttled when any key has reached its limit of failures within the window."""
    since = utcnow() - WINDOW
    for key, limit in zip(keys, limits, strict=True):
        count = session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.key == key, LoginFailure.at > since)
        )
        if (count or 0) >= limit:
            raise Throttled()


def record_failure(session: Session, keys: list[str]) -> None:
    now = utcnow()
    session.add_all([LoginFailure(key=key, at=now) for key in keys])
    # Committed at once: the failure must count even though the request ends in an error.
    session.commit()


def clear_failures(session: Session, key: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.key == key))
    session.execute(delete(LoginFailure).where(LoginFailure.at < utcnow() - WINDOW))
