"""Routing: an image's run goes to the build queue of the tool version its tarball names, read in
place, so only a host with that Vivado takes it."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from afs import storage
from afs.catalog import Catalog
from afs.deployments import CREATE_DEPLOYMENT_PATH
from afs.devstack.localstack import free_port
from afs.models import FpgaImageRequest, ImageRecord
from afs.orchestration.dispatch import deployment_starter
from afs.orchestration.routing import queue_for
from afs.settings import get_settings
from afs.tenants import TenantStorage, save_tenant
from tests.factory import Tenant, sample_tarball

KEY = "vu9p/dcp.tar"


def image_of(catalog: Catalog, project_id: str, request: FpgaImageRequest) -> ImageRecord:
    return catalog.register(project_id, request)


@pytest.mark.parametrize(("flow", "tool_version"), [("vivado", "2017.2"), ("sdaccel", "2017.4.op")])
def test_a_run_goes_to_the_queue_of_its_tool_version(
    tenant: Tenant, catalog: Catalog, tmp_path: Path, flow: str, tool_version: str
) -> None:
    tenant.put(KEY, sample_tarball(tmp_path, flow=flow))
    record = image_of(catalog, tenant.project_id, tenant.request(KEY))

    assert queue_for(get_settings(), record) == f"vivado-{tool_version}"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"not a tar at all" * 100, id="not-a-tar"),
        pytest.param(None, id="no-such-object"),
    ],
)
def test_a_tarball_it_cannot_read_plainly_goes_to_the_default_queue(
    tenant: Tenant, catalog: Catalog, content: bytes | None
) -> None:
    """Its build fails there with the tenant's own cause, the same on every host."""
    if content is not None:
        tenant.put(KEY, content)
    record = image_of(catalog, tenant.project_id, tenant.request(KEY))

    assert queue_for(get_settings(), record) == "vivado-2017.2"


def test_a_tool_version_the_factory_does_not_build_goes_to_the_default_queue(
    tenant: Tenant, catalog: Catalog, tmp_path: Path
) -> None:
    tenant.put(KEY, sample_tarball(tmp_path, tool_version="2016.4"))
    record = image_of(catalog, tenant.project_id, tenant.request(KEY))

    assert queue_for(get_settings(), record) == "vivado-2017.2"


def test_a_bucket_the_project_does_not_own_is_not_read(
    tenant: Tenant, catalog: Catalog, tmp_path: Path
) -> None:
    other = Tenant(tenant.storage.endpoint or "")
    other.put(KEY, sample_tarball(tmp_path, flow="sdaccel"))
    record = image_of(catalog, tenant.project_id, other.request(KEY))

    assert queue_for(get_settings(), record) == "vivado-2017.2"


def test_a_store_that_does_not_answer_leaves_the_image_for_the_next_round(
    factory: None, catalog: Catalog
) -> None:
    project_id = "f" * 32
    silent = TenantStorage(
        endpoint=f"http://127.0.0.1:{free_port()}",
        access_key="ak",
        secret_key="sk",
        buckets=["silent-bucket"],
    )
    save_tenant(get_settings(), project_id, silent)
    record = image_of(
        catalog, project_id, FpgaImageRequest(dcp_location=f"silent-bucket:{KEY}", name="x")
    )

    with pytest.raises(storage.StorageUnavailable):
        queue_for(get_settings(), record)


def test_the_dispatcher_starts_the_run_on_that_queue(
    tenant: Tenant, catalog: Catalog, tmp_path: Path
) -> None:
    from prefect import get_client

    tenant.put(KEY, sample_tarball(tmp_path, flow="sdaccel"))
    record = image_of(catalog, tenant.project_id, tenant.request(KEY))
    start = deployment_starter(
        CREATE_DEPLOYMENT_PATH, lambda record: queue_for(get_settings(), record)
    )

    run = start(record)

    with get_client(sync_client=True) as client:
        try:
            assert client.read_flow_run(UUID(run.id)).work_queue_name == "vivado-2017.4.op"
        finally:
            client.delete_flow_run(UUID(run.id))  # no worker of this test session builds it
