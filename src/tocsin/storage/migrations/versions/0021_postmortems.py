"""postmortems, reviewers and action items

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder reserved for issue 7's work; filled in by its branch


def downgrade() -> None:
    pass
