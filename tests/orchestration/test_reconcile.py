"""Reconcile: every unfinished image ends up with the status its run's state stands for."""

from __future__ import annotations

import uuid

import pytest
from prefect.client.schemas.objects import StateType

from afs.catalog import Catalog
from afs.models import FpgaImageRequest
from afs.orchestration.reconcile import RunState, reconcile_images
from afs.status import ImageStatus

REQUEST = FpgaImageRequest(dcp_location="bucket:vu9p/dcp.tar", name="image")


def dispatched(catalog: Catalog, run_id: str, status: ImageStatus = ImageStatus.SCHEDULING):
    image = catalog.register(uuid.uuid4().hex, REQUEST)
    catalog.set_status(image.id, ImageStatus.SCHEDULING, flow_run_id=run_id)
    if status is ImageStatus.CREATING:
        catalog.record_attempt(image.id, run_id)
    return image


def test_a_run_killed_with_its_worker_turns_the_image_to_error(catalog: Catalog) -> None:
    image = dispatched(catalog, "run-crashed", ImageStatus.CREATING)
    states = {"run-crashed": RunState(type=StateType.CRASHED, message="heartbeat lost")}

    assert reconcile_images(catalog, states.get) == 1
    record = catalog.get(image.id)
    assert record.status is ImageStatus.ERROR
    assert record.message == "WORKER_CRASHED: heartbeat lost"


def test_a_run_that_no_longer_exists_frees_the_quota(catalog: Catalog) -> None:
    image = dispatched(catalog, "run-gone")
    assert reconcile_images(catalog, lambda run_id: None) == 1
    assert catalog.get(image.id).message.startswith("WORKER_CRASHED: flow run run-gone is gone")
    assert catalog.register(image.project_id, REQUEST).status is ImageStatus.INITIALING


def test_a_run_that_started_moves_its_image_to_creating(catalog: Catalog) -> None:
    image = dispatched(catalog, "run-1")
    states = {"run-1": RunState(type=StateType.RUNNING)}
    assert reconcile_images(catalog, states.get) == 1
    assert catalog.get(image.id).status is ImageStatus.CREATING


def test_images_in_line_with_their_runs_are_left_alone(catalog: Catalog) -> None:
    image = dispatched(catalog, "run-1", ImageStatus.CREATING)
    states = {"run-1": RunState(type=StateType.RUNNING)}
    assert reconcile_images(catalog, states.get) == 0
    assert catalog.get(image.id).attempts == 1


def test_undispatched_images_are_the_dispatchers_business(catalog: Catalog) -> None:
    image = catalog.register(uuid.uuid4().hex, REQUEST)

    def never_asked(run_id: str) -> RunState | None:
        raise AssertionError("an undispatched image has no run to read")

    assert reconcile_images(catalog, never_asked) == 0
    assert catalog.get(image.id).status is ImageStatus.INITIALING


def deleting(catalog: Catalog, run_id: str):
    image = dispatched(catalog, "build-run", ImageStatus.CREATING)
    catalog.mark_active(image.id, flow_run_id="build-run", size_mb=1, metadata={})
    catalog.begin_delete(image.project_id, image.id)
    assert catalog.delete_started(image.id, run_id) is not None
    return image


@pytest.mark.parametrize("ended", [StateType.CRASHED, StateType.FAILED, StateType.CANCELLED])
def test_a_delete_run_that_ended_without_deleting_puts_the_image_back_in_the_outbox(
    catalog: Catalog, ended: StateType
) -> None:
    image = deleting(catalog, "delete-run")
    assert catalog.awaiting_delete() == []

    assert reconcile_images(catalog, {"delete-run": RunState(type=ended)}.get) == 1
    record = catalog.get(image.id)
    assert (record.status, record.flow_run_id) == (ImageStatus.DELETING, None)
    assert [waiting.id for waiting in catalog.awaiting_delete()] == [image.id]


def test_a_delete_run_that_is_gone_puts_the_image_back_in_the_outbox(catalog: Catalog) -> None:
    image = deleting(catalog, "delete-run")
    assert reconcile_images(catalog, lambda run_id: None) == 1
    assert [waiting.id for waiting in catalog.awaiting_delete()] == [image.id]


@pytest.mark.parametrize("working", [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING])
def test_a_delete_run_at_work_keeps_its_image(catalog: Catalog, working: StateType) -> None:
    image = deleting(catalog, "delete-run")
    assert reconcile_images(catalog, {"delete-run": RunState(type=working)}.get) == 0
    assert catalog.get(image.id).flow_run_id == "delete-run"
