"""runbooks and incident checklists, role hand-off briefings

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.storage.types import UTCDateTime

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'runbooks',
        sa.Column('id', _ID, nullable=False),
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('services', sa.JSON(), nullable=True),
        sa.Column('severities', sa.JSON(), nullable=True),
        sa.Column('links', sa.JSON(), nullable=False),
        sa.Column('phases', sa.JSON(), nullable=False),
        sa.Column('managed', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_runbooks')),
        sa.UniqueConstraint('key', name=op.f('uq_runbooks_key')),
    )
    op.create_table(
        'incident_checklists',
        sa.Column('id', _ID, nullable=False),
        sa.Column('incident_id', _ID, nullable=False),
        sa.Column('runbook_key', sa.String(length=100), nullable=False),
        sa.Column('runbook_name', sa.String(length=200), nullable=False),
        sa.Column('links', sa.JSON(), nullable=False),
        sa.Column('attached_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['incident_id'], ['incidents.id'], name=op.f('fk_incident_checklists_incident_id_incidents'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_checklists')),
        sa.UniqueConstraint('incident_id', name=op.f('uq_incident_checklists_incident_id')),
    )
    op.create_table(
        'incident_checklist_items',
        sa.Column('id', _ID, nullable=False),
        sa.Column('incident_id', _ID, nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('phase', sa.String(length=100), nullable=False),
        sa.Column('time_frame', sa.String(length=100), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('role_key', sa.String(length=50), nullable=True),
        sa.Column('ticked_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('ticked_by_id', _ID, nullable=True),
        sa.Column('ticked_by_name', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ['incident_id'],
            ['incidents.id'],
            name=op.f('fk_incident_checklist_items_incident_id_incidents'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['ticked_by_id'], ['users.id'], name=op.f('fk_incident_checklist_items_ticked_by_id_users'), ondelete='SET NULL'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_checklist_items')),
        sa.UniqueConstraint('incident_id', 'number', name=op.f('uq_incident_checklist_items_incident_id')),
    )
    op.create_table(
        'role_briefings',
        sa.Column('id', _ID, nullable=False),
        sa.Column('role_assignment_id', _ID, nullable=False),
        sa.Column('incident_id', _ID, nullable=False),
        sa.Column('status', sa.Text(), nullable=False),
        sa.Column('actions_taken', sa.Text(), nullable=False),
        sa.Column('hypothesis', sa.Text(), nullable=False),
        sa.Column('given_by_id', _ID, nullable=True),
        sa.Column('given_by_name', sa.String(length=200), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['role_assignment_id'],
            ['role_assignments.id'],
            name=op.f('fk_role_briefings_role_assignment_id_role_assignments'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['incident_id'], ['incidents.id'], name=op.f('fk_role_briefings_incident_id_incidents'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['given_by_id'], ['users.id'], name=op.f('fk_role_briefings_given_by_id_users'), ondelete='SET NULL'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_role_briefings')),
        sa.UniqueConstraint('role_assignment_id', name=op.f('uq_role_briefings_role_assignment_id')),
    )
    op.create_index(op.f('ix_role_briefings_incident_id'), 'role_briefings', ['incident_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_role_briefings_incident_id'), table_name='role_briefings')
    op.drop_table('role_briefings')
    op.drop_table('incident_checklist_items')
    op.drop_table('incident_checklists')
    op.drop_table('runbooks')
