"""What every image run has, a build's and a registration's alike: its name, its hooks, and how
it refuses what it may not make."""

from __future__ import annotations

from typing import Annotated

from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.runtime import flow_run as current_run
from prefect.states import Failed
from pydantic import Field

from afs.catalog import default_catalog
from afs.errors import AfsError
from afs.models import IMAGE_ID_PATTERN, PROJECT_ID_PATTERN
from afs.orchestration import naming
from afs.orchestration.lifecycle import deliver_ended_run_logs, record_run_state

# An image run's parameters besides the request. Their descriptions are in each flow's
# docstring: Prefect puts those in the deployment's schema, and drops a description given here.
ProjectId = Annotated[str, Field(pattern=PROJECT_ID_PATTERN)]
ImageId = Annotated[str | None, Field(pattern=IMAGE_ID_PATTERN)]


def image_run_name() -> str:
    """`image-<id>`; a run from the form that has yet to register its image is named after its
    project until it has."""
    image_id = current_run.parameters.get("image_id")
    if image_id:
        return naming.image_run_name(image_id)
    return f"registering-image-{current_run.parameters['project_id']}"


def _record(flow_run: FlowRun, state_type: StateType, message: str | None) -> None:
    """Write the image status a run state stands for (afs.orchestration.states), delivering the
    logs of an attempt that ended without its own process doing so."""
    catalog = default_catalog()
    run_id = str(flow_run.id)
    image_id = flow_run.parameters.get("image_id") or catalog.image_of_flow_run(run_id)
    if image_id is not None:
        project_id = flow_run.parameters["project_id"]
        record_run_state(
            catalog, image_id, project_id, state_type, message, run_id, deliver_ended_run_logs
        )


def record_state(flow: object, flow_run: FlowRun, state: State) -> None:
    """Hook (Prefect calls hooks by keyword: `flow`, `flow_run`, `state`); a worker calls the
    crash hook of a run whose process died."""
    _record(flow_run, state.type, state.message)


def record_cancellation(flow: object, flow_run: FlowRun, state: State) -> None:
    """Hook: Prefect calls it with the CANCELLING state, which alone would read as a run still
    going; by now the run's process is stopped, so the image ends CANCELLED."""
    _record(flow_run, StateType.CANCELLED, state.message)


IMAGE_RUN_HOOKS = {
    "on_running": [record_state],
    "on_failure": [record_state],
    "on_crashed": [record_state],
    "on_cancellation": [record_cancellation],
}


def refuse_run(project_id: str, image_id: str | None, refusal: AfsError) -> State[str]:
    """A run that may not make its image (unknown project or image, the project's quota taken)
    ends Failed saying why, tagged with what it was given, and leaves no image behind."""
    tags = naming.image_run_tags(project_id, image_id)
    naming.name_this_run(current_run.name or image_run_name(), tags)
    return Failed(message=f"refused: {refusal}", data=refusal)
