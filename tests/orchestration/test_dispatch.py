"""The dispatcher: initialing images become flow runs, once each, and nothing is lost."""

from __future__ import annotations

import uuid

from prefect.client.schemas.objects import StateType

from afs.catalog import Catalog
from afs.models import FpgaImageRequest, ImageRecord
from afs.orchestration.dispatch import (
    StartedRun,
    StartRefused,
    dispatch_pending,
    idempotency_key,
    run_parameters,
)
from afs.status import ImageStatus

REQUEST = FpgaImageRequest(
    dcp_location="bucket:vu9p/dcp.tar", name="image", log_directory="vu9p/log"
)


class RecordingStarter:
    """Stands in for Prefect's run_deployment: remembers keys, answers like the server does."""

    def __init__(self) -> None:
        self.runs: dict[str, StartedRun] = {}
        self.calls: list[ImageRecord] = []

    def __call__(self, record: ImageRecord) -> StartedRun:
        self.calls.append(record)
        key = idempotency_key(record)
        self.runs.setdefault(key, StartedRun(id=str(uuid.uuid4()), state_type=StateType.SCHEDULED))
        return self.runs[key]


def test_each_initialing_image_gets_one_run_and_becomes_scheduling(catalog: Catalog) -> None:
    images = [catalog.register(uuid.uuid4().hex, REQUEST) for _ in range(3)]
    starter = RecordingStarter()

    assert dispatch_pending(catalog, starter) == 3
    assert dispatch_pending(catalog, starter) == 0
    for image in images:
        record = catalog.get(image.id)
        assert record.status is ImageStatus.SCHEDULING
        assert record.flow_run_id == starter.runs[image.id].id


def test_the_run_is_asked_for_with_the_image_as_parameters(catalog: Catalog) -> None:
    image = catalog.register(uuid.uuid4().hex, REQUEST)
    starter = RecordingStarter()
    dispatch_pending(catalog, starter)
    assert run_parameters(starter.calls[0]) == {
        "image": {
            "dcp_location": "bucket:vu9p/dcp.tar",
            "log_directory": "vu9p/log",
            "name": "image",
            "description": None,
        },
        "project_id": image.project_id,
        "image_id": image.id,
    }


def test_when_prefect_is_down_images_wait_in_initialing(catalog: Catalog) -> None:
    image = catalog.register(uuid.uuid4().hex, REQUEST)

    def unreachable(record: ImageRecord) -> StartedRun:
        raise ConnectionError("Prefect is down")

    assert dispatch_pending(catalog, unreachable) == 0
    assert catalog.get(image.id).status is ImageStatus.INITIALING
    assert dispatch_pending(catalog, RecordingStarter()) == 1
    assert catalog.get(image.id).status is ImageStatus.SCHEDULING


def test_a_run_that_started_before_the_dispatcher_wrote_back_is_not_set_back(
    catalog: Catalog,
) -> None:
    image = catalog.register(uuid.uuid4().hex, REQUEST)

    def started_at_once(record: ImageRecord) -> StartedRun:
        catalog.record_attempt(record.id, "run-1")  # the worker's on_running hook won the race
        return StartedRun(id="run-1", state_type=StateType.SCHEDULED)

    dispatch_pending(catalog, started_at_once)
    assert catalog.get(image.id).status is ImageStatus.CREATING


def test_the_idempotency_key_is_the_image_id_for_the_first_attempt(catalog: Catalog) -> None:
    image = catalog.register(uuid.uuid4().hex, REQUEST)
    assert idempotency_key(image) == image.id


def test_each_image_marked_deleting_gets_one_delete_run(catalog: Catalog) -> None:
    from afs.orchestration.dispatch import delete_idempotency_key, dispatch_deletes

    image = catalog.register(uuid.uuid4().hex, REQUEST)
    catalog.mark_error(image.id, "DCP_CORRUPT: test")
    catalog.begin_delete(image.project_id, image.id)
    keys: list[str] = []

    def start(record: ImageRecord) -> StartedRun:
        keys.append(delete_idempotency_key(record))
        return StartedRun(id=str(uuid.uuid4()), state_type=StateType.SCHEDULED)

    assert dispatch_deletes(catalog, start) == 1
    assert dispatch_deletes(catalog, start) == 0
    assert catalog.get(image.id).status is ImageStatus.DELETING
    assert catalog.get(image.id).flow_run_id is not None

    catalog.release_delete(image.id)  # the run gave up: a new run, with a new key
    assert dispatch_deletes(catalog, start) == 1
    assert len(set(keys)) == 2
    assert all(key.startswith(f"delete-{image.id}-") for key in keys)


def test_a_key_that_finds_an_ended_run_gives_the_image_that_runs_outcome(catalog: Catalog) -> None:
    image = catalog.register(uuid.uuid4().hex, REQUEST)

    def crashed_already(record: ImageRecord) -> StartedRun:
        return StartedRun(id="run-old", state_type=StateType.CRASHED)

    dispatch_pending(catalog, crashed_already)
    record = catalog.get(image.id)
    assert record.status is ImageStatus.ERROR
    assert record.message.startswith("WORKER_CRASHED: ")


def test_an_image_prefect_refuses_fails_without_stopping_the_others(catalog: Catalog) -> None:
    refused, *others = [catalog.register(uuid.uuid4().hex, REQUEST) for _ in range(3)]
    starter = RecordingStarter()

    def refuse_the_first(record: ImageRecord) -> StartedRun:
        if record.id == refused.id:
            raise StartRefused("HTTP 409: parameters do not match the schema")
        return starter(record)

    assert dispatch_pending(catalog, refuse_the_first) == 2
    assert dispatch_pending(catalog, refuse_the_first) == 0, "the refused image is not tried again"
    record = catalog.get(refused.id)
    assert record.status is ImageStatus.ERROR
    assert record.message.startswith("INTERNAL_ERROR: the orchestrator refused")
    assert "schema" not in record.message, "Prefect's answer is for the operators"
    for image in others:
        assert catalog.get(image.id).status is ImageStatus.SCHEDULING


def test_a_delete_prefect_refuses_waits_without_stopping_the_others(catalog: Catalog) -> None:
    from afs.orchestration.dispatch import dispatch_deletes

    images = []
    for _ in range(2):
        image = catalog.register(uuid.uuid4().hex, REQUEST)
        catalog.mark_error(image.id, "DCP_CORRUPT: test")
        images.append(catalog.begin_delete(image.project_id, image.id))

    def refuse_the_first(record: ImageRecord) -> StartedRun:
        if record.id == images[0].id:
            raise StartRefused("HTTP 422")
        return StartedRun(id=str(uuid.uuid4()), state_type=StateType.SCHEDULED)

    assert dispatch_deletes(catalog, refuse_the_first) == 1
    assert catalog.get(images[0].id).flow_run_id is None
    assert catalog.get(images[1].id).flow_run_id is not None
