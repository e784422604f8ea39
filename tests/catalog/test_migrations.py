"""The catalog upgrades: a catalog made before migrations keeps every row and gains the failure
cause's column, a fresh one equals an upgraded one and the model, and the servers refuse a
catalog at another revision, naming the command that upgrades it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, insert, select, text

from afs.catalog import Catalog
from afs.catalog.migrate import (
    BASELINE,
    CatalogOutOfDate,
    _config,
    catalog_revision,
    head_revision,
    require_current,
    upgrade,
)
from afs.catalog.schema import (
    access_keys,
    associations,
    client_tokens,
    fpga_images,
    metadata,
    used_signatures,
)
from afs.status import ImageStatus

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
NOW = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
# What an image in each status carries; an error's message starts with its cause, or with none.
MESSAGES = {
    ImageStatus.ERROR: "PR_VERIFY_FAILED: the design does not fit the shell",
    ImageStatus.DELETING: "WORKER_CRASHED: no heartbeat for 300 s",
    ImageStatus.ACTIVE: None,
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.servers)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    server = request.getfixturevalue("postgres_url")
    database = f"migrations_{uuid.uuid4().hex}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    yield server.rsplit("/", 1)[0] + f"/{database}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE "{database}" WITH (FORCE)')
    admin.dispose()


def _made_before_migrations(catalog: Catalog) -> None:
    """The schema every release before migrations made (create_all): the baseline, unstamped."""
    with catalog.schema_transaction() as connection:
        command.upgrade(_config(connection), BASELINE)
        connection.execute(text("DROP TABLE alembic_version"))


def _image(index: int, status: ImageStatus, message: str | None) -> dict[str, Any]:
    return {
        "id": f"{index:032x}",
        "project_id": PROJECT,
        "name": f"image-{status.value}",
        "description": "made before migrations",
        "dcp_location": "obs-fpga:vu9p/dcp.tar",
        "log_directory": "logs",
        "status": status.value,
        "message": message,
        "size_mb": 53 if status is ImageStatus.ACTIVE else None,
        "metadata": {"shell_id": "0x01010029"},
        "flow_run_id": str(uuid.UUID(int=index)),
        "attempts": 1,
        "requeues": 0,
        "protected": False,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _fill(catalog: Catalog) -> list[dict[str, Any]]:
    """An image in every status (one in creation: the quota allows no more), and a row of every
    other table, written with the baseline's columns only."""
    statuses = [ImageStatus.CREATING, ImageStatus.ACTIVE, ImageStatus.ERROR, ImageStatus.DELETING]
    images = [_image(index, status, MESSAGES.get(status)) for index, status in enumerate(statuses)]
    images.append(_image(9, ImageStatus.ERROR, "the operator's own note, no cause"))
    rows = {
        client_tokens: {
            "project_id": PROJECT,
            "token": "token-1",
            "body_sha256": "0" * 64,
            "image_id": images[0]["id"],
            "created_at": NOW,
        },
        associations: {
            "project_id": PROJECT,
            "image_id": "ecs-image-1",
            "fpga_image_id": images[1]["id"],
            "slot": 0,
            "created_at": NOW,
        },
        access_keys: {
            "access_key": "AK" * 10,
            "project_id": PROJECT,
            "secret_encrypted": "gAAAA...",
            "created_at": NOW,
        },
        used_signatures: {"access_key": "AK" * 10, "signature": "ab" * 32, "expires_at": NOW},
    }
    with catalog.write() as connection:
        connection.execute(insert(fpga_images), images)  # the baseline's columns only
        for table, row in rows.items():
            connection.execute(insert(table).values(**row))
    return images


def _differences(catalog: Catalog) -> list[Any]:
    with catalog.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_a_catalog_made_before_migrations_upgrades_and_keeps_every_row(url: str) -> None:
    catalog = Catalog(url)
    _made_before_migrations(catalog)
    images = _fill(catalog)
    assert catalog_revision(catalog).describe() == (
        f"at revision {BASELINE} (made before migrations); this release needs "
        f"{head_revision()}: run `afs db upgrade`"
    )
    with pytest.raises(CatalogOutOfDate, match=r"run `afs db upgrade`$"):
        require_current(catalog)

    before, after = upgrade(catalog)

    assert (before.current, before.has_tables) == (None, True)
    assert after.up_to_date
    kept = {record.id: record for record in (catalog.get(image["id"]) for image in images)}
    for image in images:
        record = kept[image["id"]].model_dump()
        assert {name: record[name] for name in image} == image, "nothing is lost"
    causes = {record.status.value: record.failure_cause for record in kept.values()}
    assert causes["error"] is None, "the note without a cause stays without one"
    assert kept[images[2]["id"]].failure_cause == "PR_VERIFY_FAILED"
    assert kept[images[3]["id"]].failure_cause == "WORKER_CRASHED"
    assert kept[images[1]["id"]].failure_cause is None
    with catalog.engine.connect() as connection:
        for table in (client_tokens, associations, access_keys, used_signatures):
            assert len(connection.execute(select(table)).all()) == 1, table.name
    assert _differences(catalog) == [], "an upgraded catalog is the model"
    assert upgrade(catalog)[0].up_to_date, "upgrading again changes nothing"
    catalog.dispose()


def test_a_fresh_catalog_is_the_model_at_the_latest_revision(url: str) -> None:
    catalog = Catalog(url)
    assert not catalog_revision(catalog).has_tables
    require_current(catalog)  # an empty catalog is made, not refused
    assert catalog_revision(catalog).current == head_revision()
    assert _differences(catalog) == [], "the model and the revisions agree: no revision missing"
    catalog.dispose()


def test_the_failure_cause_is_written_with_every_message(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.create_schema()
    from afs.models import FpgaImageRequest

    image = catalog.register(
        PROJECT, FpgaImageRequest(dcp_location="obs-fpga:vu9p/dcp.tar", name="image")
    )
    failed = catalog.mark_error(image.id, "TIMING_VIOLATION: WNS -0.120 ns")
    assert failed is not None
    assert failed.failure_cause == "TIMING_VIOLATION"
    assert catalog.retryable_failures(["TIMING_VIOLATION"], max_attempts=3) == [failed]
    assert catalog.retryable_failures(["WORKER_CRASHED"], max_attempts=3) == []
    requeued = catalog.requeue(image.id)
    assert requeued is not None
    assert (requeued.message, requeued.failure_cause) == (None, None)


def test_a_catalog_at_a_revision_this_release_does_not_know_is_refused(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.create_schema()
    with catalog.write() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    with pytest.raises(CatalogOutOfDate, match=r"revision 0999, which this release does not know"):
        require_current(catalog)


@pytest.mark.parametrize("server", [["serve", "--port", "9"], ["worker"], ["dispatcher"]])
def test_the_servers_refuse_an_out_of_date_catalog_naming_the_command(
    tmp_path: Path, server: list[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    _made_before_migrations(Catalog(f"sqlite:///{home / 'catalog.db'}"))
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith("AFS_")},
        "AFS_HOME": str(home),
        "AFS_IMAGE_STORE_ACCESS_KEY": "farm",
        "AFS_IMAGE_STORE_SECRET_KEY": "kept-private",
    }
    afs = [sys.executable, "-m", "afs.cli"]
    refused = subprocess.run(
        [*afs, *server], env=environment, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert refused.stderr == (
        f"afs {server[0]}: the catalog is at revision {BASELINE} (made before migrations); "
        f"this release needs {head_revision()}: run `afs db upgrade`\n"
    )
    upgraded = subprocess.run(
        [*afs, "db", "upgrade"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert upgraded.stdout == (
        f"the catalog is now at revision {head_revision()} (the latest); "
        "it was made before migrations\n"
    )
    current = subprocess.run(
        [*afs, "db", "current"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert (current.returncode, current.stdout) == (
        0,
        f"the catalog is at revision {head_revision()} (the latest)\n",
    )
