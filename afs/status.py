"""Image statuses and the one mapping from a Prefect flow-run state type to an image status."""

from __future__ import annotations

from enum import StrEnum

from prefect.client.schemas.objects import StateType


class ImageStatus(StrEnum):
    INITIALING = "initialing"
    SCHEDULING = "scheduling"
    CREATING = "creating"
    ACTIVE = "active"
    ERROR = "error"
    DELETING = "deleting"


# Statuses that hold the project's one-image-in-creation quota.
IN_CREATION: frozenset[ImageStatus] = frozenset(
    {ImageStatus.INITIALING, ImageStatus.SCHEDULING, ImageStatus.CREATING}
)
FINISHED: frozenset[ImageStatus] = frozenset({ImageStatus.ACTIVE, ImageStatus.ERROR})

_STATUS_OF_STATE: dict[StateType, ImageStatus] = {
    StateType.SCHEDULED: ImageStatus.SCHEDULING,
    StateType.PENDING: ImageStatus.SCHEDULING,
    StateType.PAUSED: ImageStatus.SCHEDULING,
    StateType.RUNNING: ImageStatus.CREATING,
    StateType.CANCELLING: ImageStatus.CREATING,
    StateType.COMPLETED: ImageStatus.ACTIVE,
    StateType.FAILED: ImageStatus.ERROR,
    StateType.CRASHED: ImageStatus.ERROR,
    StateType.CANCELLED: ImageStatus.ERROR,
}


def image_status_for(state_type: StateType) -> ImageStatus:
    """The image status a flow run in `state_type` stands for (DESIGN.md, "Image status")."""
    return _STATUS_OF_STATE[state_type]
