"""films.sent_at: when a film's task was last handed to the broker, so that the reconciler sends lost ones

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("films") as batch:
        batch.add_column(sa.Column("sent_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("films") as batch:
        batch.drop_column("sent_at")
