"""films: one album's clips made into one video

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "films",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("album_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["album_id"], ["albums.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("films", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_films_album_id"), ["album_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_films_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("films", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_films_status"))
        batch_op.drop_index(batch_op.f("ix_films_album_id"))
    op.drop_table("films")
