"""alerts and timeline entries without foreign keys to their hot parents; dedup key first

Two things made PostgreSQL slow under an alert storm.

Every row inserted into a table with a foreign key makes PostgreSQL check its
parent with `SELECT … FOR KEY SHARE`: a tuple lock written on the parent row,
and a multixact once two transactions hold it. In an alert storm every new
alert names the same integration, service and incident, and every attachment
writes a timeline entry naming that incident, so two ingest workers spent more
CPU on locking three parent rows than on the alerts themselves. Measured with
bench/ingest.py on PostgreSQL, 2 workers: 2,057 → 3,931 single POSTs/s and p99
108 → 48 ms once these four constraints were gone (dropping two of them gained
nothing: the others stay hot).

What the constraints gave is kept by the code: those parents are never deleted
(services are archived, integrations disabled, incidents kept for the record),
and the ids come from rows the same transaction read.

The unique index of firing alerts puts the dedup key before the integration id.
A storm starts on a table whose statistics say it is empty; with the integration
id first, PostgreSQL's plan for a batch's lookup (`integration_id = ? AND
dedup_key IN (…)`) seeked on the integration alone and filtered every firing
alert of it by key: 10 ms a batch after 16,000 alerts, growing with each one.
With the key first, the keys are what it seeks on, whatever the statistics say.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

DROPPED = (
    ('alerts', 'fk_alerts_integration_id_integrations', 'integration_id', 'integrations', 'CASCADE'),
    ('alerts', 'fk_alerts_service_id_services', 'service_id', 'services', 'CASCADE'),
    ('alerts', 'fk_alerts_incident_id_incidents', 'incident_id', 'incidents', 'SET NULL'),
    ('timeline_entries', 'fk_timeline_entries_incident_id_incidents', 'incident_id', 'incidents', 'CASCADE'),
)


FIRING = sa.text("status = 'firing'")


def upgrade() -> None:
    for table in ('alerts', 'timeline_entries'):
        # SQLite cannot drop a constraint in place: batch mode copies the table.
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in (row[1] for row in DROPPED if row[0] == table):
                batch_op.drop_constraint(name, type_='foreignkey')
    _firing_index(['dedup_key', 'integration_id'])


def _firing_index(columns: list[str]) -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('uq_alerts_firing_dedup', sqlite_where=FIRING, postgresql_where=FIRING)
        batch_op.create_index(
            'uq_alerts_firing_dedup', columns, unique=True, sqlite_where=FIRING, postgresql_where=FIRING
        )


def downgrade() -> None:
    _firing_index(['integration_id', 'dedup_key'])
    for table in ('alerts', 'timeline_entries'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for _, name, column, parent, ondelete in (row for row in DROPPED if row[0] == table):
                batch_op.create_foreign_key(name, parent, [column], ['id'], ondelete=ondelete)
