"""practice incidents (drills) and their reports

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder reserved for issue 7's work; filled in by its branch


def downgrade() -> None:
    pass
