"""Alembic's entry: migrate the connection afs.catalog.migrate hands over, inside its transaction.

With no connection handed over (the `alembic` command, writing a revision), the URL comes from
the factory's settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from afs.catalog.schema import metadata


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters a table by copying it; batch mode does that for the revisions.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _migrate(connection)
else:
    from afs.settings import get_settings

    with create_engine(get_settings().catalog_database_url).begin() as connection:
        _migrate(connection)
