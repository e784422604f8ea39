from __future__ import annotations

from prefect.runtime import flow_run

from afs.build.steps import BuildJob, job_for_image
from afs.catalog import default_catalog
from afs.errors import AfsError
from afs.models import FpgaImageRequest
from afs.orchestration.naming import name_this_image_run
from afs.settings import get_settings
from afs.tasks import build_step
from afs.tenants import load_tenant


# Refusals (a run that may not build, a project over its quota) say why in their own words.
@build_step("validate", expected=(AfsError,))
def validate(image: FpgaImageRequest, project_id: str, image_id: str | None) -> BuildJob:
    """The image this run builds: registered now (same quota) if the run came from the UI.

    A run from the UI retried in the UI registered its image the first time: it is that image's
    run again, never the run of a second image.
    """
    catalog = default_catalog()
    run_id = str(flow_run.id)
    image_id = image_id or catalog.image_of_flow_run(run_id)
    if image_id is not None:
        job = job_for_image(catalog.get(image_id), project_id, image, run_id)
    else:
        # A project without storage could never build: refused before it has an image.
        load_tenant(get_settings(), project_id)
        record = catalog.register(project_id, image)
        catalog.record_attempt(record.id, run_id)
        job = BuildJob(image_id=record.id, project_id=project_id, request=image)
    name_this_image_run(project_id, job.image_id)
    return job
