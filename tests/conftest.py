"""Test-session set-up: real servers over HTTP, started once, stopped at the end.

The environment is fixed here, before anything imports prefect or reads settings, so every test and
every flow run in this process talks to the same Prefect server and S3 endpoint.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_ROOT_ENV = "AFS_TESTS_SESSION_ROOT"


def _session_dir() -> Path:
    """Where this session's servers keep their files. Under `make test`'s two test processes
    (pytest-xdist), each has its own servers, in a folder of the controller's named after it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    root = os.environ.get(_SESSION_ROOT_ENV)
    if worker and root:
        (Path(root) / worker).mkdir(exist_ok=True)
        return Path(root) / worker
    root = tempfile.mkdtemp(prefix="afs-tests-")
    os.environ[_SESSION_ROOT_ENV] = root  # the workers xdist starts inherit it
    return Path(root)


_SESSION_DIR = _session_dir()
_PREFECT_PORT = None


def _configure_environment() -> None:
    from afs.devstack.localstack import free_port, prefect_environment
    from afs.devstack.samples import EMULATOR_FAULTS_ENV

    global _PREFECT_PORT
    _PREFECT_PORT = free_port()
    api_url = f"http://127.0.0.1:{_PREFECT_PORT}/api"
    os.environ.update(prefect_environment(_SESSION_DIR / "prefect", api_url))
    os.environ["AFS_HOME"] = str(_SESSION_DIR / "afs-home")
    os.environ[EMULATOR_FAULTS_ENV] = "1"  # the sample DCPs' faults are acted out in tests only
    os.environ["AFS_ALLOW_EMULATOR"] = "true"
    # The servers refuse the built-in secrets; moto's store takes any key.
    os.environ["AFS_IMAGE_STORE_ACCESS_KEY"] = "afs-tests-image-store"
    os.environ["AFS_IMAGE_STORE_SECRET_KEY"] = "afs-tests-image-store-secret"
    # Shorter than in production, so that the tests of cancels and lost workers wait less.
    os.environ["AFS_VIVADO_TERM_GRACE_SECONDS"] = "2"
    os.environ["AFS_ZOMBIE_AFTER_SECONDS"] = "60"
    os.environ["AFS_STORAGE_STEP_BACKOFF_SECONDS"] = "0.5"


_configure_environment()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(exitstatus: int) -> None:
    """The servers are stopped by now. Their files and logs go when every test passed; after a
    failure they stay for reading (the summary says where)."""
    if exitstatus == pytest.ExitCode.OK:
        shutil.rmtree(_SESSION_DIR, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _SESSION_DIR.exists():
        terminalreporter.write_line(f"servers' logs and files kept in {_SESSION_DIR}")


# A test that uses one of these (directly or through another fixture) needs a real server.
_SERVER_FIXTURES = frozenset({"s3_endpoint", "prefect_api", "postgres_url", "api_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need a server, so that `make test-fast` can leave them out."""
    for item in items:
        if _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


@pytest.fixture(autouse=True)
def _no_status_events_without_prefect(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing `flows` has this process publish image status changes to Prefect; a test
    without the session's servers has no Prefect to publish to."""
    if request.node.get_closest_marker("servers") is None:
        from afs.catalog import store

        monkeypatch.setattr(store, "_status_observers", [])


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION_DIR


@pytest.fixture(scope="session")
def s3_endpoint(session_dir: Path) -> Iterator[str]:
    """moto's S3 server in its own process, over HTTP."""
    from afs.devstack.localstack import s3_server

    with s3_server(session_dir / "logs") as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def prefect_api(session_dir: Path) -> Iterator[str]:
    """A real Prefect server (SQLite) at the PREFECT_API_URL this session was configured with."""
    from afs.devstack.localstack import prefect_server

    with prefect_server(session_dir / "prefect", port=_PREFECT_PORT) as api_url:
        yield api_url
        # Deliver this process's queued run logs and events while the server still listens;
        # otherwise their workers retry against a stopped server at interpreter exit.
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=30)
        EventsWorker.drain_all(timeout=30)


@pytest.fixture
def s3_client(s3_endpoint: str):
    """A boto3 client with moto's accepted development credentials."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="cn-north-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="session")
def factory(s3_endpoint: str, prefect_api: str) -> Iterator[None]:
    """Settings pointed at this session's servers, with the sample shells installed."""
    from afs.catalog import default_catalog
    from afs.deployments import deploy_factory
    from afs.devstack.embedded import install_sample_shells
    from afs.settings import get_settings

    os.environ["AFS_OBS_ENDPOINT"] = s3_endpoint
    get_settings.cache_clear()
    default_catalog.cache_clear()
    install_sample_shells(get_settings())
    deploy_factory(get_settings())
    return


@pytest.fixture(scope="session")
def api_url(factory: None, session_dir: Path) -> Iterator[str]:
    """The session's one API, `afs serve` in its own process, without a dispatcher.

    A dispatcher would turn the images other tests register into flow runs behind their backs;
    the tests that need dispatching start one beside their worker (tests/client/conftest.py).
    """
    from afs.devstack.localstack import free_port, start, stop

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "afs.cli", "serve", "--port", str(port), "--no-dispatcher"]
    log = session_dir / "logs" / "api.log"
    process = start(command, f"{url}/health", log, dict(os.environ), timeout=90)
    try:
        yield url
    finally:
        stop(process)


@pytest.fixture
def tenant(factory: None, s3_endpoint: str):
    from tests.factory import Tenant

    return Tenant(s3_endpoint)


@pytest.fixture(scope="session")
def postgres_url(session_dir: Path) -> Iterator[str]:
    """A real PostgreSQL server (the scale-out catalog), started for this session."""
    from afs.devstack.localstack import postgres_server

    with postgres_server(session_dir / "logs") as url:
        yield url
