"""alerts: index (incident_id, last_seen) for the grouping window lookup

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_incident")
        batch_op.create_index("ix_alerts_incident", ["incident_id", "last_seen"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_incident")
        batch_op.create_index("ix_alerts_incident", ["incident_id"], unique=False)
