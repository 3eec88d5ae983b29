"""albums, the photos in them, and each member's favourites

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "albums",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("cover_photo_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cover_photo_id"], ["photos.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("albums") as batch_op:
        batch_op.create_index(batch_op.f("ix_albums_created_by"), ["created_by"], unique=False)

    op.create_table(
        "album_photos",
        sa.Column("album_id", sa.String(length=32), nullable=False),
        sa.Column("photo_id", sa.String(length=32), nullable=False),
        sa.Column("added_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["album_id"], ["albums.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("album_id", "photo_id"),
    )
    with op.batch_alter_table("album_photos") as batch_op:
        batch_op.create_index(batch_op.f("ix_album_photos_photo_id"), ["photo_id"], unique=False)

    op.create_table(
        "favourites",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("photo_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["photo_id"], ["photos.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "photo_id"),
    )
    with op.batch_alter_table("favourites") as batch_op:
        batch_op.create_index(batch_op.f("ix_favourites_photo_id"), ["photo_id"], unique=False)


def downgrade() -> None:
    op.drop_table("favourites")
    op.drop_table("album_photos")
    op.drop_table("albums")
