"""practice incidents (drills) and their reports

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.storage.types import UTCDateTime

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'drills',
        sa.Column('id', _ID, nullable=False),
        sa.Column('scenario', sa.String(length=50), nullable=False),
        sa.Column('service_id', _ID, nullable=False),
        sa.Column('started_by_id', _ID, nullable=True),
        sa.Column('started_by', sa.String(length=200), nullable=False),
        sa.Column('started_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('incident_id', _ID, nullable=True),
        sa.Column('finished_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ['service_id'], ['services.id'], name=op.f('fk_drills_service_id_services'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['started_by_id'], ['users.id'], name=op.f('fk_drills_started_by_id_users'), ondelete='SET NULL'
        ),
        sa.ForeignKeyConstraint(
            ['incident_id'], ['incidents.id'], name=op.f('fk_drills_incident_id_incidents'), ondelete='SET NULL'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_drills')),
        sa.UniqueConstraint('incident_id', name=op.f('uq_drills_incident_id')),
    )
    op.create_index('ix_drills_started_at', 'drills', ['started_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_drills_started_at', table_name='drills')
    op.drop_table('drills')
