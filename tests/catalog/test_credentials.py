"""API access keys: bound to a project, the secret encrypted at rest, the key file private."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from afs.catalog import Catalog
from afs.catalog.credentials import CredentialKeyError, CredentialStore, load_or_create_key
from afs.settings import Settings

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path)


@pytest.fixture
def store(settings: Settings) -> CredentialStore:
    catalog = Catalog.from_settings(settings)
    catalog.create_schema()
    return CredentialStore.from_settings(settings, catalog)


def test_a_created_key_pair_is_bound_to_its_project_and_found_again(store) -> None:
    new = store.create(PROJECT)
    found = store.lookup(new.access_key)
    assert found.project_id == PROJECT
    assert found.secret_key.get_secret_value() == new.secret_key
    assert len(new.access_key) == 20
    assert len(new.secret_key) == 40
    assert store.lookup("NOSUCHKEY") is None


def test_a_key_read_once_is_served_from_memory_until_it_expires(store, monkeypatch) -> None:
    import afs.catalog.credentials

    new = store.create(PROJECT)
    assert store.cached(new.access_key) is None
    found = store.lookup(new.access_key)
    assert store.cached(new.access_key) == found

    later = afs.catalog.credentials.time.monotonic() + afs.catalog.credentials.KEY_CACHE_SECONDS + 1
    monkeypatch.setattr(afs.catalog.credentials.time, "monotonic", lambda: later)
    assert store.cached(new.access_key) is None


def test_an_unknown_key_is_not_remembered_so_it_works_once_created(store) -> None:
    assert store.lookup("NOSUCHKEY") is None
    assert store.cached("NOSUCHKEY") is None


def test_the_secret_is_not_stored_in_clear_and_never_shown_by_the_model(store, settings) -> None:
    new = store.create(PROJECT)
    assert new.secret_key.encode() not in (settings.home / "catalog.db").read_bytes()
    assert new.secret_key not in repr(store.lookup(new.access_key))


def test_the_key_file_is_private_and_a_readable_one_is_refused(settings, store) -> None:
    path = settings.credentials_key_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)
    with pytest.raises(CredentialKeyError):
        load_or_create_key(path)


def test_a_key_file_without_a_key_is_refused_by_name(tmp_path) -> None:
    path = tmp_path / "credentials.key"
    path.touch(mode=0o600)  # as a writer that died half-way could leave it
    with pytest.raises(CredentialKeyError, match="does not hold a Fernet key"):
        load_or_create_key(path)


def test_a_store_with_another_key_file_cannot_read_the_secrets(settings, store, tmp_path) -> None:
    new = store.create(PROJECT)
    stranger = CredentialStore(
        Catalog.from_settings(settings), load_or_create_key(tmp_path / "other.key")
    )
    with pytest.raises(CredentialKeyError):
        stranger.lookup(new.access_key)


def test_the_command_prints_the_pair_once_as_json(settings: Settings) -> None:
    import json

    env = {**os.environ, "AFS_HOME": str(settings.home)}
    command = [sys.executable, "-m", "afs.api.commands", "credentials", "create"]
    done = subprocess.run(
        [*command, "--project", PROJECT], env=env, capture_output=True, text=True, check=True
    )
    printed = json.loads(done.stdout)
    assert set(printed) == {"access_key", "secret_key", "project_id"}
    assert printed["project_id"] == PROJECT
    refused = subprocess.run(
        [*command, "--project", "nope"], env=env, capture_output=True, text=True, check=False
    )
    assert refused.returncode == 2
