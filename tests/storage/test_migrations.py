from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from tocsin.storage.models import Base


def test_the_migrations_build_exactly_the_models(engine: Engine) -> None:
    # A model changed without a migration (or the reverse) shows up here, on both databases.
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
