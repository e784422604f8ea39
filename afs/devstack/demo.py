"""`afs demo`: one image through the embedded stack, from a DCP tarball to an active image.

The tarball is the sample (a whole routed design, as the FP1 kit uploads it) or the caller's own;
the image's log tarball is saved in the demo's home, which outlives the stack.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from afs import storage
from afs.catalog import default_catalog
from afs.catalog.credentials import CredentialStore
from afs.client import FactoryClient
from afs.client.config import ClientConfig
from afs.devstack.embedded import EmbeddedStack, embedded_stack
from afs.devstack.samples import write_sample_dcp
from afs.inputs.archive import pack
from afs.models import IMAGE_FILE_KEY, FpgaImageRequest
from afs.settings import get_settings
from afs.tenants import TenantStorage, save_tenant, tenant_client
from afs.wire.schemas import ImageItem

DEMO_BUCKET = "afs-demo-tenant"
DEMO_KEY = "vu9p/sample-dcp.tar"
DEMO_LOG_DIRECTORY = "vu9p/log"


def create_demo_tenant(stack: EmbeddedStack, bucket: str = DEMO_BUCKET) -> ClientConfig:
    """A project with its own bucket and an API key: what a tenant's client is configured with."""
    project_id = uuid.uuid4().hex
    tenant = TenantStorage(
        endpoint=stack.obs_endpoint,
        access_key="demo-tenant-ak",
        secret_key="demo-tenant-sk",  # noqa: S106 - moto's dev store accepts any key
        buckets=[bucket],
    )
    save_tenant(get_settings(), project_id, tenant)
    storage.ensure_bucket(tenant_client(get_settings(), tenant), bucket)
    key = CredentialStore.from_settings(get_settings(), default_catalog()).create(project_id)
    return ClientConfig(
        api_url=stack.api_url,
        access_key=key.access_key,
        secret_key=key.secret_key,
        project_id=project_id,
        storage=tenant.credentials,
    )


def write_sample_tarball(directory: Path) -> Path:
    """The emulator's sample whole routed design, packed as a tenant uploads it."""
    dcp = write_sample_dcp(directory / "ul_pr_top_routed.dcp")
    tarball = directory / "sample-dcp.tar"
    pack(dcp, tarball, shell_id="0x01010029", tool_version="2017.2")
    dcp.unlink()
    return tarball


def run_demo(
    home: Path,
    say: Callable[[str], None] = print,
    timeout: float = 300,
    tarball: Path | None = None,
) -> ImageItem:
    """Start the embedded stack under `home` (wiped first), build one image through the API.

    `tarball` is built instead of the sample when given.
    """
    shutil.rmtree(home, ignore_errors=True)
    say(f"starting the embedded stack under {home} (S3 dev store, Prefect server, worker, API)...")
    with embedded_stack(home) as stack, tempfile.TemporaryDirectory() as scratch:
        say(f"  S3 endpoint: {stack.obs_endpoint}")
        say(f"  Prefect UI:  {stack.prefect_ui_url}")
        say(f"  API:         {stack.api_url}")
        say("  Vivado:      the AFS emulator (not Vivado; images are marked as emulated)")
        config = create_demo_tenant(stack)
        request = FpgaImageRequest(
            dcp_location=f"{DEMO_BUCKET}:{DEMO_KEY}",
            log_directory=DEMO_LOG_DIRECTORY,
            name="demo-image",
            description="image built by afs demo",
        )
        with FactoryClient(config) as client:
            upload = tarball or write_sample_tarball(Path(scratch))
            client.upload(upload, request.dcp_location)
            what = str(tarball) if tarball else "a sample DCP tarball"
            say(f"uploaded {what} to {request.dcp_location}")
            created = client.create(request)
            say(f"image {created.id} (project {config.project_id})")
            say(f"  status: {created.status.value}")
            item = client.wait(
                created.id,
                seen=created.status,
                on_change=lambda item: say(f"  status: {item.status.value}"),
                interval=0.2,
                timeout=timeout,
            )
            if item.message:
                say(f"  message: {item.message}")
            logs = client.logs(created.id, home)
        say(f"log tarball: {logs.location}, saved as {logs.path}")
        if item.metadata:
            say(f"image file:  {item.metadata[IMAGE_FILE_KEY]} ({item.size} MB)")
            say(f"toolchain:   {item.metadata.get('toolchain')}")
        return item
