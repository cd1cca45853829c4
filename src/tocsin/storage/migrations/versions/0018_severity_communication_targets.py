"""severity levels: by when customers are told, and by when the postmortem is due; message templates

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.storage.types import UTCDateTime

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_DAY = 24 * 3600
# The shipped levels get the shipped targets (domain.severity); a level a team made itself
# starts with none, as a new column would give it, until they set one.
_SHIPPED = {
    'P0': (0, 2 * _DAY),
    'P1': (3600, 2 * _DAY),
    'P2': (None, 7 * _DAY),
    'SEV1': (0, 2 * _DAY),
    'SEV2': (3600, 2 * _DAY),
    'SEV3': (None, 7 * _DAY),
}


def upgrade() -> None:
    op.create_table(
        'message_templates',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('key', sa.String(length=50), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.ForeignKeyConstraint(
            ['updated_by_id'], ['users.id'], name=op.f('fk_message_templates_updated_by_id_users'), ondelete='SET NULL'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_message_templates')),
        sa.UniqueConstraint('key', name=op.f('uq_message_templates_key')),
    )
    with op.batch_alter_table('severity_levels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_notice_within_s', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('postmortem_within_s', sa.Integer(), nullable=True))
    levels = sa.table(
        'severity_levels',
        sa.column('name', sa.String),
        sa.column('customer_notice_within_s', sa.Integer),
        sa.column('postmortem_within_s', sa.Integer),
    )
    for name, (customer, postmortem) in _SHIPPED.items():
        op.execute(
            levels.update()
            .where(levels.c.name == name)
            .values(customer_notice_within_s=customer, postmortem_within_s=postmortem)
        )


def downgrade() -> None:
    op.drop_table('message_templates')
    with op.batch_alter_table('severity_levels', schema=None) as batch_op:
        batch_op.drop_column('postmortem_within_s')
        batch_op.drop_column('customer_notice_within_s')
