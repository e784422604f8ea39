"""The steps of a registration (afs.build.registration): the file fetched, then checked."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger
from prefect.runtime import flow_run

from afs.build.registration import (
    RegisteredBitstream,
    RegisterJob,
    check_registered_file,
    fetch_registered_file,
    registration_for_image,
)
from afs.build.workspace import Workspace
from afs.catalog import default_catalog
from afs.errors import AfsError
from afs.models import RegisterFpgaImageRequest
from afs.orchestration.naming import name_this_image_run
from afs.settings import get_settings
from afs.status import ImageStatus
from afs.tasks import build_step, storage_step
from afs.tenants import load_tenant


# Refusals (a run that may not save, a project over its quota) say why in their own words.
@build_step("validate", expected=(AfsError,))
def validate_registration(
    image: RegisterFpgaImageRequest, project_id: str, image_id: str | None
) -> RegisterJob:
    """The image this run saves: registered now (same quota) if the run came from the UI."""
    catalog = default_catalog()
    run_id = str(flow_run.id)
    image_id = image_id or catalog.image_of_flow_run(run_id)
    if image_id is not None:
        job = registration_for_image(catalog.get(image_id), project_id, image, run_id)
    else:
        load_tenant(get_settings(), project_id)  # a project without storage is refused first
        record = catalog.register(project_id, image)
        catalog.record_attempt(record.id, run_id, ImageStatus.SAVING)
        job = RegisterJob(image_id=record.id, project_id=project_id, request=image)
    name_this_image_run(project_id, job.image_id)
    return job


@storage_step("fetch-file")
def fetch_file(job: RegisterJob, workspace: Workspace) -> Path:
    path = fetch_registered_file(get_settings(), job, workspace)
    get_run_logger().info("fetched %s: %d bytes", job.request.location, path.stat().st_size)
    return path


@build_step("check-bitstream")
def check_bitstream(path: Path) -> RegisteredBitstream:
    found = check_registered_file(path)
    get_run_logger().info(
        "%s: %s, IDCODE %s, %d bytes of configuration data%s",
        path.name,
        found.kind,
        found.idcode,
        found.data_bytes,
        "" if found.part is None else f", part {found.part}, design {found.design}",
    )
    return found
