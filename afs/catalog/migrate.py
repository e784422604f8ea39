"""The catalog's schema revision: where a catalog is, and bringing it to this code's
(`afs db current`, `afs db upgrade`).

A catalog with no tables is created at the latest revision wherever it is first opened; one with
tables at an older revision is upgraded only on an operator's command, so the API, the dispatcher
and the workers refuse it until then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from pydantic import BaseModel
from sqlalchemy import Connection, inspect

from afs.errors import ConfigurationError

if TYPE_CHECKING:
    from afs.catalog.store import Catalog

# Catalogs made before migrations (create_all) have this schema and no version table.
BASELINE = "0001"
UPGRADE_COMMAND = "afs db upgrade"


class CatalogOutOfDate(ConfigurationError):
    """The catalog's schema is not the one this code needs; the message names the command."""


class CatalogRevision(BaseModel):
    current: str | None  # None: no version recorded
    head: str
    has_tables: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        """Where the catalog is, and what to do about it when it is not at the latest."""
        if self.up_to_date:
            return f"at revision {self.current} (the latest)"
        if not self.has_tables:
            return f"empty; `{UPGRADE_COMMAND}` (or any server) creates it at revision {self.head}"
        if self.current is None:
            where = f"{BASELINE} (made before migrations)"
        elif not _known(self.current):
            return f"at revision {self.current}, which this release does not know (a newer one?)"
        else:
            where = self.current
        return f"at revision {where}; this release needs {self.head}: run `{UPGRADE_COMMAND}`"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "afs.catalog:migrations")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(_config()).get_revision(revision) is not None
    except CommandError:
        return False


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the migrations package has revisions"
    return head


def _revision(connection: Connection) -> CatalogRevision:
    return CatalogRevision(
        current=MigrationContext.configure(connection).get_current_revision(),
        head=head_revision(),
        has_tables=inspect(connection).has_table("fpga_images"),
    )


def catalog_revision(catalog: Catalog) -> CatalogRevision:
    with catalog.engine.connect() as connection:
        return _revision(connection)


def upgrade(catalog: Catalog) -> tuple[CatalogRevision, CatalogRevision]:
    """Bring the catalog to the latest revision, one process at a time; (before, after)."""
    with catalog.schema_transaction() as connection:
        before = _revision(connection)
        if before.current is None and before.has_tables:
            command.stamp(_config(connection), BASELINE)
        command.upgrade(_config(connection), "head")
        after = _revision(connection)
    return before, after


def require_current(catalog: Catalog) -> None:
    """Create an empty catalog at the latest revision; refuse (CatalogOutOfDate) one at another."""
    revision = catalog_revision(catalog)
    if revision.up_to_date:
        return
    if not revision.has_tables:
        with catalog.schema_transaction() as connection:
            if not _revision(connection).has_tables:  # not made meanwhile by another process
                command.upgrade(_config(connection), "head")
        revision = catalog_revision(catalog)
        if revision.up_to_date:
            return
    raise CatalogOutOfDate(f"the catalog is {revision.describe()}")
