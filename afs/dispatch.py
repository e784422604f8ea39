"""The dispatcher: turns `initialing` catalog rows into flow runs (the outbox pattern).

The API only writes rows, so creating an image never waits for Prefect. The idempotency key of a
run is the image id (plus the attempt after a reprocess), so a dispatch repeated after a crash, or
by a second replica, finds the run the first one made instead of making another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prefect.client.schemas.objects import StateType
from pydantic import BaseModel

from afs.catalog import Catalog
from afs.models import ImageRecord
from afs.status import ImageStatus, image_status_for

log = logging.getLogger(__name__)


class StartedRun(BaseModel):
    id: str
    state_type: StateType


def idempotency_key(record: ImageRecord) -> str:
    return record.id if record.attempts == 0 else f"{record.id}/attempt-{record.attempts + 1}"


def run_tags(project_id: str, image_id: str) -> list[str]:
    return [f"project:{project_id}", f"image:{image_id}"]


def run_parameters(record: ImageRecord) -> dict:
    return {
        "image": record.request.model_dump(mode="json"),
        "project_id": record.project_id,
        "image_id": record.id,
    }


def dispatch_pending(
    catalog: Catalog, start_run: Callable[[ImageRecord], StartedRun], limit: int = 100
) -> int:
    """Start a run for each image awaiting one; returns how many were started.

    If Prefect cannot be reached the images stay `initialing` for the next round: nothing is lost.
    """
    started = 0
    for record in catalog.awaiting_dispatch(limit):
        try:
            run = start_run(record)
        except Exception:
            log.warning("cannot start a run for image %s now; will retry", record.id, exc_info=True)
            break
        catalog.set_status(
            record.id,
            image_status_for(run.state_type),
            flow_run_id=run.id,
            only_from={ImageStatus.INITIALING},
        )
        started += 1
    return started


def deployment_starter(deployment_name: str) -> Callable[[ImageRecord], StartedRun]:
    """start_run for dispatch_pending: a run of the create deployment, returning at once."""
    from prefect.deployments import run_deployment

    def start(record: ImageRecord) -> StartedRun:
        run = run_deployment(
            deployment_name,
            parameters=run_parameters(record),
            flow_run_name=f"image-{record.id}",
            tags=run_tags(record.project_id, record.id),
            idempotency_key=idempotency_key(record),
            timeout=0,
            as_subflow=False,
        )
        return StartedRun(id=str(run.id), state_type=run.state.type)

    return start
