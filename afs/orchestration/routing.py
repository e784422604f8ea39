"""Which build queue an image's run goes to: the queue of its manifest's tool version, so only
a host with that Vivado takes it."""

from __future__ import annotations

from afs import storage
from afs.build.steps import archive_limits
from afs.inputs.peek import peek_manifest
from afs.models import ImageRecord
from afs.orchestration.farm import build_queue, default_build_queue
from afs.settings import Settings
from afs.tenants import BucketNotOwned, TenantNotConfigured, load_tenant, quick_client


def tool_version_of(settings: Settings, record: ImageRecord) -> str | None:
    """The tool version the image's tarball names, read in place; None if it cannot be read
    plainly. Raises storage.StorageUnavailable when the store does not answer."""
    request = record.request
    try:
        tenant = load_tenant(settings, record.project_id)
        tenant.require_bucket(request.dcp_bucket)
    except (TenantNotConfigured, BucketNotOwned):
        return None
    client = quick_client(settings, tenant)
    bucket, key = request.dcp_bucket, request.dcp_key
    try:
        size = storage.head_object(client, bucket, key)
        manifest = peek_manifest(
            lambda offset, length: storage.read_range(client, bucket, key, offset, length),
            size,
            archive_limits(settings),
        )
    except (storage.ObjectInaccessible, storage.ObjectTooLarge):
        return None
    return None if manifest is None else manifest.tool_version


def queue_for(settings: Settings, record: ImageRecord) -> str:
    """The build queue of the image's run. A tarball that names no tool version the factory
    builds goes to the default queue: its build fails there with the tenant's own cause, the same
    on every host."""
    version = tool_version_of(settings, record)
    if version in settings.tool_versions:
        return build_queue(version)
    return default_build_queue(settings)
