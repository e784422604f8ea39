"""The factory as a tenant's client meets it: `afs serve` and a worker on this session's servers."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from afs.catalog import default_catalog
from afs.catalog.credentials import CredentialStore
from afs.client import FactoryClient
from afs.client.config import ClientConfig
from afs.devstack.embedded import worker
from afs.devstack.localstack import start, stop
from afs.settings import get_settings
from tests.factory import Tenant, discard_waiting_runs, settle_undispatched_images


@pytest.fixture(scope="package")
def factory_api(api_url: str, session_dir: Path) -> Iterator[str]:
    """The session's API with a dispatcher and a worker building what it dispatches.

    Images and runs that other packages left waiting (never meant to be built) are settled
    first: the worker would otherwise spend minutes building them. The dispatcher stops with
    this package, before other packages register images it would dispatch.
    """
    settle_undispatched_images()
    discard_waiting_runs()
    logs = session_dir / "logs"
    command = [sys.executable, "-m", "afs.cli", "dispatcher", "--interval", "0.5"]
    dispatcher = start(command, None, logs / "dispatcher.log", dict(os.environ), timeout=90)
    try:
        with worker(logs):
            yield api_url
    finally:
        stop(dispatcher)


def client_config(api_url: str, tenant: Tenant) -> ClientConfig:
    """What a tenant configures: an API key of its project and its own storage keys."""
    key = CredentialStore.from_settings(get_settings(), default_catalog()).create(tenant.project_id)
    return ClientConfig(
        api_url=api_url,
        access_key=key.access_key,
        secret_key=key.secret_key,
        project_id=key.project_id,
        storage=tenant.storage.credentials,
    )


@pytest.fixture
def config(factory_api: str, tenant: Tenant) -> ClientConfig:
    return client_config(factory_api, tenant)


@pytest.fixture
def client(config: ClientConfig) -> Iterator[FactoryClient]:
    with FactoryClient(config) as client:
        yield client
