"""runbooks and incident checklists, role hand-off briefings

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder reserved for issue 7's work; filled in by its branch


def downgrade() -> None:
    pass
