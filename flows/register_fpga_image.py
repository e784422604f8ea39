"""One flow run per registered image: a finished bitstream in the tenant's bucket -> image file.

The legacy `POST /v1/{project_id}/cloudservers/fpga_image`: nothing is built, so no Vivado and no
licence; the run goes to the packaging queue, which every host serves.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run as current_run
from prefect.states import Failed

from afs.build.registration import RegisterJob, registered_metadata, write_registered_bin
from afs.build.steps import ImageFile
from afs.build.workspace import Workspace
from afs.catalog import default_catalog
from afs.errors import AfsError, ImageBuildError
from afs.inputs.bitstream import BIN_SUFFIX
from afs.models import RegisterFpgaImageRequest
from afs.orchestration.hooks import IMAGE_RUN_HOOKS, ImageId, ProjectId, image_run_name, refuse_run
from afs.settings import get_settings
from afs.tasks import contained
from afs.tasks.mark_active import mark_active
from afs.tasks.register import check_bitstream, fetch_file, validate_registration
from afs.tasks.upload import discard_image, upload_image


def _save_in_workspace(job: RegisterJob) -> ImageFile:
    """Fetch, check and store the bitstream, in a workspace of its own removed afterwards."""
    attempt = f"{current_run.id}-{current_run.run_count}"
    workspace = Workspace.create(get_settings().builds_dir, job.image_id, attempt)
    try:
        path = fetch_file(job, workspace)
        found = check_bitstream(path)
        data = write_registered_bin(
            path, found, workspace.output_dir / f"{Path(path.name).stem}{BIN_SUFFIX}"
        )
        image_file = upload_image(job, workspace, registered_metadata(job, found), data)
        try:
            mark_active(job, image_file)
        except ImageBuildError:
            discard_image(job, image_file)  # no image owns it
            raise
        return image_file
    finally:
        workspace.remove()


_save = contained(_save_in_workspace)


@flow(
    name="register-fpga-image",
    flow_run_name=image_run_name,
    description="Save a finished bitstream in the tenant's bucket as an FPGA image (no build).",
    persist_result=False,
    **IMAGE_RUN_HOOKS,
)
def register_fpga_image(
    image: RegisterFpgaImageRequest, project_id: ProjectId, image_id: ImageId = None
) -> str | State[str]:
    """Register one finished bitstream; it ends `active`, or `error` with `CODE: text`.

    Args:
        image: The request, as in the legacy register's `fpga_image` object: where the file is
            in the project's bucket (`bucket:name.bin` or `bucket:name.xclbin`), the image's
            name, its metadata (a JSON object) and optionally a description. Example:
            `{"location": "obs-fpga:fpga.bin", "name": "fpga-image-test", "metadata":
            {"shell_type": "OCL"}}`.
        project_id: The tenant's project (32 lowercase hex digits); its storage and quota apply.
        image_id: Leave empty to register a new image for this run. The API's dispatcher sets it
            to the image it registered.

    Returns the image id.
    """
    try:
        job = validate_registration(image, project_id, image_id)
    except AfsError as refusal:
        return refuse_run(project_id, image_id, refusal)
    try:
        _save(job)
    except ImageBuildError as failure:
        default_catalog().mark_error(job.image_id, failure.message, flow_run_id=str(current_run.id))
        # Failed with the image's own `CODE: text` as the run's state message.
        return Failed(message=failure.message, data=failure)
    return job.image_id
