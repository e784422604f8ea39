"""A build host lost mid-build (SIGKILL of the worker's whole process group), then brought back."""

from __future__ import annotations

from pathlib import Path

import pytest

from afs.catalog import default_catalog
from afs.client import FactoryClient
from afs.settings import get_settings
from afs.status import ImageStatus
from tests.client.conftest import client_config
from tests.factory import Tenant, assert_build_processes_end, sample_tarball, wait_for_vivado
from tests.faults.conftest import (
    DCP_KEY,
    BuildHost,
    alive,
    delivered_logs,
    finished,
    submit,
    vivado_helper,
    wait_for,
)

pytestmark = pytest.mark.slow


def test_a_worker_killed_mid_build_leaves_no_vivado_and_ends_worker_crashed_with_its_logs(
    host: BuildHost, tenant: Tenant, api_url: str, tmp_path: Path
) -> None:
    # A design whose emulated Vivado ignores SIGTERM and starts a helper process of its own.
    image = submit(tenant, sample_tarball(tmp_path, emulator_fault="hang"))
    wait_for_vivado(image.id)
    helper = wait_for(lambda: vivado_helper(host, image.id), "no helper started", timeout=30)

    host.kill()

    assert_build_processes_end(image.id, within=10)
    wait_for(lambda: not alive(helper), "Vivado's helper outlived Vivado", timeout=2)
    # The host comes back at once. Nothing of the lost run is left to report its end but
    # Prefect's zombie automation (no heartbeats) and the reconcile flow the host runs every
    # minute; a worker starting must not make Prefect forget the runs it is to crash.
    host.start()
    record = finished(image.id, timeout=get_settings().zombie_after_seconds + 180)

    assert record.status is ImageStatus.ERROR
    assert record.message.startswith("WORKER_CRASHED: "), record.message
    logs = delivered_logs(tenant, record)
    assert f"image-{image.id}" in logs["run.log"].decode(), "the run's log as Prefect kept it"
    assert {"vivado/vivado.log", "pipeline.log"} <= logs.keys(), "what the host still held"
    assert not (host.builds_dir / image.id).exists(), "the crashed attempt's workspace is removed"
    # The project's quota is free: the tenant's next create is accepted.
    with FactoryClient(client_config(api_url, tenant)) as client:
        created = client.create(tenant.request(DCP_KEY))
    assert created.status is ImageStatus.INITIALING
    default_catalog().mark_error(created.id, "CANCELLED: not built, the test is over")
