"""The one mapping from a Prefect flow-run state to an image status (README, "Image statuses").

The API, the hooks and the reconcile flow all read a run's status through `image_status_for`.
"""

from __future__ import annotations

from prefect.client.schemas.objects import StateType

from afs.status import IN_CREATION, ImageStatus

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


def image_status_for(state_type: StateType, registered: bool = False) -> ImageStatus:
    """The image status a flow run in `state_type` stands for; a registered image is `saving`
    until its run ends, whatever the run's state on the way."""
    status = _STATUS_OF_STATE[state_type]
    if registered and status in IN_CREATION:
        return ImageStatus.SAVING
    return status
