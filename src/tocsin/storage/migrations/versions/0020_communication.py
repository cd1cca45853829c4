"""message templates, update cadence and customer-notice reminders, the monitoring window

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.storage.types import UTCDateTime

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    # Incidents open at upgrade get no reminders: they were declared without a cadence to keep.
    op.create_table(
        'communication_reminders',
        sa.Column('id', _ID, nullable=False),
        sa.Column('incident_id', _ID, nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('owed_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('due_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('stage', sa.Integer(), nullable=False),
        sa.Column('reminded_user_id', _ID, nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('settled_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['incident_id'],
            ['incidents.id'],
            name=op.f('fk_communication_reminders_incident_id_incidents'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_communication_reminders')),
    )
    op.create_index('ix_communication_reminders_due', 'communication_reminders', ['status', 'due_at'])
    op.create_index(
        op.f('ix_communication_reminders_incident_id'), 'communication_reminders', ['incident_id']
    )


def downgrade() -> None:
    op.drop_table('communication_reminders')
