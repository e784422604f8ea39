"""What a flow run's state means for its image: used by the flow's hooks and the reconcile flow."""

from __future__ import annotations

import logging
from collections.abc import Callable

from prefect.client.schemas.objects import StateType

from afs.build.ended_attempt import deliver_ended_attempt_logs
from afs.catalog import Catalog
from afs.errors import FailureCause
from afs.models import ImageRecord
from afs.orchestration.runlog import read_run_log
from afs.orchestration.states import image_status_for
from afs.settings import get_settings
from afs.status import IN_CREATION, ImageStatus, queued_status

log = logging.getLogger(__name__)

# Delivers the log tarball of an image's attempt that ended as `message` (record, message, run id).
DeliverLogs = Callable[[ImageRecord, str, str], object]

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


def deliver_ended_run_logs(record: ImageRecord, message: str, flow_run_id: str) -> None:
    """DeliverLogs of the factory: the run's log from Prefect, and its workspace on this host.
    A registration has no log directory (the legacy register takes none): nothing to deliver."""
    if record.registered:
        return
    try:
        run_log = read_run_log(flow_run_id)
    except Exception:
        log.warning("cannot read the log of flow run %s", flow_run_id, exc_info=True)
        run_log = [f"(the log of flow run {flow_run_id} could not be read from Prefect)"]
    deliver_ended_attempt_logs(get_settings(), record, message, flow_run_id, run_log)


def end_with_error(
    catalog: Catalog,
    record: ImageRecord,
    message: str,
    flow_run_id: str,
    deliver_logs: DeliverLogs | None,
) -> ImageRecord | None:
    """Mark an unfinished image of `flow_run_id` `error` after delivering its log tarball; None
    if it finished or is not that run's.

    A finished image keeps its cause, and the tarball its own run delivered; an image handed to
    another run (or back to the dispatcher) is not this run's to fail.
    """
    if record.status not in IN_CREATION or record.flow_run_id != flow_run_id:
        return None
    if deliver_logs is not None:
        deliver_logs(record, message, flow_run_id)
    return catalog.mark_error(record.id, message, flow_run_id=flow_run_id)


def record_run_state(
    catalog: Catalog,
    image_id: str,
    project_id: str,
    state_type: StateType,
    state_message: str | None,
    flow_run_id: str,
    deliver_logs: DeliverLogs | None = None,
) -> ImageRecord | None:
    """Write the status a run state stands for; None if the image had already moved past it.

    A finished image keeps the cause the pipeline recorded; only runs that ended without one (crash,
    cancel, unexpected error) get a cause from their state here, with a log tarball from
    `deliver_logs`, so the quota is never left held and the tenant always gets logs.
    """
    record = catalog.get(image_id)
    if record.project_id != project_id or record.flow_run_id not in (None, flow_run_id):
        return None  # only the image's own run speaks for it
    status = image_status_for(state_type, record.registered)
    if image_status_for(state_type) is ImageStatus.CREATING:  # the run is running
        if record.status not in IN_CREATION:
            return None  # already finished (e.g. reconciled) before this hook ran
        return catalog.record_attempt(image_id, flow_run_id, status)
    if status in (ImageStatus.ACTIVE, ImageStatus.ERROR):
        # The pipeline's last step marks the image active; a completed run that did not is a bug.
        message = unexplained_end_message(state_type, state_message)
        return end_with_error(catalog, record, message, flow_run_id, deliver_logs)
    waiting = {queued_status(record.registered), status}
    return catalog.set_status(image_id, status, flow_run_id=flow_run_id, only_from=waiting)
