"""One flow run per deleted image: remove its file from the image store, then its record."""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import FlowRun, State
from pydantic import Field

from afs.catalog import default_catalog
from afs.models import IMAGE_ID_PATTERN
from afs.orchestration.deletion import delete_image
from afs.settings import get_settings

ImageId = Annotated[str, Field(pattern=IMAGE_ID_PATTERN)]  # described in the docstring


def _back_to_outbox(flow: object, flow_run: FlowRun, state: State) -> None:
    """Hook: a run that gave up leaves the image deleting, for the dispatcher to try again.

    Prefect calls hooks by keyword (`flow`, `flow_run`, `state`).
    """
    default_catalog().release_delete(flow_run.parameters["image_id"])


@flow(
    name="delete-fpga-image",
    flow_run_name="delete-{image_id}",
    description="Remove an image marked deleting: its file in the image store, then its record.",
    persist_result=False,
    retries=2,
    retry_delay_seconds=10,
    on_failure=[_back_to_outbox],
    on_crashed=[_back_to_outbox],
)
def delete_fpga_image(image_id: ImageId) -> bool:
    """Remove an image marked deleting: its file in the image store, then its record.

    Args:
        image_id: The image to delete (32 lowercase hex digits). The dispatcher starts this run
            once the API has marked the image deleting.

    Returns True if this run removed the image; False if it was gone already.
    """
    removed = delete_image(default_catalog(), get_settings(), image_id)
    get_run_logger().info("image %s %s", image_id, "deleted" if removed else "was already gone")
    return removed
