from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from tocsin.storage import migrate
from tocsin.storage.models import Base


def test_the_migrations_build_exactly_the_models(engine: Engine) -> None:
    # A model changed without a migration (or the reverse) shows up here, on both databases.
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_the_emergency_flags_arrive_with_the_most_severe_level_of_each_scheme_an_install_has(engine: Engine) -> None:
    # An install from before revision 0007: the most severe level was the emergency, by rank.
    config = migrate.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
        connection.execute(text("INSERT INTO severity_schemes (name, active, managed) VALUES ('Ours', false, true)"))
        scheme = connection.execute(text("SELECT id FROM severity_schemes WHERE name = 'Ours'")).scalar_one()
        for rank, name in enumerate(("Red", "Amber")):
            connection.execute(
                text("INSERT INTO severity_levels (scheme_id, name, rank, description) VALUES (:s, :n, :r, '')"),
                {"s": scheme, "n": name, "r": rank},
            )
    migrate.upgrade(engine)

    with engine.connect() as connection:
        marked = connection.execute(text("SELECT name FROM severity_levels WHERE emergency ORDER BY name")).scalars()
        assert list(marked) == ["P0", "Red", "SEV1"]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM severity_schemes WHERE name = 'Ours'"))
