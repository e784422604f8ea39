"""What a flow run's state means for its image: used by the flow's hooks and the reconcile flow."""

from __future__ import annotations

from prefect.client.schemas.objects import StateType

from afs.catalog import Catalog
from afs.errors import FailureCause
from afs.models import ImageRecord
from afs.orchestration.states import image_status_for
from afs.status import IN_CREATION, ImageStatus

# The cause an image gets when its run ended badly without the pipeline recording a cause itself
# (a killed worker, a cancel, an exception outside the build steps).
_CAUSE_OF_UNEXPLAINED_END: dict[StateType, FailureCause] = {
    StateType.CRASHED: FailureCause.WORKER_CRASHED,
    StateType.CANCELLED: FailureCause.CANCELLED,
    StateType.FAILED: FailureCause.INTERNAL_ERROR,
    StateType.COMPLETED: FailureCause.INTERNAL_ERROR,
}


def unexplained_end_message(state_type: StateType, state_message: str | None) -> str:
    cause = _CAUSE_OF_UNEXPLAINED_END[state_type]
    detail = state_message or f"flow run ended {state_type.value.lower()}"
    return f"{cause.value}: {detail}"


def record_run_state(
    catalog: Catalog,
    image_id: str,
    project_id: str,
    state_type: StateType,
    state_message: str | None,
    flow_run_id: str,
) -> ImageRecord | None:
    """Write the status a run state stands for; None if the image had already moved past it.

    A finished image keeps the cause the pipeline recorded; only runs that ended without one (crash,
    cancel, unexpected error) get a cause from their state here, so the quota is never left held.
    """
    record = catalog.get(image_id)
    if record.project_id != project_id or record.flow_run_id not in (None, flow_run_id):
        return None  # only the image's own run speaks for it
    status = image_status_for(state_type)
    if status is ImageStatus.CREATING:
        if record.status not in IN_CREATION:
            return None  # already finished (e.g. reconciled) before this hook ran
        return catalog.record_attempt(image_id, flow_run_id)
    if status is ImageStatus.ACTIVE:
        # The pipeline's last step marks the image active; a completed run that did not is a bug.
        if record.status is ImageStatus.ACTIVE:
            return None
        return catalog.mark_error(image_id, unexplained_end_message(state_type, state_message))
    if status is ImageStatus.ERROR:
        return catalog.mark_error(image_id, unexplained_end_message(state_type, state_message))
    return catalog.set_status(
        image_id,
        status,
        flow_run_id=flow_run_id,
        only_from={ImageStatus.INITIALING, ImageStatus.SCHEDULING},
    )
