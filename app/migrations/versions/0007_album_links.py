"""album links: a share shows one clip or one whole album

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept here as written on the day, not imported: a later change to the model must not change this step.
ONE_TARGET = "(clip_id IS NULL AND album_id IS NOT NULL) OR (clip_id IS NOT NULL AND album_id IS NULL)"


def upgrade() -> None:
    # Batch mode: SQLite changes a column's nullability and adds constraints only by copying the table.
    # Every existing link is a clip's, so it already meets the check.
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.add_column(sa.Column("album_id", sa.String(length=32), nullable=True))
        batch_op.alter_column("clip_id", existing_type=sa.String(length=32), nullable=True)
        batch_op.create_foreign_key(
            "fk_shares_album_id_albums", "albums", ["album_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index(batch_op.f("ix_shares_album_id"), ["album_id"], unique=False)
        batch_op.create_check_constraint("ck_shares_one_target", ONE_TARGET)


def downgrade() -> None:
    # Album links cannot be written in the older shape: they go.
    op.execute("DELETE FROM shares WHERE album_id IS NOT NULL")
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.drop_constraint("ck_shares_one_target", type_="check")
        batch_op.drop_index(batch_op.f("ix_shares_album_id"))
        batch_op.drop_constraint("fk_shares_album_id_albums", type_="foreignkey")
        batch_op.alter_column("clip_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_column("album_id")
