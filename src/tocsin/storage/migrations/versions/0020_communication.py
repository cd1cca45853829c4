"""message templates, update cadence and customer-notice reminders, the monitoring window

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder reserved for issue 7's work; filled in by its branch


def downgrade() -> None:
    pass
