"""Image status changes as Prefect events, for operators' automations and notifications.

Each change is the event `afs.fpga-image.<status>`: the image is the resource (labels: its name,
`afs.project-id`, and `afs.cause`, the failure code of an image in error), the flow run that
owns it is related, and the payload holds the status before and the message. Processes that know
Prefect (flow runs, the dispatcher) publish what they write; the two statuses the API writes
(initialing, deleting) the dispatcher publishes as it takes the image out of its outbox.
"""

from __future__ import annotations

from typing import Any

from afs.catalog.store import observe_status_changes
from afs.models import ImageRecord
from afs.status import ImageStatus

EVENT_PREFIX = "afs.fpga-image"


def image_resource(record: ImageRecord) -> dict[str, str]:
    cause = record.failure_cause if record.status is ImageStatus.ERROR else None
    return {
        "prefect.resource.id": f"{EVENT_PREFIX}.{record.id}",
        "prefect.resource.name": record.request.name,
        "afs.project-id": record.project_id,
        "afs.cause": cause.value if cause is not None else "",
    }


def publish_status(before: ImageStatus | None, record: ImageRecord) -> None:
    """Emit the event of `record` having reached its status (from `before`)."""
    from prefect.events import emit_event

    related: list[dict[str, str]] = []
    if record.flow_run_id is not None:
        related.append(
            {
                "prefect.resource.id": f"prefect.flow-run.{record.flow_run_id}",
                "prefect.resource.role": "flow-run",
            }
        )
    payload: dict[str, Any] = {
        "from": None if before is None else before.value,
        "message": record.message,
    }
    emit_event(
        event=f"{EVENT_PREFIX}.{record.status.value}",
        resource=image_resource(record),
        related=related,
        payload=payload,
    )


def publish_status_changes() -> None:
    """Publish every status change this process writes from now on."""
    observe_status_changes(publish_status)
