"""photos: when each was taken, and the timeline's index

Photos already stored get their EXIF DateTimeOriginal when the caller names the media folder (as
`vivant serve` does) and the original is there; otherwise their upload time, marked as such.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 06:45:00
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

from app.dates import exif_taken_at, uploaded_at
from app.models import UTCDateTime
from app.storage import MediaStore

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

photos = sa.table(
    "photos",
    sa.column("id", sa.String),
    sa.column("format", sa.String),
    sa.column("created_at", UTCDateTime()),
    sa.column("taken_at", sa.DateTime),
    sa.column("taken_offset_minutes", sa.Integer),
    sa.column("taken_at_source", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("photos") as batch_op:
        batch_op.add_column(sa.Column("taken_at", sa.DateTime(timezone=False), nullable=True))
        batch_op.add_column(sa.Column("taken_offset_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("taken_at_source", sa.String(length=8), nullable=True))

    media_dir: Path | None = context.config.attributes.get("media_dir")
    store = MediaStore(media_dir) if media_dir is not None else None
    connection = op.get_bind()
    for photo_id, fmt, created_at in connection.execute(
        sa.select(photos.c.id, photos.c.format, photos.c.created_at)
    ).all():
        original = store.original(photo_id, fmt) if store is not None else None
        found = exif_taken_at(original, fmt) if original is not None and original.exists() else None
        taken = found or uploaded_at(created_at)
        connection.execute(
            photos.update()
            .where(photos.c.id == photo_id)
            .values(taken_at=taken.local, taken_offset_minutes=taken.offset_minutes, taken_at_source=taken.source)
        )

    with op.batch_alter_table("photos") as batch_op:
        batch_op.alter_column("taken_at", existing_type=sa.DateTime(timezone=False), nullable=False)
        batch_op.alter_column("taken_at_source", existing_type=sa.String(length=8), nullable=False)
        batch_op.create_index("ix_photos_timeline", ["taken_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("photos") as batch_op:
        batch_op.drop_index("ix_photos_timeline")
        batch_op.drop_column("taken_at_source")
        batch_op.drop_column("taken_offset_minutes")
        batch_op.drop_column("taken_at")
