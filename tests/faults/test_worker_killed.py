"""A build host lost mid-build (SIGKILL of the worker's whole process group), then brought back."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.objects import StateType

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


class LostRunNeverCrashed(AssertionError):
    """Prefect's zombie automation did not crash the run of the lost host."""


def wait_until_crashed(flow_run_id: str) -> None:
    def crashed() -> bool:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(flow_run_id)).state
        return state is not None and state.type is StateType.CRASHED

    try:
        timeout = get_settings().zombie_after_seconds + 60
        wait_for(crashed, "the zombie automation never crashed the run", timeout, interval=2)
    except AssertionError as exc:
        raise LostRunNeverCrashed(str(exc)) from None


@pytest.mark.parametrize(
    "host_back",
    [
        "after-the-run-is-crashed",
        pytest.param(
            "at-once",
            marks=pytest.mark.xfail(
                strict=True,
                raises=LostRunNeverCrashed,
                reason="`afs worker` starting updates the zombie automation "
                "(deployments/automations.py ensure_automations -> update_automation, with a "
                "trigger of a new id), and Prefect forgets the trigger's open expectations: "
                "the run of a host that died before is never crashed, its image stays creating",
            ),
        ),
    ],
)
def test_a_worker_killed_mid_build_leaves_no_vivado_and_ends_worker_crashed_with_its_logs(
    host: BuildHost, tenant: Tenant, api_url: str, tmp_path: Path, host_back: str
) -> None:
    # A design whose emulated Vivado ignores SIGTERM and starts a helper process of its own.
    image = submit(tenant, sample_tarball(tmp_path, emulator_fault="hang"))
    wait_for_vivado(image.id)
    helper = wait_for(lambda: vivado_helper(host, image.id), "no helper started", timeout=30)

    host.kill()

    assert_build_processes_end(image.id, within=10)
    wait_for(lambda: not alive(helper), "Vivado's helper outlived Vivado", timeout=2)
    # Nothing of the lost run is left to report its end but Prefect's zombie automation (no
    # heartbeats) and the reconcile flow that the host, back, runs every minute.
    if host_back == "at-once":
        host.start()
    wait_until_crashed(default_catalog().get(image.id).flow_run_id)
    if not host.running:
        host.start()
    record = finished(image.id, timeout=120)

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
