from __future__ import annotations

from prefect.runtime import flow_run

from afs.build.steps import ImageFile, ImageJob
from afs.catalog import default_catalog
from afs.models import ImageRecord
from afs.tasks import build_step


@build_step("mark-active")
def mark_active(job: ImageJob, image: ImageFile) -> ImageRecord:
    return default_catalog().mark_active(
        job.image_id,
        flow_run_id=str(flow_run.id),
        size_mb=image.size_mb,
        metadata=image.catalog_metadata,
    )
