"""Replicas start together (`afs serve --workers N`): the credentials key file and the schema are
each created once, whoever comes first, and every process starts.

The processes are spawned (a fresh interpreter each, as uvicorn's workers are) and meet at a
barrier before each round, so that they really do race.
"""

from __future__ import annotations

import multiprocessing
import stat
import uuid
from multiprocessing.synchronize import Barrier
from pathlib import Path
from queue import Queue

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, inspect

from afs.catalog import Catalog
from afs.catalog.credentials import CredentialStore, load_or_create_key
from afs.settings import Settings

PROCESSES = 6
ROUNDS = 10
# A fresh SQLite file's switch to WAL collides with another process's connection only now and
# then: more rounds, so that a regression shows.
SQLITE_ROUNDS = 60


def _create_keys(paths: list[Path], barrier: Barrier, results: Queue[object]) -> None:
    """In each child: every round, load or create the round's key; report a token it sealed."""
    for path in paths:
        barrier.wait()
        try:
            results.put((path, load_or_create_key(path).encrypt(b"sealed")))
        except Exception as exc:  # reported to the parent, which fails the test with it
            results.put((path, repr(exc)))


def _open_catalogs(urls: list[str], home: Path, barrier: Barrier, results: Queue[object]) -> None:
    """In each child: every round, open a fresh catalog as the API does at start-up."""
    for url in urls:
        barrier.wait()
        try:
            catalog = Catalog(url)
            catalog.create_schema()
            CredentialStore.from_settings(Settings(home=home, catalog_url=url), catalog)
            catalog.dispose()
            results.put((url, "ok"))
        except Exception as exc:
            results.put((url, repr(exc)))


def _race(target: object, rounds: list, *args: object) -> dict[object, list[object]]:
    """Run `target(rounds, *args, barrier, results)` in PROCESSES spawned children at once."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    children = [
        context.Process(target=target, args=(rounds, *args, barrier, results))
        for _ in range(PROCESSES)
    ]
    for child in children:
        child.start()
    reported: dict[object, list[object]] = {item: [] for item in rounds}
    for _ in range(PROCESSES * len(rounds)):
        item, outcome = results.get(timeout=120)
        reported[item].append(outcome)
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    return reported


def test_processes_creating_the_key_at_once_all_end_with_the_same_key(tmp_path: Path) -> None:
    paths = [tmp_path / f"round-{n}" / "credentials.key" for n in range(ROUNDS)]
    for path, tokens in _race(_create_keys, paths).items():
        assert all(isinstance(token, bytes) for token in tokens), tokens
        fernet = Fernet(path.read_bytes().strip())  # the one key every process ended with
        assert {fernet.decrypt(token) for token in tokens} == {b"sealed"}
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [file.name for file in path.parent.iterdir()] == [path.name]  # no leftovers


def test_processes_opening_a_fresh_sqlite_catalog_at_once_all_start(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'catalog-{n}.db'}" for n in range(SQLITE_ROUNDS)]
    _assert_all_started(_race(_open_catalogs, urls, tmp_path))


@pytest.mark.servers
def test_processes_opening_a_fresh_postgresql_catalog_at_once_all_start(
    postgres_url: str, tmp_path: Path
) -> None:
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    urls = []
    with admin.connect() as connection:
        for _ in range(ROUNDS):
            database = f"start_{uuid.uuid4().hex}"
            connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
            urls.append(postgres_url.rsplit("/", 1)[0] + f"/{database}")
    admin.dispose()
    _assert_all_started(_race(_open_catalogs, urls, tmp_path))


def _assert_all_started(reported: dict[object, list[object]]) -> None:
    for url, outcomes in reported.items():
        assert outcomes == ["ok"] * PROCESSES, (url, outcomes)
        engine = create_engine(str(url))
        assert {"fpga_images", "api_access_keys"} <= set(inspect(engine).get_table_names())
        engine.dispose()
