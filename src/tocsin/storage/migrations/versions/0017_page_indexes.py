"""indexes for the web pages' lists: changes and crash groups newest first across services

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.create_index('ix_changes_occurred_at', ['occurred_at'], unique=False)
    with op.batch_alter_table('crash_groups', schema=None) as batch_op:
        batch_op.create_index('ix_crash_groups_last_seen', ['last_seen'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('crash_groups', schema=None) as batch_op:
        batch_op.drop_index('ix_crash_groups_last_seen')
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.drop_index('ix_changes_occurred_at')
