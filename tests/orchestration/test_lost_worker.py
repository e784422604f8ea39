"""A build host lost with its worker: heartbeats stop, the zombie automation crashes the run,
reconcile turns the image to error and the project's quota is free again.

The host runs a plain `prefect worker start --pool fpga-builders`, not `afs worker`: the
heartbeats come from the pool's job template, so any worker of the pool is watched alike.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.objects import StateType

from afs.catalog import default_catalog
from afs.deployments import CREATE_DEPLOYMENT_PATH
from afs.devstack.embedded import worker_environment
from afs.devstack.localstack import start, stop
from afs.flows.reconcile import read_run_state
from afs.orchestration.dispatch import deployment_starter, dispatch_pending
from afs.orchestration.farm import default_build_queue
from afs.orchestration.lifecycle import deliver_ended_run_logs
from afs.orchestration.reconcile import reconcile_images
from afs.settings import get_settings
from afs.status import ImageStatus
from tests.factory import (
    Tenant,
    assert_build_processes_end,
    discard_waiting_runs,
    kill_tree,
    read_log_tarball,
    sample_tarball,
    settle_undispatched_images,
    wait_for_vivado,
)

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def plain_prefect_worker(logs_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Prefect's own process worker on the first build queue, nothing of `afs worker` about it."""
    settings = get_settings()
    queue = default_build_queue(settings)
    command = [sys.executable, "-m", "prefect", "worker", "start", "--type", "process",
               "--pool", settings.build_pool, "--work-queue", queue]  # fmt: skip
    process = start(command, None, logs_dir / "prefect-worker.log", worker_environment(), 60)
    try:
        yield process
    finally:
        stop(process)


def test_a_lost_build_host_ends_worker_crashed_and_frees_the_quota(
    factory: None, tenant: Tenant, session_dir: Path, tmp_path: Path
) -> None:
    tenant.put("dcp/design.tar", sample_tarball(tmp_path, emulator_fault="hang"))
    # Images other tests left undispatched would be dispatched with this one and built first.
    settle_undispatched_images()
    image = default_catalog().register(tenant.project_id, tenant.request("dcp/design.tar"))
    discard_waiting_runs()
    with plain_prefect_worker(session_dir / "logs") as host:
        dispatch_pending(default_catalog(), deployment_starter(CREATE_DEPLOYMENT_PATH))
        wait_for_vivado(image.id)
        kill_tree(host.pid)  # the worker and the run it started, all at once
    assert_build_processes_end(image.id)

    flow_run_id = UUID(default_catalog().get(image.id).flow_run_id)
    give_up = time.monotonic() + get_settings().zombie_after_seconds + 120
    with get_client(sync_client=True) as client:
        while client.read_flow_run(flow_run_id).state.type is not StateType.CRASHED:
            assert time.monotonic() < give_up, "the zombie automation never crashed the run"
            time.sleep(2)
    reconcile_images(default_catalog(), read_run_state, deliver_ended_run_logs)

    record = default_catalog().get(image.id)
    assert record.status is ImageStatus.ERROR
    assert record.message.startswith("WORKER_CRASHED: "), record.message
    logs = read_log_tarball(tenant.get(f"dcp/{image.id}_log.tar"))
    assert json.loads(logs["status.json"])["message"] == record.message
    assert {"vivado/vivado.log", "pipeline.log"} <= set(logs), "what the host still held"
    assert "fetched" in logs["run.log"].decode(), "the run's log as Prefect kept it"
    assert not (get_settings().builds_dir / image.id).exists(), "the crashed workspace is removed"
    assert default_catalog().register(tenant.project_id, tenant.request("dcp/design.tar"))
