from __future__ import annotations

from prefect import get_client, task
from prefect.runtime import flow_run

from afs.build.steps import BuildJob, job_for_image
from afs.catalog import default_catalog
from afs.models import FpgaImageRequest
from afs.orchestration.dispatch import run_tags


def _label_this_run(project_id: str, image_id: str) -> None:
    """Name and tag the run after its image, however it was started (a run from the UI may
    learn its image id only now)."""
    with get_client(sync_client=True) as client:
        client.update_flow_run(
            flow_run.id,
            name=f"image-{image_id}",
            tags=sorted({*flow_run.tags, *run_tags(project_id, image_id)}),
        )


@task(name="validate")
def validate(image: FpgaImageRequest, project_id: str, image_id: str | None) -> BuildJob:
    """The image this run builds: registered now (same quota) if the run came from the UI."""
    catalog = default_catalog()
    if image_id is not None:
        job = job_for_image(catalog.get(image_id), project_id, image, str(flow_run.id))
    else:
        record = catalog.register(project_id, image)
        catalog.record_attempt(record.id, str(flow_run.id))
        job = BuildJob(image_id=record.id, project_id=project_id, request=image)
    _label_this_run(project_id, job.image_id)
    return job
