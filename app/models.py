"""The tables. Ids are random (uuid4 hex) so that no id can be guessed from another."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.dates import TakenAt, TakenSource, uploaded_at


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


def _upload_wall_clock() -> datetime:
    """A photo with no date of its own is placed at its upload time (UTC), as app.dates.uploaded_at does."""
    return uploaded_at(utcnow()).local


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthSession(Base):
    """A signed-in browser or client. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class Photo(Base):
    __tablename__ = "photos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # The uploaded name, shown to members only; files on disk use generated names.
    original_name: Mapped[str] = mapped_column(String(255), default="")
    format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # When it was taken: the camera's wall clock, naive on purpose (app/dates.py says why), with the
    # camera's offset from UTC where it wrote one; the upload time where the photo has no date.
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=False), default=_upload_wall_clock)
    taken_offset_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    taken_at_source: Mapped[str] = mapped_column(String(8), default="upload")
    # The clip the family chose to show. No foreign key: photos and clips would point at each other and
    # every delete would need ordering; a choice that points at a deleted clip just falls back (clip_to_show).
    chosen_clip_id: Mapped[str | None] = mapped_column(String(32), nullable=True)

    # The timeline pages by (taken_at, id), newest first: one index serves every page, however deep.
    __table_args__ = (Index("ix_photos_timeline", "taken_at", "id"),)

    @property
    def taken(self) -> TakenAt:
        return TakenAt(self.taken_at, self.taken_offset_minutes, cast(TakenSource, self.taken_at_source))

    clips: Mapped[list[Clip]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", order_by="Clip.created_at", lazy="selectin"
    )


class Clip(Base):
    """The truth about one clip. The queue only rings the bell; this row says what is done."""

    __tablename__ = "clips"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    photo_id: Mapped[str] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    engine: Mapped[str] = mapped_column(String(32))
    # The motion settings the clip was asked with (strength, seconds, fps, loop, camera, preset, seed).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Which worker run owns the clip now; a superseded run may not write its result.
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    photo: Mapped[Photo] = relationship(back_populates="clips")
    shares: Mapped[list[Share]] = relationship(back_populates="clip", cascade="all, delete-orphan")


ShareKind = Literal["clip", "album"]
# Exactly one of the two: written out in full, the same SQL on SQLite and PostgreSQL.
ONE_SHARE_TARGET = "(clip_id IS NULL AND album_id IS NOT NULL) OR (clip_id IS NOT NULL AND album_id IS NULL)"


class Share(Base):
    """A link to one clip or to one album, never both: deleting what it shows deletes the link."""

    __tablename__ = "shares"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clip_id: Mapped[str | None] = mapped_column(
        ForeignKey("clips.id", ondelete="CASCADE"), index=True, nullable=True
    )
    album_id: Mapped[str | None] = mapped_column(
        ForeignKey("albums.id", ondelete="CASCADE", name="fk_shares_album_id_albums"),
        index=True,
        nullable=True,
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    allow_download: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # How often the public page showed the clip, so the family can see which links are in use.
    opens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    clip: Mapped[Clip | None] = relationship(back_populates="shares")
    album: Mapped[Album | None] = relationship()
    creator: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (CheckConstraint(ONE_SHARE_TARGET, name="ck_shares_one_target"),)

    @property
    def kind(self) -> ShareKind:
        return "album" if self.album_id is not None else "clip"

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class LoginFailure(Base):
    """Recent failed logins, by account and by address, for rate limiting."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Album(Base):
    """A named set of photos. Its photos are shown by date taken; removing it never removes them."""

    __tablename__ = "albums"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Chosen by a member; when unset (or its photo is deleted) the cover is the album's first photo.
    cover_photo_id: Mapped[str | None] = mapped_column(
        ForeignKey("photos.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    creator: Mapped[User | None] = relationship(lazy="joined")


class AlbumPhoto(Base):
    """A photo in an album. Both sides cascade: deleting either removes the entry, never the other."""

    __tablename__ = "album_photos"

    album_id: Mapped[str] = mapped_column(ForeignKey("albums.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[str] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Film(Base):
    """One album's film: its clips in turn, each fading into the next, made by a worker on the cpu queue.

    Deleting the album deletes its films' rows (the key cascades); the route removes their files."""

    __tablename__ = "films"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    album_id: Mapped[str] = mapped_column(ForeignKey("albums.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    # Claimed like a clip (worker/tasks.py FilmRun): a film sent twice is made once, and one whose worker
    # died is taken back by the reconciler when its heartbeat is stale, up to VIVANT_MAX_ATTEMPTS tries.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the broker last took its task: the reconciler sends a film again when this is unset or old.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class Favourite(Base):
    """A member's favourite photo: each member keeps their own."""

    __tablename__ = "favourites"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[str] = mapped_column(
        ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
