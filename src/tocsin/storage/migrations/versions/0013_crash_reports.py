"""Crash reports: Sentry projects, crash groups, events and sessions

A crash group is one project's crashes with one fingerprint; its events are
kept for idempotency (unique event id per project), counts per release and
the spike window, with the stack trace of the first and newest few. Sessions
are rolled up per release, environment and hour for the crash-free rate.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tocsin.storage.types

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
UTC = tocsin.storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('crash_groups',
    sa.Column('id', ID, nullable=False),
    sa.Column('integration_id', ID, nullable=False),
    sa.Column('service_id', ID, nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('culprit', sa.String(length=300), nullable=False),
    sa.Column('type', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('first_seen', UTC, nullable=False),
    sa.Column('last_seen', UTC, nullable=False),
    sa.Column('first_release', sa.String(length=200), nullable=False),
    sa.Column('last_release', sa.String(length=200), nullable=False),
    sa.Column('releases', sa.JSON(), nullable=False),
    sa.Column('platforms', sa.JSON(), nullable=False),
    sa.Column('environments', sa.JSON(), nullable=False),
    sa.Column('samples', sa.JSON(), nullable=False),
    sa.Column('resolved_at', UTC, nullable=True),
    sa.Column('resolved_in_release', sa.String(length=200), nullable=True),
    sa.Column('regressed_at', UTC, nullable=True),
    sa.Column('spike_at', UTC, nullable=True),
    sa.Column('alerting', sa.Boolean(), nullable=False),
    sa.Column('first_event_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_crash_groups_integration_id_integrations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_crash_groups_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crash_groups')),
    sa.UniqueConstraint('integration_id', 'fingerprint', name=op.f('uq_crash_groups_integration_id'))
    )
    with op.batch_alter_table('crash_groups', schema=None) as batch_op:
        batch_op.create_index('ix_crash_groups_service_id_last_seen', ['service_id', 'last_seen'], unique=False)

    op.create_table('crash_events',
    sa.Column('id', ID, nullable=False),
    sa.Column('integration_id', ID, nullable=False),
    sa.Column('group_id', ID, nullable=False),
    sa.Column('event_id', sa.String(length=32), nullable=False),
    sa.Column('received_at', UTC, nullable=False),
    sa.Column('occurred_at', UTC, nullable=True),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('release', sa.String(length=200), nullable=False),
    sa.Column('environment', sa.String(length=100), nullable=False),
    sa.Column('platform', sa.String(length=50), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['crash_groups.id'], name=op.f('fk_crash_events_group_id_crash_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_crash_events_integration_id_integrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crash_events')),
    sa.UniqueConstraint('integration_id', 'event_id', name=op.f('uq_crash_events_integration_id'))
    )
    with op.batch_alter_table('crash_events', schema=None) as batch_op:
        batch_op.create_index('ix_crash_events_group_id_received_at', ['group_id', 'received_at'], unique=False)

    op.create_table('crash_sessions',
    sa.Column('id', ID, nullable=False),
    sa.Column('integration_id', ID, nullable=False),
    sa.Column('release', sa.String(length=200), nullable=False),
    sa.Column('environment', sa.String(length=100), nullable=False),
    sa.Column('hour', UTC, nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('errored', sa.BigInteger(), nullable=False),
    sa.Column('crashed', sa.BigInteger(), nullable=False),
    sa.Column('abnormal', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_crash_sessions_integration_id_integrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crash_sessions')),
    sa.UniqueConstraint('integration_id', 'release', 'environment', 'hour', name=op.f('uq_crash_sessions_integration_id'))
    )

    op.create_table('crash_skipped_items',
    sa.Column('id', ID, nullable=False),
    sa.Column('integration_id', ID, nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('last_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_crash_skipped_items_integration_id_integrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crash_skipped_items')),
    sa.UniqueConstraint('integration_id', 'type', name=op.f('uq_crash_skipped_items_integration_id'))
    )


def downgrade() -> None:
    op.drop_table('crash_skipped_items')
    op.drop_table('crash_sessions')
    with op.batch_alter_table('crash_events', schema=None) as batch_op:
        batch_op.drop_index('ix_crash_events_group_id_received_at')

    op.drop_table('crash_events')
    with op.batch_alter_table('crash_groups', schema=None) as batch_op:
        batch_op.drop_index('ix_crash_groups_service_id_last_seen')

    op.drop_table('crash_groups')
