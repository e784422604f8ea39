"""A build host lost mid-build (SIGKILL of the worker's whole process group), then brought back."""

from __future__ import annotations

import os
import subprocess
import sys
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


def wait_until_crashed(flow_run_id: str) -> None:
    def crashed() -> bool:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(flow_run_id)).state
        return state is not None and state.type is StateType.CRASHED

    timeout = get_settings().zombie_after_seconds + 60
    wait_for(crashed, "the zombie automation never crashed the run", timeout, interval=2)


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
    # Nothing of the lost run is left to report its end but Prefect's zombie automation (no
    # heartbeats), whose crash starts a reconcile run; that run waits for a maintenance worker,
    # and the host comes back after the crash: see the test below for a host back at once.
    wait_until_crashed(default_catalog().get(image.id).flow_run_id)
    host.start()
    # A busy machine (two test processes) slows each step: 120 s was too tight.
    record = finished(image.id, timeout=240)

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


# Whether a worker starting rewrites the zombie automation, under hash seed 12 (each Python
# process has its own): the rule as the server lists it is compared with the rule as built.
ZOMBIE_RULE_CHECK = """
import itertools, json, sys
from datetime import timedelta
from prefect.automations import Automation
from afs.deployments.automations import same_rule, zombie_automation

wanted = zombie_automation(timedelta(seconds=60))
stored = json.loads(wanted.model_dump_json())
for order in itertools.permutations(stored["trigger"]["expect"]):
    stored["trigger"]["expect"] = list(order)  # a set: the server lists it in any order
    if not same_rule(Automation.model_validate(stored), wanted):
        sys.exit(f"the stored rule, its expect listed as {order}, reads as changed")
"""


def test_a_worker_starting_finds_the_zombie_rule_unchanged_in_any_order_it_is_listed() -> None:
    checked = subprocess.run(
        [sys.executable, "-c", ZOMBIE_RULE_CHECK],
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONHASHSEED": "12"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr[-2000:]
