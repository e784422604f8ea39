"""What a flow run's state does to its image, as the hooks and the reconcile flow apply it."""

from __future__ import annotations

import uuid

import pytest
from prefect.client.schemas.objects import StateType

from afs.catalog import Catalog
from afs.models import FpgaImageRequest, ImageRecord, RegisterFpgaImageRequest
from afs.orchestration.lifecycle import record_run_state
from afs.status import ImageStatus

REQUEST = FpgaImageRequest(dcp_location="bucket:vu9p/dcp.tar", name="image")


@pytest.fixture
def image(catalog: Catalog) -> ImageRecord:
    return catalog.register(uuid.uuid4().hex, REQUEST)


def apply(catalog: Catalog, image: ImageRecord, state: StateType, message: str | None = None):
    return record_run_state(catalog, image.id, image.project_id, state, message, "run-1")


@pytest.mark.parametrize("state", [StateType.SCHEDULED, StateType.PENDING, StateType.PAUSED])
def test_a_waiting_run_makes_the_image_scheduling(
    catalog: Catalog, image: ImageRecord, state: StateType
) -> None:
    assert apply(catalog, image, state).status is ImageStatus.SCHEDULING


def test_a_running_run_makes_the_image_creating_and_counts_the_attempt(
    catalog: Catalog, image: ImageRecord
) -> None:
    record = apply(catalog, image, StateType.RUNNING)
    assert record.status is ImageStatus.CREATING
    assert record.attempts == 1
    assert record.flow_run_id == "run-1"


@pytest.mark.parametrize(
    ("state", "cause"),
    [
        (StateType.CRASHED, "WORKER_CRASHED"),
        (StateType.CANCELLED, "CANCELLED"),
        (StateType.FAILED, "INTERNAL_ERROR"),
    ],
)
def test_a_run_that_ended_without_a_recorded_cause_gets_one_from_its_state(
    catalog: Catalog, image: ImageRecord, state: StateType, cause: str
) -> None:
    apply(catalog, image, StateType.RUNNING)
    record = apply(catalog, image, state, "worker lost")
    assert record.status is ImageStatus.ERROR
    assert record.message == f"{cause}: worker lost"


def test_a_crash_frees_the_quota(catalog: Catalog, image: ImageRecord) -> None:
    apply(catalog, image, StateType.RUNNING)
    apply(catalog, image, StateType.CRASHED)
    assert catalog.register(image.project_id, REQUEST).status is ImageStatus.INITIALING


def test_the_pipelines_own_cause_is_kept(catalog: Catalog, image: ImageRecord) -> None:
    apply(catalog, image, StateType.RUNNING)
    catalog.mark_error(image.id, "PART_MISMATCH: xcku115 is not xcvu9p")
    assert apply(catalog, image, StateType.FAILED, "ImageBuildError") is None
    assert catalog.get(image.id).message == "PART_MISMATCH: xcku115 is not xcvu9p"


def test_a_completed_run_leaves_an_active_image_alone(catalog: Catalog, image: ImageRecord):
    apply(catalog, image, StateType.RUNNING)
    catalog.mark_active(image.id, flow_run_id="run-1", size_mb=3, metadata={"k": "v"})
    assert apply(catalog, image, StateType.COMPLETED) is None
    assert catalog.get(image.id).status is ImageStatus.ACTIVE


def test_a_completed_run_that_never_marked_its_image_active_is_an_error(
    catalog: Catalog, image: ImageRecord
) -> None:
    apply(catalog, image, StateType.RUNNING)
    record = apply(catalog, image, StateType.COMPLETED)
    assert record.status is ImageStatus.ERROR
    assert record.message.startswith("INTERNAL_ERROR: ")


def test_a_late_scheduled_state_does_not_undo_creating(catalog: Catalog, image: ImageRecord):
    apply(catalog, image, StateType.RUNNING)
    assert apply(catalog, image, StateType.SCHEDULED) is None
    assert catalog.get(image.id).status is ImageStatus.CREATING


def test_a_run_naming_another_projects_image_changes_nothing(
    catalog: Catalog, image: ImageRecord
) -> None:
    other_project = uuid.uuid4().hex
    assert (
        record_run_state(catalog, image.id, other_project, StateType.CRASHED, None, "run-x") is None
    )
    assert catalog.get(image.id).status is ImageStatus.INITIALING


@pytest.mark.parametrize("state", [StateType.CRASHED, StateType.FAILED, StateType.COMPLETED])
def test_a_late_end_of_a_run_whose_image_went_back_to_the_dispatcher_changes_nothing(
    catalog: Catalog, image: ImageRecord, state: StateType
) -> None:
    """E.g. the zombie automation crashed a run by mistake and reprocessing requeued its image."""
    apply(catalog, image, StateType.RUNNING)
    catalog.mark_error(image.id, "WORKER_CRASHED: no heartbeat", flow_run_id="run-1")
    catalog.set_status(image.id, ImageStatus.INITIALING, only_from={ImageStatus.ERROR})

    assert apply(catalog, image, state) is None
    assert catalog.get(image.id).status is ImageStatus.INITIALING


REGISTRATION = RegisterFpgaImageRequest(
    location="bucket:ocl/vadd.xclbin", name="registered", metadata={"shell_type": "OCL"}
)


@pytest.mark.parametrize(
    "state", [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]
)
def test_a_registration_stays_saving_while_its_run_waits_or_runs(
    catalog: Catalog, state: StateType
) -> None:
    registered = catalog.register(uuid.uuid4().hex, REGISTRATION)
    record = apply(catalog, registered, state)
    assert record.status is ImageStatus.SAVING
    assert record.flow_run_id == "run-1"
    assert record.attempts == (1 if state in (StateType.RUNNING, StateType.CANCELLING) else 0)


def test_a_registration_whose_run_crashed_ends_in_error_and_frees_the_quota(
    catalog: Catalog,
) -> None:
    registered = catalog.register(uuid.uuid4().hex, REGISTRATION)
    apply(catalog, registered, StateType.RUNNING)
    record = apply(catalog, registered, StateType.CRASHED, "the worker died")
    assert record.status is ImageStatus.ERROR
    assert record.message == "WORKER_CRASHED: the worker died"
    assert catalog.register(registered.project_id, REGISTRATION).status is ImageStatus.SAVING
