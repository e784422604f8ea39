"""Prefect's server killed and restarted while images wait for a build host, and while one builds.

The test runs a stack of its own, so that the session's Prefect server is not the one it kills:
a Prefect server on SQLite, a catalog, a build host that builds one image at a time, and a
dispatcher. Nothing else sees that catalog, so no other host reconciles its images against the
session's Prefect server.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from afs.catalog import Catalog
from afs.deployments import deploy_factory
from afs.devstack.localstack import free_port, prefect_environment, prefect_server
from afs.settings import get_settings
from afs.status import ImageStatus
from tests.factory import Tenant, processes_mentioning, sample_tarball
from tests.faults.conftest import (
    DCP_KEY,
    BuildHost,
    afs_process,
    delivered_logs,
    finished,
    flow_runs_of,
    host_environment,
    kill_group,
    wait_for,
)

pytestmark = pytest.mark.slow

DOWN_SECONDS = 5  # how long Prefect stays down before it is started again
# Long enough a build that Prefect dies while the first image builds and the next two wait: a
# sample build takes three seconds, too short a window to catch on a busy machine.
BUILD_SECONDS = 10


def prefect_server_group(port: int) -> int:
    """The process group of the Prefect server listening on `port` (its leader's pid)."""
    found = processes_mentioning("prefect", "server", "--port", str(port))
    return next(pid for pid in found if os.getpgid(pid) == pid)


def test_images_scheduling_while_prefect_restarts_are_each_built_once(
    factory: None, s3_endpoint: str, session_dir: Path, tmp_path: Path
) -> None:
    port, prefect_home = free_port(), tmp_path / "prefect"
    api_url = f"http://127.0.0.1:{port}/api"
    catalog_url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog = Catalog(catalog_url)
    catalog.create_schema()
    env = {
        **host_environment(tmp_path / "host", catalog_url),
        **prefect_environment(prefect_home, api_url),
    }
    logs = session_dir / "logs"
    host = BuildHost(tmp_path / "host", logs / "fault-prefect-worker.log", env, "--limit", "1")
    (tmp_path / "slow").mkdir()
    slow = sample_tarball(tmp_path / "slow", emulator_fault=f"slow:{BUILD_SECONDS}")
    tenants = [Tenant(s3_endpoint) for _ in range(4)]
    for tenant in tenants[:3]:
        tenant.put(DCP_KEY, slow)
    tenants[3].put(DCP_KEY, sample_tarball(tmp_path))

    with contextlib.ExitStack() as stack:
        stack.enter_context(prefect_server(prefect_home, port=port))
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: api_url}))
        deploy_factory(get_settings())
        dispatcher = ["dispatcher", "--interval", "0.5"]
        stack.enter_context(afs_process(dispatcher, logs / "fault-dispatcher.log", env))
        host.start()
        stack.callback(host.close)
        images = [catalog.register(t.project_id, t.request(DCP_KEY)) for t in tenants[:3]]

        def one_building_two_scheduling() -> bool:
            statuses = Counter(catalog.get(image.id).status for image in images)
            return statuses == {ImageStatus.CREATING: 1, ImageStatus.SCHEDULING: 2}

        wait_for(one_building_two_scheduling, "the images were never dispatched", timeout=120)
        kill_group(prefect_server_group(port))
        # Asked for while Prefect is down: the dispatcher keeps it until it can start a run.
        images.append(catalog.register(tenants[3].project_id, tenants[3].request(DCP_KEY)))
        time.sleep(DOWN_SECONDS)
        stack.enter_context(prefect_server(prefect_home, port=port))  # same port, same database

        for tenant, image in zip(tenants, images, strict=True):
            record = finished(image.id, timeout=300, catalog=catalog)
            assert record.status is ImageStatus.ACTIVE, record.message
            assert record.attempts == 1
            assert len(flow_runs_of(image.id)) == 1, "one run per image, none lost or doubled"
            delivered_logs(tenant, record)
