"""The API as it is served: the session's `afs serve` (tests/conftest.py), a project per test."""

from __future__ import annotations

import pytest

from afs.catalog import default_catalog
from afs.catalog.credentials import CredentialStore
from afs.models import FpgaImageRequest
from afs.settings import get_settings
from tests.api.sdk import SdkClient
from tests.factory import Tenant

DCP_KEY = "vu9p/design.tar"


@pytest.fixture(scope="session")
def credentials(factory: None) -> CredentialStore:
    return CredentialStore.from_settings(get_settings(), default_catalog())


class Project:
    """A tenant with its own bucket, a DCP tarball in it, and an API key bound to it."""

    def __init__(self, tenant: Tenant, client: SdkClient) -> None:
        self.tenant = tenant
        self.id = tenant.project_id
        self.client = client
        self.dcp_location = tenant.put(DCP_KEY, b"not built in these tests")

    def request(self, **fields: str) -> dict[str, str]:
        return {"dcp_location": self.dcp_location, "name": "api-image", **fields}


def new_project(s3_endpoint: str, api_url: str, credentials: CredentialStore) -> Project:
    tenant = Tenant(s3_endpoint)
    key = credentials.create(tenant.project_id)
    return Project(tenant, SdkClient(api_url, key.access_key, key.secret_key, key.project_id))


@pytest.fixture
def project(api_url: str, s3_endpoint: str, credentials: CredentialStore) -> Project:
    return new_project(s3_endpoint, api_url, credentials)


@pytest.fixture
def other_project(api_url: str, s3_endpoint: str, credentials: CredentialStore) -> Project:
    return new_project(s3_endpoint, api_url, credentials)


def active_image(project: Project, name: str = "built") -> str:
    """An image as a finished build leaves it: active, its file in the image store."""
    from afs import storage
    from afs.tenants import image_store_client

    settings = get_settings()
    catalog = default_catalog()
    record = catalog.register(project.id, FpgaImageRequest(**project.request(name=name)))
    key = f"{project.id}/{record.id}.aei"
    client = image_store_client(settings)
    storage.ensure_bucket(client, settings.image_store_bucket)
    client.put_object(Bucket=settings.image_store_bucket, Key=key, Body=b"AEIv1.0")
    catalog.record_attempt(record.id, flow_run_id=f"run-{record.id}")
    catalog.mark_active(
        record.id,
        flow_run_id=f"run-{record.id}",
        size_mb=3,
        metadata={"image_file": f"{settings.image_store_bucket}:{key}", "toolchain": "test"},
    )
    return record.id


def failed_image(project: Project, name: str = "failed") -> str:
    record = default_catalog().register(project.id, FpgaImageRequest(**project.request(name=name)))
    default_catalog().mark_error(record.id, "DCP_CORRUPT: test")
    return record.id
