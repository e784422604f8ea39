"""The fault suite's stack: build hosts a test may kill; what every fault test checks at its end.

A build host is `afs worker` with a home of its own (its builds directory) that shares the
factory's catalog and tenants with this process, as the hosts of a build farm do. The package
starts one and keeps it for every test; a test that kills it starts it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun

from afs.catalog import Catalog, default_catalog
from afs.deployments import CREATE_DEPLOYMENT_PATH
from afs.devstack.embedded import wait_for_worker
from afs.devstack.localstack import start, stop
from afs.models import ImageRecord
from afs.orchestration.dispatch import deployment_starter, dispatch_pending
from afs.settings import get_settings
from afs.status import FINISHED
from tests.factory import (
    Tenant,
    discard_waiting_runs,
    kill_tree,
    read_log_tarball,
    settle_undispatched_images,
)

T = TypeVar("T")

DCP_KEY = "dcp/design.tar"

# What every build host of this suite runs with.
HOST_ENVIRONMENT = {
    "PREFECT_WORKER_QUERY_SECONDS": "1",  # runs start within a second, as on the embedded stack
    "AFS_DRAIN_TIMEOUT_SECONDS": "10",
    # Storage gives up within seconds: 4 s of silence ends an attempt, and no retry starts that
    # could end past 13 s, so a call that stalls is tried twice; a step (fetch, upload) whose
    # call failed so is tried once more, half a second later (tests/conftest.py).
    "AFS_STORAGE_CONNECT_TIMEOUT_SECONDS": "2",
    "AFS_STORAGE_READ_TIMEOUT_SECONDS": "4",
    "AFS_STORAGE_DEADLINE_SECONDS": "13",
    "AFS_STORAGE_STEP_RETRIES": "1",
}
STALLS_THAT_FAIL_A_STEP = 2 * 2  # two tries of the step, each a call tried twice


def wait_for(condition: Callable[[], T], failure: str, timeout: float, interval: float = 0.2) -> T:
    """The first true value of `condition()`; fails the test with `failure` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, failure
        time.sleep(interval)
    return value


@contextlib.contextmanager
def afs_process(
    args: list[str], log: Path, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """`afs <args>` in its own process group, with `env` over this process's environment;
    SIGTERM (then SIGKILL) to its group when the block ends, unless it is already gone."""
    command = [sys.executable, "-m", "afs.cli", *args]
    process = start(command, None, log, {**os.environ, **env}, timeout=60)
    try:
        yield process
    finally:
        stop(process, grace=20)


def kill_group(pid: int) -> None:
    """SIGKILL to a process group, as the OOM killer or a lost host ends it: no handler runs."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """The process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def host_environment(home: Path, catalog_url: str) -> dict[str, str]:
    """The settings of a build host whose local state is under `home`, working for the catalog
    at `catalog_url` and the tenants of this session, with this session's shells."""
    settings = get_settings()
    home.mkdir(parents=True, exist_ok=True)
    (home / "shells").symlink_to(settings.shells_dir, target_is_directory=True)
    return {
        **HOST_ENVIRONMENT,
        "AFS_HOME": str(home),
        "AFS_CATALOG_URL": catalog_url,
        "AFS_TENANTS_FILE": str(settings.tenants_path),
    }


class BuildHost:
    """`afs worker` with its own home; `kill` loses it as a host is lost, `start` brings it back."""

    def __init__(self, home: Path, log: Path, env: Mapping[str, str], *args: str) -> None:
        self.home = home
        self.log = log
        self.env = dict(env)
        self.args = ["worker", *args]
        self._stack = contextlib.ExitStack()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def builds_dir(self) -> Path:
        return self.home / "builds"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.process = self._stack.enter_context(afs_process(self.args, self.log, self.env))
        wait_for_worker(self.process)

    def kill(self) -> None:
        """The worker and the runs it started (each in a session of its own), at once."""
        assert self.process is not None
        kill_tree(self.process.pid)
        self.process.wait()

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="package")
def build_host(factory: None, session_dir: Path, tmp_path_factory) -> Iterator[BuildHost]:
    """The package's build host, on the session's Prefect server and catalog.

    Images and runs other packages left waiting are settled first: the host would build them.
    """
    settle_undispatched_images()
    discard_waiting_runs()
    home = tmp_path_factory.mktemp("build-host")
    env = host_environment(home, get_settings().catalog_database_url)
    host = BuildHost(home, session_dir / "logs" / "fault-worker.log", env)
    host.start()
    try:
        yield host
    finally:
        host.close()


@pytest.fixture
def host(build_host: BuildHost) -> BuildHost:
    """The package's build host, running (a test before this one may have killed it)."""
    if not build_host.running:
        build_host.start()
    return build_host


def submit(tenant: Tenant, tarball: bytes) -> ImageRecord:
    """Upload the tarball and ask for an image, as the API does; the dispatcher's round follows."""
    tenant.put(DCP_KEY, tarball)
    image = default_catalog().register(tenant.project_id, tenant.request(DCP_KEY))
    dispatch_pending(default_catalog(), deployment_starter(CREATE_DEPLOYMENT_PATH))
    return image


def accepts_a_new_image(tenant: Tenant) -> bool:
    """The project's quota is free: a new image is accepted (and dropped before it is built)."""
    image = default_catalog().register(tenant.project_id, tenant.request(DCP_KEY))
    default_catalog().mark_error(image.id, "CANCELLED: not built, the test is over")
    return True


def finished(image_id: str, timeout: float = 240, catalog: Catalog | None = None) -> ImageRecord:
    """The image once it is `active` or `error`; fails the test if it is still in creation."""
    catalog = catalog or default_catalog()

    def record() -> ImageRecord | None:
        current = catalog.get(image_id)
        return current if current.status in FINISHED else None

    status = catalog.get(image_id).status
    return wait_for(record, f"image {image_id} never finished (was {status})", timeout, 0.5)


def delivered_logs(tenant: Tenant, record: ImageRecord) -> dict[str, bytes]:
    """The members of the image's log tarball in the tenant's bucket, whose status.json must say
    what the catalog says."""
    logs = read_log_tarball(tenant.get(f"dcp/{record.id}_log.tar"))
    status = json.loads(logs["status.json"])
    assert (status["status"], status["message"]) == (record.status.value, record.message)
    return logs


def flow_runs_of(image_id: str) -> list[FlowRun]:
    """The image's flow runs on the current Prefect server (tagged `image:<id>`)."""
    tagged = FlowRunFilter(tags=FlowRunFilterTags(all_=[f"image:{image_id}"]))
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_run_filter=tagged)


def vivado_helper(host: BuildHost, image_id: str) -> int | None:
    """The pid of the helper the emulated Vivado of a `hang` fault started, once it said so."""
    for log in host.builds_dir.glob(f"{image_id}/*/vivado/vivado.log"):
        if found := re.search(r"Started helper process (\d+)", log.read_text()):
            return int(found.group(1))
    return None
