"""`afs demo`: images through the embedded stack, from a DCP tarball to an active image.

The samples are one upload of each of the FP1 kit's flows, one after the other (a project builds
one image at a time): the vivado flow's whole routed design, and the sdaccel flow's xclbin packed
as the kit's AEI_Register.sh packs it. Or the caller's own tarball. Each image's log tarball is
saved in the demo's home, which outlives the stack.
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
from afs.devstack.samples import (
    SDACCEL_SHELL_ID,
    SDACCEL_TOOL_VERSION,
    write_sample_dcp,
    write_sample_xclbin,
)
from afs.inputs.archive import pack
from afs.models import IMAGE_FILE_KEY, FpgaImageRequest
from afs.settings import get_settings
from afs.tenants import TenantStorage, save_tenant, tenant_client
from afs.wire.schemas import ImageItem

DEMO_BUCKET = "afs-demo-tenant"
DEMO_DIRECTORY = "vu9p"
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


def write_sample_tarballs(directory: Path) -> dict[str, Path]:
    """The emulator's samples of both flows, packed as a tenant uploads them, by flow."""
    dcp = write_sample_dcp(directory / "ul_pr_top_routed.dcp")
    vivado = directory / "sample-dcp.tar"
    pack(dcp, vivado, shell_id="0x01010029", tool_version="2017.2")
    xclbin = write_sample_xclbin(directory / "vadd.xclbin")
    sdaccel = directory / "sample-sdaccel-dcp.tar"
    pack(xclbin, sdaccel, shell_id=SDACCEL_SHELL_ID, tool_version=SDACCEL_TOOL_VERSION)
    dcp.unlink()
    xclbin.unlink()
    return {"vivado": vivado, "sdaccel": sdaccel}


def _build_one(
    client: FactoryClient, home: Path, tarball: Path, what: str, say: Callable[[str], None],
    timeout: float,
) -> ImageItem:  # fmt: skip
    request = FpgaImageRequest(
        dcp_location=f"{DEMO_BUCKET}:{DEMO_DIRECTORY}/{tarball.name}",
        log_directory=DEMO_LOG_DIRECTORY,
        name=f"demo-{tarball.stem}",
        description="image built by afs demo",
    )
    client.upload(tarball, request.dcp_location)
    say(f"uploaded {what} to {request.dcp_location}")
    created = client.create(request)
    say(f"image {created.id} (project {client.config.project_id})")
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


def run_demo(
    home: Path,
    say: Callable[[str], None] = print,
    timeout: float = 300,
    tarball: Path | None = None,
) -> list[ImageItem]:
    """Start the embedded stack under `home` (wiped first), build images through the API: a
    sample of each flow, or `tarball` when given."""
    shutil.rmtree(home, ignore_errors=True)
    say(f"starting the embedded stack under {home} (S3 dev store, Prefect server, worker, API)...")
    with embedded_stack(home) as stack, tempfile.TemporaryDirectory() as scratch:
        say(f"  S3 endpoint: {stack.obs_endpoint}")
        say(f"  Prefect UI:  {stack.prefect_ui_url}")
        say(f"  API:         {stack.api_url}")
        say("  Vivado:      the AFS emulator (not Vivado; images are marked as emulated)")
        config = create_demo_tenant(stack)
        if tarball is not None:
            uploads = {str(tarball): tarball}
        else:
            samples = write_sample_tarballs(Path(scratch))
            uploads = {f"a sample {flow} flow DCP tarball": path for flow, path in samples.items()}
        with FactoryClient(config) as client:
            return [
                _build_one(client, home, path, what, say, timeout) for what, path in uploads.items()
            ]
