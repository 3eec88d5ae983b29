"""Favourites: each member marks the photos they love; the marks are theirs alone."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import Favourite


def set_favourite(*, session: Session, user_id: str, photo_id: str, favourite: bool) -> None:
    """Idempotent both ways: marking twice or unmarking an unmarked photo changes nothing."""
    present = session.get(Favourite, (user_id, photo_id)) is not None
    if favourite and not present:
        session.add(Favourite(user_id=user_id, photo_id=photo_id))
    elif not favourite and present:
        session.execute(delete(Favourite).where(Favourite.user_id == user_id, Favourite.photo_id == photo_id))
    session.flush()


def favourite_ids(*, session: Session, user_id: str, photo_ids: Iterable[str]) -> set[str]:
    """Which of these photos the member marked, in one query."""
    ids = list(photo_ids)
    if not ids:
        return set()
    query = select(Favourite.photo_id).where(Favourite.user_id == user_id, Favourite.photo_id.in_(ids))
    return set(session.scalars(query))
