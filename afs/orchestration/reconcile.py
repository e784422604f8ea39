"""Reconciliation: the catalog catches up with Prefect for every unfinished image.

Hooks run in the flow's process and a killed worker runs none, so this pass reads the state of each
unfinished image's run and writes the status it stands for; a run that is gone frees the quota.
An image being deleted whose delete run ended without deleting it goes back to the delete outbox.
"""

from __future__ import annotations

from collections.abc import Callable

from prefect.client.schemas.objects import TERMINAL_STATES, StateType
from pydantic import BaseModel

from afs.catalog import Catalog
from afs.errors import FailureCause
from afs.orchestration.lifecycle import DeliverLogs, end_with_error, record_run_state
from afs.orchestration.states import image_status_for
from afs.status import ImageStatus


class RunState(BaseModel):
    type: StateType
    message: str | None = None


def reconcile_images(
    catalog: Catalog,
    read_run_state: Callable[[str], RunState | None],
    deliver_logs: DeliverLogs | None = None,
) -> int:
    """Returns how many images changed status; `deliver_logs` packs the logs of failed ones."""
    changed = 0
    for record in catalog.unfinished():
        if record.flow_run_id is None:
            continue  # not dispatched yet: the dispatcher's job
        state = read_run_state(record.flow_run_id)
        if record.status is ImageStatus.DELETING:
            changed += _release_ended_delete(catalog, record.id, state)
            continue
        if state is None:
            message = f"{FailureCause.WORKER_CRASHED.value}: flow run {record.flow_run_id} is gone"
            updated = end_with_error(catalog, record, message, record.flow_run_id, deliver_logs)
        else:
            if image_status_for(state.type, record.registered) is record.status:
                continue
            updated = record_run_state(
                catalog,
                record.id,
                record.project_id,
                state.type,
                state.message,
                record.flow_run_id,
                deliver_logs,
            )
        changed += updated is not None
    return changed


def _release_ended_delete(catalog: Catalog, image_id: str, state: RunState | None) -> bool:
    """A delete run that is gone or ended with the image still there (its worker was killed, so
    its hooks never ran) gives the image back to the delete outbox for a new run."""
    if state is not None and state.type not in TERMINAL_STATES:
        return False  # still at work, or waiting for a worker
    return catalog.release_delete(image_id) is not None
