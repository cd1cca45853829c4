"""postmortems, reviewers and action items

A postmortem per incident (drafted on resolve), its reviewers, the incident's action items,
the reminders owed about them (`action_item_reminders`: due soon, overdue, escalation) and
the GitHub calls owed for them (`action_item_syncs`), each a row the engine claims when due.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tocsin.storage.types

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('postmortems',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('incident_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('due_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('submitted_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('public_summary', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_postmortems_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_postmortems_published_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_postmortems_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postmortems')),
    sa.UniqueConstraint('incident_id', name=op.f('uq_postmortems_incident_id'))
    )
    op.create_index('ix_postmortems_status_due', 'postmortems', ['status', 'due_at'], unique=False)
    op.create_table('action_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('incident_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('postmortem_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('priority', sa.String(length=2), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('due_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('github_issue_number', sa.Integer(), nullable=True),
    sa.Column('github_issue_url', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_action_items_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_action_items_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_action_items_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['postmortem_id'], ['postmortems.id'], name=op.f('fk_action_items_postmortem_id_postmortems'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_items'))
    )
    op.create_index('ix_action_items_incident', 'action_items', ['incident_id'], unique=False)
    op.create_index(op.f('ix_action_items_owner_id'), 'action_items', ['owner_id'], unique=False)
    op.create_index('ix_action_items_status_due', 'action_items', ['status', 'due_at'], unique=False)
    op.create_table('postmortem_reviewers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('postmortem_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('added_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('approved_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['postmortem_id'], ['postmortems.id'], name=op.f('fk_postmortem_reviewers_postmortem_id_postmortems'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_postmortem_reviewers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postmortem_reviewers')),
    sa.UniqueConstraint('postmortem_id', 'user_id', name=op.f('uq_postmortem_reviewers_postmortem_id'))
    )
    op.create_table('action_item_reminders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action_item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('due_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('sent_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['action_item_id'], ['action_items.id'], name=op.f('fk_action_item_reminders_action_item_id_action_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_item_reminders')),
    sa.UniqueConstraint('action_item_id', 'kind', name=op.f('uq_action_item_reminders_action_item_id'))
    )
    op.create_index('ix_action_item_reminders_status_due', 'action_item_reminders', ['status', 'due_at'], unique=False)
    op.create_table('action_item_syncs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action_item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('operation', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('due_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline', tocsin.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', tocsin.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['action_item_id'], ['action_items.id'], name=op.f('fk_action_item_syncs_action_item_id_action_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_item_syncs')),
    sa.UniqueConstraint('action_item_id', 'operation', name=op.f('uq_action_item_syncs_action_item_id'))
    )
    op.create_index('ix_action_item_syncs_status_due', 'action_item_syncs', ['status', 'due_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_action_item_syncs_status_due', table_name='action_item_syncs')
    op.drop_table('action_item_syncs')
    op.drop_index('ix_action_item_reminders_status_due', table_name='action_item_reminders')
    op.drop_table('action_item_reminders')
    op.drop_table('postmortem_reviewers')
    op.drop_index('ix_action_items_status_due', table_name='action_items')
    op.drop_index(op.f('ix_action_items_owner_id'), table_name='action_items')
    op.drop_index('ix_action_items_incident', table_name='action_items')
    op.drop_table('action_items')
    op.drop_index('ix_postmortems_status_due', table_name='postmortems')
    op.drop_table('postmortems')
