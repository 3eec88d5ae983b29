"""count the opens of each share link

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Links made before this revision start at 0: their earlier opens were never counted.
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opens", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.drop_column("opens")
