"""`afs demo`: one image through the embedded stack, from a sample DCP to an active image."""

from __future__ import annotations

import contextvars
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from afs import storage
from afs.archive import pack
from afs.catalog import default_catalog
from afs.dispatch import deployment_starter, dispatch_pending
from afs.embedded import EmbeddedStack, embedded_stack
from afs.models import FpgaImageRequest, ImageRecord
from afs.samples import write_sample_dcp
from afs.settings import get_settings
from afs.status import FINISHED
from afs.tenants import TenantStorage, save_tenant, tenant_client

DEMO_BUCKET = "afs-demo-tenant"
DEMO_KEY = "vu9p/sample-dcp.tar"
DEMO_LOG_DIRECTORY = "vu9p/log"


def _create_demo_tenant(stack: EmbeddedStack) -> str:
    project_id = uuid.uuid4().hex
    tenant = TenantStorage(
        endpoint=stack.obs_endpoint,
        access_key="demo-tenant-ak",
        secret_key="demo-tenant-sk",  # noqa: S106 - moto's dev store accepts any key
        buckets=[DEMO_BUCKET],
    )
    save_tenant(get_settings(), project_id, tenant)
    storage.ensure_bucket(tenant_client(get_settings(), tenant), DEMO_BUCKET)
    return project_id


def _upload_sample_tarball(project_id: str, scratch: Path) -> None:
    from afs.tenants import load_tenant

    dcp = write_sample_dcp(scratch / "ul_pr_top_routed.dcp")
    tarball = scratch / "sample-dcp.tar"
    pack(dcp, tarball, shell_id="0x01010029", tool_version="2017.2")
    client = tenant_client(get_settings(), load_tenant(get_settings(), project_id))
    storage.upload_file(client, tarball, DEMO_BUCKET, DEMO_KEY)


def _dispatch_until(stop: threading.Event) -> None:
    from deployments import CREATE_DEPLOYMENT_PATH

    start_run = deployment_starter(CREATE_DEPLOYMENT_PATH)
    while not stop.is_set():
        dispatch_pending(default_catalog(), start_run)
        stop.wait(0.5)


def _follow(image_id: str, say: Callable[[str], None], timeout: float) -> ImageRecord:
    """Print each status as it changes until the image is finished."""
    catalog = default_catalog()
    deadline = time.monotonic() + timeout
    last = None
    while True:
        record = catalog.get(image_id)
        if record.status != last:
            say(f"  status: {record.status.value}")
            last = record.status
        if record.status in FINISHED:
            return record
        if time.monotonic() > deadline:
            raise TimeoutError(f"image {image_id} still {record.status.value} after {timeout} s")
        time.sleep(0.2)


def run_demo(home: Path, say: Callable[[str], None] = print, timeout: float = 300) -> ImageRecord:
    """Start the embedded stack under `home` (wiped first), build one image, stop the stack."""
    shutil.rmtree(home, ignore_errors=True)
    say(f"starting the embedded stack under {home} (S3 dev store, Prefect server, worker)...")
    with embedded_stack(home) as stack, tempfile.TemporaryDirectory() as scratch:
        say(f"  S3 endpoint: {stack.obs_endpoint}")
        say(f"  Prefect UI:  {stack.prefect_api_url.removesuffix('/api')}")
        say("  Vivado:      the AFS emulator (not Vivado; images are marked as emulated)")
        project_id = _create_demo_tenant(stack)
        _upload_sample_tarball(project_id, Path(scratch))
        say(f"uploaded a sample DCP tarball to {DEMO_BUCKET}:{DEMO_KEY}")
        request = FpgaImageRequest(
            dcp_location=f"{DEMO_BUCKET}:{DEMO_KEY}",
            log_directory=DEMO_LOG_DIRECTORY,
            name="demo-image",
            description="sample image built by afs demo",
        )
        record = default_catalog().register(project_id, request)
        say(f"image {record.id} (project {project_id})")
        stop = threading.Event()
        # The thread runs in a copy of this context, where Prefect's settings (the API URL) live.
        dispatcher = threading.Thread(
            target=contextvars.copy_context().run, args=(_dispatch_until, stop), daemon=True
        )
        dispatcher.start()
        try:
            record = _follow(record.id, say, timeout)
        finally:
            stop.set()
            dispatcher.join()
        if record.message:
            say(f"  message: {record.message}")
        say(f"log tarball: {DEMO_BUCKET}:{request.log_tarball_key(record.id)}")
        if record.metadata:
            say(f"image file:  {record.metadata['image_file']} ({record.size_mb} MB)")
            say(f"toolchain:   {record.metadata.get('toolchain')}")
        return record
