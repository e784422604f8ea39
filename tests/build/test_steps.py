"""Which catalogued image a run may build."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from afs.build.steps import RunRefused, job_for_image
from afs.models import FpgaImageRequest, ImageRecord
from afs.status import ImageStatus

REQUEST = FpgaImageRequest(dcp_location="bucket:vu9p/dcp.tar", name="image")
PROJECT = uuid.uuid4().hex


def record(status: ImageStatus, project_id: str = PROJECT) -> ImageRecord:
    now = datetime.now(UTC)
    return ImageRecord(
        id=uuid.uuid4().hex,
        project_id=project_id,
        name=REQUEST.name,
        description=None,
        dcp_location=REQUEST.dcp_location,
        log_directory=None,
        status=status,
        message=None,
        size_mb=None,
        metadata={},
        flow_run_id=None,
        attempts=0,
        protected=False,
        created_at=now,
        updated_at=now,
    )


@pytest.mark.parametrize(
    "status", [ImageStatus.INITIALING, ImageStatus.SCHEDULING, ImageStatus.CREATING]
)
def test_an_image_awaiting_its_build_is_built(status: ImageStatus) -> None:
    image = record(status)
    job = job_for_image(image, PROJECT, REQUEST, "run-1")
    assert (job.image_id, job.project_id, job.request) == (image.id, PROJECT, REQUEST)


@pytest.mark.parametrize("status", [ImageStatus.ACTIVE, ImageStatus.ERROR, ImageStatus.DELETING])
def test_a_finished_image_is_not_built_again(status: ImageStatus) -> None:
    with pytest.raises(RunRefused, match=f"is {status.value}, not awaiting a build"):
        job_for_image(record(status), PROJECT, REQUEST, "run-1")


def test_parameters_naming_another_project_or_request_are_refused() -> None:
    image = record(ImageStatus.CREATING)
    with pytest.raises(RunRefused, match="do not match"):
        job_for_image(image, uuid.uuid4().hex, REQUEST, "run-1")
    with pytest.raises(RunRefused, match="do not match"):
        job_for_image(image, PROJECT, REQUEST.model_copy(update={"name": "other"}), "run-1")


def test_a_second_run_for_an_image_another_run_builds_is_refused() -> None:
    image = record(ImageStatus.CREATING).model_copy(update={"flow_run_id": "run-1"})
    assert job_for_image(image, PROJECT, REQUEST, "run-1").image_id == image.id
    with pytest.raises(RunRefused, match="is built by flow run run-1"):
        job_for_image(image, PROJECT, REQUEST, "run-2")
