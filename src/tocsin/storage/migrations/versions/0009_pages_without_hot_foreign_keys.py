"""notifications and acknowledge links without foreign keys to users and contact methods

The same finding as 0008, on the paging side. When many escalations fall due
at once, every page and acknowledge link of a batch names the few people on
call and their contact methods, and PostgreSQL checks each of those foreign
keys with `SELECT … FOR KEY SHARE` on the parent row (a tuple lock written on
it; a multixact once two transactions hold it — and two do, working one
backlog). Measured with bench/paging.py, 10,000 escalations due at one instant
on PostgreSQL: all paged after 1.0-1.1 s with these constraints, 0.9 s
without; a batch's notification insert 24 → 19 ms, its links 14 → 11 ms.

What the constraints did is kept by the code: users are never deleted (they
are deactivated), and removing a contact method sets its notifications'
`contact_method_id` to NULL itself (services.contacts.remove_contact_method),
as ON DELETE SET NULL did.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

DROPPED = (
    ('notifications', 'fk_notifications_user_id_users', 'user_id', 'users', 'SET NULL'),
    ('notifications', 'fk_notifications_contact_method_id_contact_methods', 'contact_method_id', 'contact_methods', 'SET NULL'),
    ('ack_links', 'fk_ack_links_user_id_users', 'user_id', 'users', 'CASCADE'),
)


def upgrade() -> None:
    for table in ('notifications', 'ack_links'):
        # SQLite cannot drop a constraint in place: batch mode copies the table.
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in (row[1] for row in DROPPED if row[0] == table):
                batch_op.drop_constraint(name, type_='foreignkey')


def downgrade() -> None:
    for table in ('notifications', 'ack_links'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for _, name, column, parent, ondelete in (row for row in DROPPED if row[0] == table):
                batch_op.create_foreign_key(name, parent, [column], ['id'], ondelete=ondelete)
