"""The catalog's schema revisions (Alembic, the tool Prefect's own database uses).

Run through afs.catalog.migrate (`afs db upgrade`, `afs db current`), never on import. A new
revision: `alembic -c afs/catalog/migrations/alembic.ini revision -m "..."` from the checkout.
"""
