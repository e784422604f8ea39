"""Every status change of an image is a Prefect event an operator can hang automations on."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from afs.catalog import Catalog, default_catalog
from afs.catalog import store as catalog_store
from afs.errors import FailureCause
from afs.flows.create_fpga_image import create_fpga_image
from afs.models import FpgaImageRequest, ImageRecord
from afs.orchestration.dispatch import StartedRun, dispatch_pending
from afs.orchestration.events import image_resource
from afs.status import ImageStatus
from tests.factory import Tenant, sample_tarball

S = ImageStatus
REQUEST = FpgaImageRequest(dcp_location="bucket:vu9p/dcp.tar", name="image")


@pytest.fixture
def changes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[ImageStatus | None, ImageStatus]]:
    """The status changes this process writes, seen as the event publisher sees them."""
    seen: list[tuple[ImageStatus | None, ImageStatus]] = []
    monkeypatch.setattr(catalog_store, "_status_observers", [])
    catalog_store.observe_status_changes(
        lambda before, record: seen.append((before, record.status))
    )
    return seen


def test_each_change_is_told_once_and_a_write_that_keeps_the_status_is_not(
    catalog: Catalog, changes: list
) -> None:
    image = catalog.register(uuid.uuid4().hex, REQUEST)
    catalog.set_status(image.id, S.SCHEDULING, flow_run_id="run-1")
    catalog.set_status(image.id, S.SCHEDULING, message="AwaitingRetry")  # same status
    catalog.record_attempt(image.id, "run-1")
    catalog.record_attempt(image.id, "run-1")  # a retry's attempt: still creating
    catalog.mark_error(image.id, "WORKER_CRASHED: lost", flow_run_id="run-1")
    catalog.mark_error(image.id, "INTERNAL_ERROR: late")  # refused: finished already

    assert changes == [
        (None, S.INITIALING),
        (S.INITIALING, S.SCHEDULING),
        (S.SCHEDULING, S.CREATING),
        (S.CREATING, S.ERROR),
    ]


def test_the_dispatcher_announces_the_apis_new_images_not_requeued_ones(catalog: Catalog) -> None:
    fresh = catalog.register(uuid.uuid4().hex, REQUEST)
    requeued = catalog.register(uuid.uuid4().hex, REQUEST)
    catalog.mark_error(requeued.id, "STORAGE_UNAVAILABLE: 503")
    catalog.set_status(requeued.id, S.INITIALING)  # reprocessing published it as it wrote it
    announced: list[str] = []

    def start(record: ImageRecord) -> StartedRun:
        from prefect.client.schemas.objects import StateType

        return StartedRun(id=str(uuid.uuid4()), state_type=StateType.SCHEDULED)

    dispatch_pending(catalog, start, announce=lambda record: announced.append(record.id))

    assert announced == [fresh.id]


def test_an_error_carries_its_cause_as_a_label(catalog: Catalog) -> None:
    image = catalog.register("b" * 32, REQUEST)
    failed = catalog.mark_error(image.id, "WORKER_CRASHED: no heartbeat for 300 s")
    assert failed is not None

    resource = image_resource(failed)

    assert resource["prefect.resource.id"] == f"afs.fpga-image.{image.id}"
    assert resource["prefect.resource.name"] == "image"
    assert resource["afs.project-id"] == "b" * 32
    assert resource["afs.cause"] == FailureCause.WORKER_CRASHED.value


def read_image_events(image_id: str, wanted: int, timeout: float = 60) -> list:
    """The image's events as Prefect stored them, once there are `wanted` (they arrive apart)."""
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventResourceFilter

    only_this = EventFilter(resource=EventResourceFilter(id=[f"afs.fpga-image.{image_id}"]))
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            events = client.read_events(filter=only_this, limit=50).events
            if len(events) >= wanted or time.monotonic() > deadline:
                return sorted(events, key=lambda event: event.occurred)
            time.sleep(0.5)


def test_a_build_publishes_each_status_with_its_run_and_project(
    tenant: Tenant, tmp_path: Path
) -> None:
    tenant.put("vu9p/dcp.tar", sample_tarball(tmp_path))
    request = tenant.request("vu9p/dcp.tar")
    image = default_catalog().register(tenant.project_id, request)
    create_fpga_image(image=request, project_id=tenant.project_id, image_id=image.id)
    record = default_catalog().get(image.id)

    events = read_image_events(image.id, wanted=3)

    # This process registered the image (importing `flows` has it publish what it writes); the
    # run wrote the rest.
    assert [event.event for event in events] == [
        "afs.fpga-image.initialing",
        "afs.fpga-image.creating",
        "afs.fpga-image.active",
    ]
    for event in events:
        assert event.resource["afs.project-id"] == tenant.project_id
        assert event.resource["prefect.resource.name"] == request.name
    assert events[0].related == [], "no run owned the image yet"
    for event in events[1:]:
        # Prefect adds what the emitting run's context knows (its task run, flow, deployment).
        assert f"prefect.flow-run.{record.flow_run_id}" in {related.id for related in event.related}
    assert events[-1].payload == {"from": "creating", "message": None}


def test_an_automation_can_pick_out_lost_builds_by_their_cause(catalog: Catalog) -> None:
    """The README's example automation: errors whose cause is WORKER_CRASHED, no others."""
    from datetime import UTC, datetime

    from prefect.events.schemas.automations import EventTrigger as ClientTrigger
    from prefect.events.schemas.automations import Posture
    from prefect.server.events.schemas.automations import EventTrigger
    from prefect.server.events.schemas.events import ReceivedEvent

    trigger = EventTrigger.model_validate(
        ClientTrigger(
            expect={"afs.fpga-image.error"},
            match={"afs.cause": "WORKER_CRASHED"},
            posture=Posture.Reactive,
            threshold=1,
        ).model_dump()
    )

    def error_event(message: str) -> ReceivedEvent:
        image = catalog.register(uuid.uuid4().hex, REQUEST)
        failed = catalog.mark_error(image.id, message)
        assert failed is not None
        return ReceivedEvent(
            occurred=datetime.now(UTC),
            event="afs.fpga-image.error",
            resource=image_resource(failed),
            id=uuid.uuid4(),
        )

    assert trigger.covers(error_event("WORKER_CRASHED: no heartbeat for 300 s"))
    assert not trigger.covers(error_event("CORRUPT_ARCHIVE: not a tar"))
