"""photos: the clip the family chose to show

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Photos stored before this revision have no choice: they show their newest ready clip, as before.
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chosen_clip_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_column("chosen_clip_id")
