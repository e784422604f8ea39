"""The dispatcher: turns `initialing` catalog rows (a registration's, `saving`) into flow runs
(the outbox pattern).

The API only writes rows, so creating an image never waits for Prefect. The idempotency key of a
run is the image id (plus a requeue count after reprocessing), so a dispatch repeated after a
crash, or by a second replica, finds the run the first one made instead of making another.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from prefect.client.schemas.objects import StateType
from pydantic import BaseModel

from afs.catalog import Catalog
from afs.errors import AfsError, FailureCause
from afs.models import ImageRecord
from afs.orchestration.farm import PACKAGING_QUEUE
from afs.orchestration.lifecycle import DeliverLogs, deliver_ended_run_logs, record_run_state
from afs.orchestration.naming import image_run_name, image_run_tags
from afs.orchestration.states import image_status_for
from afs.status import IN_CREATION, queued_status

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun, State

log = logging.getLogger(__name__)


# Answers that say the server is busy or slow, not that it refuses this one run.
_RETRY_LATER_STATUSES = frozenset({408, 425, 429})


class StartRefused(AfsError):
    """Prefect refused a run for this one image (e.g. 409 on the parameter schema): the image is
    at fault, not the connection, so the round goes on with the other images."""


class StartedRun(BaseModel):
    id: str
    state_type: StateType


def idempotency_key(record: ImageRecord) -> str:
    """The image id; after a requeue, a new key, since Prefect would return the ended run."""
    return record.id if record.requeues == 0 else f"{record.id}/requeue-{record.requeues}"


def run_parameters(record: ImageRecord) -> dict[str, Any]:
    return {
        "image": record.request.model_dump(mode="json"),
        "project_id": record.project_id,
        "image_id": record.id,
    }


# Publishes a status the API wrote (initialing, deleting) as its image leaves the outbox.
Announce = Callable[[ImageRecord], object]


def dispatch_pending(
    catalog: Catalog,
    start_run: Callable[[ImageRecord], StartedRun],
    limit: int = 100,
    deliver_logs: DeliverLogs | None = None,
    announce: Announce | None = None,
) -> int:
    """Start a run for each image awaiting one; returns how many were started.

    If Prefect cannot be reached the images stay `initialing` for the next round: nothing is lost.
    An image Prefect refuses ends `error` (INTERNAL_ERROR, retried once by reprocessing), so it
    neither holds its project's quota nor stops the round ahead of other tenants' images.
    """
    started = 0
    for record in catalog.awaiting_dispatch(limit):
        if announce is not None and record.requeues == 0:
            announce(record)  # a new image from the API; requeues were published as written
        try:
            run = start_run(record)
        except StartRefused as exc:
            log.error("Prefect refused a run for image %s: %s", record.id, exc)
            catalog.mark_error(
                record.id,
                f"{FailureCause.INTERNAL_ERROR.value}: the orchestrator refused to start its "
                "build; the factory's operators have the details",
            )
            continue
        except Exception:
            log.warning("cannot start a run for image %s now; will retry", record.id, exc_info=True)
            break
        status = image_status_for(run.state_type, record.registered)
        waiting = image_status_for(StateType.SCHEDULED, record.registered)
        # The run is the image's: its idempotency key is the image's current one.
        catalog.set_status(
            record.id,
            status if status in IN_CREATION else waiting,
            flow_run_id=run.id,
            only_from={queued_status(record.registered)},
        )
        if status not in IN_CREATION:
            # The key found a run that has already ended: the image takes that run's outcome.
            record_run_state(
                catalog, record.id, record.project_id, run.state_type, None, run.id, deliver_logs
            )
        started += 1
    return started


def _starter(
    deployment_name: str,
    parameters: Callable[[ImageRecord], dict[str, Any]],
    run_name: Callable[[ImageRecord], str],
    key: Callable[[ImageRecord], str],
    queue: Callable[[ImageRecord], str | None] = lambda record: None,
) -> Callable[[ImageRecord], StartedRun]:
    """A run of `deployment_name` for an image, created without waiting for it, on the work
    queue `queue` names (None: the deployment's own)."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import PrefectHTTPStatusError

    def start(record: ImageRecord) -> StartedRun:
        try:
            # Called from synchronous code, run_deployment returns the FlowRun, not a coroutine.
            run = cast(
                "FlowRun",
                run_deployment(
                    deployment_name,
                    parameters=parameters(record),
                    flow_run_name=run_name(record),
                    tags=image_run_tags(record.project_id, record.id),
                    idempotency_key=key(record),
                    work_queue_name=queue(record),
                    timeout=0,
                    as_subflow=False,
                ),
            )
        except PrefectHTTPStatusError as exc:
            status = exc.response.status_code
            if 400 <= status < 500 and status not in _RETRY_LATER_STATUSES:
                raise StartRefused(f"HTTP {status}: {exc.response.text[:500]}") from exc
            raise
        # A run created from a deployment has a state (Scheduled) from the start.
        state = cast("State[Any]", run.state)
        return StartedRun(id=str(run.id), state_type=state.type)

    return start


def deployment_starter(
    deployment_name: str, queue: Callable[[ImageRecord], str | None] = lambda record: None
) -> Callable[[ImageRecord], StartedRun]:
    """start_run for dispatch_pending: a run of the create deployment on the build queue `queue`
    chooses (afs.orchestration.routing.queue_for)."""
    return _starter(
        deployment_name,
        run_parameters,
        lambda record: image_run_name(record.id),
        idempotency_key,
        queue,
    )


def registration_parameters(record: ImageRecord) -> dict[str, Any]:
    return {
        "image": record.registration.model_dump(mode="json"),
        "project_id": record.project_id,
        "image_id": record.id,
    }


def registration_starter(deployment_name: str) -> Callable[[ImageRecord], StartedRun]:
    """start_run for a registered image: a run of the register deployment on the packaging
    queue, which every host serves (no Vivado, no licence)."""
    return _starter(
        deployment_name,
        registration_parameters,
        lambda record: image_run_name(record.id),
        idempotency_key,
        lambda record: PACKAGING_QUEUE,
    )


def delete_idempotency_key(record: ImageRecord) -> str:
    """One delete run per time the image was put in the delete outbox (a retry is a new run)."""
    return f"delete-{record.id}-{record.updated_at.strftime('%Y%m%dT%H%M%S%fZ')}"


def dispatch_deletes(
    catalog: Catalog,
    start_run: Callable[[ImageRecord], StartedRun],
    limit: int = 100,
    announce: Announce | None = None,
) -> int:
    """Start a delete run for each image marked deleting that has none; returns how many."""
    started = 0
    for record in catalog.awaiting_delete(limit):
        if announce is not None:
            announce(record)
        try:
            run = start_run(record)
        except StartRefused as exc:
            # The image stays in the delete outbox; the others go on.
            log.error("Prefect refused a delete run for image %s: %s", record.id, exc)
            continue
        except Exception:
            log.warning(
                "cannot start a delete run for %s now; will retry", record.id, exc_info=True
            )
            break
        started += catalog.delete_started(record.id, run.id) is not None
    return started


def delete_starter(deployment_name: str) -> Callable[[ImageRecord], StartedRun]:
    """start_run for dispatch_deletes: a run of the delete deployment."""
    return _starter(
        deployment_name,
        lambda record: {"image_id": record.id},
        lambda record: f"delete-{record.id}",
        delete_idempotency_key,
    )


def run_dispatcher(
    catalog: Catalog,
    start_create: Callable[[ImageRecord], StartedRun],
    start_delete: Callable[[ImageRecord], StartedRun],
    stop: threading.Event,
    interval: float = 1.0,
    deliver_logs: DeliverLogs | None = None,
    announce: Announce | None = None,
) -> None:
    """Dispatch creates and deletes every `interval` seconds until `stop` is set.

    Safe beside other replicas: the idempotency keys make a repeated start find the same run.
    """
    while not stop.is_set():
        try:
            dispatch_pending(catalog, start_create, deliver_logs=deliver_logs, announce=announce)
            dispatch_deletes(catalog, start_delete, announce=announce)
        except Exception:
            log.exception("dispatch round failed; trying again")
        stop.wait(interval)


def start_dispatcher(
    create_deployment: str, register_deployment: str, delete_deployment: str, interval: float = 1.0
) -> tuple[threading.Thread, threading.Event]:
    """run_dispatcher on this process's catalog in a daemon thread; set the event to stop it.

    The thread runs in a copy of the caller's context, where Prefect's settings (the API URL)
    live, so it talks to the same Prefect server as its caller.
    """
    from afs.catalog import default_catalog
    from afs.orchestration.events import publish_status, publish_status_changes
    from afs.orchestration.routing import queue_for
    from afs.settings import get_settings

    settings = get_settings()
    build = deployment_starter(create_deployment, lambda record: queue_for(settings, record))
    register = registration_starter(register_deployment)
    publish_status_changes()
    stop = threading.Event()
    thread = threading.Thread(
        target=contextvars.copy_context().run,
        args=(
            run_dispatcher,
            default_catalog(),
            lambda record: (register if record.registered else build)(record),
            delete_starter(delete_deployment),
            stop,
            interval,
            deliver_ended_run_logs,
            lambda record: publish_status(None, record),
        ),
        name="afs-dispatcher",
        daemon=True,
    )
    thread.start()
    return thread, stop
