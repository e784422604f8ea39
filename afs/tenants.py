"""Each project's own storage: endpoint, credentials and the buckets it owns.

The factory reads and writes a tenant's bucket only with that tenant's credentials and only if the
bucket is listed for that tenant, so a DCP location in someone else's bucket is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from afs import storage
from afs.errors import ConfigurationError
from afs.files import atomic_write
from afs.models import StorageCredentials
from afs.settings import Settings, StorageBudget


class TenantNotConfigured(ConfigurationError):
    """No storage is configured for the project."""


class BucketNotOwned(ConfigurationError):
    """The bucket is not one of the project's buckets."""


class TenantStorage(StorageCredentials):
    """A project's storage: its credentials (no endpoint: AFS_OBS_ENDPOINT) and its buckets."""

    buckets: tuple[str, ...] = Field(description="the buckets this project owns")

    @property
    def credentials(self) -> StorageCredentials:
        return StorageCredentials.model_validate(self.model_dump(exclude={"buckets"}))

    def require_bucket(self, bucket: str) -> None:
        if bucket not in self.buckets:
            raise BucketNotOwned(f"bucket {bucket!r} is not configured for this project")


def _read_all(path: Path) -> dict[str, dict[str, Any]]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _parsed(path: Path, _mtime_ns: int, _size: int) -> dict[str, dict[str, Any]]:
    """The file's entries, parsed once per version of the file (the API reads it per request)."""
    entries: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return entries


def load_tenant(settings: Settings, project_id: str) -> TenantStorage:
    entry = _read_all(settings.tenants_path).get(project_id)
    if entry is None:
        raise TenantNotConfigured(f"no storage is configured for project {project_id}")
    try:
        return TenantStorage.model_validate(entry)
    except ValidationError:
        # pydantic's message quotes the input, keys included: say which project, nothing more.
        raise TenantNotConfigured(
            f"the storage configured for project {project_id} is invalid"
        ) from None


def save_tenant(settings: Settings, project_id: str, tenant: TenantStorage) -> None:
    """Add or replace a project's storage; the file holds secrets, so it is private and atomic.

    Writers take turns under a lock and each reads the file afresh, so none loses another's entry.
    """
    path = settings.tenants_path
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entries = json.loads(path.read_text()) if path.exists() else {}
        entries[project_id] = {
            **tenant.model_dump(exclude={"access_key", "secret_key"}),
            "access_key": tenant.access_key.get_secret_value(),
            "secret_key": tenant.secret_key.get_secret_value(),
        }
        with atomic_write(path, mode=0o600) as out:
            out.write(json.dumps(entries, indent=2, sort_keys=True).encode())
    finally:
        os.close(lock)  # closing the descriptor releases the lock


def tenant_client(settings: Settings, tenant: TenantStorage) -> Any:  # a boto3 S3 client
    return storage.s3_client(
        tenant.credentials, default_endpoint=settings.obs_endpoint, budget=settings.storage_budget
    )


@lru_cache(maxsize=1024)
def _cached_client(
    credentials: StorageCredentials, default_endpoint: str | None, budget: StorageBudget
) -> Any:
    # Making a boto3 client costs tens of milliseconds; clients are thread-safe, so the API
    # keeps one per tenant configuration.
    return storage.s3_client(credentials, default_endpoint=default_endpoint, budget=budget)


def check_dcp_readable(settings: Settings, project_id: str, bucket: str, key: str) -> int:
    """The DCP object's size, read with the project's own credentials from its own bucket.

    Raises TenantNotConfigured, BucketNotOwned, storage.ObjectInaccessible (no such object, or the
    project's keys cannot read it) or storage.StorageUnavailable.
    """
    tenant = load_tenant(settings, project_id)
    tenant.require_bucket(bucket)
    return storage.head_object(quick_client(settings, tenant), bucket, key)


def quick_client(settings: Settings, tenant: TenantStorage) -> Any:  # a boto3 S3 client
    """For a look that someone waits on (the API's create check, the dispatcher's routing):
    the API's shorter storage budget."""
    return _cached_client(tenant.credentials, settings.obs_endpoint, settings.api_storage_budget)


def image_store_client(settings: Settings) -> Any:  # a boto3 S3 client
    credentials = StorageCredentials(
        endpoint=settings.obs_endpoint,
        region=settings.obs_region,
        access_key=settings.image_store_access_key,
        secret_key=settings.image_store_secret_key,
    )
    return storage.s3_client(credentials, budget=settings.storage_budget)
