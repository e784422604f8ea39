"""Each project's own storage: endpoint, credentials and the buckets it owns.

The factory reads and writes a tenant's bucket only with that tenant's credentials and only if the
bucket is listed for that tenant, so a DCP location in someone else's bucket is refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from afs import storage
from afs.settings import Settings


class TenantNotConfigured(Exception):
    """No storage is configured for the project."""


class BucketNotOwned(Exception):
    """The bucket is not one of the project's buckets."""


class TenantStorage(BaseModel):
    endpoint: str | None = Field(None, description="S3/OBS endpoint; None: AFS_OBS_ENDPOINT")
    region: str = "cn-north-1"
    access_key: SecretStr
    secret_key: SecretStr
    buckets: list[str] = Field(description="the buckets this project owns")

    def require_bucket(self, bucket: str) -> None:
        if bucket not in self.buckets:
            raise BucketNotOwned(f"bucket {bucket!r} is not configured for this project")


def _read_all(path: Path) -> dict[str, dict]:
    return json.loads(path.read_text()) if path.exists() else {}


def load_tenant(settings: Settings, project_id: str) -> TenantStorage:
    entry = _read_all(settings.tenants_path).get(project_id)
    if entry is None:
        raise TenantNotConfigured(f"no storage is configured for project {project_id}")
    return TenantStorage.model_validate(entry)


def save_tenant(settings: Settings, project_id: str, tenant: TenantStorage) -> None:
    """Add or replace a project's storage; the file holds secrets, so it is private and atomic."""
    path = settings.tenants_path
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = _read_all(path)
    entries[project_id] = {
        **tenant.model_dump(exclude={"access_key", "secret_key"}),
        "access_key": tenant.access_key.get_secret_value(),
        "secret_key": tenant.secret_key.get_secret_value(),
    }
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(entries, out, indent=2, sort_keys=True)
    temporary.replace(path)


def tenant_client(settings: Settings, tenant: TenantStorage):
    return storage.s3_client(
        endpoint=tenant.endpoint or settings.obs_endpoint,
        region=tenant.region,
        access_key=tenant.access_key,
        secret_key=tenant.secret_key,
    )


def image_store_client(settings: Settings):
    return storage.s3_client(
        endpoint=settings.obs_endpoint,
        region=settings.obs_region,
        access_key=settings.image_store_access_key,
        secret_key=settings.image_store_secret_key,
    )
