"""The tenant's object store fails during a build: stalls, stops and comes back.

The factory reaches the tenant's bucket through a fault proxy (the tenant's configured endpoint);
the test itself reaches it directly. The build host's storage budget is short
(tests/faults/conftest.py): a call that stalls is tried twice, a step whose call failed twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from afs.errors import RETRIED_CAUSES, cause_of
from afs.settings import get_settings
from afs.status import ImageStatus
from afs.tenants import image_store_client, save_tenant
from tests.factory import Tenant, build_processes, sample_tarball, wait_for_vivado
from tests.faults.conftest import (
    STALLS_THAT_FAIL_A_STEP,
    BuildHost,
    accepts_a_new_image,
    delivered_logs,
    finished,
    submit,
)
from tests.faults.proxy import FaultMode, FaultProxy

pytestmark = pytest.mark.slow


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(s3_endpoint) as proxy:
        yield proxy


@pytest.fixture
def tenant_behind_proxy(tenant: Tenant, proxy: FaultProxy) -> Tenant:
    """A tenant whose storage the factory is configured to reach at the proxy."""
    behind = tenant.storage.model_copy(update={"endpoint": proxy.url})
    save_tenant(get_settings(), tenant.project_id, behind)
    return tenant


def image_file_exists(image_id: str, project_id: str) -> bool:
    settings = get_settings()
    listed = image_store_client(settings).list_objects_v2(
        Bucket=settings.image_store_bucket, Prefix=f"{project_id}/{image_id}"
    )
    return listed.get("KeyCount", 0) > 0


# A stalled answer is retried by the storage client; one that breaks off, by the fetch step.
@pytest.mark.parametrize("fault", [FaultMode.STALL, FaultMode.TRUNCATE], ids=lambda f: f.value)
def test_a_fetch_that_meets_a_fault_once_is_retried_within_the_run_and_the_image_ends_active(
    host: BuildHost,
    tenant_behind_proxy: Tenant,
    proxy: FaultProxy,
    tmp_path: Path,
    fault: FaultMode,
) -> None:
    proxy.fail_next(fault, 1)

    image = submit(tenant_behind_proxy, sample_tarball(tmp_path))
    record = finished(image.id)

    assert record.status is ImageStatus.ACTIVE, record.message
    assert proxy.requests[fault] == 1
    delivered_logs(tenant_behind_proxy, record)


def test_a_fetch_that_stalls_past_its_deadline_ends_storage_unavailable_with_its_logs(
    host: BuildHost, tenant_behind_proxy: Tenant, proxy: FaultProxy, tmp_path: Path
) -> None:
    # Every attempt the budget allows stalls; the store answers again when the logs are sent.
    proxy.fail_next(FaultMode.STALL, STALLS_THAT_FAIL_A_STEP)

    image = submit(tenant_behind_proxy, sample_tarball(tmp_path))
    record = finished(image.id)

    assert record.status is ImageStatus.ERROR
    assert record.message.startswith("STORAGE_UNAVAILABLE: "), record.message
    assert proxy.requests[FaultMode.STALL] == STALLS_THAT_FAIL_A_STEP
    assert "pipeline.log" in delivered_logs(tenant_behind_proxy, record)


def test_a_store_stopped_while_vivado_runs_and_back_before_the_upload_leaves_the_image_active(
    host: BuildHost, tenant_behind_proxy: Tenant, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = submit(tenant_behind_proxy, sample_tarball(tmp_path, emulator_fault="slow:8"))
    wait_for_vivado(image.id)

    proxy.mode = FaultMode.STOPPED
    time.sleep(2)
    assert build_processes(image.id), "the store came back after the build needed it"
    proxy.mode = FaultMode.PASS
    record = finished(image.id)

    assert record.status is ImageStatus.ACTIVE, record.message
    delivered_logs(tenant_behind_proxy, record)


def test_a_store_stopped_mid_build_until_the_end_fails_the_image_for_reprocessing_to_retry(
    host: BuildHost, tenant_behind_proxy: Tenant, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = submit(tenant_behind_proxy, sample_tarball(tmp_path, emulator_fault="slow:4"))
    wait_for_vivado(image.id)

    proxy.mode = FaultMode.STOPPED
    record = finished(image.id)

    # Built, but its logs cannot reach the tenant: no image without its logs, and its file does
    # not stay in the image store; the store is to blame, so reprocessing builds it again.
    assert record.status is ImageStatus.ERROR
    assert record.message.startswith("STORAGE_UNAVAILABLE: "), record.message
    assert cause_of(record.message) in RETRIED_CAUSES
    assert not image_file_exists(image.id, tenant_behind_proxy.project_id)
    assert accepts_a_new_image(tenant_behind_proxy)
